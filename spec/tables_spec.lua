-- The Tables API methods: what each sends, what each returns from the
-- offline mock, the iterators and extruct.cell.
local extruct = require("extruct")
local cjson = require("cjson")
local helpers = require("spec.helpers")

local function last_request(mock)
  local log = mock:requests()
  return log[#log]
end

local function body_of(request)
  return cjson.decode(request.body)
end

local function count(iterator)
  local n = 0
  for item, err in iterator do
    assert(item, err and tostring(err))
    n = n + 1
  end
  return n
end

local function column(key, kind, extra)
  local config = { kind = kind or "input", name = "Column " .. key, key = key }
  for k, v in pairs(extra or {}) do config[k] = v end
  return config
end

-- A mock for the describe block, reset before each test, with a fresh
-- client sending each request once: set(mock, client) receives them.
local function with_mock(set)
  local fixture = helpers.mock_and_client{ single_attempt = true }
  before_each(function() set(fixture.mock, fixture.client) end)
end

local AGENT = { agent_type = "research_pro", prompt = "What does {website} sell?", output_format = "text" }

describe("Tables API requests", function()
  local mock, client
  with_mock(function(m, c) mock, client = m, c end)

  it("lists with every filter in the query, tags repeated, ids in the path encoded", function()
    client:list_tables{ kind = "company", scope = "personal", search = "a b&c", tags = { "x", "y z" },
                        sort = "-name", view = "minimal", offset = 10, limit = 20 }
    local request = last_request(mock)
    assert.equal("GET", request.method)
    assert.equal("/v1/tables", request.path)
    assert.equal("kind=company&limit=20&offset=10&scope=personal&search=a%20b%26c&sort=-name&tags=x&tags=y%20z"
      .. "&view=minimal", request.query)
    for _ in client:iter_tables{ view = "full", limit = 5 } do end
    assert.matches("view=full", last_request(mock).query, 1, true)
    client:get_row("tbl/../x", "row 1")
    assert.equal("/v1/tables/tbl%2F..%2Fx/rows/row%201", last_request(mock).target)
  end)

  it("sends each write with its method, path and JSON body", function()
    local cases = {
      { function() return client:create_table{ name = "Leads", kind = "company", tags = extruct.array{ "a" } } end,
        "POST", "/v1/tables", { name = "Leads", kind = "company", tags = { "a" } } },
      { function() return client:update_table("t1", { name = "New" }) end,
        "PATCH", "/v1/tables/t1", { name = "New" } },
      { function() return client:delete_table("t1") end, "DELETE", "/v1/tables/t1", nil },
      { function() return client:clone_table("t1", { schema_only = true }) end,
        "POST", "/v1/tables/t1/clone", nil, "schema_only=true" },
      { function() return client:get_table_data("t1", { offset = 5, limit = 7 }) end,
        "GET", "/v1/tables/t1/data", nil, "limit=7&offset=5" },
      { function() return client:add_rows("t1", { { website = "a.com" }, { data = { website = "b.com" }, metadata = { n = 1 } } },
                                          { run = true }) end,
        "POST", "/v1/tables/t1/rows",
        { rows = { { data = { website = "a.com" } }, { data = { website = "b.com" }, metadata = { n = 1 } } }, run = true } },
      { function() return client:update_rows("t1", { { id = "r1", data = { website = "c.com" } } }) end,
        "PATCH", "/v1/tables/t1/rows", { rows = { { id = "r1", data = { website = "c.com" } } }, run = false } },
      { function() return client:delete_rows("t1", { "r1", "r2" }) end,
        "DELETE", "/v1/tables/t1/rows", { rows = { "r1", "r2" } } },
      { function() return client:get_row("t1", "r1") end, "GET", "/v1/tables/t1/rows/r1", nil },
      { function() return client:add_columns("t1", column("x"), { insert_after = "col_1" }) end,
        "POST", "/v1/tables/t1/columns", { column_configs = { column("x") }, insert_after = "col_1" } },
      { function() return client:update_column("t1", "c1", column("y")) end,
        "PATCH", "/v1/tables/t1/columns/c1", column("y") },
      { function() return client:delete_column("t1", "c1") end, "DELETE", "/v1/tables/t1/columns/c1", nil },
      { function() return client:run_table("t1", { mode = "failed", rows = { "r1" } }) end,
        "POST", "/v1/tables/t1/run", { mode = "failed", rows = { "r1" } } },
      { function() return client:run_table("t1") end, "POST", "/v1/tables/t1/run", { mode = "new" } },
      { function() return client:get_user() end, "GET", "/v1/user", nil },
      { function() return client:healthcheck() end, "GET", "/v1/healthcheck", nil },
    }
    for i, case in ipairs(cases) do
      case[1]()
      local request = last_request(mock)
      local what = ("case %d: %s %s"):format(i, case[2], case[3])
      assert.equal(case[2], request.method, what)
      assert.equal(case[3], request.path, what)
      assert.equal(case[5] or "", request.query, what)
      if case[4] then
        assert.same(case[4], body_of(request), what)
        assert.equal("application/json", request.headers["content-type"], what)
      else
        assert.equal("", request.body, what)
      end
    end
  end)

  it("sends empty lists as JSON arrays and skips requests with nothing to do", function()
    client:create_table{ name = "Empty", column_configs = extruct.array() }
    local sent = last_request(mock).body
    assert.matches('"column_configs":[]', sent, 1, true)
    assert.equal("Empty", cjson.decode(sent).name)
    local before = #mock:requests()
    assert.same({}, assert(client:add_rows("t1", {})))
    assert.same({}, assert(client:delete_rows("t1", {})))
    assert.equal(before, #mock:requests())
  end)

  it("refuses bad arguments at the caller's line, through the shortcuts too", function()
    local ok, err = pcall(client.list_tables, client, { limit = 101 })
    assert.is_false(ok)
    assert.matches("option 'limit' must be a whole number from 1 to 100", err, 1, true)
    local cases = {
      { function() client:add_rows("t1", "row") end, "rows must be a list of rows, got string" },
      { function() extruct.add_rows("t1", { 5 }) end, "rows[1] must be a table" },
      { function() extruct.delete_rows("t1", { 7 }) end, "row_ids must be a list of id strings" },
      { function() client:get_row("t1", "") end, "the row id must be a non-empty string" },
      { function() extruct.update_column("t1", "c1") end, "the column's config must be a table" },
      { function() client:run_table("t1", { mode = 3 }) end, "option 'mode' must be a string" },
      { function() client:iter_rows("t1", { limit = 0 }) end, "option 'limit' must be a whole number >= 1" },
      { function() extruct.iter_tables{ offset = 5 } end, "unknown option 'offset'" },
      { function() client:add_columns("t1", { column("x") }, { insert_after = 1 }) end,
        "option 'insert_after' must be true, false or a column id" },
      { function() extruct.cell(nil, "x") end, "extruct.cell: expected a row" },
      { function() client:list_tables{ view = true } end, "option 'view' must be a string" },
      { function() client:get_table_data("t1", { columns = "website" }) end,
        "option 'columns' must be a non-empty list of column keys" },
      { function() extruct.get_table_data("t1", { columns = {} }) end,
        "option 'columns' must be a non-empty list of column keys" },
      { function() client:iter_rows("t1", { columns = { "a", 3 } }) end,
        "extruct.iter_rows: option 'columns' must be a non-empty list of column keys" },
    }
    for i, case in ipairs(cases) do
      local ok2, err2 = pcall(case[1])
      assert.is_false(ok2, "case " .. i)
      assert.matches(case[2], err2, 1, true)
      -- the position is the caller's line, not the library's
      assert.matches("tables_spec%.lua:" .. debug.getinfo(case[1], "S").linedefined .. ":", err2)
    end
    assert.equal(0, #mock:requests())
  end)

  it("returns an encode error for a body JSON cannot hold, and sends nothing", function()
    local t, err = client:create_table{ name = "x", callback = print }
    assert.is_nil(t)
    assert.equal("encode", err.kind)
    assert.matches("cannot encode a function at $.callback", err.message, 1, true)
    local rows, err2 = client:add_rows("t1", { { score = 0 / 0 } })
    assert.is_nil(rows)
    assert.equal("encode", err2.kind)
    assert.equal(0, #mock:requests())
  end)

  it("retries a create that met a 503 (nothing created), and not one that met a 500", function()
    local c = helpers.client(mock, { retries = 2, backoff = { base = 0.01, cap = 0.01 } })
    mock:fault{ path = "/v1/tables", status = 503, count = 1 }
    c:create_table{ name = "Retried" }
    assert.equal(2, #mock:requests())
    mock:reset()
    mock:fault{ path = "/v1/tables", status = 500, count = 1 }
    local t, err = c:create_table{ name = "Not retried" }
    assert.is_nil(t)
    assert.equal("server", err.kind)
    assert.equal(1, err.attempts)
    assert.equal(1, #mock:requests())
    c:close()
  end)
end)

describe("extruct.cell", function()
  it("reads output cells, plain input values, nulls and odd shapes", function()
    local row = extruct.decode([[{"id": "r1", "data": {
      "website": "acme.com",
      "size": 12,
      "summary": {"status": "done", "value": {"answer": "Anvils", "explanation": "seen on the site",
                                               "sources": ["https://acme.com/"]}},
      "grade": {"status": "failed", "value": null},
      "pending": {"status": "requested"},
      "nothing": null,
      "bare": {"status": "done", "value": "just text"},
      "listed": {"status": "done", "value": {"answer": [1, 2]}},
      "null_answer": {"status": "done", "value": {"answer": null}},
      "sourced": {"status": "done", "value": {"answer": "Bolts", "source": ["https://bolts.example/"]}},
      "object_input": {"city": "Paris"}
    }}]])
    local answer, status, sources, explanation = extruct.cell(row, "summary")
    assert.equal("Anvils", answer)
    assert.equal("done", status)
    assert.same({ "https://acme.com/" }, sources)
    assert.equal("seen on the site", explanation)
    assert.same({ "acme.com" }, { extruct.cell(row, "website") })
    assert.same({ 12 }, { extruct.cell(row, "size") })
    assert.same({ nil, "failed" }, { extruct.cell(row, "grade") })
    assert.same({ nil, "requested" }, { extruct.cell(row, "pending") })
    assert.is_nil(extruct.cell(row, "nothing"))
    assert.is_nil(extruct.cell(row, "missing"))
    assert.same({ "just text", "done" }, { extruct.cell(row, "bare") })
    assert.same({ 1, 2 }, (extruct.cell(row, "listed")))
    assert.same({ nil, "done" }, { extruct.cell(row, "null_answer") })
    -- `source`, as Extruct's n8n node names it, reads like `sources`
    assert.same({ "Bolts", "done", { "https://bolts.example/" } }, { extruct.cell(row, "sourced") })
    assert.same({ city = "Paris" }, (extruct.cell(row, "object_input")))
    -- a row's data map works as well as the row
    assert.equal("Anvils", (extruct.cell(row.data, "summary")))
  end)
end)

describe("Tables API against the offline mock", function()
  local mock, client
  with_mock(function(m, c) mock, client = m, c end)

  it("takes docs/api.md's column configs example as written, and follows the rules it lists", function()
    local block = helpers.read_file("docs/api.md"):match("\n#### Column configs\n.-\n```lua\n(.-)```\n")
    assert.truthy(block)
    local env = setmetatable({ client = client }, { __index = _G })
    local chunk = assert((loadstring or load)(block, "=api.md", "t", env))
    if setfenv then setfenv(chunk, env) end
    chunk()
    local made = assert(client:list_tables{ search = "Leads" })
    assert.equal(1, #made)
    local t = assert(client:get_table(made[1].id))
    local keys = {}
    for i, col in ipairs(t.columns) do keys[i] = col.config.key end
    assert.same({ "input", "company_profile", "company_name", "company_website", "summary", "funding", "fit",
                  "work_email" }, keys)
    -- a rule the text names, refused: a people table's agent on research_pro
    local _, err = client:create_table{ name = "People", kind = "people", column_configs = {
      { kind = "agent", name = "Bio", key = "bio", value = { agent_type = "research_pro", prompt = "Who is {full_name}?" } },
    } }
    assert.equal("validation", err.kind)
    assert.matches("does not fit a people table", err.message, 1, true)
  end)

  local function new_table(name, extra)
    local spec = {
      name = name, kind = "generic",
      column_configs = extruct.array{ column("website"), column("summary", "agent", { value = AGENT }) },
    }
    for k, v in pairs(extra or {}) do spec[k] = v end
    return assert(client:create_table(spec))
  end

  -- Polls until idle on a clock that does not sleep: the mock's runs move
  -- with polls, not with time.
  local function wait(id)
    local clock = helpers.fake_clock()
    return assert(client:wait_until_idle(id, { interval = 1, timeout = 1000, sleep = clock.sleep, now = clock.now }))
  end

  it("answers the health check and the user", function()
    assert.same({ status = "ok" }, assert(client:healthcheck()))
    local user = assert(client:get_user())
    assert.is_string(user.email)
    assert.is_number(user.available_credits)
  end)

  it("creates, reads, updates, lists and deletes a table", function()
    local t = new_table("Leads", { tags = extruct.array{ "q3" }, description = "from the fair" })
    assert.is_string(t.id)
    assert.equal("Leads", t.name)
    assert.equal("generic", t.kind)
    assert.equal("website", t.columns[1].config.key)
    assert.equal("summary", t.columns[2].config.key)
    assert.same(t.id, assert(client:get_table(t.id)).id)

    local updated = assert(client:update_table(t.id, { name = "Leads (Q3)", tags = extruct.array{ "q3", "hot" } }))
    assert.equal("Leads (Q3)", updated.name)
    assert.same({ "q3", "hot" }, updated.tags)
    assert.equal("from the fair", updated.description)

    local found = assert(client:list_tables{ search = "leads (q3", tags = { "hot" } })
    assert.equal(1, #found)
    assert.equal(t.id, found[1].id)

    local deleted = assert(client:delete_table(t.id))
    assert.equal(t.id, deleted.id)
    local gone, err = client:get_table(t.id)
    assert.is_nil(gone)
    assert.equal("not_found", err.kind)
    assert.matches("table '" .. t.id .. "'", err.message, 1, true)
    local again, err2 = client:delete_table(t.id)
    assert.is_nil(again)
    assert.equal("not_found", err2.kind)
  end)

  it("pages through every table with iter_tables, driven by the pagination headers", function()
    local made = {}
    for i = 1, 7 do made[new_table("Batch " .. i, { tags = extruct.array{ "batch" } }).id] = true end
    local page = assert(client:list_tables{ tags = "batch", limit = 3, sort = "name" })
    assert.equal(3, #page)
    assert.equal("Batch 1", page[1].name)
    -- the paging facts come with the response, not as a second value
    assert.same({ total = 7, total_pages = 3, limit = 3, offset = 0, page = 1 }, client.last_response.page)
    assert.equal(200, client.last_response.status)

    local before = #mock:requests()
    local seen = {}
    for t, err in client:iter_tables{ tags = { "batch" }, limit = 3 } do
      assert(t, err and tostring(err))
      assert.is_nil(seen[t.id], "each table once")
      seen[t.id] = true
    end
    assert.same(made, seen)
    assert.equal(3, #mock:requests() - before) -- 3 + 3 + 1: the headers say when to stop
    -- filters the API knows, and a page size it refuses
    -- repeated tags match tables carrying any of them
    assert.equal(7, count(client:iter_tables{ tags = { "batch", "nope" } }))
    assert.equal(0, count(client:iter_tables{ tags = { "nope", "none" } }))
    local refused, err = client:request("GET", "/v1/tables", { query = { limit = 101 } })
    assert.is_nil(refused)
    assert.equal(400, err.status)
  end)

  it("clones a table with its rows, or its columns only", function()
    local t = new_table("Original")
    assert(client:add_rows(t.id, { { website = "a.com" }, { website = "b.com" } }))
    local copy = assert(client:clone_table(t.id))
    assert.are_not.equal(t.id, copy.id)
    assert.equal(2, count(client:iter_rows(copy.id)))
    local schema = assert(client:clone_table(t.id, { schema_only = true }))
    assert.equal(0, count(client:iter_rows(schema.id)))
    local data = assert(client:get_table_data(schema.id))
    assert.equal(2, #data.columns)
    assert.equal("summary", data.columns[2].config.key)
  end)

  it("adds, reads, updates and deletes rows", function()
    local t = new_table("Rows")
    local added = assert(client:add_rows(t.id, {
      { website = "acme.com" },
      { data = { website = "globex.com" }, metadata = { source = "fair" } },
    }))
    assert.equal(2, #added)
    assert.is_string(added[1].id)
    assert.equal("globex.com", extruct.cell(added[2], "website"))

    local row = assert(client:get_row(t.id, added[2].id))
    assert.equal(added[2].id, row.id)
    assert.equal("fair", row.metadata.source)
    assert.is_string(row.status)

    assert(client:update_rows(t.id, { { id = added[1].id, data = { website = "acme.org" } } }))
    assert.equal("acme.org", extruct.cell(assert(client:get_row(t.id, added[1].id)), "website"))

    assert(client:delete_rows(t.id, { added[1].id }))
    local gone, err = client:get_row(t.id, added[1].id)
    assert.is_nil(gone)
    assert.equal("not_found", err.kind)
    assert.matches("row '" .. added[1].id .. "' of table '" .. t.id .. "'", err.message, 1, true)
    assert.equal(1, count(client:iter_rows(t.id)))

    local bad, err2 = client:add_rows(t.id, { { webiste = "typo.com" } })
    assert.is_nil(bad)
    assert.equal("validation", err2.kind)
    assert.matches("webiste", err2.message, 1, true)
  end)

  it("adds, replaces and deletes columns", function()
    local t = new_table("Columns")
    -- (an email finder works from a company_website column)
    local added = assert(client:add_columns(t.id, { column("email", "email_finder"),
                                                    column("company_website", "company_website") },
                                            { insert_after = false }))
    assert.equal(2, #added)
    assert.equal("email", added[1].config.key)
    local keys = {}
    for _, c in ipairs(assert(client:get_table(t.id)).columns) do keys[#keys + 1] = c.config.key end
    assert.same({ "email", "company_website", "website", "summary" }, keys)

    local replaced = assert(client:update_column(t.id, added[1].id, column("email", "email_finder", { name = "Work email" })))
    assert.equal("Work email", replaced.config.name)
    assert(client:delete_column(t.id, added[1].id))
    assert.equal(3, #assert(client:get_table(t.id)).columns)
    local gone, err = client:delete_column(t.id, added[1].id)
    assert.is_nil(gone)
    assert.equal("not_found", err.kind)
  end)

  it("runs a table: cells go from requested to done, answers read with extruct.cell", function()
    local t = new_table("Run")
    local rows = {}
    for i = 1, 12 do rows[i] = { website = ("site%d.com"):format(i) } end
    assert(client:add_rows(t.id, rows))
    local run = assert(client:run_table(t.id, { mode = "new" }))
    assert.is_string(run.id)
    assert.equal(12, run.num_requested_cells) -- 12 rows x 1 output column
    assert.equal("new", run.mode)

    local first = assert(client:get_table_data(t.id, { limit = 50 }))
    local _, status = extruct.cell(first.rows[12], "summary")
    assert.is_true(status == "requested" or status == "in_progress")

    local idle = wait(t.id)
    assert.equal(12, idle.status.num_cells_completed)
    for row, err in client:iter_rows(t.id, { limit = 5 }) do
      assert(row, err and tostring(err))
      local answer, cell_status = extruct.cell(row, "summary")
      assert.equal("done", cell_status)
      assert.is_string(answer)
    end
    -- nothing new to run; "all" runs every output cell again
    assert.equal(0, assert(client:run_table(t.id)).num_requested_cells)
    assert.equal(12, assert(client:run_table(t.id, { mode = "all" })).num_requested_cells)
  end)

  it("reruns failed cells in mode failed", function()
    local t = new_table("Failing")
    local added = assert(client:add_rows(t.id, { { website = "ok.com" }, { website = "fail.example" } }, { run = true }))
    wait(t.id)
    local _, status = extruct.cell(assert(client:get_row(t.id, added[2].id)), "summary")
    assert.equal("failed", status)
    assert.equal("done", select(2, extruct.cell(assert(client:get_row(t.id, added[1].id)), "summary")))
    local rerun = assert(client:run_table(t.id, { mode = "failed" }))
    assert.equal(1, rerun.num_requested_cells)
    wait(t.id)
    assert.equal("done", select(2, extruct.cell(assert(client:get_row(t.id, added[2].id)), "summary")))
  end)

  it("keeps only the columns asked for, in get_table_data and iter_rows", function()
    local t = new_table("Projected", { column_configs = extruct.array{
      column("website"), column("city"), column("summary", "agent", { value = AGENT }) } })
    assert(client:add_rows(t.id, { { website = "a.com", city = "Oslo" }, { website = "b.com", city = "Rome" } }))
    local page = assert(client:get_table_data(t.id, { columns = { "city" } }))
    assert.equal(2, #page.rows)
    for _, row in ipairs(page.rows) do
      assert.is_nil(row.data.website)
      assert.is_nil(row.data.summary)
      assert.is_string(row.data.city)
      assert.is_string(row.id) -- the rest of the row as it came
    end
    assert.equal(3, #page.columns) -- and the header too
    local seen = {}
    for row, err in client:iter_rows(t.id, { columns = { "website", "city" }, limit = 1 }) do
      assert(row, err and tostring(err))
      local keys = {}
      for key in pairs(row.data) do keys[#keys + 1] = key end
      table.sort(keys)
      assert.same({ "city", "website" }, keys)
      seen[#seen + 1] = row.data.website
    end
    assert.same({ "a.com", "b.com" }, seen)
  end)

  it("refuses a column key the table does not have, listing those it has", function()
    local t = new_table("Typo")
    assert(client:add_rows(t.id, { { website = "a.com" } }))
    local page, err = client:get_table_data(t.id, { columns = { "webiste", "website", "nope" } })
    assert.is_nil(page)
    assert.equal("validation", err.kind)
    assert.is_nil(err.status)
    assert.matches("has no columns 'webiste', 'nope'; its column keys are: website, summary", err.message, 1, true)
    assert.same({ "website", "summary" }, err.valid_columns)
    local failures = {}
    for row, err2 in client:iter_rows(t.id, { columns = { "webiste" } }) do
      assert.is_false(row)
      failures[#failures + 1] = err2
    end
    assert.equal(1, #failures)
    assert.equal("validation", failures[1].kind)
    assert.matches("has no column 'webiste'", failures[1].message, 1, true)
  end)

  it("pages rows until a page is shorter than the limit", function()
    local t = new_table("Pages")
    local rows = {}
    for i = 1, 100 do rows[i] = { website = ("s%03d.com"):format(i) } end
    assert(client:add_rows(t.id, rows))
    local before = #mock:requests()
    local order = {}
    for row, err in client:iter_rows(t.id, { limit = 50 }) do
      assert(row, err and tostring(err))
      order[#order + 1] = extruct.cell(row, "website")
    end
    assert.equal(100, #order)
    assert.equal("s001.com", order[1])
    assert.equal("s100.com", order[100])
    assert.equal(3, #mock:requests() - before) -- 50, 50, then an empty page ends it
    assert.equal(40, count(client:iter_rows(t.id, { limit = 30, offset = 60 })))
  end)

  it("hands a failure to the loop once as false, err, then ends", function()
    local t = new_table("Broken")
    local rows = {}
    for i = 1, 6 do rows[i] = { website = ("b%d.com"):format(i) } end
    assert(client:add_rows(t.id, rows))
    local got, failures = 0, {}
    for row, err in client:iter_rows(t.id, { limit = 4 }) do
      if row then
        got = got + 1
        -- the second page meets a server error
        if got == 1 then mock:fault{ path = "/v1/tables/" .. t.id .. "/data", status = 500 } end
      else
        failures[#failures + 1] = err
      end
    end
    assert.equal(4, got)
    assert.equal(1, #failures)
    assert.equal("server", failures[1].kind)

    local missing = {}
    for row, err in client:iter_rows("tbl_missing") do missing[#missing + 1] = { row, err } end
    assert.equal(1, #missing)
    assert.is_false(missing[1][1])
    assert.equal("not_found", missing[1][2].kind)
  end)

  it("stops when a server ignores the offset and repeats a page", function()
    mock:fault{ path = "/v1/tables", count = 5, body = '[{"id": "t1"}, {"id": "t2"}]' }
    local ids, failure = {}, nil
    for t, err in client:iter_tables{ limit = 2 } do
      if t then ids[#ids + 1] = t.id else failure = err end
    end
    assert.same({ "t1", "t2" }, ids)
    assert.equal("decode", failure.kind)
    assert.matches("repeats the previous page", failure.message, 1, true)
  end)

  it("reports validation errors with the field the API named", function()
    local t, err = client:create_table{ name = "Refs", column_configs = {
      column("summary", "agent", { value = { prompt = "What does {webiste} sell?" } }) } }
    assert.is_nil(t)
    assert.equal("validation", err.kind)
    assert.equal(422, err.status)
    assert.matches("body.column_configs.0.value.prompt", err.message, 1, true)
    assert.matches("{webiste}", err.message, 1, true)
    local run, err2 = client:run_table("tbl_idle", { mode = "sometimes" })
    assert.is_nil(run)
    assert.equal("validation", err2.kind)
  end)

  it("works through the module-level shortcuts on the default client", function()
    -- the default client reads the environment: run in a child interpreter
    local script = [[
      local extruct = require("extruct")
      local t = assert(extruct.create_table{ name = "Shortcut", column_configs = extruct.array{
        { kind = "input", name = "Website", key = "website" } } })
      assert(extruct.add_rows(t.id, { { website = "x.com" } }))
      local n = 0
      for row in extruct.iter_rows(t.id) do n = n + 1 end
      io.write(t.id, " ", n, " ", #assert(extruct.list_tables{ search = "shortcut" }))
    ]]
    local out, status = helpers.run_lua(("EXTRUCT_API_TOKEN=%s EXTRUCT_API_URL=%s"):format(mock.token, mock.url), script)
    assert.equal(0, status, out)
    assert.matches("^%S+ 1 1$", out)
  end)
end)
