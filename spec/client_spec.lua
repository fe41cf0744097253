local extruct = require("extruct")
local cjson = require("cjson")
local helpers = require("spec.helpers")

local COLUMN_KINDS = {
  "input", "agent", "criterion_grade", "company_people_finder", "discovery_scores",
  "company_name", "company_website", "company_profile", "email_finder", "phone_finder",
  "reverse_email_lookup",
}

-- Deep comparison that treats every JSON null (NULL light userdata) alike.
local function same_json(a, b, path)
  path = path or "$"
  if type(a) ~= "table" or type(b) ~= "table" then
    assert(a == b, ("differs at %s: %s vs %s"):format(path, tostring(a), tostring(b)))
    return
  end
  for k, v in pairs(a) do same_json(v, b[k], path .. "." .. tostring(k)) end
  for k in pairs(b) do assert(a[k] ~= nil, "missing at " .. path .. "." .. tostring(k)) end
end

describe("client:get_table against the mock server", function()
  local mock, client
  -- one request per call, so each answer is seen as it is; retry_spec covers retries
  local fixture = helpers.mock_and_client{ single_attempt = true }
  before_each(function() mock, client = fixture.mock, fixture.client end)

  it("returns every field of the table, each column kind and unknown fields included", function()
    local t = assert(client:get_table("tbl_demo"))
    for _, field in ipairs({ "id", "created_at", "name", "description", "tags", "kind", "columns",
                             "owner", "child_relationships", "parent_relationships", "status" }) do
      assert.is_not_nil(t[field], field)
    end
    assert.equal("tbl_demo", t.id)
    assert.equal("company", t.kind)
    assert.is_string(t.owner.email)
    local kinds = {}
    for _, column in ipairs(t.columns) do
      assert.is_string(column.id)
      assert.is_string(column.created_at)
      kinds[column.config.kind] = column.config
    end
    for _, kind in ipairs(COLUMN_KINDS) do assert.is_table(kinds[kind], kind) end
    assert.is_string(kinds.agent.value.prompt)
    assert.is_table(kinds.company_people_finder.value.roles)
    assert.is_string(kinds.reverse_email_lookup.email_column_key)
    -- fields the schema does not name yet reach Lua too
    assert.same({ 1, 2.5, extruct.null, true, "s" }, t.x_future_field.nested)
    assert.equal(0, t.status.num_cells_failed)
    for _, counter in ipairs({ "num_rows", "num_output_columns", "num_input_columns",
                               "num_cells_completed", "num_cells_in_progress", "num_columns" }) do
      assert.is_number(t.status[counter], counter)
      if math.type then assert.equal("integer", math.type(t.status[counter]), counter) end
    end
    assert.is_string(t.status.run_status)
  end)

  it("decodes the body exactly as lua-cjson does", function()
    local t = assert(client:get_table("tbl_demo"))
    local chunks = {}
    require("socket.http").request{
      url = mock.url .. "/v1/tables/tbl_idle",
      headers = { authorization = "Bearer " .. mock.token },
      sink = require("ltn12").sink.table(chunks),
    }
    local raw = table.concat(chunks)
    assert.matches('"id"', raw)
    same_json(cjson.decode(raw), (assert(client:get_table("tbl_idle"))))
    assert.equal("tbl_demo", t.id)
  end)

  it("decodes JSON null as extruct.null", function()
    local t = assert(client:get_table("tbl_idle"))
    assert.equal(extruct.null, t.description)
    assert.equal(extruct.null, t.tags)
  end)

  it("sends the bearer token, JSON Accept and a User-Agent naming the module", function()
    assert(client:get_table("tbl_demo"))
    local request = mock:requests()[1]
    assert.equal("GET", request.method)
    assert.equal("/v1/tables/tbl_demo", request.target)
    assert.equal("Bearer " .. mock.token, request.headers.authorization)
    assert.equal("application/json", request.headers.accept)
    assert.matches("^extruct%-lua/" .. extruct._VERSION:gsub("%.", "%%.") .. " ", request.headers["user-agent"])
  end)

  it("reuses one connection for successive requests (keep-alive)", function()
    for _ = 1, 5 do assert(client:get_table("tbl_demo")) end
    local stats = mock:stats()
    assert.equal(5, stats.requests)
    assert.equal(1, stats.connections)
    local requests = mock:requests()
    assert.equal(requests[1].connection, requests[5].connection)
  end)

  it("percent-encodes the id as one path segment", function()
    local ids = { "a/b?c#d e", "..", ".", "tbl%2F", "ünï", "x/../../v1/healthcheck" }
    mock:add_table{ id = "a/b?c#d e", polls = 0 }
    local t = assert(client:get_table("a/b?c#d e"))
    assert.equal("a/b?c#d e", t.id)
    for _, id in ipairs(ids) do
      mock:reset()
      local _, err = client:get_table(id)
      assert.equal("not_found", err.kind, id)
      assert.matches("table '" .. id:gsub("%p", "%%%0") .. "' is unknown or not in this workspace", err.message)
      local request = mock:requests()[1]
      assert.equal("/v1/tables/" .. id, request.path, id)
      assert.equal("", request.query, id)
      assert.is_nil(request.target:sub(12):find("/"), request.target)
    end
  end)

  describe("errors", function()
    it("401: auth, telling how to pass the token", function()
      local bad = helpers.client(mock, { token = "wrong-token-value" })
      local t, err = bad:get_table("tbl_demo")
      assert.is_nil(t)
      assert.equal("auth", err.kind)
      assert.equal(401, err.status)
      assert.matches("Authorization: Bearer", err.message, 1, true)
      assert.matches("EXTRUCT_API_TOKEN", err.message, 1, true)
      assert.equal("Could not validate credentials", err.detail)
      assert.is_nil(tostring(err):find("wrong-token-value", 1, true))
      bad:close()
    end)

    local cases = {
      { status = 403, kind = "auth" },
      { status = 402, kind = "payment" },
      { status = 404, kind = "not_found" },
      { status = 422, kind = "validation" },
      { status = 429, kind = "rate_limit" },
      { status = 500, kind = "server" },
      { status = 502, kind = "server" },
      { status = 503, kind = "server" },
      { status = 400, kind = "http" },
      { status = 409, kind = "http" },
      { status = 418, kind = "http" },
    }
    for _, case in ipairs(cases) do
      it(("%d: %s"):format(case.status, case.kind), function()
        mock:fault{ status = case.status, detail = "because " .. case.status }
        local t, err = client:get_table("tbl_demo")
        assert.is_nil(t)
        assert.equal(case.kind, err.kind)
        assert.equal(case.status, err.status)
        assert.equal("because " .. case.status, err.detail)
        assert.matches("HTTP " .. case.status, tostring(err))
        -- the same client goes on working
        assert.equal("tbl_demo", assert(client:get_table("tbl_demo")).id)
      end)
    end

    it("404 for a table says it is unknown or not in this workspace", function()
      local _, err = client:get_table("tbl_nope")
      assert.equal("not_found", err.kind)
      assert.equal(404, err.status)
      assert.matches("table 'tbl_nope' is unknown or not in this workspace", err.message, 1, true)
      assert.equal("Table not found", err.detail)
    end)

    it("keeps a structured detail: a 402 object and a 422 list", function()
      mock:fault{ status = 402, body = '{"detail":{"error":"insufficient_credits","required":12}}' }
      local _, err = client:get_table("tbl_demo")
      assert.equal("payment", err.kind)
      assert.same({ error = "insufficient_credits", required = 12 }, err.detail)
      assert.equal("insufficient_credits", err.code)
      assert.matches("insufficient_credits", err.message)
      for _, code in ipairs({ "plan_required", "payment_failed" }) do
        mock:fault{ path = "/v1/tables", status = 402, body = '{"detail":{"error":"' .. code .. '"}}' }
        local t, err2 = client:create_table{ name = "Gated" }
        assert.is_nil(t)
        assert.equal(code, err2.code)
      end

      mock:fault{ status = 422, body = '{"detail":[{"loc":["path","table_id"],"msg":"bad id","type":"value_error"}]}' }
      _, err = client:get_table("tbl_demo")
      assert.equal("validation", err.kind)
      assert.equal("bad id", err.detail[1].msg)
      assert.matches("path.table_id: bad id", err.message, 1, true)
    end)

    it("429 and 503 carry Retry-After as seconds, from a number or an HTTP date", function()
      mock:fault{ status = 429, retry_after = "7" }
      local _, err = client:get_table("tbl_demo")
      assert.equal("rate_limit", err.kind)
      assert.equal(7, err.retry_after)
      local when = os.date("!%a, %d %b %Y %H:%M:%S GMT", os.time() + 120)
      mock:fault{ status = 503, retry_after = when }
      _, err = client:get_table("tbl_demo")
      assert.equal("server", err.kind)
      assert.is_true(err.retry_after >= 115 and err.retry_after <= 121, tostring(err.retry_after))
      mock:fault{ status = 500 }
      _, err = client:get_table("tbl_demo")
      assert.is_nil(err.retry_after)
    end)

    it("an HTML page: decode with 200, server with 502; either way the start of the page is shown", function()
      mock:fault{ status = 200, mode = "html" }
      local _, err = client:get_table("tbl_demo")
      assert.equal("decode", err.kind)
      assert.equal(200, err.status)
      assert.matches("text/html", err.message, 1, true)
      assert.matches("<", err.message, 1, true)
      mock:fault{ status = 502, mode = "html" }
      _, err = client:get_table("tbl_demo")
      assert.equal("server", err.kind)
      assert.equal(502, err.status)
      assert.is_nil(err.detail)
      assert.matches("body: <", err.message, 1, true)
    end)

    it("invalid JSON and an empty body are decode errors", function()
      mock:fault{ mode = "invalid_json" }
      local _, err = client:get_table("tbl_demo")
      assert.equal("decode", err.kind)
      assert.matches("invalid JSON at byte", err.message, 1, true)
      mock:fault{ mode = "empty" }
      _, err = client:get_table("tbl_demo")
      assert.equal("decode", err.kind)
      assert.equal(200, err.status)
      assert.equal("tbl_demo", assert(client:get_table("tbl_demo")).id)
    end)

    it("a truncated body and a dropped connection are network errors", function()
      mock:fault{ mode = "truncate" }
      local _, err = client:get_table("tbl_demo")
      assert.equal("network", err.kind)
      assert.is_nil(err.status)
      mock:fault{ mode = "drop" }
      _, err = client:get_table("tbl_demo")
      assert.equal("network", err.kind)
      assert.equal("tbl_demo", assert(client:get_table("tbl_demo")).id)
    end)

    it("a slow answer past the timeout is a timeout", function()
      local impatient = helpers.client(mock, { timeout = 0.2, retries = 0 })
      mock:fault{ delay = 3 }
      local _, err = impatient:get_table("tbl_demo")
      assert.equal("timeout", err.kind)
      assert.is_nil(err.status)
      assert.equal("tbl_demo", assert(impatient:get_table("tbl_demo")).id)
      impatient:close()
    end)

    it("a body over max_response_size is refused", function()
      local small = helpers.client(mock, { max_response_size = 512 })
      local _, err = small:get_table("tbl_demo")
      assert.equal("decode", err.kind)
      assert.matches("max_response_size", err.message, 1, true)
      small:close()
    end)

    it("connection refused is a network error", function()
      local port = helpers.closed_port()
      local nobody = extruct.new{ token = "x", base_url = "http://127.0.0.1:" .. port, retries = 0 }
      local _, err = nobody:get_table("tbl_demo")
      assert.equal("network", err.kind)
      assert.matches("127.0.0.1", err.message, 1, true)
    end)
  end)

  describe("configuration", function()
    it("no token is a config error on every call, not a crash", function()
      local c = extruct.new{ base_url = mock.url, token = "" }
      local t, err = c:get_table("tbl_demo")
      assert.is_nil(t)
      assert.equal("config", err.kind)
      assert.matches("EXTRUCT_API_TOKEN", err.message, 1, true)
      assert.equal(0, mock:stats().requests)
    end)

    it("a malformed base URL is a config error", function()
      for _, base in ipairs({ "api.extruct.ai", "ftp://x.y", "http://", "http://h/x?y=1", "http://a b" }) do
        local _, err = extruct.new{ token = "t", base_url = base }:get_table("tbl_demo")
        assert.equal("config", err.kind, base)
      end
    end)

    it("CR, LF or NUL in the token is a config error and nothing is sent", function()
      for _, token in ipairs({ "abc\r\nX-Evil: 1", "abc\n", "abc\0def" }) do
        local c = extruct.new{ token = token, base_url = mock.url }
        local _, err = c:get_table("tbl_demo")
        assert.equal("config", err.kind)
        assert.is_nil(tostring(err):find("abc", 1, true))
      end
      assert.equal(0, mock:stats().requests)
    end)

    it("never shows the token: not in the client's string form, not in errors", function()
      local secret = "sekrit-" .. os.time()
      local c = extruct.new{ token = secret, base_url = mock.url, retries = 0 }
      assert.is_nil(tostring(c):find(secret, 1, true))
      for key, value in pairs(c) do
        assert.is_nil(tostring(value):find(secret, 1, true), key)
      end
      for _, fault in ipairs({ { status = 401 }, { status = 500 }, { mode = "html" }, { mode = "drop" } }) do
        mock:fault(fault)
        local _, err = c:get_table("tbl_demo")
        assert.is_nil(tostring(err):find(secret, 1, true))
        for key, value in pairs(err) do
          assert.is_nil(tostring(value):find(secret, 1, true), key)
        end
      end
      c:close()
    end)

    it("a base URL's user:password is masked in the client's string form", function()
      local c = extruct.new{ token = "t", base_url = "http://user:pa55@127.0.0.1:9" }
      assert.is_nil(tostring(c):find("pa55", 1, true))
      c:close()
    end)

    it("raises on misuse: unknown option, wrong types, bad ids", function()
      assert.has_error(function() extruct.new{ tokn = "x" } end, nil)
      assert.error_matches(function() extruct.new{ timeout = "30" } end,
        "extruct.new: option 'timeout' must be a positive number of seconds", nil, true)
      assert.error_matches(function() extruct.new{ timeout = -1 } end,
        "extruct.new: option 'timeout' must be a positive number of seconds", nil, true)
      assert.error_matches(function() extruct.new("token") end, "extruct.new: options must be a table, got string", nil, true)
      assert.error_matches(function() client:get_table() end,
        "extruct.get_table: the table id must be a non-empty string, got nil", nil, true)
      assert.error_matches(function() client:get_table("") end,
        "extruct.get_table: the table id must be a non-empty string, got an empty string", nil, true)
      assert.error_matches(function() client:get_table(42) end,
        "extruct.get_table: the table id must be a non-empty string, got number", nil, true)
      assert.error_matches(function() extruct.get_table({}) end,
        "extruct.get_table: the table id must be a non-empty string, got table", nil, true)
      -- the message names the option and points at the caller's line
      local ok, message = pcall(function() extruct.new{ tokn = "x" } end)
      assert.is_false(ok)
      assert.matches("client_spec%.lua:%d+: extruct%.new: unknown option 'tokn'", message)
      message = select(2, pcall(function() client:wait_until_idle("t", { intervl = 1 }) end))
      assert.matches("client_spec%.lua:%d+: extruct%.wait_until_idle: unknown option 'intervl'", message)
      message = select(2, pcall(function() client:get_table(7) end))
      assert.matches("client_spec%.lua:%d+: extruct%.get_table: the table id must be a non%-empty string", message)
    end)
  end)

  describe("lifetime", function()
    it("close is safe twice, and a closed client refuses to work", function()
      local c = helpers.client(mock)
      assert(c:get_table("tbl_demo"))
      c:close()
      c:close()
      assert.matches("closed", tostring(c))
      assert.error_matches(function() c:get_table("tbl_demo") end, "extruct: the client is closed", nil, true)
    end)

    it("clients are collected without being closed", function()
      for _ = 1, 50 do
        local c = helpers.client(mock)
        assert(c:get_table("tbl_idle"))
      end
      collectgarbage()
      collectgarbage()
      assert(client:get_table("tbl_idle"))
    end)

    if _VERSION == "Lua 5.4" and not rawget(_G, "jit") then
      it("closes a to-be-closed client at the end of its scope", function()
        local chunk = assert(load([[
          local helpers, mock = ...
          local kept
          do
            local c <close> = helpers.client(mock)
            assert(c:get_table("tbl_idle"))
            kept = c
          end
          return kept
        ]]))
        local c = chunk(helpers, mock)
        assert.matches("closed", tostring(c))
      end)
    end
  end)
end)

describe("the module-level functions", function()
  local mock
  lazy_setup(function() mock = helpers.start_mock() end)
  lazy_teardown(function() mock:stop() end)

  it("use a default client built from EXTRUCT_API_TOKEN and EXTRUCT_API_URL", function()
    local out, status = helpers.run_lua(
      ("EXTRUCT_API_TOKEN=%s EXTRUCT_API_URL=%s"):format(mock.token, mock.url), [[
        local extruct = require("extruct")
        local t = assert(extruct.get_table("tbl_idle"))
        local w = assert(extruct.wait_until_idle("tbl_idle", { interval = 0.01 }))
        print(t.id, w.status.run_status, tostring(extruct.default_client()))
      ]])
    assert.equal(0, status, out)
    assert.equal("tbl_idle\tidle\textruct.client(" .. mock.url .. ")\n", out)
  end)

  it("return a config error when EXTRUCT_API_TOKEN is unset", function()
    local out, status = helpers.run_lua("", [[
      local extruct = require("extruct")
      local t, err = extruct.get_table("tbl_idle")
      print(t, err.kind, tostring(extruct.default_client()))
    ]])
    assert.equal(0, status, out)
    assert.equal("nil\tconfig\textruct.client(https://api.extruct.ai)\n", out)
  end)
end)

describe("the module graph", function()
  it("gives a client every endpoint method where the client is defined, extruct or not", function()
    local out, status = helpers.run_lua("", [[
      local c = require("extruct.client").new{ token = "t" }
      local names = require("extruct.client").METHODS
      for _, name in ipairs(names) do assert(type(c[name]) == "function", name) end
      print(#names, package.loaded.extruct == nil, pcall(require, "extruct.tables"))
    ]])
    assert.equal(0, status, out)
    assert.matches("^%d+\ttrue\tfalse\t", out)
  end)

  it("installs every group of lua/extruct/api/, and makes a shortcut of each method", function()
    local Client = require("extruct.client").Client
    local listed = {}
    for _, name in ipairs(require("extruct.client").METHODS) do listed[name] = true end
    local groups = helpers.run("ls lua/extruct/api/")
    local count = 0
    for file in groups:gmatch("(%S+)%.lua") do
      for name, method in pairs(require("extruct.api." .. file)) do
        assert.equal(method, Client[name], file .. ": " .. name)
        assert.is_true(listed[name], name)
        assert.is_function(extruct[name], name)
        count = count + 1
      end
    end
    assert.equal(#require("extruct.client").METHODS, count)
    for _, name in ipairs({ "get_table", "list_tables", "wait_until_idle", "wait_all", "get_user", "healthcheck" }) do
      assert.is_true(listed[name], name)
    end
    assert.is_nil(listed.request)
    assert.is_nil(listed.close)
  end)
end)

describe("a HEAD request", function()
  it("reads no body, so it ends with the response and the connection stays usable", function()
    local mock = helpers.start_mock()
    local client = helpers.client(mock, { timeout = 2, retries = 0 })
    -- The mock answers HEAD with 405 and a JSON body: a client that waited
    -- for that body would end in a timeout error instead.
    local body, err = client:request("HEAD", "/v1/tables/tbl_demo")
    local t = client:get_table("tbl_demo")
    local log = mock:requests()
    client:close()
    mock:stop()
    assert.is_nil(body)
    assert.are.equal("http", err.kind)
    assert.are.equal(405, err.status)
    assert.are.equal("tbl_demo", t and t.id)
    assert.are.same({ "HEAD", "GET" }, { log[#log - 1].method, log[#log].method })
  end)
end)
