-- Waiting: how soon wait_until_idle notices that a table went idle, and how
-- many requests it made. The mock's table runs until a separate process
-- turns it idle at a known moment (wall clock, shared by both processes).
--
--   LUA bench/wait.lua [--smoke]
local helpers = require("spec.helpers")
local socket = require("socket")

local smoke = arg[1] == "--smoke"
-- { interval, seconds until the table goes idle }
local CASES = smoke and { { 0.05, 0.2 } } or { { 0.1, 1.05 }, { 0.5, 2.2 }, { 1, 2.5 } }

local lua_name = rawget(_G, "jit") and jit.version or _VERSION
local mock = helpers.start_mock{ polls = 3 }
local ok, err = pcall(function()
  local client = helpers.client(mock)
  print(("== waiting on %s: wait_until_idle against the mock, idle at a set moment"):format(lua_name))
  print(("%10s %12s %10s %14s %16s"):format("interval", "idle after", "requests", "noticed after", "within interval"))
  for i, case in ipairs(CASES) do
    local interval, idle_after = case[1], case[2]
    local id = "tbl_wait_" .. i
    mock:add_table{ id = id, polls = 1000000000 }
    local flip = io.popen(("sleep %g; curl -s -X POST '%s/_mock/tables?id=%s&polls=0' >/dev/null; date +%%s.%%N")
      :format(idle_after, mock.url, id))
    local requests = 0
    local t, werr = client:wait_until_idle(id, {
      interval = interval, timeout = idle_after + 10 * interval + 5,
      on_progress = function() requests = requests + 1 end,
    })
    local returned = socket.gettime()
    local idle_at = tonumber(flip:read("*a"))
    flip:close()
    assert(t, werr and tostring(werr))
    local delay = returned - idle_at
    print(("%9gs %11gs %10d %13.3fs %16s"):format(interval, idle_after, requests, delay,
      delay <= interval and "yes" or "no"))
  end
end)
mock:stop()
assert(ok, err)
