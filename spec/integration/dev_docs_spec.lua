-- The developer's commands run as written: spec/README.md's (build the
-- module, run one spec file) and bench/README.md's (the benchmark and its
-- smoke run), each block as a bash session from a copy of the checkout
-- (the builds already made copied with their timestamps, so make rebuilds
-- only what changed), in a sandbox: no network (a missing package stops
-- `make` instead of being installed), and a PID namespace (what a command
-- leaves running ends with it). `make` there is a function that runs the
-- real make, except `make bench` itself, which it runs with `make -n`
-- (printed, not run) and says why: it measures for minutes. The smoke run
-- runs every part of the benchmark with tiny sizes.
local helpers = require("spec.helpers")
local markdown = require("spec.support.markdown")
local q = helpers.shell_quote

local SPEC = "integration/dev_docs_spec"

local MAKE = [[
set -e
make() {
  if [ "$1" = bench ]; then
    echo "NOTICE: make $*: dry run (make -n): the benchmark measures for minutes, timing nothing a spec asserts"
    command make -n "$@"
  else
    command make "$@"
  fi
}
]]

local function cannot_run()
  local why = markdown.sandbox_unavailable()
  if why then return why end
  if helpers.LUA ~= "lua5.4" then
    return "the pages' commands name their interpreters whatever runs busted: they run once, in the lua5.4 pass"
  end
  return helpers.missing_command({ "make", "lua5.4", "luajit", "nginx", "nvim" })
end

describe("the developer's commands", function()
  local why = cannot_run()
  if why then
    print("NOTICE: dev_docs_spec: not run: " .. why)
    it("run as written", function() pending(why) end)
    return
  end

  local work
  lazy_setup(function()
    helpers.build_luajit()
    work = helpers.scratch_dir()
    assert(os.execute(("cp -rp Makefile src lua bin plugin bench scripts spec examples docs %s && mkdir %s/build"
      .. " && cp -rp build/lua5.4 build/luajit %s/build/"):format(q(work), q(work), q(work))))
  end)
  lazy_teardown(function() helpers.remove_dir(work) end)

  local function run(path)
    local blocks = markdown.claimed(path, SPEC)
    assert.equal(1, #blocks)
    local out, status = markdown.run_sandboxed(work, MAKE .. blocks[1].text, { timeout = 300 })
    assert.equal(0, status, out)
    for line in out:gmatch("NOTICE: [^\n]+") do print("NOTICE: dev_docs_spec: " .. line:sub(9)) end
    return out
  end

  it("of spec/README.md: a build, and one spec file", function()
    local out = run("spec/README.md")
    assert.matches("\n%d+ successes / 0 failures / 0 errors / 0 pending", out)
    local successes = tonumber(out:match("\n(%d+) successes / 0 failures"))
    assert.truthy(successes >= 20, out)
  end)

  it("of bench/README.md: the benchmark (printed, not run) on both interpreters and on one, the smoke run", function()
    local out = run("bench/README.md")
    assert.truthy(out:find('NOTICE: make bench: dry run', 1, true), out)
    assert.truthy(out:find('LUAS="lua5.4 luajit" bash bench/run.sh\n', 1, true), out)
    assert.truthy(out:find('NOTICE: make bench LUAS=luajit: dry run', 1, true), out)
    assert.truthy(out:find('LUAS="luajit" bash bench/run.sh\n', 1, true), out)
    -- the smoke run: every part, on both interpreters, its tables written
    for _, part in ipairs({ "decode", "encode", "round trip", "memory", "concurrency", "export", "editor", "OpenResty" }) do
      assert.truthy(out:lower():find(part:lower(), 1, true), part .. " not in:\n" .. out)
    end
    assert.truthy(out:find("bench: results in bench/results-smoke.md", 1, true), out)
    assert.truthy(helpers.read_file(work .. "/bench/results-smoke.md"):find("^```\n"))
  end)
end)
