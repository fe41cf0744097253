-- Shared setup for the specs: the mock Extruct server as a real subprocess
-- on 127.0.0.1, and small utilities.

local socket = require("socket")
local http = require("socket.http")
local ltn12 = require("ltn12")
local cjson = require("cjson")

local helpers = {}

-- The interpreter running the specs (the Makefile sets LUA); the mock and
-- the subprocess tests use the same one.
helpers.LUA = os.getenv("LUA") or "lua5.4"
helpers.TOKEN = "spec-token-7f3a9c"
-- What of a checkout the rocks build and install from: a copy of these is a
-- checkout as far as `luarocks make` is concerned.
helpers.ROCK_SOURCES = "src lua bin plugin rockspecs docs types"

-- The Lua a host program of the specs links (spec/support/*.c): the running
-- one, or 5.1 (LuaJIT's C API) when the specs run on LuaJIT.
helpers.HOST_LUA = rawget(_G, "jit") and "lua5.1" or ("lua" .. _VERSION:match("%d+%.%d+"))

-- Whether `make asan` preloaded the ASan runtime into this process.
helpers.UNDER_ASAN = (os.getenv("LD_PRELOAD") or ""):find("asan", 1, true) ~= nil

local function shell_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end
helpers.shell_quote = shell_quote

--- Percent-encodes everything but unreserved characters.
function helpers.url_encode(value)
  return (tostring(value):gsub("[^%w%-_%.~]", function(c) return ("%%%02X"):format(c:byte()) end))
end

local function query_string(params)
  local parts = {}
  for name, value in pairs(params or {}) do
    parts[#parts + 1] = helpers.url_encode(name) .. "=" .. helpers.url_encode(value)
  end
  table.sort(parts)
  return #parts > 0 and "?" .. table.concat(parts, "&") or ""
end

--- Waits (at most `seconds`) until fn() is true; returns whether it became so.
function helpers.eventually(seconds, fn)
  local deadline = socket.gettime() + seconds
  repeat
    if fn() then return true end
    socket.sleep(0.05)
  until socket.gettime() > deadline
  return fn()
end

function helpers.refuses_connections(port, host)
  local probe = socket.tcp()
  probe:settimeout(1)
  local ok = probe:connect(host or "127.0.0.1", port)
  probe:close()
  return not ok
end

local Mock = {}
Mock.__index = Mock

--- Starts bin/extruct-mock on a free loopback port: it prints its pid, then
--- its banner. opts: token, polls, cells_per_poll, host (a loopback address,
--- default 127.0.0.1), port (default 0: a free one).
function helpers.start_mock(opts)
  opts = opts or {}
  local token = opts.token or helpers.TOKEN
  local host = opts.host or "127.0.0.1"
  local command = ("sh -c 'echo $$; exec \"$0\" bin/extruct-mock --host \"$3\" --port \"$4\" --quiet"
    .. " --token \"$1\" --polls \"$2\" --cells-per-poll \"$5\"' %s %s %s %s %s %s")
    :format(shell_quote(helpers.LUA), shell_quote(token), shell_quote(opts.polls or 3),
      shell_quote(host), shell_quote(opts.port or 0), shell_quote(opts.cells_per_poll or 10))
  local pipe = assert(io.popen(command, "r"))
  local pid = pipe:read("*l")
  local banner = pipe:read("*l")
  local port = banner and banner:match("^extruct%-mock listening on http://" .. host:gsub("%.", "%%.") .. ":(%d+)$")
  if not port then
    pipe:close()
    error(("the mock server did not start (pid %s, said %s)"):format(tostring(pid), tostring(banner)))
  end
  return setmetatable({
    pipe = pipe, pid = tonumber(pid), port = tonumber(port), token = token, banner = banner,
    host = host, url = "http://" .. host .. ":" .. port,
  }, Mock)
end

--- A request through socket.http; returns status, body, headers.
function Mock:http(method, target, headers, body)
  local chunks = {}
  local _, status, response_headers = http.request{
    url = self.url .. target,
    method = method,
    headers = headers,
    source = body and ltn12.source.string(body),
    sink = ltn12.sink.table(chunks),
  }
  return status, table.concat(chunks), response_headers
end

--- A control request to /_mock/...; returns the status and the decoded answer.
function Mock:call(method, path, params)
  local status, body = self:http(method, path .. query_string(params))
  return status, cjson.decode(body)
end

--- The same, for calls that must succeed; returns the decoded answer.
function Mock:control(method, path, params)
  local status, answer = self:call(method, path, params)
  assert(status == 200, ("mock control %s answered %s: %s"):format(path, tostring(status), cjson.encode(answer)))
  return answer
end

function Mock:reset() return self:control("POST", "/_mock/reset") end
function Mock:add_table(params) return self:control("POST", "/_mock/tables", params) end
function Mock:requests() return self:control("GET", "/_mock/requests") end
function Mock:stats() return self:control("GET", "/_mock/stats") end
function Mock:fault(params)
  local answer = self:control("POST", "/_mock/faults", params)
  assert(answer.ok == true, "a fault was not queued")
  return answer
end

--- Stops a server started by `sh -c 'echo $$; exec ...'` (its fields: pipe,
--- pid, port, host): ask_to_stop(server) asks it to shut down; if its port
--- still takes connections 3 s later it is killed; then it is reaped.
function helpers.stop_server(server, ask_to_stop)
  if not server.pipe then return end
  pcall(ask_to_stop, server)
  if not helpers.eventually(3, function() return helpers.refuses_connections(server.port, server.host) end) then
    os.execute("kill " .. server.pid .. " 2>/dev/null")
  end
  server.pipe:close()
  server.pipe = nil
end

--- Asks the server to shut down, kills it if it will not, and reaps it.
function Mock:stop()
  helpers.stop_server(self, function() self:call("POST", "/_mock/shutdown") end)
end

--- The methods a client answers to, sorted: its metatable's functions and
--- those of every table reached through __index (so methods added in other
--- files or inherited are found too), names starting with "_" left out.
--- Returns the names, and a table of each name's function.
function helpers.client_methods()
  local client = require("extruct").new{ token = "spec-token-for-methods" }
  local found, seen, visited = {}, {}, {}
  local function walk(t)
    if type(t) ~= "table" or visited[t] then return end
    visited[t] = true
    for name, value in pairs(t) do
      if type(name) == "string" and type(value) == "function" and name:sub(1, 1) ~= "_" and not seen[name] then
        seen[name] = value
        found[#found + 1] = name
      end
    end
    walk(rawget(t, "__index"))
    walk(getmetatable(t))
  end
  walk(getmetatable(client))
  client:close()
  table.sort(found)
  return found, seen
end

--- A client for the mock; extra options override.
function helpers.client(mock, opts)
  local extruct = require("extruct")
  local options = { token = mock.token, base_url = mock.url, timeout = 5, connect_timeout = 2 }
  for k, v in pairs(opts or {}) do options[k] = v end
  return extruct.new(options)
end

--- "A mock and a client" for the enclosing describe block: the mock starts
--- once, before the block's first test; every test gets it reset and a
--- fresh client; both are closed after the block's last test.
---   opts.mock: options for start_mock;
---   opts.client: client options, or false for no client (helpers.shared_mock);
---   opts.single_attempt: retries = 0 unless opts.client says otherwise;
---   opts.reset: false keeps the mock's tables, faults and log from test to test;
---   opts.fake_clock: a start time: every test gets a new helpers.fake_clock
---   as `clock`, and the client sleeps and reads the time on it.
--- Returns a table whose `mock`, `client` (and `clock`) fields are current inside each
--- test, and whose new_client(extra), called in a test, closes its client
--- and makes another with the block's options and `extra` (closed like the
--- first, and returned).
function helpers.mock_and_client(opts)
  opts = opts or {}
  local busted = require("busted")
  local fixture = {}
  local make_client = opts.single_attempt and helpers.single_attempt_client or helpers.client
  local function close_client()
    if fixture.client then fixture.client:close() end
    fixture.client = nil
  end
  function fixture.new_client(_, extra)
    close_client()
    local options = {}
    if fixture.clock then options.sleep, options.now = fixture.clock.sleep, fixture.clock.now end
    for k, v in pairs(opts.client or {}) do options[k] = v end
    for k, v in pairs(extra or {}) do options[k] = v end
    fixture.client = make_client(fixture.mock, options)
    return fixture.client
  end
  busted.lazy_setup(function()
    fixture.mock = helpers.start_mock(opts.mock)
  end)
  busted.lazy_teardown(function()
    close_client()
    if fixture.mock then fixture.mock:stop() end
  end)
  busted.before_each(function()
    if opts.reset ~= false then fixture.mock:reset() end
    close_client()
    if opts.fake_clock then fixture.clock = helpers.fake_clock(opts.fake_clock) end
    if opts.client ~= false then fixture:new_client() end
  end)
  return fixture
end

--- The mock alone for the enclosing describe block: started once, reset
--- before every test unless opts.reset is false, stopped after the last.
--- opts.mock: options for start_mock. Returns a table whose `mock` field is
--- current inside each test.
function helpers.shared_mock(opts)
  opts = opts or {}
  return helpers.mock_and_client{ mock = opts.mock, reset = opts.reset, client = false }
end

--- helpers.client with retries = 0 unless opts says otherwise.
function helpers.single_attempt_client(mock, opts)
  local options = { retries = 0 }
  for k, v in pairs(opts or {}) do options[k] = v end
  return helpers.client(mock, options)
end

--- A clock for `sleep`/`now` options that moves only when slept on: every
--- pause is recorded in `slept` and takes no real time.
function helpers.fake_clock(start)
  local fake = { time = start or 0, slept = {} }
  function fake.now() return fake.time end
  function fake.sleep(seconds)
    fake.slept[#fake.slept + 1] = seconds
    fake.time = fake.time + seconds
  end
  return fake
end

--- A free loopback port with nothing listening on it.
function helpers.closed_port()
  local server = assert(socket.bind("127.0.0.1", 0))
  local _, port = server:getsockname()
  server:close()
  return tonumber(port)
end

--- Runs a shell command; returns its stdout, and its exit status.
function helpers.run(command)
  if os.getenv("LD_PRELOAD") then
    -- `make asan` preloads the ASan runtime for the busted process; the
    -- compilers, make and servers a spec starts are not ours to check.
    command = "env -u LD_PRELOAD sh -c " .. helpers.shell_quote(command)
  end
  local pipe = assert(io.popen(command .. "; echo \"exit:$?\"", "r"))
  local out = pipe:read("*a")
  pipe:close()
  local body, status = out:match("^(.-)exit:(%d+)%s*$")
  return body, tonumber(status)
end

--- Whether the shell finds `command` on the PATH.
function helpers.has_command(command)
  local ok = os.execute("command -v " .. command .. " >/dev/null 2>&1")
  return ok == true or ok == 0
end

--- "<tool> is not installed" for the first of `tools` the shell does not
--- find, or nil: why a spec that needs them all cannot run.
function helpers.missing_command(tools)
  for _, tool in ipairs(tools) do
    if not helpers.has_command(tool) then return tool .. " is not installed" end
  end
  return nil
end

--- A new empty folder (remove it with helpers.remove_dir).
function helpers.scratch_dir()
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir -p " .. shell_quote(dir)))
  return dir
end

function helpers.remove_dir(dir)
  if dir then os.execute("rm -rf " .. shell_quote(dir)) end
end

--- Builds the module for LuaJIT, the interpreter of the hosts (Neovim,
--- nginx), whatever interpreter runs the specs.
function helpers.build_luajit()
  local out, status = helpers.run("make --no-print-directory build LUA=luajit 2>&1")
  assert(status == 0, out)
end

--- Runs Lua code in a child interpreter that loads the module this process
--- loaded, with the Extruct variables unset and then `env` ("NAME=value ...")
--- applied, killed after `seconds` if given; returns its stdout and stderr
--- together, and its exit status.
function helpers.run_lua(env, code, seconds)
  -- under `make asan` the module needs the ASan runtime preloaded, as here
  local preload = os.getenv("LD_PRELOAD")
  if preload then env = env .. " LD_PRELOAD=" .. shell_quote(preload) end
  local command = ("%s%s %s LUA_PATH=%s LUA_CPATH=%s %s -e %s 2>&1"):format(
    seconds and ("timeout %d "):format(seconds) or "", "env -u EXTRUCT_API_TOKEN -u EXTRUCT_API_URL", env,
    shell_quote(package.path), shell_quote(package.cpath),
    shell_quote(helpers.LUA), shell_quote(code))
  return helpers.run(command)
end

--- A host program, spec/support/<name>.c compiled with the core's sources
--- and linked with HOST_LUA, as build/spec/<name>-<HOST_LUA>: compiled
--- only when that file is older than one of its sources (as make would),
--- so the specs that run it do not pay a compiler each time. Returns its
--- path, or nil and the compiler's output.
function helpers.built_host(name)
  local output = ("build/spec/%s-%s"):format(name, helpers.HOST_LUA)
  local sources = "spec/support/" .. name .. ".c src/*.c src/*.h"
  local _, stale = helpers.run(("test -x %s && for f in %s; do [ %s -nt \"$f\" ] || exit 1; done"):format(
    shell_quote(output), sources, shell_quote(output)))
  if stale == 0 then return output end
  local out, status = helpers.run(("mkdir -p build/spec && cc -std=c99 -Wall -Wextra -Werror -pedantic -g"
    .. " -I/usr/include/%s -Isrc -o %s.part spec/support/%s.c src/*.c -l%s -lcurl -lcjson -lhttp_parser -lm 2>&1"
    .. " && mv %s.part %s"):format(helpers.HOST_LUA, shell_quote(output), name, helpers.HOST_LUA,
    shell_quote(output), shell_quote(output)))
  if status ~= 0 then return nil, out end
  return output
end

-- A stream that keeps what is written to it.
local function collector()
  local stream = { parts = {} }
  function stream.write(self, ...)
    for i = 1, select("#", ...) do self.parts[#self.parts + 1] = tostring((select(i, ...))) end
    return self
  end
  function stream.flush(self) return self end
  function stream.text(self) return table.concat(self.parts) end
  return stream
end

--- Runs the command line `extruct ARGS` against a mock (nil: none) and
--- returns stdout, stderr and the exit status. opts.env: variables to set
--- (false unsets one); opts.stdin: text for standard input (default:
--- empty). It runs in this process (extruct.cli.main, whose `sys` stands
--- for the process's streams and environment: no terminal), as bin/extruct
--- would run it, without paying a new interpreter and libcurl per command;
--- opts.process = true runs bin/extruct itself
--- (helpers.run_extruct_process).
function helpers.run_extruct(mock, args, opts)
  opts = opts or {}
  if opts.process then return helpers.run_extruct_process(mock, args, opts) end
  local vars = { EXTRUCT_API_TOKEN = mock and mock.token or false, EXTRUCT_API_URL = mock and mock.url or false }
  for name, value in pairs(opts.env or {}) do vars[name] = value end
  local stdin_text = opts.stdin or ""
  local stdout, stderr = collector(), collector()
  local sys = {
    stdin = { read = function() local text = stdin_text; stdin_text = ""; return text end },
    stdout = stdout, stderr = stderr,
    getenv = function(name)
      if vars[name] ~= nil then return vars[name] or nil end
      return os.getenv(name)
    end,
    isatty = function() return false end,
    terminal_width = function() return nil end,
  }
  local status = require("extruct.cli").main(args, sys)
  -- (the command's client is garbage now: its connections close with it)
  collectgarbage()
  return stdout:text(), stderr:text(), status
end

--- The same by running `bin/extruct ARGS` in a child process, with the
--- variables of opts.env in its environment and opts.stdin on its
--- standard input.
function helpers.run_extruct_process(mock, args, opts)
  opts = opts or {}
  local vars = { EXTRUCT_API_TOKEN = mock and mock.token or false, EXTRUCT_API_URL = mock and mock.url or false }
  for name, value in pairs(opts.env or {}) do vars[name] = value end
  local unset, assign = {}, {}
  for name, value in pairs(vars) do
    if value then assign[#assign + 1] = name .. "=" .. shell_quote(value) else unset[#unset + 1] = "-u " .. name end
  end
  local scratch = os.tmpname()
  local input = assert(io.open(scratch .. ".in", "wb"))
  input:write(opts.stdin or "")
  input:close()
  local words = {}
  for i, word in ipairs(args) do words[i] = shell_quote(word) end
  local command = ("env %s %s %s bin/extruct %s <%s 2>%s"):format(table.concat(unset, " "), table.concat(assign, " "),
    shell_quote(helpers.LUA), table.concat(words, " "), shell_quote(scratch .. ".in"), shell_quote(scratch .. ".err"))
  local out, status = helpers.run(command)
  local err = helpers.read_file(scratch .. ".err")
  for _, path in ipairs({ scratch, scratch .. ".in", scratch .. ".err" }) do os.remove(path) end
  return out, err, status
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

--- The same, in the body of a describe block that needs the suite: where it
--- is absent, prints a notice, marks the block pending and returns nil.
function helpers.json_test_suite_or_pending()
  local dir, why = helpers.json_test_suite()
  if not dir then
    print("NOTICE: skipping JSONTestSuite checks: " .. why)
    require("busted").pending("JSONTestSuite not found: " .. why)
  end
  return dir
end

function helpers.write_file(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

function helpers.read_file(path)
  local f = assert(io.open(path, "rb"))
  local data = f:read("*a")
  f:close()
  return data
end

--- A file's bytes, or nil when there is no such file (or it cannot be read).
function helpers.file_text(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local data = f:read("*a")
  f:close()
  return data
end

return helpers
