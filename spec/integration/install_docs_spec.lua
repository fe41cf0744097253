-- docs/install.md's commands run as written, in order, as one bash session
-- from a copy of the checkout, in a sandbox: no network (network
-- namespace: LuaRocks must build offline, as the page says), a PID
-- namespace, and a mount namespace where /usr/local and /opt are empty
-- tmpfs folders, so that `luarocks make` as root and `cmake --install
-- --prefix /usr/local` install there as on the reader's machine and
-- nothing stays. The reader's /opt/cjson, the prefix the page's CJSON_DIR
-- names, is made first: links to the system's cJSON, laid out as LuaRocks
-- looks for it (include/, lib/). `ctest` in the session is a function that
-- lists the tests (ctest -N) instead of running them, and says why: its
-- test is every spec, this one among them. Then what each command
-- installed is checked: the modules, the commands, the rock versions.
local helpers = require("spec.helpers")
local markdown = require("spec.support.markdown")
local q = helpers.shell_quote

local PAGE = "docs/install.md"
local SPEC = "integration/install_docs_spec"

-- Before the page's commands: the reader's /opt/cjson, and `ctest`.
local PREAMBLE = [[
set -e
multiarch=$(gcc -print-multiarch)
mkdir -p /opt/cjson/include /opt/cjson/lib
ln -s /usr/include/cjson /opt/cjson/include/cjson
ln -s /usr/lib/$multiarch/libcjson.so /opt/cjson/lib/
ctest() {
  echo "NOTICE: ctest $*: listed (ctest -N), not run: its test is every spec, this one among them, for minutes"
  command ctest -N "$@"
}
]]

-- After them: what they installed.
local CHECKS = [[
echo '### installed'
cd /
ls /usr/local/lib/lua/5.4/extruct/core.so /usr/local/lib/lua/5.1/extruct/core.so
luarocks --lua-version 5.4 list --porcelain extruct
luarocks --lua-version 5.1 list --porcelain extruct
luarocks --lua-version 5.4 --tree ~/.extruct list --porcelain
/usr/local/bin/extruct --version   # CMake's, installed last
~/.extruct/bin/extruct-mock --help | head -1
lua5.4 -e 'print(require("extruct")._VERSION, package.searchpath("extruct.core", package.cpath))'
]]

local function cannot_run()
  local why = markdown.sandbox_unavailable()
  if why then return why end
  if helpers.LUA ~= "lua5.4" then
    return "the page's commands name their Lua versions whatever runs busted: they run once, in the lua5.4 pass"
  end
  return helpers.missing_command({ "luarocks", "cmake", "ctest", "gcc", "lua5.4", "lua5.1" })
end

describe(PAGE, function()
  local blocks = markdown.claimed(PAGE, SPEC)
  local why = cannot_run()
  if why then
    print("NOTICE: install_docs_spec: not run: " .. why)
    it("runs as written", function() pending(why) end)
    return
  end

  local work
  lazy_setup(function()
    work = helpers.scratch_dir()
    assert(os.execute(("cp -r CMakeLists.txt spec %s extruct-scm-1.rockspec %s && mkdir %s/home")
      :format(helpers.ROCK_SOURCES, q(work), q(work))))
  end)
  lazy_teardown(function() helpers.remove_dir(work) end)

  it("runs as written, offline: LuaRocks for 5.4 and 5.1 (CJSON_DIR), a release, the mock's rock, CMake", function()
    local script = { PREAMBLE }
    for i, block in ipairs(blocks) do
      assert.equal("sh", block.lang, markdown.where(block))
      script[#script + 1] = ("echo '### block %d (%s)'\n"):format(i, markdown.where(block)) .. block.text
    end
    script[#script + 1] = CHECKS
    local out, status = markdown.run_sandboxed(work, table.concat(script),
      { home = work .. "/home", tmpfs = { "/usr/local", "/opt" }, timeout = 600 })
    assert.equal(0, status, out)
    for line in out:gmatch("NOTICE: [^\n]+") do print("NOTICE: install_docs_spec: " .. line:sub(9)) end
    local version = require("extruct")._VERSION
    for _, said in ipairs({
      "-I/opt/cjson/include", "-L/opt/cjson/lib",               -- CJSON_DIR reached the build
      "Test #1: specs",                                         -- ctest -N
      "/usr/local/lib/lua/5.1/extruct/core.so\n/usr/local/lib/lua/5.4/extruct/core.so\n",
      -- the release replaced scm-1 in the 5.4 tree: `luarocks make` keeps one version (--keep keeps more)
      "extruct\t" .. version .. "-1\tinstalled\t/usr/local/lib/luarocks/rocks-5.4\n"
        .. "extruct\tscm-1\tinstalled\t/usr/local/lib/luarocks/rocks-5.1\n",
      "extruct-mock\tscm-1\tinstalled\t" .. work .. "/home/.extruct/lib/luarocks/rocks-5.4\n",
      "extruct " .. version .. " (Lua 5.4; libcurl/",
      "usage: extruct-mock ",
      version .. "\t/usr/local/lib/lua/5.4/extruct/core.so\n",
    }) do
      assert.truthy(out:find(said, 1, true), ("%q not in:\n%s"):format(said, out))
    end
  end)
end)
