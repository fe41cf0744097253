-- Tasks: coroutines that extruct.gather runs side by side in plain Lua
-- (and wherever no event loop of a host drives them). A task that waits
-- for a transfer or a sleep yields; the scheduler runs every ready task,
-- then blocks in curl_multi_poll (or nanosleep) until a transfer ends or a
-- sleeper's time comes, and resumes who can go on. Ctrl-C, where extruct
-- handles it (extruct.interrupt), ends every transfer and every sleep.
--
-- Linear in the tasks: the ready tasks are a queue, the sleepers a binary
-- heap by wake time, transfers map to their task by id; nothing is scanned
-- whole at each turn.

local core = require("extruct.core")
local engines = require("extruct.engines")

local M = {}

local unpack = table.unpack or unpack

local function pack(...) return { n = select("#", ...), ... } end

-- (plain tables: a task leaves them as it ends, or when the scheduler
-- abandons it; weak ones would cost the collector dearly with many tasks)
local tasks = {} -- task coroutine -> true
local blocked = {} -- task -> what it waits for
local finished_of = {} -- task -> function(ok, ...)
local waiting_task = {} -- transfer id -> task
local waiting_count = 0

-- The ready queue: ready[first .. last].
local ready, first, last = {}, 1, 0
local function make_ready(co)
  last = last + 1
  ready[last] = co
end

-- The sleepers: a binary heap of { wake_at, co } by wake time.
local heap, heap_size = {}, 0
local function heap_push(entry)
  heap_size = heap_size + 1
  local i, key = heap_size, entry[1]
  while i > 1 do
    local parent = (i - i % 2) / 2
    local above = heap[parent]
    if above[1] <= key then break end
    heap[i] = above
    i = parent
  end
  heap[i] = entry
end
local function heap_pop()
  local top, tail = heap[1], heap[heap_size]
  heap[heap_size] = nil
  heap_size = heap_size - 1
  if heap_size > 0 then
    local i, key = 1, tail[1]
    while true do
      local child = 2 * i
      if child > heap_size then break end
      local lower = heap[child]
      if child < heap_size and heap[child + 1][1] < lower[1] then
        child = child + 1
        lower = heap[child]
      end
      if lower[1] >= key then break end
      heap[i] = lower
      i = child
    end
    heap[i] = tail
  end
  return top
end

--- Whether co (default: the running coroutine) is a task.
function M.is_task(co)
  co = co or coroutine.running()
  return co ~= nil and tasks[co] == true
end

-- Yields the running task until wake() says it may go on; `why` says what
-- it waits for (the scheduler checks that a task only yields through here).
local function block(why, wake)
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
  make_ready(co)
  return co
end

--- Wakes a task that waits in M.wait.
function M.wake(co)
  if blocked[co] then make_ready(co) end
end

--- The running task waits until wake() is true; something else must call
--- M.wake(task) to have wake() looked at again.
function M.wait(wake)
  block("event", wake)
end

local function end_task(co, ...)
  tasks[co], blocked[co] = nil, nil
  local finished = finished_of[co]
  finished_of[co] = nil
  if finished then finished(...) end
end

local function run_task(co)
  if coroutine.status(co) ~= "suspended" then return end
  local results = pack(coroutine.resume(co))
  if coroutine.status(co) == "dead" then
    -- (an error is passed on as it was raised: a memory error stays one)
    end_task(co, unpack(results, 1, results.n))
  elseif not blocked[co] then
    -- A yield of its own would leave the task waiting for nothing forever.
    end_task(co, false,
      "extruct: a task yielded outside extruct (coroutine.yield inside extruct.gather's function)")
  end
end

-- Makes ready the tasks whose transfers the engine reports ended.
local function ready_finished(e)
  for id in e.next_done, e do
    local co = waiting_task[id]
    if co then
      waiting_task[id] = nil
      waiting_count = waiting_count - 1
      make_ready(co)
    end
  end
end

-- Makes ready the sleepers whose time has come; after Ctrl-C
-- (extruct.interrupt) all of them: their sleeps end early.
local function wake_sleepers()
  local now, interrupted = core.monotime(), core.interrupted()
  while heap_size > 0 and (interrupted or heap[1][1] <= now) do
    local entry = heap_pop()
    entry.woken = true
    make_ready(entry[2])
  end
end

--- Runs the scheduler until done() is true: every ready task, then a wait
--- for the next transfer to end or sleeper to wake.
function M.run_until(done)
  while not done() do
    while first <= last do
      local co = ready[first]
      ready[first] = nil
      first = first + 1
      run_task(co)
    end
    first, last = 1, 0
    if done() then return end
    wake_sleepers()
    if last == 0 then
      local wait = heap_size > 0 and math.max(heap[1][1] - core.monotime(), 0) or 1
      if waiting_count > 0 then
        local e = engines.get("blocking")
        e:step(wait)
        ready_finished(e)
      elseif heap_size > 0 then
        core.sleep(wait)
      else
        error("extruct: every task waits and nothing is left to wake them", 0)
      end
    end
  end
end

--- Forgets every task: after an error escaped the scheduler, what it was
--- running is abandoned (the transfers are cancelled as they are collected).
function M.abandon()
  for co in pairs(tasks) do tasks[co], blocked[co], finished_of[co] = nil, nil, nil end
  for id in pairs(waiting_task) do waiting_task[id] = nil end
  waiting_count = 0
  for i = heap_size, 1, -1 do heap[i] = nil end
  heap_size = 0
  for i = last, first, -1 do ready[i] = nil end
  first, last = 1, 0
end

--- Sleeps the running task: the other tasks go on meanwhile.
function M.sleep(seconds)
  local entry = { core.monotime() + seconds, coroutine.running() }
  heap_push(entry)
  block("sleep", function() return entry.woken end)
end

--- One transfer of a core client, waited for by the running task while the
--- others run: transfer:result()'s values.
function M.transfer(core_client, method, target, body, credentials)
  local transfer = core_client:start(engines.get("blocking"), method, target, body, true, credentials)
  waiting_task[transfer:id()] = coroutine.running()
  waiting_count = waiting_count + 1
  block("transfer", function() return transfer:done() end)
  return transfer:result()
end

--- After a client was closed: its cancelled transfers are reported, so the
--- tasks waiting for them go on.
function M.after_close()
  local e = engines.made("blocking")
  if e and waiting_count > 0 then ready_finished(e) end
end

return M
