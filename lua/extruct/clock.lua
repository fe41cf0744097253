-- Sleeping and clocks: how waits and retry backoffs pass time.
--
-- A sleep must not freeze its host. Under OpenResty it yields to nginx
-- (ngx.sleep), so the worker serves other requests meanwhile; in a task of
-- extruct.gather it lets the other tasks run; inside Neovim, from a
-- coroutine, it yields to the editor's main loop (vim.defer_fn), so the
-- editor stays responsive; anywhere else it sleeps in C (nanosleep). The
-- choice is made at each call, because the same client may be used from
-- places that can yield and places that cannot.

local core = require("extruct.core")
local loop = require("extruct.loop")

local M = {}

--- Seconds on a monotonic clock: the default `now` of clients and waits.
M.now = core.monotime

-- The phases of lua-nginx-module in which ngx.sleep may yield.
local NGX_SLEEP_PHASES = {
  rewrite = true, server_rewrite = true, access = true, content = true, timer = true,
  ssl_cert = true, ssl_session_fetch = true, ssl_client_hello = true,
}

local function openresty()
  local ngx = rawget(_G, "ngx")
  if type(ngx) ~= "table" or type(ngx.sleep) ~= "function" then return nil end
  if type(ngx.get_phase) ~= "function" or not NGX_SLEEP_PHASES[ngx.get_phase()] then return nil end
  if not loop.can_yield() then return nil end
  return ngx
end

local function neovim()
  local vim = rawget(_G, "vim")
  if type(vim) ~= "table" or type(vim.defer_fn) ~= "function" then return nil end
  if not loop.can_yield() then return nil end
  return vim
end

--- How M.sleep would sleep here and now: "ngx" (ngx.sleep), "task" (a task
--- of extruct.gather yields to the others), "nvim" (yield to Neovim's main
--- loop) or "blocking" (nanosleep in C).
---@return "ngx"|"task"|"nvim"|"blocking" strategy
function M.strategy()
  if openresty() then return "ngx" end
  if loop.in_task() then return "task" end
  if neovim() then return "nvim" end
  return "blocking"
end

-- Sleeps by yielding the current coroutine and resuming it from Neovim's
-- main loop once the time is up. Resumed early by someone else, it yields
-- again: only its own timer ends the sleep. libuv counts a timer from the
-- loop's cached time, which can be stale by whatever ran since the loop last
-- woke, so a timer may fire early: then it sleeps the rest.
local function sleep_in_neovim(vim, seconds)
  local co = coroutine.running()
  local wake_at = core.monotime() + seconds
  repeat
    local woken = false
    vim.defer_fn(function()
      woken = true
      loop.resume(co)
    end, math.ceil(seconds * 1000))
    repeat coroutine.yield() until woken
    seconds = wake_at - core.monotime()
  until seconds <= 0
end

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
  local ngx = openresty()
  if ngx then
    -- nginx counts its timers from its cached time too: sleep any rest.
    local wake_at = core.monotime() + seconds
    repeat
      ngx.sleep(math.max(seconds, 0.001)) -- 0 would only yield: no spinning on a sub-millisecond rest
      seconds = wake_at - core.monotime()
    until seconds <= 0
    return
  end
  if loop.in_task() then return loop.sleep_task(seconds) end
  local vim = neovim()
  if vim then return sleep_in_neovim(vim, seconds) end
  core.sleep(seconds)
end

--- Runs fn() in a new coroutine whose requests and waits yield to the host
--- (see extruct.loop); on_done(true, ...) or on_done(false, err) when it ends.
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
  return loop.async(fn, on_done)
end

return M
