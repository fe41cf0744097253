-- The `extruct tables` commands beyond get/status/wait (list, create,
-- delete, run, data, rows add), run as a real bin/extruct subprocess
-- against the mock server: their output, the requests they send, and
-- their errors and exit statuses.
local helpers = require("spec.helpers")
local extruct = require("extruct")
local csv = require("extruct.csv")
local cjson = require("cjson")
local output = require("extruct.cli.output")
local tables_commands = require("extruct.cli.tables")
local unpack = table.unpack or unpack

local work = os.tmpname()

local write_file = helpers.write_file

local extruct_run = helpers.run_extruct

local function lines_of(text)
  local list = {}
  for line in text:gmatch("([^\n]*)\n") do list[#list + 1] = line end
  return list
end

-- The query of a logged request as a list of { name, value } in order.
local function query_pairs(query)
  local pairs_ = {}
  for pair in (query or ""):gmatch("[^&]+") do
    local name, value = pair:match("^([^=]*)=?(.*)$")
    value = value:gsub("%+", " "):gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end)
    pairs_[#pairs_ + 1] = { name, value }
  end
  return pairs_
end

local function query_value(query, wanted)
  for _, pair in ipairs(query_pairs(query)) do
    if pair[1] == wanted then return pair[2] end
  end
end

-- The API requests the mock logged (control calls are not logged), by method.
local function api_requests(mock, method, path_prefix)
  local found = {}
  for _, request in ipairs(mock:requests()) do
    if (not method or request.method == method)
      and (not path_prefix or request.path:sub(1, #path_prefix) == path_prefix) then
      found[#found + 1] = request
    end
  end
  return found
end

local function usage_error_checks(out, err, status)
  assert.equal(2, status, err)
  assert.equal("", out)
  assert.matches("^extruct: ", err)
  assert.matches("Run 'extruct[%w ]* %-%-help' for usage%.\n$", err)
end

local COLUMNS = {
  { kind = "input", name = "Company", key = "company" },
  { kind = "input", name = "Employees", key = "employees" },
  { kind = "agent", name = "Summary", key = "summary",
    value = { agent_type = "research_pro", prompt = "Summarise {company}", output_format = "text" } },
}

describe("extruct tables commands", function()
  local mock, client

  lazy_setup(function()
    mock = helpers.start_mock()
    client = helpers.client(mock)
  end)
  lazy_teardown(function()
    if client then client:close() end
    if mock then mock:stop() end
    for _, suffix in ipairs{ "", ".err", ".in", ".csv", ".jsonl", ".json" } do os.remove(work .. suffix) end
  end)
  before_each(function() mock:reset() end)

  -- A new table with the COLUMNS (or columns) and rows (maps of key -> value).
  local function new_table(name, rows, columns)
    local t = assert(client:create_table{ name = name, kind = "generic", column_configs = columns or COLUMNS })
    if rows and #rows > 0 then assert(client:add_rows(t.id, rows)) end
    return t
  end

  describe("tables list", function()
    it("prints every table as an aligned text table under a header", function()
      new_table("Zürich leads")
      new_table("Short")
      local expected = {}
      for t in client:iter_tables() do expected[#expected + 1] = assert(t) end

      local out, err, status = extruct_run(mock, { "tables", "list" })
      assert.equal(0, status, err)
      assert.equal("", err)
      local lines = lines_of(out)
      assert.equal(#expected + 1, #lines)
      assert.matches("^ID +NAME +KIND +CREATED$", lines[1])
      -- the names start in the same column on every line, and so do the
      -- kinds, counted in characters (a "ü" is two bytes, one column)
      local function columns_before(text) return select(2, text:gsub("[^\128-\191]", "")) end
      local name_at = #lines[1]:match("^ID +")
      local kind_at = columns_before(lines[1]:match("^(.-)KIND"))
      for i, t in ipairs(expected) do
        local line = lines[i + 1]
        assert.equal(t.id, line:match("^(%S+)"))
        assert.equal(t.name, line:sub(name_at + 1, name_at + #t.name), line)
        local before_kind = line:sub(1, name_at + #t.name) .. line:sub(name_at + #t.name + 1):match("^( +)")
        assert.equal(kind_at, columns_before(before_kind), line)
        assert.equal(t.kind, line:sub(#before_kind + 1, #before_kind + #t.kind), line)
        local created = "  " .. output.created_text(t.created_at)
        assert.equal(created, line:sub(-#created), line)
      end
      assert.truthy(out:find("Zürich leads", 1, true))
    end)

    it("pages through every table, --page-size a request", function()
      for i = 1, 7 do new_table(("Paged %d"):format(i)) end
      local expected = {}
      for t in client:iter_tables{ limit = 100 } do expected[#expected + 1] = assert(t).id end
      assert.is_true(#expected >= 7)
      local before = #mock:requests()

      local out, err, status = extruct_run(mock, { "tables", "list", "--json", "--page-size", "3" })
      assert.equal(0, status, err)
      local ids = {}
      for _, line in ipairs(lines_of(out)) do
        local t = assert(extruct.decode(line))
        assert.same(cjson.decode(line).id, t.id)
        ids[#ids + 1] = t.id
      end
      assert.same(expected, ids)

      local lists = {}
      for i, request in ipairs(mock:requests()) do
        if i > before then lists[#lists + 1] = request end
      end
      assert.equal(math.ceil(#expected / 3), #lists)
      for page, request in ipairs(lists) do
        assert.equal("/v1/tables", request.path)
        assert.equal("3", query_value(request.query, "limit"))
        assert.equal(tostring((page - 1) * 3), query_value(request.query, "offset"))
      end
    end)

    it("--limit N prints at most N tables and asks for no more than it needs", function()
      for i = 1, 5 do new_table(("Limited %d"):format(i)) end
      local out, err, status = extruct_run(mock, { "tables", "list", "--limit", "2" })
      assert.equal(0, status, err)
      assert.equal(3, #lines_of(out))
      local lists = api_requests(mock, "GET", "/v1/tables")
      assert.equal(1, #lists)
      assert.equal("2", query_value(lists[1].query, "limit"))

      mock:reset()
      for i = 1, 5 do new_table(("Limited %d"):format(i)) end
      out = extruct_run(mock, { "tables", "list", "--limit", "4", "--page-size", "3", "--json" })
      assert.equal(4, #lines_of(out))
      assert.equal(2, #api_requests(mock, "GET", "/v1/tables"))
    end)

    it("passes the filters on, a repeated --tag as repeated parameters", function()
      local out, err, status = extruct_run(mock, { "tables", "list", "--kind", "company", "--scope=personal",
        "--search", "café leads", "--tag", "demo", "--tag", "b2b", "--sort", "-name", "--json" })
      assert.equal(0, status, err)
      local request = api_requests(mock, "GET", "/v1/tables")[1]
      local seen = {}
      for _, pair in ipairs(query_pairs(request.query)) do
        seen[pair[1]] = seen[pair[1]] or {}
        table.insert(seen[pair[1]], pair[2])
      end
      assert.same({ "company" }, seen.kind)
      assert.same({ "personal" }, seen.scope)
      assert.same({ "café leads" }, seen.search)
      assert.same({ "demo", "b2b" }, seen.tags)
      assert.same({ "-name" }, seen.sort)
      -- and the answer is what the filters let through
      for _, line in ipairs(lines_of(out)) do
        local t = assert(extruct.decode(line))
        assert.equal("company", t.kind)
      end
    end)

    it("exits 1 with kind auth on a wrong token, and never shows it", function()
      local secret = "wrong-secret-token-4242"
      local out, err, status = extruct_run(mock, { "tables", "list" }, { env = { EXTRUCT_API_TOKEN = secret } })
      assert.equal(1, status)
      assert.equal("", out)
      assert.matches("^extruct: auth: [^\n]*\n$", err)
      assert.is_nil(err:find(secret, 1, true))
    end)
  end)

  describe("tables create", function()
    local spec = { name = "Created from a file", kind = "company", tags = { "cli" }, column_configs = COLUMNS }

    it("creates the table from a JSON file and prints its id", function()
      write_file(work .. ".json", "\239\187\191" .. cjson.encode(spec))
      local out, err, status = extruct_run(mock, { "tables", "create", work .. ".json" })
      assert.equal(0, status, err)
      local id = out:match("^(%S+)\n$")
      assert.truthy(id, out)
      local t = assert(client:get_table(id))
      assert.equal("Created from a file", t.name)
      assert.equal("company", t.kind)
      assert.equal(#COLUMNS, #t.columns)
      local posted = api_requests(mock, "POST", "/v1/tables")[1]
      assert.same(spec, cjson.decode(posted.body))
    end)

    it("reads standard input for -, and prints the whole table with --json", function()
      local out, err, status = extruct_run(mock, { "tables", "create", "-", "--json", "--compact" },
        { stdin = cjson.encode(spec) })
      assert.equal(0, status, err)
      assert.equal(1, #lines_of(out))
      local t = assert(extruct.decode(out))
      assert.equal("Created from a file", t.name)
      assert.same(assert(client:get_table(t.id)).columns, t.columns)
    end)

    it("a missing file, malformed JSON or a non-object is a usage error that sends nothing", function()
      local out, err, status = extruct_run(mock, { "tables", "create", work .. ".absent" })
      usage_error_checks(out, err, status)
      assert.matches("cannot read .*absent: No such file", err)

      write_file(work .. ".json", '{\n  "name": "x",\n  "kind": company\n}\n')
      out, err, status = extruct_run(mock, { "tables", "create", work .. ".json" })
      usage_error_checks(out, err, status)
      assert.matches(", line 3: not valid JSON", err)

      out, err, status = extruct_run(mock, { "tables", "create", "-" }, { stdin = "[1, 2]" })
      usage_error_checks(out, err, status)
      assert.matches("^extruct: standard input: the table's spec must be a JSON object, not an array", err)

      out, err, status = extruct_run(mock, { "tables", "create" })
      usage_error_checks(out, err, status)
      assert.matches("missing FILE", err)
      assert.same({}, mock:requests())
    end)

    it("exits 1 with kind validation when the API rejects the spec", function()
      local out, err, status = extruct_run(mock, { "tables", "create", "-" }, { stdin = '{"kind": "company"}' })
      assert.equal(1, status, err)
      assert.equal("", out)
      assert.matches("^extruct: validation: [^\n]*name", err)
    end)
  end)

  describe("tables delete", function()
    it("deletes the table and says which", function()
      local t = new_table("Doomed")
      local out, err, status = extruct_run(mock, { "tables", "delete", t.id, "--yes" })
      assert.equal(0, status, err)
      assert.equal(("deleted Doomed (%s)\n"):format(t.id), out)
      local gone, why = client:get_table(t.id)
      assert.is_nil(gone)
      assert.equal("not_found", why.kind)
    end)

    it("--json prints the deleted header", function()
      local t = new_table("Doomed too")
      local out, err, status = extruct_run(mock, { "tables", "delete", t.id, "--json", "--yes" })
      assert.equal(0, status, err)
      assert.equal(t.id, assert(extruct.decode(out)).id)
    end)

    it("exits 1 on an unknown table", function()
      local out, err, status = extruct_run(mock, { "tables", "delete", "tbl_nope", "--yes" })
      assert.equal(1, status)
      assert.equal("", out)
      assert.matches("^extruct: not_found: table 'tbl_nope' ", err)
    end)
  end)

  describe("tables run", function()
    it("starts a run and prints its id, the cells requested and the mode", function()
      local t = new_table("To run", { { company = "acme.com" }, { company = "globex.com" } })
      local out, err, status = extruct_run(mock, { "tables", "run", t.id })
      assert.equal(0, status, err)
      local run_id, cells, mode = out:match("^(%S+): (%d+) cells? requested %(mode (%a+)%)\n$")
      assert.truthy(run_id, out)
      assert.equal("new", mode)
      -- one output column, two rows
      assert.equal(2, tonumber(cells))
      local posted = api_requests(mock, "POST", "/v1/tables/" .. t.id .. "/run")[1]
      assert.same({ mode = "new" }, cjson.decode(posted.body))
    end)

    it("sends --mode, --rows and --columns, and prints the run as JSON with --json", function()
      local t = new_table("To run", { { company = "acme.com" }, { company = "globex.com" } })
      local rows = assert(client:get_table_data(t.id)).rows
      local full = assert(client:get_table(t.id))
      local column_id = full.columns[3].id
      local out, err, status = extruct_run(mock, { "tables", "run", t.id, "--mode", "all",
        "--rows", rows[1].id .. ", " .. rows[2].id, "--columns=" .. column_id, "--json" })
      assert.equal(0, status, err)
      local run = assert(extruct.decode(out))
      assert.equal("all", run.mode)
      assert.equal(2, run.num_requested_cells)
      local posted = api_requests(mock, "POST", "/v1/tables/" .. t.id .. "/run")[1]
      assert.same({ mode = "all", rows = { rows[1].id, rows[2].id }, columns = { column_id } },
        cjson.decode(posted.body))
    end)

    it("--wait waits like tables wait: the run and progress on stderr, the idle table on stdout", function()
      local t = new_table("To wait for", { { company = "acme.com" }, { company = "globex.com" } })
      local out, err, status = extruct_run(mock, { "tables", "run", t.id, "--wait", "--interval", "0.05" })
      assert.equal(0, status, err)
      local idle = assert(extruct.decode(out))
      assert.is_true(extruct.is_idle(idle))
      assert.equal(t.id, idle.id)
      local err_lines = lines_of(err)
      assert.matches("^[%w_-]+: 2 cells requested %(mode new%)$", err_lines[1])
      assert.matches("^" .. t.id .. ": idle, %d+/%d+ cells, 100%%, elapsed ", err_lines[#err_lines])
    end)

    it("--wait exits 3 when the run outlasts --timeout", function()
      local rows = {}
      for i = 1, 60 do rows[i] = { company = ("c%d.com"):format(i) } end
      local t = new_table("Slow", rows)
      local out, err, status = extruct_run(mock, { "tables", "run", t.id, "--wait", "--interval", "0.05",
        "--timeout", "0", "--quiet" })
      assert.equal(3, status, err)
      assert.equal("", out)
      assert.matches("^extruct: timeout: table '" .. t.id .. "' was still running", err)
    end)

    it("rejects a bad mode or wait options without --wait, sending nothing", function()
      local out, err, status = extruct_run(mock, { "tables", "run", "tbl_x", "--mode", "everything" })
      usage_error_checks(out, err, status)
      assert.matches("option %-%-mode wants new, all, failed or stuck_failed_new, got 'everything'", err)
      out, err, status = extruct_run(mock, { "tables", "run", "tbl_x", "--timeout", "5" })
      usage_error_checks(out, err, status)
      assert.matches("option %-%-timeout needs %-%-wait", err)
      out, err, status = extruct_run(mock, { "tables", "run", "tbl_x", "--rows", "," })
      usage_error_checks(out, err, status)
      assert.same({}, mock:requests())
    end)

    it("exits 1 on an unknown table", function()
      local out, err, status = extruct_run(mock, { "tables", "run", "tbl_nope", "--wait" })
      assert.equal(1, status)
      assert.equal("", out)
      assert.matches("^extruct: not_found: ", err)
    end)
  end)

  describe("tables rows add", function()
    local function stored_rows(id)
      local rows = {}
      for row in client:iter_rows(id) do rows[#rows + 1] = assert(row) end
      return rows
    end

    it("adds JSON lines in batches and prints the count", function()
      local t = new_table("Rows")
      write_file(work .. ".jsonl", table.concat({
        '{"company": "acme.com", "employees": 12}',
        '',
        '{"data": {"company": "globex.com"}, "metadata": {"source": "crm"}}',
        '   ',
        '{"company": "initech.com"}\r',
        '{"company": "umbrella.com"}',
        '{"company": "hooli.com"}',
      }, "\n"))
      local out, err, status = extruct_run(mock, { "tables", "rows", "add", t.id, work .. ".jsonl", "--batch", "2" })
      assert.equal(0, status, err)
      assert.equal(("added 5 rows to %s\n"):format(t.id), out)
      local posts = api_requests(mock, "POST", "/v1/tables/" .. t.id .. "/rows")
      assert.equal(3, #posts)
      local first = cjson.decode(posts[1].body)
      assert.same({ { data = { company = "acme.com", employees = 12 } },
                    { data = { company = "globex.com" }, metadata = { source = "crm" } } }, first.rows)
      assert.is_false(first.run)
      local rows = stored_rows(t.id)
      assert.equal(5, #rows)
      assert.equal("hooli.com", rows[5].data.company)
      assert.equal("crm", rows[2].metadata.source)
    end)

    it("adds CSV rows: quoted commas, quotes and line breaks, CRLF, a BOM, empty fields left out", function()
      local t = new_table("Rows")
      write_file(work .. ".csv", "\239\187\191company,employees\r\n"
        .. '"Acme, Inc.",12\r\n'
        .. '"Say ""hi"" Ltd",\r\n'
        .. '"Two\nlines",7\r\n')
      local out, err, status = extruct_run(mock, { "tables", "rows", "add", t.id, work .. ".csv" })
      assert.equal(0, status, err)
      assert.equal(("added 3 rows to %s\n"):format(t.id), out)
      local body = cjson.decode(api_requests(mock, "POST", "/v1/tables/" .. t.id .. "/rows")[1].body)
      assert.same({
        { data = { company = "Acme, Inc.", employees = "12" } },
        { data = { company = 'Say "hi" Ltd' } },
        { data = { company = "Two\nlines", employees = "7" } },
      }, body.rows)
    end)

    it("reads standard input with --format, sends run = true with --run, prints rows with --json", function()
      local t = new_table("Rows")
      local out, err, status = extruct_run(mock, { "tables", "rows", "add", t.id, "-", "--format", "csv", "--run",
        "--json" }, { stdin = "company\nacme.com\nglobex.com\n" })
      assert.equal(0, status, err)
      local lines = lines_of(out)
      assert.equal(2, #lines)
      local stored = stored_rows(t.id)
      for i, line in ipairs(lines) do
        local row = assert(extruct.decode(line))
        assert.equal(stored[i].id, row.id)
      end
      assert.is_true(cjson.decode(api_requests(mock, "POST", "/v1/tables/" .. t.id .. "/rows")[1].body).run)
    end)

    it("reads a .json file holding one JSON array of rows", function()
      local t = new_table("Rows")
      write_file(work .. ".json", '[\n  {"company": "acme.com"},\n  {"company": "globex.com"}\n]\n')
      local out, err, status = extruct_run(mock, { "tables", "rows", "add", t.id, work .. ".json" })
      assert.equal(0, status, err)
      assert.equal(("added 2 rows to %s\n"):format(t.id), out)
      assert.equal(2, #stored_rows(t.id))
    end)

    it("a malformed line is a usage error naming it, and nothing is sent", function()
      local t = new_table("Rows")
      local before = #mock:requests()
      local cases = {
        { file = ".csv", text = 'company,employees\nacme.com,1\nglobex.com,2,3\n', says = ", line 3: 3 fields" },
        { file = ".csv", text = 'company\nacme.com\n"open\n\n', says = ", line 3: a quoted field is never closed" },
        { file = ".csv", text = 'company,company\nx,y\n', says = ", line 1: the header names the column key 'company' twice" },
        { file = ".csv", text = 'company,\nx,y\n', says = ", line 1: the header's field 2 is empty" },
        { file = ".jsonl", text = '{"company": "a"}\n\n{"company": b}\n', says = ", line 3: not valid JSON" },
        { file = ".jsonl", text = '{"company": "a"}\n["b"]\n', says = ", line 2: a row must be a JSON object, not an array" },
        { file = ".jsonl", text = '{"data": {"company": "a"}, "metadata": 3}\n',
          says = ", line 1: the row's metadata must be an object, not a number" },
        { file = ".json", text = '[{"company": "a"},\n 7]', says = ": item 2 of the array: a row must be a JSON object" },
        { file = ".json", text = '[{"company": "a"},\n\n {"company": }]', says = ", line 3: not valid JSON" },
      }
      for _, case in ipairs(cases) do
        write_file(work .. case.file, case.text)
        local out, err, status = extruct_run(mock, { "tables", "rows", "add", t.id, work .. case.file })
        usage_error_checks(out, err, status)
        assert.truthy(err:find("extruct: " .. work .. case.file .. case.says, 1, true), err)
      end
      assert.equal(before, #mock:requests())
    end)

    it("needs a format it can tell, a readable file, and both arguments", function()
      local out, err, status = extruct_run(mock, { "tables", "rows", "add", "tbl_x", "-" })
      usage_error_checks(out, err, status)
      assert.matches("cannot tell the format of standard input from its name: pass %-%-format", err)
      out, err, status = extruct_run(mock, { "tables", "rows", "add", "tbl_x", work .. ".absent.csv" })
      usage_error_checks(out, err, status)
      assert.matches("cannot read .*absent%.csv: No such file", err)
      out, err, status = extruct_run(mock, { "tables", "rows", "add", "tbl_x" })
      usage_error_checks(out, err, status)
      assert.matches("missing FILE", err)
      out, err, status = extruct_run(mock, { "tables", "rows", "add", "tbl_x", "a.csv", "b.csv" })
      usage_error_checks(out, err, status)
      assert.matches("unexpected argument 'b.csv'", err)
      out, err, status = extruct_run(mock, { "tables", "rows", "add", "tbl_x", "a.csv", "--batch", "0" })
      usage_error_checks(out, err, status)
      assert.same({}, mock:requests())
    end)

    it("exits 1 on an unknown table", function()
      write_file(work .. ".csv", "company\na\nb\nc\n")
      local out, err, status = extruct_run(mock, { "tables", "rows", "add", "tbl_nope", work .. ".csv" })
      assert.equal(1, status)
      assert.equal("", out)
      assert.matches("^extruct: not_found: table 'tbl_nope' ", err)
      assert.is_nil(err:find("were added", 1, true))
    end)
    it("exits 1 when a batch fails, saying how many rows went in before it", function()
      local t = new_table("Rows")
      -- the API takes the first two rows; the third names a column the table lacks
      write_file(work .. ".csv", "company,colour\nacme.com,\nglobex.com,\ninitech.com,red\n")
      local out, err, status = extruct_run(mock, { "tables", "rows", "add", t.id, work .. ".csv", "--batch", "2" })
      assert.equal(1, status)
      assert.equal("", out)
      assert.matches("^extruct: validation: [^\n]*colour[^\n]*%(2 of 3 rows were added before this failure%)\n$", err)
      assert.equal(2, #stored_rows(t.id))
      assert.equal(2, #api_requests(mock, "POST", "/v1/tables/" .. t.id .. "/rows"))
    end)
  end)

  describe("tables data", function()
    local function idle_table(name, rows, columns)
      local t = new_table(name, rows, columns)
      assert(client:run_table(t.id))
      assert(client:wait_until_idle(t.id, { interval = 0.01, timeout = 30 }))
      return t
    end

    it("prints every row as JSON lines, as the API returns them", function()
      local rows = {}
      for i = 1, 7 do rows[i] = { company = ("c%d.com"):format(i) } end
      local t = idle_table("Data", rows)
      local expected = {}
      for row in client:iter_rows(t.id) do expected[#expected + 1] = assert(row) end
      local before = #mock:requests()

      local out, err, status = extruct_run(mock, { "tables", "data", t.id, "--page-size", "3" })
      assert.equal(0, status, err)
      local lines = lines_of(out)
      assert.equal(7, #lines)
      for i, line in ipairs(lines) do
        assert.same(expected[i], assert(extruct.decode(line)))
      end
      -- three pages: 3, 3 and the short one that ends the paging
      local pages = {}
      for i, request in ipairs(mock:requests()) do
        if i > before then pages[#pages + 1] = query_value(request.query, "offset") end
      end
      assert.same({ "0", "3", "6" }, pages)
    end)

    it("--limit N prints at most N rows", function()
      local rows = {}
      for i = 1, 6 do rows[i] = { company = ("c%d.com"):format(i) } end
      local t = new_table("Data", rows)
      local out, err, status = extruct_run(mock, { "tables", "data", t.id, "--limit", "4", "--page-size", "2" })
      assert.equal(0, status, err)
      assert.equal(4, #lines_of(out))
    end)

    it("prints CSV: column keys in order, answers as text, quoting where needed", function()
      local columns = {
        { kind = "input", name = "Company", key = "company" },
        { kind = "input", name = "Employees", key = "employees" },
        { kind = "input", name = "Public", key = "public" },
        { kind = "input", name = "Tags", key = "tags" },
        COLUMNS[3],
      }
      local t = idle_table("Export", {
        { company = "Acme, Inc.", employees = 12, public = true, tags = { "a", "b" } },
        { company = 'Say "hi"\nLtd', employees = 2.5, public = false },
        { company = "fail.example", tags = extruct.array() },
        { company = "" },
      }, columns)
      local expected = {}
      for row in client:iter_rows(t.id) do expected[#expected + 1] = assert(row) end

      local out, err, status = extruct_run(mock, { "tables", "data", t.id, "--format", "csv" })
      assert.equal(0, status, err)
      local records = assert(csv.parse(out))
      assert.same({ "company", "employees", "public", "tags", "summary" }, records[1])
      assert.equal(#expected + 1, #records)
      for i, row in ipairs(expected) do
        local want = {}
        for c, column in ipairs(columns) do want[c] = tables_commands.cell_text(extruct, row, column.key) end
        assert.same(want, records[i + 1])
      end
      -- the quoting and the text of numbers, booleans and arrays, byte for byte
      assert.truthy(out:find('\n"Acme, Inc.",12,true,"[""a"",""b""]",', 1, true), out)
      assert.truthy(out:find('\n"Say ""hi""\nLtd",2.5,false,,', 1, true), out)
      -- the row whose input holds "fail": its output cell failed, an empty field
      local _, failed_status = extruct.cell(expected[3], "summary")
      assert.equal("failed", failed_status)
      assert.truthy(out:find("\nfail.example,,,[],\n", 1, true), out)
      -- a done answer is there
      assert.is_true(#records[2][5] > 0)
    end)

    it("--id puts the row id first", function()
      local t = new_table("Export", { { company = "acme.com" } })
      local row = assert(client:get_table_data(t.id)).rows[1]
      local out, err, status = extruct_run(mock, { "tables", "data", t.id, "--format=csv", "--id" })
      assert.equal(0, status, err)
      local records = assert(csv.parse(out))
      assert.same({ "id", "company", "employees", "summary" }, records[1])
      assert.equal(row.id, records[2][1])
      assert.equal("acme.com", records[2][2])
    end)

    it("exits 1 on an unknown table and on a wrong token, with nothing on stdout", function()
      local out, err, status = extruct_run(mock, { "tables", "data", "tbl_nope", "--format", "csv" })
      assert.equal(1, status)
      assert.equal("", out)
      assert.matches("^extruct: not_found: table 'tbl_nope' ", err)

      out, err, status = extruct_run(mock, { "tables", "data", "tbl_demo" }, { env = { EXTRUCT_API_TOKEN = "nope" } })
      assert.equal(1, status)
      assert.equal("", out)
      assert.matches("^extruct: auth: ", err)
    end)
  end)

  describe("command words and help", function()
    it("names what is missing or unknown at each level", function()
      local cases = {
        { args = { "tables", "rows" }, says = "missing subcommand of tables rows: add", hint = "tables rows" },
        { args = { "tables", "rows", "drop", "x" }, says = "unknown subcommand 'drop' of tables rows", hint = "tables rows" },
        { args = { "tables", "list", "extra" }, says = "unexpected argument 'extra'", hint = "tables list" },
        { args = { "tables", "delete" }, says = "missing table ID", hint = "tables delete" },
        { args = { "tables", "data", "x", "--id" }, says = "option --id needs --format csv", hint = "tables data" },
        { args = { "tables", "list", "--page-size", "101" }, says = "--page-size is at most 100", hint = "tables list" },
        { args = { "tables", "list", "--limit", "0" }, says = "option --limit wants a whole number >= 1",
          hint = "tables list" },
        { args = { "tables", "list", "--kind", "robots" }, says = "option --kind wants generic, company or people",
          hint = "tables list" },
        { args = { "tables", "get", "x", "--json" }, says = "option --json does not apply to 'tables get'",
          hint = "tables get" },
        { args = { "tables", "create", "f.json", "--pretty" }, says = "option --pretty needs --json",
          hint = "tables create" },
      }
      for _, case in ipairs(cases) do
        local out, err, status = extruct_run(mock, case.args)
        usage_error_checks(out, err, status)
        assert.truthy(err:find("extruct: " .. case.says, 1, true), err)
        assert.truthy(err:find("Run 'extruct " .. case.hint .. " --help' for usage.", 1, true), err)
      end
      assert.same({}, mock:requests())
    end)

    it("every new command has its help, and the top level lists them", function()
      local top = extruct_run(nil, { "--help" })
      for _, command in ipairs{ "tables list", "tables create FILE", "tables delete ID", "tables run ID",
                                "tables data ID", "tables rows add ID FILE" } do
        assert.truthy(top:find("  " .. command .. " ", 1, true), command)
      end
      local tables = extruct_run(nil, { "tables", "--help" })
      for _, sub in ipairs{ "list", "create FILE", "delete ID", "run ID", "data ID", "rows add ID FILE" } do
        assert.truthy(tables:find("\n  " .. sub .. " ", 1, true), sub)
      end
      local topics = {
        ["tables list"] = { "--kind K", "--tag T", "--limit N", "--page-size N", "--json" },
        ["tables create"] = { "FILE", "--json" },
        ["tables delete"] = { "--json" },
        ["tables run"] = { "--mode MODE", "--rows IDS", "--columns IDS", "--wait", "--timeout S", "--quiet" },
        ["tables data"] = { "--format FORMAT", "--id", "--limit N" },
        ["tables rows add"] = { "--format FORMAT", "--batch N", "--run", "byte order mark" },
        ["tables rows"] = { "add ID FILE" },
      }
      for topic, texts in pairs(topics) do
        local words = {}
        for word in topic:gmatch("%S+") do words[#words + 1] = word end
        local out, err, status = extruct_run(nil, { "help", unpack(words) })
        assert.equal(0, status, err)
        assert.matches("^usage: extruct " .. topic, out)
        for _, text in ipairs(texts) do assert.truthy(out:find(text, 1, true), topic .. ": " .. text) end
        words[#words + 1] = "--help"
        assert.equal(out, (extruct_run(nil, words)))
      end
    end)
  end)
end)

describe("extruct.cli pieces for the tables commands", function()
  it("aligns text columns by characters, not bytes, with no trailing blanks", function()
    local text = output.aligned{ { "ID", "NAME", "KIND" }, { "t1", "Démo", "company" }, { "t22", "x", "people" } }
    assert.equal("ID   NAME  KIND\nt1   Démo  company\nt22  x     people\n", text)
  end)

  it("shortens UTC creation times to the minute, leaves others as they are", function()
    assert.equal("2025-01-15 09:30", output.created_text("2025-01-15T09:30:00.000000Z"))
    assert.equal("2025-01-15 09:30", output.created_text("2025-01-15T09:30:59+00:00"))
    assert.equal("2025-01-15T09:30:00+02:00", output.created_text("2025-01-15T09:30:00+02:00"))
    assert.equal("", output.created_text(nil))
  end)

  it("turns cells into CSV text", function()
    local row = { data = {
      s = "text", n = 3, f = 0.1, big = 2 ^ 60, yes = true, list = extruct.array{ 1, "a" },
      obj = { k = "v" }, null = extruct.null,
      done = { status = "done", value = { answer = "Acme sells anvils", sources = extruct.array{ "https://a" } } },
      failed = { status = "failed", value = { answer = "stale" } },
      pending = { status = "requested", value = extruct.null },
      number = { status = "done", value = { answer = 42 } },
    } }
    local function text(key) return tables_commands.cell_text(extruct, row, key) end
    assert.equal("text", text("s"))
    assert.equal("3", text("n"))
    assert.equal("0.1", text("f"))
    assert.equal(2 ^ 60, tonumber(text("big")))
    assert.equal("true", text("yes"))
    assert.equal('[1,"a"]', text("list"))
    assert.equal('{"k":"v"}', text("obj"))
    assert.equal("", text("null"))
    assert.equal("", text("missing"))
    assert.equal("Acme sells anvils", text("done"))
    assert.equal("", text("failed"))
    assert.equal("", text("pending"))
    assert.equal("42", text("number"))
  end)

  it("describes a run in one line", function()
    assert.equal("run_1: 50 cells requested (mode new)",
      tables_commands.run_line{ id = "run_1", num_requested_cells = 50, mode = "new" })
    assert.equal("run_2: 1 cell requested", tables_commands.run_line{ id = "run_2", num_requested_cells = 1 })
    assert.equal(": ? cells requested", tables_commands.run_line{})
  end)
end)
