-- The `extruct deep-search` commands (create, get, list, results, resume,
-- wait), run as a real bin/extruct subprocess against the mock server:
-- what they send and print, the wait's progress on stderr and how it ends
-- (done, failed, timed out, exhausted yet still at work), and what they
-- refuse before sending anything.
local helpers = require("spec.helpers")
local support = require("spec.support.cli")
local extruct = require("extruct")
local cjson = require("cjson")

local run_extruct, lines_of, api_requests = support.run_extruct, support.lines_of, support.api_requests
local query_value = support.query_value

local function decoded_lines(out)
  local list = {}
  for i, line in ipairs(lines_of(out)) do list[i] = assert(extruct.decode(line)) end
  return list
end

-- The pattern of a progress line of a wait for task `id`, on a stderr that
-- is not a terminal.
local function progress_line(id)
  return "^" .. id .. ": [%a_]+, %d+/%d+ results, %d+ discovered, %d+ enriched, %d+ evaluated[%a, ]*, elapsed %d+:%d%d$"
end

describe("extruct deep-search commands", function()
  local mock, client, work
  local fixture = support.against_mock({ ".out", ".txt" },
    function(s) mock, client, work = s.mock, s.client, s.work end)

  -- A task of the mock's that ends `outcome` after `polls` polls.
  local function task(id, outcome, polls, desired)
    return mock:control("POST", "/_mock/discovery_tasks", { id = id, outcome = outcome, polls = polls or 3,
                                                            desired = desired or 6 })
  end

  describe("deep-search create", function()
    it("starts a task and prints its id; --results and --criterion go in the request", function()
      local out, err, status = run_extruct(mock, { "deep-search", "create", "robotics startups in Japan",
        "--results", "12", "--criterion", "is_funded=raised a Series A or later",
        "--criterion", " sells_hardware = sells hardware " })
      assert.equal(0, status, err)
      assert.equal("", err)
      local id = out:match("^(%S+)\n$")
      assert.truthy(id, out)
      local sent = api_requests(mock, "POST", "/v1/discovery_tasks")
      assert.equal(1, #sent)
      assert.same({
        query = "robotics startups in Japan", desired_num_results = 12,
        criteria = {
          { key = "is_funded", name = "Is funded", criterion = "raised a Series A or later" },
          { key = "sells_hardware", name = "Sells hardware", criterion = "sells hardware" },
        },
      }, cjson.decode(sent[1].body))
      assert.equal(12, assert(client:get_deep_search(id)).desired_num_results)
    end)

    it("sends only the query when nothing else is given; --json prints the new task", function()
      local out, err, status = run_extruct(mock, { "deep-search", "create", "B2B payroll software", "--json" })
      assert.equal(0, status, err)
      local created = assert(extruct.decode(out))
      assert.equal("B2B payroll software", created.query)
      assert.equal("created", created.status)
      assert.same({ query = "B2B payroll software" },
        cjson.decode(api_requests(mock, "POST", "/v1/discovery_tasks")[1].body))
    end)

    it("--exclude-domain and --exclude-domains-file: registered domains, each once, in exclude_domains", function()
      helpers.write_file(work .. ".txt", "# done already\nhttps://www.Globex.example/about\nblog.globex.example\n"
        .. "initech.example\n")
      local out, err, status = run_extruct(mock, { "deep-search", "create", "logistics software", "--json",
        "--exclude-domain", "https://hooli.example", "--exclude-domains-file", work .. ".txt" })
      assert.equal(0, status, err)
      local sent = cjson.decode(api_requests(mock, "POST", "/v1/discovery_tasks")[1].body)
      assert.same({ "hooli.example", "globex.example", "initech.example" }, sent.exclude_domains)
      assert.same(sent.exclude_domains, assert(extruct.decode(out)).exclude_domains)
    end)

    it("refuses past 1,000 excluded domains, or one that is no domain, before sending anything", function()
      local many = {}
      for i = 1, 1000 do many[i] = ("company%d.com"):format(i) end
      helpers.write_file(work .. ".txt", table.concat(many, "\n"))
      local out, err, status = run_extruct(mock, { "deep-search", "create", "x", "--exclude-domains-file",
        work .. ".txt", "--exclude-domain", "one-more.com" })
      support.assert_usage_error(out, err, status, "deep-search create")
      assert.matches("the excluded domains: 1001 distinct domains once each is read as its registered domain", err,
        1, true)
      out, err, status = run_extruct(mock, { "deep-search", "create", "x", "--exclude-domain", "localhost" })
      support.assert_usage_error(out, err, status, "deep-search create")
      assert.matches("--exclude-domain 'localhost' is not a domain or URL: a domain has at least two labels", err, 1,
        true)
      helpers.write_file(work .. ".txt", "acme.example\n10.0.0.1\n")
      out, err, status = run_extruct(mock, { "deep-search", "create", "x", "--exclude-domains-file", work .. ".txt" })
      support.assert_usage_error(out, err, status, "deep-search create")
      assert.matches(work .. ".txt, line 2: '10.0.0.1' is not a domain or URL: an IP address is not a domain", err,
        1, true)
      assert.same({}, mock:requests())
    end)

    it("--wait names the task and reports progress on stderr, then prints the done task", function()
      local out, err, status = run_extruct(mock, { "deep-search", "create", "robotics startups", "--results", "4",
        "--wait", "--interval", "0.05" })
      assert.equal(0, status, err)
      local done = assert(extruct.decode(out))
      assert.equal("done", done.status)
      local said = lines_of(err)
      assert.equal("started Deep Search " .. done.id, said[1])
      assert.is_true(#said >= 3, err)
      for i = 2, #said do assert.matches(progress_line(done.id), said[i]) end
      assert.equal(done.id .. ": done, 4/4 results", said[#said]:match("^(.-, %d+/%d+ results)"))
    end)
  end)

  describe("deep-search wait", function()
    it("prints one line per poll that changed something, then the done task as JSON", function()
      task("ds_w", "done", 4)
      local out, err, status = run_extruct(mock, { "deep-search", "wait", "ds_w", "--interval", "0.05" })
      assert.equal(0, status, err)
      local done = assert(extruct.decode(out))
      assert.equal("ds_w", done.id)
      assert.equal("done", done.status)
      local said = lines_of(err)
      assert.equal(4, #said, err)
      for _, line in ipairs(said) do assert.matches(progress_line("ds_w"), line) end
      assert.matches("^ds_w: done, 6/6 results, ", said[4])
      assert.equal(4, #api_requests(mock, "GET", "/v1/discovery_tasks/ds_w"))
    end)

    it("waits on while a task is exhausted but still grading its candidates", function()
      task("ds_x", "exhausted", 2)
      local out, err, status = run_extruct(mock, { "deep-search", "wait", "ds_x", "--interval", "0.05" })
      assert.equal(0, status, err)
      assert.equal("done", assert(extruct.decode(out)).status)
      local exhausted_at_work = 0
      for _, line in ipairs(lines_of(err)) do
        if line:find("^ds_x: in_progress, .*, exhausted, elapsed") then exhausted_at_work = exhausted_at_work + 1 end
      end
      assert.is_true(exhausted_at_work >= 2, err)
    end)

    it("a task that ends failed exits 1: stdout empty, the failure last on stderr", function()
      task("ds_f", "failed", 4)
      local out, err, status = run_extruct(mock, { "deep-search", "wait", "ds_f", "--interval", "0.05" })
      assert.equal(1, status, err)
      assert.equal("", out)
      local said = lines_of(err)
      assert.matches("^ds_f: failed, ", said[#said - 1])
      assert.matches("^extruct: failed: Deep Search 'ds_f' failed %(%d+ of 6 results found%)$", said[#said])
    end)

    it("exits 3 when the task outlasts --timeout, naming where it stood; --quiet leaves only that", function()
      task("ds_slow", "done", 50)
      local out, err, status = run_extruct(mock, { "deep-search", "wait", "ds_slow", "--timeout", "0", "--quiet" })
      assert.equal(3, status, err)
      assert.equal("", out)
      assert.matches("^extruct: timeout: Deep Search 'ds_slow' was still in_progress after 0 s %(%d+ of 6 results,"
        .. " [^\n]*%)\n$", err)
    end)

    it("exits 1 with kind not_found for an unknown task", function()
      local out, err, status = run_extruct(mock, { "deep-search", "wait", "ds_nope", "--quiet" })
      assert.equal(1, status)
      assert.equal("", out)
      assert.matches("^extruct: not_found: Deep Search 'ds_nope' ", err)
    end)

    support.script_it("on a terminal, redraws its line in place and leaves a summary line (script)", function()
      task("ds_tty", "done", 4)
      local typescript = support.on_pty(mock, 130, { "deep-search", "wait", "ds_tty", "--interval", "0.2" }, work)
      assert.equal("done", assert(extruct.decode(helpers.read_file(work))).status)
      local redrawn = 0
      for _, frame in ipairs(support.frames(typescript)) do
        local trimmed = frame:gsub("%s+$", "")
        assert.is_true(#trimmed <= 129, "fits in 130 columns: " .. frame)
        if trimmed:find("^ds_tty: in_progress, %d+/6 results, .*, elapsed %d:%d%d, last change %d:%d%d ago$") then
          redrawn = redrawn + 1
        end
      end
      assert.is_true(redrawn >= 2, typescript)
      assert.matches("\r +\rds_tty: done, 6/6 results, [^\r\n]*, elapsed %d:%d%d\r?\n$", typescript)
    end)
  end)

  describe("deep-search get and list", function()
    it("get prints the task as one JSON document", function()
      task("ds_g", "done", 3)
      local out, err, status = run_extruct(mock, { "deep-search", "get", "ds_g" })
      assert.equal(0, status, err)
      local got = assert(extruct.decode(out))
      assert.equal("ds_g", got.id)
      assert.equal("in_progress", got.status, "a get is one poll")
      out = run_extruct(mock, { "deep-search", "get", "ds_g", "--pretty" })
      assert.truthy(#lines_of(out) > 5)
    end)

    it("list prints a text table of every task, newest first; --json one task a line; --limit", function()
      task("ds_a", "done", 3)
      task("ds_b", "done", 3)
      local long = ("growing "):rep(12) .. "companies"
      assert(client:create_deep_search{ query = long, desired_num_results = 7 })
      local out, err, status = run_extruct(mock, { "deep-search", "list", "--format", "table" })
      assert.equal(0, status, err)
      local listed = lines_of(out)
      assert.matches("^ID +STATUS +RESULTS +CREATED +QUERY$", listed[1])
      assert.equal(4, #listed)
      assert.matches("^ds_%w+ +created +0/7 +%d%d%d%d%-%d%d%-%d%d %d%d:%d%d +growing growing ", listed[2])
      assert.truthy(listed[2]:find(("growing "):rep(7) .. "g%.%.%.$"), listed[2])
      assert.matches("^ds_b +created +0/6 ", listed[3])

      out, err, status = run_extruct(mock, { "deep-search", "list", "--json", "--limit", "2" })
      assert.equal(0, status, err)
      local tasks = decoded_lines(out)
      assert.equal(2, #tasks)
      assert.equal("ds_b", tasks[2].id)
      assert.equal("2", query_value(api_requests(mock, "GET", "/v1/discovery_tasks")[2].query, "limit"))
    end)
  end)

  describe("deep-search results", function()
    -- (the mock's request log restarts only with a reset, which drops the
    -- tasks: count the requests from here on instead)
    local function requests_since(before, path)
      local all = api_requests(mock, "GET", path)
      local list = {}
      for i = before + 1, #all do list[#list + 1] = all[i] end
      return list
    end

    it("prints one page of results as JSON lines; --limit and --offset choose it", function()
      task("ds_r", "done", 1, 8)
      assert(client:wait_deep_search("ds_r", { interval = 0.01 }))
      local before = #api_requests(mock, "GET", "/v1/discovery_tasks/ds_r/results")
      local out, err, status = run_extruct(mock, { "deep-search", "results", "ds_r", "--limit", "3", "--offset", "2" })
      assert.equal(0, status, err)
      local page = assert(client:get_deep_search_results("ds_r", { limit = 3, offset = 2 }))
      assert.same(page.results, decoded_lines(out))
      local sent = requests_since(before, "/v1/discovery_tasks/ds_r/results")[1]
      assert.equal("3", query_value(sent.query, "limit"))
      assert.equal("2", query_value(sent.query, "offset"))
    end)

    it("--all pages through every result, --page-size a request", function()
      task("ds_all", "done", 1, 9)
      assert(client:wait_deep_search("ds_all", { interval = 0.01 }))
      local before = #api_requests(mock, "GET", "/v1/discovery_tasks/ds_all/results")
      local out, err, status = run_extruct(mock, { "deep-search", "results", "ds_all", "--all", "--page-size", "4" })
      assert.equal(0, status, err)
      local results = decoded_lines(out)
      assert.equal(9, #results)
      local ids = {}
      for _, result in ipairs(results) do
        assert.is_nil(ids[result.id], "each result once")
        ids[result.id] = true
      end
      assert.equal(3, #requests_since(before, "/v1/discovery_tasks/ds_all/results"))
    end)
  end)

  describe("deep-search resume", function()
    it("asks for more results and prints where the task now stands", function()
      task("ds_m", "done", 1)
      assert(client:wait_deep_search("ds_m", { interval = 0.01 }))
      local out, err, status = run_extruct(mock, { "deep-search", "resume", "ds_m", "--results", "5" })
      assert.equal(0, status, err)
      assert.matches("^resumed ds_m: in_progress, 6/11 results, ", out)
      assert.same({ desired_new_results = 5 },
        cjson.decode(api_requests(mock, "POST", "/v1/discovery_tasks/ds_m/resume")[1].body))
    end)

    it("--wait waits until the task is done again and prints it", function()
      task("ds_mw", "done", 1)
      assert(client:wait_deep_search("ds_mw", { interval = 0.01 }))
      local out, err, status = run_extruct(mock, { "deep-search", "resume", "ds_mw", "--results", "2", "--wait",
        "--interval", "0.05" })
      assert.equal(0, status, err)
      local done = assert(extruct.decode(out))
      assert.equal("done", done.status)
      assert.equal(8, done.num_results)
      assert.equal("resumed Deep Search ds_mw", lines_of(err)[1])
    end)

    it("an exhausted task cannot be resumed: exit 1", function()
      task("ds_ex", "exhausted", 1)
      assert(client:wait_deep_search("ds_ex", { interval = 0.01 }))
      local out, err, status = run_extruct(mock, { "deep-search", "resume", "ds_ex" })
      assert.equal(1, status)
      assert.equal("", out)
      assert.matches("^extruct: http: [^\n]*%[HTTP 400%]\n$", err)
    end)
  end)

  describe("refuse before sending anything", function()
    support.usage_error_cases(fixture, {
      { args = { "deep-search", "create" }, says = "missing QUERY", hint = "deep-search create" },
      { args = { "deep-search", "create", " " }, says = "the QUERY is blank", hint = "deep-search create" },
      { args = { "deep-search", "create", "x", "--results", "0" },
        says = "option --results wants a whole number from 1 to 250", hint = "deep-search create" },
      { args = { "deep-search", "create", "x", "--results", "251" },
        says = "option --results wants a whole number from 1 to 250", hint = "deep-search create" },
      { args = { "deep-search", "create", "x", "--criterion", "no key" }, says = "option --criterion wants KEY=TEXT",
        hint = "deep-search create" },
      { args = { "deep-search", "create", "x", "--criterion", "=text" }, says = "option --criterion wants KEY=TEXT",
        hint = "deep-search create" },
      { args = { "deep-search", "create", "x", "--criterion", "is-funded=text" },
        says = "option --criterion wants KEY=TEXT", hint = "deep-search create" },
      { args = { "deep-search", "create", "x", "--criterion", "a=1", "--criterion", "a=2" },
        says = "--criterion names the key 'a' twice", hint = "deep-search create" },
      { args = { "deep-search", "create", "x", "--quiet" }, says = "option --quiet needs --wait",
        hint = "deep-search create" },
      { args = { "deep-search", "create", "x", "--json", "--wait" }, says = "--json and --wait exclude each other",
        hint = "deep-search create" },
      { args = { "deep-search", "create", "x", "--pretty" }, says = "option --pretty needs --json or --wait",
        hint = "deep-search create" },
      { args = { "deep-search", "wait", "ds_1", "--max-interval", "1" },
        says = "--max-interval (1) must be at least --interval (5)", hint = "deep-search wait" },
      { args = { "deep-search", "resume", "ds_1", "--results", "251" },
        says = "option --results wants a whole number from 0 to 250", hint = "deep-search resume" },
      { args = { "deep-search", "resume", "ds_1", "--timeout", "5" }, says = "option --timeout needs --wait",
        hint = "deep-search resume" },
      { args = { "deep-search", "results", "ds_1", "--page-size", "5" }, says = "option --page-size needs --all",
        hint = "deep-search results" },
      { args = { "deep-search", "list", "--pretty", "--format", "table" },
        says = "option --pretty shapes JSON: it does not go with --format table", hint = "deep-search list" },
      { args = { "deep-search", "list", "--format", "xml" }, says = "option --format wants table, jsonl, json or csv",
        hint = "deep-search list" },
      { args = { "deep-search", "get" }, says = "missing task ID", hint = "deep-search get" },
      { args = { "deep-search" }, says = "missing subcommand of deep-search: create, get, list, results, resume or wait",
        hint = "deep-search" },
    })
  end)
end)
