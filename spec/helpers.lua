-- Shared setup for the specs: the mock Extruct server as a real subprocess
-- on 127.0.0.1, and small utilities.

local http = require("socket.http")
local ltn12 = require("ltn12")
local cjson = require("cjson")

local helpers = {}

-- The interpreter running the specs (the Makefile sets LUA); the mock and
-- the subprocess tests use the same one.
helpers.LUA = os.getenv("LUA") or "lua5.4"
helpers.TOKEN = "spec-token-7f3a9c"

local function shell_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end
helpers.shell_quote = shell_quote

local Mock = {}
Mock.__index = Mock

--- Starts bin/extruct-mock on a free loopback port. opts: token, polls.
function helpers.start_mock(opts)
  opts = opts or {}
  local token = opts.token or helpers.TOKEN
  local command = ("sh -c 'echo $$; exec \"$0\" bin/extruct-mock --port 0 --quiet --token \"$1\" --polls \"$2\"' %s %s %s")
    :format(shell_quote(helpers.LUA), shell_quote(token), shell_quote(opts.polls or 3))
  local pipe = assert(io.popen(command, "r"))
  local pid = pipe:read("*l")
  local banner = pipe:read("*l")
  local port = banner and banner:match("listening on http://127%.0%.0%.1:(%d+)")
  if not port then
    pipe:close()
    error("the mock server did not start (pid " .. tostring(pid) .. ", said " .. tostring(banner) .. ")")
  end
  return setmetatable({
    pipe = pipe, pid = tonumber(pid), port = tonumber(port), token = token,
    url = "http://127.0.0.1:" .. port,
  }, Mock)
end

--- A control request to /_mock/...; returns the decoded JSON answer.
function Mock:control(method, path, params)
  local query = {}
  for k, v in pairs(params or {}) do
    query[#query + 1] = k .. "=" .. tostring(v):gsub("[^%w%-_%.~]", function(c)
      return ("%%%02X"):format(c:byte())
    end)
  end
  table.sort(query)
  local chunks = {}
  local _, code = http.request{
    url = self.url .. path .. (#query > 0 and "?" .. table.concat(query, "&") or ""),
    method = method,
    sink = ltn12.sink.table(chunks),
  }
  assert(code == 200, "mock control " .. path .. " answered " .. tostring(code))
  return cjson.decode(table.concat(chunks))
end

function Mock:reset() return self:control("POST", "/_mock/reset") end
function Mock:fault(params) return self:control("POST", "/_mock/faults", params) end
function Mock:add_table(params) return self:control("POST", "/_mock/tables", params) end
function Mock:requests() return self:control("GET", "/_mock/requests") end
function Mock:stats() return self:control("GET", "/_mock/stats") end

--- Stops the server: asks it to shut down, kills it if it does not.
function Mock:stop()
  if not self.pipe then return end
  local ok = pcall(self.control, self, "POST", "/_mock/shutdown")
  if not ok and self.pid then os.execute("kill " .. self.pid .. " 2>/dev/null") end
  self.pipe:close()
  self.pipe = nil
end

--- A client for the mock; extra options override.
function helpers.client(mock, opts)
  local extruct = require("extruct")
  local options = { token = mock.token, base_url = mock.url, timeout = 5, connect_timeout = 2 }
  for k, v in pairs(opts or {}) do options[k] = v end
  return extruct.new(options)
end

--- A free loopback port with nothing listening on it.
function helpers.closed_port()
  local socket = require("socket")
  local server = assert(socket.bind("127.0.0.1", 0))
  local _, port = server:getsockname()
  server:close()
  return tonumber(port)
end

--- Runs a shell command; returns its stdout, and its exit status.
function helpers.run(command)
  local pipe = assert(io.popen(command .. "; echo \"exit:$?\"", "r"))
  local out = pipe:read("*a")
  pipe:close()
  local body, status = out:match("^(.-)exit:(%d+)%s*$")
  return body, tonumber(status)
end

--- The folder of JSONTestSuite's parsing tests, or nil (with the reason)
--- where the shared test data is not beside this checkout.
function helpers.json_test_suite()
  local dir = os.getenv("JSON_TEST_SUITE") or "../shared/testdata/JSONTestSuite/test_parsing"
  local probe = io.open(dir .. "/y_structure_lonely_true.json", "rb")
  if not probe then return nil, dir .. " not found" end
  probe:close()
  return dir
end

function helpers.read_file(path)
  local f = assert(io.open(path, "rb"))
  local data = f:read("*a")
  f:close()
  return data
end

return helpers
