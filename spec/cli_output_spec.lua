-- The command line's one output scheme and the first things a newcomer
-- meets, run in-process against the mock (spec/support/cli.lua's main):
-- --format table|jsonl|json|csv on the commands that print records, -o FILE
-- through the file writer, --pretty as `jq .` indents the server's own text,
-- -v's request lines, short flags, "did you mean", `health` without a token,
-- and errors that say where a request went and where the token comes from.
local helpers = require("spec.helpers")
local support = require("spec.support.cli")
local extruct = require("extruct")
local csv = require("extruct.csv")
local json_text = require("extruct.cli.json_text")

local lines_of = support.lines_of

describe("the command line's output", function()
  local mock, client, work
  support.against_mock({ ".out", ".csv" }, function(s) mock, client, work = s.mock, s.client, s.work end,
    { mock = { polls = 1 } })

  -- Runs the command line in this process against the mock: stdout,
  -- stderr and the exit status. env adds to (or, with false, removes from)
  -- the mock's token and URL.
  local function run(argv, env)
    local vars = { EXTRUCT_API_TOKEN = mock.token, EXTRUCT_API_URL = mock.url }
    for name, value in pairs(env or {}) do vars[name] = value or nil end
    return support.main(argv, vars)
  end

  describe("--format", function()
    it("csv on tables list, companies search and deep-search results: a header, then a record each", function()
      local out, err, status = run({ "tables", "list", "--format", "csv" })
      assert.equal(0, status, err)
      local records = assert(csv.parse(out))
      assert.same({ "id", "name", "kind", "created_at" }, records[1])
      assert.same({ "tbl_demo", "Démo — B2B companies", "company", "2025-01-15T09:30:00.000000Z" }, records[2])
      assert.equal(3, #records)

      out, err, status = run({ "companies", "search", "payroll software", "--limit", "3", "--format", "csv" })
      assert.equal(0, status, err)
      records = assert(csv.parse(out))
      assert.same({ "id", "name", "domain", "hq_country", "hq_city", "employee_count", "founding_year",
                    "relevance_score", "short_description" }, records[1])
      assert.equal(4, #records)
      local page = assert(client:search_companies("payroll software", { limit = 3 }))
      for i, company in ipairs(page.results) do
        assert.equal(company.domain, records[i + 1][3])
        assert.equal(tostring(company.founding_year), records[i + 1][7])
      end

      local task = assert(client:create_deep_search{ query = "robotics startups", desired_num_results = 5 })
      assert(client:wait_deep_search(task.id, { interval = 0.01 }))
      out, err, status = run({ "deep-search", "results", task.id, "--format", "csv" })
      assert.equal(0, status, err)
      records = assert(csv.parse(out))
      assert.same({ "id", "company_name", "company_website", "hq_country", "employee_count", "founding_year",
                    "relevance", "scores" }, records[1])
      assert.equal(6, #records)
      -- a nested field is compact JSON in its CSV field
      assert.equal("table", type(assert(extruct.decode(records[2][8]))))
    end)

    it("table aligns columns under a header; json is one array; jsonl one object a line, as piped", function()
      local out, err, status = run({ "tables", "list", "--format", "table" })
      assert.equal(0, status, err)
      local lines = lines_of(out)
      assert.equal(3, #lines)
      assert.matches("^ID +NAME +KIND +CREATED$", lines[1])
      assert.matches("^tbl_idle +Idle table +generic +2025%-01%-15 09:30$", lines[3])
      assert.equal(lines[1]:find("KIND"), lines[3]:find("generic"))

      out, err, status = run({ "tables", "list", "--format", "json" })
      assert.equal(0, status, err)
      local list = assert(extruct.decode(out))
      assert.equal(extruct.array_mt, getmetatable(list))
      assert.same({ "tbl_demo", "tbl_idle" }, { list[1].id, list[2].id })

      -- not a terminal, no --format: JSON lines, as --json asks
      local piped = run({ "tables", "list" })
      assert.equal(piped, (run({ "tables", "list", "--json" })))
      assert.equal(piped, (run({ "tables", "list", "--format", "jsonl" })))
      assert.equal(2, #lines_of(piped))
      assert.equal("tbl_demo", assert(extruct.decode(lines_of(piped)[1])).id)
    end)

    it("json with --pretty is one array whose items are indented a level deeper", function()
      local out, err, status = run({ "deep-search", "list", "--format", "json", "--pretty" })
      assert.equal(0, status, err)
      assert.equal("[]\n", out)
      assert(client:create_deep_search{ query = "a" })
      assert(client:create_deep_search{ query = "b" })
      out = run({ "deep-search", "list", "--format", "json", "--pretty" })
      assert.matches("^%[\n  {\n    \"", out)
      assert.matches("\n  },\n  {\n", out)
      assert.matches("\n  }\n%]\n$", out)
      assert.equal(2, #assert(extruct.decode(out)))
    end)
  end)

  describe("--pretty", function()
    -- A table as a server may send it: its keys in no sorted order, numbers
    -- a re-encoder would change, escapes, a raw newline inside a string.
    local BODY = '{"id":"tbl_order","name":"Tab\\there \\u00e9","status":{"run_status":"idle",'
      .. '"num_cells_in_progress":0},"z":[],"a":{},"n":1.50,"big":12345678901234567890,"s":"raw\nline"}'

    it("indents the server's text as jq does: two spaces, its key order, its numbers, no tab", function()
      mock:fault{ path = "/v1/tables/tbl_order", body = BODY }
      local out, err, status = run({ "tables", "get", "tbl_order", "--pretty" })
      assert.equal(0, status, err)
      assert.equal(table.concat({
        "{",
        '  "id": "tbl_order",',
        '  "name": "Tab\\there \\u00e9",',
        '  "status": {',
        '    "run_status": "idle",',
        '    "num_cells_in_progress": 0',
        "  },",
        '  "z": [],',
        '  "a": {},',
        '  "n": 1.50,',
        '  "big": 12345678901234567890,',
        '  "s": "raw\\nline"',
        "}",
      }, "\n") .. "\n", out)
      assert.is_nil(out:find("\t", 1, true))
    end)

    it("gives what `jq .` gives for the mock's tables, and each item of a page as the page had it", function()
      if not helpers.has_command("jq") then
        return pending("jq not found (Debian: jq): the comparison with `jq .` is skipped")
      end
      local raw = helpers.run(("curl -s -H %s %s"):format(helpers.shell_quote("Authorization: Bearer " .. mock.token),
        helpers.shell_quote(mock.url .. "/v1/tables/tbl_demo")))
      local file = work .. ".out"
      helpers.write_file(file, raw)
      local jq = helpers.run("jq . " .. helpers.shell_quote(file))
      local out, err, status = run({ "tables", "get", "tbl_demo", "--pretty" })
      assert.equal(0, status, err)
      assert.equal(jq, out)

      -- each row of `tables data` is its part of the page, re-indented
      out, err, status = run({ "tables", "data", "tbl_idle", "--pretty", "--limit", "1" })
      assert.equal(0, status, err)
      local page = helpers.run(("curl -s -H %s %s"):format(helpers.shell_quote("Authorization: Bearer " .. mock.token),
        helpers.shell_quote(mock.url .. "/v1/tables/tbl_idle/data?offset=0&limit=1")))
      helpers.write_file(file, page)
      assert.equal(helpers.run("jq .rows[0] " .. helpers.shell_quote(file)), out)
    end)

    it("re-indents in one pass over the text, and reads nothing that is not JSON as JSON", function()
      assert.equal('{\n  "a": [\n    1,\n    "x"\n  ]\n}', json_text.reindent('{ "a" : [1 ,"x"] }'))
      assert.equal("[]", json_text.reindent(" [ ] "))
      assert.equal('"\\u0001"', json_text.reindent('"\1"'))
      assert.is_nil(json_text.reindent('{"a": [1}}'))
      assert.is_nil(json_text.reindent('"open'))
      local spans = json_text.items('{"rows": [{"id": 1}, [2, "]"], "x"], "n": 3}')
      assert.same({ { 11, 19 }, { 22, 29 }, { 32, 34 } }, spans.rows)
      assert.is_nil(spans.n)
    end)
  end)

  describe("-o, --output FILE", function()
    it("tables data ID -o FILE writes FILE and nothing on stdout; a failure leaves FILE as it was", function()
      local file = work .. ".out"
      local out, err, status = run({ "tables", "data", "tbl_idle", "-o", file })
      assert.equal(0, status, err)
      assert.equal("", out)
      local written = helpers.read_file(file)
      assert.equal(3, #lines_of(written))
      assert.equal("row_", assert(extruct.decode(lines_of(written)[1])).id:sub(1, 4))

      local _, failed, failed_status = run({ "tables", "data", "tbl_nope", "--output", file })
      assert.equal(1, failed_status)
      assert.matches("^extruct: not_found: table 'tbl_nope'", failed)
      assert.equal(written, helpers.read_file(file))
    end)

    it("on any command that prints: a CSV listing, a table's JSON", function()
      local file = work .. ".csv"
      local _, err, status = run({ "companies", "search", "treasury software", "--limit", "2", "--format", "csv",
                                   "-o", file })
      assert.equal(0, status, err)
      assert.equal(3, #assert(csv.parse(helpers.read_file(file))))
      _, err, status = run({ "tables", "get", "tbl_idle", "-o", file })
      assert.equal(0, status, err)
      assert.equal("tbl_idle", assert(extruct.decode(helpers.read_file(file))).id)
    end)
  end)

  describe("short flags", function()
    it("-v prints each request's line, status and time on stderr, never the token", function()
      local out, err, status = run({ "-v", "tables", "get", "tbl_idle" })
      assert.equal(0, status, err)
      assert.equal("tbl_idle", assert(extruct.decode(out)).id)
      assert.matches("^extruct: GET " .. mock.url:gsub("%p", "%%%0") .. "/v1/tables/tbl_idle %-> 200 OK %(%d+%.%d%d%d s%)\n$",
        err)
      local _, failed = run({ "tables", "get", "tbl_nope", "--verbose" })
      assert.matches("/v1/tables/tbl_nope %-> 404 Not Found %(", failed)
      assert.matches("\nextruct: not_found: ", failed)
      assert.is_nil(failed:find(mock.token, 1, true))
    end)

    it("-q, -y, -h", function()
      local out, err, status = run({ "tables", "wait", "tbl_demo", "--interval", "0.01", "-q" })
      assert.equal(0, status, err)
      assert.equal("", err)
      assert.is_true(extruct.is_idle(assert(extruct.decode(out))))
      local row = assert(client:get_table_data("tbl_idle", { limit = 1 })).rows[1]
      out, err, status = run({ "rows", "delete", "tbl_idle", row.id, "-y" })
      assert.equal(0, status, err)
      assert.equal("deleted 1 row from tbl_idle\n", out)
      out, err, status = run({ "rows", "delete", "-h" })
      assert.equal(0, status, err)
      assert.truthy(out:find("\n  -y, --yes ", 1, true))
      assert.truthy(out:find("\n  -o, --output FILE ", 1, true))
      assert.truthy(out:find("\n  -v, --verbose ", 1, true))
    end)
  end)

  describe("the first errors", function()
    it("health needs no token, and sends none", function()
      local out, err, status = run({ "health" }, { EXTRUCT_API_TOKEN = false })
      assert.equal(0, status, err)
      assert.same({ status = "ok" }, assert(extruct.decode(out)))
      local request = mock:requests()[1]
      assert.equal("/v1/healthcheck", request.path)
      assert.is_nil(request.headers.authorization)
      -- every other command still says where a token comes from
      local _, refused, refused_status = run({ "user" }, { EXTRUCT_API_TOKEN = false })
      assert.equal(2, refused_status)
      assert.matches("^extruct: no API token: set EXTRUCT_API_TOKEN or pass %-%-token%-file PATH\n", refused)
    end)

    it("a rejected token: the words name EXTRUCT_API_TOKEN and --token-file", function()
      local out, err, status = run({ "user" }, { EXTRUCT_API_TOKEN = "not-the-token" })
      assert.equal(1, status)
      assert.equal("", out)
      assert.matches("^extruct: auth: the API rejected the token", err)
      assert.matches("[HTTP 401]: set EXTRUCT_API_TOKEN to a valid API token, or pass --token-file PATH", err, 1, true)
      assert.is_nil(err:find("not-the-token", 1, true))
    end)

    it("a token pasted with 'Bearer ' gets a hint, and nothing is sent", function()
      local _, err, status = run({ "user" }, { EXTRUCT_API_TOKEN = "Bearer " .. mock.token })
      assert.equal(2, status)
      assert.matches("^extruct: config: the API token starts with 'Bearer ': give the token alone", err)
      assert.same({}, mock:requests())
    end)

    it("EXTRUCT_API_URL ending in /v1: the error names the URL asked for and the base URL", function()
      local _, err, status = run({ "tables", "get", "tbl_demo" }, { EXTRUCT_API_URL = mock.url .. "/v1" })
      assert.equal(1, status)
      local url = mock.url:gsub("%p", "%%%0")
      assert.matches("^extruct: not_found: GET " .. url .. "/v1/v1/tables/tbl_demo is not a route of the API", err)
      assert.matches("check the base URL '" .. url .. "/v1' %(base_url, EXTRUCT_API_URL or %-%-base%-url%): it ends in"
        .. " /v1, which every path starts with already; use '" .. url .. "'\n$", err)
    end)
  end)
end)
