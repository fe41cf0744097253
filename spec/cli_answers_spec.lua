-- What the commands make of answers without a body (a 204, or a 200 with
-- an empty body), run as a real bin/extruct subprocess against the mock,
-- whose faults answer so on the paths a test names: a change still ends in
-- exit status 0, with the line the command prints or, where JSON was asked
-- for, nothing on stdout and a word on stderr; a read that promises an
-- answer refuses an empty one.
local helpers = require("spec.helpers")
local support = require("spec.support.cli")
local cjson = require("cjson")

local run_extruct, api_requests = support.run_extruct, support.api_requests

describe("extruct commands on body-less answers", function()
  local mock, client, work
  support.against_mock({ ".json", ".csv" }, function(s) mock, client, work = s.mock, s.client, s.work end)

  -- The next `count` requests under `path` are answered without a body:
  -- 204 No Content, or 200 with Content-Length: 0.
  local function no_body(path, status, count)
    mock:fault{ path = path, status = status or 204, mode = "empty", count = count or 1 }
  end

  local function run(argv)
    return run_extruct(mock, argv)
  end

  it("changes print their line on stdout and exit 0", function()
    helpers.write_file(work .. ".json", '{"kind": "input", "name": "Source", "key": "source"}')
    local cases = {
      { argv = { "tables", "delete", "tbl_idle", "--yes" }, out = "deleted tbl_idle\n",
        method = "DELETE", path = "/v1/tables/tbl_idle" },
      { argv = { "tables", "update", "tbl_idle", "--name", "New" }, out = "updated New (tbl_idle)\n",
        method = "PATCH", path = "/v1/tables/tbl_idle", status = 200 },
      { argv = { "rows", "delete", "tbl_idle", "r1", "r2", "--yes" }, out = "deleted 2 rows from tbl_idle\n",
        method = "DELETE", path = "/v1/tables/tbl_idle/rows" },
      { argv = { "columns", "update", "tbl_idle", "col_1", work .. ".json" },
        out = "updated column Source (col_1)\n", method = "PATCH", path = "/v1/tables/tbl_idle/columns/col_1" },
      { argv = { "columns", "delete", "tbl_idle", "col_1", "--yes" }, out = "deleted column col_1\n",
        method = "DELETE", path = "/v1/tables/tbl_idle/columns/col_1", status = 200 },
    }
    for _, case in ipairs(cases) do
      mock:reset()
      no_body(case.path, case.status)
      local out, err, status = run(case.argv)
      local said = table.concat(case.argv, " ") .. ": " .. err
      assert.equal(0, status, said)
      assert.equal(case.out, out, said)
      assert.equal("", err)
      local sent = mock:requests()
      assert.equal(1, #sent, said)
      assert.equal(case.method, sent[1].method)
      assert.equal(case.path, sent[1].path)
    end
  end)

  it("with --json, stdout stays empty and stderr says the API sent no body", function()
    for _, case in ipairs{
      { argv = { "tables", "delete", "tbl_idle", "--yes", "--json" }, path = "/v1/tables/tbl_idle" },
      { argv = { "tables", "update", "tbl_idle", "--tag", "a", "--json" }, path = "/v1/tables/tbl_idle" },
      { argv = { "rows", "delete", "tbl_idle", "r1", "--yes", "--json" }, path = "/v1/tables/tbl_idle/rows" },
      { argv = { "columns", "delete", "tbl_idle", "col_1", "--yes", "--json" }, path = "/v1/tables/tbl_idle/columns" },
    } do
      no_body(case.path)
      local out, err, status = run(case.argv)
      assert.equal(0, status, err)
      assert.equal("", out)
      assert.matches("^extruct: [^\n]*the API answered without a body[^\n]*\n$", err)
    end
  end)

  it("rows add and update count the rows sent; --json says which could not be printed", function()
    local t = support.new_table(client, "Body-less")
    local rows_path = "/v1/tables/" .. t.id .. "/rows"
    helpers.write_file(work .. ".csv", "id,company\nr1,acme.com\n,globex.com\n")
    no_body(rows_path)
    local out, err, status = run{ "rows", "add", t.id, work .. ".csv" }
    assert.equal(0, status, err)
    assert.equal(("added 2 rows to %s\n"):format(t.id), out)

    no_body(rows_path, 200)
    out, err, status = run{ "rows", "update", t.id, work .. ".csv" }
    assert.equal(0, status, err)
    assert.equal(("updated 1 row of %s, added 1 row\n"):format(t.id), out)
    local patches = api_requests(mock, "PATCH", rows_path)
    assert.same({ { id = "r1", data = { company = "acme.com" } }, { data = { company = "globex.com" } } },
      cjson.decode(patches[#patches].body).rows)

    no_body(rows_path, 204, 2)
    out, err, status = run{ "rows", "add", t.id, work .. ".csv", "--json", "--batch", "1" }
    assert.equal(0, status, err)
    assert.equal("", out)
    assert.equal("extruct: 2 of 2 rows are not printed: the API answered without a body\n", err)
    assert.equal(2 + 1, #api_requests(mock, "POST", rows_path))
  end)

  it("columns add and health exit 0 and say on stderr that there was nothing to print", function()
    helpers.write_file(work .. ".json",
      '[{"kind": "input", "name": "A", "key": "a"}, {"kind": "input", "name": "B", "key": "b"}]')
    for _, case in ipairs{
      { argv = { "columns", "add", "tbl_idle", work .. ".json" }, path = "/v1/tables/tbl_idle/columns",
        says = "added 2 columns to tbl_idle" },
      { argv = { "health" }, path = "/v1/healthcheck", says = "the API is up" },
    } do
      no_body(case.path)
      local out, err, status = run(case.argv)
      assert.equal(0, status, err)
      assert.equal("", out)
      assert.truthy(err:find(case.says, 1, true), err)
    end
  end)

  it("reads that promise an answer refuse an empty one: exit 1, kind decode", function()
    for _, case in ipairs{
      { argv = { "user" }, path = "/v1/user" },
      { argv = { "billing", "--json" }, path = "/v1/billing" },
      { argv = { "tables", "get", "tbl_idle" }, path = "/v1/tables/tbl_idle" },
      { argv = { "deep-search", "get", "ds_1" }, path = "/v1/discovery_tasks/ds_1" },
    } do
      no_body(case.path, 200)
      local out, err, status = run(case.argv)
      assert.equal(1, status, err)
      assert.equal("", out)
      assert.matches("^extruct: decode: [^\n]*\n$", err)
    end
  end)
end)
