-- The CMake build for the interpreter running the specs: configured with
-- -DEXTRUCT_LUA=<it>, installed into a throw-away prefix, then loaded from
-- there alone. Across the matrix this covers every supported Lua.
local helpers = require("spec.helpers")
local q = helpers.shell_quote

local lua_version = rawget(_G, "jit") and "5.1" or _VERSION:match("%d+%.%d+")

describe("cmake", function()
  local work, build, prefix

  lazy_setup(function()
    work = os.tmpname()
    os.remove(work)
    build, prefix = work .. "/build", work .. "/prefix"
    assert(os.execute("mkdir -p " .. q(work)))
  end)
  lazy_teardown(function()
    if work then os.execute("rm -rf " .. q(work)) end
  end)

  local function run(command)
    return helpers.run(command .. " 2>&1")
  end

  it("builds for EXTRUCT_LUA and installs into lib/lua/<version> and share/lua/<version>", function()
    local out, status = run(("cmake -S . -B %s -DEXTRUCT_LUA=%s"):format(q(build), q(helpers.LUA)))
    assert.equal(0, status, out)
    assert.matches(("extruct: %s (ABI %s)"):format(helpers.LUA, lua_version), out, 1, true)
    out, status = run(("cmake --build %s"):format(q(build)))
    assert.equal(0, status, out)
    out, status = run(("cmake --install %s --prefix %s"):format(q(build), q(prefix)))
    assert.equal(0, status, out)

    local lib = ("%s/lib/lua/%s/extruct/core.so"):format(prefix, lua_version)
    assert.truthy(io.open(lib, "rb"), "missing " .. lib .. " in:\n" .. out)
    local deps = helpers.run("ldd " .. q(lib))
    assert.is_nil(deps:find("liblua", 1, true), deps)
    -- every Lua file of the layer, and nothing under another version's folder
    local sources = helpers.run("cd lua/extruct && ls *.lua mock/*.lua api/*.lua")
    for name in sources:gmatch("%S+") do
      local path = ("%s/share/lua/%s/extruct/%s"):format(prefix, lua_version, name)
      assert.truthy(io.open(path, "rb"), "missing " .. path)
    end
    local folders = helpers.run(("ls %s/lib/lua %s/share/lua"):format(q(prefix), q(prefix)))
    assert.equal(("%s/lib/lua:\n%s\n\n%s/share/lua:\n%s\n"):format(prefix, lua_version, prefix, lua_version), folders)
    assert.truthy(io.open(prefix .. "/bin/extruct-mock", "rb"), "missing bin/extruct-mock")

    -- a fresh interpreter of that Lua loads it from the prefix alone
    local code = [[
      local extruct = require("extruct")
      local core = package.loaded["extruct.core"]
      print(extruct._VERSION, assert(extruct.decode('[1]'))[1], core.null == extruct.null)
    ]]
    local env = ("LUA_PATH=%s LUA_CPATH=%s"):format(
      q(("%s/share/lua/%s/?.lua;%s/share/lua/%s/?/init.lua"):format(prefix, lua_version, prefix, lua_version)),
      q(("%s/lib/lua/%s/?.so"):format(prefix, lua_version)))
    out, status = helpers.run(("cd / && %s %s -e %s 2>&1"):format(env, q(helpers.LUA), q(code)))
    assert.equal(0, status, out)
    assert.equal(require("extruct")._VERSION .. "\t1\ttrue\n", out)
  end)

  it("gives ctest the specs, run by the chosen interpreter", function()
    local out, status = run(("ctest --test-dir %s --show-only=json-v1"):format(q(build)))
    assert.equal(0, status, out)
    local tests = require("cjson").decode(out:match("%b{}")).tests
    assert.equal(1, #tests, out)
    assert.equal("specs", tests[1].name)
    assert.matches("/" .. helpers.LUA:gsub("%.", "%%.") .. "$", tests[1].command[1])
    assert.matches("busted$", tests[1].command[2])
  end)

  it("refuses an interpreter it does not know, saying which it takes", function()
    local out, status = run(("cmake -S . -B %s -DEXTRUCT_LUA=lua9.9"):format(q(work .. "/bad")))
    assert.not_equal(0, status, out)
    -- CMake wraps the message: compare it with its spaces collapsed
    assert.matches("EXTRUCT_LUA must be one of lua5.1, lua5.2, lua5.3, lua5.4, luajit; got 'lua9.9'",
      out:gsub("%s+", " "), 1, true)
  end)
end)
