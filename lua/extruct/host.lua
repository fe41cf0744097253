-- The host: which program this Lua runs in, decided in one place. Plain Lua,
-- Neovim (its libuv loop) or nginx (lua-nginx-module, and its phase): this
-- module alone reads the `ngx` and `vim` globals (the cosocket transport
-- and :checkhealth aside, which are those hosts' own), and answers what
-- the rest of extruct asks of a host:
--
--   how a request goes     M.transport: cosockets where nginx lets code
--                          yield, else libcurl
--   how it waits           M.transfer: a task of extruct.gather yields to
--                          its scheduler (extruct.tasks); a coroutine in
--                          Neovim yields to the editor's loop
--                          (extruct.libuv); anything else blocks in
--                          curl_multi_poll
--   how to sleep           M.sleep: ngx.sleep, a task's yield, a yield to
--                          Neovim's loop, or nanosleep
--   how to run side by side M.side_by_side: nginx's light threads, or tasks
--   what time it is        M.now: the core's monotonic clock, read fresh
--   who owns Ctrl-C        M.sigint_owner: Neovim and nginx handle SIGINT
--                          themselves (extruct.interrupt never takes it)
--
-- The answer is worked out at each call: one client may be used from
-- places that can yield and places that cannot (Neovim's main thread, a
-- table.sort comparator, a pcall on Lua 5.1, nginx's init phase). Where the
-- running coroutine cannot yield, a request or a sleep blocks, even inside
-- extruct.gather (it holds up the other tasks for that long, and they
-- catch up after).

local core = require("extruct.core")
local engines = require("extruct.engines")
local libuv = require("extruct.libuv")
local tasks = require("extruct.tasks")

local M = {}

local unpack = table.unpack or unpack

local function pack(...) return { n = select("#", ...), ... } end

--- Seconds on a monotonic clock, read fresh at each call.
M.now = core.monotime

-- The phases of lua-nginx-module in which code may yield to nginx: where
-- cosockets and ngx.sleep work.
local NGINX_YIELDING_PHASES = {
  rewrite = true, server_rewrite = true, access = true, content = true, timer = true,
  ssl_cert = true, ssl_session_fetch = true, ssl_client_hello = true, preread = true,
}

local isyieldable = coroutine.isyieldable
-- The C functions LuaJIT lets a yield through.
local LETS_YIELD_THROUGH = { [pcall] = true, [xpcall] = true }

-- Whether no C function other than pcall and xpcall is on the running
-- coroutine's stack below the caller's caller: LuaJIT's rule, for LuaJIT
-- without coroutine.isyieldable (lua-nginx-module replaces the coroutine
-- library with its own, which has none).
local function no_c_call_below()
  local level = 3
  while true do
    local info = debug.getinfo(level, "Sf")
    if info == nil then return true end
    if info.what == "C" and not LETS_YIELD_THROUGH[info.func] then return false end
    level = level + 1
  end
end

--- Whether the running code can yield to its coroutine's resumer: not the
--- main thread, and no C call (a sort comparator, a gsub callback, a pcall
--- on Lua 5.1) in between.
function M.can_yield()
  if isyieldable then return isyieldable() end -- Lua 5.3, 5.4, LuaJIT 2.1 outside nginx
  local co, is_main = coroutine.running()
  if co == nil or is_main then return false end
  if rawget(_G, "jit") then return no_c_call_below() end
  return core.can_yield() -- Lua 5.1, 5.2
end

--- nginx's `ngx` and the running phase, inside nginx; else nil.
function M.nginx()
  local ngx = rawget(_G, "ngx")
  if type(ngx) ~= "table" or type(ngx.get_phase) ~= "function" then return nil end
  return ngx, ngx.get_phase()
end

-- `ngx` when the code runs in a phase and a place where it may yield to
-- nginx, and `ngx` has `field` (socket, sleep, thread); else nil, and the
-- phase when under nginx.
local function nginx_yielding(field)
  local ngx, phase = M.nginx()
  if ngx == nil then return nil end
  if not NGINX_YIELDING_PHASES[phase] or type(ngx[field]) == "nil" or not M.can_yield() then
    return nil, phase
  end
  return ngx
end

--- Neovim's `vim`, inside Neovim; else nil.
function M.neovim()
  local vim = rawget(_G, "vim")
  if type(vim) ~= "table" then return nil end
  return vim
end

-- Neovim's `vim` and libuv loop, with what requests need of them (poll
-- handles, vim.schedule), when the running coroutine can yield to them.
local function neovim_loop()
  local vim = M.neovim()
  if vim == nil or type(vim.schedule) ~= "function" or not M.can_yield() then return nil end
  local uv = vim.uv or vim.loop
  if type(uv) ~= "table" or type(uv.new_socket_poll) ~= "function" then return nil end
  return vim, uv
end

-- Neovim's `vim` when the running coroutine can sleep by yielding to its
-- main loop (vim.defer_fn).
local function neovim_sleeping()
  local vim = M.neovim()
  if vim == nil or type(vim.defer_fn) ~= "function" or not M.can_yield() then return nil end
  return vim
end

---------------------------------------------------------------------------
-- Coroutines started by extruct.async: resumed by whoever they wait for.
---------------------------------------------------------------------------

-- on_done callbacks of the coroutines started by M.async; weak, so a
-- coroutine that never finishes does not pin its callback.
local on_done_of = setmetatable({}, { __mode = "k" })

-- What to do with an error that killed a coroutine nobody awaits: tell the
-- editor's user (an error raised in a timer callback would only say where
-- the timer was), and elsewhere raise it from wherever the coroutine was
-- resumed.
local function report(co, err)
  local text = debug.traceback(co, "extruct.async: " .. tostring(err))
  local vim = M.neovim()
  if vim and type(vim.notify) == "function" then
    local levels = type(vim.log) == "table" and vim.log.levels
    vim.notify(text, levels and levels.ERROR or 4)
  else
    error(text, 0)
  end
end

--- Resumes co and, when it has just finished, hands its outcome to its
--- on_done, or reports an error nobody would see.
function M.resume(co, ...)
  if coroutine.status(co) ~= "suspended" then return end
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

--- Runs fn() in a new coroutine and returns that coroutine. Requests and
--- waits inside it yield where the host allows, so under Neovim this returns
--- at the first request or sleep; elsewhere fn usually runs to its end
--- first. on_done(true, results...) or on_done(false, err) is called when
--- fn ends. Under Neovim, a start from a libuv callback (where most of
--- vim.api is not allowed) is moved to the main loop.
function M.async(fn, on_done)
  local co = coroutine.create(fn)
  on_done_of[co] = on_done
  local vim = M.neovim()
  if vim and type(vim.in_fast_event) == "function" and vim.in_fast_event() then
    vim.schedule(function() M.resume(co) end)
  else
    M.resume(co)
  end
  return co
end

---------------------------------------------------------------------------
-- Requests
---------------------------------------------------------------------------

--- How a request made here and now would go and wait: "cosocket", "task"
--- (a task of extruct.gather), "nvim" or "blocking" (for a client whose
--- transport is "auto").
---@return "cosocket"|"task"|"nvim"|"blocking" strategy
function M.request_strategy()
  if nginx_yielding("socket") then return "cosocket" end
  if not M.can_yield() then return "blocking" end
  if tasks.is_task() then return "task" end
  if neovim_loop() then return "nvim" end
  return "blocking"
end

--- The transport of a request made here and now by a client whose
--- `transport` option is `wanted`: "cosocket" and `ngx`, or "curl"; or
--- nil, "config" and why a cosocket client cannot go here.
function M.transport(wanted)
  if wanted ~= "curl" then
    local ngx, phase = nginx_yielding("socket")
    if ngx then return "cosocket", ngx end
    if wanted == "cosocket" then
      local where = "outside OpenResty"
      if phase then
        where = M.can_yield() and ("in nginx's " .. phase .. " phase")
          or "where the code cannot yield (inside a C function such as a table.sort comparator)"
      end
      return nil, "config", ("the cosocket transport cannot run %s; use transport = \"auto\" or \"curl\""):format(where)
    end
  end
  return "curl"
end

--- One libcurl transfer of a core client, waited for as the caller allows:
--- transfer:result()'s values (response, or nil, failure, message [, trace]).
function M.transfer(core_client, method, target, body, credentials)
  if M.can_yield() then
    if tasks.is_task() then return tasks.transfer(core_client, method, target, body, credentials) end
    local vim, uv = neovim_loop()
    if vim then return libuv.transfer(uv, vim.schedule, M.resume, core_client, method, target, body, credentials) end
  end
  local e = engines.get("blocking")
  local transfer = core_client:start(e, method, target, body, false, credentials)
  e:wait(transfer)
  return transfer:result()
end

--- After a client was closed: its cancelled transfers are reported, so the
--- tasks and coroutines waiting for them go on.
function M.after_close()
  local vim = M.neovim()
  local uv = vim and (vim.uv or vim.loop)
  if uv and type(vim.schedule) == "function" then libuv.after_close(uv, vim.schedule, M.resume) end
  tasks.after_close()
end

---------------------------------------------------------------------------
-- Sleeping
---------------------------------------------------------------------------

--- How M.sleep would sleep here and now: "ngx" (ngx.sleep), "task" (a task
--- of extruct.gather yields to the others), "nvim" (yield to Neovim's main
--- loop) or "blocking" (nanosleep in C).
---@return "ngx"|"task"|"nvim"|"blocking" strategy
function M.sleep_strategy()
  if nginx_yielding("sleep") then return "ngx" end
  if not M.can_yield() then return "blocking" end
  if tasks.is_task() then return "task" end
  if neovim_sleeping() then return "nvim" end
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
      M.resume(co)
    end, math.ceil(seconds * 1000))
    repeat coroutine.yield() until woken
    seconds = wake_at - core.monotime()
  until seconds <= 0
end

--- Sleeps `seconds` (more than 0) without freezing the host where it can.
function M.sleep(seconds)
  local ngx = nginx_yielding("sleep")
  if ngx then
    -- nginx counts its timers from its cached time: sleep any rest.
    local wake_at = core.monotime() + seconds
    repeat
      ngx.sleep(math.max(seconds, 0.001)) -- 0 would only yield: no spinning on a sub-millisecond rest
      seconds = wake_at - core.monotime()
    until seconds <= 0
    return
  end
  if M.can_yield() then
    if tasks.is_task() then return tasks.sleep(seconds) end
    local vim = neovim_sleeping()
    if vim then return sleep_in_neovim(vim, seconds) end
  end
  core.sleep(seconds)
end

---------------------------------------------------------------------------
-- Side by side
---------------------------------------------------------------------------

-- Under nginx, where code may yield: each function in a light thread of
-- its own (ngx.thread), so their requests overlap on cosockets.
local function in_threads(ngx, fns, n, concurrency)
  local results, running, failure, started = {}, {}, nil, 0
  while true do
    while #running < concurrency and started < n and failure == nil do
      started = started + 1
      local i = started
      running[#running + 1] = ngx.thread.spawn(function() return i, pack(pcall(fns[i])) end)
    end
    if #running == 0 then break end
    local ok, i, outcome = ngx.thread.wait(unpack(running))
    for k = #running, 1, -1 do
      if coroutine.status(running[k]) == "dead" then table.remove(running, k) end
    end
    if not ok then
      failure = failure or i
    elseif outcome[1] then
      results[i] = pack(unpack(outcome, 2, outcome.n))
    elseif failure == nil then
      failure = outcome[2]
    end
  end
  return results, failure
end

--- Runs fns[1..n], at most `concurrency` at a time, their requests and
--- sleeps overlapping as the host allows. Returns results (results[i]
--- packs what fns[i] returned) and the first error a function raised (then
--- no further function starts), or nil.
function M.side_by_side(fns, n, concurrency)
  local ngx = nginx_yielding("thread")
  if ngx then return in_threads(ngx, fns, n, concurrency) end

  local results, started, running, failure = {}, 0, 0, nil
  local function all_ended()
    return running == 0 and (started == n or failure ~= nil)
  end

  -- How a task starts, how the caller waits for all to end, and how it is
  -- told that they may have: in Neovim, coroutines resumed by the editor's
  -- loop; in a task of an outer gather, tasks of the same scheduler; else
  -- a scheduler run here until all have ended.
  local parent = coroutine.running()
  local spawn, wake, wait
  local vim = not tasks.is_task() and neovim_loop() or nil
  if vim then
    local parent_waits = false
    spawn = M.async
    wake = function()
      if parent_waits then vim.schedule(function() M.resume(parent) end) end
    end
    wait = function()
      while not all_ended() do
        parent_waits = true
        coroutine.yield()
        parent_waits = false
      end
    end
  elseif tasks.is_task() and M.can_yield() then
    spawn = tasks.spawn
    wake = function() tasks.wake(parent) end
    wait = function() tasks.wait(all_ended) end
  else
    spawn = tasks.spawn
    wake = function() end
    wait = function()
      -- (an error out of the scheduler itself, such as running out of
      -- memory, must not leave half-run tasks for the next gather to resume)
      local ok, err = pcall(tasks.run_until, all_ended)
      if not ok then
        tasks.abandon()
        error(err, 0)
      end
    end
  end

  local launching = false
  local launch
  local function ended(i, ok, ...)
    running = running - 1
    if ok then
      results[i] = pack(...)
    elseif failure == nil then
      failure = (...)
    end
    launch()
    if all_ended() then wake() end
  end
  -- (not re-entered when a task ends at once: a loop, not a recursion)
  function launch()
    if launching then return end
    launching = true
    while running < concurrency and started < n and failure == nil do
      started = started + 1
      running = running + 1
      local i = started
      spawn(fns[i], function(...) ended(i, ...) end)
    end
    launching = false
  end

  launch()
  wait()
  return results, failure
end

---------------------------------------------------------------------------
-- What the rest asks about the host
---------------------------------------------------------------------------

--- The host that handles SIGINT (Ctrl-C) itself, whose handler extruct
--- must never replace: "Neovim" or "nginx"; nil in plain Lua.
function M.sigint_owner()
  if M.nginx() then return "nginx" end
  if M.neovim() then return "Neovim" end
  return nil
end

--- Whether the host clears the environment of the processes that run
--- Lua (nginx's workers, unless nginx.conf says `env NAME;`).
function M.clears_environment()
  return M.nginx() ~= nil
end

return M
