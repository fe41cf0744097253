-- Every way a server or the network can fail a request, each one staged by
-- a real server on loopback. For each: nil and an error of the right kind,
-- no crash, the token nowhere in the error, and the same client succeeds on
-- its next call.
--
-- Faults are queued for the path of tbl_demo and stay queued (count=1000),
-- so a client that retries still meets the fault on every attempt; the
-- follow-up call asks for tbl_idle, which no fault touches.

local socket = require("socket")
local helpers = require("spec.helpers")

-- One attempt per call: these specs are about what a single transfer does
-- with each fault (retries are retry_spec's subject).
local single_attempt_client = helpers.single_attempt_client

local FAULTY = "/v1/tables/tbl_demo"

--- Asserts a failed call: nil, an error object of `kind`, and no token in
--- anything the error holds. Returns the error.
local function expect_failure(kind, value, err)
  assert.is_nil(value)
  assert.is_true(require("extruct").is_error(err), "not an error object: " .. tostring(err))
  assert.equal(kind, err.kind, tostring(err))
  local listed = false
  for _, known in ipairs(require("extruct.errors").KINDS) do listed = listed or known == kind end
  assert.is_true(listed, kind .. " is not in errors.KINDS")
  assert.is_nil(tostring(err):find(helpers.TOKEN, 1, true))
  for field, v in pairs(err) do
    assert.is_nil(tostring(v):find(helpers.TOKEN, 1, true), field)
  end
  return err
end

--- Asserts the client still works: tbl_idle comes back whole.
local function expect_recovery(client)
  local t, err = client:get_table("tbl_idle")
  assert(t, "the next call failed: " .. tostring(err))
  assert.equal("tbl_idle", t.id)
  assert.equal("idle", t.status.run_status)
end

--- Asserts that `c`, which failed to reach `port`, works once a mock
--- listens there; closes `c`.
local function expect_recovery_once_listening(c, port)
  local late = helpers.start_mock({ port = tonumber(port) })
  local ok, problem = pcall(expect_recovery, c)
  c:close()
  late:stop()
  assert(ok, problem)
end

local function gzip(text)
  local path = os.tmpname()
  helpers.write_file(path, text)
  local out, status = helpers.run("gzip -c -n " .. helpers.shell_quote(path))
  os.remove(path)
  assert.equal(0, status)
  return out
end

describe("faults", function()
  local fixture = helpers.mock_and_client{ single_attempt = true }

  local function fault(params)
    params.path = params.path or FAULTY
    params.count = params.count or 1000
    fixture.mock:fault(params)
  end

  describe("before any answer", function()
    it("connection refused: a network error; the same client works once a server listens there", function()
      local port = helpers.closed_port()
      local c = single_attempt_client({ token = helpers.TOKEN, url = "http://127.0.0.1:" .. port })
      local err = expect_failure("network", c:get_table("tbl_demo"))
      assert.matches("127.0.0.1", err.message, 1, true)
      expect_recovery_once_listening(c, port)
    end)

    it("a host that does not resolve: a network error naming the host, every time", function()
      local c = single_attempt_client({ token = helpers.TOKEN, url = "http://extruct-mock.invalid" }, { allow_http = true })
      for _ = 1, 2 do
        local err = expect_failure("network", c:get_table("tbl_demo"))
        assert.matches("extruct-mock.invalid", err.message, 1, true)
      end
      c:close()
    end)

    it("a redirect to a host that does not resolve: a network error, then the same client works", function()
      fault{ location = "http://extruct-mock.invalid/v1/tables/tbl_idle" }
      local err = expect_failure("network", fixture.client:get_table("tbl_demo"))
      assert.matches("extruct-mock.invalid", err.message, 1, true)
      expect_recovery(fixture.client)
    end)

    it("connect timeout (a listener whose backlog is full): a timeout error; then the client works", function()
      -- A backlog of 0 holds one connection that is never accepted; the
      -- kernel then drops further SYNs, so connecting hangs until the timeout.
      local listener = assert(socket.bind("127.0.0.1", 0, 0))
      local _, port = listener:getsockname()
      local fillers = {}
      for i = 1, 2 do
        fillers[i] = socket.tcp()
        fillers[i]:settimeout(0.2)
        fillers[i]:connect("127.0.0.1", port)
      end
      local c = single_attempt_client({ token = helpers.TOKEN, url = "http://127.0.0.1:" .. port }, { connect_timeout = 0.3 })
      local started = socket.gettime()
      local err = expect_failure("timeout", c:get_table("tbl_demo"))
      assert.is_true(socket.gettime() - started >= 0.25)
      assert.matches("[Cc]onnect", err.message)
      for _, filler in ipairs(fillers) do filler:close() end
      listener:close()
      expect_recovery_once_listening(c, port)
    end)
  end)

  describe("during the body", function()
    it("a server that stalls mid-body: a timeout error after `timeout`; then the client works", function()
      fixture:new_client{ timeout = 0.3 }
      fault{ mode = "stall" }
      local started = socket.gettime()
      local err = expect_failure("timeout", fixture.client:get_table("tbl_demo"))
      assert.is_true(socket.gettime() - started >= 0.25)
      assert.matches("timed out", err.message, 1, true)
      expect_recovery(fixture.client)
    end)

    it("a server that trickles one byte a second: a timeout error; then the client works", function()
      -- (past the first byte: bytes that keep coming do not hold off the timeout)
      fixture:new_client{ timeout = 1.2 }
      fault{ mode = "trickle" }
      local started = socket.gettime()
      local err = expect_failure("timeout", fixture.client:get_table("tbl_demo"))
      assert.is_true(socket.gettime() - started >= 1.1)
      assert.matches("timed out", err.message, 1, true)
      expect_recovery(fixture.client)
    end)

    it("a reset mid-body: a network error; then the client works", function()
      fault{ mode = "reset" }
      local err = expect_failure("network", fixture.client:get_table("tbl_demo"))
      assert.matches("[Rr]eset", err.message)
      expect_recovery(fixture.client)
    end)

    it("a body shorter than its Content-Length: a network error; then the client works", function()
      fault{ mode = "truncate" }
      local err = expect_failure("network", fixture.client:get_table("tbl_demo"))
      assert.matches("bytes remaining", err.message, 1, true)
      expect_recovery(fixture.client)
    end)

    it("a body over max_response_size, announced or chunked: a decode error; then the client works", function()
      fixture:new_client{ max_response_size = 1000 }
      for _, mode in ipairs({ "default", "chunked" }) do
        fixture.mock:reset()
        if mode == "chunked" then fault{ mode = "chunked" } end
        local err = expect_failure("decode", fixture.client:get_table("tbl_demo"))
        assert.matches("max_response_size", err.message, 1, true)
        -- the same client still takes an answer under the cap
        local health = assert(fixture.client:request("GET", "/v1/healthcheck"))
        assert.equal("ok", health.status)
      end
    end)
  end)

  describe("what the body holds", function()
    it("invalid JSON with 200: a decode error; then the client works", function()
      fault{ mode = "invalid_json" }
      local err = expect_failure("decode", fixture.client:get_table("tbl_demo"))
      assert.equal(200, err.status)
      expect_recovery(fixture.client)
    end)

    it("an HTML error page with 200: a decode error showing the page; then the client works", function()
      fault{ mode = "html" }
      local err = expect_failure("decode", fixture.client:get_table("tbl_demo"))
      assert.matches("text/html", err.message, 1, true)
      assert.matches("<html>", err.message, 1, true)
      expect_recovery(fixture.client)
    end)

    it("an HTML error page with 502: a server error; then the client works", function()
      fault{ mode = "html", status = 502 }
      local err = expect_failure("server", fixture.client:get_table("tbl_demo"))
      assert.equal(502, err.status)
      assert.matches("502 Bad Gateway", err.message, 1, true)
      expect_recovery(fixture.client)
    end)

    it("an empty body with 200: a decode error; then the client works", function()
      fault{ mode = "empty" }
      local err = expect_failure("decode", fixture.client:get_table("tbl_demo"))
      assert.equal(200, err.status)
      expect_recovery(fixture.client)
    end)

    it("a corrupt gzip body: a decode error; then the client works", function()
      fault{ body = '{"id": "tbl_demo"}', content_encoding = "gzip" }
      local err = expect_failure("decode", fixture.client:get_table("tbl_demo"))
      assert.matches("[Ee]ncoding", err.message)
      expect_recovery(fixture.client)
    end)
  end)

  it("leave no socket behind: after 3 rounds of every quick fault, as many descriptors as before", function()
    local function open_descriptors()
      local pid = helpers.read_file("/proc/self/stat"):match("^(%d+)")
      local out = helpers.run("ls /proc/" .. pid .. "/fd | wc -l")
      return tonumber(out)
    end
    expect_recovery(fixture.client) -- one kept-alive connection, before and after
    collectgarbage()
    local before = open_descriptors()
    local faults = {
      { mode = "truncate" }, { mode = "reset" }, { mode = "drop" }, { mode = "invalid_json" },
      { mode = "html", status = 502 }, { mode = "empty" }, { body = "x", content_encoding = "gzip" },
      { location = "http://extruct-mock.invalid/" }, { location = FAULTY },
    }
    for _ = 1, 3 do
      for _, params in ipairs(faults) do
        fixture.mock:reset()
        fault(params)
        assert.is_nil((fixture.client:get_table("tbl_demo")))
        expect_recovery(fixture.client)
      end
    end
    collectgarbage()
    -- (no more than before: the connection pool is shared by every client of
    -- the process, and may close a connection of an earlier one meanwhile)
    local after = open_descriptors()
    assert.is_true(after <= before, ("%d descriptors open before, %d after"):format(before, after))
  end)

  describe("transfer forms that must just work", function()
    local function plain_body()
      local _, body = fixture.mock:http("GET", "/v1/tables/tbl_idle", { authorization = "Bearer " .. helpers.TOKEN })
      return body
    end

    it("a chunked body decodes like a plain one", function()
      local expected = assert(fixture.client:get_table("tbl_idle"))
      fault{ path = "/v1/tables/tbl_idle", mode = "chunked", count = 1 }
      local t = fixture.client:request("GET", "/v1/tables/tbl_idle")
      local response = fixture.client.last_response
      assert.is_table(t)
      assert.equal("chunked", response.headers["transfer-encoding"])
      assert.is_nil(response.headers["content-length"])
      assert.same(expected.status, t.status)
      assert.equal(#expected.columns, #t.columns)
      assert.equal(expected.name, t.name)
    end)

    it("a gzip-encoded body is inflated by libcurl", function()
      local text = plain_body()
      local compressed = gzip(text)
      assert.equal("\31\139", compressed:sub(1, 2))
      fault{ path = "/v1/tables/tbl_idle", body = compressed, content_encoding = "gzip", count = 1 }
      local t, err = fixture.client:request("GET", "/v1/tables/tbl_idle")
      local response = fixture.client.last_response
      assert.is_table(t, tostring(err))
      assert.equal("gzip", response.headers["content-encoding"])
      assert.equal("tbl_idle", t.id)
      assert.equal(#require("cjson").decode(text).columns, #t.columns)
      -- the client asked for it
      local log = fixture.mock:requests()
      assert.matches("gzip", log[#log].headers["accept-encoding"], 1, true)
      expect_recovery(fixture.client)
    end)
  end)
end)
