-- `extruct tables rows add`, run as a real bin/extruct subprocess against
-- the mock server: the input formats it reads (JSON lines, a JSON array,
-- CSV), the batches it sends, and the errors that name a file's line.
local helpers = require("spec.helpers")
local support = require("spec.support.cli")
local extruct = require("extruct")
local cjson = require("cjson")

local run_extruct, lines_of, api_requests = support.run_extruct, support.lines_of, support.api_requests
local write_file = helpers.write_file

describe("extruct tables rows add", function()
  local session = helpers.mock_and_client()
  local mock, client
  before_each(function() mock, client = session.mock, session.client end)
  local work, remove_work = support.scratch()
  lazy_teardown(function() remove_work(".csv", ".jsonl", ".json") end)

  local function stored_rows(id)
    local rows = {}
    for row in client:iter_rows(id) do rows[#rows + 1] = assert(row) end
    return rows
  end

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
    local out, err, status = run_extruct(mock, { "tables", "rows", "add", t.id, work .. ".jsonl", "--batch", "2" })
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
    local out, err, status = run_extruct(mock, { "tables", "rows", "add", t.id, work .. ".csv" })
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
    local out, err, status = run_extruct(mock, { "tables", "rows", "add", t.id, "-", "--format", "csv", "--run",
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
    local out, err, status = run_extruct(mock, { "tables", "rows", "add", t.id, work .. ".json" })
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
      local out, err, status = run_extruct(mock, { "tables", "rows", "add", t.id, work .. case.file })
      support.assert_usage_error(out, err, status)
      assert.truthy(err:find("extruct: " .. work .. case.file .. case.says, 1, true), err)
    end
    assert.equal(before, #mock:requests())
  end)

  it("needs a format it can tell, a readable file, and both arguments", function()
    local out, err, status = run_extruct(mock, { "tables", "rows", "add", "tbl_x", "-" })
    support.assert_usage_error(out, err, status)
    assert.matches("cannot tell the format of standard input from its name: pass %-%-format", err)
    out, err, status = run_extruct(mock, { "tables", "rows", "add", "tbl_x", work .. ".absent.csv" })
    support.assert_usage_error(out, err, status)
    assert.matches("cannot read .*absent%.csv: No such file", err)
    out, err, status = run_extruct(mock, { "tables", "rows", "add", "tbl_x" })
    support.assert_usage_error(out, err, status)
    assert.matches("missing FILE", err)
    out, err, status = run_extruct(mock, { "tables", "rows", "add", "tbl_x", "a.csv", "b.csv" })
    support.assert_usage_error(out, err, status)
    assert.matches("unexpected argument 'b.csv'", err)
    out, err, status = run_extruct(mock, { "tables", "rows", "add", "tbl_x", "a.csv", "--batch", "0" })
    support.assert_usage_error(out, err, status)
    assert.same({}, mock:requests())
  end)

  it("exits 1 on an unknown table", function()
    write_file(work .. ".csv", "company\na\nb\nc\n")
    local out, err, status = run_extruct(mock, { "tables", "rows", "add", "tbl_nope", work .. ".csv" })
    assert.equal(1, status)
    assert.equal("", out)
    assert.matches("^extruct: not_found: table 'tbl_nope' ", err)
    assert.is_nil(err:find("were added", 1, true))
  end)
  it("exits 1 when a batch fails, saying how many rows went in before it", function()
    local t = support.new_table(client, "Rows")
    -- the API takes the first two rows; the third names a column the table lacks
    write_file(work .. ".csv", "company,colour\nacme.com,\nglobex.com,\ninitech.com,red\n")
    local out, err, status = run_extruct(mock, { "tables", "rows", "add", t.id, work .. ".csv", "--batch", "2" })
    assert.equal(1, status)
    assert.equal("", out)
    assert.matches("^extruct: validation: [^\n]*colour[^\n]*%(2 of 3 rows were added before this failure%)\n$", err)
    assert.equal(2, #stored_rows(t.id))
    assert.equal(2, #api_requests(mock, "POST", "/v1/tables/" .. t.id .. "/rows"))
  end)
end)
