-- What a call answers (docs/answers.md): exactly one value on success,
-- nil and an error on failure; an answer of the wrong shape is a decode
-- error naming what came; no body is true where the API may send none.
-- Everything against the mock over HTTP, faults staged by the mock.
local extruct = require("extruct")
local helpers = require("spec.helpers")

local load_text = rawget(_G, "loadstring") or load

-- Every endpoint method once, each call building on the ones before, on a
-- freshly reset mock. `api(name, ...)` calls the method on a client or the
-- module function of that name; the chunk returns, per call, the name, how
-- many values came back and whether the first was a real answer.
local EVERY_METHOD = [[
local api, extruct = ...
local results = {}
local function pack(...) return { n = select("#", ...), ... } end
local function call(name, ...)
  local r = pack(api(name, ...))
  results[#results + 1] = { name = name, n = r.n, ok = r[1] ~= nil and r[1] ~= false,
                            err = r[2] ~= nil and tostring(r[2]) or nil }
  return r[1]
end
local t = call("create_table", { name = "Answers", column_configs = extruct.array{
  { kind = "input", name = "Website", key = "website" },
  { kind = "agent", name = "Summary", key = "summary",
    value = { agent_type = "research_pro", prompt = "What does {website} sell?", output_format = "text" } } } })
call("get_table", t.id)
call("update_table", t.id, { name = "Answers, renamed" })
call("list_tables", { search = "answers" })
call("iter_tables", { search = "answers" })
local rows = call("add_rows", t.id, { { website = "a.com" }, { website = "b.com" } })
call("update_rows", t.id, { { id = rows[1].id, data = { website = "c.com" } } })
call("get_row", t.id, rows[1].id)
call("get_table_data", t.id, { columns = { "website" } })
call("iter_rows", t.id)
local columns = call("add_columns", t.id, { kind = "input", name = "Note", key = "note" })
call("update_column", t.id, columns[1].id, { kind = "input", name = "Remark", key = "note" })
call("delete_column", t.id, columns[#columns].id)
call("run_table", t.id, { mode = "all" })
call("wait_until_idle", t.id, { interval = 0.01 })
call("wait_all", { t.id }, { interval = 0.01 })
local database = os.tmpname()
call("export_table", t.id, "sqlite:" .. database)
os.remove(database)
local copy = call("clone_table", t.id)
call("delete_rows", t.id, { rows[2].id })
call("delete_table", copy.id)
call("get_user")
call("get_billing")
call("healthcheck")
local found = call("search_companies", "logistics software", { limit = 5,
  filters = { include = { size = { "51-200", "1001-5000" } }, range = { founded = { min = 1980 } } } })
call("iter_search_companies", "logistics", { limit = 5 })
call("similar_companies", "https://www.globex.example/", { limit = 3 })
call("iter_similar_companies", "globex.example", { limit = 10 })
call("get_company", found and found.results[1] and found.results[1].domain or "globex.example")
local ds = call("create_deep_search", { query = "logistics software companies", desired_num_results = 3,
  criteria = { { key = "logistics", name = "Logistics", criterion = "Serves freight and logistics companies." } } })
call("get_deep_search", ds.id)
call("list_deep_searches", { limit = 5 })
call("wait_deep_search", ds.id, { interval = 0.01 })
call("get_deep_search_results", ds.id, { limit = 2 })
call("iter_deep_search_results", ds.id)
call("resume_deep_search", ds.id, { desired_new_results = 1 })
local dr = call("create_deep_research", { brief = "Research globex.example:\nwhat it sells, to whom", depth = "medium" })
call("get_deep_research", dr.id)
call("list_deep_research", { limit = 5 })
call("wait_deep_research", dr.id, { interval = 0.01 })
return results
]]

local function run_every_method(api)
  return assert(load_text(EVERY_METHOD))(api, extruct)
end

local function check_every_method(results)
  local called = {}
  for _, result in ipairs(results) do
    assert.is_true(result.ok, result.name .. ": " .. tostring(result.err))
    assert.equal(1, result.n, result.name .. " returned " .. result.n .. " values")
    called[result.name] = true
  end
  -- a method added to the client without a case here fails this spec
  for _, name in ipairs(require("extruct.client").METHODS) do
    assert.is_true(called[name], name .. " is not called by this spec")
  end
end

describe("one value on success", function()
  local session = helpers.mock_and_client{ single_attempt = true }

  it("from every endpoint method of a client", function()
    local client = session.client
    check_every_method(run_every_method(function(name, ...) return client[name](client, ...) end))
  end)

  it("from every module-level function on the default client", function()
    local mock = session.mock
    local script = "local extruct = require('extruct')\n"
      .. "local results = assert((loadstring or load)(" .. ("%q"):format(EVERY_METHOD) .. "))("
      .. "function(name, ...) return extruct[name](...) end, extruct)\n"
      .. [[
      for _, r in ipairs(results) do print(r.name, r.n, r.ok, r.err) end
      for i, f in ipairs({
        function() return extruct.default_client() end,
        function() return extruct.new{ token = "t" } end,
        function() return extruct.decode('{"a": 1}') end,
        function() return extruct.encode({ a = 1 }) end,
        function() return extruct.array() end,
        function() return extruct.gather({ function() return 1 end }) end,
        function() return extruct.default_client():request("GET", "/v1/healthcheck") end,
        function() return extruct.default_client():close() end,
      }) do
        local n, value = select("#", f()), f()
        print("function " .. i, n, value ~= nil and value ~= false, nil)
      end
    ]]
    local out, status = helpers.run_lua(("EXTRUCT_API_TOKEN=%s EXTRUCT_API_URL=%s"):format(mock.token, mock.url), script)
    assert.equal(0, status, out)
    local results = {}
    for name, n, ok, err in out:gmatch("([^\t\n]+)\t(%d+)\t(%a+)\t([^\n]*)\n") do
      results[#results + 1] = { name = name, n = tonumber(n), ok = ok == "true", err = err }
    end
    assert.is_true(#results > #require("extruct.client").METHODS, out)
    check_every_method(results)
  end)

  it("from request and close: the decoded body, true for no body, true for close", function()
    local client, mock = session.client, session.mock
    assert.equal(1, select("#", client:request("GET", "/v1/tables/tbl_idle")))
    assert.equal("tbl_idle", client:request("GET", "/v1/tables/tbl_idle").id)
    mock:fault{ path = "/v1/healthcheck", status = 204, mode = "empty" }
    assert.equal(1, select("#", client:request("GET", "/v1/healthcheck")))
    mock:fault{ path = "/v1/healthcheck", status = 204, mode = "empty" }
    assert.is_true(client:request("GET", "/v1/healthcheck"))
    assert.equal(204, client.last_response.status)
    assert.equal(1, select("#", client:close()))
    assert.is_true(client:close())
  end)

  it("and nil, err on failure: exactly two values", function()
    local client = session.client
    assert.equal(2, select("#", client:get_table("tbl_missing")))
    assert.equal(2, select("#", extruct.new{ token = "" }:get_user()))
    assert.equal(2, select("#", client:request("GET", "/v1/tables/tbl_missing")))
  end)
end)

describe("the status and headers of a call", function()
  local session = helpers.mock_and_client{ single_attempt = true }

  it("are the client's last_response, after a success and after an HTTP error", function()
    local client = session.client
    assert.is_nil(client.last_response)
    assert(client:get_table("tbl_idle"))
    assert.equal(200, client.last_response.status)
    assert.equal("application/json", client.last_response.headers["content-type"])
    assert.is_nil(client.last_response.body)
    assert.is_nil(client:get_table("tbl_missing"))
    assert.equal(404, client.last_response.status)
  end)

  it("are nil when no response came", function()
    local client = session.client
    assert(client:get_table("tbl_idle"))
    session.mock:fault{ path = "/v1/tables/tbl_idle", mode = "drop", count = 5 }
    assert.is_nil(client:get_table("tbl_idle"))
    assert.is_nil(client.last_response)
  end)

  it("are those of the last attempt: nil when the retry got no response", function()
    local clock = helpers.fake_clock()
    local client = helpers.client(session.mock, { retries = 1, sleep = clock.sleep, now = clock.now })
    session.mock:fault{ path = "/v1/tables/tbl_idle", status = 503, count = 1 }
    session.mock:fault{ path = "/v1/tables/tbl_idle", mode = "drop", count = 5 }
    local t, err = client:get_table("tbl_idle")
    client:close()
    assert.is_nil(t)
    assert.equal("network", err.kind)
    assert.equal(2, err.attempts)
    assert.is_nil(client.last_response)
  end)

  it("are each task's own when calls of one client overlap (extruct.gather)", function()
    local client = session.client
    -- the failing call's request is answered by nothing while the others'
    -- answers come and go: its last_response stays nil, theirs their own
    session.mock:fault{ path = "/v1/tables/tbl_missing", mode = "drop", delay = 0.2, count = 1 }
    session.mock:fault{ path = "/v1/tables/tbl_idle", delay = 0.05, count = 1 }
    local seen = {}
    extruct.gather({
      function()
        local t, err = client:get_table("tbl_missing")
        seen.dropped = { t = t, kind = err and err.kind, last = client.last_response }
      end,
      function()
        assert(client:get_table("tbl_idle"))
        seen.answered = client.last_response
        extruct.sleep(0.3) -- (the dropped call ends meanwhile)
        seen.answered_later = client.last_response
      end,
      function()
        assert.is_nil(client:get_table("tbl_gone"))
        seen.missing = client.last_response
      end,
    }, { concurrency = 3 })
    assert.is_nil(seen.dropped.t)
    assert.equal("network", seen.dropped.kind)
    assert.is_nil(seen.dropped.last)
    assert.equal(200, seen.answered.status)
    assert.equal(seen.answered, seen.answered_later)
    assert.equal(404, seen.missing.status)
    -- the main program made no call since its last: nothing of the tasks' shows here
    assert.is_nil(client.last_response)
  end)

  it("carry list_tables' paging facts", function()
    local client = session.client
    local page = assert(client:list_tables{ limit = 1 })
    assert.equal(1, #page)
    assert.same({ total = 2, total_pages = 2, limit = 1, offset = 0, page = 1 }, client.last_response.page)
  end)
end)

describe("answers with no body", function()
  local session = helpers.mock_and_client{ single_attempt = true }

  -- The calls the API may answer with a bare 2xx: each gives true.
  local OPTIONAL = {
    { "update_table", "/v1/tables/tbl_idle", function(c) return c:update_table("tbl_idle", { name = "x" }) end },
    { "delete_table", "/v1/tables/tbl_idle", function(c) return c:delete_table("tbl_idle") end },
    { "add_rows", "/v1/tables/tbl_idle/rows", function(c) return c:add_rows("tbl_idle", { { website = "x" } }) end },
    { "update_rows", "/v1/tables/tbl_idle/rows",
      function(c) return c:update_rows("tbl_idle", { { data = { website = "x" } } }) end },
    { "delete_rows", "/v1/tables/tbl_idle/rows", function(c) return c:delete_rows("tbl_idle", { "r1" }) end },
    { "add_columns", "/v1/tables/tbl_idle/columns",
      function(c) return c:add_columns("tbl_idle", { kind = "input", name = "N", key = "n" }) end },
    { "update_column", "/v1/tables/tbl_idle/columns/c1",
      function(c) return c:update_column("tbl_idle", "c1", { kind = "input", name = "N", key = "n" }) end },
    { "delete_column", "/v1/tables/tbl_idle/columns/c1", function(c) return c:delete_column("tbl_idle", "c1") end },
    { "healthcheck", "/v1/healthcheck", function(c) return c:healthcheck() end },
  }

  for _, case in ipairs(OPTIONAL) do
    local name, path, fn = case[1], case[2], case[3]
    it(name .. ": 204, an empty 200 and a JSON null each give true, alone", function()
      local mock, client = session.mock, session.client
      for _, fault in ipairs({ { status = 204, mode = "empty" }, { mode = "empty" }, { body = "null" } }) do
        fault.path = path
        mock:fault(fault)
        assert.equal(1, select("#", fn(client)), name)
        mock:fault(fault)
        assert.is_true(fn(client), name)
      end
    end)
  end

  -- The calls whose answer is the point: no body is a decode error.
  local REQUIRED = {
    { "get_table", "object", function(c) return c:get_table("tbl_idle") end },
    { "list_tables", "array", function(c) return c:list_tables() end, "/v1/tables" },
    { "create_table", "object", function(c) return c:create_table{ name = "x" } end, "/v1/tables" },
    { "clone_table", "object", function(c) return c:clone_table("tbl_idle") end },
    { "get_table_data", "object", function(c) return c:get_table_data("tbl_idle") end },
    { "get_row", "object", function(c) return c:get_row("tbl_idle", "r1") end },
    { "run_table", "object", function(c) return c:run_table("tbl_idle") end },
    { "get_user", "object", function(c) return c:get_user() end, "/v1/user" },
    { "get_billing", "object", function(c) return c:get_billing() end, "/v1/billing" },
    { "search_companies", "object", function(c) return c:search_companies("software") end, "/v1/companies/search" },
    { "similar_companies", "object", function(c) return c:similar_companies("acme.example") end,
      "/v1/companies/acme.example/similar" },
    { "get_company", "object", function(c) return c:get_company("acme.example") end, "/v1/companies/acme.example" },
    { "create_deep_search", "object", function(c) return c:create_deep_search{ query = "q" } end, "/v1/discovery_tasks" },
    { "get_deep_search", "object", function(c) return c:get_deep_search("ds_1") end, "/v1/discovery_tasks/ds_1" },
    { "list_deep_searches", "array", function(c) return c:list_deep_searches() end, "/v1/discovery_tasks" },
    { "get_deep_search_results", "object", function(c) return c:get_deep_search_results("ds_1") end,
      "/v1/discovery_tasks/ds_1/results" },
    { "resume_deep_search", "object", function(c) return c:resume_deep_search("ds_1") end,
      "/v1/discovery_tasks/ds_1/resume" },
    { "create_deep_research", "object", function(c) return c:create_deep_research{ brief = "b" } end,
      "/v1/deep_research_tasks" },
    { "get_deep_research", "object", function(c) return c:get_deep_research("dr_1") end,
      "/v1/deep_research_tasks/dr_1" },
    { "list_deep_research", "array", function(c) return c:list_deep_research() end, "/v1/deep_research_tasks" },
  }

  for _, case in ipairs(REQUIRED) do
    local name, shape, fn, path = case[1], case[2], case[3], case[4]
    it(name .. ": 204 is a decode error saying no body came, where " .. shape .. " was promised", function()
      session.mock:fault{ path = path or "/v1/tables/tbl_idle", status = 204, mode = "empty" }
      local value, err = fn(session.client)
      assert.is_nil(value)
      assert.equal("decode", err.kind)
      assert.equal(204, err.status)
      assert.matches("wanted a JSON " .. shape .. ", got no body", err.message, 1, true)
    end)
  end
end)

describe("answers of the wrong shape", function()
  local session = helpers.mock_and_client{ single_attempt = true }

  local function faulty(path, body)
    session.mock:fault{ path = path, body = body, count = 1000 }
  end

  it("an array where get_table promises an object: a decode error naming what came", function()
    faulty("/v1/tables/tbl_demo", "[1,2,3]")
    local t, err = session.client:get_table("tbl_demo")
    assert.is_nil(t)
    assert.equal("decode", err.kind)
    assert.equal(200, err.status)
    assert.matches("wanted a JSON object, got a JSON array of 3 items", err.message, 1, true)
    assert.equal(1, err.attempts)
  end)

  it("ends wait_until_idle at once instead of polling until its timeout", function()
    faulty("/v1/tables/tbl_demo", "[1,2,3]")
    local clock = helpers.fake_clock()
    local t, err = session.client:wait_until_idle("tbl_demo", { interval = 1, timeout = 60,
      sleep = clock.sleep, now = clock.now })
    assert.is_nil(t)
    assert.equal("decode", err.kind)
    assert.matches("got a JSON array of 3 items", err.message, 1, true)
    assert.same({}, clock.slept)
    assert.equal(1, #session.mock:requests())
  end)

  it("scalars, null and the other container are refused by every kind of promise", function()
    local client = session.client
    local cases = {
      { "/v1/tables", "{}", function() return client:list_tables() end, "wanted a JSON array, got a JSON object" },
      { "/v1/tables/tbl_idle/rows", '"ok"', function() return client:add_rows("tbl_idle", { { website = "x" } }) end,
        "wanted a JSON array, got a JSON string" },
      { "/v1/tables/tbl_idle", "42", function() return client:delete_table("tbl_idle") end,
        "wanted a JSON object, got a JSON number" },
      { "/v1/tables/tbl_idle/rows", "true", function() return client:delete_rows("tbl_idle", { "r1" }) end,
        "wanted a JSON object or array, got JSON true" },
      { "/v1/tables/tbl_idle", "null", function() return client:get_table("tbl_idle") end,
        "wanted a JSON object, got JSON null" },
      { "/v1/user", "[]", function() return client:get_user() end, "wanted a JSON object, got a JSON array of 0 items" },
    }
    for _, case in ipairs(cases) do
      session.mock:reset()
      faulty(case[1], case[2])
      local value, err = case[3]()
      assert.is_nil(value, case[2])
      assert.equal("decode", err.kind, case[2])
      assert.matches(case[4], err.message, 1, true)
    end
  end)

  it("request's expect option: object, array, or either", function()
    local client = session.client
    assert.equal("tbl_idle", assert(client:request("GET", "/v1/tables/tbl_idle", { expect = "object" })).id)
    local _, err = client:request("GET", "/v1/tables/tbl_idle", { expect = "array" })
    assert.equal("decode", err.kind)
    assert.matches("wanted a JSON array, got a JSON object", err.message, 1, true)
    assert.is_table(assert(client:request("GET", "/v1/tables", { expect = "object or array" })))
    local ok, message = pcall(client.request, client, "GET", "/v1/tables", { expect = "string" })
    assert.is_false(ok)
    assert.matches([[option 'expect' must be "object", "array" or "object or array"]], message, 1, true)
  end)
end)
