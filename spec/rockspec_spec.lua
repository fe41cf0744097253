-- The rockspecs against the tree: every Lua file under lua/, every C file
-- under src/ and every program under bin/ is built or installed by each
-- rockspec (extruct-scm-1.rockspec and the releases in rockspecs/), and
-- every file a rockspec names exists, under the module name its path gives.
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
  for path in pairs(listed_files("ls rockspecs/*.rockspec")) do paths[#paths + 1] = path end
  table.sort(paths)
  assert.truthy(#paths >= 2, "no release rockspec in rockspecs/")
  return paths
end

local lua_files = listed_files("find lua -name '*.lua' | sort")
local c_files = listed_files("ls src/*.c")
local programs = listed_files("find bin -type f | sort")

describe("rockspecs", function()
  it("finds the files it compares with", function()
    assert.truthy(lua_files["lua/extruct/init.lua"])
    assert.truthy(c_files["src/core.c"])
    assert.truthy(programs["bin/extruct"])
  end)

  for _, path in ipairs(rockspecs()) do
    describe(path, function()
      local spec = load_rockspec(path)

      it("lists every Lua file of lua/ under the module name of its path, and only those", function()
        local listed = {}
        for name, source in pairs(spec.build.modules) do
          if type(source) == "string" then
            assert.equal(module_name(source), name, path .. ": module " .. name .. " is built from " .. source)
            listed[source] = true
          end
        end
        local missing, absent = {}, {}
        for file in pairs(lua_files) do
          if not listed[file] then missing[#missing + 1] = file end
        end
        for file in pairs(listed) do
          if not lua_files[file] then absent[#absent + 1] = file end
        end
        table.sort(missing)
        table.sort(absent)
        assert.same({}, missing, path .. " does not list these files of lua/")
        assert.same({}, absent, path .. " lists files that do not exist")
      end)

      it("builds extruct.core from every C file of src/", function()
        local core = spec.build.modules["extruct.core"]
        assert.is_table(core)
        local sources = {}
        for _, source in ipairs(core.sources) do sources[source] = true end
        assert.same(sorted_keys(c_files), sorted_keys(sources))
      end)

      it("installs every program of bin/", function()
        local installed = {}
        for name, file in pairs(spec.build.install.bin) do
          assert.equal(file, "bin/" .. name)
          installed[file] = true
        end
        assert.same(sorted_keys(programs), sorted_keys(installed))
      end)

      it("names the package, its source and its version as its file name does", function()
        assert.equal("extruct", spec.package)
        assert.equal(("%s-%s.rockspec"):format(spec.package, spec.version), path:match("[^/]+$"))
        assert.equal(SOURCE_URL, spec.source.url)
        if spec.version == "scm-1" then
          assert.is_nil(spec.source.tag, "the development rockspec builds the default branch")
          assert.equal("extruct-scm-1.rockspec", path)
        else
          assert.equal("v" .. spec.version:match("^(.+)%-%d+$"), spec.source.tag)
          assert.matches("^rockspecs/", path)
        end
        assert.equal("MIT", spec.description.license)
      end)

      it("depends on a supported Lua and on luasocket, for the mock server", function()
        assert.same({ "lua >= 5.1, < 5.5", "luasocket" }, spec.dependencies)
      end)
    end)
  end
end)
