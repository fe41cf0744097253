local extruct = require("extruct")
local cjson = require("cjson")
local helpers = require("spec.helpers")

local has_integers = math.type ~= nil

describe("extruct.decode", function()
  it("turns objects into tables and arrays into sequences", function()
    local v = assert(extruct.decode('{"a": {"b": [10, 20, 30]}, "s": "x", "t": true, "f": false}'))
    assert.same({ a = { b = { 10, 20, 30 } }, s = "x", t = true, f = false }, v)
    assert.equal(3, #v.a.b)
  end)

  it("marks arrays, empty ones included, with extruct.array_mt and leaves objects bare", function()
    local v = assert(extruct.decode('{"tags": [], "rows": [{"x": [1]}], "o": {}}'))
    assert.equal(extruct.array_mt, getmetatable(v.tags))
    assert.equal(extruct.array_mt, getmetatable(v.rows))
    assert.equal(extruct.array_mt, getmetatable(v.rows[1].x))
    assert.is_nil(getmetatable(v))
    assert.is_nil(getmetatable(v.o))
    assert.is_nil(getmetatable(v.rows[1]))
    assert.equal("array", extruct.array_mt.__jsontype) -- the marker dkjson reads too
    local t = {}
    assert.equal(t, extruct.array(t))
    assert.equal(extruct.array_mt, getmetatable(t))
    assert.equal(extruct.array_mt, getmetatable(extruct.array()))
    assert.has_error(function() extruct.array("x") end)
  end)

  it("decodes null to extruct.null, a NULL light userdata equal to cjson.null", function()
    local v = assert(extruct.decode('{"d": null, "list": [null, 1]}'))
    assert.equal(extruct.null, v.d)
    assert.equal(cjson.null, v.d)
    assert.equal("userdata", type(extruct.null))
    assert.equal(extruct.null, v.list[1])
    assert.equal(2, #v.list)
    assert.equal(extruct.null, assert(extruct.decode("null")))
  end)

  it("gives integral numbers as integers and the rest as floats", function()
    local v = assert(extruct.decode('[0, 42, -7, 9007199254740992, 2.5, 1e3, -0, 1e400, 9007199254740994]'))
    assert.equal(42, v[2])
    assert.equal(-7, v[3])
    assert.equal(2.5, v[5])
    assert.equal(1000, v[6])
    assert.equal(math.huge, v[8])
    assert.equal(1 / 0, 1 / v[7] * -1) -- -0 keeps its sign
    if has_integers then
      assert.equal("integer", math.type(v[1]))
      assert.equal("integer", math.type(v[2]))
      assert.equal("integer", math.type(v[4]))
      assert.equal("float", math.type(v[5]))
      assert.equal("float", math.type(v[7]))
      -- beyond 2^53 a double no longer names one integer exactly
      assert.equal("float", math.type(v[9]))
    end
  end)

  it("passes UTF-8 and escapes through", function()
    local v = assert(extruct.decode('["caf\\u00e9", "na\195\175ve", "q\\"b\\\\n\\n", "\\ud83d\\ude00"]'))
    assert.equal("caf\195\169", v[1])
    assert.equal("na\195\175ve", v[2])
    assert.equal('q"b\\n\n', v[3])
    assert.equal("\240\159\152\128", v[4])
  end)

  it("returns nil and a decode error for invalid JSON, with the position", function()
    for _, text in ipairs({ "", "{", "[1,2", "{\"a\" 1}", "<html>502</html>", "{} trailing", "nul" }) do
      local v, err = extruct.decode(text)
      assert.is_nil(v, text)
      assert.equal("decode", err.kind, text)
      assert.truthy(tostring(err):match("^extruct: decode: "), text)
    end
    local _, err = extruct.decode("[1,2")
    assert.matches("byte %d+ of 4", err.message)
  end)

  it("raises on misuse", function()
    assert.has_error(function() extruct.decode(nil) end)
    assert.has_error(function() extruct.decode({}) end)
  end)

  it("survives nesting far deeper than any table needs", function()
    local deep = string.rep("[", 100000) .. string.rep("]", 100000)
    local v, err = extruct.decode(deep)
    assert.is_nil(v)
    assert.equal("decode", err.kind)
    assert.matches("nested deeper than 1000 levels", err.message, 1, true)
    -- cJSON's limit is 1000 levels; right under it the conversion must cope
    local ok = assert(extruct.decode(string.rep("[", 999) .. "1" .. string.rep("]", 999)))
    local depth, node = 0, ok
    while type(node) == "table" do depth, node = depth + 1, node[1] end
    assert.equal(999, depth)
    assert.equal(1, node)
    local objects = string.rep('{"a":', 999) .. "true" .. string.rep("}", 999)
    assert.is_table(extruct.decode(objects))
  end)

  it("keeps the later of duplicate keys, and keys of every form", function()
    local v = assert(extruct.decode('{"k": 1, "k": 2, "": 3, "1": 4}'))
    assert.equal(2, v.k)
    assert.equal(3, v[""])
    assert.equal(4, v["1"])
    assert.is_nil(v[1])
  end)

  it("decodes a big document like lua-cjson does", function()
    local rows = {}
    for i = 1, 2000 do
      rows[i] = ('{"id":"row_%d","data":{"name":{"status":"done","value":{"answer":"Acme %d",'
        .. '"sources":["https://a.example/%d"]}},"n":%d,"x":%d.5,"ok":true,"none":null}}'):format(i, i, i, i, i)
    end
    local text = '{"rows":[' .. table.concat(rows, ",") .. ']}'
    assert.same(cjson.decode(text), assert(extruct.decode(text)))
  end)

  describe("on JSONTestSuite's structure tests", function()
    local dir = helpers.json_test_suite_or_pending()
    if not dir then return end
    it("decodes i_structure_500_nested_arrays.json without crashing", function()
      local v = assert(extruct.decode(helpers.read_file(dir .. "/i_structure_500_nested_arrays.json")))
      local depth = 0
      while type(v) == "table" do depth, v = depth + 1, v[1] end
      assert.equal(500, depth)
    end)
    it("rejects n_structure_100000_opening_arrays.json cleanly", function()
      local v, err = extruct.decode(helpers.read_file(dir .. "/n_structure_100000_opening_arrays.json"))
      assert.is_nil(v)
      assert.equal("decode", err.kind)
    end)
  end)
end)
