-- The `extruct deep-research` commands (create, get, list, wait), run as a
-- real bin/extruct subprocess against the mock server: the brief they
-- send, the report they write (Markdown with its numbered sources, or the
-- task as JSON; on stdout or to --output FILE), the wait's progress and how
-- it ends (done, degraded, failed, timed out), and what they refuse before
-- sending anything.
local helpers = require("spec.helpers")
local support = require("spec.support.cli")
local extruct = require("extruct")
local cjson = require("cjson")
local research_report = require("extruct.cli.research_report")

local run_extruct, lines_of, api_requests = support.run_extruct, support.lines_of, support.api_requests
local write_file, read_file = helpers.write_file, helpers.read_file

-- How many times `needle` is in `text`.
local function count(text, needle)
  local n, at = 0, 1
  while true do
    local found = text:find(needle, at, true)
    if not found then return n end
    n, at = n + 1, found + #needle
  end
end

describe("extruct deep-research commands", function()
  local mock, client, work
  local fixture = support.against_mock({ ".md", ".json", ".txt" }, function(s) mock, client, work = s.mock, s.client, s.work end)

  -- A task of the mock's that ends `outcome` after `polls` polls.
  local function task(id, outcome, polls, brief)
    return mock:control("POST", "/_mock/deep_research_tasks", { id = id, outcome = outcome, polls = polls or 3,
                                                                brief = brief or "Research acme.example" })
  end

  -- The task once done, read by the client.
  local function finished(id)
    return assert(client:wait_deep_research(id, { interval = 0.01 }))
  end

  describe("deep-research create", function()
    it("starts a task on --brief and prints its id; --depth goes in the request", function()
      local out, err, status = run_extruct(mock, { "deep-research", "create", "--brief",
        "Who supplies anvils\nto Acme (acme.example)?", "--depth", "high" })
      assert.equal(0, status, err)
      assert.equal("", err)
      local id = out:match("^(%S+)\n$")
      assert.truthy(id, out)
      local sent = api_requests(mock, "POST", "/v1/deep_research_tasks")
      assert.equal(1, #sent)
      assert.same({ brief = "Who supplies anvils\nto Acme (acme.example)?", depth = "high" }, cjson.decode(sent[1].body))
      assert.equal("high", assert(client:get_deep_research(id)).depth)
    end)

    it("reads the brief from --brief-file (standard input for -), trimmed; --schema sends an output schema", function()
      local schema = { type = "object", properties = { stage = { type = "string", enum = { "seed", "series_a" } } } }
      write_file(work .. ".json", cjson.encode(schema))
      local out, err, status = run_extruct(mock, { "deep-research", "create", "--brief-file", "-",
        "--schema", work .. ".json", "--json" }, { stdin = "\239\187\191\n  What stage is Acme at?\n\n" })
      assert.equal(0, status, err)
      local created = assert(extruct.decode(out))
      assert.equal("created", created.status)
      local body = cjson.decode(api_requests(mock, "POST", "/v1/deep_research_tasks")[1].body)
      assert.equal("What stage is Acme at?", body.brief)
      assert.same(schema, body.output_schema)
      assert.is_nil(body.depth)

      write_file(work .. ".txt", "Research globex.example\n")
      out, err, status = run_extruct(mock, { "deep-research", "create", "--brief-file", work .. ".txt" })
      assert.equal(0, status, err)
      assert.matches("^%S+\n$", out)
      assert.equal("Research globex.example",
        cjson.decode(api_requests(mock, "POST", "/v1/deep_research_tasks")[2].body).brief)
    end)

    it("--wait names the task, reports progress, then prints the report as Markdown, its sources once", function()
      local out, err, status = run_extruct(mock, { "deep-research", "create", "--brief", "Research acme.example",
        "--wait", "--interval", "0.05" })
      assert.equal(0, status, err)
      local said = lines_of(err)
      local id = said[1]:match("^started Deep Research (%S+) %(depth medium%)$")
      assert.truthy(id, err)
      for i = 2, #said do
        assert.matches("^" .. id .. ": [%a_]+, %d+ iterations?, %d+ agents?, %d+ sources?, elapsed %d+:%d%d$", said[i])
      end
      assert.matches(": done, 3 iterations, 25 agents, 75 sources, elapsed ", said[#said])
      local done = finished(id)
      assert.equal(research_report.markdown(done), out)
      assert.matches("^# Research report: Acme\n", out)
      assert.equal(1, count(out, "## Sources"))
      for _, source in ipairs(done.report.sources) do
        assert.equal(1, count(out, ("[%d] %s"):format(source.id, source.url)), source.url)
      end
    end)

    it("--wait --json --output FILE writes the done task to FILE, leaving stdout empty", function()
      local out, err, status = run_extruct(mock, { "deep-research", "create", "--brief", "Research acme.example",
        "--wait", "--json", "--output", work .. ".json", "--interval", "0.05", "--quiet" })
      assert.equal(0, status, err)
      assert.equal("", out)
      assert.equal("", err)
      local done = cjson.decode(read_file(work .. ".json"))
      assert.equal("done", done.status)
      assert.equal("Research acme.example", done.brief)
    end)

    it("a report to an output schema shows its fields as a JSON code block", function()
      write_file(work .. ".json", cjson.encode{ type = "object", properties = { founded = { type = "integer" } } })
      local out, err, status = run_extruct(mock, { "deep-research", "create", "--brief", "Research acme.example",
        "--schema", work .. ".json", "--wait", "--interval", "0.05", "--quiet" })
      assert.equal(0, status, err)
      local block = out:match("^```json\n(.-)\n```\n")
      assert.truthy(block, out)
      assert.equal("number", type(cjson.decode(block).founded))
      assert.equal(1, count(out, "## Sources"))
    end)
  end)

  describe("deep-research wait", function()
    it("writes the report to --output FILE once the task is done", function()
      task("dr_w", "done", 3)
      local out, err, status = run_extruct(mock, { "deep-research", "wait", "dr_w", "--interval", "0.05",
        "--output", work .. ".md" })
      assert.equal(0, status, err)
      assert.equal("", out)
      assert.equal(research_report.markdown(finished("dr_w")), read_file(work .. ".md"))
      assert.equal(3, #lines_of(err))
    end)

    it("a degraded report is written, its reasons on stderr", function()
      task("dr_d", "degraded", 2)
      local out, err, status = run_extruct(mock, { "deep-research", "wait", "dr_d", "--interval", "0.05", "--quiet" })
      assert.equal(0, status, err)
      assert.matches("^# Research report", out)
      local reasons = finished("dr_d").report.degradation_reasons
      assert.equal(2, #reasons)
      local said = lines_of(err)
      assert.equal(2, #said)
      for i, reason in ipairs(reasons) do assert.equal("extruct: the report is degraded: " .. reason, said[i]) end
    end)

    it("a task that ends failed exits 1 with the API's reason; stdout and FILE are left alone", function()
      task("dr_f", "failed", 4)
      write_file(work .. ".md", "the old report\n")
      local out, err, status = run_extruct(mock, { "deep-research", "wait", "dr_f", "--interval", "0.05",
        "--output", work .. ".md" })
      assert.equal(1, status, err)
      assert.equal("", out)
      assert.equal("the old report\n", read_file(work .. ".md"))
      local said = lines_of(err)
      assert.matches("^dr_f: failed, ", said[#said - 1])
      assert.matches("^extruct: failed: Deep Research 'dr_f' failed: The brief does not name ", said[#said])
    end)

    it("exits 3 when the task outlasts --timeout; FILE is left alone", function()
      task("dr_slow", "done", 50)
      os.remove(work .. ".txt")
      local out, err, status = run_extruct(mock, { "deep-research", "wait", "dr_slow", "--timeout", "0", "--quiet",
        "--output", work .. ".txt" })
      assert.equal(3, status, err)
      assert.equal("", out)
      assert.is_nil(io.open(work .. ".txt", "rb"))
      assert.matches("^extruct: timeout: Deep Research 'dr_slow' was still in_progress after 0 s %(1 iterations?, "
        .. "%d+ agents, %d+ sources%)\n$", err)
    end)

    it("--json prints the done task, indented with --pretty", function()
      task("dr_j", "done", 2)
      local out, err, status = run_extruct(mock, { "deep-research", "wait", "dr_j", "--json", "--pretty",
        "--interval", "0.05", "--quiet" })
      assert.equal(0, status, err)
      assert.truthy(#lines_of(out) > 10)
      local done = cjson.decode(out)
      assert.equal("done", done.status)
      assert.equal("Research acme.example", done.brief)
    end)

    it("reads briefs echoed with raw newlines, as the real server sends them", function()
      task("dr_nl", "done", 2, "Research acme.example:\nits suppliers\nand customers")
      local out, err, status = run_extruct(mock, { "deep-research", "wait", "dr_nl", "--json", "--interval", "0.05",
        "--quiet" })
      assert.equal(0, status, err)
      assert.equal("Research acme.example:\nits suppliers\nand customers", assert(extruct.decode(out)).brief)
    end)
  end)

  describe("deep-research get and list", function()
    it("get prints the task as JSON; --markdown its report once done", function()
      task("dr_g", "done", 1)
      finished("dr_g")
      local out, err, status = run_extruct(mock, { "deep-research", "get", "dr_g" })
      assert.equal(0, status, err)
      local got = assert(extruct.decode(out))
      assert.equal("done", got.status)
      out, err, status = run_extruct(mock, { "deep-research", "get", "dr_g", "--markdown" })
      assert.equal(0, status, err)
      assert.equal(research_report.markdown(got), out)
    end)

    it("get --markdown exits 4 while the task is at work, 1 once it failed", function()
      task("dr_busy", "done", 10)
      os.remove(work .. ".md")
      local out, err, status = run_extruct(mock, { "deep-research", "get", "dr_busy", "--markdown",
        "--output", work .. ".md" })
      assert.equal(4, status, err)
      assert.equal("", out)
      assert.is_nil(io.open(work .. ".md", "rb"))
      assert.equal("extruct: Deep Research 'dr_busy': the task is in_progress: its report is not written yet;"
        .. " `extruct deep-research wait dr_busy` waits for it\n", err)

      task("dr_failed", "failed", 1)
      assert.is_nil((client:wait_deep_research("dr_failed", { interval = 0.01 })))
      out, err, status = run_extruct(mock, { "deep-research", "get", "dr_failed", "--markdown" })
      assert.equal(1, status, err)
      assert.equal("", out)
      assert.matches("^extruct: failed: Deep Research 'dr_failed': the task failed: The brief does not name ", err)
    end)

    it("list prints a text table of every task, the brief on one line; --json one task a line", function()
      task("dr_a", "done", 3, "Research acme.example:\nwho buys anvils, and why they keep buying them year after year")
      task("dr_b", "done", 3, "Research globex.example")
      local out, err, status = run_extruct(mock, { "deep-research", "list", "--format", "table" })
      assert.equal(0, status, err)
      local listed = lines_of(out)
      assert.equal(3, #listed)
      assert.matches("^ID +STATUS +DEPTH +CREATED +BRIEF$", listed[1])
      assert.matches("^dr_b +created +medium +%d%d%d%d%-%d%d%-%d%d %d%d:%d%d +Research globex%.example$", listed[2])
      assert.matches("^dr_a +created +medium +[%d: -]+ +Research acme%.example: who buys anvils, and why they keep%.%.%.$",
        listed[3])

      out, err, status = run_extruct(mock, { "deep-research", "list", "--json", "--limit", "1" })
      assert.equal(0, status, err)
      assert.equal(1, #lines_of(out))
      assert.equal("dr_b", assert(extruct.decode(out)).id)
    end)
  end)

  describe("refuse before sending anything", function()
    local long = ("é"):rep(20001)
    support.usage_error_cases(fixture, {
      { args = { "deep-research", "create" }, says = "missing BRIEF (what to research, in words), or --brief-file FILE",
        hint = "deep-research create" },
      { args = { "deep-research", "create", "--brief", "x", "--brief-file", "b.md" },
        says = "--brief and --brief-file exclude each other", hint = "deep-research create" },
      { args = { "deep-research", "create", "--brief", " \n " }, says = "--brief is blank",
        hint = "deep-research create" },
      { args = { "deep-research", "create", "--brief", long },
        says = "--brief has 20001 characters; the API takes at most 20000", hint = "deep-research create" },
      { args = { "deep-research", "create", "--brief-file", "/nonexistent/brief.md" }, says = "cannot read",
        hint = "deep-research create" },
      { args = { "deep-research", "create", "--brief-file", "-", "--schema", "-" },
        says = "--brief-file and --schema cannot both read standard input", hint = "deep-research create" },
      { args = { "deep-research", "create", "--brief", "x", "--depth", "deep" },
        says = "option --depth wants medium, high or xhigh", hint = "deep-research create" },
      { args = { "deep-research", "create", "--brief", "x", "--markdown" }, says = "option --markdown needs --wait",
        hint = "deep-research create" },
      { args = { "deep-research", "create", "BRIEF", "--brief", "x" }, says = "BRIEF and --brief exclude each other",
        hint = "deep-research create" },
      { args = { "deep-research", "create", "brief", "--brief-file", "b.md" },
        says = "BRIEF and --brief-file exclude each other", hint = "deep-research create" },
      { args = { "deep-research", "create", " \n " }, says = "BRIEF is blank", hint = "deep-research create" },
      { args = { "deep-research", "create", "--brief", "x", "--interval", "5" }, says = "option --interval needs --wait",
        hint = "deep-research create" },
      { args = { "deep-research", "create", "--brief", "x", "--pretty" }, says = "option --pretty shapes JSON",
        hint = "deep-research create" },
      { args = { "deep-research", "create", "--brief", "x", "--schema", "/nonexistent/s.json" },
        says = "cannot read", hint = "deep-research create" },
      { args = { "deep-research", "wait", "dr_1", "--markdown", "--json" },
        says = "--markdown and --json exclude each other", hint = "deep-research wait" },
      { args = { "deep-research", "wait", "dr_1", "--compact" }, says = "option --compact shapes JSON: it needs --json",
        hint = "deep-research wait" },
      { args = { "deep-research", "wait", "dr_1", "--output", "/nonexistent/dir/r.md" },
        says = "--output: cannot write /nonexistent/dir/r.md: No such file or directory", hint = "deep-research wait" },
      { args = { "deep-research", "wait", "dr_1", "--max-interval", "10" },
        says = "--max-interval (10) must be at least --interval (15)", hint = "deep-research wait" },
      { args = { "deep-research", "get", "dr_1", "--markdown", "--pretty" }, says = "option --pretty shapes JSON",
        hint = "deep-research get" },
      { args = { "deep-research", "list", "--compact", "--format", "csv" },
        says = "option --compact shapes JSON: it does not go with --format csv", hint = "deep-research list" },
      { args = { "deep-research", "list", "--json", "--format", "table" },
        says = "--json and --format table exclude each other", hint = "deep-research list" },
    })

    it("a --schema that is not a JSON object", function()
      write_file(work .. ".json", "[1, 2]")
      local out, err, status = run_extruct(mock, { "deep-research", "create", "--brief", "x", "--schema",
        work .. ".json" })
      support.assert_usage_error(out, err, status, "deep-research create")
      assert.truthy(err:find("the output schema must be a JSON object, not an array", 1, true), err)
      assert.same({}, mock:requests())
    end)
  end)

  -- What was at FILE before survives as what it was: a device stays a
  -- device, a link a link, a mode its mode, and nothing beside FILE is
  -- touched (extruct.file_writer; its own spec has the rest).
  describe("--output FILE never destroys anything", function()
    local core = require("extruct.core")
    local q = helpers.shell_quote
    local dir, report

    local function sh(command)
      local out, status = helpers.run(command .. " 2>&1")
      assert.equal(0, status, out)
      return out
    end

    -- The names in dir, sorted.
    local function listing()
      return sh("ls -A " .. q(dir))
    end

    -- `deep-research get dr_out --markdown --output path`, which succeeds.
    local function write_report(path)
      local out, err, status = run_extruct(mock, { "deep-research", "get", "dr_out", "--markdown", "--output", path })
      assert.equal(0, status, err)
      assert.equal("", out)
      assert.equal("", err)
    end

    before_each(function()
      dir = helpers.scratch_dir()
      task("dr_out", "done", 1)
      report = research_report.markdown(finished("dr_out"))
    end)
    after_each(function() helpers.remove_dir(dir) end)

    it("a regular file keeps its mode (640), and a FILE.part beside it is left alone", function()
      local path = dir .. "/report.md"
      write_file(path, "the old report\n")
      write_file(path .. ".part", "the user's own file\n")
      sh("chmod 640 " .. q(path))
      write_report(path)
      assert.equal(report, read_file(path))
      assert.equal(tonumber("640", 8), core.file_info(path).mode)
      assert.equal("the user's own file\n", read_file(path .. ".part"))
      assert.equal("report.md\nreport.md.part\n", listing())
    end)

    it("a symbolic link stays a link, and its target gets the report", function()
      write_file(dir .. "/target.md", "the old report\n")
      sh(("ln -s target.md %s/link.md"):format(q(dir)))
      write_report(dir .. "/link.md")
      assert.equal("link", core.file_info(dir .. "/link.md", true).type)
      assert.equal("target.md", core.read_link(dir .. "/link.md"))
      assert.equal(report, read_file(dir .. "/target.md"))
      assert.equal("link.md\ntarget.md\n", listing())
    end)

    it("a device node stays a device node", function()
      -- a node of its own where the system allows making one (root), else
      -- /dev/null itself (which a user other than root could not replace)
      local device = dir .. "/null"
      local _, made = helpers.run(("mknod %s c 1 3 2>/dev/null"):format(q(device)))
      if made ~= 0 then device = "/dev/null" end
      write_report(device)
      assert.equal("character device", core.file_info(device).type)
      assert.equal("", read_file(device))
    end)

    it("a FIFO is written into, and stays a FIFO", function()
      local fifo = dir .. "/fifo"
      sh("mkfifo " .. q(fifo))
      -- a reader, bounded in time, that copies what comes out to a file
      local reader = assert(io.popen(("timeout 30 cat %s > %s/read.md"):format(q(fifo), q(dir)), "r"))
      write_report(fifo)
      reader:close()
      assert.equal("fifo", core.file_info(fifo).type)
      assert.equal(report, read_file(dir .. "/read.md"))
    end)

    -- (/dev/fd/1 rather than /dev/stdout, which names the same descriptor
    -- and is written the same way: a writer that replaced the name, run as
    -- root, would leave the machine without its /dev/stdout; /dev/fd is a
    -- link into /proc, where nothing can be renamed.)
    it("a name for stdout is written directly, appended to what stdout is (>> keeps the file's start)", function()
      local path = dir .. "/log.md"
      write_file(path, "before\n")
      sh(("EXTRUCT_API_TOKEN=%s EXTRUCT_API_URL=%s %s bin/extruct deep-research get dr_out --markdown"
        .. " --output /dev/fd/1 >> %s"):format(q(mock.token), q(mock.url), q(helpers.LUA), q(path)))
      assert.equal("before\n" .. report, read_file(path))
    end)

    it("a command that fails leaves FILE as it was and nothing beside it", function()
      local path = dir .. "/report.md"
      write_file(path, "the old report\n")
      task("dr_fail", "failed", 1)
      local _, err, status = run_extruct(mock, { "deep-research", "wait", "dr_fail", "--interval", "0.05", "--quiet",
        "--output", path })
      assert.equal(1, status, err)
      assert.equal("the old report\n", read_file(path))
      assert.equal("report.md\n", listing())
    end)
  end)
end)
