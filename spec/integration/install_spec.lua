-- The rockspecs really install: `luarocks make` into a throw-away tree, then
-- a fresh interpreter loads the module from there alone. Run under each
-- interpreter of the matrix, it builds for that interpreter's Lua version.
-- extruct-scm-1.rockspec (the development version, at the top, where
-- `luarocks make` and plugin managers look) and the release rockspecs in
-- rockspecs/ both build.
local helpers = require("spec.helpers")
local q = helpers.shell_quote

local lua_version = rawget(_G, "jit") and "5.1" or _VERSION:match("%d+%.%d+")

local SCM = "extruct-scm-1.rockspec"

-- The release rockspecs, by file name.
local function releases()
  local names = {}
  for name in helpers.run("ls rockspecs"):gmatch("%S+") do
    if name:match("^extruct%-.*%.rockspec$") then names[#names + 1] = "rockspecs/" .. name end
  end
  assert(#names > 0, "no release rockspec in rockspecs/")
  return names
end

describe("luarocks make", function()
  local work

  lazy_setup(function()
    work = os.tmpname()
    os.remove(work)
    assert(os.execute("mkdir -p " .. q(work) .. " && cp -r src lua bin plugin rockspecs " .. SCM .. " " .. q(work)))
  end)
  lazy_teardown(function()
    if work then os.execute("rm -rf " .. q(work)) end
  end)

  -- The installed rocks of a tree, as "name version" lines.
  local function installed(tree)
    local out, status = helpers.run(("luarocks --lua-version %s --tree %s list --porcelain 2>&1"):format(lua_version, q(tree)))
    assert.equal(0, status, out)
    local rocks = {}
    for name, version in out:gmatch("(%S+)\t(%S+)[^\n]*") do rocks[#rocks + 1] = name .. " " .. version end
    return rocks
  end

  it("installs " .. SCM .. ": a module that require('extruct') loads, the mock launcher and the extruct command", function()
    local tree = work .. "/tree"
    -- no rockspec named: the one at the top is the one `luarocks make` takes
    local out, status = helpers.run(("cd %s && luarocks --lua-version %s make --tree %s --deps-mode none 2>&1")
      :format(q(work), lua_version, q(tree)))
    assert.equal(0, status, out)
    assert.same({ "extruct scm-1" }, installed(tree))

    local lib = ("%s/lib/lua/%s/extruct/core.so"):format(tree, lua_version)
    assert.truthy(io.open(lib, "rb"), "missing " .. lib)
    -- plugin/ beside the rock, where rocks.nvim puts it on 'runtimepath'
    local plugin = ("%s/lib/luarocks/rocks-%s/extruct/scm-1/plugin/extruct.lua"):format(tree, lua_version)
    assert.truthy(io.open(plugin, "rb"), "missing " .. plugin)
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
  it("installs each release rockspec of rockspecs/ under its own version", function()
    for i, rockspec in ipairs(releases()) do
      local tree = ("%s/tree-release-%d"):format(work, i)
      local out, status = helpers.run(("cd %s && luarocks --lua-version %s make --tree %s --deps-mode none %s 2>&1")
        :format(q(work), lua_version, q(tree), q(rockspec)))
      assert.equal(0, status, out)
      local version = rockspec:match("^rockspecs/extruct%-(.+)%.rockspec$")
      assert.same({ "extruct " .. version }, installed(tree))
      local env = ("LUA_PATH=%s LUA_CPATH=%s"):format(
        q(("%s/share/lua/%s/?.lua;%s/share/lua/%s/?/init.lua"):format(tree, lua_version, tree, lua_version)),
        q(("%s/lib/lua/%s/?.so"):format(tree, lua_version)))
      out, status = helpers.run(("cd / && %s %s/bin/extruct --help 2>&1"):format(env, q(tree)))
      assert.equal(0, status, out)
      assert.matches("^usage: extruct ", out)
    end
  end)

  it("passes luarocks lint, every rockspec", function()
    local rockspecs = releases()
    table.insert(rockspecs, 1, SCM)
    for _, rockspec in ipairs(rockspecs) do
      local out, status = helpers.run("luarocks lint " .. q(rockspec) .. " 2>&1")
      assert.equal(0, status, rockspec .. ": " .. out)
    end
  end)

  local function luarocks_make(tree, variables)
    return helpers.run(("cd %s && luarocks --lua-version %s make --tree %s --deps-mode none %s %s 2>&1")
      :format(q(work), lua_version, q(tree), SCM, variables))
  end

  -- A prefix that holds only links to the system's curl and cJSON, laid out
  -- the way LuaRocks looks for a dependency: include/ and lib/.
  local function mirror(prefix, include_name, include_target, library)
    local libdir = "/usr/lib/" .. (helpers.run("gcc -print-multiarch"):gsub("%s+$", ""))
    assert(os.execute(("mkdir -p %s/include %s/lib && ln -s %s %s/include/%s && ln -s %s/%s %s/lib/")
      :format(q(prefix), q(prefix), q(include_target), q(prefix), include_name, q(libdir), library, q(prefix))))
  end

  it("builds with the curl and cJSON that CURL_DIR and CJSON_DIR name", function()
    local curl_include = helpers.run("pkg-config --variable=includedir libcurl"):gsub("%s+$", "")
    if not io.open(curl_include .. "/curl/curl.h", "rb") then
      curl_include = "/usr/include/" .. (helpers.run("gcc -print-multiarch"):gsub("%s+$", ""))
    end
    mirror(work .. "/curl", "curl", curl_include .. "/curl", "libcurl.so")
    mirror(work .. "/cjson", "cjson", "/usr/include/cjson", "libcjson.so")
    local tree = work .. "/tree-override"
    local out, status = luarocks_make(tree, ("CURL_DIR=%s CJSON_DIR=%s"):format(q(work .. "/curl"), q(work .. "/cjson")))
    assert.equal(0, status, out)
    -- the compiler and the linker were pointed at the named prefixes
    for _, flag in ipairs{ "-I" .. work .. "/curl/include", "-L" .. work .. "/curl/lib",
                           "-I" .. work .. "/cjson/include", "-L" .. work .. "/cjson/lib" } do
      assert.truthy(out:find(flag, 1, true), "no " .. flag .. " in:\n" .. out)
    end
    assert.truthy(io.open(("%s/lib/lua/%s/extruct/core.so"):format(tree, lua_version), "rb"))
  end)

  it("stops with LuaRocks' own message when CJSON_DIR holds no cJSON", function()
    local empty = work .. "/no-cjson"
    assert(os.execute("mkdir -p " .. q(empty .. "/include") .. " " .. q(empty .. "/lib")))
    local out, status = luarocks_make(work .. "/tree-none", "CJSON_DIR=" .. q(empty))
    assert.not_equal(0, status, out)
    assert.matches("Could not find header file for CJSON", out, 1, true)
    assert.matches("No file cjson/cJSON.h in " .. empty .. "/include", out, 1, true)
    assert.is_nil(io.open(("%s/tree-none/lib/lua/%s/extruct/core.so"):format(work, lua_version), "rb"))
  end)
end)
