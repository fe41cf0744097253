-- Concurrency: N get_table calls against the mock server with a fixed delay
-- before every answer, one after another (each blocking in
-- curl_multi_poll) and through extruct.gather (8 at a time, its default);
-- wall time, and CPU time of this process per request (os.clock).
-- The ideal for gather is ceil(N / 8) delays: 8 requests in flight at every
-- moment and nothing else costing time.
-- Then the scheduler alone: N = 1,000, 10,000 and 40,000 functions that each
-- sleep 10 ms, all through one gather at once: its wall time and CPU per
-- task (the sleep is the ideal; a scheduler linear in its tasks keeps the
-- CPU per task flat as N grows).
--
--   LUA bench/concurrency.lua [--smoke]
local helpers = require("spec.helpers")
local extruct = require("extruct")
local socket = require("socket")

local smoke = arg[1] == "--smoke"
local DELAY = smoke and 0.02 or 0.1
local COUNTS = smoke and { 1, 4 } or { 1, 10, 100 }
local CONCURRENCY = 8

local lua_name = rawget(_G, "jit") and jit.version or _VERSION
local mock = helpers.start_mock()
local ok, err = pcall(function()
  local client = helpers.client(mock, { retries = 0 })
  print(("== concurrency on %s: get_table against the mock, every answer %g s late"):format(lua_name, DELAY))
  print(("%6s %-11s %9s %12s %12s %15s %13s"):format("N", "how", "wall", "CPU/request", "ideal wall", "wall / ideal",
    "most in flight"))
  for _, n in ipairs(COUNTS) do
    mock:reset()
    mock:fault{ count = 1000000, delay = DELAY, path = "/v1/tables/" }
    local function one() return assert(client:get_table("tbl_idle")) end
    local runs = {
      { "sequential", function() for _ = 1, n do one() end end, n * DELAY },
      { "gather", function()
        local fns = {}
        for i = 1, n do fns[i] = one end
        local results = extruct.gather(fns, { concurrency = CONCURRENCY })
        for i = 1, n do assert(results[i][1], results[i][2]) end
      end, math.ceil(n / CONCURRENCY) * DELAY },
    }
    for _, run in ipairs(runs) do
      mock:control("POST", "/_mock/reset")
      mock:fault{ count = 1000000, delay = DELAY, path = "/v1/tables/" }
      local wall0, cpu0 = socket.gettime(), os.clock()
      run[2]()
      local wall, cpu = socket.gettime() - wall0, os.clock() - cpu0
      print(("%6d %-11s %8.3fs %10.0fus %11.3fs %14.2fx %13d"):format(n, run[1], wall, cpu / n * 1e6, run[3],
        wall / run[3], mock:stats().max_in_flight))
    end
  end
  client:close()
end)
mock:stop()
assert(ok, err)

print(("== gather's scheduler on %s: N functions that each sleep 10 ms, all at once"):format(lua_name))
print(("%8s %9s %12s"):format("N", "wall", "CPU/task"))
for _, n in ipairs(smoke and { 100, 1000 } or { 1000, 10000, 40000 }) do
  local fns = {}
  for i = 1, n do fns[i] = function() extruct.sleep(0.01) return i end end
  collectgarbage("collect")
  local wall0, cpu0 = socket.gettime(), os.clock()
  local results = extruct.gather(fns, { concurrency = n })
  local wall, cpu = socket.gettime() - wall0, os.clock() - cpu0
  assert(#results == n and results[n][1] == n)
  print(("%8d %8.3fs %10.1fus"):format(n, wall, cpu / n * 1e6))
end
