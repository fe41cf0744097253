-- The `extruct tables` commands that do not wait (list, get, status,
-- create, update, clone, delete, run, data), run as a real bin/extruct subprocess against
-- the mock server: their output, the requests they send, their errors and
-- exit statuses; and the pieces that format their output.
local helpers = require("spec.helpers")
local support = require("spec.support.cli")
local extruct = require("extruct")
local csv = require("extruct.csv")
local cjson = require("cjson")
local output = require("extruct.cli.output")
local tables_commands = require("extruct.cli.tables")

local run_extruct, lines_of = support.run_extruct, support.lines_of
local write_file = helpers.write_file
local api_requests, query_value, query_pairs = support.api_requests, support.query_value, support.query_pairs
local COLUMNS = support.COLUMNS

describe("extruct tables commands", function()
  local mock, client, work
  support.against_mock({ ".json" }, function(s) mock, client, work = s.mock, s.client, s.work end)

  describe("tables get", function()
    it("prints the table as one compact JSON document, equal to what get_table returns", function()
      local out, err, status = run_extruct(mock, { "tables", "get", "tbl_idle" })
      assert.equal(0, status, err)
      assert.equal("", err)
      assert.equal(1, select(2, out:gsub("\n", "")), "one line when stdout is not a terminal")
      local expected = assert(client:get_table("tbl_idle"))
      assert.same(expected, assert(extruct.decode(out)))
      assert.same(cjson.decode(out), assert(extruct.decode(out)))
    end)
  end)

  describe("tables status", function()
    it("prints name, id, run status, cells done/total and percent", function()
      local out, err, status = run_extruct(mock, { "tables", "status", "tbl_idle" })
      assert.equal(0, status, err)
      assert.equal("Idle table (tbl_idle): idle, 30/30 cells, 100%\n", out)

      -- tbl_demo's first poll after a reset: a third of its cells done
      local t = assert(client:get_table("tbl_demo"))
      mock:reset()
      local done, total = t.status.num_cells_completed, t.status.num_cells_completed + t.status.num_cells_in_progress
      out = run_extruct(mock, { "tables", "status", "tbl_demo" })
      assert.equal(("%s (tbl_demo): running, %d/%d cells, %d%%\n"):format(t.name, done, total, math.floor(done * 100 / total)),
        out)
    end)

    local function served(body)
      mock:fault{ path = "/v1/tables/", status = 200, body = cjson.encode(body) }
      local out, err, status = run_extruct(mock, { "tables", "status", "tbl_odd" })
      assert.equal(0, status, err)
      return out
    end

    it("copes with missing counts, zero cells, failed cells and a name on two lines", function()
      assert.equal("tbl_odd: unknown status, 0/0 cells, 0%\n", served{ id = "tbl_odd" })
      assert.equal("Empty (tbl_odd): idle, 0/0 cells, 100%\n",
        served{ name = "Empty", status = { run_status = "idle", num_cells_completed = 0, num_cells_in_progress = 0 } })
      assert.equal("Two lines (tbl_odd): running, 1/3 cells, 33%, 2 failed\n", served{
        name = "Two\nlines",
        status = { run_status = "running", num_cells_completed = 1, num_cells_in_progress = 2, num_cells_failed = 2 } })
      -- 99.6% is not done: the percent rounds down
      assert.equal("tbl_odd: running, 249/250 cells, 99%\n", served{
        name = "  ", status = { run_status = "running", num_cells_completed = 249, num_cells_in_progress = 1 } })
    end)
  end)

  describe("tables list", function()
    it("prints every table as an aligned text table under a header", function()
      support.new_table(client, "Zürich leads")
      support.new_table(client, "Short")
      local expected = {}
      for t in client:iter_tables() do expected[#expected + 1] = assert(t) end

      local out, err, status = run_extruct(mock, { "tables", "list", "--format", "table" })
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
      for i = 1, 7 do support.new_table(client, ("Paged %d"):format(i)) end
      local expected = {}
      for t in client:iter_tables{ limit = 100 } do expected[#expected + 1] = assert(t).id end
      assert.is_true(#expected >= 7)
      local before = #mock:requests()

      local out, err, status = run_extruct(mock, { "tables", "list", "--json", "--page-size", "3" })
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
      for i = 1, 5 do support.new_table(client, ("Limited %d"):format(i)) end
      local out, err, status = run_extruct(mock, { "tables", "list", "--limit", "2", "--format", "table" })
      assert.equal(0, status, err)
      assert.equal(3, #lines_of(out))
      local lists = api_requests(mock, "GET", "/v1/tables")
      assert.equal(1, #lists)
      assert.equal("2", query_value(lists[1].query, "limit"))

      mock:reset()
      for i = 1, 5 do support.new_table(client, ("Limited %d"):format(i)) end
      out = run_extruct(mock, { "tables", "list", "--limit", "4", "--page-size", "3", "--json" })
      assert.equal(4, #lines_of(out))
      assert.equal(2, #api_requests(mock, "GET", "/v1/tables"))
    end)

    it("passes the filters on, a repeated --tag as repeated parameters", function()
      local out, err, status = run_extruct(mock, { "tables", "list", "--kind", "company", "--scope=personal",
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
      assert.is_nil(query_value(request.query, "view"))
    end)

    it("--view passes view to the API", function()
      local out, err, status = run_extruct(mock, { "tables", "list", "--view", "minimal", "--json" })
      assert.equal(0, status, err)
      assert.equal("minimal", query_value(api_requests(mock, "GET", "/v1/tables")[1].query, "view"))
      assert.is_true(#lines_of(out) > 0)
    end)

    it("--json --pretty prints each table indented, one document after another", function()
      local out, err, status = run_extruct(mock, { "tables", "list", "--json", "--pretty", "--limit", "2" })
      assert.equal(0, status, err)
      local documents = {}
      for document in out:gmatch("(\n?{\n.-\n})") do documents[#documents + 1] = assert(extruct.decode(document)) end
      assert.equal(2, #documents)
      local compact = lines_of((run_extruct(mock, { "tables", "list", "--json", "--limit", "2" })))
      assert.same(assert(extruct.decode(compact[2])), documents[2])
    end)
  end)

  describe("tables create", function()
    local spec = { name = "Created from a file", kind = "generic", tags = { "cli" }, column_configs = COLUMNS }

    it("creates the table from a JSON file and prints its id", function()
      write_file(work .. ".json", "\239\187\191" .. cjson.encode(spec))
      local out, err, status = run_extruct(mock, { "tables", "create", work .. ".json" })
      assert.equal(0, status, err)
      local id = out:match("^(%S+)\n$")
      assert.truthy(id, out)
      local t = assert(client:get_table(id))
      assert.equal("Created from a file", t.name)
      assert.equal("generic", t.kind)
      assert.equal(#COLUMNS, #t.columns)
      local posted = api_requests(mock, "POST", "/v1/tables")[1]
      assert.same(spec, cjson.decode(posted.body))
    end)

    it("reads standard input for -, and prints the whole table with --json", function()
      local out, err, status = run_extruct(mock, { "tables", "create", "-", "--json", "--compact" },
        { stdin = cjson.encode(spec) })
      assert.equal(0, status, err)
      assert.equal(1, #lines_of(out))
      local t = assert(extruct.decode(out))
      assert.equal("Created from a file", t.name)
      assert.same(assert(client:get_table(t.id)).columns, t.columns)
    end)

    it("a missing file, malformed JSON or a non-object is a usage error that sends nothing", function()
      local out, err, status = run_extruct(mock, { "tables", "create", work .. ".absent" })
      support.assert_usage_error(out, err, status)
      assert.matches("cannot read .*absent: No such file", err)

      write_file(work .. ".json", '{\n  "name": "x",\n  "kind": company\n}\n')
      out, err, status = run_extruct(mock, { "tables", "create", work .. ".json" })
      support.assert_usage_error(out, err, status)
      assert.matches(", line 3: not valid JSON", err)

      out, err, status = run_extruct(mock, { "tables", "create", "-" }, { stdin = "[1, 2]" })
      support.assert_usage_error(out, err, status)
      assert.matches("^extruct: standard input: the table's spec must be a JSON object, not an array", err)

      out, err, status = run_extruct(mock, { "tables", "create" })
      support.assert_usage_error(out, err, status)
      assert.matches("missing FILE", err)
      assert.same({}, mock:requests())
    end)

    it("exits 1 with kind validation when the API rejects the spec", function()
      local out, err, status = run_extruct(mock, { "tables", "create", "-" }, { stdin = '{"kind": "company",'
        .. ' "column_configs": [{"kind": "agent", "name": "Pitch", "key": "pitch", "value": {"prompt": "Pitch {nobody}"}}]}' })
      assert.equal(1, status, err)
      assert.equal("", out)
      assert.matches("^extruct: validation: [^\n]*{nobody}", err)
    end)
  end)

  describe("tables update", function()
    it("sends only the fields given and prints one line", function()
      local t = support.new_table(client, "Before")
      local out, err, status = run_extruct(mock, { "tables", "update", t.id, "--name", "After" })
      assert.equal(0, status, err)
      assert.equal(("updated After (%s)\n"):format(t.id), out)
      local patches = api_requests(mock, "PATCH", "/v1/tables/" .. t.id)
      assert.equal(1, #patches)
      assert.same({ name = "After" }, cjson.decode(patches[1].body))
      assert.equal("After", assert(client:get_table(t.id)).name)
    end)

    it("replaces the tags with the --tag values and the description; --json prints the header", function()
      local t = assert(client:create_table{ name = "Tagged", kind = "generic", tags = { "old" } })
      local out, err, status = run_extruct(mock, { "tables", "update", t.id, "--tag", "demo", "--tag", "q3",
        "--description", "Leads for Q3", "--json" })
      assert.equal(0, status, err)
      local printed = assert(extruct.decode(out))
      assert.same({ "demo", "q3" }, printed.tags)
      assert.equal("Leads for Q3", printed.description)
      assert.same({ tags = { "demo", "q3" }, description = "Leads for Q3" },
        cjson.decode(api_requests(mock, "PATCH", "/v1/tables/" .. t.id)[1].body))
      assert.same({ "demo", "q3" }, assert(client:get_table(t.id)).tags)
    end)

    it("exits 1 on an unknown table", function()
      local out, err, status = run_extruct(mock, { "tables", "update", "tbl_nope", "--name", "x" })
      assert.equal(1, status)
      assert.equal("", out)
      assert.matches("^extruct: not_found: table 'tbl_nope' ", err)
    end)
  end)

  describe("tables clone", function()
    it("copies the table with its rows and prints the copy's id", function()
      local t = support.new_table(client, "Original", { { company = "acme.com" }, { company = "globex.com" } })
      local out, err, status = run_extruct(mock, { "tables", "clone", t.id })
      assert.equal(0, status, err)
      local id = out:match("^(%S+)\n$")
      assert.truthy(id, out)
      assert.not_equal(t.id, id)
      local posts = api_requests(mock, "POST", "/v1/tables/" .. t.id .. "/clone")
      assert.equal(1, #posts)
      assert.is_nil(query_value(posts[1].query, "schema_only"))
      assert.equal(2, #assert(client:get_table_data(id)).rows)
    end)

    it("--schema-only copies the columns only; --json prints the copy's header", function()
      local t = support.new_table(client, "Original", { { company = "acme.com" } })
      local out, err, status = run_extruct(mock, { "tables", "clone", t.id, "--schema-only", "--json" })
      assert.equal(0, status, err)
      local copy = assert(extruct.decode(out))
      assert.equal(3, #copy.columns)
      assert.equal("true", query_value(api_requests(mock, "POST", "/v1/tables/" .. t.id .. "/clone")[1].query,
        "schema_only"))
      assert.equal(0, #assert(client:get_table_data(copy.id)).rows)
    end)

    it("exits 1 on an unknown table", function()
      local out, err, status = run_extruct(mock, { "tables", "clone", "tbl_nope" })
      assert.equal(1, status)
      assert.equal("", out)
      assert.matches("^extruct: not_found: table 'tbl_nope' ", err)
    end)
  end)

  describe("tables delete", function()
    it("deletes the table and says which", function()
      local t = support.new_table(client, "Doomed")
      local out, err, status = run_extruct(mock, { "tables", "delete", t.id, "--yes" })
      assert.equal(0, status, err)
      assert.equal(("deleted Doomed (%s)\n"):format(t.id), out)
      local gone, why = client:get_table(t.id)
      assert.is_nil(gone)
      assert.equal("not_found", why.kind)
    end)

    it("--json prints the deleted header", function()
      local t = support.new_table(client, "Doomed too")
      local out, err, status = run_extruct(mock, { "tables", "delete", t.id, "--json", "--yes" })
      assert.equal(0, status, err)
      assert.equal(t.id, assert(extruct.decode(out)).id)
    end)

    it("exits 1 on an unknown table", function()
      local out, err, status = run_extruct(mock, { "tables", "delete", "tbl_nope", "--yes" })
      assert.equal(1, status)
      assert.equal("", out)
      assert.matches("^extruct: not_found: table 'tbl_nope' ", err)
    end)
  end)

  describe("tables run", function()
    it("starts a run and prints its id, the cells requested and the mode", function()
      local t = support.new_table(client, "To run", { { company = "acme.com" }, { company = "globex.com" } })
      local out, err, status = run_extruct(mock, { "tables", "run", t.id })
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
      local t = support.new_table(client, "To run", { { company = "acme.com" }, { company = "globex.com" } })
      local rows = assert(client:get_table_data(t.id)).rows
      local full = assert(client:get_table(t.id))
      local column_id = full.columns[3].id
      local out, err, status = run_extruct(mock, { "tables", "run", t.id, "--mode", "all",
        "--rows", rows[1].id .. ", " .. rows[2].id, "--columns=" .. column_id, "--json" })
      assert.equal(0, status, err)
      local run = assert(extruct.decode(out))
      assert.equal("all", run.mode)
      assert.equal(2, run.num_requested_cells)
      local posted = api_requests(mock, "POST", "/v1/tables/" .. t.id .. "/run")[1]
      assert.same({ mode = "all", rows = { rows[1].id, rows[2].id }, columns = { column_id } },
        cjson.decode(posted.body))
    end)

    it("rejects a bad mode or wait options without --wait, sending nothing", function()
      local out, err, status = run_extruct(mock, { "tables", "run", "tbl_x", "--mode", "everything" })
      support.assert_usage_error(out, err, status)
      assert.matches("option %-%-mode wants new, all, failed or stuck_failed_new, got 'everything'", err)
      out, err, status = run_extruct(mock, { "tables", "run", "tbl_x", "--timeout", "5" })
      support.assert_usage_error(out, err, status)
      assert.matches("option %-%-timeout needs %-%-wait", err)
      out, err, status = run_extruct(mock, { "tables", "run", "tbl_x", "--rows", "," })
      support.assert_usage_error(out, err, status)
      assert.same({}, mock:requests())
    end)

    it("exits 1 on an unknown table", function()
      local out, err, status = run_extruct(mock, { "tables", "run", "tbl_nope", "--wait" })
      assert.equal(1, status)
      assert.equal("", out)
      assert.matches("^extruct: not_found: ", err)
    end)
  end)

  describe("tables data", function()
    local function idle_table(name, rows, columns)
      local t = support.new_table(client, name, rows, columns)
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

      local out, err, status = run_extruct(mock, { "tables", "data", t.id, "--page-size", "3" })
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
      local t = support.new_table(client, "Data", rows)
      local out, err, status = run_extruct(mock, { "tables", "data", t.id, "--limit", "4", "--page-size", "2" })
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

      local out, err, status = run_extruct(mock, { "tables", "data", t.id, "--format", "csv" })
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

    it("--id puts the row id first and keeps the input columns: edited, the file goes back through rows update",
      function()
      local t = support.new_table(client, "Export", { { company = "acme.com", employees = 12 } })
      local row = assert(client:get_table_data(t.id)).rows[1]
      local file = work .. ".csv"
      local out, err, status = run_extruct(mock, { "tables", "data", t.id, "--format=csv", "--id", "-o", file })
      assert.equal(0, status, err)
      assert.equal("", out)
      local records = assert(csv.parse(helpers.read_file(file)))
      -- summary, an agent column, is filled by runs: not in the file
      assert.same({ { "id", "company", "employees" }, { row.id, "acme.com", "12" } }, records)

      helpers.write_file(file, (helpers.read_file(file):gsub("acme%.com", "acme.example")))
      out, err, status = run_extruct(mock, { "rows", "update", t.id, file })
      assert.equal(0, status, err)
      assert.equal("updated 1 row of " .. t.id .. "\n", out)
      local changed = assert(client:get_row(t.id, row.id))
      assert.equal("acme.example", extruct.cell(changed, "company"))
      assert.equal("12", tostring(extruct.cell(changed, "employees")))
    end)

    it("--columns keeps only those cells of each row's data, in JSON lines and in CSV", function()
      local t = idle_table("Projected", { { company = "acme.com", employees = 12 }, { company = "globex.com" } })
      local expected = {}
      for row in client:iter_rows(t.id) do expected[#expected + 1] = assert(row) end
      local out, err, status = run_extruct(mock, { "tables", "data", t.id, "--columns", "summary,company" })
      assert.equal(0, status, err)
      local lines = lines_of(out)
      assert.equal(2, #lines)
      for i, line in ipairs(lines) do
        local row = assert(extruct.decode(line))
        assert.equal(expected[i].id, row.id)
        assert.same({ company = expected[i].data.company, summary = expected[i].data.summary }, row.data)
      end

      out, err, status = run_extruct(mock, { "tables", "data", t.id, "--columns", "summary, company", "--format",
        "csv" })
      assert.equal(0, status, err)
      local records = assert(csv.parse(out))
      assert.same({ "summary", "company" }, records[1])
      assert.equal("acme.com", records[2][2])
      assert.equal(tables_commands.cell_text(extruct, expected[1], "summary"), records[2][1])
    end)

    it("--columns with a key the table lacks exits 2, naming the keys it has, and reads no rows", function()
      local t = support.new_table(client, "Projected", { { company = "acme.com" } })
      local before = #mock:requests()
      local out, err, status = run_extruct(mock, { "tables", "data", t.id, "--columns", "company,revenue,ceo" })
      support.assert_usage_error(out, err, status, "tables data")
      assert.truthy(err:find(("extruct: table '%s' has no columns 'revenue', 'ceo'; its column keys are: company,"
        .. " employees, summary\n"):format(t.id), 1, true), err)
      local requests = mock:requests()
      assert.equal(before + 1, #requests)
      assert.equal("/v1/tables/" .. t.id, requests[#requests].path)
      assert.equal(0, #api_requests(mock, "GET", "/v1/tables/" .. t.id .. "/data"))
    end)

    it("--pretty indents each row", function()
      local t = support.new_table(client, "Pretty", { { company = "acme.com" }, { company = "globex.com" } })
      local out, err, status = run_extruct(mock, { "tables", "data", t.id, "--pretty" })
      assert.equal(0, status, err)
      local documents = {}
      for document in out:gmatch("(\n?{\n.-\n})") do documents[#documents + 1] = assert(extruct.decode(document)) end
      assert.equal(2, #documents)
      assert.equal("globex.com", documents[2].data.company)
    end)

    it("exits 1 on an unknown table and on a wrong token, with nothing on stdout", function()
      local out, err, status = run_extruct(mock, { "tables", "data", "tbl_nope", "--format", "csv" })
      assert.equal(1, status)
      assert.equal("", out)
      assert.matches("^extruct: not_found: table 'tbl_nope' ", err)

      out, err, status = run_extruct(mock, { "tables", "data", "tbl_demo" }, { env = { EXTRUCT_API_TOKEN = "nope" } })
      assert.equal(1, status)
      assert.equal("", out)
      assert.matches("^extruct: auth: ", err)
    end)
  end)
end)

describe("the pieces that format the tables commands' output", function()
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

