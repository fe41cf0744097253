-- Specs for the mock server's JSON (lua/extruct/mock/json.lua), in process:
-- encoding, strict decoding, and the sentinels it shares with the client.

local cjson = require("cjson")
local helpers = require("spec.helpers")

describe("extruct.mock's JSON", function()
  local mock = require("extruct.mock")
  local json = require("extruct.mock.json")

  describe("sentinels", function()
    it("null and the array marker are the client's where the C core loads", function()
      local extruct = require("extruct")
      assert.is_true(json.shares_core_sentinels)
      assert.equal(extruct.null, mock.null)
      assert.equal(cjson.null, mock.null)
      assert.equal(extruct.array_mt, mock.array_mt)
      assert.equal(extruct.array_mt, getmetatable(mock.array()))
      -- a value passes between the two as it is
      local decoded = assert(mock.decode_json('{"a": [], "b": null, "c": [{}]}'))
      assert.equal('{"a":[],"b":null,"c":[{}]}', mock.encode_json(assert(extruct.decode(assert(extruct.encode(decoded))))))
      assert.equal(extruct.null, decoded.b)
      assert.equal('{"a":[],"n":null}', mock.encode_json({ a = extruct.array(), n = extruct.null }))
    end)

    it("without the C core the mock keeps sentinels of its own", function()
      local code = [==[
        package.cpath = ""
        local mock = require("extruct.mock")
        local json = require("extruct.mock.json")
        local v = assert(mock.decode_json('[null, []]'))
        print(json.shares_core_sentinels, type(mock.null), v[1] == mock.null,
          getmetatable(v[2]) == mock.array_mt, mock.encode_json(v))
      ]==]
      local out, status = helpers.run_lua("", code)
      assert.equal(0, status, out)
      assert.equal("false\ttable\ttrue\ttrue\t[null,[]]\n", out)
    end)
  end)

  describe("encode_json", function()
    local encode = mock.encode_json

    it("encodes scalars, integers without a decimal point, floats exactly", function()
      assert.equal("null", encode(mock.null))
      assert.equal("true", encode(true))
      assert.equal("false", encode(false))
      assert.equal("0", encode(0))
      assert.equal("-12", encode(-12))
      assert.equal("25", encode(25.0))
      assert.equal("9007199254740991", encode(2 ^ 53 - 1))
      assert.equal("2.5", encode(2.5))
      assert.equal("0.1", encode(0.1))
      assert.equal(1 / 3, tonumber(encode(1 / 3)))
      assert.equal(1e300, tonumber(encode(1e300)))
      assert.error_matches(function() encode(0 / 0) end, "cannot encode", nil, true)
      assert.error_matches(function() encode(math.huge) end, "cannot encode inf as JSON", nil, true)
    end)

    it("keeps empty arrays and empty objects apart; sorts keys", function()
      assert.equal("[]", encode(mock.array()))
      assert.equal("{}", encode({}))
      assert.equal('[1,"a",null,[],{}]', encode(mock.array{ 1, "a", mock.null, mock.array(), {} }))
      assert.equal('{"a":1,"b":{"c":[true]},"z":null}', encode({ z = mock.null, b = { c = mock.array{ true } }, a = 1 }))
      assert.error_matches(function() encode({ 1, 2 }) end,
        "cannot encode a table with a number key as a JSON object (mark arrays with extruct.mock.array)", nil, true)
      assert.error_matches(function() encode({ [true] = 1 }) end,
        "cannot encode a table with a boolean key as a JSON object (mark arrays with extruct.mock.array)", nil, true)
      assert.error_matches(function() encode(print) end, "cannot encode a function as JSON", nil, true)
    end)

    it("escapes quotes, backslashes and control characters; passes UTF-8 through", function()
      assert.equal([["a\"b\\c\n\r\t\b\f\u0001\u001f\u007f"]], encode('a"b\\c\n\r\t\b\f\1\31\127'))
      assert.equal('"é — ü"', encode("é — ü"))
      local text = encode({ s = "x\0y" })
      assert.equal('{"s":"x\\u0000y"}', text)
      assert.equal("x\0y", cjson.decode(text).s)
    end)
  end)

  describe("raw_newlines", function()
    it("writes a string's newlines as raw bytes, and escapes everything else as usual", function()
      local text = json.encode({ brief = json.raw_newlines('a\nb\t"c"\\n\r') })
      assert.equal('{"brief":"a\nb\\t\\"c\\"\\\\n\\r"}', text)
      assert.is_nil(json.decode(text)) -- not JSON: a strict reader refuses it
      assert.equal('a\nb\t"c"\\n\r', cjson.decode(text).brief) -- a lenient one reads it back
    end)
  end)

  describe("decode_json", function()
    -- lua-cjson's value and ours: equal numbers, strings and booleans, null
    -- for null, the same array items and object members.
    local function same_value(peer, ours)
      if peer == cjson.null then return ours == json.null end
      if type(peer) ~= "table" then return peer == ours end
      if type(ours) ~= "table" or ours == json.null then return false end
      local count = 0
      for key, item in pairs(ours) do
        count = count + 1
        if not same_value(peer[key], item) then return false end
      end
      for _ in pairs(peer) do count = count - 1 end
      return count == 0
    end

    it("decodes objects, arrays (marked), null, numbers and escaped strings", function()
      local v = assert(json.decode(' {"a": [1, -2.5e2, true, false, null, {}], "s": "\\u00e9\\ud83d\\ude00\\n\\/"} '))
      assert.is_true(json.is_array(v.a))
      assert.equal(1, v.a[1])
      assert.equal(-250, v.a[2])
      assert.is_true(v.a[3])
      assert.is_false(v.a[4])
      assert.equal(json.null, v.a[5])
      assert.is_true(json.is_object(v.a[6]))
      assert.equal("é😀\n/", v.s)
      assert.equal(json.encode(v), json.encode(assert(json.decode(json.encode(v)))))
      if math.type then assert.equal("integer", math.type(v.a[1])) end
    end)

    it("refuses what is not JSON, with a byte position", function()
      local cases = {
        { '{"a": 1,}', 9 }, { "[1 2]", 4 }, { '"\\ud800"', 2 }, { '"\\udc00x"', 2 }, { "01", 1 },
        { "1.", 1 }, { "nul", 1 }, { '"a\tb"', 3 }, { '"\255"', 2 }, { "[1] x", 5 }, { "", 1 }, { "'a'", 1 },
        { '{"a" 1}', 6 }, { "-", 1 }, { "1e", 1 },
      }
      for _, case in ipairs(cases) do
        local value, message, pos = json.decode(case[1])
        assert.is_nil(value, case[1])
        assert.is_string(message)
        assert.equal(case[2], pos, case[1] .. ": " .. message)
      end
    end)

    it("limits the depth", function()
      assert.is_table(json.decode(("["):rep(json.MAX_DEPTH) .. ("]"):rep(json.MAX_DEPTH)))
      local value, message = json.decode(("["):rep(json.MAX_DEPTH + 1) .. ("]"):rep(json.MAX_DEPTH + 1))
      assert.is_nil(value)
      assert.matches("deeper", message)
      assert.is_nil(json.decode(("["):rep(100000)))
    end)

    it("agrees with JSONTestSuite: y_ files parse, n_ files are refused, like lua-cjson where it is strict", function()
      local dir, why = helpers.json_test_suite()
      if not dir then
        print("NOTICE: skipping the JSONTestSuite comparison: " .. why)
        return
      end
      local checked = 0
      for name in helpers.run("ls " .. helpers.shell_quote(dir)):gmatch("%S+") do
        local verdict = name:sub(1, 2)
        if verdict == "y_" or verdict == "n_" then
          local text = helpers.read_file(dir .. "/" .. name)
          local value = json.decode(text)
          if verdict == "y_" then
            assert.is_not_nil(value, name)
            assert.is_true(same_value(cjson.decode(text), value), name) -- what lua-cjson reads
          else
            assert.is_nil(value, name)
          end
          checked = checked + 1
        end
      end
      assert.is_true(checked > 250, "only " .. checked .. " files")
    end)
  end)
end)
