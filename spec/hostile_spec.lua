-- Hostile servers and hostile values: what a server written to misbehave
-- (spec/support/hostile_server.lua, on 127.0.0.1) and values at the edges
-- of what Lua can hold do to the client.

local helpers = require("spec.helpers")
local socket = require("socket")
local extruct = require("extruct")
local errors = require("extruct.errors")

local Hostile = {}
Hostile.__index = Hostile

-- Starts the hostile server on a free loopback port.
local function start_hostile()
  local pipe = assert(io.popen(("sh -c 'echo $$; exec \"$0\" spec/support/hostile_server.lua' %s")
    :format(helpers.shell_quote(helpers.LUA)), "r"))
  local pid = pipe:read("*l")
  local banner = pipe:read("*l")
  local port = banner and banner:match("^listening (%d+)$")
  if not port then
    pipe:close()
    error(("the hostile server did not start (pid %s, said %s)"):format(tostring(pid), tostring(banner)))
  end
  return setmetatable({ pipe = pipe, pid = tonumber(pid), port = tonumber(port),
    url = "http://127.0.0.1:" .. port }, Hostile)
end

function Hostile:stop()
  helpers.stop_server(self, function()
    local conn = socket.connect("127.0.0.1", self.port)
    if conn then
      conn:settimeout(2)
      conn:send("GET /shutdown HTTP/1.1\r\nHost: x\r\n\r\n")
      conn:receive("*a")
      conn:close()
    end
  end)
end

-- A client of the hostile server; extra options override.
local function client_of(server, opts)
  local options = { token = helpers.TOKEN, base_url = server.url, timeout = 10, connect_timeout = 2, retries = 0 }
  for k, v in pairs(opts or {}) do options[k] = v end
  return extruct.new(options)
end

-- What fn raised, asserting that it did and that the position is the line
-- where fn was defined (the caller's, not the library's).
local function raised_at_caller(fn)
  local ok, message = pcall(fn)
  assert.is_false(ok, "expected an error")
  assert.matches("hostile_spec%.lua:" .. debug.getinfo(fn, "S").linedefined .. ":", message)
  return message
end

describe("a hostile server", function()
  local server, client

  setup(function()
    server = start_hostile()
    client = client_of(server)
  end)

  teardown(function()
    if client then client:close() end
    if server then server:stop() end
  end)

  describe("repeated headers", function()
    -- With the collector stopped, what a request allocates is what it
    -- costs: joining at every repeat would copy the joined value so far
    -- each time, about 1.5 * n^2 bytes (54 MB for 6000 repeats of "v").
    local function allocated_by(fn)
      collectgarbage("collect")
      collectgarbage("stop")
      local before = collectgarbage("count")
      local ok, a, b = pcall(fn)
      local after = collectgarbage("count")
      collectgarbage("restart")
      assert(ok, a)
      return (after - before) * 1024, a, b
    end

    it("joins 6000 repeats with ', ' in one pass: the memory allocated grows linearly", function()
      local n = 6000
      local bytes, body = allocated_by(function()
        return client:request("GET", "/headers", { query = { n = n, value = "v" } })
      end)
      local response = client.last_response
      assert.same({}, body)
      local expected = {}
      for i = 1, n do expected[i] = "v" end
      assert.equal(table.concat(expected, ", "), response.headers["x-repeated"])
      -- linear: the list of values and the joined string, well under 1 MB
      assert.is_true(bytes < 4 * 1024 * 1024, ("%d bytes allocated for %d repeats"):format(bytes, n))
    end)

    it("keeps names lower-cased and empty repeats joined", function()
      assert(client:request("GET", "/headers", { query = { n = 3, value = "" } }))
      local response = client.last_response
      assert.equal(", , ", response.headers["x-repeated"])
      assert.is_nil(response.headers["X-Repeated"])
      assert.equal("application/json", response.headers["content-type"])
    end)
  end)

  describe("pagination that never ends", function()
    it("ends iter_rows with a decode error when a server ignores the offset and rows have no ids", function()
      local rows, failure, rounds = 0, nil, 0
      for row, err in client:iter_rows("tbl_loop", { limit = 4 }) do
        rounds = rounds + 1
        if rounds > 100 then break end -- a broken iterator would go on forever
        if row then rows = rows + 1 else failure = err end
      end
      assert.is_true(rounds <= 100, "iter_rows did not stop")
      assert.equal(4, rows)
      assert.is_true(errors.is_error(failure))
      assert.equal("decode", failure.kind)
      assert.matches("the page at offset 4 repeats the previous page", failure.message, 1, true)
    end)

    it("pages through rows without ids when the server honours the offset", function()
      local answers, failure = {}, nil
      for row, err in client:iter_rows("paged", { limit = 3 }) do
        if row then answers[#answers + 1] = extruct.cell(row, "n") else failure = err end
      end
      assert.is_nil(failure)
      assert.same({ 1, 2, 3, 4, 5, 6, 7 }, answers)
    end)
  end)

  describe("ids in messages", function()
    it("escapes control characters and shortens a 10 KB id", function()
      local id = "tbl\r\nX-Injected: yes" .. ("x"):rep(10 * 1024)
      local t, err = client:get_table(id)
      assert.is_nil(t)
      assert.equal("not_found", err.kind)
      assert.is_nil(err.message:find("[\r\n]"))
      assert.matches("table 'tbl\\r\\nX-Injected: yes", err.message, 1, true)
      assert.is_true(#err.message < 400, #err.message .. " bytes")
      assert.matches("xxx...' is unknown", err.message, 1, true)
      -- a transport's failure names the request's target, cut short too
      local far_url = "http://127.0.0.1:" .. helpers.closed_port()
      local far = extruct.new{ base_url = far_url, token = "t", retries = 0 }
      t, err = far:get_table(id)
      far:close()
      assert.is_nil(t)
      assert.equal("network", err.kind)
      assert.is_true(#err.message < 400, #err.message .. " bytes")
      assert.matches("^GET " .. far_url:gsub("%p", "%%%0") .. "/v1/tables/tbl%%0D%%0AX%-Injected", err.message)
    end)
  end)
end)

describe("errors.show", function()
  it("keeps a value on one line and at most 100 bytes (plus ...)", function()
    assert.equal("a\\r\\nb\\tc\\x00d\\x7F\\\\", errors.show("a\r\nb\tc\0d\127\\"))
    assert.equal(("x"):rep(100) .. "...", errors.show(("x"):rep(10000)))
    assert.equal("short", errors.show("short"))
    -- never cuts a UTF-8 character in two
    assert.equal(("é"):rep(50) .. "...", errors.show(("é"):rep(60)))
    assert.equal("x" .. ("é"):rep(49) .. "...", errors.show("x" .. ("é"):rep(60)))
  end)
end)

describe("query values a URL cannot express", function()
  local client
  setup(function()
    client = extruct.new{ token = helpers.TOKEN, base_url = "http://127.0.0.1:" .. helpers.closed_port(), retries = 0 }
  end)
  teardown(function() client:close() end)

  it("refuses each at the caller's line, naming the key", function()
    local message = raised_at_caller(function() client:request("GET", "/x", { query = { a = { { 1 } } } }) end)
    assert.matches("the value of 'a' holds a table at [1]", message, 1, true)
    message = raised_at_caller(function() client:request("GET", "/x", { query = { [true] = "x" } }) end)
    assert.matches("the key 'true' is a boolean", message, 1, true)
    message = raised_at_caller(function() client:request("GET", "/x", { query = { [{}] = "x" } }) end)
    assert.matches("the key 'table: .-' is a table", message)
    message = raised_at_caller(function() client:request("GET", "/x", { query = { tags = { [1] = "a", [3] = "b" } } }) end)
    assert.matches("the value of 'tags' is a table that is not a list", message, 1, true)
    message = raised_at_caller(function() client:request("GET", "/x", { query = { f = print } }) end)
    assert.matches("the value of 'f' is a function", message, 1, true)
    message = raised_at_caller(function() client:request("GET", "/x", { query = { n = extruct.null } }) end)
    assert.matches("the value of 'n' is a userdata", message, 1, true)
    message = raised_at_caller(function() client:request("GET", "/x", { query = { ["a\nb"] = print } }) end)
    -- the key is shown on one line
    assert.matches("the value of 'a\\nb' is a function", message, 1, true)
    assert.is_nil(message:find("\n"))
  end)

  it("refuses a sparse tags list in list_tables", function()
    local message = raised_at_caller(function() client:list_tables{ tags = { [1] = "a", [3] = "b" } } end)
    assert.matches("option 'tags' must be a string or a list of strings", message, 1, true)
  end)

  it("keeps stable sorted output for valid input", function()
    local url = require("extruct.url")
    assert.equal("?a=x&a=y&b=1&c=true&d=2.5", url.query{ d = 2.5, c = true, b = 1, a = { "x", "y" } })
    assert.equal("?1=one&b=%20", url.query{ b = " ", [1] = "one" })
    assert.equal("", url.query{ tags = {} })
  end)
end)

describe("option values at the edges", function()
  it("takes max_response_size only as a whole number of bytes from 1 to 2^40", function()
    for _, size in ipairs({ 0.5, 0, -1, 1e30, 2 ^ 40 + 1, 1 / 0, 0 / 0 }) do
      local message = raised_at_caller(function() extruct.new{ token = "t", max_response_size = size } end)
      assert.matches("option 'max_response_size' must be a whole number of bytes from 1 to 2^40", message, 1, true)
    end
    for _, size in ipairs({ 1, 2 ^ 31, 2 ^ 40 }) do
      local c = extruct.new{ token = "t", max_response_size = size }
      c:close()
    end
  end)

  it("raises a sub-millisecond timeout to 1 ms: a silent server ends the call as a timeout", function()
    -- In a child with a time limit: a timeout of 0 ms would be no timeout at all.
    local code = [[
      local socket = require("socket")
      local extruct = require("extruct")
      local silent = assert(socket.bind("127.0.0.1", 0)) -- accepts nothing, answers nothing
      local _, port = silent:getsockname()
      local c = extruct.new{ token = "t", base_url = "http://127.0.0.1:" .. port, retries = 0,
        timeout = 0.0004, connect_timeout = 0.0004 }
      local started = socket.gettime()
      local t, err = c:get_table("tbl_1")
      print(t == nil and err.kind, socket.gettime() - started < 3)
    ]]
    local out, status = helpers.run_lua("", code, 10)
    assert.equal(0, status, out)
    assert.matches("^timeout\ttrue", out)
  end)
end)

describe("encode of proxy tables", function()
  -- Whether this Lua's pairs calls __pairs (5.2+; not 5.1 or LuaJIT).
  local honours_pairs = (function()
    local probe = setmetatable({}, { __pairs = function() return next, { x = 1 }, nil end })
    local _, state = pairs(probe)
    return state ~= probe
  end)()

  local data = { name = "Acme", tags = extruct.array{ "a", "b" } }
  local function proxy() return setmetatable({}, { __index = data, __pairs = function() return next, data, nil end }) end

  it("writes what pairs gives where __pairs is honoured, and refuses it elsewhere", function()
    local text, err = extruct.encode({ company = proxy() })
    if honours_pairs then
      assert.is_nil(err)
      assert.same({ company = { name = "Acme", tags = { "a", "b" } } }, extruct.decode(text))
    else
      assert.is_nil(text)
      assert.equal("encode", err.kind)
      assert.matches("__pairs metamethod", err.message, 1, true)
      assert.matches("at $.company", err.message, 1, true)
    end
  end)

  it("turns an error raised by __pairs into an encode error", function()
    local broken = setmetatable({}, { __pairs = function() error("no pairs today") end })
    local text, err = extruct.encode({ list = extruct.array{ broken } })
    assert.is_nil(text)
    assert.equal("encode", err.kind)
    assert.matches("at $.list[1]", err.message, 1, true)
    if honours_pairs then assert.matches("no pairs today", err.message, 1, true) end
  end)

  it("refuses a table whose only contents come from __index, naming the path", function()
    local text, err = extruct.encode({ rows = extruct.array{ setmetatable({}, { __index = data }) } })
    assert.is_nil(text)
    assert.equal("encode", err.kind)
    assert.matches("__index (a proxy)", err.message, 1, true)
    assert.matches("at $.rows[1]", err.message, 1, true)
    text, err = extruct.encode(setmetatable({}, { __index = function() return 1 end }))
    assert.is_nil(text)
    assert.equal("encode", err.kind)
  end)

  it("still writes array-marked empty tables and tables with keys of their own", function()
    assert.equal("[]", extruct.encode(setmetatable({}, { __index = data, __jsontype = "array" })))
    assert.equal('{"own":1}', extruct.encode(setmetatable({ own = 1 }, { __index = data })))
    local err = errors.new("http", "m")
    assert.same({ kind = "http", message = "m" }, extruct.decode(extruct.encode(err)))
  end)
end)

describe("cJSON's process-wide hooks", function()
  it("are the host's: a later lua_State loading the module leaves a host's hooks alone", function()
    local host, why = helpers.built_host("cjson_host")
    assert(host, why)
    local out, status = helpers.run(helpers.shell_quote(host) .. " 2>&1")
    assert.equal(0, status, out)
    assert.not_matches("FAILED", out)
    assert.matches("host hooks kept when a second lua_State loads the module: ok", out, 1, true)
    assert.matches("module decode in the second lua_State: ok", out, 1, true)
    assert.matches("host blocks left at the end: 0\n", out, 1, true)
  end)
end)

describe("closing a client from inside its own callbacks", function()
  local fixture = helpers.shared_mock()

  -- Each call is on the line of its function, where the error must point.
  it("sleep, during the backoff after a 503: the retry raises the closed-client error at the caller's line", function()
    fixture.mock:fault{ status = 503, count = 5 }
    local client = helpers.client(fixture.mock, { retries = 3 })
    local opts = { sleep = function() client:close() end }
    local message = raised_at_caller(function() client:get_table("tbl_idle", opts) end)
    assert.matches("extruct: the client is closed", message, 1, true)
    assert.is_nil(message:find("nil value", 1, true))
  end)

  it("trace, between attempts: the retry raises the closed-client error at the caller's line", function()
    fixture.mock:fault{ status = 503, count = 5 }
    local client
    client = helpers.client(fixture.mock, { retries = 3, sleep = function() end, trace = function() client:close() end })
    local message = raised_at_caller(function() client:get_table("tbl_idle") end)
    assert.matches("extruct: the client is closed", message, 1, true)
  end)

  it("on_progress, in wait_until_idle: the next poll raises the closed-client error at the caller's line", function()
    local client = helpers.client(fixture.mock)
    local calls = 0
    local opts = { interval = 0.01, sleep = function() end,
      on_progress = function() calls = calls + 1; client:close() end }
    local message = raised_at_caller(function() client:wait_until_idle("tbl_demo", opts) end)
    assert.equal(1, calls)
    assert.matches("extruct: the client is closed", message, 1, true)
  end)

  it("sleep, between polls of wait_until_idle", function()
    local client = helpers.client(fixture.mock)
    local opts = { interval = 0.01, sleep = function() client:close() end }
    local message = raised_at_caller(function() client:wait_until_idle("tbl_demo", opts) end)
    assert.matches("extruct: the client is closed", message, 1, true)
  end)

  it("on_progress, in wait_all: the closed-client error at the caller's line, not the other polls' cancellation", function()
    local client = helpers.client(fixture.mock)
    local opts = { interval = 0.01, sleep = function() end, on_progress = function() client:close() end }
    local message = raised_at_caller(function() client:wait_all({ "tbl_demo", "tbl_people" }, opts) end)
    assert.matches("extruct: the client is closed", message, 1, true)
  end)
end)

describe("memory held after a failed or oversized response", function()
  local server

  setup(function() server = start_hostile() end)
  teardown(function() if server then server:stop() end end)

  -- In a child: five clients each get `target`'s answer, and the child
  -- prints how much its resident memory grew (MB) after a full collection,
  -- and each call's error kind.
  local function growth_after(target, max_response_size)
    local code = ([[
      local extruct = require("extruct")
      local function rss()
        local f = assert(io.open("/proc/self/statm"))
        local pages = f:read("*n"); pages = f:read("*n")
        f:close()
        return pages * 4096 / 2^20
      end
      -- one warm-up call first, so libcurl's own first allocations are not counted
      local warm = extruct.new{ token = "t", base_url = %q, retries = 0 }
      warm:request("GET", "/big?size=100")
      warm:close()
      collectgarbage("collect"); collectgarbage("collect")
      local before = rss()
      -- (in a function of its own: no dead register of this chunk keeps an answer alive)
      local function fetch(client)
        local _, err = client:request("GET", %q)
        return err and err.kind or "ok"
      end
      local clients, kinds = {}, {}
      for i = 1, 5 do
        clients[i] = extruct.new{ token = "t", base_url = %q, retries = 0, timeout = 20,
          max_response_size = %d }
        kinds[#kinds + 1] = fetch(clients[i])
      end
      collectgarbage("collect"); collectgarbage("collect")
      print(("grew %%.1f MB; %%s"):format(rss() - before, table.concat(kinds, " ")))
      for i = 1, 5 do clients[i]:close() end
    ]]):format(server.url, target, server.url, max_response_size)
    -- glibc's malloc serves big blocks with mmap and unmaps them when freed
    -- (a fixed threshold: no freed block lingers in the heap), so RSS counts
    -- what is still held, not what malloc keeps for later.
    local out, status = helpers.run_lua("MALLOC_MMAP_THRESHOLD_=131072", code)
    assert.equal(0, status, out)
    local grew, kinds = out:match("grew (%-?[%d.]+) MB; ([%w_ ]+)")
    assert(grew, out)
    return tonumber(grew), kinds
  end

  local MB = 1024 * 1024

  -- Under `make asan` RSS says nothing about what is held: ASan's allocator
  -- keeps freed blocks in quarantine. The other runs judge it.
  local function assert_released(grew)
    if helpers.UNDER_ASAN then
      io.stdout:write(("\n    RSS not judged under ASan (its quarantine holds freed blocks): grew %.1f MB\n")
        :format(grew))
      return
    end
    assert.is_true(grew < 8, ("RSS grew by %.1f MB"):format(grew))
  end

  it("an 8 MB answer over a 4 MB max_response_size, sent without Content-Length: released", function()
    local grew, kinds = growth_after("/big?length=none&size=" .. 8 * MB, 4 * MB)
    assert.equal("decode decode decode decode decode", kinds)
    -- kept, the five bodies would hold 20 MB or more
    assert_released(grew)
  end)

  it("a 404 with a 3 MB body: released", function()
    local grew, kinds = growth_after("/big?status=404&size=" .. 3 * MB, 4 * MB)
    assert.equal("not_found not_found not_found not_found not_found", kinds)
    -- what remains is the decoder's one spare block per lua_State (about
    -- one body's size), not one per client
    assert_released(grew)
  end)

  it("a 6 MB body cut short at 3 MB: released", function()
    local grew, kinds = growth_after("/big?length=short&size=" .. 6 * MB, 8 * MB)
    assert.equal("network network network network network", kinds)
    assert_released(grew)
  end)
end)

describe("proxies", function()
  local url = require("extruct.url")
  local server

  setup(function() server = start_hostile() end)
  teardown(function() if server then server:stop() end end)

  local PROXY_VARIABLES = { "http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY",
    "no_proxy", "NO_PROXY" }

  -- An env string for helpers.run_lua: every proxy variable unset, then vars set.
  local function proxy_env(vars)
    local words = {}
    for _, name in ipairs(PROXY_VARIABLES) do words[#words + 1] = "-u " .. name end
    for name, value in pairs(vars or {}) do words[#words + 1] = name .. "=" .. helpers.shell_quote(value) end
    return table.concat(words, " ")
  end

  -- The requests the hostile server received as a proxy so far.
  local function proxied()
    local direct = extruct.new{ token = "t", base_url = server.url, retries = 0, proxy = "" }
    local seen = assert(direct:request("GET", "/_proxied"))
    direct:close()
    return seen
  end

  -- In a child with the environment `vars`: a client with the options
  -- written in `options` (Lua text) asks the hostile server for /whoami;
  -- returns what it printed: "via=direct", "via=proxy" or "kind=...: message".
  local function whoami(vars, options)
    local code = ([[
      local extruct = require("extruct")
      local c = extruct.new{ token = %q, base_url = %q, retries = 0, timeout = 5, %s }
      local body, err = c:request("GET", "/whoami")
      print(body and ("via=" .. body.via) or ("kind=" .. err.kind .. ": " .. err.message))
    ]]):format(helpers.TOKEN, server.url, options or "")
    local out, status = helpers.run_lua(proxy_env(vars), code)
    assert.equal(0, status, out)
    return out
  end

  local function proxy_url() return "http://127.0.0.1:" .. server.port end

  it("http_proxy with an http loopback base URL: a config error naming the proxy, nothing sent", function()
    local before = proxied().count
    local out = whoami({ http_proxy = proxy_url() })
    assert.matches("kind=config: ", out, 1, true)
    assert.matches("through the proxy 'http://127.0.0.1:" .. server.port .. "' (from the environment", out, 1, true)
    assert.matches("allow_http = true", out, 1, true)
    assert.equal(before, proxied().count)
    -- ALL_PROXY and all_proxy too
    assert.matches("kind=config: ", whoami({ ALL_PROXY = proxy_url() }), 1, true)
    assert.matches("kind=config: ", whoami({ all_proxy = proxy_url() }), 1, true)
    -- a socks proxy carries the request unencrypted as well
    assert.matches("kind=config: ", whoami({ http_proxy = "socks5://127.0.0.1:9" }), 1, true)
    assert.equal(before, proxied().count)
  end)

  it("allow_http = true lets the request and its token through the proxy", function()
    local before = proxied().count
    assert.matches("via=proxy", whoami({ http_proxy = proxy_url() }, "allow_http = true"), 1, true)
    local seen = proxied()
    assert.equal(before + 1, seen.count)
    assert.equal("Bearer " .. helpers.TOKEN, seen.authorization)
    assert.equal(server.url .. "/whoami", seen.target)
  end)

  it("HTTP_PROXY in upper case is not read for http (libcurl reads http_proxy only)", function()
    assert.matches("via=direct", whoami({ HTTP_PROXY = proxy_url() }), 1, true)
  end)

  it("NO_PROXY and no_proxy exclude the host: then the request goes direct", function()
    assert.matches("via=direct", whoami({ http_proxy = proxy_url(), NO_PROXY = "localhost,127.0.0.1" }), 1, true)
    assert.matches("via=direct", whoami({ http_proxy = proxy_url(), no_proxy = "*" }), 1, true)
    assert.matches("via=direct", whoami({ ALL_PROXY = proxy_url(), NO_PROXY = "127.0.0.0/8" }), 1, true)
  end)

  it("the proxy option: refused over plaintext without allow_http, used with it", function()
    local before = proxied().count
    local out = whoami({}, ("proxy = %q"):format(proxy_url()))
    assert.matches("kind=config: ", out, 1, true)
    assert.not_matches("from the environment", out, 1, true)
    assert.equal(before, proxied().count)
    assert.matches("via=proxy", whoami({}, ("proxy = %q, allow_http = true"):format(proxy_url())), 1, true)
    assert.equal(before + 1, proxied().count)
  end)

  it("the noproxy option bypasses the proxy, and overrides NO_PROXY", function()
    assert.matches("via=direct", whoami({}, ("proxy = %q, noproxy = '127.0.0.1'"):format(proxy_url())), 1, true)
    assert.matches("via=direct", whoami({ http_proxy = proxy_url() }, "noproxy = '*'"), 1, true)
    -- an empty noproxy excludes nothing, whatever NO_PROXY says
    assert.matches("kind=config: ",
      whoami({ http_proxy = proxy_url(), NO_PROXY = "127.0.0.1" }, "noproxy = ''"), 1, true)
    -- proxy = "" means none, whatever the environment says
    assert.matches("via=direct", whoami({ http_proxy = proxy_url() }, "proxy = ''"), 1, true)
  end)

  it("an https base URL through an http proxy is not refused (a CONNECT tunnel keeps TLS end to end)", function()
    local code = [[
      local extruct = require("extruct")
      local c = extruct.new{ token = "t", base_url = "https://api.example.invalid", retries = 0, timeout = 5 }
      local _, err = c:request("GET", "/whoami")
      print("kind=" .. err.kind)
    ]]
    local out = helpers.run_lua(proxy_env({ https_proxy = proxy_url() }), code)
    assert.matches("kind=network", out, 1, true) -- the fake proxy refuses CONNECT
  end)

  it("trace shows no proxy password: libcurl's note on http_proxy has it redacted", function()
    local code = ([[
      local extruct = require("extruct")
      local lines = {}
      local c = extruct.new{ token = %q, base_url = %q, retries = 0, timeout = 5, allow_http = true,
        trace = function(line) lines[#lines + 1] = line end }
      local body, err = c:request("GET", "/whoami")
      print(body and body.via or err.message)
      print(table.concat(lines, "\n"))
    ]]):format(helpers.TOKEN, server.url)
    local out, status = helpers.run_lua(proxy_env({
      http_proxy = ("http://proxyuser:s3cr3t-pass@127.0.0.1:%d"):format(server.port) }), code)
    assert.equal(0, status, out)
    assert.matches("^proxy\n", out)
    assert.not_matches("s3cr3t", out, 1, true)
    assert.not_matches(helpers.TOKEN, out, 1, true)
    assert.matches("http_proxy == 'http://proxyuser:[redacted]@127.0.0.1:" .. server.port .. "'", out, 1, true)
    assert.matches("Proxy-Authorization: [redacted]", out, 1, true)
  end)

  it("a config error shows a proxy's URL with its credentials masked", function()
    local out = whoami({ http_proxy = "http://u:s3cr3t@127.0.0.1:9" })
    assert.matches("kind=config: ", out, 1, true)
    assert.matches("'http://***@127.0.0.1:9'", out, 1, true)
    assert.not_matches("s3cr3t", out, 1, true)
  end)

  it("the cosocket transport refuses an explicit proxy with a config error", function()
    local cosocket = require("extruct.cosocket")
    local client = extruct.new{ token = "t", base_url = "https://api.example.invalid", proxy = "http://127.0.0.1:9" }
    local failure, message = cosocket.unsupported(client)
    client:close()
    assert.equal("config", failure)
    assert.matches("the proxy option cannot be honoured by the cosocket transport", message, 1, true)
  end)

  describe("url.effective_proxy, the proxy libcurl picks", function()
    local function env(vars) return function(name) return vars[name] end end

    it("reads http_proxy for http, https_proxy or HTTPS_PROXY for https, then all_proxy or ALL_PROXY", function()
      assert.equal("p1", url.effective_proxy("http://h", nil, nil, env{ http_proxy = "p1", all_proxy = "p2" }))
      assert.is_nil(url.effective_proxy("http://h", nil, nil, env{ HTTP_PROXY = "p1" }))
      assert.equal("p3", url.effective_proxy("https://h", nil, nil, env{ HTTPS_PROXY = "p3" }))
      assert.equal("p4", url.effective_proxy("https://h", nil, nil, env{ https_proxy = "p4", HTTPS_PROXY = "p3" }))
      assert.equal("p5", url.effective_proxy("https://h", nil, nil, env{ http_proxy = "p1", ALL_PROXY = "p5" }))
      -- set but empty: no proxy, and all_proxy is not read
      assert.is_nil(url.effective_proxy("http://h", nil, nil, env{ http_proxy = "", all_proxy = "p2" }))
    end)

    it("lets the proxy option win over the environment, and '' mean none", function()
      assert.equal("opt", url.effective_proxy("http://h", "opt", nil, env{ http_proxy = "p1" }))
      assert.is_nil(url.effective_proxy("http://h", "", nil, env{ http_proxy = "p1" }))
    end)

    it("excludes hosts by noproxy, else no_proxy, else NO_PROXY: names, subdomains, addresses, networks", function()
      local vars = { http_proxy = "p" }
      local function through(target, noproxy, no_proxy)
        vars.no_proxy = no_proxy
        return url.effective_proxy(target, nil, noproxy, env(vars)) ~= nil
      end
      assert.is_false(through("http://localhost:8080", "localhost"))
      assert.is_false(through("http://api.example.com", ".example.com"))
      assert.is_false(through("http://api.example.com", "example.com"))
      assert.is_true(through("http://badexample.com", "example.com"))
      assert.is_false(through("http://API.Example.COM", "example.com"))
      assert.is_false(through("http://10.1.2.3", "10.0.0.0/8"))
      assert.is_true(through("http://11.1.2.3", "10.0.0.0/8"))
      assert.is_false(through("http://127.0.0.1:1", "a, b,127.0.0.1"))
      assert.is_false(through("http://[::1]:1", "[::1]"))
      assert.is_false(through("http://anything", "*"))
      assert.is_true(through("http://anything", "*.example.com"))
      assert.is_false(through("http://h", nil, "h"))
      assert.is_true(through("http://h", "", "h"))
    end)
  end)
end)

describe("the token in memory", function()
  local server, dir

  setup(function()
    server = start_hostile()
    -- spec/support/heapscan.c: counts a string's copies in the process's writable memory
    dir = helpers.scratch_dir()
    local incdir = helpers.LUA == "luajit" and "/usr/include/luajit-2.1" or "/usr/include/" .. helpers.LUA
    local out, status = helpers.run(("cc -std=c99 -Wall -Wextra -Werror -pedantic -O1 -fPIC -shared -I%s -o %s"
      .. " spec/support/heapscan.c 2>&1"):format(helpers.shell_quote(incdir), helpers.shell_quote(dir .. "/heapscan.so")))
    assert(status == 0, out)
  end)

  teardown(function()
    if server then server:stop() end
    helpers.remove_dir(dir)
  end)

  -- In a child: the counts of a distinctive token's copies before the
  -- client is made, once it is made, after a request (when `request`), and
  -- after close() and a full collection. The token is a long string made
  -- at run time: one Lua string, which the child keeps.
  local function token_copies(request)
    local code = ([[
      package.cpath = %q .. "/?.so;" .. package.cpath
      local count = require("heapscan")
      local extruct = require("extruct")
      local token = "heapscan" .. "-" .. ("Q7zX"):rep(12) .. "-" .. "token"
      -- (LuaJIT builds strings in a buffer of its own: overwrite its copy)
      local _ = ("%%s %%d"):format("scratch", 1) .. "text"
      local function full_collect() collectgarbage("collect"); collectgarbage("collect") end
      full_collect()
      local base = count(token)
      local c = extruct.new{ token = token, base_url = %q, retries = 0 }
      full_collect()
      local made = count(token)
      local used = made
      if %s then
        assert(c:request("GET", "/whoami"))
        full_collect()
        used = count(token)
      end
      c:close()
      full_collect()
      print(("copies %%d %%d %%d %%d"):format(base, made, used, count(token)))
    ]]):format(dir, server.url, tostring(request))
    local out, status = helpers.run_lua("", code)
    assert.equal(0, status, out)
    local base, made, used, closed = out:match("copies (%d+) (%d+) (%d+) (%d+)")
    assert(base, out)
    return tonumber(base), tonumber(made), tonumber(used), tonumber(closed)
  end

  -- Under `make asan` the scan is not made: ASan maps terabytes of shadow
  -- memory, too much to read; the other runs judge it.
  local function skipped_under_asan()
    if not helpers.UNDER_ASAN then return false end
    io.stdout:write("\n    the heap is not scanned under ASan (terabytes of shadow memory); the other runs do\n")
    return true
  end

  it("the client's two header lists are its only copies, and close() zeroes both", function()
    if skipped_under_asan() then return end
    local base, made, _, closed = token_copies(false)
    assert.equal(1, base) -- the Lua string
    assert.equal(base + 2, made)
    assert.equal(base, closed)
  end)

  it("after a request, close() still zeroes both header lists", function()
    -- libcurl writes each request head into buffers of its own and frees
    -- them unzeroed: copies of the token may linger there, in freed memory
    -- (0 to 2 seen), which this module does not own and cannot reach
    if skipped_under_asan() then return end
    local _, _, used, closed = token_copies(true)
    assert.is_true(closed <= used - 2, ("%d copies in use, %d after close"):format(used, closed))
  end)

  it("a base URL holding user:password@ is a config error, and the client keeps no password", function()
    local c = extruct.new{ token = helpers.TOKEN, base_url = "http://user:s3cr3t@127.0.0.1:" .. server.port }
    local body, err = c:request("GET", "/whoami")
    assert.is_nil(body)
    assert.equal("config", err.kind)
    assert.matches("holds credentials (user:password@)", err.message, 1, true)
    assert.not_matches("s3cr3t", err.message, 1, true)
    assert.equal("http://127.0.0.1:" .. server.port, c.base_url)
    for _, value in pairs(c) do
      if type(value) == "string" then assert.not_matches("s3cr3t", value, 1, true) end
    end
    assert.not_matches("s3cr3t", tostring(c), 1, true)
    c:close()
    -- the C core refuses one too
    local core = require("extruct.core")
    assert.has_error(function() core.new_client{ base_url = "http://u:p@127.0.0.1:9", token = "t" } end,
      "bad argument #1 to 'new_client' (base_url must not hold credentials (user:password@))")
  end)
end)
