-- The security promises of the README: the token is never shown, never
-- sent to another host, never spliced into a header; TLS is verified unless
-- `insecure = true`; plaintext http only to loopback unless `allow_http = true`.

local extruct = require("extruct")
local url = require("extruct.url")
local helpers = require("spec.helpers")

local function assert_no_token(value, token)
  token = token or helpers.TOKEN
  assert.is_nil(tostring(value):find(token, 1, true))
  if type(value) == "table" then
    for field, v in pairs(value) do
      assert.is_nil(tostring(v):find(token, 1, true), field)
    end
  end
end

--- The Authorization headers the mock saw, in order ("-" for none).
local function authorizations(mock)
  local seen = {}
  for _, request in ipairs(mock:requests()) do
    seen[#seen + 1] = request.headers.authorization or "-"
  end
  return seen
end

-- A TLS server with a self-signed certificate made at test time: nginx on
-- a free loopback port, serving a table, a redirect within https and a
-- redirect to plaintext http (to `http_url`).
local NGINX_CONF = [[
daemon off;
master_process off;
worker_processes 1;
pid %s/nginx.pid;
error_log %s/error.log;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path %s/tmp; proxy_temp_path %s/tmp; fastcgi_temp_path %s/tmp;
  uwsgi_temp_path %s/tmp; scgi_temp_path %s/tmp;
  server {
    listen 127.0.0.1:%d ssl;
    ssl_certificate %s/cert.pem;
    ssl_certificate_key %s/key.pem;
    location = /v1/tables/tbl_tls {
      default_type application/json;
      return 200 '{"id": "tbl_tls", "status": {"run_status": "idle", "num_cells_in_progress": 0}}';
    }
    location = /v1/tables/to_https { return 302 /v1/tables/tbl_tls; }
    location = /v1/tables/to_http { return 302 %s/v1/tables/tbl_idle; }
  }
}
]]

local function start_tls_server(http_url)
  local dir = helpers.scratch_dir()
  assert(os.execute("mkdir -p " .. dir .. "/tmp"))
  local _, status = helpers.run(("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1"
    .. " -addext subjectAltName=IP:127.0.0.1 -keyout %s/key.pem -out %s/cert.pem 2>&1"):format(dir, dir))
  assert.equal(0, status)
  local port = helpers.closed_port()
  local f = assert(io.open(dir .. "/nginx.conf", "wb"))
  f:write(NGINX_CONF:format(dir, dir, dir, dir, dir, dir, dir, port, dir, dir, http_url))
  f:close()
  local pipe = assert(io.popen(("sh -c 'echo $$; exec /usr/sbin/nginx -p \"$0\" -c \"$0/nginx.conf\" -e \"$0/error.log\""
    .. " >/dev/null 2>&1' %s"):format(helpers.shell_quote(dir))))
  local pid = tonumber(pipe:read("*l"))
  local up = helpers.eventually(5, function() return not helpers.refuses_connections(port) end)
  local server = { pid = pid, port = port, url = "https://127.0.0.1:" .. port, dir = dir }
  function server.stop()
    os.execute("kill " .. pid .. " 2>/dev/null")
    pipe:close()
    helpers.remove_dir(dir)
  end
  if not up then
    local log = io.open(dir .. "/error.log") and helpers.read_file(dir .. "/error.log") or ""
    server.stop()
    error("nginx did not start on port " .. port .. ": " .. log)
  end
  return server
end

describe("security", function()
  -- One attempt per call: a retry would only repeat what is checked here.
  local fixture = helpers.mock_and_client{ single_attempt = true }

  describe("the token", function()
    it("is in no error of any kind and not in tostring(client)", function()
      local faults = {
        { status = 401 }, { status = 403 }, { status = 404 }, { status = 422, detail = "bad" },
        { status = 429, retry_after = "1" }, { status = 500 }, { mode = "html", status = 502 },
        { mode = "html" }, { mode = "invalid_json" }, { mode = "empty" }, { mode = "truncate" },
        { mode = "drop" }, { mode = "reset" }, { location = "http://extruct-mock.invalid/" },
      }
      for _, fault in ipairs(faults) do
        fault.count = 1000
        fixture.mock:reset()
        fixture.mock:fault(fault)
        local value, err = fixture.client:get_table("tbl_demo")
        assert.is_nil(value)
        assert_no_token(err)
      end
      assert_no_token(fixture.client)
      assert_no_token(fixture.client._core)
      for _, value in pairs(fixture.client) do assert_no_token(value) end
      -- a closed client too
      fixture.client:close()
      assert_no_token(fixture.client)
    end)

    it("is in no config error, even when the token itself is the problem", function()
      for _, token in ipairs({ "tok en-1234", "token\r\nX-Injected: 1", "tok\0en-1234" }) do
        local c = extruct.new{ retries = 0, token = token, base_url = fixture.mock.url }
        local _, err = c:get_table("tbl_demo")
        assert.equal("config", err.kind)
        assert_no_token(err, "en-1234")
        assert_no_token(err, "X-Injected")
        assert_no_token(c, "en-1234")
      end
    end)
  end)

  describe("the trace option", function()
    local function traced(lines)
      return function(line)
        assert.is_string(line)
        lines[#lines + 1] = line
      end
    end

    it("shows the exchange with the Authorization value redacted, across a redirect", function()
      local lines = {}
      fixture:new_client{ trace = traced(lines) }
      fixture.mock:fault{ path = "/v1/tables/tbl_demo", location = "/v1/tables/tbl_idle" }
      local t = fixture.client:get_table("tbl_demo")
      assert.equal("tbl_idle", t.id)
      assert.is_nil(fixture.client.last_response.trace)
      local text = table.concat(lines, "\n")
      assert.matches("> GET /v1/tables/tbl_demo HTTP/1.1", text, 1, true)
      assert.matches("> GET /v1/tables/tbl_idle HTTP/1.1", text, 1, true)
      assert.matches("< HTTP/1.1 302 Found", text, 1, true)
      assert.matches("< Location: /v1/tables/tbl_idle", text, 1, true)
      local redacted = 0
      for _, line in ipairs(lines) do
        assert.is_nil(line:find(helpers.TOKEN, 1, true), line)
        assert.is_nil(line:find("Bearer", 1, true), line)
        if line == "> Authorization: [redacted]" then redacted = redacted + 1 end
      end
      assert.equal(2, redacted)
      -- the token was sent all the same
      assert.equal("Bearer " .. helpers.TOKEN, fixture.mock:requests()[2].headers.authorization)
    end)

    it("shows failed requests too, and traces nothing when no request is made", function()
      local lines = {}
      local c = helpers.single_attempt_client({ token = helpers.TOKEN, url = "http://127.0.0.1:" .. helpers.closed_port() },
        { trace = traced(lines) })
      assert.equal("network", select(2, c:get_table("tbl_demo")).kind)
      assert.is_true(#lines > 0)
      assert.matches("^%* ", lines[1])
      c:close()
      lines = {}
      c = helpers.single_attempt_client(fixture.mock, { token = "", trace = traced(lines) })
      assert.equal("config", select(2, c:get_table("tbl_demo")).kind)
      assert.same({}, lines)
      c:close()
    end)

    it("is redacted in the C core, before Lua sees it", function()
      local core = require("extruct.core")
      local engine = core.new_engine()
      local function get(c)
        local transfer = c:start(engine, "GET", "/v1/tables/tbl_idle")
        engine:wait(transfer)
        return assert(transfer:result())
      end
      local c = core.new_client{ token = helpers.TOKEN, base_url = fixture.mock.url, trace = true }
      local response = get(c)
      assert.matches("> Authorization: [redacted]\n", response.trace, 1, true)
      assert.is_nil(response.trace:find(helpers.TOKEN, 1, true))
      c:close()
      local quiet = core.new_client{ token = helpers.TOKEN, base_url = fixture.mock.url }
      assert.is_nil(get(quiet).trace)
      quiet:close()
      engine:close()
    end)
  end)

  describe("CR, LF or NUL in what goes into the request", function()
    local BAD = { "\r", "\n", "\r\n", "\0" }

    it("in the token, the base URL or the User-Agent: a config error and nothing sent", function()
      for _, bad in ipairs(BAD) do
        local configs = {
          { token = helpers.TOKEN .. bad .. "X-Injected: 1" },
          { base_url = fixture.mock.url .. bad .. "X-Injected: 1" },
          { base_url = fixture.mock.url .. "/v1" .. bad },
          { user_agent = "agent" .. bad .. "X-Injected: 1" },
        }
        for _, config in ipairs(configs) do
          local c = helpers.single_attempt_client(fixture.mock, config)
          local value, err = c:get_table("tbl_demo")
          assert.is_nil(value)
          assert.equal("config", err.kind)
          assert.matches("control characters", err.message, 1, true)
          c:close()
        end
      end
      assert.same({}, fixture.mock:requests())
    end)

    it("the C core refuses them too, as the last line of defence", function()
      local core = require("extruct.core")
      for _, bad in ipairs(BAD) do
        for _, field in ipairs({ "token", "base_url", "user_agent" }) do
          local opts = { token = helpers.TOKEN, base_url = fixture.mock.url, user_agent = "agent" }
          opts[field] = opts[field] .. bad .. "x"
          local ok, message = pcall(core.new_client, opts)
          assert.is_false(ok)
          assert.matches("CR, LF or NUL", message, 1, true)
        end
      end
      assert.same({}, fixture.mock:requests())
    end)

    it("in the method or path of client:request: raised at the caller's line, nothing sent", function()
      local cases = {
        { "GET\r\nX-Injected: 1\r\nY:", "/v1/healthcheck" }, { "GET /x HTTP/1.1", "/v1/healthcheck" },
        { "GET\0", "/v1/healthcheck" }, { "", "/v1/healthcheck" }, { 42, "/v1/healthcheck" },
        { "GET", "/v1/healthcheck\r\nX-Injected: 1" }, { "GET", "/v1/health check" },
        { "GET", "/v1/healthcheck\0" }, { "GET", "v1/healthcheck" }, { "GET", false },
      }
      for _, case in ipairs(cases) do
        local ok, message = pcall(function() fixture.client:request(case[1], case[2]) end)
        assert.is_false(ok)
        assert.matches("security_spec%.lua:%d+: extruct%.request: the", message)
      end
      -- the C core refuses a method that would break the request line, too
      local core = require("extruct.core")
      local c = core.new_client{ token = helpers.TOKEN, base_url = fixture.mock.url }
      assert.is_false(pcall(c.request, c, "GET\r\nX-Injected: 1\r\nY:", "/v1/healthcheck"))
      assert.is_false(pcall(c.request, c, "GET\0X", "/v1/healthcheck"))
      c:close()
      assert.same({}, fixture.mock:requests())
      assert.equal("ok", assert(fixture.client:request("GET", "/v1/healthcheck")).status)
    end)

    it("a clean User-Agent is sent as given", function()
      fixture:new_client{ user_agent = "my-app/1.0" }
      assert(fixture.client:get_table("tbl_idle"))
      assert.equal("my-app/1.0", fixture.mock:requests()[1].headers["user-agent"])
    end)
  end)

  describe("plaintext http", function()
    it("is a config error to a host that is not loopback, naming allow_http", function()
      for _, base in ipairs({ "http://api.extruct.ai", "http://example.com:8080/v1", "http://127.0.0.1.example.com",
                              "http://localhost.example.com", "http://127.0.0.1@example.com", "http://10.0.0.1",
                              "http://128.0.0.1", "http://[::2]", "HTTP://api.extruct.ai" }) do
        local c = extruct.new{ retries = 0, token = helpers.TOKEN, base_url = base }
        local value, err = c:get_table("tbl_demo")
        assert.is_nil(value)
        assert.equal("config", err.kind, base)
        assert.matches("allow_http = true", err.message, 1, true)
        assert_no_token(err)
      end
    end)

    it("is accepted for loopback hosts: localhost, 127.0.0.0/8, [::1]", function()
      for _, base in ipairs({ "http://localhost", "http://LOCALHOST:80", "http://127.0.0.1:1", "http://127.255.0.9",
                              "http://[::1]:8080", "http://user:pw@127.0.0.1" }) do
        assert.is_true(url.is_loopback(base), base)
      end
      local via_name = helpers.single_attempt_client(fixture.mock, { base_url = "http://localhost:" .. fixture.mock.port })
      assert(via_name:get_table("tbl_idle"))
      via_name:close()
    end)

    it("to another host is let through by allow_http = true (and then fails only on the network)", function()
      local c = extruct.new{ retries = 0, token = helpers.TOKEN, base_url = "http://extruct-mock.invalid", allow_http = true }
      local _, err = c:get_table("tbl_demo")
      assert.equal("network", err.kind)
      c:close()
    end)

    it("https is accepted to any host", function()
      local c = extruct.new{ retries = 0, token = helpers.TOKEN, base_url = "https://extruct-mock.invalid" }
      local _, err = c:get_table("tbl_demo")
      assert.equal("network", err.kind)
      c:close()
    end)

    it("insecure and allow_http must be booleans", function()
      assert.error_matches(function() extruct.new{ insecure = "yes" } end,
        "extruct.new: option 'insecure' must be a boolean", nil, true)
      assert.error_matches(function() extruct.new{ allow_http = 1 } end,
        "extruct.new: option 'allow_http' must be a boolean", nil, true)
      assert.error_matches(function() extruct.new{ trace = true } end,
        "extruct.new: option 'trace' must be a function(line)", nil, true)
    end)
  end)

  describe("redirects", function()
    it("within the base URL's host keep the Authorization header", function()
      fixture.mock:fault{ path = "/v1/tables/tbl_demo", location = "/v1/tables/tbl_idle" }
      local t = assert(fixture.client:get_table("tbl_demo"))
      assert.equal("tbl_idle", t.id)
      local bearer = "Bearer " .. helpers.TOKEN
      assert.same({ bearer, bearer }, authorizations(fixture.mock))
    end)

    it("to another host name (same server, same port) drop it", function()
      local elsewhere = ("http://localhost:%d/v1/tables/tbl_idle"):format(fixture.mock.port)
      fixture.mock:fault{ path = "/v1/tables/tbl_demo", location = elsewhere }
      local value, err = fixture.client:get_table("tbl_demo")
      assert.is_nil(value)
      assert.equal("auth", err.kind) -- the second request came without credentials
      assert.same({ "Bearer " .. helpers.TOKEN, "-" }, authorizations(fixture.mock))
      assert.equal("/v1/tables/tbl_idle", fixture.mock:requests()[2].path)
      assert(fixture.client:get_table("tbl_idle"))
    end)

    it("to another address and to another port drop it", function()
      for _, host in ipairs({ "127.0.0.2", "127.0.0.1" }) do
        local other = helpers.start_mock({ host = host })
        local ok, problem = pcall(function()
          fixture.mock:reset()
          fixture.mock:fault{ path = "/v1/tables/tbl_demo", location = other.url .. "/v1/tables/tbl_idle" }
          local value, err = fixture.client:get_table("tbl_demo")
          assert.is_nil(value)
          assert.equal("auth", err.kind)
          assert.equal(1, #other:requests())
          assert.is_nil(other:requests()[1].headers.authorization)
          assert.same({ "Bearer " .. helpers.TOKEN }, authorizations(fixture.mock))
        end)
        other:stop()
        assert(ok, problem)
      end
      assert(fixture.client:get_table("tbl_idle"))
    end)

    it("are followed at most 3 times; the 4th is an http error and the client works on", function()
      fixture.mock:fault{ path = "/v1/tables/tbl_demo", location = "/v1/tables/tbl_demo", count = 1000 }
      local value, err = fixture.client:get_table("tbl_demo")
      assert.is_nil(value)
      assert.equal("http", err.kind)
      assert.matches("redirect", err.message)
      -- one request and three redirects (a single attempt: no retry of this kind)
      assert.equal(4, #fixture.mock:requests())
      assert(fixture.client:get_table("tbl_idle"))
    end)
  end)

  describe("TLS", function()
    local tls

    lazy_setup(function()
      tls = start_tls_server(fixture.mock.url)
    end)
    lazy_teardown(function()
      if tls then tls.stop() end
    end)

    it("verifies certificates: a self-signed server is a tls error naming the certificate", function()
      local c = extruct.new{ retries = 0, token = helpers.TOKEN, base_url = tls.url, timeout = 5 }
      local value, err = c:get_table("tbl_tls")
      assert.is_nil(value)
      assert.equal("tls", err.kind)
      assert.is_truthy(table.concat(require("extruct.errors").KINDS, " "):find("tls", 1, true))
      assert.matches("TLS certificate verification failed", err.message, 1, true)
      assert.matches("self%-signed certificate", err.message)
      -- where it went: the URL in err.url and in the message
      assert.equal(tls.url .. "/v1/tables/tbl_tls", err.url)
      assert.matches("GET " .. tls.url .. "/v1/tables/tbl_tls: ", err.message, 1, true)
      assert_no_token(err)
      c:close()
    end)

    it("a redirect to the self-signed server fails the same way, and the same client works on", function()
      fixture.mock:fault{ path = "/v1/tables/tbl_demo", location = tls.url .. "/v1/tables/tbl_tls" }
      local _, err = fixture.client:get_table("tbl_demo")
      assert.equal("tls", err.kind)
      assert(fixture.client:get_table("tbl_idle"))
    end)

    it("insecure = true connects without verifying", function()
      local c = extruct.new{ retries = 0, token = helpers.TOKEN, base_url = tls.url, timeout = 5, insecure = true }
      local t = assert(c:get_table("tbl_tls"))
      assert.equal("tbl_tls", t.id)
      assert.is_true(extruct.is_idle(t))
      c:close()
    end)

    it("ca_file trusts a certificate: then it connects, and the host name is still checked", function()
      local c = extruct.new{ retries = 0, token = helpers.TOKEN, base_url = tls.url, timeout = 5,
              ca_file = tls.dir .. "/cert.pem" }
      local t = assert(c:get_table("tbl_tls"))
      assert.equal("tbl_tls", t.id)
      c:close()
      -- the same certificate names 127.0.0.1 only
      local wrong_name = extruct.new{ retries = 0, token = helpers.TOKEN, base_url = "https://localhost:" .. tls.port,
                                      timeout = 5, ca_file = tls.dir .. "/cert.pem" }
      local value, err = wrong_name:get_table("tbl_tls")
      assert.is_nil(value)
      assert.equal("tls", err.kind)
      assert.matches("localhost", err.message, 1, true)
      wrong_name:close()
    end)

    it("a ca_file that cannot be read is a tls error", function()
      local c = extruct.new{ retries = 0, token = helpers.TOKEN, base_url = tls.url, timeout = 5,
              ca_file = tls.dir .. "/absent.pem" }
      local value, err = c:get_table("tbl_tls")
      assert.is_nil(value)
      assert.equal("tls", err.kind)
      c:close()
    end)

    it("an https client follows redirects within https, never to plaintext http", function()
      local c = extruct.new{ retries = 0, token = helpers.TOKEN, base_url = tls.url, timeout = 5, insecure = true }
      local t = assert(c:get_table("to_https"))
      assert.equal("tbl_tls", t.id)
      local value, err = c:get_table("to_http")
      assert.is_nil(value)
      assert.equal("http", err.kind)
      assert.matches("redirect", err.message, 1, true)
      assert.same({}, fixture.mock:requests()) -- the plaintext server never heard of it
      assert(c:get_table("tbl_tls"))
      c:close()
    end)
  end)
end)
