-- The whole workflow a user automates, end to end against the offline mock:
-- create a table, add rows, run it, wait, rerun what failed, read every
-- row, export CSV, delete it; once through the Lua API, once through the
-- `extruct` command, and once by the example script that shows it. And
-- the path from a company search: a table of the companies found, run and
-- waited for, then Deep Research on one of them and a report.
local extruct = require("extruct")
local csv = require("extruct.csv")
local cjson = require("cjson")
local helpers = require("spec.helpers")

local SPEC = {
  name = "Workflow",
  kind = "generic",
  tags = { "e2e" },
  column_configs = {
    { kind = "input", name = "Website", key = "website" },
    { kind = "input", name = "Note", key = "note" },
    { kind = "agent", name = "Offering", key = "offering",
      value = { agent_type = "research_pro", prompt = "What does {website} sell?", output_format = "text" } },
    { kind = "criterion_grade", name = "Enterprise fit", key = "fit",
      value = { criterion = "Sells to enterprises." } },
  },
}

-- Inputs a CSV writer and reader must carry through: commas, quotes, line
-- breaks, UTF-8, and a row whose cells fail on their first run.
local INPUTS = {
  { website = "acme.com", note = "plain" },
  { website = "globex.com", note = 'says "hi", twice' },
  { website = "initech.com", note = "two\nlines" },
  { website = "café.example", note = "ünïcödé" },
  { website = "fail.example", note = "fails once" },
  { website = "umbrella.com" }, -- no note: an absent cell
}
local OUTPUT_KEYS = { "offering", "fit" }
local KEYS = { "website", "note", "offering", "fit" }

local write_file = helpers.write_file

-- The CSV a user expects, built from rows read through iter_rows: the
-- answer of every cell, in column order, "" for none.
local function expected_records(rows)
  local records = { KEYS }
  for _, row in ipairs(rows) do
    local record = {}
    for i, key in ipairs(KEYS) do
      local answer = extruct.cell(row, key)
      record[i] = answer == nil and "" or tostring(answer)
    end
    records[#records + 1] = record
  end
  return records
end

-- Every row of a finished run: each output cell done with an answer, the
-- inputs as they were sent.
local function assert_finished(rows)
  assert.equal(#INPUTS, #rows)
  for i, row in ipairs(rows) do
    assert.equal(INPUTS[i].website, extruct.cell(row, "website"))
    assert.equal(INPUTS[i].note, extruct.cell(row, "note"))
    for _, key in ipairs(OUTPUT_KEYS) do
      local answer, status = extruct.cell(row, key)
      assert.equal("done", status, ("row %d, %s"):format(i, key))
      assert.is_not_nil(answer, ("row %d, %s"):format(i, key))
    end
  end
end

describe("the whole workflow against the offline mock", function()
  local fixture = helpers.mock_and_client()
  local work = os.tmpname()

  lazy_teardown(function()
    for _, suffix in ipairs({ "", ".json", ".csv", ".out.csv" }) do os.remove(work .. suffix) end
  end)

  it("runs through the Lua API", function()
    local clock = helpers.fake_clock()
    local wait = { interval = 1, timeout = 600, sleep = clock.sleep, now = clock.now }

    local t = assert(fixture.client:create_table(SPEC))
    local added = assert(fixture.client:add_rows(t.id, INPUTS))
    assert.equal(#INPUTS, #added)
    local run = assert(fixture.client:run_table(t.id))
    assert.equal(#INPUTS * #OUTPUT_KEYS, run.num_requested_cells)
    local idle = assert(fixture.client:wait_until_idle(t.id, wait))
    assert.is_true(extruct.is_idle(idle))
    assert.equal(#OUTPUT_KEYS, idle.status.num_cells_failed) -- the row that fails once

    local rerun = assert(fixture.client:run_table(t.id, { mode = "failed" }))
    assert.equal(#OUTPUT_KEYS, rerun.num_requested_cells)
    idle = assert(fixture.client:wait_until_idle(t.id, wait))
    assert.equal(0, idle.status.num_cells_failed)
    assert.equal(1, (extruct.progress(idle)))

    local rows = {}
    for row, err in fixture.client:iter_rows(t.id, { limit = 4 }) do -- two pages
      assert(row, err and tostring(err))
      rows[#rows + 1] = row
    end
    assert_finished(rows)

    -- export, then read the file back as any CSV reader would
    local out = assert(io.open(work .. ".csv", "wb"))
    for _, record in ipairs(expected_records(rows)) do out:write(csv.format_record(record, #KEYS)) end
    out:close()
    local records = assert(csv.parse(helpers.read_file(work .. ".csv")))
    assert.same(expected_records(rows), records)
    assert.equal("two\nlines", records[4][2])

    assert(fixture.client:delete_table(t.id))
    local gone, err = fixture.client:get_table(t.id)
    assert.is_nil(gone)
    assert.equal("not_found", err.kind)
  end)

  it("goes from a company search to a table of those companies and a Deep Research report", function()
    local clock = helpers.fake_clock()
    local client = fixture.client
    local function wait(opts)
      opts = opts or {}
      opts.sleep, opts.now = clock.sleep, clock.now
      return opts
    end

    -- the companies a search finds, their domains the table's inputs
    local found = assert(client:search_companies("logistics software", {
      limit = 4, filters = { include = { size = { "11-50", "51-200", "201-500", "1001-5000" } } },
    })).results
    assert.equal(4, #found)
    local rows = {}
    for i, company in ipairs(found) do rows[i] = { input = company.domain } end

    local t = assert(client:create_table{
      name = "Logistics software", kind = "company",
      column_configs = { { kind = "agent", name = "Offering", key = "offering",
        value = { agent_type = "research_pro", prompt = "What does {input} sell?", output_format = "text" } } },
    })
    assert.equal(#found, #assert(client:add_rows(t.id, rows)))
    assert(client:run_table(t.id))
    assert.is_true(extruct.is_idle(assert(client:wait_until_idle(t.id, wait{ interval = 1 }))))

    local table_rows = {}
    for row, err in client:iter_rows(t.id) do
      assert(row, err and tostring(err))
      table_rows[#table_rows + 1] = row
    end
    assert.equal(#found, #table_rows)
    for i, row in ipairs(table_rows) do
      assert.equal(found[i].domain, extruct.cell(row, "input"))
      for _, key in ipairs({ "company_name", "offering" }) do
        local answer, status = extruct.cell(row, key)
        assert.equal("done", status, key)
        assert.is_not_nil(answer, key)
      end
    end

    -- Deep Research on the first company, its brief over several lines
    local target = found[1]
    local brief = ("Research %s (%s).\nWhat does it sell, and to whom?\nCite every claim."):format(target.name,
      target.domain)
    local task = assert(client:create_deep_research{ brief = brief, depth = "medium" })
    local done = assert(client:wait_deep_research(task.id, wait{ interval = 15 }))
    assert.equal("done", done.status)
    assert.equal(brief, done.brief)

    -- the report: the table's answers, then the research with its sources
    local lines = { "# Logistics software", "" }
    for _, row in ipairs(table_rows) do
      lines[#lines + 1] = ("- %s (%s): %s"):format(extruct.cell(row, "company_name"), extruct.cell(row, "input"),
        extruct.cell(row, "offering"))
    end
    lines[#lines + 1] = ""
    lines[#lines + 1] = done.report.markdown
    for _, source in ipairs(done.report.sources) do
      lines[#lines + 1] = ("[%d]: %s"):format(source.id, source.url)
    end
    local report = table.concat(lines, "\n")
    for _, company in ipairs(found) do assert.matches(company.domain, report, 1, true) end
    assert.matches(target.name, done.report.markdown, 1, true)
    assert.matches("[1]: https://" .. target.domain .. "/", report, 1, true)

    assert(client:delete_table(t.id))
  end)

  it("runs through the extruct command", function()
    local function run(args, opts)
      return helpers.run_extruct(fixture.mock, args, opts)
    end
    local body = assert(extruct.encode(SPEC))
    write_file(work .. ".json", body)
    local out, err, status = run({ "tables", "create", work .. ".json" })
    assert.equal(0, status, err)
    local id = out:match("^(%S+)\n$")
    assert.is_string(id)

    local input = { csv.format_record({ "website", "note" }) }
    for _, row in ipairs(INPUTS) do input[#input + 1] = csv.format_record({ row.website, row.note }, 2) end
    write_file(work .. ".csv", table.concat(input))
    out, err, status = run({ "tables", "rows", "add", id, work .. ".csv", "--batch", "4" })
    assert.equal(0, status, err)
    assert.matches("added " .. #INPUTS .. " rows", out, 1, true)

    out, err, status = run({ "tables", "run", id, "--wait", "--interval", "0.05", "--quiet", "--compact" })
    assert.equal(0, status, err)
    local idle = cjson.decode(out)
    assert.equal("idle", idle.status.run_status)
    assert.equal(#OUTPUT_KEYS, idle.status.num_cells_failed)
    out, err, status = run({ "tables", "run", id, "--mode", "failed", "--wait", "--interval", "0.05", "--quiet" })
    assert.equal(0, status, err)
    assert.equal(0, cjson.decode(out).status.num_cells_failed)

    out, err, status = run({ "tables", "list", "--json", "--tag", "e2e" })
    assert.equal(0, status, err)
    assert.equal(id, cjson.decode(out).id)

    -- the export, checked against the rows read through the Lua API
    local rows = {}
    for row, iter_err in fixture.client:iter_rows(id) do
      assert(row, iter_err and tostring(iter_err))
      rows[#rows + 1] = row
    end
    assert_finished(rows)
    out, err, status = run({ "tables", "data", id, "--format", "csv", "--page-size", "4" })
    assert.equal(0, status, err)
    assert.same(expected_records(rows), assert(csv.parse(out)))
    out, err, status = run({ "tables", "data", id })
    assert.equal(0, status, err)
    local n = 0
    for line in out:gmatch("[^\n]+") do
      n = n + 1
      assert.equal(rows[n].id, cjson.decode(line).id)
    end
    assert.equal(#INPUTS, n)

    local _
    _, err, status = run({ "tables", "delete", id, "--yes" })
    assert.equal(0, status, err)
    out, err, status = run({ "tables", "get", id })
    assert.equal(1, status, out)
    assert.matches("not_found", err, 1, true)
  end)

  it("runs as examples/workflow.lua shows it", function()
    local out, status = helpers.run_lua("", ("arg = { [0] = 'examples/workflow.lua', %q }; dofile(arg[0])")
      :format(work .. ".out.csv"))
    assert.equal(0, status, out)
    assert.matches("deleted table", out, 1, true)
    local records = assert(csv.parse(helpers.read_file(work .. ".out.csv")))
    assert.equal(6, #records) -- the header and five rows
    assert.same({ "website", "offering" }, records[1])
    for i = 2, 6 do assert.is_true(#records[i][2] > 0, "an answer in row " .. i) end
  end)
end)
