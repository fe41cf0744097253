-- The rockspecs really install: `luarocks make` into a throw-away tree, then
-- a fresh interpreter loads the module from there alone. Run under each
-- interpreter of the matrix, it builds for that interpreter's Lua version.
-- extruct-scm-1.rockspec (the development version, at the top, where
-- `luarocks make` and plugin managers look) and the release rockspecs in
-- rockspecs/ both build, with no network (the library rock needs nothing
-- LuaRocks would download), and their `extruct` command starts from an
-- empty environment; the mock's rocks (rockspecs/mock/) install beside
-- them on the system's luasocket.
local helpers = require("spec.helpers")
local q = helpers.shell_quote

local lua_version = rawget(_G, "jit") and "5.1" or _VERSION:match("%d+%.%d+")

local SCM = "extruct-scm-1.rockspec"
local MOCK_SCM = "rockspecs/mock/extruct-mock-scm-1.rockspec"

-- How to run a command with no network: in a network namespace of its own
-- (unshare -n, as root), else with LuaRocks pointed at a server that
-- refuses connections. Returns the prefix, and how the network is cut.
local function offline()
  local ok = os.execute("unshare -n true >/dev/null 2>&1")
  if ok == true or ok == 0 then return "unshare -n ", "a network namespace without a network (unshare -n)" end
  return "", nil
end

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
    assert(os.execute("mkdir -p " .. q(work) .. " && cp -r " .. helpers.ROCK_SOURCES .. " " .. SCM .. " " .. q(work)))
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

  it("installs " .. SCM .. " with no network: a module that require('extruct') loads, and the extruct command", function()
    local tree = work .. "/tree"
    local no_network, how = offline()
    local refused = ("http://127.0.0.1:%d"):format(helpers.closed_port())
    local only_server = how and "" or ("--only-server=%s "):format(refused)
    print(("NOTICE: install_spec: offline through %s"):format(how or ("LuaRocks' only server " .. refused)))
    -- no rockspec named: the one at the top is the one `luarocks make` takes;
    -- nothing to download, so no --deps-mode none
    local out, status = helpers.run(("cd %s && %sluarocks --lua-version %s %smake --tree %s 2>&1")
      :format(q(work), no_network, lua_version, only_server, q(tree)))
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

    -- the command line, from outside the checkout, with an empty
    -- environment: the installed script finds its tree without `luarocks path`
    local clean = "cd / && env -i PATH=/usr/bin:/bin "
    out, status = helpers.run(("%s%s/bin/extruct --version 2>&1"):format(clean, q(tree)))
    assert.equal(0, status, out)
    assert.equal("extruct " .. require("extruct")._VERSION, out:match("^%S+ %S+"))
    out, status = helpers.run(("%s%s/bin/extruct --help 2>&1"):format(clean, q(tree)))
    assert.equal(0, status, out)
    assert.matches("^usage: extruct ", out)
    assert.is_nil(io.open(tree .. "/bin/extruct-mock", "rb"), "the library rock installs no mock")

    -- the types, for lua-language-server, in the rock's folder
    local rock_dir = helpers.run(("luarocks --lua-version %s --tree %s show --rock-dir extruct 2>&1")
      :format(lua_version, q(tree))):gsub("%s+$", "")
    assert.truthy(helpers.read_file(rock_dir .. "/types/extruct/core.lua"):find("---@class extruct.core", 1, true))
    assert.truthy(io.open(rock_dir .. "/docs/getting-started.md", "rb"), "no docs in " .. rock_dir)
  end)

  it("installs the mock's rock beside it: offline, on the system's luasocket; extruct-mock starts from an empty environment",
    function()
    local tree = work .. "/tree"
    -- extruct scm-1 is in the tree from the test before, luasocket is Debian's lua-socket (not a rock)
    local no_network = offline()
    local out, status = helpers.run(("cd %s && %sluarocks --lua-version %s make --tree %s --deps-mode none %s 2>&1")
      :format(q(work), no_network, lua_version, q(tree), MOCK_SCM))
    assert.equal(0, status, out)
    assert.same({ "extruct scm-1", "extruct-mock scm-1" }, installed(tree))
    out, status = helpers.run(("cd / && env -i PATH=/usr/bin:/bin %s/bin/extruct-mock --help 2>&1"):format(q(tree)))
    assert.equal(0, status, out)
    assert.matches("--port", out, 1, true)
    -- and it serves, on a free port: a healthcheck through the installed extruct
    local pipe = assert(io.popen(("cd / && exec env -i PATH=/usr/bin:/bin %s/bin/extruct-mock --port 0 --quiet")
      :format(q(tree))))
    local url = (pipe:read("*l") or ""):match("listening on (http://127%.0%.0%.1:%d+)$")
    if url then
      out, status = helpers.run(("cd / && env -i PATH=/usr/bin:/bin EXTRUCT_API_URL=%s %s/bin/extruct health 2>&1")
        :format(q(url), q(tree)))
      helpers.run(("curl -s -X POST %s/_mock/shutdown"):format(q(url)))
    end
    pipe:close()
    assert.truthy(url, "the installed extruct-mock did not start")
    assert.equal(0, status, out)
    assert.equal('{"status":"ok"}\n', out)
  end)

  it("installs each release rockspec of rockspecs/ under its own version, its mock's beside it", function()
    for i, rockspec in ipairs(releases()) do
      local tree = ("%s/tree-release-%d"):format(work, i)
      local out, status = helpers.run(("cd %s && luarocks --lua-version %s make --tree %s %s 2>&1")
        :format(q(work), lua_version, q(tree), q(rockspec)))
      assert.equal(0, status, out)
      local version = rockspec:match("^rockspecs/extruct%-(.+)%.rockspec$")
      local mock = "rockspecs/mock/extruct-mock-" .. version .. ".rockspec"
      out, status = helpers.run(("cd %s && luarocks --lua-version %s make --tree %s --deps-mode none %s 2>&1")
        :format(q(work), lua_version, q(tree), q(mock)))
      assert.equal(0, status, out)
      assert.same({ "extruct " .. version, "extruct-mock " .. version }, installed(tree))
      for _, program in ipairs({ "extruct", "extruct-mock" }) do
        out, status = helpers.run(("cd / && env -i PATH=/usr/bin:/bin %s/bin/%s --help 2>&1"):format(q(tree), program))
        assert.equal(0, status, out)
        assert.matches("^usage: " .. program:gsub("%-", "%%-") .. " ", out)
      end
    end
  end)

  it("passes luarocks lint, every rockspec", function()
    local rockspecs = releases()
    table.insert(rockspecs, 1, SCM)
    for name in helpers.run("ls rockspecs/mock"):gmatch("%S+") do rockspecs[#rockspecs + 1] = "rockspecs/mock/" .. name end
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
