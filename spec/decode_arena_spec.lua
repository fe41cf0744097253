-- The decoder's speed levers must not change what it returns or what the
-- host sees: the parse arena is reused from decode to decode, the collector
-- is paused only while tables are built and only when it was running, and
-- cJSON's process-wide hooks stay usable by a host that uses cJSON too.
local extruct = require("extruct")
local cjson = require("cjson")
local helpers = require("spec.helpers")

local function rows(n, tag)
  local parts = {}
  for i = 1, n do
    parts[i] = ('{"id":"%s_%d","n":%d,"ok":true,"none":null,"tags":["%s"]}'):format(tag, i, i, tag)
  end
  return '{"rows":[' .. table.concat(parts, ",") .. "]}"
end

-- lua-cjson's view with null mapped the same way, for comparison
local function same(a, b)
  if type(a) ~= type(b) then return false end
  if type(a) ~= "table" then return a == b end
  for k, v in pairs(a) do if not same(v, b[k]) then return false end end
  for k in pairs(b) do if a[k] == nil then return false end end
  return true
end

describe("the decoder's arena", function()
  it("gives the same values when big and small documents alternate", function()
    -- a big decode leaves a big spare chunk; smaller ones reuse it and must
    -- not see what the big one left in it
    for _, spec in ipairs({ { 3000, "a" }, { 3, "b" }, { 200, "c" }, { 3000, "d" }, { 1, "e" } }) do
      local text = rows(spec[1], spec[2])
      local ours, theirs = extruct.decode(text), cjson.decode(text)
      assert.is_true(same(ours, theirs), "differs for " .. spec[1] .. " rows")
      assert.equal(spec[2] .. "_" .. spec[1], ours.rows[spec[1]].id)
    end
  end)

  it("still decodes after a failed decode", function()
    local value, err = extruct.decode(rows(500, "x"):sub(1, -3))
    assert.is_nil(value)
    assert.equal("decode", err.kind)
    assert.equal("y_500", extruct.decode(rows(500, "y")).rows[500].id)
  end)
end)

describe("lenient decodes (strict = false) through the arena", function()
  -- rows whose strings hold raw control characters, NUL included
  local function raw_rows(n, tag)
    local parts = {}
    for i = 1, n do
      parts[i] = ('{"id":"%s_%d","brief":"line %d\n\tindented\r\n\0end\31","k\n%d":%d}'):format(tag, i, i, i, i)
    end
    return '{"rows":[' .. table.concat(parts, ",") .. "]}"
  end
  -- the same text with each raw control character inside a string escaped
  local function escaped(text)
    return (text:gsub("[%z\1-\31]", function(c) return ("\\u%04x"):format(c:byte()) end))
  end

  it("give what a strict decode gives for the escaped text, big and small, alternating with strict ones", function()
    for _, spec in ipairs({ { 2000, "a" }, { 3, "b" }, { 2000, "c" }, { 1, "d" } }) do
      local text = raw_rows(spec[1], spec[2])
      local ours = assert(extruct.decode(text, { strict = false }))
      assert.is_true(same(ours, assert(extruct.decode(escaped(text)))), "differs for " .. spec[1] .. " rows")
      local last = ours.rows[spec[1]]
      assert.equal(("line %d\n\tindented\r\n\0end\31"):format(spec[1]), last.brief)
      assert.equal(spec[1], last["k\n" .. spec[1]])
      assert.is_nil(extruct.decode(text))
      assert.equal(spec[2] .. "_" .. spec[1], extruct.decode(rows(spec[1], spec[2])).rows[spec[1]].id)
    end
  end)
end)

describe("the collector around a decode", function()
  local has_isrunning = pcall(collectgarbage, "isrunning")

  it("is running after a decode when it was running before", function()
    if not has_isrunning then
      print("skipped: collectgarbage('isrunning') does not exist on " .. _VERSION)
      return
    end
    collectgarbage("restart")
    -- big enough (over 64 KB) for the decoder to pause the collector
    local text = rows(2000, "r")
    assert.is_true(#text > 64 * 1024)
    extruct.decode(text)
    assert.is_true(collectgarbage("isrunning"))
  end)

  it("stays stopped after a decode when the host stopped it", function()
    if not has_isrunning then
      print("skipped: collectgarbage('isrunning') does not exist on " .. _VERSION)
      return
    end
    collectgarbage("stop")
    local ok, value = pcall(extruct.decode, rows(2000, "s"))
    local running = collectgarbage("isrunning")
    collectgarbage("restart")
    assert.is_true(ok)
    assert.equal("s_2000", value.rows[2000].id)
    assert.is_false(running)
  end)
end)

describe("cJSON's process-wide hooks", function()
  local dir

  lazy_setup(function() dir = helpers.scratch_dir() end)
  lazy_teardown(function() helpers.remove_dir(dir) end)

  it("serve a host that uses cJSON too, also once it installs hooks of its own, with " .. helpers.HOST_LUA, function()
    local host = dir .. "/cjson_host"
    local out, status = helpers.build_host("cjson_host", host)
    assert.equal(0, status, out)
    out, status = helpers.run(helpers.shell_quote(host) .. " 2>&1")
    assert.equal(0, status, out)
    assert.not_matches("FAILED", out)
    assert.matches("host round trip after loading the module: ok", out, 1, true)
    assert.matches("module decode under the host's hooks: ok", out, 1, true)
    assert.matches("host hooks saw the decode: ok", out, 1, true)
    assert.matches("host blocks left after the decode: 0\n", out, 1, true)
  end)
end)
