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
    assert.error_matches(function() extruct.array("x") end, "extruct.array: expected a table or nothing, got string", nil, true)
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

  it("gives digits alone as integers (5.3+) and numbers with a point or an exponent as floats", function()
    local v = assert(extruct.decode('[0, 42, -7, 9007199254740992, 2.5, 1e3, -0.0, 1e400, 9007199254740994, 2.0]'))
    assert.equal(42, v[2])
    assert.equal(-7, v[3])
    assert.equal(2.5, v[5])
    assert.equal(1000, v[6])
    assert.equal(math.huge, v[8])
    assert.equal(-math.huge, 1 / v[7]) -- -0.0 keeps its sign
    if has_integers then
      assert.equal("integer", math.type(v[1]))
      assert.equal("integer", math.type(v[2]))
      assert.equal("integer", math.type(v[4]))
      assert.equal("float", math.type(v[5]))
      assert.equal("float", math.type(v[6]))
      assert.equal("float", math.type(v[7]))
      assert.equal("integer", math.type(v[9]))
      assert.equal("float", math.type(v[10]))
    end
  end)

  -- Each number is what tonumber makes of the same text, on every
  -- interpreter: the value, the subtype on 5.3+, the sign of a zero.
  local function as_tonumber(text)
    local got, want = assert(extruct.decode(text)), tonumber(text)
    assert.equal("number", type(got), text)
    if has_integers then
      assert.equal(math.type(want), math.type(got), text)
    end
    assert(got == want or (got ~= got and want ~= want), text .. ": " .. tostring(got) .. " vs " .. tostring(want))
    if want == 0 then
      assert.equal(1 / want, 1 / got, text .. ": the sign of zero")
    end
    return got
  end

  it("reads every number as tonumber reads its text: integers exact to 64 bits on 5.3+", function()
    local edges = {
      "9007199254740991", "9007199254740992", "9007199254740993", "-9007199254740993", "9007199254740993.0",
      "9007199254740994", "-9007199254740992", "-9007199254740991", "9223372036854775807", "-9223372036854775807",
      "9223372036854775809",
      "9223372036854775808", "-9223372036854775808", "-9223372036854775809", "18446744073709551615",
      "18446744073709551616", "99999999999999999999", "123456789012345678901234567890", "-0", "0", "-0.0",
      "0.0", "-0e0", "1e400", "-1e400", "1e-400", "-1e-400", "1E2", "1e+2", "1.5e-3", "0.1", "2.0",
      "1.7976931348623157e308", "4.9e-324", "2.2250738585072014e-308", "1000000000000000000000",
    }
    for _, text in ipairs(edges) do
      as_tonumber(text)
    end
    if has_integers then
      -- the cases issue reports named
      local n = as_tonumber("9007199254740993")
      assert.equal("integer", math.type(n))
      assert.equal(9007199254740993, n)
      assert.equal("9007199254740993", tostring(n))
      assert.equal("float", math.type(as_tonumber("9007199254740993.0")))
      assert.equal("float", math.type(as_tonumber("9223372036854775808")))
      assert.equal(math.maxinteger, as_tonumber("9223372036854775807"))
      assert.equal(math.mininteger, as_tonumber("-9223372036854775808"))
      assert.equal("integer", math.type(as_tonumber("-0"))) -- 0: an integer has no sign
    else
      -- every number the nearest double: 2^53 + 1 reads as 2^53, -0 keeps its sign
      assert.equal(2 ^ 53, as_tonumber("9007199254740993"))
      assert.equal(-math.huge, 1 / as_tonumber("-0"))
    end
  end)

  it("reads random integers and decimals as tonumber does, inside arrays too", function()
    local texts, seed = {}, 12345
    local function random(n) -- deterministic, the same on every interpreter
      seed = (seed * 1103515245 + 12345) % 2147483648
      return seed % n
    end
    for i = 1, 2000 do
      local digits = {}
      for d = 1, 1 + random(21) do digits[d] = tostring(random(10)) end
      if digits[1] == "0" and #digits > 1 then digits[1] = "1" end
      local text = (random(2) == 0 and "-" or "") .. table.concat(digits)
      if i % 3 == 0 then text = text .. "." .. tostring(random(1000)) end
      if i % 5 == 0 then text = text .. "e" .. tostring(random(40) - 20) end
      texts[i] = text
    end
    for _, text in ipairs(texts) do as_tonumber(text) end
    local all = assert(extruct.decode("[" .. table.concat(texts, ",") .. "]"))
    for i, text in ipairs(texts) do
      local want = tonumber(text)
      assert(all[i] == want and (not has_integers or math.type(all[i]) == math.type(want)), text)
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
    assert.error_matches(function() extruct.decode(nil) end, "extruct.decode: expected a string, got nil", nil, true)
    assert.error_matches(function() extruct.decode({}) end, "extruct.decode: expected a string, got table", nil, true)
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

describe("extruct.decode's strict option", function()
  local function fails(text, opts)
    local v, err = extruct.decode(text, opts)
    assert.is_nil(v, text)
    assert.equal("decode", err.kind, text)
    return err.message
  end

  it("is strict by default: a raw control character in a string is a decode error naming its byte", function()
    for byte = 0, 31 do
      local c = string.char(byte)
      local text = '["ab' .. c .. 'c"]'
      local where = "unescaped control character in a string at byte 4 of 8"
      assert.matches(where, fails(text), 1, true)
      assert.matches(where, fails(text, { strict = true }), 1, true)
      assert.equal("ab" .. c .. "c", assert(extruct.decode(text, { strict = false }))[1], byte)
    end
  end)

  it("with strict = false keeps raw control characters in keys and values, NUL included", function()
    local v = assert(extruct.decode('{"k\n\0": "v\t\r\0\31", "n": ["\0", "\\u0000\0"]}', { strict = false }))
    assert.equal("v\t\r\0\31", v["k\n\0"])
    assert.same({ "\0", "\0\0" }, v.n)
    -- positions in errors count the caller's bytes past raw and escaped NULs alike
    assert.matches("invalid JSON at byte 17 of 18", fails('["\0", "\\u0000\0", ]', { strict = false }), 1, true)
    -- NULs and 0xFF bytes side by side, each kept as it is
    assert.same({ "\0", "\255" }, extruct.decode('["\0", "\255"]', { strict = false }))
    assert.equal("\255", assert(extruct.decode('["\n", "\255"]', { strict = false }))[2])
  end)

  it("tells every byte apart in every place of a string, eight- and sixteen-byte steps included", function()
    for byte = 0, 255 do
      local c = string.char(byte)
      if c ~= '"' and c ~= "\\" then
        for at = 0, 33 do
          local s = ("x"):rep(at) .. c .. ("y"):rep(33 - at)
          local text = '["' .. s .. '"]'
          assert.equal(s, assert(extruct.decode(text, { strict = false }))[1], byte .. " at " .. at)
          if byte < 0x20 then
            assert.matches(("unescaped control character in a string at byte %d of"):format(2 + at), fails(text), 1, true)
          else
            assert.equal(s, assert(extruct.decode(text))[1], byte .. " at " .. at)
          end
        end
      end
    end
    for at = 0, 33 do
      for _, strict in ipairs({ true, false }) do
        local x, y = ("x"):rep(at), ("y"):rep(33 - at)
        local opts = { strict = strict }
        assert.same({ x .. '"' .. y }, extruct.decode('["' .. x .. '\\"' .. y .. '"]', opts))
        assert.same({ x .. "\\" .. y }, extruct.decode('["' .. x .. '\\\\' .. y .. '"]', opts))
        assert.same({ x, y }, extruct.decode('["' .. x .. '","' .. y .. '"]', opts))
        assert.matches("\\u escape without four hex digits at byte " .. (2 + at),
          fails('["' .. x .. '\\u12"]', opts), 1, true)
      end
    end
  end)

  it("checks everything else the same in both modes", function()
    local bad = { "", "[1,2", "{} trailing", "[01]", "[2.]", "[1,\f2]", "[\0]", '["\\uzzzz"]', '["\\ud800"]',
      '["a\\xb"]', "[NaN]", '{"a" 1}', string.rep("[", 1001) .. string.rep("]", 1001),
      '"unterminated', '"\\' }
    for _, text in ipairs(bad) do
      assert.equal(fails(text), fails(text, { strict = false }), text)
    end
    local good = { '{"k": 1, "k": 2}', '\239\187\191{"a": [1, -0, 1e400, null, true]}', '"\\u0000"',
      '"caf\\u00e9 \\ud83d\\ude00 \192\175"', string.rep("[", 999) .. string.rep("]", 999), '["\\u0000", "\255"]' }
    for _, text in ipairs(good) do
      assert.same(assert(extruct.decode(text)), assert(extruct.decode(text, { strict = false })), text)
    end
  end)

  it("raises on misuse of the options", function()
    assert.has_error(function() extruct.decode("1", "strict") end, "extruct.decode: options must be a table, got string")
    assert.has_error(function() extruct.decode("1", { strict = 1 }) end,
      "extruct.decode: option 'strict' must be a boolean, got number")
    assert.has_error(function() extruct.decode("1", { lenient = true }) end, "extruct.decode: unknown option 'lenient'")
    assert.error_matches(function() require("extruct.core").decode("1", "no") end,
      "bad argument #2 to 'decode' (boolean expected, got string)", nil, true)
    assert.equal(1, extruct.decode("1", {}))
  end)
end)
