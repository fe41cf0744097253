-- Specs for the mock server itself: the command (bin/extruct-mock,
-- extruct.mock.command), HTTP on the wire (extruct.mock.server and .http),
-- faults (extruct.mock.faults), the control API (extruct.mock.control) and
-- the server embedded in a Lua program (extruct.mock.new). The offline
-- Extruct it serves has specs of its own (mock_tables_spec and the others).
-- The server runs as a subprocess, started the way the client's specs start
-- it; the specs talk to it with luasocket (socket.http and raw sockets, so
-- the exact bytes on the wire can be checked) and decode with lua-cjson.

local socket = require("socket")
local http = require("socket.http")
local cjson = require("cjson")
local helpers = require("spec.helpers")

local LUA = os.getenv("LUA") or "lua5.4"
local TOKEN = "mock-token" -- the default of --token
local IO_TIMEOUT = 5       -- every socket operation of a spec gives up after this
http.TIMEOUT = IO_TIMEOUT

local COLUMN_KINDS = {
  "input", "agent", "criterion_grade", "company_people_finder", "discovery_scores",
  "company_name", "company_website", "company_profile", "email_finder", "phone_finder",
  "reverse_email_lookup",
}

local run = helpers.run
local url_encode = helpers.url_encode
local eventually = helpers.eventually
local refuses_connections = helpers.refuses_connections

--- Starts bin/extruct-mock on a free port, with its default token unless told.
local function start_server(opts)
  opts = opts or {}
  opts.token = opts.token or TOKEN
  return helpers.start_mock(opts)
end

---------------------------------------------------------------------------
-- Raw HTTP over one TCP connection
---------------------------------------------------------------------------

local Conn = {}
Conn.__index = Conn

local function connect(port)
  local sock = socket.tcp()
  sock:settimeout(IO_TIMEOUT)
  assert(sock:connect("127.0.0.1", port))
  return setmetatable({ sock = sock }, Conn)
end

function Conn:send(data)
  assert(self.sock:send(data))
end

--- Sends a request; headers is a list of "Name: value" lines.
function Conn:request(method, target, headers, body)
  local lines = { ("%s %s HTTP/1.1"):format(method, target), "Host: 127.0.0.1" }
  for _, header in ipairs(headers or {}) do lines[#lines + 1] = header end
  if body then lines[#lines + 1] = "Content-Length: " .. #body end
  self:send(table.concat(lines, "\r\n") .. "\r\n\r\n" .. (body or ""))
end

--- Reads one response: { status, headers (lower-case names), body, raw_head },
--- or nil, the error and what the partial body was.
function Conn:response()
  local line, err = self.sock:receive("*l")
  if not line then return nil, err, "" end
  local response = { status = tonumber(line:match("^HTTP/1%.1 (%d%d%d) ")), headers = {}, head = line }
  while true do
    line, err = self.sock:receive("*l")
    if not line then return nil, err, "" end
    if line == "" then break end
    response.head = response.head .. "\n" .. line
    local name, value = line:match("^([^:]+):%s*(.-)%s*$")
    response.headers[name:lower()] = value
  end
  local length = tonumber(response.headers["content-length"])
  if not length then return nil, "no Content-Length", "" end
  if length == 0 then
    response.body = ""
  else
    local body, partial
    body, err, partial = self.sock:receive(length)
    if not body then return nil, err, partial end
    response.body = body
  end
  return response
end

--- Whether the server closed this connection (waits up to IO_TIMEOUT).
function Conn:closed_by_server()
  local data, err, partial = self.sock:receive(1)
  return data == nil and err == "closed" and partial == ""
end

function Conn:close() self.sock:close() end

--- One request on a fresh connection; returns the response.
local function fetch(port, method, target, headers, body)
  local conn = connect(port)
  conn:request(method, target, headers, body)
  local response, err = conn:response()
  conn:close()
  return assert(response, err)
end

local AUTH = "Authorization: Bearer " .. TOKEN

local function get_table(port, id, headers)
  local response = fetch(port, "GET", "/v1/tables/" .. url_encode(id), headers or { AUTH })
  if response.headers["content-type"] == "application/json" then
    response.json = cjson.decode(response.body)
  end
  return response
end

--- The consistency rules every status block follows.
local function check_counters(status)
  assert.equal(status.num_input_columns + status.num_output_columns, status.num_columns)
  local total = status.num_rows * status.num_output_columns
  assert.is_true(status.num_cells_completed >= 0 and status.num_cells_in_progress >= 0)
  assert.is_true(status.num_cells_completed + status.num_cells_in_progress <= total)
  if status.run_status == "idle" then
    assert.equal(0, status.num_cells_in_progress)
    assert.equal(total, status.num_cells_completed)
  else
    assert.equal("running", status.run_status)
    assert.is_true(status.num_cells_in_progress > 0)
  end
end

---------------------------------------------------------------------------

describe("extruct-mock (subprocess)", function()
  local server

  lazy_setup(function() server = start_server() end)
  lazy_teardown(function() server:stop() end)
  before_each(function() server:reset() end)

  describe("command line", function()
    it("prints exactly the listening line on stdout", function()
      assert.matches("^extruct%-mock listening on http://127%.0%.0%.1:%d+$", server.banner)
      assert.is_true(server.port > 0)
    end)

    it("--help prints the usage (extruct.mock.USAGE) and exits 0", function()
      local out, status = run(("%s bin/extruct-mock --help 2>/dev/null"):format(LUA))
      assert.equal(0, status)
      assert.equal(require("extruct.mock").USAGE, out)
      for _, text in ipairs({ "--host", "--port", "--token", "--polls", "--cells-per-poll", "--plan", "--quiet",
                              "--help", "/_mock/advance", "POST /v1/tables/{id}/run", "GET /v1/user", '"fail"',
                              "stuck_failed_new", "GET /v1/billing", "/v1/companies/search", "/v1/discovery_tasks",
                              "/v1/deep_research_tasks", '"exhaust"', "raw newlines", "/_mock/account",
                              "/_mock/quirks", "/_mock/discovery_tasks", "/_mock/deep_research_tasks",
                              "docs/mock.md" }) do
        assert.matches(text, out, 1, true)
      end
    end)

    it("docs/mock.md quotes the usage text as it is", function()
      local usage = require("extruct.mock").USAGE
      local docs = helpers.read_file("docs/mock.md")
      local begin_mark = "<!%-%- extruct%-mock %-%-help: begin %-%->\n```text\n"
      local end_mark = "```\n<!%-%- extruct%-mock %-%-help: end %-%->"
      local before, quoted, after = docs:match("^(.-" .. begin_mark .. ")(.-)(" .. end_mark .. ".*)$")
      assert.is_string(quoted, "docs/mock.md has no usage block")
      if quoted ~= usage and os.getenv("EXTRUCT_UPDATE_DOCS") == "1" then
        helpers.write_file("docs/mock.md", before .. usage .. after)
        quoted = usage
      end
      assert.equal(usage, quoted, "docs/mock.md quotes an old usage text: run this spec with EXTRUCT_UPDATE_DOCS=1")
    end)

    it("a bad option prints the usage on stderr and exits 2", function()
      for _, args in ipairs({ "--bogus", "--port", "--port abc", "--port 70000", "--polls -1", "--token ''",
                              "--cells-per-poll=0", "--cells-per-poll=-1", "--cells-per-poll many",
                              "--cells-per-poll=" }) do
        local out, status = run(("%s bin/extruct-mock %s 2>/dev/null"):format(LUA, args))
        assert.equal(2, status, args)
        assert.equal("", out, args)
        local err = run(("%s bin/extruct-mock %s 2>&1 >/dev/null"):format(LUA, args))
        assert.matches("usage: extruct-mock", err, 1, true)
        if args:find("cells-per-poll", 1, true) then
          assert.matches("--cells-per-poll needs a positive integer", err, 1, true)
        end
      end
    end)

    it("--token and --polls set the bearer token and tbl_demo's polls", function()
      local other = start_server{ token = "other-secret", polls = 1 }
      local ok, err = pcall(function()
        assert.equal(401, get_table(other.port, "tbl_demo").status)
        local t = get_table(other.port, "tbl_demo", { "Authorization: Bearer other-secret" })
        assert.equal(200, t.status)
        assert.equal("idle", t.json.status.run_status)
      end)
      other:stop()
      assert(ok, err)
    end)
  end)

  describe("tables", function()
    it("serves tbl_demo in the schema's shape, one column of every kind", function()
      local response = get_table(server.port, "tbl_demo")
      assert.equal(200, response.status)
      assert.equal("application/json", response.headers["content-type"])
      assert.equal(#response.body, tonumber(response.headers["content-length"]))
      local t = response.json
      assert.equal("tbl_demo", t.id)
      assert.equal("company", t.kind)
      assert.matches("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d[%.%d]*Z$", t.created_at)
      assert.is_string(t.name)
      assert.is_string(t.description)
      assert.is_table(t.tags)
      assert.is_string(t.owner.id)
      assert.is_string(t.owner.email)
      assert.same({ { table_id = "tbl_people", relationship_type = "company_people" } }, t.child_relationships)
      assert.same({}, t.parent_relationships)

      local seen = {}
      for _, column in ipairs(t.columns) do
        assert.is_string(column.id)
        assert.matches("Z$", column.created_at)
        assert.is_string(column.config.name)
        assert.is_string(column.config.key)
        assert.is_nil(seen[column.config.kind], "two columns of kind " .. column.config.kind)
        seen[column.config.kind] = column.config
      end
      assert.equal(#COLUMN_KINDS, #t.columns)
      for _, kind in ipairs(COLUMN_KINDS) do assert.is_table(seen[kind], kind) end

      local agent = seen.agent.value
      assert.is_string(agent.agent_type)
      assert.is_string(agent.prompt)
      assert.is_string(agent.output_format)
      assert.is_table(agent.labels)
      assert.is_table(agent.output_schema)
      assert.is_table(agent.extra_dependencies)
      assert.is_string(seen.criterion_grade.value.criterion)
      assert.same({ "CEO", "Head of Sales" }, seen.company_people_finder.value.roles)
      assert.equal("research_pro", seen.company_people_finder.value.provider)
      assert.equal(5, seen.company_people_finder.value.max_results)
      for key, criterion in pairs(seen.discovery_scores.criteria) do
        assert.equal(key, criterion.key)
        assert.is_string(criterion.name)
        assert.is_true(#criterion.criterion >= 10)
      end
      assert.equal(seen.email_finder.key, seen.reverse_email_lookup.email_column_key)
    end)

    it("carries fields the schema does not name, and integers without a decimal point", function()
      local response = get_table(server.port, "tbl_demo")
      assert.same({ 1, 2.5, cjson.null, true, "s" }, response.json.x_future_field.nested)
      assert.equal(0, response.json.status.num_cells_failed)
      assert.matches('"x_future_field":{"nested":[1,2.5,null,true,"s"]}', response.body, 1, true)
      for _, counter in ipairs({ "num_rows", "num_output_columns", "num_input_columns", "num_cells_completed",
                                 "num_cells_in_progress", "num_columns", "num_cells_failed" }) do
        assert.matches('"' .. counter .. '":%d+[,}]', response.body)
      end
      assert.matches('"max_results":5,', response.body, 1, true)
      -- an empty array stays an array
      assert.matches('"labels":[]', response.body, 1, true)
      assert.matches('"parent_relationships":[]', response.body, 1, true)
    end)

    it("escapes what JSON needs escaped and passes UTF-8 through", function()
      local response = get_table(server.port, "tbl_demo")
      assert.matches("Démo — B2B", response.body, 1, true)
      assert.matches('\\"hi\\"', response.body, 1, true)
      assert.matches("\\n", response.body, 1, true)
      assert.matches("C:\\\\extruct", response.body, 1, true)
      assert.is_nil(response.body:find("[%c]"))
      local description = response.json.description
      assert.matches('"hi"', description, 1, true)
      assert.matches("\n", description, 1, true)
      assert.matches("\\", description, 1, true)
      assert.equal("Démo — B2B companies", response.json.name)
    end)

    it("serves tbl_idle (nulls, generic) and tbl_people (a parent relationship)", function()
      local idle = get_table(server.port, "tbl_idle").json
      assert.equal(cjson.null, idle.description)
      assert.equal(cjson.null, idle.tags)
      assert.equal("generic", idle.kind)
      assert.equal("idle", idle.status.run_status)
      check_counters(idle.status)
      local people = get_table(server.port, "tbl_people").json
      assert.equal("people", people.kind)
      assert.equal("idle", people.status.run_status)
      assert.same({ { table_id = "tbl_demo", relationship_type = "company_people" } }, people.parent_relationships)
      assert.same({}, people.child_relationships)
    end)

    it("runs tbl_demo for --polls GETs (default 3), counters consistent throughout", function()
      local previous = -1
      for poll = 1, 4 do
        local status = get_table(server.port, "tbl_demo").json.status
        check_counters(status)
        assert.equal(poll < 3 and "running" or "idle", status.run_status, "poll " .. poll)
        assert.is_true(status.num_cells_completed > previous or poll == 4, "poll " .. poll)
        previous = status.num_cells_completed
      end
    end)

    it("creates tables from the template; the answer does not count as a poll", function()
      local created = server:add_table{ id = "tbl_new", polls = 2, kind = "people", rows = 4 }
      assert.equal("tbl_new", created.id)
      assert.equal("people", created.kind)
      assert.equal(4, created.status.num_rows)
      assert.equal("running", created.status.run_status)
      assert.equal(0, created.status.num_cells_completed)
      check_counters(created.status)
      local first = get_table(server.port, "tbl_new").json.status
      assert.equal("running", first.run_status)
      assert.is_true(first.num_cells_completed > 0)
      assert.equal("idle", get_table(server.port, "tbl_new").json.status.run_status)

      server:add_table{ id = "tbl_zero", polls = 0 }
      local zero = get_table(server.port, "tbl_zero").json
      assert.equal("idle", zero.status.run_status)
      assert.equal("company", zero.kind)
      check_counters(zero.status)

      -- replacing a table starts its run over
      server:add_table{ id = "tbl_new", polls = 2 }
      assert.equal("running", get_table(server.port, "tbl_new").json.status.run_status)
    end)

    it("rejects bad table parameters with 400", function()
      for _, params in ipairs({ { polls = 1 }, { id = "x", polls = -1 }, { id = "x", kind = "nope" },
                                { id = "x", rows = "many" }, { id = "x", polls = 2, rows = 0 }, { id = "x", pols = 1 } }) do
        local status, answer = server:call("POST", "/_mock/tables", params)
        assert.equal(400, status)
        assert.is_string(answer.detail)
      end
    end)
  end)

  describe("errors", function()
    it("401 without the right bearer token, and no poll is counted", function()
      for _, headers in ipairs({ {}, { "Authorization: Bearer wrong" }, { "Authorization: " .. TOKEN },
                                 { "Authorization: Basic " .. TOKEN }, { "Authorization: Bearer  " .. TOKEN } }) do
        local response = get_table(server.port, "tbl_demo", headers)
        assert.equal(401, response.status)
        assert.equal("Bearer", response.headers["www-authenticate"])
        assert.same({ detail = "Could not validate credentials" }, response.json)
      end
      -- as in FastAPI, the scheme's case does not matter
      assert.equal(200, get_table(server.port, "tbl_idle", { "Authorization: bearer " .. TOKEN }).status)
      get_table(server.port, "tbl_demo")
      get_table(server.port, "tbl_demo")
      assert.equal("idle", get_table(server.port, "tbl_demo").json.status.run_status)
    end)

    it("404 for an unknown table and for unknown paths, 405 for a wrong method", function()
      local response = get_table(server.port, "tbl_nope")
      assert.equal(404, response.status)
      assert.same({ detail = "Table not found" }, response.json)
      for _, target in ipairs({ "/", "/v1", "/v1/table", "/v1/tables/", "/v1/tables/a/b",
                                "/v1/tables/tbl_demo/", "/v1/tables//data", "/v2/tables/tbl_demo", "/_mock/nothing" }) do
        response = fetch(server.port, "GET", target, { AUTH })
        assert.equal(404, response.status, target)
        assert.same({ detail = "Not Found" }, cjson.decode(response.body), target)
      end
      for _, case in ipairs({ { "POST", "/v1/tables/tbl_demo" }, { "DELETE", "/v1/healthcheck" },
                              { "GET", "/_mock/reset" }, { "POST", "/_mock/stats" } }) do
        response = fetch(server.port, case[1], case[2], { AUTH })
        assert.equal(405, response.status, case[2])
        assert.same({ detail = "Method Not Allowed" }, cjson.decode(response.body))
      end
    end)

    it("healthcheck needs no token", function()
      local response = fetch(server.port, "GET", "/v1/healthcheck")
      assert.equal(200, response.status)
      assert.equal('{"status":"ok"}', response.body)
    end)

    it("decodes the path per segment: %2F names one table id", function()
      local id = "a/b?c#d e"
      server:add_table{ id = id, polls = 0 }
      local response = fetch(server.port, "GET", "/v1/tables/a%2Fb%3Fc%23d%20e", { AUTH })
      assert.equal(200, response.status)
      assert.equal(id, cjson.decode(response.body).id)
      assert.equal(404, fetch(server.port, "GET", "/v1/tables/a/b%3Fc%23d%20e", { AUTH }).status)
      assert.equal(200, fetch(server.port, "GET", "/v1/tables/tbl%5Fidle?unused=1", { AUTH }).status)
      local log = server:requests()
      assert.equal("/v1/tables/a%2Fb%3Fc%23d%20e", log[1].target)
      assert.equal("/v1/tables/" .. id, log[1].path)
      assert.equal("", log[1].query)
      assert.equal("/v1/tables/tbl_idle", log[3].path)
      assert.equal("unused=1", log[3].query)
    end)

    it("a malformed request gets 400 and the connection closed", function()
      for _, raw in ipairs({ "GARBAGE\r\n\r\n", "GET /x\r\n\r\n", "GET x HTTP/1.1\r\n\r\n",
                             "GET / HTTP/1.1\r\nNo colon here\r\n\r\n",
                             "GET / HTTP/1.1\r\nContent-Length: 12x\r\n\r\n",
                             "GET / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n" }) do
        local conn = connect(server.port)
        conn:send(raw)
        local response = assert(conn:response())
        assert.equal(400, response.status, raw)
        assert.equal("close", response.headers.connection)
        assert.is_true(conn:closed_by_server(), raw)
        conn:close()
      end
    end)

    it("refuses at once bytes that cannot begin a request, as a TLS handshake sent to it", function()
      -- (the start of a ClientHello: no line end comes, so a server waiting
      -- for one would keep an https client hanging until its timeout)
      for _, raw in ipairs({ "\22\3\1\0\200\1\0\0\124\3\3", "GE(T" }) do
        local conn = connect(server.port)
        conn:send(raw)
        local response = assert(conn:response())
        assert.equal(400, response.status, raw)
        assert.same({ detail = "Malformed request line" }, cjson.decode(response.body))
        assert.is_true(conn:closed_by_server(), raw)
        conn:close()
      end
      -- a method that is still arriving is waited for
      local conn = connect(server.port)
      conn:send("GE")
      socket.sleep(0.05)
      conn:send("T /v1/healthcheck HTTP/1.1\r\nHost: x\r\n\r\n")
      assert.equal(200, assert(conn:response()).status)
      conn:close()
    end)

    it("bounds the header and the body size", function()
      local conn = connect(server.port)
      conn:send("GET /v1/healthcheck HTTP/1.1\r\nX-Big: " .. ("x"):rep(70 * 1024) .. "\r\n\r\n")
      assert.equal(431, assert(conn:response()).status)
      conn:close()
      conn = connect(server.port)
      conn:send("POST /v1/healthcheck HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n")
      assert.equal(413, assert(conn:response()).status)
      assert.is_true(conn:closed_by_server())
      conn:close()
    end)
  end)

  describe("faults", function()
    it("a status alone answers its reason phrase as the detail, with Retry-After verbatim", function()
      local when = "Wed, 21 Oct 2015 07:28:00 GMT"
      server:fault{ status = 503, retry_after = when }
      local response = get_table(server.port, "tbl_demo")
      assert.equal(503, response.status)
      assert.equal(when, response.headers["retry-after"])
      assert.same({ detail = "Service Unavailable" }, response.json)
      assert.equal(200, get_table(server.port, "tbl_demo").status)
    end)

    it("detail, body and content_type shape the answer", function()
      server:fault{ status = 429, detail = "slow down" }
      server:fault{ status = 402, body = '{"detail":{"error":"insufficient_credits"}}' }
      server:fault{ status = 500, body = "oops", content_type = "text/plain" }
      local response = get_table(server.port, "tbl_demo")
      assert.equal(429, response.status)
      assert.same({ detail = "slow down" }, response.json)
      response = get_table(server.port, "tbl_demo")
      assert.equal(402, response.status)
      assert.equal('{"detail":{"error":"insufficient_credits"}}', response.body)
      response = get_table(server.port, "tbl_demo")
      assert.equal(500, response.status)
      assert.equal("text/plain", response.headers["content-type"])
      assert.equal("oops", response.body)
    end)

    it("comes before the auth check", function()
      server:fault{ status = 500 }
      local response = get_table(server.port, "tbl_demo", {})
      assert.equal(500, response.status)
      assert.same({ detail = "Internal Server Error" }, response.json)
    end)

    it("truncate: the full Content-Length announced, half the body sent, the connection closed", function()
      local whole = get_table(server.port, "tbl_idle").body
      server:fault{ mode = "truncate" }
      local conn = connect(server.port)
      conn:request("GET", "/v1/tables/tbl_idle", { AUTH })
      local response, err, partial = conn:response()
      conn:close()
      assert.is_nil(response)
      assert.equal("closed", err)
      assert.equal(whole:sub(1, math.floor(#whole / 2)), partial)
    end)

    it("invalid_json: a 200 application/json answer that does not parse", function()
      server:fault{ mode = "invalid_json" }
      local response = fetch(server.port, "GET", "/v1/tables/tbl_demo", { AUTH })
      assert.equal(200, response.status)
      assert.equal("application/json", response.headers["content-type"])
      assert.is_false(pcall(cjson.decode, response.body))
    end)

    it("html: a proxy's error page", function()
      server:fault{ mode = "html", status = 502 }
      local response = fetch(server.port, "GET", "/v1/tables/tbl_demo", { AUTH })
      assert.equal(502, response.status)
      assert.equal("text/html", response.headers["content-type"])
      assert.matches("^<html>", response.body)
      assert.matches("502 Bad Gateway", response.body, 1, true)
      server:fault{ mode = "html" }
      assert.equal(200, fetch(server.port, "GET", "/v1/tables/tbl_demo", { AUTH }).status)
    end)

    it("drop: the connection closes with nothing sent", function()
      server:fault{ mode = "drop" }
      local conn = connect(server.port)
      conn:request("GET", "/v1/tables/tbl_demo", { AUTH })
      assert.is_true(conn:closed_by_server())
      conn:close()
    end)

    it("empty: Content-Length 0", function()
      server:fault{ mode = "empty" }
      local response = fetch(server.port, "GET", "/v1/tables/tbl_demo", { AUTH })
      assert.equal(200, response.status)
      assert.equal("0", response.headers["content-length"])
      assert.equal("", response.body)
    end)

    --- The head of a response read raw: status line and headers, and the
    --- connection positioned at the start of the body.
    local function raw_head(conn)
      local head = {}
      repeat
        local line = assert(conn.sock:receive("*l"))
        head[#head + 1] = line
      until line == ""
      return table.concat(head, "\n")
    end

    it("stall: half the body of the announced length, then silence with the connection open", function()
      local whole = get_table(server.port, "tbl_idle").body
      server:fault{ mode = "stall" }
      local conn = connect(server.port)
      conn:request("GET", "/v1/tables/tbl_idle", { AUTH })
      assert.matches("Content-Length: " .. #whole, raw_head(conn), 1, true)
      conn.sock:settimeout(0.3)
      local data, err, partial = conn.sock:receive(#whole)
      conn:close()
      assert.is_nil(data)
      assert.equal("timeout", err)
      assert.equal(whole:sub(1, math.floor(#whole / 2)), partial)
      assert.equal(200, get_table(server.port, "tbl_idle").status) -- the others are served meanwhile
    end)

    it("reset: half the body, then the connection torn down", function()
      local whole = get_table(server.port, "tbl_idle").body
      server:fault{ mode = "reset" }
      local conn = connect(server.port)
      conn:request("GET", "/v1/tables/tbl_idle", { AUTH })
      raw_head(conn)
      local data, err, partial = conn.sock:receive(#whole)
      conn:close()
      assert.is_nil(data)
      assert.is_not.equal("timeout", err)
      assert.is_true(#partial <= math.floor(#whole / 2))
    end)

    it("trickle: the body one byte a second", function()
      server:fault{ mode = "trickle" }
      local conn = connect(server.port)
      conn:request("GET", "/v1/tables/tbl_idle", { AUTH })
      raw_head(conn)
      -- the head at once, the body's first byte a second later: none 0.3 s on
      conn.sock:settimeout(0.3)
      local byte, err = conn.sock:receive(1)
      conn:close()
      assert.is_nil(byte)
      assert.equal("timeout", err)
    end)

    it("chunked: the same body with Transfer-Encoding: chunked, in several chunks", function()
      local whole = get_table(server.port, "tbl_idle").body
      server:fault{ mode = "chunked" }
      local conn = connect(server.port)
      conn:request("GET", "/v1/tables/tbl_idle", { AUTH })
      local head = raw_head(conn)
      assert.matches("Transfer-Encoding: chunked", head, 1, true)
      assert.is_nil(head:find("Content-Length", 1, true))
      local parts = {}
      while true do
        local size = tonumber(assert(conn.sock:receive("*l")), 16)
        if size == 0 then break end
        parts[#parts + 1] = assert(conn.sock:receive(size))
        assert.equal("", conn.sock:receive("*l"))
      end
      assert.equal("", conn.sock:receive("*l"))
      conn:close()
      assert.is_true(#parts > 1)
      assert.equal(whole, table.concat(parts))
    end)

    it("location and content_encoding: a redirect, a Content-Encoding header", function()
      server:fault{ location = "http://127.0.0.1:1/elsewhere" }
      local response = fetch(server.port, "GET", "/v1/tables/tbl_demo", { AUTH })
      assert.equal(302, response.status)
      assert.equal("http://127.0.0.1:1/elsewhere", response.headers.location)
      server:fault{ location = "/v1/tables/tbl_idle", status = 307 }
      response = fetch(server.port, "GET", "/v1/tables/tbl_demo", { AUTH })
      assert.equal(307, response.status)
      assert.equal("/v1/tables/tbl_idle", response.headers.location)
      server:fault{ body = "xyz", content_encoding = "gzip" }
      response = fetch(server.port, "GET", "/v1/tables/tbl_demo", { AUTH })
      assert.equal("gzip", response.headers["content-encoding"])
      assert.equal("xyz", response.body)
    end)

    it("are consumed first in, first out, each `count` times", function()
      server:fault{ status = 500, count = 2 }
      server:fault{ status = 503 }
      local seen = {}
      for i = 1, 4 do seen[i] = get_table(server.port, "tbl_idle").status end
      assert.same({ 500, 500, 503, 200 }, seen)
    end)

    it("apply only under their path; the control API never sees them", function()
      server:fault{ status = 500, path = "/v1/healthcheck" }
      server:fault{ status = 502 }
      assert.equal(200, (server:call("GET", "/_mock/stats")))
      assert.equal(502, get_table(server.port, "tbl_idle").status) -- skips the first, takes the second
      assert.equal(200, get_table(server.port, "tbl_idle").status)
      assert.equal(500, fetch(server.port, "GET", "/v1/healthcheck").status)
      assert.equal(200, fetch(server.port, "GET", "/v1/healthcheck").status)
    end)

    it("a delay holds up only its own connection", function()
      server:fault{ delay = 0.8, path = "/v1/tables/tbl_idle" }
      local started = socket.gettime()
      local slow = connect(server.port)
      slow:request("GET", "/v1/tables/tbl_idle", { AUTH })
      -- a second connection is answered while the first one waits
      socket.sleep(0.1)
      local quick = fetch(server.port, "GET", "/v1/healthcheck")
      local quick_elapsed = socket.gettime() - started
      assert.equal(200, quick.status)
      assert.is_true(quick_elapsed < 0.6, "the other connection waited " .. quick_elapsed .. " s")
      local response = assert(slow:response())
      local slow_elapsed = socket.gettime() - started
      slow:close()
      assert.equal(200, response.status) -- a delay alone answers normally
      assert.equal("tbl_idle", cjson.decode(response.body).id)
      assert.is_true(slow_elapsed >= 0.75 and slow_elapsed < 3, "the delayed answer came after " .. slow_elapsed .. " s")
    end)

    it("rejects bad fault parameters with 400", function()
      for _, params in ipairs({ { mode = "bogus" }, { count = 0 }, { status = 99 }, { status = "abc" },
                                { delay = "-1" }, { delay = "soon" }, { path = "v1" }, { colour = "red" },
                                { retry_after = "1\r\nX-Evil: 1" }, { location = "/x\r\nX-Evil: 1" },
                                { content_encoding = "gzip\nX-Evil: 1" } }) do
        local status, answer = server:call("POST", "/_mock/faults", params)
        assert.equal(400, status)
        assert.is_string(answer.detail)
      end
      assert.equal(200, get_table(server.port, "tbl_idle").status)
    end)
  end)

  describe("connections", function()
    it("keep-alive: two requests on one connection count as one connection", function()
      local conn = connect(server.port)
      conn:request("GET", "/v1/tables/tbl_idle", { AUTH })
      assert.equal(200, assert(conn:response()).status)
      conn:request("GET", "/v1/healthcheck")
      local second = assert(conn:response())
      assert.equal(200, second.status)
      assert.is_nil(second.headers.connection)
      conn:close()
      local stats = server:stats()
      assert.equal(1, stats.connections)
      assert.equal(2, stats.requests)
      local log = server:requests()
      assert.equal(log[1].connection, log[2].connection)
    end)

    it("answers pipelined requests in order", function()
      local conn = connect(server.port)
      conn:send("GET /v1/tables/tbl_idle HTTP/1.1\r\n" .. AUTH .. "\r\n\r\n"
        .. "GET /v1/tables/tbl_people HTTP/1.1\r\n" .. AUTH .. "\r\n\r\n")
      assert.equal("tbl_idle", cjson.decode(assert(conn:response()).body).id)
      assert.equal("tbl_people", cjson.decode(assert(conn:response()).body).id)
      conn:close()
    end)

    it("honours Connection: close, and HTTP/1.0's default", function()
      local conn = connect(server.port)
      conn:request("GET", "/v1/healthcheck", { "Connection: close" })
      assert.equal("close", assert(conn:response()).headers.connection)
      assert.is_true(conn:closed_by_server())
      conn:close()
      conn = connect(server.port)
      conn:send("GET /v1/healthcheck HTTP/1.0\r\n\r\n")
      assert.equal("close", assert(conn:response()).headers.connection)
      assert.is_true(conn:closed_by_server())
      conn:close()
    end)

    it("reads bodies by Content-Length, chunked, and after 100 Continue", function()
      local conn = connect(server.port)
      conn:request("POST", "/v1/echo", {}, "plain body")
      assert.equal(404, assert(conn:response()).status)
      conn:send("POST /v1/echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        .. "5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nX-Trailer: t\r\n\r\n")
      assert.equal(404, assert(conn:response()).status)
      conn:send("POST /v1/echo HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
      assert.equal("HTTP/1.1 100 Continue", conn.sock:receive("*l"))
      assert.equal("", conn.sock:receive("*l"))
      conn:send("late")
      assert.equal(404, assert(conn:response()).status)
      conn:close()
      local log = server:requests()
      assert.equal("plain body", log[1].body)
      assert.equal("hello, world", log[2].body)
      assert.equal("late", log[3].body)
    end)
  end)

  describe("control API", function()
    it("logs every API request, undecoded target and decoded path, headers lower-cased", function()
      local conn = connect(server.port)
      conn:request("GET", "/v1/tables/tbl%5Fdemo?a=1&b=%20", { AUTH, "X-Custom-Header: Some Value" })
      assert(conn:response())
      conn:request("POST", "/v1/tables", { "Content-Type: application/json" }, '{"name":"x"}')
      assert(conn:response())
      conn:close()
      fetch(server.port, "GET", "/v1/healthcheck")
      local log = server:requests()
      assert.equal(3, #log)
      local first = log[1]
      assert.equal("GET", first.method)
      assert.equal("/v1/tables/tbl%5Fdemo?a=1&b=%20", first.target)
      assert.equal("/v1/tables/tbl_demo", first.path)
      assert.equal("a=1&b=%20", first.query)
      assert.equal("Bearer " .. TOKEN, first.headers.authorization)
      assert.equal("Some Value", first.headers["x-custom-header"])
      assert.equal("127.0.0.1", first.headers.host)
      assert.equal("", first.body)
      assert.equal(math.floor(first.connection), first.connection)
      assert.equal("POST", log[2].method)
      assert.equal('{"name":"x"}', log[2].body)
      assert.equal(first.connection, log[2].connection)
      assert.is_true(log[3].connection > first.connection)
      local stats = server:stats()
      assert.equal(2, stats.connections)
      assert.equal(3, stats.requests)
    end)

    it("reset restores the fixtures and clears polls, faults, the log and the counters", function()
      server:add_table{ id = "tbl_demo", polls = 0, kind = "generic" }
      server:add_table{ id = "tbl_extra", polls = 0 }
      server:fault{ status = 500, count = 5 }
      get_table(server.port, "tbl_idle")
      server:reset()
      assert.same({}, server:requests())
      assert.same({ connections = 0, requests = 0 }, { connections = server:stats().connections,
                                                        requests = server:stats().requests })
      local demo = get_table(server.port, "tbl_demo")
      assert.equal(200, demo.status) -- no fault left
      assert.equal("company", demo.json.kind)
      assert.equal("running", demo.json.status.run_status) -- polls back to --polls, counter cleared
      assert.equal(404, get_table(server.port, "tbl_extra").status)
    end)
  end)

  it("shuts down on POST /_mock/shutdown", function()
    local other = start_server()
    local status, answer = other:call("POST", "/_mock/shutdown")
    assert.equal(200, status)
    assert.same({ ok = true }, answer)
    local gone = eventually(3, function() return refuses_connections(other.port) end)
    other:stop()
    assert.is_true(gone)
  end)
end)

---------------------------------------------------------------------------

describe("extruct.mock (in process)", function()
  local mock = require("extruct.mock")

  describe("the embedded server", function()
    it("validates its options", function()
      assert.error_matches(function() mock.new{ cells_per_poll = 0 } end,
        "extruct.mock.new: bad cells_per_poll (a whole number >= 1)", nil, true)
      assert.error_matches(function() mock.new{ cells_per_poll = 1.5 } end,
        "extruct.mock.new: bad cells_per_poll (a whole number >= 1)", nil, true)
      assert.error_matches(function() mock.new{ prot = 1 } end, "extruct.mock.new: unknown option 'prot'", nil, true)
      assert.error_matches(function() mock.new{ port = "80" } end, "extruct.mock.new: option 'port' must be a number", nil, true)
      assert.error_matches(function() mock.new{ port = 70000 } end, "extruct.mock.new: bad port", nil, true)
      assert.error_matches(function() mock.new{ token = "" } end, "extruct.mock.new: bad token", nil, true)
    end)

    it("serves while the host drives step(), and reports a port in use", function()
      local server = assert(mock.new{ port = 0, quiet = true, idle_timeout = 0.3 })
      local port = server:port()
      assert.is_true(port > 0)
      assert.equal("http://127.0.0.1:" .. port, server:url())
      local taken, err = mock.new{ port = port, quiet = true }
      assert.is_nil(taken)
      assert.matches(tostring(port), err, 1, true)

      local client = socket.tcp()
      client:settimeout(1)
      assert(client:connect("127.0.0.1", port))
      client:send("GET /v1/healthcheck HTTP/1.1\r\n\r\n")
      client:settimeout(0)
      local received, deadline = "", socket.gettime() + 3
      while not received:find('{"status":"ok"}', 1, true) and socket.gettime() < deadline do
        server:step(0.05)
        local data, _, partial = client:receive(4096)
        received = received .. (data or partial or "")
      end
      assert.matches("^HTTP/1%.1 200 OK\r\n", received)

      -- an idle connection is closed after idle_timeout
      local closed = false
      deadline = socket.gettime() + 3
      while not closed and socket.gettime() < deadline do
        server:step(0.05)
        local _, receive_err = client:receive(1)
        closed = receive_err == "closed"
      end
      client:close()
      assert.is_true(closed)
      server:close()
      assert.is_false(server:step(0))
    end)
  end)
end)
