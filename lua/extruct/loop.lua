-- How a request waits for its transfer without freezing its host.
--
-- The core runs transfers on engines (libcurl multi handles). Each request
-- starts a transfer and then waits for it in the way its caller allows:
--
--   task      inside extruct.gather's tasks in plain Lua (and wherever else
--             nothing drives an event loop): the task yields, and the
--             gather's scheduler runs every task's transfers at once,
--             blocking in curl_multi_poll until one of them ends
--   nvim      in a coroutine inside Neovim: the transfer's sockets and timer
--             are handed to Neovim's libuv loop and the coroutine yields; it
--             is resumed through vim.schedule once the transfer ends
--   blocking  anywhere else (a plain script, Neovim's main thread): the call
--             blocks in curl_multi_poll until the transfer ends
--
-- The same choice is made for sleeps (extruct.clock). It is made at each
-- call, because one client may be used from places that can yield and
-- places that cannot.

local core = require("extruct.core")
local cosocket = require("extruct.cosocket")
local redirect = require("extruct.redirect")

local M = {}

local unpack = table.unpack or unpack

local function pack(...) return { n = select("#", ...), ... } end

---------------------------------------------------------------------------
-- Engines: one driven by polling, one by a host's event loop; each made on
-- first use, and made anew in a forked child (the parent's connections are
-- not the child's to use).
---------------------------------------------------------------------------

local engines = {}

local function engine(kind)
  local e = engines[kind]
  if e == nil or e:forked() then
    e = core.new_engine(kind == "events")
    engines[kind] = e
  end
  return e
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
  local vim = rawget(_G, "vim")
  local text = debug.traceback(co, "extruct.async: " .. tostring(err))
  if type(vim) == "table" and type(vim.notify) == "function" then
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

-- True where a coroutine.yield would reach the current coroutine's resumer:
-- not the main thread, and no C call (a sort comparator, a pcall on Lua 5.1)
-- in between.
local function can_yield()
  if coroutine.isyieldable then return coroutine.isyieldable() end
  local co, is_main = coroutine.running()
  return co ~= nil and not is_main
end
M.can_yield = can_yield

--- Neovim's `vim` when running in a coroutine inside Neovim that can yield
--- (with the libuv loop and vim.schedule that requests need).
function M.neovim()
  local vim = rawget(_G, "vim")
  if type(vim) ~= "table" or type(vim.schedule) ~= "function" then return nil end
  local uv = vim.uv or vim.loop
  if type(uv) ~= "table" or type(uv.new_socket_poll) ~= "function" then return nil end
  if not can_yield() then return nil end
  return vim
end

---------------------------------------------------------------------------
-- Tasks: coroutines run side by side by the scheduler below, in plain Lua.
---------------------------------------------------------------------------

local tasks = setmetatable({}, { __mode = "k" }) -- task coroutine -> true
local blocked = setmetatable({}, { __mode = "k" }) -- task -> what it waits for
local waiting_task = {} -- transfer id -> task
local sleepers = {} -- task -> the time it wakes
local ready = {} -- tasks to resume, in order
local finished_of = setmetatable({}, { __mode = "k" }) -- task -> function(ok, ...)

--- Whether the running coroutine is a task of the scheduler.
function M.in_task()
  local co = coroutine.running()
  return co ~= nil and tasks[co] == true
end

-- Yields the running task until wake() says it may go on; `why` says what
-- it waits for (the scheduler checks that a task only yields through here).
local function block_task(why, wake)
  local co = coroutine.running()
  repeat
    blocked[co] = why
    coroutine.yield()
  until wake()
  blocked[co] = nil
end

--- Makes a task of fn; it runs when the scheduler next runs.
--- finished(true, results...) or finished(false, err) is called as it ends.
function M.spawn(fn, finished)
  local co = coroutine.create(fn)
  tasks[co] = true
  finished_of[co] = finished
  ready[#ready + 1] = co
  return co
end

--- Wakes a task that waits in M.wait_task.
function M.wake(co)
  if blocked[co] then ready[#ready + 1] = co end
end

--- The running task waits until wake() is true; something else must call
--- M.wake(task) to have wake() looked at again.
function M.wait_task(wake)
  block_task("event", wake)
end

local function run_task(co)
  if coroutine.status(co) ~= "suspended" then return end
  local results = pack(coroutine.resume(co))
  if coroutine.status(co) == "dead" then
    tasks[co], blocked[co] = nil, nil
    local finished = finished_of[co]
    finished_of[co] = nil
    -- (an error is passed on as it was raised: a memory error stays one)
    if finished then finished(unpack(results, 1, results.n)) end
  elseif not blocked[co] then
    -- A yield of its own would leave the task waiting for nothing forever.
    tasks[co] = nil
    local finished = finished_of[co]
    finished_of[co] = nil
    if finished then
      finished(false, "extruct: a task yielded outside extruct (coroutine.yield inside extruct.gather's function)")
    end
  end
end

-- Makes ready the tasks whose transfers the engine reports ended.
local function ready_finished(e)
  for id in e.next_done, e do
    local co = waiting_task[id]
    waiting_task[id] = nil
    if co then ready[#ready + 1] = co end
  end
end

--- Runs the scheduler until done() is true: every ready task, then a wait
--- for the next transfer to end or sleeper to wake.
function M.run_until(done)
  while not done() do
    while #ready > 0 do
      local co = table.remove(ready, 1)
      run_task(co)
    end
    if done() then return end
    local now = core.monotime()
    local next_wake
    for co, wake_at in pairs(sleepers) do
      if wake_at <= now then
        sleepers[co] = nil
        ready[#ready + 1] = co
      elseif next_wake == nil or wake_at < next_wake then
        next_wake = wake_at
      end
    end
    if #ready == 0 then
      local wait = next_wake and math.max(next_wake - now, 0) or 1
      if next(waiting_task) ~= nil then
        local e = engine("blocking")
        e:step(wait)
        ready_finished(e)
      elseif next_wake then
        core.sleep(wait)
      else
        error("extruct: every task waits and nothing is left to wake them", 0)
      end
    end
  end
end

--- Forgets every task: after an error escaped the scheduler, what it was
--- running is abandoned (the transfers are cancelled as they are collected).
function M.abandon_tasks()
  for co in pairs(tasks) do tasks[co], blocked[co], finished_of[co] = nil, nil, nil end
  for id in pairs(waiting_task) do waiting_task[id] = nil end
  for co in pairs(sleepers) do sleepers[co] = nil end
  for i = #ready, 1, -1 do ready[i] = nil end
end

--- Sleeps the running task: the other tasks go on meanwhile.
function M.sleep_task(seconds)
  local co = coroutine.running()
  local wake_at = core.monotime() + seconds
  sleepers[co] = wake_at
  block_task("sleep", function() return core.monotime() >= wake_at end)
  sleepers[co] = nil
end

---------------------------------------------------------------------------
-- Neovim: the events engine driven by libuv poll and timer handles.
---------------------------------------------------------------------------

local nvim = { polls = {}, waiting = {} }

local POLL_EVENTS = { ["in"] = "r", out = "w", inout = "rw" }

-- Hands what curl asked for to libuv, and the coroutines whose transfers
-- ended to the main loop. Called after every action on the engine.
local function nvim_drive(vim)
  local uv = vim.uv or vim.loop
  local e = engine("events")
  while true do
    local fd, what = e:next_change()
    if fd == nil then break end
    local handle = nvim.polls[fd]
    if what == "remove" then
      if handle then
        nvim.polls[fd] = nil
        handle:stop()
        handle:close()
      end
    elseif POLL_EVENTS[what] then
      if not handle then
        handle = assert(uv.new_socket_poll(fd))
        nvim.polls[fd] = handle
      end
      handle:start(POLL_EVENTS[what], function(err, events)
        local flags = 0
        if err then
          flags = 4
        else
          if events:find("r", 1, true) then flags = flags + 1 end
          if events:find("w", 1, true) then flags = flags + 2 end
        end
        e:socket_action(fd, flags)
        nvim_drive(vim)
      end)
    end
  end
  local ms = e:next_timer()
  if ms then
    if nvim.timer == nil or nvim.timer:is_closing() then nvim.timer = uv.new_timer() end
    nvim.timer:stop()
    if ms >= 0 then
      nvim.timer:start(ms, 0, function()
        e:timeout_action()
        nvim_drive(vim)
      end)
    end
  end
  for id in e.next_done, e do
    local co = nvim.waiting[id]
    nvim.waiting[id] = nil
    -- the main loop, where the whole vim.api is allowed, resumes it
    if co then vim.schedule(function() M.resume(co) end) end
  end
end

---------------------------------------------------------------------------
-- Requests
---------------------------------------------------------------------------

--- How a request made here and now would wait: "cosocket", "task", "nvim"
--- or "blocking" (for a client whose transport is "auto").
---@return "cosocket"|"task"|"nvim"|"blocking" strategy
function M.strategy()
  if cosocket.available() then return "cosocket" end
  if M.in_task() then return "task" end
  if M.neovim() then return "nvim" end
  return "blocking"
end

--- One request of the client (extruct.client): the transfer's result
--- (response, or nil, kind, message [, trace]). Where nginx allows cosockets
--- it goes over them (extruct.cosocket) unless the client's `transport` is
--- "curl"; elsewhere on libcurl, waited for as the caller allows.
function M.perform(client, method, target, body)
  local ngx, phase = cosocket.available()
  if ngx and client._transport ~= "curl" then return cosocket.perform(ngx, client, method, target, body) end
  if client._transport == "cosocket" then
    return nil, "config", ("the cosocket transport cannot run %s; use transport = \"auto\" or \"curl\"")
      :format(phase and ("in nginx's " .. phase .. " phase") or "outside OpenResty")
  end
  -- libcurl follows the redirects of GET and HEAD; those of other methods
  -- are followed here, by RFC 9110
  local response, kind, message, trace = M.transfer(client._core, method, target, body, true)
  if method == "GET" or method == "HEAD" then return response, kind, message, trace end
  local from, credentials = redirect.on_base(client._url, target), true
  for _ = 1, redirect.MAX do
    if not response then break end
    local next_request
    next_request, kind, message = redirect.next(method, body, response, from, credentials)
    if next_request == nil then break end
    if next_request == false then return nil, kind, message, trace end
    method, body, from, credentials = next_request.method, next_request.body, next_request.target,
      next_request.credentials
    response, kind, message, trace = M.transfer(client._core, method, redirect.url_of(from), body, credentials)
  end
  return response, kind, message, trace
end

--- One transfer on the core client, waited for as the caller allows:
--- transfer:result()'s values.
function M.transfer(core_client, method, target, body, credentials)
  local co = coroutine.running()
  if co ~= nil and tasks[co] then
    local transfer = core_client:start(engine("blocking"), method, target, body, true, credentials)
    waiting_task[transfer:id()] = co
    block_task("transfer", function() return transfer:done() end)
    return transfer:result()
  end
  local vim = M.neovim()
  if vim then
    local transfer = core_client:start(engine("events"), method, target, body, true, credentials)
    nvim.waiting[transfer:id()] = co
    nvim_drive(vim)
    repeat coroutine.yield() until transfer:done()
    return transfer:result()
  end
  local e = engine("blocking")
  local transfer = core_client:start(e, method, target, body, false, credentials)
  e:wait(transfer)
  return transfer:result()
end

--- After a client was closed: its cancelled transfers are reported, so the
--- coroutines waiting for them go on.
function M.cancelled()
  local e = engines.events
  local vim = rawget(_G, "vim")
  if e and type(vim) == "table" and type(vim.schedule) == "function" then nvim_drive(vim) end
  e = engines.blocking
  if e and next(waiting_task) ~= nil then
    ready_finished(e)
  end
end

---------------------------------------------------------------------------
-- extruct.async
---------------------------------------------------------------------------

--- Runs fn() in a new coroutine and returns that coroutine. Requests and
--- waits inside it yield where the host allows, so under Neovim this returns
--- at the first request or sleep; elsewhere fn usually runs to its end
--- first. on_done(true, results...) or on_done(false, err) is called when
--- fn ends. Under Neovim, a start from a libuv callback (where most of
--- vim.api is not allowed) is moved to the main loop.
function M.async(fn, on_done)
  local co = coroutine.create(fn)
  on_done_of[co] = on_done
  local vim = rawget(_G, "vim")
  if type(vim) == "table" and type(vim.in_fast_event) == "function" and vim.in_fast_event() then
    vim.schedule(function() M.resume(co) end)
  else
    M.resume(co)
  end
  return co
end

return M
