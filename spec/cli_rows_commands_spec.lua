-- The `extruct rows` commands (add, get, update, delete) and `tables rows
-- add`, run as a real bin/extruct subprocess against the mock server: the
-- input formats they read (JSON lines, a JSON array, CSV), the requests and
-- batches they send, their output, and the errors that name a file's line.
local helpers = require("spec.helpers")
local support = require("spec.support.cli")
local extruct = require("extruct")
local cjson = require("cjson")

local run_extruct, lines_of, api_requests = support.run_extruct, support.lines_of, support.api_requests
local write_file = helpers.write_file

describe("extruct rows commands", function()
  local mock, client, work
  support.against_mock({ ".csv", ".jsonl", ".json" }, function(s) mock, client, work = s.mock, s.client, s.work end)

  local function stored_rows(id)
    local rows = {}
    for row in client:iter_rows(id) do rows[#rows + 1] = assert(row) end
    return rows
  end

  describe("rows add", function()
    it("adds JSON lines in batches and prints the count", function()
      local t = support.new_table(client, "Rows")
      write_file(work .. ".jsonl", table.concat({
        '{"company": "acme.com", "employees": 12}',
        '',
        '{"data": {"company": "globex.com"}, "metadata": {"source": "crm"}}',
        '   ',
        '{"company": "initech.com"}\r',
        '{"company": "umbrella.com"}',
        '{"company": "hooli.com"}',
      }, "\n"))
      local out, err, status = run_extruct(mock, { "rows", "add", t.id, work .. ".jsonl", "--batch", "2" })
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
      local t = support.new_table(client, "Rows")
      write_file(work .. ".csv", "\239\187\191company,employees\r\n"
        .. '"Acme, Inc.",12\r\n'
        .. '"Say ""hi"" Ltd",\r\n'
        .. '"Two\nlines",7\r\n')
      local out, err, status = run_extruct(mock, { "rows", "add", t.id, work .. ".csv" })
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
      local t = support.new_table(client, "Rows")
      local out, err, status = run_extruct(mock, { "rows", "add", t.id, "-", "--format", "csv", "--run",
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
      local t = support.new_table(client, "Rows")
      write_file(work .. ".json", '[\n  {"company": "acme.com"},\n  {"company": "globex.com"}\n]\n')
      local out, err, status = run_extruct(mock, { "rows", "add", t.id, work .. ".json" })
      assert.equal(0, status, err)
      assert.equal(("added 2 rows to %s\n"):format(t.id), out)
      assert.equal(2, #stored_rows(t.id))
    end)

    it("a malformed line is a usage error naming it, and nothing is sent", function()
      local t = support.new_table(client, "Rows")
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
        local out, err, status = run_extruct(mock, { "rows", "add", t.id, work .. case.file })
        support.assert_usage_error(out, err, status)
        assert.truthy(err:find("extruct: " .. work .. case.file .. case.says, 1, true), err)
      end
      assert.equal(before, #mock:requests())
    end)

    it("needs a format it can tell, a readable file, and both arguments", function()
      local out, err, status = run_extruct(mock, { "rows", "add", "tbl_x", "-" })
      support.assert_usage_error(out, err, status)
      assert.matches("cannot tell the format of standard input from its name: pass %-%-format", err)
      out, err, status = run_extruct(mock, { "rows", "add", "tbl_x", work .. ".absent.csv" })
      support.assert_usage_error(out, err, status)
      assert.matches("cannot read .*absent%.csv: No such file", err)
      out, err, status = run_extruct(mock, { "rows", "add", "tbl_x" })
      support.assert_usage_error(out, err, status)
      assert.matches("missing FILE", err)
      out, err, status = run_extruct(mock, { "rows", "add", "tbl_x", "a.csv", "b.csv" })
      support.assert_usage_error(out, err, status)
      assert.matches("unexpected argument 'b.csv'", err)
      out, err, status = run_extruct(mock, { "rows", "add", "tbl_x", "a.csv", "--batch", "0" })
      support.assert_usage_error(out, err, status)
      assert.same({}, mock:requests())
    end)

    it("exits 1 on an unknown table", function()
      write_file(work .. ".csv", "company\na\nb\nc\n")
      local out, err, status = run_extruct(mock, { "rows", "add", "tbl_nope", work .. ".csv" })
      assert.equal(1, status)
      assert.equal("", out)
      assert.matches("^extruct: not_found: table 'tbl_nope' ", err)
      assert.is_nil(err:find("were added", 1, true))
    end)
    it("exits 1 when a batch fails, saying how many rows went in before it", function()
      local t = support.new_table(client, "Rows")
      -- the API takes the first two rows; the third names a column the table lacks
      write_file(work .. ".csv", "company,colour\nacme.com,\nglobex.com,\ninitech.com,red\n")
      local out, err, status = run_extruct(mock, { "rows", "add", t.id, work .. ".csv", "--batch", "2" })
      assert.equal(1, status)
      assert.equal("", out)
      assert.matches("^extruct: validation: [^\n]*colour[^\n]*%(2 of 3 rows were added before this failure%)\n$", err)
      assert.equal(2, #stored_rows(t.id))
      assert.equal(2, #api_requests(mock, "POST", "/v1/tables/" .. t.id .. "/rows"))
    end)
  end)

  describe("tables rows add", function()
    it("is rows add under its earlier name: the same requests, output and errors", function()
      local t = support.new_table(client, "Rows")
      write_file(work .. ".csv", "company\nacme.com\nglobex.com\n")
      local out, err, status = run_extruct(mock, { "tables", "rows", "add", t.id, work .. ".csv", "--batch", "1" })
      assert.equal(0, status, err)
      assert.equal(("added 2 rows to %s\n"):format(t.id), out)
      assert.equal(2, #api_requests(mock, "POST", "/v1/tables/" .. t.id .. "/rows"))
      assert.equal(2, #stored_rows(t.id))
      out, err, status = run_extruct(mock, { "tables", "rows", "add", t.id, "-" })
      support.assert_usage_error(out, err, status, "tables rows add")
      assert.matches("cannot tell the format of standard input", err)
      out, err, status = run_extruct(nil, { "tables", "rows", "add", "--help" })
      assert.equal(0, status, err)
      assert.matches("^usage: extruct tables rows add ID FILE ", out)
      assert.truthy(out:find("The same as `extruct rows add`", 1, true))
    end)
  end)

  describe("rows get", function()
    it("prints the row as one JSON document, equal to what get_row returns", function()
      local t = support.new_table(client, "Rows", { { company = "acme.com", employees = 12 } })
      local row = stored_rows(t.id)[1]
      local before = #mock:requests()
      local out, err, status = run_extruct(mock, { "rows", "get", t.id, row.id })
      assert.equal(0, status, err)
      assert.equal("", err)
      assert.equal(1, select(2, out:gsub("\n", "")))
      local printed = assert(extruct.decode(out))
      assert.equal(row.id, printed.id)
      assert.equal("acme.com", printed.data.company)
      assert.truthy(printed.status == "idle" or printed.status == "running")
      local sent = mock:requests()[before + 1]
      assert.equal("GET", sent.method)
      assert.equal(("/v1/tables/%s/rows/%s"):format(t.id, row.id), sent.path)

      out, err, status = run_extruct(mock, { "rows", "get", t.id, row.id, "--pretty" })
      assert.equal(0, status, err)
      assert.truthy(select(2, out:gsub("\n", "")) > 5, "indented over several lines")
      assert.equal(row.id, assert(extruct.decode(out)).id)
    end)

    it("exits 1 on an unknown row, with nothing on stdout", function()
      local t = support.new_table(client, "Rows")
      local out, err, status = run_extruct(mock, { "rows", "get", t.id, "row_nope" })
      assert.equal(1, status)
      assert.equal("", out)
      assert.matches("^extruct: not_found: row 'row_nope' of table '" .. t.id .. "'[^\n]*\n$", err)
    end)
  end)

  describe("rows update", function()
    it("reads the CSV that tables data --id writes: rows with an id change, the others are added", function()
      local t = support.new_table(client, "Rows", { { company = "acme.com" }, { company = "globex.com" } })
      local exported, err, status = run_extruct(mock, { "tables", "data", t.id, "--format", "csv", "--id",
        "--columns", "company,employees" })
      assert.equal(0, status, err)
      local ids = {}
      for _, row in ipairs(stored_rows(t.id)) do ids[#ids + 1] = row.id end
      assert.equal(("id,company,employees\n%s,acme.com,\n%s,globex.com,\n"):format(ids[1], ids[2]), exported)
      write_file(work .. ".csv", exported:gsub("acme.com,", "acme.com,12"):gsub("globex.com", "globex.org")
        .. ",initech.com,7\n")
      local before = #mock:requests()
      local out
      out, err, status = run_extruct(mock, { "rows", "update", t.id, work .. ".csv" })
      assert.equal(0, status, err)
      assert.equal(("updated 2 rows of %s, added 1 row\n"):format(t.id), out)
      local patches = api_requests(mock, "PATCH", "/v1/tables/" .. t.id .. "/rows")
      assert.equal(1, #patches)
      assert.equal(before + 1, #mock:requests())
      local body = cjson.decode(patches[1].body)
      assert.same({
        { id = ids[1], data = { company = "acme.com", employees = "12" } },
        { id = ids[2], data = { company = "globex.org" } },
        { data = { company = "initech.com", employees = "7" } },
      }, body.rows)
      assert.is_false(body.run)
      local rows = stored_rows(t.id)
      assert.equal(3, #rows)
      assert.equal("12", rows[1].data.employees)
      assert.equal("globex.org", rows[2].data.company)
      assert.equal("initech.com", rows[3].data.company)
    end)

    it("reads JSON lines: row objects and plain maps with an id; --run, --json and --batch", function()
      local t = support.new_table(client, "Rows", { { company = "acme.com" }, { company = "globex.com" } })
      local ids = {}
      for _, row in ipairs(stored_rows(t.id)) do ids[#ids + 1] = row.id end
      local input = table.concat({
        ('{"id": "%s", "data": {"company": "acme.org"}, "metadata": {"source": "crm"}}'):format(ids[1]),
        ('{"id": "%s", "company": "globex.org", "employees": 3}'):format(ids[2]),
        '{"id": null, "company": "initech.com"}',
      }, "\n")
      local out, err, status = run_extruct(mock, { "rows", "update", t.id, "-", "--format", "jsonl", "--run",
        "--json", "--batch", "2" }, { stdin = input })
      assert.equal(0, status, err)
      local patches = api_requests(mock, "PATCH", "/v1/tables/" .. t.id .. "/rows")
      assert.equal(2, #patches)
      local first, second = cjson.decode(patches[1].body), cjson.decode(patches[2].body)
      assert.same({
        { id = ids[1], data = { company = "acme.org" }, metadata = { source = "crm" } },
        { id = ids[2], data = { company = "globex.org", employees = 3 } },
      }, first.rows)
      assert.same({ { data = { company = "initech.com" } } }, second.rows)
      assert.is_true(first.run)
      local lines = lines_of(out)
      assert.equal(3, #lines)
      assert.equal(ids[1], assert(extruct.decode(lines[1])).id)
      assert.equal("crm", stored_rows(t.id)[1].metadata.source)
    end)

    it("an id that is not a non-empty string is a usage error naming the line; nothing is sent", function()
      local t = support.new_table(client, "Rows")
      local before = #mock:requests()
      for _, case in ipairs{
        { text = '{"id": "row_1", "company": "a"}\n{"id": 7, "company": "b"}\n', says = "line 2: the row's id must be"
          .. " a non-empty string, not a number" },
        { text = '{"id": "", "data": {"company": "a"}}\n', says = "line 1: the row's id must be a non-empty string,"
          .. " not an empty one" },
        { text = '[{"id": ["x"], "company": "a"}]', says = "item 1 of the array: the row's id must be a non-empty"
          .. " string, not an array" },
      } do
        write_file(work .. ".jsonl", case.text)
        local out, err, status = run_extruct(mock, { "rows", "update", t.id, work .. ".jsonl" })
        support.assert_usage_error(out, err, status, "rows update")
        assert.truthy(err:find(case.says, 1, true), err)
      end
      assert.equal(before, #mock:requests())
    end)

    it("exits 1 when a batch fails, saying how many rows were sent before it", function()
      local t = support.new_table(client, "Rows", { { company = "acme.com" } })
      local id = stored_rows(t.id)[1].id
      write_file(work .. ".jsonl", ('{"id": "%s", "company": "acme.org"}\n{"id": "row_nope", "company": "x"}\n')
        :format(id))
      local out, err, status = run_extruct(mock, { "rows", "update", t.id, work .. ".jsonl", "--batch", "1" })
      assert.equal(1, status)
      assert.equal("", out)
      assert.matches("^extruct: not_found: [^\n]*%(1 of 2 rows were sent before this failure%)\n$", err)
      assert.equal("acme.org", stored_rows(t.id)[1].data.company)
    end)
  end)

  describe("rows delete", function()
    it("deletes the rows in one request and prints how many went", function()
      local t = support.new_table(client, "Rows", { { company = "a" }, { company = "b" }, { company = "c" } })
      local rows = stored_rows(t.id)
      local out, err, status = run_extruct(mock, { "rows", "delete", t.id, rows[1].id, rows[3].id, rows[1].id,
        "--yes" })
      assert.equal(0, status, err)
      assert.equal(("deleted 2 rows from %s\n"):format(t.id), out)
      local deletes = api_requests(mock, "DELETE", "/v1/tables/" .. t.id .. "/rows")
      assert.equal(1, #deletes)
      assert.same({ rows = { rows[1].id, rows[3].id } }, cjson.decode(deletes[1].body))
      local left = stored_rows(t.id)
      assert.equal(1, #left)
      assert.equal(rows[2].id, left[1].id)
    end)

    it("--json prints the API's answer, the deleted ids", function()
      local t = support.new_table(client, "Rows", { { company = "a" } })
      local id = stored_rows(t.id)[1].id
      local out, err, status = run_extruct(mock, { "rows", "delete", "--yes", "--json", t.id, id })
      assert.equal(0, status, err)
      assert.same({ id }, cjson.decode(out))
    end)

    it("refuses without --yes, and exits 1 when the API refuses an id; nothing is deleted either way", function()
      local t = support.new_table(client, "Rows", { { company = "a" } })
      local id = stored_rows(t.id)[1].id
      local out, err, status = run_extruct(mock, { "rows", "delete", t.id, id })
      support.assert_usage_error(out, err, status, "rows delete")
      assert.equal(0, #api_requests(mock, "DELETE"))
      out, err, status = run_extruct(mock, { "rows", "delete", t.id, id, "row_nope", "--yes" })
      assert.equal(1, status)
      assert.equal("", out)
      assert.matches("^extruct: not_found: ", err)
      assert.equal(1, #stored_rows(t.id))
    end)
  end)
end)
