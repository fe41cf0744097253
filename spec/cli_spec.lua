-- The command line as a whole (bin/extruct, lua/extruct/cli/): reading the
-- words and options, usage errors and exit statuses, the token's sources,
-- help at every level, destructive commands, and the registry the commands,
-- the help pages and docs/cli.md come from. The commands' own output is in
-- cli_tables_commands_spec, cli_rows_commands_spec, cli_columns_commands_spec,
-- cli_companies_spec, cli_deep_search_spec, cli_deep_research_spec,
-- cli_account_spec and cli_wait_spec.
local helpers = require("spec.helpers")
local support = require("spec.support.cli")
local extruct = require("extruct")
local args = require("extruct.cli.args")
local docs = require("extruct.cli.docs")
local help = require("extruct.cli.help")
local registry = require("extruct.cli.registry")

local run_extruct = support.run_extruct
local q = helpers.shell_quote
local unpack = table.unpack or unpack

-- The words of a command path, for argv.
local function words_of(path)
  local words = {}
  for word in path:gmatch("%S+") do words[#words + 1] = word end
  return words
end

local function with(list, ...)
  local copy = {}
  for i, item in ipairs(list) do copy[i] = item end
  for i = 1, select("#", ...) do copy[#copy + 1] = (select(i, ...)) end
  return copy
end

describe("extruct command line", function()
  local work
  local session = support.against_mock({ ".err" }, function(s) work = s.work end)

  -- (these run the program itself, bin/extruct: its exit status is the process's)
  describe("exit statuses", function()
    it("exits 1 on an API error, naming the kind on one line, without the token", function()
      local out, err, status = run_extruct(session.mock, { "tables", "get", "tbl_nope" }, { process = true })
      assert.equal(1, status)
      assert.equal("", out)
      assert.matches("^extruct: not_found: table 'tbl_nope' [^\n]*\n$", err)
      assert.is_nil(err:find(session.mock.token, 1, true))
    end)

    it("exits 1 when the connection is refused, naming the kind, without the token", function()
      -- (a create is sent once: no retry pauses to wait through)
      local port = helpers.closed_port()
      helpers.write_file(work .. ".json", '{"name": "Refused", "kind": "generic"}')
      local out, err, status = run_extruct(session.mock, { "tables", "create", work .. ".json" },
        { env = { EXTRUCT_API_URL = "http://127.0.0.1:" .. port }, process = true })
      os.remove(work .. ".json")
      assert.equal(1, status)
      assert.equal("", out)
      assert.matches("^extruct: network: [^\n]*\n$", err)
      assert.is_nil(err:find(session.mock.token, 1, true))
    end)

    it("exits 1 with kind auth on a wrong token, and never shows it", function()
      local secret = "wrong-secret-token-31337"
      for _, command in ipairs({ { "tables", "get", "tbl_idle" }, { "tables", "list" } }) do
        local out, err, status = run_extruct(session.mock, command, { env = { EXTRUCT_API_TOKEN = secret },
          process = true })
        assert.equal(1, status)
        assert.equal("", out)
        assert.matches("^extruct: auth: [^\n]*\n$", err)
        assert.is_nil(err:find(secret, 1, true))
      end
    end)

    it("exits 1 with kind output when stdout cannot be written", function()
      local full = io.open("/dev/full", "wb")
      if not full then
        pending("/dev/full not available")
        return
      end
      full:close()
      local mock = session.mock
      local out, status = helpers.run(("EXTRUCT_API_TOKEN=%s EXTRUCT_API_URL=%s %s bin/extruct tables get tbl_idle"
        .. " 2>&1 >/dev/full"):format(q(mock.token), q(mock.url), q(helpers.LUA)))
      assert.equal(1, status)
      assert.matches("^extruct: output: cannot write to stdout: ", out)
    end)

    -- (The reader, head, takes one byte and leaves; the rows are far more
    -- than a pipe holds, so the writer always meets the closed pipe.)
    it("exits 141 and says nothing when stdout's reader goes away, SIGPIPE ignored or not", function()
      local mock = session.mock
      mock:control("POST", "/_mock/tables", { id = "tbl_pipe", rows = 200, polls = 1 })
      local command = ("EXTRUCT_API_TOKEN=%s EXTRUCT_API_URL=%s %s bin/extruct tables data tbl_pipe 2>%s"
        .. " | head -c1 >/dev/null; echo \"status ${PIPESTATUS[0]}\""):format(q(mock.token), q(mock.url),
        q(helpers.LUA), q(work .. ".err"))
      -- the default disposition (the process is ended by the signal), and
      -- SIGPIPE ignored as a parent may leave it (the write fails: EPIPE)
      local ignoring = "bash -c " .. q("trap '' PIPE; exec bash -c \"$0\"") .. " "
      for _, prefix in ipairs({ "env --default-signal=PIPE bash -c ", ignoring }) do
        local out, status = helpers.run(prefix .. q(command))
        assert.equal(0, status, out)
        assert.equal("status 141\n", out, prefix)
        assert.equal("", helpers.read_file(work .. ".err"), prefix)
      end
      assert.equal(registry.EXIT_CLOSED_PIPE, 141)
      assert.truthy(helpers.read_file("docs/cli.md"):find("| `141` | stdout is a pipe whose reader went away", 1, true))
    end)
  end)

  describe("words and options", function()
    it("takes options before the words and as --opt=value; --base-url wins over EXTRUCT_API_URL", function()
      local mock = session.mock
      local out, err, status = run_extruct(mock, { "--base-url=" .. mock.url, "tables", "--pretty", "get", "tbl_idle" },
        { env = { EXTRUCT_API_URL = "http://127.0.0.1:1" } })
      assert.equal(0, status, err)
      assert.is_true(select(2, out:gsub("\n", "")) > 20, "indented")
      assert.same(assert(session.client:get_table("tbl_idle")), assert(extruct.decode(out)))
      local requests = mock:requests()
      assert.equal("/v1/tables/tbl_idle", requests[1].path)
      assert.equal("Bearer " .. mock.token, requests[1].headers.authorization)
    end)

    it("takes an argument that starts with '-' after --", function()
      local out, err, status = run_extruct(session.mock, { "tables", "get", "--", "-dash" })
      assert.equal(1, status)
      assert.equal("", out)
      assert.matches("^extruct: not_found: table '%-dash' ", err)
      assert.equal("/v1/tables/-dash", session.mock:requests()[1].path)
    end)
  end)

  describe("usage errors exit 2, point at the right help and send nothing", function()
    -- hint: the help the error points at ("" for the top level)
    local cases = {
      { args = { "tables", "get", "tbl_idle", "--colour" }, says = "unknown option '--colour'", hint = "tables get" },
      { args = { "tables", "wait", "x", "--bogus" }, says = "unknown option '--bogus'", hint = "tables wait" },
      { args = { "tables", "get" }, says = "missing table ID", hint = "tables get" },
      { args = { "tables", "delete" }, says = "missing table ID", hint = "tables delete" },
      { args = { "tables", "fetch", "tbl_idle" }, says = "unknown subcommand 'fetch' of tables", hint = "tables" },
      { args = { "records", "get", "x" }, says = "unknown command 'records'", hint = "" },
      { args = { "rows", "get", "x" }, says = "missing ROW_ID", hint = "rows get" },
      { args = { "rows", "delete", "x" }, says = "missing ROW_ID", hint = "rows delete" },
      { args = { "rows", "delete", "x", "r1", "r2" }, says = "'rows delete' cannot be undone: pass --yes",
        hint = "rows delete" },
      { args = { "rows" }, says = "missing subcommand of rows: add, get, update or delete", hint = "rows" },
      { args = { "columns", "update", "x", "c" }, says = "missing FILE", hint = "columns update" },
      { args = { "columns", "delete", "x", "c" }, says = "'columns delete' cannot be undone: pass --yes",
        hint = "columns delete" },
      { args = { "columns", "add", "x", "f.json", "--first", "--after", "c" },
        says = "--after and --first exclude each other", hint = "columns add" },
      { args = { "columns", "list", "x", "--pretty", "--format", "table" },
        says = "option --pretty shapes JSON: it does not go with --format table", hint = "columns list" },
      { args = { "user", "extra" }, says = "unexpected argument 'extra'", hint = "user" },
      { args = { "health", "--json" }, says = "option --json does not apply to 'health'", hint = "health" },
      { args = { "tables", "update", "x" }, says = "nothing to change: pass --name, --description or --tag",
        hint = "tables update" },
      { args = { "tables", "update", "x", "--name", "n", "--compact" }, says = "option --compact needs --json",
        hint = "tables update" },
      { args = { "tables", "clone", "x", "--schema-only=yes" }, says = "option --schema-only takes no value",
        hint = "tables clone" },
      { args = { "tables", "list", "--view", "tiny" }, says = "option --view wants full or minimal",
        hint = "tables list" },
      { args = { "tables", "list", "--csv" }, says = "unknown option '--csv'", hint = "tables list" },
      { args = { "tabels", "list" }, says = "unknown command 'tabels'; did you mean 'tables'?", hint = "" },
      { args = { "tables", "lst" }, says = "unknown subcommand 'lst' of tables; did you mean 'list'?", hint = "tables" },
      { args = { "deep-serach", "list" }, says = "unknown command 'deep-serach'; did you mean 'deep-search'?",
        hint = "" },
      { args = { "tables", "get", "x", "--prety" }, says = "unknown option '--prety'; did you mean '--pretty'?",
        hint = "tables get" },
      { args = { "tables", "data", "x", "--fromat", "csv" }, says = "unknown option '--fromat'; did you mean '--format'?",
        hint = "tables data" },
      { args = { "tables", "get", "x", "--limit", "2" },
        says = "option --limit does not apply to 'tables get'", hint = "tables get" },
      { args = { "tables", "list", "--format", "yaml" }, says = "option --format wants table, jsonl, json or csv",
        hint = "tables list" },
      { args = { "tables", "get", "x", "-o", "/nonexistent/dir/t.json" },
        says = "--output: cannot write /nonexistent/dir/t.json: No such file or directory", hint = "tables get" },
      { args = { "tables", "data", "x", "--format", "csv", "--pretty" },
        says = "option --pretty shapes JSON: it does not go with --format csv", hint = "tables data" },
      { args = { "tables", "data", "x", "--columns", "a,,b" }, says = "option --columns wants column keys separated",
        hint = "tables data" },
      { args = { "tables", "data", "x", "--columns", "a,b,a" }, says = "--columns names 'a' twice",
        hint = "tables data" },
      { args = { "rows", "add", "x", "f.csv", "--pretty" }, says = "option --pretty needs --json", hint = "rows add" },
      { args = { "tables", "get", "x", "--request-timeout", "0" },
        says = "option --request-timeout wants a number of seconds > 0", hint = "tables get" },
      { args = {}, says = "missing command: tables", hint = "" },
      { args = { "tables" }, says = "missing subcommand of tables: list, get, status, wait", hint = "tables" },
      { args = { "tables", "rows" }, says = "missing subcommand of tables rows: add", hint = "tables rows" },
      { args = { "tables", "rows", "drop", "x" }, says = "unknown subcommand 'drop' of tables rows",
        hint = "tables rows" },
      { args = { "tables", "get", "a", "b" }, says = "unexpected argument 'b'", hint = "tables get" },
      { args = { "tables", "list", "extra" }, says = "unexpected argument 'extra'", hint = "tables list" },
      { args = { "tables", "get", "x", "--interval", "1" }, says = "option --interval does not apply to 'tables get'",
        hint = "tables get" },
      { args = { "tables", "get", "x", "--json" }, says = "option --json does not apply to 'tables get'",
        hint = "tables get" },
      { args = { "tables", "get", "x", "--yes" }, says = "option --yes does not apply to 'tables get'",
        hint = "tables get" },
      { args = { "tables", "status", "x", "--max-interval=9" }, says = "option --max-interval does not apply",
        hint = "tables status" },
      { args = { "tables", "wait", "x", "--interval=soon" }, says = "option --interval wants a number of seconds > 0",
        hint = "tables wait" },
      { args = { "tables", "wait", "x", "--timeout" }, says = "option --timeout needs a value (S)", hint = "tables wait" },
      { args = { "tables", "wait", "x", "--max-interval", "2" },
        says = "--max-interval (2) must be at least --interval (5)", hint = "tables wait" },
      { args = { "tables", "wait", "x", "--interval=1", "--max-interval=0.5" },
        says = "--max-interval (0.5) must be at least --interval (1)", hint = "tables wait" },
      { args = { "tables", "get", "x", "--pretty=yes" }, says = "option --pretty takes no value", hint = "tables get" },
      { args = { "tables", "get", "x", "--pretty", "--compact" }, says = "--pretty and --compact exclude each other",
        hint = "tables get" },
      { args = { "tables", "data", "x", "--id" }, says = "option --id needs --format csv", hint = "tables data" },
      { args = { "tables", "list", "--page-size", "101" }, says = "--page-size is at most 100", hint = "tables list" },
      { args = { "tables", "list", "--limit", "0" }, says = "option --limit wants a whole number >= 1",
        hint = "tables list" },
      { args = { "tables", "list", "--kind", "robots" }, says = "option --kind wants generic, company or people",
        hint = "tables list" },
      { args = { "tables", "list", "--search=" }, says = "option --search needs a non-empty TEXT",
        hint = "tables list" },
      { args = { "tables", "create", "f.json", "--pretty" }, says = "option --pretty needs --json",
        hint = "tables create" },
      { args = { "tables", "run", "x", "--pretty" }, says = "option --pretty needs --json or --wait",
        hint = "tables run" },
      { args = { "tables", "run", "x", "--json", "--wait" }, says = "--json and --wait exclude each other",
        hint = "tables run" },
      { args = { "tables", "run", "x", "--quiet" }, says = "option --quiet needs --wait", hint = "tables run" },
      { args = { "tables", "delete", "tbl_idle" }, says = "'tables delete' cannot be undone: pass --yes to confirm",
        hint = "tables delete" },
      { args = { "help", "records" }, says = "no help for 'records'", hint = "" },
    }
    support.usage_error_cases(session, cases)
  end)

  describe("destructive commands", function()
    it("tables delete refuses without --yes, and deletes with it", function()
      local t = assert(session.client:create_table{ name = "Keep me", kind = "generic" })
      local out, err, status = run_extruct(session.mock, { "tables", "delete", t.id })
      support.assert_usage_error(out, err, status, "tables delete")
      assert.matches("cannot be undone: pass %-%-yes", err)
      assert.equal(0, #support.api_requests(session.mock, "DELETE"))
      assert(session.client:get_table(t.id))

      out, err, status = run_extruct(session.mock, { "tables", "delete", "--yes", t.id })
      assert.equal(0, status, err)
      assert.equal(("deleted Keep me (%s)\n"):format(t.id), out)
    end)
  end)

  describe("the token", function()
    it("comes from --token-file, trimmed of surrounding whitespace", function()
      helpers.write_file(work, "  \n" .. session.mock.token .. " \n\n")
      local out, err, status = run_extruct(session.mock, { "tables", "status", "tbl_idle", "--token-file", work },
        { env = { EXTRUCT_API_TOKEN = false } })
      assert.equal(0, status, err)
      assert.matches("^Idle table %(tbl_idle%): ", out)
      assert.equal("Bearer " .. session.mock.token, session.mock:requests()[1].headers.authorization)
    end)

    it("--token-file wins over EXTRUCT_API_TOKEN", function()
      helpers.write_file(work, session.mock.token)
      local _, err, status = run_extruct(session.mock, { "tables", "get", "tbl_idle", "--token-file=" .. work },
        { env = { EXTRUCT_API_TOKEN = "not-the-token" } })
      assert.equal(0, status, err)
    end)

    it("comes from a pipe too (--token-file /dev/stdin, or <(command) in bash)", function()
      local mock = session.mock
      local out, status = helpers.run(("printf '%%s\\n' %s | EXTRUCT_API_URL=%s %s bin/extruct tables status tbl_idle"
        .. " --token-file /dev/stdin 2>&1"):format(q(mock.token), q(mock.url), q(helpers.LUA)))
      assert.equal(0, status, out)
      assert.matches("^Idle table %(tbl_idle%): ", out)
    end)

    it("a missing or empty token file is a usage error (2) that names the file", function()
      local missing = work .. ".absent"
      local out, err, status = run_extruct(session.mock, { "tables", "get", "tbl_idle", "--token-file", missing })
      support.assert_usage_error(out, err, status, "")
      assert.matches("^extruct: cannot read the token file '" .. missing:gsub("%p", "%%%0")
        .. "': No such file or directory\n", err)
      assert.is_nil(err:find(session.mock.token, 1, true))

      helpers.write_file(work, " \n\t")
      out, err, status = run_extruct(session.mock, { "tables", "get", "tbl_idle", "--token-file", work })
      support.assert_usage_error(out, err, status, "")
      assert.matches("is empty", err, 1, true)
      assert.same({}, session.mock:requests())
    end)

    -- /dev/zero would be read until memory ran out: what is not a regular
    -- file or a pipe is refused before a byte is read, and the rest is
    -- read up to 64 KB.
    it("a token file that is not a regular file or a pipe, or holds over 64 KB, is a config error (2)", function()
      local cases = {
        { "/dev/zero", "the token file '/dev/zero' is a character device, not a regular file or a pipe" },
        { "/tmp", "the token file '/tmp' is a directory, not a regular file or a pipe" },
        { work, ("the token file '%s' holds more than 64 KB: an API token is one line"):format(work) },
      }
      helpers.write_file(work, session.mock.token .. (" "):rep(64 * 1024))
      for _, case in ipairs(cases) do
        local out, err, status = run_extruct(session.mock, { "user", "--token-file", case[1] })
        support.assert_usage_error(out, err, status, "")
        assert.equal("extruct: " .. case[2] .. "\nRun 'extruct --help' for usage.\n", err)
      end
      -- the same failure is an error object of kind config in-process
      local _, err = pcall(function()
        require("extruct.cli.context").new(extruct, {}, { token_file = "/dev/zero" }):client()
      end)
      assert.equal("config", err.kind)
      assert.truthy(err.message:find("is a character device", 1, true))
      -- 64 KB exactly is still read (and trimmed)
      helpers.write_file(work, session.mock.token .. (" "):rep(64 * 1024 - #session.mock.token))
      local _, err_ok, status_ok = run_extruct(session.mock, { "user", "--token-file", work })
      assert.equal(0, status_ok, err_ok)
    end)

    it("a port outside 1-65535 in the base URL is a config error (2) naming it", function()
      for _, port in ipairs({ "99999", "0", "65536" }) do
        local base = "http://127.0.0.1:" .. port
        local _, err, status = run_extruct(session.mock, { "user", "--base-url", base })
        assert.equal(2, status, err)
        assert.equal(("extruct: config: malformed base URL '%s': the port %s is out of range (1 to 65535)\n")
          :format(base, port), err)
      end
      assert.same({}, session.mock:requests())
    end)

    it("no token at all, or a malformed base URL, is a usage error (2)", function()
      local _, err, status = run_extruct(session.mock, { "tables", "get", "tbl_idle" },
        { env = { EXTRUCT_API_TOKEN = false } })
      assert.equal(2, status)
      assert.matches("^extruct: no API token: set EXTRUCT_API_TOKEN or pass %-%-token%-file PATH\n", err)

      _, err, status = run_extruct(session.mock, { "tables", "get", "tbl_idle", "--base-url", "ftp://example.com" })
      assert.equal(2, status)
      assert.matches("^extruct: config: malformed base URL", err)
      assert.same({}, session.mock:requests())
    end)
  end)

  describe("help", function()
    -- (in this process: the pages are the same; the first test runs the program)
    local function help_of(argv)
      local out, err, status = support.main(argv)
      assert.equal(0, status, err)
      assert.equal("", err)
      return out
    end

    it("--help lists every command, the options, the environment and the exit statuses", function()
      local out, err, status = run_extruct(nil, { "--help" })
      assert.equal(0, status, err)
      assert.equal("", err)
      assert.equal(help_of{ "--help" }, out)
      assert.matches("^usage: extruct ", out)
      for _, text in ipairs{ "  tables list ", "  tables get ID ", "  tables status ID ", "  tables wait ID [ID ...] ",
                             "  tables create FILE ", "  tables delete ID ", "  tables run ID ", "  tables data ID ",
                             "  tables update ID ", "  tables clone ID ", "  tables rows add ID FILE ",
                             "  rows add ID FILE ", "  rows get ID ROW_ID ", "  rows update ID FILE ",
                             "  rows delete ID ROW_ID [ROW_ID ...] ", "  columns list ID ", "  columns add ID FILE ",
                             "  columns update ID COLUMN_ID FILE ", "  columns delete ID COLUMN_ID ", "  user ",
                             "  health ", "--request-timeout S",
                             "  help [COMMAND] ", "--token-file PATH", "--base-url URL",
                             "EXTRUCT_API_TOKEN", "EXTRUCT_API_URL", "Exit status", "  3  `tables wait` timed out" } do
        assert.truthy(out:find(text, 1, true), text)
      end
      assert.equal(out, help_of{ "help" })
    end)

    it("each level has its own help, whatever else is on the line", function()
      local tables = help_of{ "tables", "--help" }
      assert.matches("^usage: extruct tables SUBCOMMAND", tables)
      for _, sub in ipairs{ "list", "create FILE", "delete ID", "run ID", "data ID", "rows add ID FILE" } do
        assert.truthy(tables:find("\n  " .. sub .. " ", 1, true), sub)
      end
      local wait = help_of{ "tables", "wait", "--help" }
      assert.matches("^usage: extruct tables wait ID", wait)
      for _, option in ipairs{ "--interval S", "--max-interval S", "--timeout S", "--quiet", "--pretty", "--compact",
                               "--concurrency N", "--token-file", "  3  timed out" } do
        assert.truthy(wait:find(option, 1, true), option)
      end
      assert.equal(wait, help_of{ "-h", "tables", "wait", "tbl_x" })
      assert.equal(help_of{ "tables", "--help" }, help_of{ "tables", "nonsense", "--help" })
      assert.matches("^usage: extruct tables rows SUBCOMMAND", help_of{ "help", "tables", "rows" })
    end)

    it("every command's and group's help names its arguments and options, and `help X` is `X --help`", function()
      local commands = registry.standard()
      for _, entry in ipairs(commands.commands) do
        local page = help_of(with(words_of(entry.path), "--help"))
        assert.matches("^usage: extruct " .. entry.path:gsub("%p", "%%%0"), page)
        for _, arg in ipairs(entry.args) do assert.truthy(page:find("\n  " .. arg.name, 1, true), arg.name) end
        for _, spec in ipairs(entry.options) do
          assert.truthy(page:find("\n  " .. args.option_label(spec), 1, true), entry.path .. ": " .. spec.name)
        end
        assert.equal(page, help_of(with({ "help" }, unpack(words_of(entry.path)))))
      end
      for _, path in ipairs{ "tables", "tables rows", "rows", "columns" } do
        assert.equal(help_of(with(words_of(path), "--help")), help_of(with({ "help" }, unpack(words_of(path)))))
      end
    end)

    it("--version names the version, the Lua and libcurl", function()
      local out = help_of{ "--version" }
      assert.matches("^extruct " .. extruct._VERSION:gsub("%p", "%%%0") .. " %(.*libcurl/[%d.]+%)\n$", out)
    end)
  end)

  describe("bin/extruct in a checkout", function()
    local lua_name = rawget(_G, "jit") and "luajit" or ("lua" .. _VERSION:match("%d+%.%d+"))
    local running = (rawget(_G, "jit") and jit.version or _VERSION):gsub("%p", "%%%0")

    it("loads the build of the interpreter running it, whatever $LUA names", function()
      local other = lua_name == "lua5.3" and "lua5.4" or "lua5.3"
      local out, status = helpers.run(("env LUA=%s %s bin/extruct --version 2>&1"):format(other, q(helpers.LUA)))
      assert.equal(0, status, out)
      assert.matches("^extruct [%d.]+ %(" .. running .. "; libcurl/", out)
    end)

    it("says which build is missing", function()
      -- a checkout of its own: the same modules, no build folder
      local dir = helpers.scratch_dir()
      local ok = os.execute(("mkdir -p %s/bin && cp bin/extruct %s/bin/ && ln -s %s/lua %s/lua"):format(q(dir), q(dir),
        q(assert(io.popen("pwd")):read("*l")), q(dir)))
      assert.truthy(ok == true or ok == 0)
      local out, status = helpers.run(("env -u LUA_CPATH -u LUA_CPATH_5_2 -u LUA_CPATH_5_3 -u LUA_CPATH_5_4 %s %s"
        .. " --version 2>&1"):format(q(helpers.LUA), q(dir .. "/bin/extruct")))
      helpers.remove_dir(dir)
      assert.equal(2, status, out)
      assert.equal(("extruct: no build of the C core for %s (%s/bin/../build/%s/extruct/core.so): run"
        .. " `make build LUA=%s`\n"):format(lua_name, dir, lua_name, lua_name), out)
    end)
  end)
end)

describe("the command registry", function()
  -- A command of a group the standard registry does not have.
  local function hello_entry(extra)
    local entry = {
      words = { "greetings", "hello" },
      args = { { name = "NAME", help = "who to greet", missing = "missing NAME" } },
      options = { args.option{ name = "--shout", help = "in capitals" } },
      summary = "say hello to someone",
      help = "Says hello to NAME on stdout.\n",
      examples = { "extruct greetings hello Ada" },
      run = function(ctx, a, opts)
        local text = "hello " .. a.name
        return ctx:print(opts.shout and text:upper() or text)
      end,
    }
    for k, v in pairs(extra or {}) do entry[k] = v end
    return entry
  end

  it("takes a new command as one entry: it runs, and every help level and the reference show it", function()
    local commands = registry.standard()
    commands:add(hello_entry())

    -- no token is needed by a command that never asks for the client
    local out, err, status = support.main({ "greetings", "hello", "Ada", "--shout" }, {}, commands)
    assert.equal(0, status, err)
    assert.equal("HELLO ADA\n", out)

    out = support.main({ "--help" }, {}, commands)
    assert.truthy(out:find("\n  greetings hello NAME ", 1, true), out)
    assert.truthy(out:find("\n  tables get ID ", 1, true), out)
    out = support.main({ "greetings", "--help" }, {}, commands)
    assert.matches("^usage: extruct greetings SUBCOMMAND", out)
    assert.truthy(out:find("\n  hello NAME ", 1, true), out)
    out = support.main({ "help", "greetings", "hello" }, {}, commands)
    assert.matches("^usage: extruct greetings hello NAME %[%-%-shout%] %[OPTIONS%]\n", out)
    assert.truthy(out:find("\n  --shout ", 1, true), out)
    assert.truthy(out:find("\nExamples:\n  extruct greetings hello Ada\n", 1, true), out)
    assert.truthy(docs.markdown(commands):find("\n### extruct greetings hello\n", 1, true))

    -- its option belongs to it alone, and its argument is checked
    out, err, status = support.main({ "tables", "get", "x", "--shout" }, {}, commands)
    assert.equal(2, status)
    assert.equal("", out)
    assert.matches("option %-%-shout does not apply to 'tables get'", err)
    out, err, status = support.main({ "greetings", "hello" }, {}, commands)
    assert.equal("", out)
    assert.equal(2, status)
    assert.equal("extruct: missing NAME\nRun 'extruct greetings hello --help' for usage.\n", err)

    -- the standard command line is untouched
    out, err, status = support.main({ "greetings", "hello", "Ada" })
    assert.equal("", out)
    assert.equal(2, status)
    assert.matches("unknown command 'greetings'", err)
  end)

  it("makes any entry marked destructive refuse to run without --yes", function()
    local ran = 0
    local commands = registry.new()
    commands:add(hello_entry{ destructive = true, run = function(ctx)
      ran = ran + 1
      return ctx:print("gone")
    end })
    local out, err, status = support.main({ "greetings", "hello", "Ada" }, {}, commands)
    assert.equal(2, status)
    assert.equal("", out)
    assert.equal("extruct: 'greetings hello' cannot be undone: pass --yes to confirm\n"
      .. "Run 'extruct greetings hello --help' for usage.\n", err)
    assert.equal(0, ran)
    out, err, status = support.main({ "greetings", "hello", "Ada", "--yes" }, {}, commands)
    assert.equal(0, status, err)
    assert.equal("gone\n", out)
    assert.equal(1, ran)
    assert.truthy(support.main({ "greetings", "hello", "--help" }, {}, commands):find("\n  -y, --yes ", 1, true))
    local _, short_err, short_status = support.main({ "greetings", "hello", "Ada", "-y" }, {}, commands)
    assert.equal(0, short_status, short_err)
    assert.equal(2, ran)
  end)

  it("refuses an entry without help, summary, examples or run, and clashing words or options", function()
    for _, field in ipairs{ "help", "summary", "examples", "run" } do
      local commands = registry.new()
      assert.error_matches(function() commands:add(hello_entry{ [field] = false }) end,
        "extruct.cli.registry: 'greetings hello' has no", nil, true)
    end
    local commands = registry.new()
    commands:add(hello_entry())
    assert.has_error(function() commands:add(hello_entry()) end, nil)
    assert.error_matches(function() commands:add(hello_entry{ words = { "greetings" } }) end,
      "extruct.cli.registry: 'greetings' is already taken", nil, true)
    assert.error_matches(function() commands:add(hello_entry{ words = { "greetings", "hello", "again" } }) end,
      "extruct.cli.registry: 'greetings hello' is a command and cannot lead to others", nil, true)
    assert.error_matches(function()
      commands:add(hello_entry{ words = { "greetings", "bye" }, options = { args.option{ name = "--shout", value = "HOW",
        help = "how loud" } } })
    end, "extruct.cli.registry: option --shout takes a value in one command and not in another", nil, true)
    assert.error_matches(function() commands:add(hello_entry{ words = { "help", "me" } }) end,
      "extruct.cli.registry: 'help' is the help command's word", nil, true)
    assert.error_matches(function() args.option{ name = "--quiet" } end, "option --quiet has no help", nil, true)
  end)

  it("has help, a summary, examples, and help for every argument and option of every command", function()
    local commands = registry.standard()
    assert.is_true(#commands.commands >= 9)
    for _, entry in ipairs(commands.commands) do
      assert.truthy(type(entry.summary) == "string" and entry.summary:find("%S"), entry.path)
      assert.truthy(type(entry.help) == "string" and entry.help:find("%S"), entry.path)
      assert.is_true(#entry.examples > 0, entry.path)
      for _, example in ipairs(entry.examples) do
        assert.truthy(example:find("extruct " .. entry.path, 1, true), entry.path .. ": " .. example)
      end
      for _, arg in ipairs(entry.args) do assert.truthy(arg.help:find("%S"), entry.path .. " " .. arg.name) end
      for _, spec in ipairs(entry.options) do assert.truthy(spec.help:find("%S"), entry.path .. " " .. spec.name) end
      assert.truthy(help.command(entry))
    end
  end)

  it("docs/cli.md is what scripts/cli-doc.lua makes from the registry", function()
    local expected = docs.markdown(registry.standard())
    local file = io.open("docs/cli.md", "rb")
    local current = file and file:read("*a")
    if file then file:close() end
    assert(current == expected, "docs/cli.md is out of date with the command registry: run `make cli-doc`")
    -- the script needs no build and no path set up for it
    local out, status = helpers.run(("env -u LUA_PATH -u LUA_CPATH %s scripts/cli-doc.lua"):format(q(helpers.LUA)))
    assert.equal(0, status, out)
    assert(out == expected, "scripts/cli-doc.lua printed something else than extruct.cli.docs makes")
  end)

  it("the reference has a section, the usage and the options of every command", function()
    local commands = registry.standard()
    local text = docs.markdown(commands)
    for _, entry in ipairs(commands.commands) do
      assert.truthy(text:find("\n### extruct " .. entry.path .. "\n", 1, true), entry.path)
      assert.truthy(text:find(help.usage(entry), 1, true), entry.path)
      for _, spec in ipairs(entry.options) do
        assert.truthy(text:find("| `" .. args.option_label(spec) .. "` |", 1, true), entry.path .. " " .. spec.name)
      end
    end
  end)
end)
