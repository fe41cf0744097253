-- Sleeping and clocks: how waits and retry backoffs pass time.
--
-- A sleep must not freeze its host. Under OpenResty it yields to nginx
-- (ngx.sleep), so the worker serves other requests meanwhile; inside Neovim,
-- from a coroutine, it yields to the editor's main loop (vim.defer_fn), so the
-- editor stays responsive; anywhere else it sleeps in C (nanosleep). The
-- choice is made at each call, because the same client may be used from
-- places that can yield and places that cannot.

local core = require("extruct.core")

local M = {}

--- Seconds on a monotonic clock: the default `now` of clients and waits.
M.now = core.monotime

-- The phases of lua-nginx-module in which ngx.sleep may yield.
local NGX_SLEEP_PHASES = {
  rewrite = true, server_rewrite = true, access = true, content = true, timer = true,
  ssl_cert = true, ssl_session_fetch = true, ssl_client_hello = true,
}

-- True where a coroutine.yield would reach the current coroutine's resumer:
-- not the main thread, and no C call (a sort comparator, a pcall on Lua 5.1)
-- in between.
local function can_yield()
  if coroutine.isyieldable then return coroutine.isyieldable() end
  local co, is_main = coroutine.running()
  return co ~= nil and not is_main
end

local function openresty()
  local ngx = rawget(_G, "ngx")
  if type(ngx) ~= "table" or type(ngx.sleep) ~= "function" then return nil end
  if type(ngx.get_phase) ~= "function" or not NGX_SLEEP_PHASES[ngx.get_phase()] then return nil end
  if not can_yield() then return nil end
  return ngx
end

local function neovim()
  local vim = rawget(_G, "vim")
  if type(vim) ~= "table" or type(vim.defer_fn) ~= "function" then return nil end
  if not can_yield() then return nil end
  return vim
end

--- How M.sleep would sleep here and now: "ngx" (ngx.sleep), "nvim" (yield to
--- Neovim's main loop) or "blocking" (nanosleep in C).
function M.strategy()
  if openresty() then return "ngx" end
  if neovim() then return "nvim" end
  return "blocking"
end

-- What to do with an error that killed a coroutine nobody awaits: tell the
-- editor's user (an error raised in a timer callback would only say where
-- the timer was), and elsewhere raise it from wherever the coroutine was
-- resumed.
local function report(co, err)
  local vim = rawget(_G, "vim")
  local text = debug.traceback(co, "extruct.async: " .. tostring(err))
  if type(vim) == "table" and type(vim.notify) == "function" then
    local levels = type(vim.log) == "table" and vim.log.levels
    vim.notify(text, levels and levels.ERROR or 4)
  else
    error(text, 0)
  end
end

-- on_done callbacks of the coroutines started by M.async; weak, so a
-- coroutine that never finishes does not pin its callback.
local on_done_of = setmetatable({}, { __mode = "k" })

local function pack(...) return { n = select("#", ...), ... } end
local unpack = table.unpack or unpack

-- Resumes co and, when it has just finished, hands its outcome to its
-- on_done, or reports an error nobody would see.
local function step(co, ...)
  local results = pack(coroutine.resume(co, ...))
  if coroutine.status(co) ~= "dead" then return end
  local on_done = on_done_of[co]
  on_done_of[co] = nil
  if on_done then
    on_done(unpack(results, 1, results.n))
  elseif not results[1] then
    report(co, results[2])
  end
end

-- Sleeps by yielding the current coroutine and resuming it from Neovim's
-- main loop once the time is up. Resumed early by someone else, it yields
-- again: only its own timer ends the sleep.
local function sleep_in_neovim(vim, seconds)
  local co = coroutine.running()
  local woken = false
  vim.defer_fn(function()
    woken = true
    step(co)
  end, math.ceil(seconds * 1000))
  repeat coroutine.yield() until woken
end

--- Sleeps `seconds` without freezing the host: ngx.sleep under OpenResty,
--- a yield to Neovim's main loop inside a Neovim coroutine, nanosleep
--- otherwise (Neovim's main thread included: it cannot yield, so it blocks).
function M.sleep(seconds)
  if type(seconds) ~= "number" or seconds ~= seconds then
    error("extruct.sleep: seconds must be a number, got " .. type(seconds), 2)
  end
  if seconds <= 0 then return end
  local ngx = openresty()
  if ngx then return ngx.sleep(seconds) end
  local vim = neovim()
  if vim then return sleep_in_neovim(vim, seconds) end
  core.sleep(seconds)
end

--- Runs fn() in a new coroutine and returns that coroutine. Waits inside it
--- yield where the host allows (see M.sleep), so under Neovim this returns
--- at the first sleep; elsewhere fn usually runs to its end first.
--- on_done(true, results...) or on_done(false, err) is called when fn ends.
--- Without on_done an error is not lost: under Neovim it goes to
--- vim.notify (level ERROR, with a traceback), elsewhere it is raised from
--- the call that resumed the coroutine (extruct.async itself, when fn never
--- yielded).
function M.async(fn, on_done)
  if type(fn) ~= "function" then
    error("extruct.async: expected a function, got " .. type(fn), 2)
  end
  if on_done ~= nil and type(on_done) ~= "function" then
    error("extruct.async: on_done must be a function, got " .. type(on_done), 2)
  end
  local co = coroutine.create(fn)
  on_done_of[co] = on_done
  step(co)
  return co
end

return M
