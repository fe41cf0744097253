-- The `extruct` command (bin/extruct, lua/extruct/cli.lua), run as a real
-- subprocess against the mock server: output, exit statuses, the token's
-- sources, help, and the progress report on a real terminal (script(1) and
-- tmux give it a pty).
local helpers = require("spec.helpers")
local extruct = require("extruct")
local cjson = require("cjson")
local progress = require("extruct.cli.progress")
local q = helpers.shell_quote

local work = os.tmpname()

-- Runs `extruct ARGS` with env (a table; false unsets a variable) and returns
-- stdout, stderr and the exit status. Without env.EXTRUCT_API_TOKEN given,
-- the mock's token and address come from the environment.
local function extruct_run(mock, args, env)
  env = env or {}
  local vars = {
    EXTRUCT_API_TOKEN = mock and mock.token or false,
    EXTRUCT_API_URL = mock and mock.url or false,
  }
  for name, value in pairs(env) do vars[name] = value end
  -- env wants its -u options before the assignments
  local unset, assign = {}, {}
  for name, value in pairs(vars) do
    if value then assign[#assign + 1] = name .. "=" .. q(value) else unset[#unset + 1] = "-u " .. name end
  end
  local parts = { "env", table.concat(unset, " "), table.concat(assign, " ") }
  local words = {}
  for i, word in ipairs(args) do words[i] = q(word) end
  local command = ("%s %s bin/extruct %s 2>%s"):format(
    table.concat(parts, " "), q(helpers.LUA), table.concat(words, " "), q(work .. ".err"))
  local out, status = helpers.run(command)
  return out, helpers.read_file(work .. ".err"), status
end

local write_file = helpers.write_file

-- Lines of stderr, for assertions that name them.
local function lines(text)
  local list = {}
  for line in text:gmatch("[^\n]+") do list[#list + 1] = line end
  return list
end

describe("extruct command", function()
  local mock, client

  lazy_setup(function()
    mock = helpers.start_mock()
    client = helpers.client(mock)
  end)
  lazy_teardown(function()
    if client then client:close() end
    if mock then mock:stop() end
    os.remove(work)
    os.remove(work .. ".err")
  end)
  before_each(function() mock:reset() end)

  describe("tables get", function()
    it("prints the table as one compact JSON document, equal to what get_table returns", function()
      local out, err, status = extruct_run(mock, { "tables", "get", "tbl_idle" })
      assert.equal(0, status, err)
      assert.equal("", err)
      assert.equal(1, select(2, out:gsub("\n", "")), "one line when stdout is not a terminal")
      local expected = assert(client:get_table("tbl_idle"))
      assert.same(expected, assert(extruct.decode(out)))
      assert.same(cjson.decode(out), assert(extruct.decode(out)))
    end)

    it("indents with --pretty, and takes options before the words and as --opt=value", function()
      local out, err, status = extruct_run(mock, { "--base-url=" .. mock.url, "tables", "--pretty", "get", "tbl_idle" },
        { EXTRUCT_API_URL = "http://127.0.0.1:1" })
      assert.equal(0, status, err)
      assert.is_true(select(2, out:gsub("\n", "")) > 20)
      assert.same(assert(client:get_table("tbl_idle")), assert(extruct.decode(out)))
      -- the API saw the id and the token (--base-url won over EXTRUCT_API_URL)
      local requests = mock:requests()
      assert.equal("/v1/tables/tbl_idle", requests[1].path)
      assert.equal("Bearer " .. mock.token, requests[1].headers.authorization)
    end)

    it("exits 1 on a 404, naming the kind on one line, without the token", function()
      local out, err, status = extruct_run(mock, { "tables", "get", "tbl_nope" })
      assert.equal(1, status)
      assert.equal("", out)
      assert.matches("^extruct: not_found: table 'tbl_nope' [^\n]*\n$", err)
      assert.is_nil(err:find(mock.token, 1, true))
    end)

    it("exits 1 when the connection is refused, naming the kind, without the token", function()
      local port = helpers.closed_port()
      local out, err, status = extruct_run(mock, { "tables", "get", "tbl_idle" },
        { EXTRUCT_API_URL = "http://127.0.0.1:" .. port })
      assert.equal(1, status)
      assert.equal("", out)
      assert.matches("^extruct: network: [^\n]*\n$", err)
      assert.is_nil(err:find(mock.token, 1, true))
    end)

    it("takes an ID that starts with '-' after --", function()
      local out, err, status = extruct_run(mock, { "tables", "get", "--", "-dash" })
      assert.equal(1, status)
      assert.equal("", out)
      assert.matches("^extruct: not_found: table '%-dash' ", err)
      assert.equal("/v1/tables/-dash", mock:requests()[1].path)
    end)

    it("exits 1 when stdout cannot be written", function()
      local full = io.open("/dev/full", "wb")
      if not full then
        pending("/dev/full not available")
        return
      end
      full:close()
      local out, status = helpers.run(("EXTRUCT_API_TOKEN=%s EXTRUCT_API_URL=%s %s bin/extruct tables get tbl_idle"
        .. " 2>&1 >/dev/full"):format(q(mock.token), q(mock.url), q(helpers.LUA)))
      assert.equal(1, status)
      assert.matches("^extruct: output: cannot write to stdout: ", out)
    end)

    it("exits 1 with kind auth on a wrong token, and never shows it", function()
      local secret = "wrong-secret-token-31337"
      local out, err, status = extruct_run(mock, { "tables", "get", "tbl_idle" }, { EXTRUCT_API_TOKEN = secret })
      assert.equal(1, status)
      assert.equal("", out)
      assert.matches("^extruct: auth: ", err)
      assert.is_nil(err:find(secret, 1, true))
    end)
  end)

  describe("usage errors exit 2 with a hint to --help and send nothing", function()
    local cases = {
      { args = { "tables", "get", "tbl_idle", "--colour" }, says = "unknown option '--colour'" },
      { args = { "tables", "get" }, says = "missing table ID" },
      { args = { "tables", "fetch", "tbl_idle" }, says = "unknown subcommand 'fetch'" },
      { args = { "rows", "get", "x" }, says = "unknown command 'rows'" },
      { args = {}, says = "missing command" },
      { args = { "tables" }, says = "missing subcommand" },
      { args = { "tables", "get", "a", "b" }, says = "unexpected argument 'b'" },
      { args = { "tables", "get", "x", "--interval", "1" }, says = "option --interval does not apply to 'tables get'" },
      { args = { "tables", "wait", "x", "--interval=soon" }, says = "option --interval wants a number of seconds > 0" },
      { args = { "tables", "wait", "x", "--timeout" }, says = "option --timeout needs a value" },
      { args = { "tables", "wait", "x", "--max-interval", "2" }, says = "--max-interval (2) must be at least --interval (5)" },
      { args = { "tables", "wait", "x", "--interval=1", "--max-interval=0.5" },
        says = "--max-interval (0.5) must be at least --interval (1)" },
      { args = { "tables", "status", "x", "--max-interval=9" }, says = "option --max-interval does not apply" },
      { args = { "tables", "get", "x", "--pretty=yes" }, says = "option --pretty takes no value" },
      { args = { "tables", "get", "x", "--pretty", "--compact" }, says = "--pretty and --compact exclude each other" },
    }
    for _, case in ipairs(cases) do
      it(table.concat(case.args, " "), function()
        local out, err, status = extruct_run(mock, case.args)
        assert.equal(2, status, err)
        assert.equal("", out)
        assert.matches("^extruct: [^\n]*" .. case.says:gsub("%p", "%%%0"), err)
        assert.matches("Run 'extruct[%w ]* %-%-help' for usage%.\n$", err)
        assert.same({}, mock:requests())
      end)
    end

    it("points the hint at the subcommand", function()
      local _, err = extruct_run(mock, { "tables", "wait", "x", "--bogus" })
      assert.matches("Run 'extruct tables wait --help' for usage.", err, 1, true)
    end)
  end)

  describe("the token", function()
    it("comes from --token-file, trimmed of surrounding whitespace", function()
      write_file(work, "  \n" .. mock.token .. " \n\n")
      local out, err, status = extruct_run(mock, { "tables", "status", "tbl_idle", "--token-file", work },
        { EXTRUCT_API_TOKEN = false })
      assert.equal(0, status, err)
      assert.matches("^Idle table %(tbl_idle%): ", out)
      assert.equal("Bearer " .. mock.token, mock:requests()[1].headers.authorization)
    end)

    it("--token-file wins over EXTRUCT_API_TOKEN", function()
      write_file(work, mock.token)
      local _, err, status = extruct_run(mock, { "tables", "get", "tbl_idle", "--token-file=" .. work },
        { EXTRUCT_API_TOKEN = "not-the-token" })
      assert.equal(0, status, err)
    end)

    it("a missing or empty token file is a usage error (2) that names the file", function()
      local missing = work .. ".absent"
      local out, err, status = extruct_run(mock, { "tables", "get", "tbl_idle", "--token-file", missing })
      assert.equal(2, status)
      assert.equal("", out)
      assert.matches("^extruct: cannot read the token file: " .. missing:gsub("%p", "%%%0") .. ": ", err)
      assert.is_nil(err:find(mock.token, 1, true))

      write_file(work, " \n\t")
      out, err, status = extruct_run(mock, { "tables", "get", "tbl_idle", "--token-file", work })
      assert.equal(2, status)
      assert.equal("", out)
      assert.matches("is empty", err, 1, true)
      assert.same({}, mock:requests())
    end)

    it("no token at all, or a malformed base URL, is a usage error (2)", function()
      local _, err, status = extruct_run(mock, { "tables", "get", "tbl_idle" }, { EXTRUCT_API_TOKEN = false })
      assert.equal(2, status)
      assert.matches("^extruct: no API token: set EXTRUCT_API_TOKEN or pass %-%-token%-file PATH\n", err)

      _, err, status = extruct_run(mock, { "tables", "get", "tbl_idle", "--base-url", "ftp://example.com" })
      assert.equal(2, status)
      assert.matches("^extruct: config: malformed base URL", err)
      assert.same({}, mock:requests())
    end)
  end)

  describe("tables status", function()
    it("prints name, id, run status, cells done/total and percent", function()
      local out, err, status = extruct_run(mock, { "tables", "status", "tbl_idle" })
      assert.equal(0, status, err)
      assert.equal("Idle table (tbl_idle): idle, 30/30 cells, 100%\n", out)

      -- tbl_demo's first poll after a reset: a third of its cells done
      local t = assert(helpers.client(mock):get_table("tbl_demo"))
      mock:reset()
      local done, total = t.status.num_cells_completed, t.status.num_cells_completed + t.status.num_cells_in_progress
      out = extruct_run(mock, { "tables", "status", "tbl_demo" })
      assert.equal(("%s (tbl_demo): running, %d/%d cells, %d%%\n"):format(t.name, done, total, math.floor(done * 100 / total)),
        out)
    end)

    local function served(body)
      mock:fault{ path = "/v1/tables/", status = 200, body = cjson.encode(body) }
      local out, err, status = extruct_run(mock, { "tables", "status", "tbl_odd" })
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

  describe("tables wait", function()
    it("prints plain progress lines on a non-terminal stderr, then the idle table on stdout", function()
      mock:add_table{ id = "tbl_w", polls = 4 }
      local out, err, status = extruct_run(mock, { "tables", "wait", "tbl_w", "--interval", "0.05" })
      assert.equal(0, status, err)
      local t = assert(extruct.decode(out))
      assert.is_true(extruct.is_idle(t))
      assert.same(assert(client:get_table("tbl_w")), t)

      assert.is_nil(err:find("\r", 1, true), "no redraws when stderr is not a terminal")
      local seen, last_done = lines(err), -1
      assert.is_true(#seen >= 2, err)
      for _, line in ipairs(seen) do
        local done, total, percent = line:match("^tbl_w: %a+, (%d+)/(%d+) cells, (%d+)%%, elapsed %d+:%d%d$")
        assert.truthy(done, line)
        assert.is_true(tonumber(done) > last_done, "a line only when something changed: " .. err)
        assert.equal(math.floor(done * 100 / total), tonumber(percent))
        last_done = tonumber(done)
      end
      assert.matches("^tbl_w: idle, 250/250 cells, 100%%, elapsed ", seen[#seen])
    end)

    it("--quiet reports nothing", function()
      mock:add_table{ id = "tbl_w", polls = 2 }
      local out, err, status = extruct_run(mock, { "tables", "wait", "tbl_w", "--interval", "0.05", "--quiet" })
      assert.equal(0, status, err)
      assert.equal("", err)
      assert.is_true(extruct.is_idle(assert(extruct.decode(out))))
    end)

    it("exits 3 when the table is still running at --timeout, with nothing on stdout", function()
      mock:add_table{ id = "tbl_slow", polls = 100000 }
      local out, err, status = extruct_run(mock, { "tables", "wait", "tbl_slow", "--interval=0.05", "--timeout=0.3" })
      assert.equal(3, status, err)
      assert.equal("", out)
      local seen = lines(err)
      assert.matches("^extruct: timeout: table 'tbl_slow' was still running after 0.3 s", seen[#seen])
      assert.is_true(#mock:requests() >= 2)
    end)

    it("passes --max-interval on: polls of a table that does not move grow apart", function()
      -- every poll sees the same running table
      mock:fault{ path = "/v1/tables/", status = 200, count = 1000, body = cjson.encode{
        id = "tbl_still", name = "Still",
        status = { run_status = "running", num_cells_completed = 1, num_cells_in_progress = 9 } } }
      local out, err, status = extruct_run(mock, { "tables", "wait", "tbl_still",
        "--interval", "0.05", "--max-interval", "0.4", "--timeout", "1.2" })
      assert.equal(3, status, err)
      assert.equal("", out)
      -- pauses of at least 0.05, 0.075, 0.11, 0.17, 0.25, 0.38, 0.4 s: at
      -- most 7 of them fit in 1.2 s, so at most 8 polls and one at the
      -- deadline (a steady 0.05 s interval would poll about 24 times)
      local polls = #mock:requests()
      assert.is_true(polls >= 2 and polls <= 9, "polls: " .. polls)
      -- no change, so one progress line
      assert.equal(2, #lines(err), err)
    end)

    it("waits for several tables at once and prints each idle table as a JSON line, in the order given", function()
      mock:add_table{ id = "tbl_a", polls = 3 }
      mock:add_table{ id = "tbl_b", polls = 5 }
      mock:fault{ count = 1000, delay = 0.1, path = "/v1/tables/" }
      local out, err, status = extruct_run(mock, { "tables", "wait", "tbl_b", "tbl_a", "--interval", "0.05" })
      assert.equal(0, status, err)
      local printed = lines(out)
      assert.equal(2, #printed, out)
      assert.equal("tbl_b", assert(extruct.decode(printed[1])).id)
      assert.equal("tbl_a", assert(extruct.decode(printed[2])).id)
      assert.is_true(extruct.is_idle(extruct.decode(printed[1])))
      -- a progress line per change of each table, both polled side by side
      assert.matches("tbl_a: idle, 250/250 cells", err)
      assert.matches("tbl_b: idle, 250/250 cells", err)
      assert.equal(2, mock:stats().max_in_flight)
    end)

    it("with several tables, prints those that went idle, then the first failure, with its exit status", function()
      mock:add_table{ id = "tbl_a", polls = 2 }
      mock:add_table{ id = "tbl_slow", polls = 100000 }
      local out, err, status = extruct_run(mock, { "tables", "wait", "tbl_a", "tbl_slow", "--interval", "0.05",
        "--timeout", "0.5", "--quiet" })
      assert.equal(3, status, err)
      assert.equal("tbl_a", assert(extruct.decode(out)).id)
      assert.matches("^extruct: timeout: table 'tbl_slow' was still running", err)
      out, err, status = extruct_run(mock, { "tables", "wait", "tbl_a", "tbl_gone", "--quiet", "--concurrency", "1" })
      assert.equal("tbl_a", assert(extruct.decode(out)).id)
      assert.equal(1, status)
      assert.matches("^extruct: not_found: table 'tbl_gone'", err)
      out, err, status = extruct_run(mock, { "tables", "wait", "tbl_a", "tbl_b", "--concurrency", "0" })
      assert.equal(2, status)
      assert.equal("", out)
      assert.matches("--concurrency", err)
    end)

    it("exits 1 when a poll fails", function()
      local out, err, status = extruct_run(mock, { "tables", "wait", "tbl_gone", "--interval", "0.05" })
      assert.equal(1, status)
      assert.equal("", out)
      assert.matches("^extruct: not_found: ", err)
    end)
  end)

  describe("on a terminal", function()
    local have_script = os.execute("command -v script >/dev/null 2>&1")
    have_script = have_script == true or have_script == 0

    -- The raw bytes a program wrote to a pty of `cols` columns (script -q
    -- adds nothing), with stdout redirected to `out_file`.
    local function on_pty(cols, args, out_file)
      local words = {}
      for i, word in ipairs(args) do words[i] = q(word) end
      local inner = ("stty cols %d rows 20; EXTRUCT_API_TOKEN=%s EXTRUCT_API_URL=%s %s bin/extruct %s >%s"):format(
        cols, q(mock.token), q(mock.url), q(helpers.LUA), table.concat(words, " "), q(out_file))
      return helpers.run(("timeout 60 script -qfec %s /dev/null </dev/null"):format(q(inner)))
    end

    -- What was on the line each time it was redrawn.
    local function frames(typescript)
      local list = {}
      for frame in typescript:gsub("\r\n", "\n"):gmatch("[^\r\n]+") do
        if frame:find("%S") then list[#list + 1] = frame end
      end
      return list
    end

    it("draws a bar in place on stderr while stdout holds only the JSON (script)", function()
      if not have_script then
        pending("script(1) not found (Debian: bsdutils)")
        return
      end
      mock:add_table{ id = "tbl_bar", polls = 6 }
      local typescript = on_pty(100, { "tables", "wait", "tbl_bar", "--interval", "0.1" }, work)
      assert.is_true(extruct.is_idle(assert(extruct.decode(helpers.read_file(work)))))
      assert.truthy(typescript:find("\r", 1, true))

      local bars = 0
      for _, frame in ipairs(frames(typescript)) do
        local trimmed = frame:gsub("%s+$", "")
        assert.is_true(#trimmed <= 99, "fits in 100 columns: " .. frame)
        local done, total, percent = trimmed:match("^tbl_bar %[[#.]+%] +(%d+)/(%d+) cells +(%d+)%%  elapsed %d:%d%d, "
          .. "last change %d:%d%d ago$")
        if done then
          bars = bars + 1
          assert.equal(math.floor(done * 100 / total), tonumber(percent))
        end
      end
      assert.is_true(bars >= 3, typescript)
      -- cleared at the end: the last thing on the terminal is the summary line
      assert.matches("\r +\rtbl_bar: idle, 250/250 cells, 100%%, elapsed %d:%d%d\r?\n$", typescript)
    end)

    it("keeps the bar's clocks moving between polls (script)", function()
      if not have_script then
        pending("script(1) not found (Debian: bsdutils)")
        return
      end
      mock:add_table{ id = "tbl_tick", polls = 2 }
      local typescript = on_pty(100, { "tables", "wait", "tbl_tick", "--interval", "2.5" }, work)
      assert.is_true(extruct.is_idle(assert(extruct.decode(helpers.read_file(work)))))
      -- two polls, 2.5 s apart, yet the bar was redrawn with the time moving
      -- while the counts of the first poll stayed
      local first, later
      for _, frame in ipairs(frames(typescript)) do
        local counts, elapsed, since = frame:match("(%d+/250 cells +%d+%%)  elapsed 0:(%d%d), last change 0:(%d%d) ago")
        if counts then
          first = first or counts
          if counts == first and elapsed == "02" and since == "02" then later = frame end
        end
      end
      assert.truthy(later, typescript)
    end)

    it("narrows the bar to the terminal's width (script, 50 columns)", function()
      if not have_script then
        pending("script(1) not found (Debian: bsdutils)")
        return
      end
      mock:add_table{ id = "tbl_bar", polls = 3 }
      local typescript = on_pty(50, { "tables", "wait", "tbl_bar", "--interval", "0.05" }, work)
      assert.is_true(extruct.is_idle(assert(extruct.decode(helpers.read_file(work)))))
      local bars = 0
      for _, frame in ipairs(frames(typescript)) do
        local trimmed = frame:gsub("%s+$", "")
        assert.is_true(#trimmed <= 49, "fits in 50 columns: " .. frame)
        if trimmed:find("^%[[#.]+%] +%d+/%d+ cells +%d+%%  elapsed %d:%d%d$") then bars = bars + 1 end
      end
      assert.is_true(bars >= 1, typescript)
    end)

    it("shows done/total, percent and elapsed on a real terminal screen, then clears the bar (tmux)", function()
      local have_tmux = os.execute("command -v tmux >/dev/null 2>&1")
      if not (have_tmux == true or have_tmux == 0) then
        pending("tmux not found")
        return
      end
      mock:add_table{ id = "tbl_tmux", polls = 30 }
      local socket_name = "extruct-cli-spec-" .. mock.port
      local tmux = "tmux -f /dev/null -L " .. socket_name
      local done_flag = work .. ".done"
      os.remove(done_flag)
      local inner = ("EXTRUCT_API_TOKEN=%s EXTRUCT_API_URL=%s %s bin/extruct tables wait tbl_tmux --interval 0.1 >%s;"
        .. " echo $? >%s; sleep 30"):format(q(mock.token), q(mock.url), q(helpers.LUA), q(work), q(done_flag))
      local here = helpers.run("pwd"):gsub("\n$", "")
      local ok = os.execute(("%s new-session -d -x 100 -y 20 -s cli %s"):format(tmux, q("cd " .. q(here) .. " && " .. inner)))
      assert.is_true(ok == true or ok == 0, "tmux did not start")
      local screen = ""
      local function capture()
        screen = helpers.run(tmux .. " capture-pane -p -t cli") or ""
        return screen
      end
      local saw_bar = helpers.eventually(20, function()
        return capture():find("%d+/250 cells +%d+%%  elapsed %d:%d%d") ~= nil
      end)
      local bar_screen = screen
      local finished = helpers.eventually(30, function()
        local f = io.open(done_flag, "rb")
        if f then f:close() end
        return f ~= nil
      end)
      capture()
      os.execute(tmux .. " kill-server 2>/dev/null")

      assert.is_true(saw_bar, bar_screen)
      assert.matches("tbl_tmux %[[#.]+%]", bar_screen)
      assert.is_true(finished, "the wait did not end")
      assert.equal("0\n", helpers.read_file(done_flag))
      os.remove(done_flag)
      -- the bar gave way to the summary; the JSON went to the file only
      assert.is_nil(screen:find("[", 1, true), screen)
      assert.matches("tbl_tmux: idle, 250/250 cells, 100%%, elapsed %d:%d%d", screen)
      assert.is_nil(screen:find("{", 1, true), screen)
      assert.same(assert(client:get_table("tbl_tmux")), assert(extruct.decode(helpers.read_file(work))))
    end)
  end)

  describe("help", function()
    local function help(args)
      local out, err, status = extruct_run(nil, args)
      assert.equal(0, status, err)
      assert.equal("", err)
      return out
    end

    it("--help lists the commands, the options, the environment and the exit statuses", function()
      local out = help{ "--help" }
      assert.matches("^usage: extruct ", out)
      for _, text in ipairs{ "tables get ID", "tables status ID", "tables wait ID", "--token-file PATH",
                             "--base-url URL", "EXTRUCT_API_TOKEN", "EXTRUCT_API_URL", "Exit status",
                             "  3  `tables wait` timed out" } do
        assert.truthy(out:find(text, 1, true), text)
      end
      assert.equal(out, help{ "help" })
    end)

    it("each level has its own help, whatever else is on the line", function()
      local tables = help{ "tables", "--help" }
      assert.matches("^usage: extruct tables SUBCOMMAND", tables)
      local wait = help{ "tables", "wait", "--help" }
      assert.matches("^usage: extruct tables wait ID", wait)
      for _, option in ipairs{ "--interval S", "--max-interval S", "--timeout S", "--quiet", "--pretty", "--compact",
                               "--token-file" } do
        assert.truthy(wait:find(option, 1, true), option)
      end
      assert.equal(wait, help{ "help", "tables", "wait" })
      assert.equal(wait, help{ "-h", "tables", "wait", "tbl_x" })
      assert.matches("^usage: extruct tables get ID", help{ "tables", "get", "--help" })
      assert.matches("^usage: extruct tables status ID", help{ "tables", "status", "--help" })
    end)

    it("help for an unknown topic is a usage error", function()
      local out, err, status = extruct_run(nil, { "help", "rows" })
      assert.equal(2, status)
      assert.equal("", out)
      assert.matches("^extruct: no help for 'rows'\n", err)
    end)

    it("--version names the version, the Lua and libcurl", function()
      local out = help{ "--version" }
      assert.matches("^extruct " .. extruct._VERSION:gsub("%p", "%%%0") .. " %(.*libcurl/[%d.]+%)\n$", out)
    end)
  end)
end)

describe("extruct.cli pieces", function()
  it("formats durations as m:ss and h:mm:ss", function()
    assert.equal("0:00", progress.duration(0))
    assert.equal("0:59", progress.duration(59.9))
    assert.equal("2:05", progress.duration(125))
    assert.equal("1:00:01", progress.duration(3601))
  end)

  it("drops the id, then the last change, then the bar as the terminal narrows", function()
    local counts = { done = 5, total = 250 }
    local wide = progress.bar_line("tbl_a", counts, 2, 65, 3, 120)
    assert.matches("^tbl_a %[#?%.+%]   5/250 cells   2%%  elapsed 1:05, last change 0:03 ago$", wide)
    assert.is_true(#wide <= 119)
    for width = 10, 120 do
      local line = progress.bar_line("tbl_a", counts, 2, 65, 3, width)
      assert.is_true(#line <= width - 1, width .. ": " .. line)
    end
    assert.matches("^%[", progress.bar_line("tbl_a", counts, 2, 65, 3, 66))
    assert.equal("  5/250 cells   2%  elapsed 1:05", progress.bar_line("tbl_a", counts, 2, 65, 3, 40))
  end)
end)
