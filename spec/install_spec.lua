-- The rockspec really installs: `luarocks make` into a throw-away tree, then
-- a fresh interpreter loads the module from there alone.
local helpers = require("spec.helpers")
local q = helpers.shell_quote

local lua_version = rawget(_G, "jit") and "5.1" or _VERSION:match("%d+%.%d+")

describe("luarocks make", function()
  local work

  lazy_setup(function()
    work = os.tmpname()
    os.remove(work)
    assert(os.execute("mkdir -p " .. q(work) .. " && cp -r src lua bin *.rockspec " .. q(work)))
  end)
  lazy_teardown(function()
    if work then os.execute("rm -rf " .. q(work)) end
  end)

  it("installs a module that require('extruct') loads, the mock launcher and the extruct command", function()
    local tree = work .. "/tree"
    local out, status = helpers.run(("cd %s && luarocks --lua-version %s make --tree %s --deps-mode none *.rockspec 2>&1")
      :format(q(work), lua_version, q(tree)))
    assert.equal(0, status, out)

    local lib = ("%s/lib/lua/%s/extruct/core.so"):format(tree, lua_version)
    assert.truthy(io.open(lib, "rb"), "missing " .. lib)
    -- never linked against liblua: the host provides the Lua API
    local deps = helpers.run("ldd " .. q(lib))
    assert.is_nil(deps:find("liblua", 1, true), deps)

    local code = [[
      local extruct = require("extruct")
      assert(package.searchpath == nil or package.searchpath("extruct.core", package.cpath):find("/tree/", 1, true))
      local v = assert(extruct.decode('{"n": 1}'))
      print(extruct._VERSION, v.n, extruct.null == require("extruct.core").null)
    ]]
    local env = ("LUA_PATH=%s LUA_CPATH=%s"):format(
      q(("%s/share/lua/%s/?.lua;%s/share/lua/%s/?/init.lua"):format(tree, lua_version, tree, lua_version)),
      q(("%s/lib/lua/%s/?.so"):format(tree, lua_version)))
    out, status = helpers.run(("cd / && %s %s -e %s 2>&1"):format(env, q(helpers.LUA), q(code)))
    assert.equal(0, status, out)
    assert.equal(require("extruct")._VERSION .. "\t1\ttrue\n", out)

    out, status = helpers.run(("%s %s/bin/extruct-mock --help 2>&1"):format(env, q(tree)))
    assert.equal(0, status, out)
    assert.matches("--port", out, 1, true)

    -- the command line, from outside the checkout, on the installed modules
    out, status = helpers.run(("cd / && %s %s/bin/extruct --help 2>&1"):format(env, q(tree)))
    assert.equal(0, status, out)
    assert.matches("^usage: extruct ", out)
    out, status = helpers.run(("cd / && %s %s/bin/extruct --version 2>&1"):format(env, q(tree)))
    assert.equal(0, status, out)
    assert.equal("extruct " .. require("extruct")._VERSION, out:match("^%S+ %S+"))
  end)
end)
