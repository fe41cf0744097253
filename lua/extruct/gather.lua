-- extruct.gather: several functions run side by side, their requests
-- overlapping on one engine (see extruct.loop for how each host waits).

local cosocket = require("extruct.cosocket")
local endpoint = require("extruct.endpoint")
local loop = require("extruct.loop")

local M = {}

--- Functions running at once when the caller does not say.
M.DEFAULT_CONCURRENCY = 8

--- Options of extruct.gather.
---@class extruct.GatherOptions
---@field concurrency? integer How many functions run at once (default 8)

--- What one function of extruct.gather returned: `{ n = 1, t }` or
--- `{ n = 2, nil, err }`; `table.unpack(r, 1, r.n)` gives the values back.
---@class extruct.Packed
---@field n integer How many values
---@field [integer] any The values

local function pack(...) return { n = select("#", ...), ... } end

local misuse = endpoint.misuse

local function check(fns, opts)
  if type(fns) ~= "table" then
    misuse("extruct.gather: expected a list of functions, got " .. type(fns))
  end
  local count = 0
  for key in pairs(fns) do
    if type(key) ~= "number" or key < 1 or key ~= math.floor(key) then
      misuse("extruct.gather: expected a list of functions, found the key " .. tostring(key))
    end
    count = count + 1
  end
  for i = 1, count do
    if type(fns[i]) ~= "function" then
      misuse(("extruct.gather: element %d of the list is a %s, not a function"):format(i, type(fns[i])))
    end
  end
  if opts ~= nil and type(opts) ~= "table" then
    misuse("extruct.gather: options must be a table, got " .. type(opts))
  end
  opts = opts or {}
  for name, value in pairs(opts) do
    if name ~= "concurrency" then
      misuse(("extruct.gather: unknown option '%s'"):format(tostring(name)))
    end
    if type(value) ~= "number" or value < 1 or value ~= math.floor(value) or value == math.huge then
      misuse("extruct.gather: option 'concurrency' must be a whole number >= 1")
    end
  end
  return count, opts.concurrency or M.DEFAULT_CONCURRENCY
end

--- extruct.gather(fns [, { concurrency = N }]) runs every function of the
--- list fns as a task, at most N (default 8) at a time, their requests and
--- sleeps overlapping, and returns an array whose i-th element packs what
--- fns[i] returned: { n = 1, t } or { n = 2, nil, err }. In plain Lua it
--- blocks until all have ended; in a coroutine under Neovim (extruct.async)
--- it yields to the editor meanwhile; under nginx, where cosockets are
--- allowed, each function runs in an ngx.thread. A function that raises an error stops
--- new ones from starting; once the running ones end, gather raises it.
-- Under nginx, where cosockets are allowed: each function in a light
-- thread of its own (ngx.thread), so the requests overlap on cosockets.
local function gather_in_threads(ngx, fns, n, concurrency)
  local results, running, failure, started = {}, {}, nil, 0
  local unpack = table.unpack or unpack
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

--- What gather does, without raising what a function raised: returns the
--- results and that error (nil when none raised), so a caller can say
--- where the error belongs.
function M.run(fns, opts)
  local n, concurrency = check(fns, opts)
  local results = {}
  if n == 0 then return results end
  local ngx = cosocket.available()
  if ngx and type(ngx.thread) == "table" then return gather_in_threads(ngx, fns, n, concurrency) end

  local started, running, failure = 0, 0, nil
  local function all_ended()
    return running == 0 and (started == n or failure ~= nil)
  end

  local parent = coroutine.running()
  local vim = not loop.in_task() and loop.neovim() or nil
  -- How a task starts, and how the caller learns that all have ended.
  local spawn, wake
  local parent_waits = false
  if vim then
    spawn = loop.async
    wake = function()
      if parent_waits then vim.schedule(function() loop.resume(parent) end) end
    end
  else
    spawn = loop.spawn
    wake = loop.in_task() and function() loop.wake(parent) end or function() end
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
  if vim then
    while not all_ended() do
      parent_waits = true
      coroutine.yield()
      parent_waits = false
    end
  elseif loop.in_task() then
    loop.wait_task(all_ended)
  else
    -- (an error out of the scheduler itself, such as running out of memory,
    -- must not leave half-run tasks for the next gather to resume)
    local ok, err = pcall(loop.run_until, all_ended)
    if not ok then
      loop.abandon_tasks()
      error(err, 0)
    end
  end
  return results, failure
end

--- Runs the functions of fns side by side, their requests and sleeps
--- overlapping, at most opts.concurrency (default 8) at a time; returns what
--- each returned, packed: results[i] is { n = 1, t } or { n = 2, nil, err }.
--- A function that raises stops new ones from starting; once the running
--- ones end, gather raises that error.
---@param fns (fun(): any)[] The functions, a list
---@param opts? extruct.GatherOptions
---@return extruct.Packed[] results results[i] holds what fns[i] returned
function M.gather(fns, opts)
  local results, failure = M.run(fns, opts)
  if failure ~= nil then error(failure, 0) end
  return results
end

return M
