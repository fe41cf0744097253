-- The README's blocks run as written (its first Lua example runs in
-- getting_started_spec, after the install that page makes):
--
-- * the tour (Lua) in a child interpreter against a fresh mock with
--   --polls 1 (its waits end at their first poll), with EXTRUCT_API_URL and
--   EXTRUCT_API_TOKEN set as the README says;
-- * the shell blocks in order as one bash session, from a copy of the
--   checkout, in a sandbox: a network namespace (no network; port 8080 free
--   whoever else runs tests), a PID namespace (the mock a block leaves
--   running ends with the session) and a mount namespace where /usr/local
--   is an empty tmpfs, so `luarocks make` run as root installs there as it
--   would on the reader's machine, and nothing stays.
--
-- `make` in the session is a function that runs the real make, except
-- where a line cannot run here, which it runs with `make -n` (the commands
-- are printed, not run) and says why: `make test` (every spec, this one
-- among them: minutes) and `make demo` with a token (the real API). The
-- demo against its own mock paces itself (a poll a second, 5 polls).
local helpers = require("spec.helpers")
local markdown = require("spec.support.markdown")
local q = helpers.shell_quote

local PAGE = "README.md"
local SPEC = "integration/readme_spec"

-- The function `make` of the session.
local MAKE = [[
make() {
  if [ "$1" = test ]; then
    echo "NOTICE: make $*: dry run (make -n): it runs every spec, this one among them, for minutes"
    command make -n "$@"
  elif [ "$1" = demo ] && [ -n "$EXTRUCT_API_TOKEN" ]; then
    echo "NOTICE: make $*: dry run (make -n): with a token it talks to the real API, which a spec cannot reach"
    command make -n "$@"
  else
    command make "$@"
  fi
}
]]

describe(PAGE, function()
  local blocks = markdown.claimed(PAGE, SPEC)

  it("marks its blocks: the tour's Lua and the shell lines", function()
    local langs = {}
    for i, block in ipairs(blocks) do langs[i] = block.lang end
    assert.same({ "sh", "sh", "sh", "lua", "sh" }, langs)
  end)

  describe("the tour", function()
    local mock
    lazy_setup(function() mock = helpers.start_mock{ polls = 1 } end)
    lazy_teardown(function() if mock then mock:stop() end end)

    it("runs as written against the mock: a table's answers, companies, a search, a report, an error", function()
      local tour = {}
      for _, block in ipairs(blocks) do
        if block.lang == "lua" then tour[#tour + 1] = block end
      end
      local results, out = markdown.run_lua(tour, { env = { EXTRUCT_API_URL = mock.url, EXTRUCT_API_TOKEN = mock.token } })
      markdown.assert_ran(tour, results, out)
      local printed = results[1].out
      assert.matches("acme.com\tSummary of Acme %(acme.com%)\nglobex.com\tSummary of Globex %(globex.com%)\n", printed)
      assert.matches("\n# Research report: ", printed)
      assert.matches("\n%a+\t%d+\n", printed) -- the plan and the credits
      assert.matches("not_found\t404\textruct: not_found: table 'tbl_nope' ", printed)
      -- the table it made is gone
      local status, body = mock:http("GET", "/v1/tables?search=Leads", { authorization = "Bearer " .. mock.token })
      assert.equal(200, status, body)
      assert.same({}, require("cjson").decode(body))
    end)
  end)

  describe("the shell lines", function()
    local why = markdown.sandbox_unavailable()
    if not why and helpers.LUA ~= "lua5.4" then
      why = "the README's commands name lua5.4 whatever runs busted: they run once, in the lua5.4 pass"
    end
    why = why or helpers.missing_command({ "luarocks", "make", "lua5.4" })
    if why then
      print("NOTICE: readme_spec: the shell lines are not run: " .. why)
      it("run as written", function() pending(why) end)
      return
    end

    local work
    lazy_setup(function()
      work = helpers.scratch_dir()
      -- the module built already (make's timestamps kept) spares `make demo` a build
      assert(os.execute(("cp -rp Makefile examples scripts %s extruct-scm-1.rockspec %s && mkdir -p %s/build %s/home"
        .. " && cp -rp build/lua5.4 %s/build/"):format(helpers.ROCK_SOURCES, q(work), q(work), q(work), q(work))))
    end)
    lazy_teardown(function() helpers.remove_dir(work) end)

    it("run as written in a sandbox: the demo, the install into /usr/local, the mock and a command", function()
      local script = { "set -e\n", MAKE }
      for i, block in ipairs(blocks) do
        if block.lang == "sh" then
          script[#script + 1] = ("echo '### block %d (%s)'\n"):format(i, markdown.where(block)) .. block.text
        end
        if block.text:find("luarocks --lua-version 5.4 make", 1, true) then
          -- what the install made: the commands on the PATH, from anywhere
          script[#script + 1] = "echo '### installed'\n(cd / && extruct --version && extruct-mock --help | head -1)\n"
        end
      end
      local out, status = markdown.run_sandboxed(work, table.concat(script), { home = work .. "/home", tmpfs = { "/usr/local" } })
      assert.equal(0, status, out)
      for _, said in ipairs({
        "EXTRUCT_API_TOKEN is unset: using the bundled mock Extruct server at http://127.0.0.1:", -- make demo
        "Idle after ",
        "NOTICE: make test: dry run",
        "LUA=lua5.4 lua5.4 /usr/bin/busted",                                   -- what make test runs
        "NOTICE: make demo TABLE=tbl_...: dry run",
        "LUA=lua5.4 lua5.4 examples/demo.lua tbl_...",                         -- with the token
        "### installed\nextruct " .. require("extruct")._VERSION .. " (Lua 5.4; libcurl/",
        "usage: extruct-mock ",
        "Démo — B2B companies (tbl_demo): running, ",                          -- tables status
      }) do
        assert.truthy(out:find(said, 1, true), ("%q not in:\n%s"):format(said, out))
      end
      for line in out:gmatch("NOTICE: [^\n]+") do print("NOTICE: readme_spec: " .. line:sub(9)) end
    end)
  end)
end)
