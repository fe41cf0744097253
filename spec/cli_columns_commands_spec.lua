-- The `extruct columns` commands (list, add, update, delete), run as a real
-- bin/extruct subprocess against the mock server: their output, the
-- requests they send, the files they read, their errors and exit statuses.
local helpers = require("spec.helpers")
local support = require("spec.support.cli")
local extruct = require("extruct")
local cjson = require("cjson")

local run_extruct, lines_of, api_requests = support.run_extruct, support.lines_of, support.api_requests
local write_file = helpers.write_file

local SOURCE_CONFIG = { kind = "input", name = "Source", key = "source" }
local PITCH_CONFIG = { kind = "agent", name = "Pitch", key = "pitch",
                       value = { agent_type = "research_pro", prompt = "A pitch for {company}", output_format = "text" } }

describe("extruct columns commands", function()
  local mock, client, work
  support.against_mock({ ".json" }, function(s) mock, client, work = s.mock, s.client, s.work end)

  -- The table's columns as { id, key } in its order.
  local function columns_of(id)
    local t = assert(client:get_table(id))
    local list = {}
    for i, column in ipairs(t.columns) do list[i] = { id = column.id, key = column.config.key } end
    return list
  end

  local function keys_of(id)
    local keys = {}
    for i, column in ipairs(columns_of(id)) do keys[i] = column.key end
    return keys
  end

  describe("columns list", function()
    it("prints an aligned table of the columns in the table's order", function()
      local t = support.new_table(client, "Columns")
      local out, err, status = run_extruct(mock, { "columns", "list", t.id, "--format", "table" })
      assert.equal(0, status, err)
      assert.equal("", err)
      local columns = columns_of(t.id)
      local lines = lines_of(out)
      assert.equal(4, #lines)
      assert.matches("^ID%s+KEY%s+KIND%s+NAME$", lines[1])
      assert.matches("^" .. columns[1].id .. "%s+company%s+input%s+Company$", lines[2])
      assert.matches("^" .. columns[2].id .. "%s+employees%s+input%s+Employees$", lines[3])
      assert.matches("^" .. columns[3].id .. "%s+summary%s+agent%s+Summary$", lines[4])
      -- the columns line up
      assert.equal(lines[1]:find("KEY"), lines[2]:find("company"))
      local requests = mock:requests()
      assert.equal("GET", requests[#requests].method)
      assert.equal("/v1/tables/" .. t.id, requests[#requests].path)
    end)

    it("--json prints each column object on a line; --pretty indents them", function()
      local t = support.new_table(client, "Columns")
      local header = assert(client:get_table(t.id))
      local out, err, status = run_extruct(mock, { "columns", "list", t.id, "--json" })
      assert.equal(0, status, err)
      local lines = lines_of(out)
      assert.equal(#header.columns, #lines)
      for i, line in ipairs(lines) do assert.same(header.columns[i], assert(extruct.decode(line))) end

      out, err, status = run_extruct(mock, { "columns", "list", t.id, "--json", "--pretty" })
      assert.equal(0, status, err)
      assert.truthy(#lines_of(out) > 3 * #header.columns, "each column over several lines")
      -- a stream of JSON documents: each starts on a line of its own with "{"
      local documents = {}
      for document in out:gmatch("(\n?{\n.-\n})") do documents[#documents + 1] = assert(extruct.decode(document)) end
      assert.equal(#header.columns, #documents)
      assert.same(header.columns[2], documents[2])
    end)

    it("exits 1 on an unknown table", function()
      local out, err, status = run_extruct(mock, { "columns", "list", "tbl_nope" })
      assert.equal(1, status)
      assert.equal("", out)
      assert.matches("^extruct: not_found: table 'tbl_nope' ", err)
    end)
  end)

  describe("columns add", function()
    it("adds one config from a file after the last column and prints the new id", function()
      local t = support.new_table(client, "Columns")
      write_file(work .. ".json", cjson.encode(SOURCE_CONFIG))
      local out, err, status = run_extruct(mock, { "columns", "add", t.id, work .. ".json" })
      assert.equal(0, status, err)
      local columns = columns_of(t.id)
      assert.equal(4, #columns)
      assert.equal("source", columns[4].key)
      assert.equal(columns[4].id .. "\n", out)
      local posts = api_requests(mock, "POST", "/v1/tables/" .. t.id .. "/columns")
      assert.equal(1, #posts)
      local body = cjson.decode(posts[1].body)
      assert.same({ column_configs = { SOURCE_CONFIG } }, body)
    end)

    it("adds an array of configs from standard input, --first or --after a column", function()
      local t = support.new_table(client, "Columns")
      local out, err, status = run_extruct(mock, { "columns", "add", t.id, "-", "--first" },
        { stdin = cjson.encode({ SOURCE_CONFIG, PITCH_CONFIG }) })
      assert.equal(0, status, err)
      assert.same({ "source", "pitch", "company", "employees", "summary" }, keys_of(t.id))
      local columns = columns_of(t.id)
      assert.equal(columns[1].id .. "\n" .. columns[2].id .. "\n", out)
      local body = cjson.decode(api_requests(mock, "POST", "/v1/tables/" .. t.id .. "/columns")[1].body)
      assert.is_false(body.insert_after)
      assert.equal(2, #body.column_configs)

      local other = support.new_table(client, "Columns")
      local first_id = columns_of(other.id)[1].id
      write_file(work .. ".json", cjson.encode(SOURCE_CONFIG))
      out, err, status = run_extruct(mock, { "columns", "add", other.id, work .. ".json", "--after", first_id, "--json" })
      assert.equal(0, status, err)
      assert.same({ "company", "source", "employees", "summary" }, keys_of(other.id))
      local printed = assert(extruct.decode(out))
      assert.equal(columns_of(other.id)[2].id, printed.id)
      assert.equal("source", printed.config.key)
      body = cjson.decode(api_requests(mock, "POST", "/v1/tables/" .. other.id .. "/columns")[1].body)
      assert.equal(first_id, body.insert_after)
    end)

    it("a file that is not a config or a list of them is a usage error, and nothing is sent", function()
      local t = support.new_table(client, "Columns")
      local before = #mock:requests()
      for _, case in ipairs{
        { text = '{"kind": "input",\n "name": }', says = ", line 2: not valid JSON" },
        { text = '"source"', says = ": expected a column's config (a JSON object) or an array of them, not a string" },
        { text = '[]', says = ": the array is empty: it must hold at least one (a column's config)" },
        { text = '[{"kind": "input", "name": "A", "key": "a"}, 3]',
          says = ": item 2 of the array: a column's config must be a JSON object, not a number" },
      } do
        write_file(work .. ".json", case.text)
        local out, err, status = run_extruct(mock, { "columns", "add", t.id, work .. ".json" })
        support.assert_usage_error(out, err, status, "columns add")
        assert.truthy(err:find("extruct: " .. work .. ".json" .. case.says, 1, true), err)
      end
      assert.equal(before, #mock:requests())
    end)

    it("exits 1 when the API refuses the config, naming the problem", function()
      local t = support.new_table(client, "Columns")
      -- the key is taken already
      local out, err, status = run_extruct(mock, { "columns", "add", t.id, "-" },
        { stdin = cjson.encode({ kind = "input", name = "Again", key = "company" }) })
      assert.equal(1, status)
      assert.equal("", out)
      assert.matches("^extruct: validation: [^\n]*company", err)
      assert.equal(3, #columns_of(t.id))
    end)
  end)

  describe("columns update", function()
    it("sends the file as the column's whole config and prints one line", function()
      local t = support.new_table(client, "Columns")
      local summary = columns_of(t.id)[3]
      local config = { kind = "agent", name = "Brief", key = "summary",
                       value = { agent_type = "research_pro", prompt = "Brief on {company}", output_format = "text" } }
      write_file(work .. ".json", cjson.encode(config))
      local out, err, status = run_extruct(mock, { "columns", "update", t.id, summary.id, work .. ".json" })
      assert.equal(0, status, err)
      assert.equal(("updated column Brief (%s)\n"):format(summary.id), out)
      local patches = api_requests(mock, "PATCH", "/v1/tables/" .. t.id .. "/columns/" .. summary.id)
      assert.equal(1, #patches)
      assert.same(config, cjson.decode(patches[1].body))
      local header = assert(client:get_table(t.id))
      assert.equal("Brief on {company}", header.columns[3].config.value.prompt)

      out, err, status = run_extruct(mock, { "columns", "update", t.id, summary.id, "-", "--json" },
        { stdin = cjson.encode(config) })
      assert.equal(0, status, err)
      local printed = assert(extruct.decode(out))
      assert.equal(summary.id, printed.id)
      assert.equal("Brief", printed.config.name)
    end)

    it("exits 1 on an unknown column, 2 on a file that is not one JSON object", function()
      local t = support.new_table(client, "Columns")
      write_file(work .. ".json", cjson.encode(SOURCE_CONFIG))
      local out, err, status = run_extruct(mock, { "columns", "update", t.id, "col_nope", work .. ".json" })
      assert.equal(1, status)
      assert.equal("", out)
      assert.matches("^extruct: not_found: column 'col_nope' of table '" .. t.id .. "'", err)

      write_file(work .. ".json", cjson.encode({ SOURCE_CONFIG }))
      local before = #mock:requests()
      out, err, status = run_extruct(mock, { "columns", "update", t.id, "col_x", work .. ".json" })
      support.assert_usage_error(out, err, status, "columns update")
      assert.truthy(err:find("the column's config must be a JSON object, not an array", 1, true), err)
      assert.equal(before, #mock:requests())
    end)
  end)

  describe("columns delete", function()
    it("refuses without --yes; with it deletes the column and prints one line", function()
      local t = support.new_table(client, "Columns")
      local employees = columns_of(t.id)[2]
      local out, err, status = run_extruct(mock, { "columns", "delete", t.id, employees.id })
      support.assert_usage_error(out, err, status, "columns delete")
      assert.matches("cannot be undone: pass %-%-yes", err)
      assert.equal(0, #api_requests(mock, "DELETE"))

      out, err, status = run_extruct(mock, { "columns", "delete", t.id, employees.id, "--yes" })
      assert.equal(0, status, err)
      assert.equal(("deleted column Employees (%s)\n"):format(employees.id), out)
      local deletes = api_requests(mock, "DELETE")
      assert.equal(1, #deletes)
      assert.equal(("/v1/tables/%s/columns/%s"):format(t.id, employees.id), deletes[1].path)
      assert.same({ "company", "summary" }, keys_of(t.id))
    end)

    it("--json prints the API's answer; an unknown column exits 1", function()
      local t = support.new_table(client, "Columns")
      local summary = columns_of(t.id)[3]
      local out, err, status = run_extruct(mock, { "columns", "delete", "--yes", "--json", t.id, summary.id })
      assert.equal(0, status, err)
      assert.equal(summary.id, assert(extruct.decode(out)).id)

      out, err, status = run_extruct(mock, { "columns", "delete", "--yes", t.id, summary.id })
      assert.equal(1, status)
      assert.equal("", out)
      assert.matches("^extruct: not_found: column '" .. summary.id .. "'", err)
    end)
  end)
end)
