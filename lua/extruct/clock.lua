-- Sleeping and clocks: how waits and retry backoffs pass time, and
-- extruct.async. A sleep must not freeze its host: extruct.host decides at
-- each call how to pause (ngx.sleep under OpenResty, a yield to the other
-- tasks of extruct.gather or to Neovim's main loop, nanosleep otherwise).

local host = require("extruct.host")

local M = {}

--- Seconds on a monotonic clock: the default `now` of clients and waits.
M.now = host.now

--- How M.sleep would sleep here and now: "ngx", "task", "nvim" or "blocking"
--- (extruct.host.sleep_strategy).
M.strategy = host.sleep_strategy

--- Sleeps `seconds` without freezing the host: ngx.sleep under OpenResty,
--- a yield to Neovim's main loop inside a Neovim coroutine, nanosleep
--- otherwise (Neovim's main thread included: it cannot yield, so it blocks).
---@param seconds number How long; 0 or less returns at once
---@return nil
function M.sleep(seconds)
  if type(seconds) ~= "number" or seconds ~= seconds then
    error("extruct.sleep: seconds must be a number, got " .. type(seconds), 2)
  end
  if seconds <= 0 then return end
  host.sleep(seconds)
end

--- Runs fn() in a new coroutine whose requests and waits yield to the host
--- (see extruct.host); on_done(true, ...) or on_done(false, err) when it ends.
---@param fn fun(): any The function to run; its results go to on_done
---@param on_done? fun(ok: boolean, ...: any) Called with true and fn's results, or false and the error
---@return thread co The coroutine running fn
function M.async(fn, on_done)
  if type(fn) ~= "function" then
    error("extruct.async: expected a function, got " .. type(fn), 2)
  end
  if on_done ~= nil and type(on_done) ~= "function" then
    error("extruct.async: on_done must be a function, got " .. type(on_done), 2)
  end
  return host.async(fn, on_done)
end

return M
