-- The decoder's speed levers must not change what it returns or what the
-- host sees: members and elements wait on the Lua stack until their table is
-- made (in batches for wide containers), the collector is paused only while
-- a big text is converted and only when it was running, and cJSON's
-- process-wide hooks stay the host's: the module never installs any.
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

describe("the decoder", function()
  it("gives the same values when big and small documents alternate", function()
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

  -- past 256 stack slots a container's table is made and filled in batches
  it("fills wide arrays and objects in order, the later of duplicate keys winning across batches", function()
    for _, n in ipairs({ 127, 128, 129, 255, 256, 257, 511, 512, 513, 5000 }) do
      local items, members = {}, {}
      for i = 1, n do
        items[i] = tostring(i)
        members[i] = ('"k%d":%d'):format(i % 300, i)
      end
      local list = assert(extruct.decode("[" .. table.concat(items, ",") .. "]"))
      assert.equal(n, #list)
      for i = 1, n do assert.equal(i, list[i]) end
      assert.equal(extruct.array_mt, getmetatable(list))
      local object = assert(extruct.decode("{" .. table.concat(members, ",") .. "}"))
      local expected = {}
      for i = 1, n do expected["k" .. i % 300] = i end
      assert.same(expected, object)
    end
  end)

  it("builds wide containers nested deep, where the stack a C function may take runs out", function()
    -- 900 levels, each with 20 values before its child: more stack slots than
    -- LuaJIT lets a C function hold if they all waited
    local depth, open, close = 900, {}, {}
    for i = 1, depth do
      open[i] = ("[%s,"):format(("%d,"):rep(19):format(i, i, i, i, i, i, i, i, i, i, i, i, i, i, i, i, i, i, i):sub(1, -2))
      close[i] = "]"
    end
    local text = table.concat(open) .. "0" .. table.concat(close)
    local node = assert(extruct.decode(text))
    for i = 1, depth do
      assert.equal(20, #node, i)
      assert.equal(i, node[19])
      node = node[20]
    end
    assert.equal(0, node)
    local objects = ('{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"x":'):rep(depth) .. "0" .. ("}"):rep(depth)
    node = assert(extruct.decode(objects))
    for _ = 1, depth do
      assert.equal(8, node.h)
      node = node.x
    end
    assert.equal(0, node)
  end)
end)

describe("lenient decodes (strict = false)", function()
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
  it("serve a host that uses cJSON too, also once it installs hooks of its own, with " .. helpers.HOST_LUA, function()
    local host, why = helpers.built_host("cjson_host")
    assert(host, why)
    local out, status = helpers.run(helpers.shell_quote(host) .. " 2>&1")
    assert.equal(0, status, out)
    assert.not_matches("FAILED", out)
    assert.matches("host round trip after loading the module: ok", out, 1, true)
    assert.matches("module decode under the host's hooks: ok", out, 1, true)
    assert.matches("module encode under the host's hooks: ok", out, 1, true)
    assert.matches("host hooks saw nothing of the module: ok", out, 1, true)
    assert.matches("host blocks left after the decode and encode: 0\n", out, 1, true)
  end)
end)
