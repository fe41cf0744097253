-- The rockspecs against the tree: every Lua file under lua/, every C file
-- under src/ and every program under bin/ is built or installed by the
-- rockspecs of each version (extruct-scm-1.rockspec and the releases in
-- rockspecs/, each with its mock's in rockspecs/mock/): the mock server
-- (lua/extruct/mock/, bin/extruct-mock) by the rock extruct-mock, the rest
-- by the rock extruct, which depends on nothing LuaRocks would download.
-- Every file a rockspec names exists, under the module name its path gives.
-- A module added, moved or removed without its rockspec lines fails here.
local helpers = require("spec.helpers")

local SOURCE_URL = "git+https://github.com/extruct-lua/extruct.git"

-- The files `command` lists, one a line, as a set.
local function listed_files(command)
  local out, status = helpers.run(command)
  assert.equal(0, status, out)
  local set = {}
  for line in out:gmatch("[^\n]+") do set[line] = true end
  return set
end

local function sorted_keys(set)
  local keys = {}
  for k in pairs(set) do keys[#keys + 1] = k end
  table.sort(keys)
  return keys
end

-- A rockspec's fields: the file run with nothing but an empty environment.
local function load_rockspec(path)
  local text = helpers.read_file(path)
  local env = {}
  local chunk
  if setfenv then
    chunk = assert(loadstring(text, "@" .. path))
    setfenv(chunk, env)
  else
    chunk = assert(load(text, "@" .. path, "t", env))
  end
  chunk()
  return env
end

-- lua/extruct/a/b.lua -> extruct.a.b; lua/extruct/a/init.lua -> extruct.a
local function module_name(path)
  local name = path:match("^lua/(.+)%.lua$")
  assert(name, "not a Lua module path: " .. path)
  name = name:gsub("/init$", ""):gsub("/", ".")
  return name
end

local function rockspecs()
  local paths = { "extruct-scm-1.rockspec" }
  for path in pairs(listed_files("ls rockspecs/*.rockspec rockspecs/mock/*.rockspec")) do paths[#paths + 1] = path end
  table.sort(paths)
  assert.truthy(#paths >= 4, "no release rockspec in rockspecs/, or no mock's in rockspecs/mock/")
  return paths
end

local lua_files = listed_files("find lua -name '*.lua' | sort")
local c_files = listed_files("ls src/*.c")
local programs = listed_files("find bin -type f | sort")

-- The files of the mock's rock, and of the client's.
local function is_mock_file(path)
  return path:find("^lua/extruct/mock/") ~= nil or path == "bin/extruct-mock"
end

local function subset(set, keep)
  local out = {}
  for file in pairs(set) do
    if keep(file) then out[file] = true end
  end
  return out
end

local ROCKS = {
  extruct = {
    lua = subset(lua_files, function(f) return not is_mock_file(f) end),
    programs = subset(programs, function(f) return not is_mock_file(f) end),
    dependencies = function() return { "lua >= 5.1, < 5.5" } end,
  },
  ["extruct-mock"] = {
    lua = subset(lua_files, is_mock_file),
    programs = subset(programs, is_mock_file),
    dependencies = function(version)
      return { "lua >= 5.1, < 5.5", version == "scm-1" and "extruct" or "extruct == " .. version:match("^(.+)%-%d+$"),
               "luasocket" }
    end,
  },
}

describe("rockspecs", function()
  it("finds the files it compares with", function()
    assert.truthy(lua_files["lua/extruct/init.lua"])
    assert.truthy(c_files["src/core.c"])
    assert.truthy(programs["bin/extruct"])
    assert.truthy(ROCKS["extruct-mock"].lua["lua/extruct/mock/init.lua"])
    assert.is_nil(ROCKS.extruct.lua["lua/extruct/mock/init.lua"])
  end)

  it("has, for each version of extruct, the mock's of the same version", function()
    local versions = {}
    for _, path in ipairs(rockspecs()) do
      local spec = load_rockspec(path)
      versions[spec.version] = versions[spec.version] or {}
      versions[spec.version][spec.package] = path
    end
    for version, packages in pairs(versions) do
      assert.truthy(packages.extruct and packages["extruct-mock"], "version " .. version .. " lacks a rock")
    end
  end)

  for _, path in ipairs(rockspecs()) do
    describe(path, function()
      local spec = load_rockspec(path)
      local rock = ROCKS[spec.package]

      it("lists every Lua file of its rock under the module name of its path, and only those", function()
        assert.truthy(rock, path .. ": an unknown package " .. tostring(spec.package))
        local listed = {}
        for name, source in pairs(spec.build.modules) do
          if type(source) == "string" then
            assert.equal(module_name(source), name, path .. ": module " .. name .. " is built from " .. source)
            listed[source] = true
          end
        end
        local missing, absent = {}, {}
        for file in pairs(rock.lua) do
          if not listed[file] then missing[#missing + 1] = file end
        end
        for file in pairs(listed) do
          if not rock.lua[file] then absent[#absent + 1] = file end
        end
        table.sort(missing)
        table.sort(absent)
        assert.same({}, missing, path .. " does not list these files of lua/")
        assert.same({}, absent, path .. " lists files that do not exist or belong to the other rock")
      end)

      it("builds extruct.core from every C file of src/ (the client's rock), or no C (the mock's)", function()
        local core = spec.build.modules["extruct.core"]
        if spec.package == "extruct-mock" then
          assert.is_nil(core)
          return
        end
        assert.is_table(core)
        local sources = {}
        for _, source in ipairs(core.sources) do sources[source] = true end
        assert.same(sorted_keys(c_files), sorted_keys(sources))
      end)

      it("installs every program of bin/ that is its rock's", function()
        local installed = {}
        for name, file in pairs(spec.build.install.bin) do
          assert.equal(file, "bin/" .. name)
          installed[file] = true
        end
        assert.same(sorted_keys(rock.programs), sorted_keys(installed))
      end)

      it("names the package, its source and its version as its file name does", function()
        assert.equal(("%s-%s.rockspec"):format(spec.package, spec.version), path:match("[^/]+$"))
        assert.equal(SOURCE_URL, spec.source.url)
        if spec.version == "scm-1" then
          assert.is_nil(spec.source.tag, "the development rockspec builds the default branch")
          assert.equal(spec.package == "extruct" and "extruct-scm-1.rockspec"
            or "rockspecs/mock/extruct-mock-scm-1.rockspec", path)
        else
          assert.equal("v" .. spec.version:match("^(.+)%-%d+$"), spec.source.tag)
          assert.matches(spec.package == "extruct" and "^rockspecs/[^/]+$" or "^rockspecs/mock/", path)
        end
        assert.equal("MIT", spec.description.license)
      end)

      it("depends on a supported Lua (and the mock on extruct and luasocket): nothing else to download", function()
        assert.same(rock.dependencies(spec.version), spec.dependencies)
      end)

      it("puts the types, the reference and the Neovim plugin in the rock's folder (the client's rock)", function()
        if spec.package == "extruct" then
          assert.same({ "docs", "types", "plugin" }, spec.build.copy_directories)
        else
          assert.same({}, spec.build.copy_directories)
        end
      end)
    end)
  end
end)
