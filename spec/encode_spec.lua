local extruct = require("extruct")
local cjson = require("cjson")
local helpers = require("spec.helpers")

local has_integers = math.type ~= nil

-- Deep equality that also tells an empty array (array_mt) from an empty
-- object, and integers from floats.
local function same_json(a, b)
  if type(a) ~= "table" or type(b) ~= "table" then
    return a == b and (not has_integers or type(a) ~= "number" or math.type(a) == math.type(b))
  end
  if next(a) == nil and next(b) == nil
    and (getmetatable(a) == extruct.array_mt) ~= (getmetatable(b) == extruct.array_mt) then
    return false
  end
  for k, v in pairs(a) do
    if not same_json(v, b[k]) then return false end
  end
  for k in pairs(b) do
    if a[k] == nil then return false end
  end
  return true
end

describe("extruct.encode", function()
  it("writes every kind of value, and decode gives it back", function()
    local value = {
      name = "Acme", count = 25, ratio = 0.72, done = true, failed = false,
      missing = extruct.null, tags = extruct.array(), settings = {},
      rows = { { data = { website = "https://acme.example", score = 9 } }, { data = {} } },
      nested = { { { 1, 2 }, { 3 } } },
    }
    local text = assert(extruct.encode(value))
    assert.is_string(text)
    assert.is_truthy(text:find('"tags":[]', 1, true), text)
    assert.is_truthy(text:find('"settings":{}', 1, true), text)
    assert.is_truthy(text:find('"missing":null', 1, true), text)
    assert.is_true(same_json(value, assert(extruct.decode(text))))
  end)

  it("round-trips a whole table header as the server sends it", function()
    local fixture = helpers.read_file("spec/support/table.json")
    local decoded = assert(extruct.decode(fixture))
    local again = assert(extruct.decode(assert(extruct.encode(decoded))))
    assert.is_true(same_json(decoded, again))
    -- A real peer reads our output the same way.
    assert.are.same(cjson.decode(fixture), cjson.decode((assert(extruct.encode(decoded)))))
  end)

  it("keeps integers exact and floats at full precision", function()
    local zero = 0.0
    local negative_zero = -zero -- a literal -0.0 is folded to 0 by some compilers
    local text = assert(extruct.encode({ 0, -7, 1e15, 2 ^ 53, 0.1, 1 / 3, negative_zero, 1e300, 5e-324 }))
    assert.are.equal("[0,-7,1000000000000000,9007199254740992,0.1,0.3333333333333333,-0.0,1e+300,5e-324]", text)
    local back = assert(extruct.decode(text))
    assert.are.equal(1 / 3, back[6])
    assert.are.equal(1e300, back[8])
    assert.are.equal(5e-324, back[9])
    assert.are.equal(-math.huge, 1 / back[7]) -- -0 keeps its sign
    if has_integers then
      local big = math.maxinteger
      assert.are.equal(tostring(big), assert(extruct.encode(big)))
      assert.are.equal(tostring(math.mininteger), assert(extruct.encode(math.mininteger)))
      assert.are.equal("integer", math.type(assert(extruct.decode(extruct.encode(42)))))
    end
  end)

  describe("numbers", function()
    -- Edge doubles and the text each must become: the shortest that reads
    -- back as the same double (the nearest such when several have as few
    -- digits), as JavaScript and Python print them.
    local DBL_MAX, DBL_MIN = 1.7976931348623157e308, 2.2250738585072014e-308
    local cases = {
      { 0.1 + 0.2, "0.30000000000000004" },
      { DBL_MAX, "1.7976931348623157e+308" },
      { -DBL_MAX, "-1.7976931348623157e+308" },
      { 4.9406564584124654e-324, "5e-324" }, -- the smallest subnormal
      { DBL_MIN, "2.2250738585072014e-308" },
      { 2.2250738585072009e-308, "2.225073858507201e-308" }, -- the largest subnormal
      { 0.1, "0.1" }, { 1 / 3, "0.3333333333333333" }, { 2 / 3, "0.6666666666666666" },
      { 123.456, "123.456" }, { -2003.45, "-2003.45" }, { 0.5, "0.5" }, { 1e-6, "0.000001" },
      { 1.5e-6, "0.0000015" }, { 1e-7, "1e-7" }, { 1.25e-7, "1.25e-7" }, { 1e23, "1e+23" },
      { 2 ^ 53 + 2, "9.007199254740994e+15" }, { 2 ^ 63, "9.223372036854776e+18" }, { 1e21, "1e+21" },
      { 2 ^ -1022 * 3, "6.675221575521604e-308" }, { 5e-310, "5e-310" }, { 9.5367431640625e-07, "9.5367431640625e-7" },
      { 2.5, "2.5" }, { 1e15 + 0.5, "1000000000000000.5" }, { 4.35, "4.35" }, { 0.3, "0.3" },
    }

    it("writes each edge double as the shortest text that reads back as it", function()
      for _, case in ipairs(cases) do
        local x, want = case[1], case[2]
        local text = assert(extruct.encode(x))
        assert.are.equal(want, text, ("%.17g"):format(x))
        assert.are.equal(x, tonumber(text))
        assert.are.equal(x, assert(extruct.decode(text)))
      end
    end)

    it("refuses NaN and the infinities as before, naming the place", function()
      local _, err = extruct.encode({ rows = { 1, { x = 0 / 0 } } })
      assert.are.equal("encode", err.kind)
      assert.are.equal("cannot encode NaN (JSON has no such number) at $.rows[2].x", err.message)
      _, err = extruct.encode({ -math.huge })
      assert.are.equal("cannot encode an infinite number (JSON has no such number) at $[1]", err.message)
    end)

    -- Deterministic doubles over the whole range (the same on every
    -- interpreter): a 53-bit significand, a sign and a binary exponent
    -- from -1074 to 970, and every 50th a small decimal.
    local function random_doubles(n)
      local seed = 20240607
      local function draw(m) -- Park and Miller's generator: exact in doubles
        seed = seed * 16807 % 2147483647
        return seed % m
      end
      local out = {}
      for i = 1, n do
        local x
        if i % 50 == 0 then
          x = draw(100000) / 10 ^ draw(8)
        else
          x = (draw(2 ^ 26) * 2 ^ 27 + draw(2 ^ 27)) * 2.0 ^ (draw(2045) - 1074)
        end
        if draw(2) == 0 then x = -x end
        out[i] = x
      end
      return out
    end

    -- The C library's strtod: tonumber on Lua 5.x; LuaJIT's tonumber has a
    -- reader of its own, so there strtod is called through the FFI.
    local strtod = tonumber
    if rawget(_G, "jit") then
      local ffi = require("ffi")
      pcall(ffi.cdef, "double strtod(const char *s, char **end);")
      strtod = function(s) return ffi.C.strtod(s, nil) end
    end

    -- The fewest significant digits of %.15g, %.16g, %.17g that read back
    -- (what a printf-and-strtod loop would find).
    local function printf_digits(x)
      for p = 15, 17 do
        if strtod(("%." .. p .. "g"):format(x)) == x then return p end
      end
    end

    local function significant_digits(text)
      local mantissa = text:gsub("^%-", ""):gsub("[eE].*$", ""):gsub("%.", "")
      return #(mantissa:gsub("^0+", ""):gsub("0+$", ""))
    end

    it("writes 100,000 random doubles so that decode(encode(x)) == x, each as short as can be", function()
      local xs = random_doubles(100000)
      xs[#xs + 1] = 0.1 + 0.2
      xs[#xs + 1] = 1.7976931348623157e308
      xs[#xs + 1] = 4.9406564584124654e-324
      xs[#xs + 1] = 2.2250738585072014e-308
      local text = assert(extruct.encode(xs))
      local back = assert(extruct.decode(text))
      assert.are.equal(#xs, #back)
      local i, longer = 0, 0
      for item in text:gmatch("[^,%[%]]+") do
        i = i + 1
        local x = xs[i]
        -- the decoder, and the C library's strtod apart from it
        if back[i] ~= x or strtod(item) ~= x then
          error(("%.17g written as %s, read back as %.17g (strtod: %.17g)"):format(x, item, back[i], strtod(item)))
        end
        -- as short as printf's shortest, on every tenth (printf is slow on LuaJIT)
        if i % 10 == 0 and (math.abs(x) > 2 ^ 53 or x ~= math.floor(x)) then
          if significant_digits(item) > printf_digits(x) then longer = longer + 1 end
        end
      end
      assert.are.equal(#xs, i)
      assert.are.equal(0, longer, "texts longer than %.15g/%.16g/%.17g's")
    end)

    it("writes integral floats up to 2^53 as digits and larger ones with an exponent", function()
      assert.are.equal("[3,-3,9007199254740992,-9007199254740992,1e+16,1.8446744073709552e+19]",
        extruct.encode({ 3.0, -3.0, 2.0 ^ 53, -(2.0 ^ 53), 1e16, 2.0 ^ 64 }))
      if has_integers then
        -- digits read back as integers, an exponent as a float: equal values both ways
        local back = assert(extruct.decode(extruct.encode({ 3.0, 2.0 ^ 60 })))
        assert.are.equal("integer", math.type(back[1]))
        assert.are.equal("float", math.type(back[2]))
        assert.are.equal(2.0 ^ 60, back[2])
      end
    end)

    if has_integers then
      it("writes every 64-bit integer exactly, and decode gives it back as that integer", function()
        -- (>> is not Lua 5.1 syntax: this file is read by every interpreter)
        local shift = load("return function(a, n) return a >> n end")()
        local ints, seed = { math.maxinteger, math.mininteger, 9007199254740993, -9007199254740993, 0, -1 }, 7
        for i = #ints + 1, 10000 do
          seed = seed * 6364136223846793005 + 1442695040888963407 -- wraps: 64-bit integers
          ints[i] = shift(seed, i % 64)
          if i % 2 == 0 then ints[i] = -ints[i] end
        end
        local text = assert(extruct.encode(ints))
        local back = assert(extruct.decode(text))
        local i = 0
        for item in text:gmatch("[^,%[%]]+") do
          i = i + 1
          assert.are.equal(tostring(ints[i]), item)
          assert(math.type(back[i]) == "integer" and back[i] == ints[i], item)
        end
        assert.are.equal(#ints, i)
      end)
    end
  end)

  it("escapes strings correctly and passes UTF-8 through", function()
    local s = 'quote " backslash \\ newline \n tab \t bell \7 slash / é 日本 \240\159\152\128'
    local text = assert(extruct.encode(s))
    assert.is_nil(text:find("[%z\1-\31]"), "a raw control character in the output")
    assert.is_truthy(text:find("é 日本 \240\159\152\128", 1, true), "UTF-8 was not passed through")
    assert.are.equal(s, cjson.decode(text))
    assert.are.equal(s, assert(extruct.decode(text)))
  end)

  -- What each string must become, written out byte by byte: '"', '\' and
  -- the control characters escaped (the short forms where JSON has them),
  -- every other byte as it is (DEL, '/', bytes that are not UTF-8).
  local NAMED = { ['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f", ["\n"] = "\\n", ["\r"] = "\\r",
                  ["\t"] = "\\t" }
  local SPECIALS = _VERSION == "Lua 5.1" and '[%z\1-\31"\\]' or '[\0-\31"\\]'
  local function reference_quote(s)
    return '"' .. s:gsub(SPECIALS, function(c) return NAMED[c] or ("\\u%04x"):format(c:byte()) end) .. '"'
  end

  it("escapes what needs it at every place of strings up to 40 bytes, as keys too", function()
    local specials = { '"', "\\", "\n", "\0", "\1", "\31", "\t" }
    local checked = 0
    for n = 1, 40 do
      for _, special in ipairs(specials) do
        for at = 1, n do
          local s = ("a"):rep(at - 1) .. special .. ("\127/\200"):rep(n):sub(1, n - at)
          assert.are.equal(reference_quote(s), extruct.encode(s), ("%q"):format(s))
          if special ~= "\0" then
            assert.are.equal("{" .. reference_quote(s) .. ":1}", extruct.encode({ [s] = 1 }), ("%q"):format(s))
          end
          checked = checked + 1
        end
      end
      -- and nothing to escape at all, and every byte escaped
      local plain = ("x\255/\127"):rep(n):sub(1, n)
      assert.are.equal('"' .. plain .. '"', extruct.encode(plain))
      local controls = ("\1\2\n\""):rep(n):sub(1, n)
      assert.are.equal(reference_quote(controls), extruct.encode(controls))
    end
    assert.are.equal(40 * 41 / 2 * #specials, checked)
  end)

  it("writes long strings and big documents whole, escapes anywhere in them", function()
    local parts, seed = {}, 99
    for i = 1, 20000 do
      seed = seed * 16807 % 2147483647
      parts[i] = ("word%d "):format(seed % 1000) .. (seed % 97 == 0 and '\n"\\\0' or "")
    end
    local long = table.concat(parts) -- about 180 KB: past the first output buffer many times
    assert.are.equal(reference_quote(long), extruct.encode(long))
    local rows = {}
    for i = 1, 3000 do rows[i] = { id = ("row_%d"):format(i), text = parts[i], n = i / 4 } end
    local back = assert(extruct.decode(assert(extruct.encode(rows))))
    assert.are.equal(3000, #back)
    for i = 1, 3000 do
      assert(back[i].id == rows[i].id and back[i].text == parts[i] and back[i].n == i / 4, i)
    end
  end)

  it("writes NUL bytes inside strings and keys as escapes instead of cutting the string", function()
    local text = assert(extruct.encode({ s = "a\0b" }))
    assert.are.equal('{"s":"a\\u0000b"}', text)
    assert.are.equal("a\0b", cjson.decode(text).s)
    local _, err = extruct.encode({ ["a\0b"] = 1 })
    assert.are.equal("encode", err.kind)
    assert.is_truthy(err.message:find("NUL", 1, true))
  end)

  it("writes an empty table as {} unless it is marked as an array", function()
    assert.are.equal("{}", extruct.encode({}))
    assert.are.equal("[]", extruct.encode(extruct.array()))
    assert.are.equal("[]", extruct.encode(setmetatable({}, extruct.array_mt)))
    assert.are.equal("[]", extruct.encode(setmetatable({}, { __jsontype = "array" })))
    assert.are.equal("[1,2]", extruct.encode(extruct.array({ 1, 2 })))
    assert.are.equal("[]", extruct.encode(assert(extruct.decode("[]"))))
    assert.are.equal('{"a":[]}', extruct.encode(assert(extruct.decode('{"a":[]}'))))
  end)

  it("writes null for nil at the top and for extruct.null anywhere", function()
    assert.are.equal("null", extruct.encode(nil))
    assert.are.equal("[null,1]", extruct.encode({ extruct.null, 1 }))
    assert.are.equal("true", extruct.encode(true))
  end)

  it("indents with pretty = true: members on lines of their own, tabs, arrays on one line", function()
    local text = assert(extruct.encode({ a = { 1 } }, { pretty = true }))
    assert.are.equal('{\n\t"a":\t[1]\n}', text)
    assert.are.same({ a = { 1 } }, cjson.decode(text))
    local value = assert(extruct.decode('{"a":[1,{"b":[]},{},"x"]}'))
    assert.are.equal('{\n\t"a":\t[1, {\n\t\t\t"b":\t[]\n\t\t}, {}, "x"]\n}', extruct.encode(value, { pretty = true }))
    assert.are.equal('{"a":[1,{"b":[]},{},"x"]}', extruct.encode(value))
    assert.are.equal("{}", extruct.encode({}, { pretty = true }))
    assert.are.equal("[]", extruct.encode(extruct.array(), { pretty = true }))
    assert.are.equal('"s"', extruct.encode("s", { pretty = true }))
    assert.has_error(function() extruct.encode({}, { indent = 2 }) end, "extruct.encode: unknown option 'indent'")
    assert.error_matches(function() extruct.encode({}, "pretty") end,
      "extruct.encode: options must be a table, got string", nil, true)
  end)

  describe("refuses what JSON cannot say, naming the place", function()
    local function refusal(value)
      local text, err = extruct.encode(value)
      assert.is_nil(text)
      assert.is_true(extruct.is_error(err))
      assert.are.equal("encode", err.kind)
      return err.message
    end

    it("cycles", function()
      local t = { rows = {} }
      t.rows[1] = t
      assert.are.equal("cannot encode a table that contains itself (a cycle) at $.rows[1]", refusal(t))
    end)

    it("arrays in any order of insertion, their keys checked however they are stored", function()
      local backwards = {}
      for i = 100, 1, -1 do backwards[i] = i end -- most keys in the hash part
      local expected = {}
      for i = 1, 100 do expected[i] = tostring(i) end
      assert.are.equal("[" .. table.concat(expected, ",") .. "]", extruct.encode(backwards))
      local appended = { 1, 2, 3 }
      appended[5], appended[4] = 5, 4
      assert.are.equal("[1,2,3,4,5]", extruct.encode(appended))
      assert.is_truthy(refusal({ [1] = 1, [2] = 2, [4] = 4 }):find("sparse array (3 values under keys up to 4)", 1, true))
      assert.is_truthy(refusal({ [2] = 2 }):find("sparse array (1 values under keys up to 2)", 1, true))
      local holes = { 1, 2, 3, 4 }
      holes[2] = nil
      assert.is_truthy(refusal(holes):find("sparse array", 1, true))
      local mixed = { 1, 2, 3 }
      mixed.name = "x"
      assert.is_truthy(refusal(mixed):find("both integer and string keys", 1, true))
      assert.is_truthy(refusal({ name = "x", [1] = 1 }):find("both integer and string keys", 1, true))
      assert.is_truthy(refusal({ 1, 2, [2.5] = 3 }):find("number key", 1, true))
      assert.is_truthy(refusal({ a = 1, [true] = 3 }):find("boolean key", 1, true))
      assert.are.equal("cannot encode a table with both integer and string keys at $.rows[2]",
        refusal({ rows = { { 1 }, mixed } }))
    end)

    it("a failure deep in a big document, the output already on the heap", function()
      local big = {}
      for i = 1, 50000 do big[i] = { id = i, name = "row " .. i } end
      big[50000].name = print
      for _ = 1, 20 do
        assert.are.equal("cannot encode a function at $[50000].name", refusal(big))
      end
      big[50000].name = "last"
      assert.is_string(assert(extruct.encode(big)))
    end)

    it("a table used twice without a cycle is fine", function()
      local shared = { 1 }
      assert.are.equal('[[1],[1]]', extruct.encode({ shared, shared }))
    end)

    it("functions, coroutines, userdata", function()
      assert.are.equal("cannot encode a function at $.rows[2].f",
        refusal({ rows = { {}, { f = print } } }))
      assert.is_truthy(refusal(coroutine.create(function() end)):find("thread", 1, true))
      assert.is_truthy(refusal({ io.stdout }):find("userdata at $[1]", 1, true))
    end)

    it("mixed, sparse and non-string keys", function()
      assert.is_truthy(refusal({ 1, 2, name = "x" }):find("both integer and string keys", 1, true))
      assert.is_truthy(refusal({ [1] = "a", [3] = "c" }):find("sparse array", 1, true))
      assert.is_truthy(refusal({ [1.5] = true }):find("number key", 1, true))
      assert.is_truthy(refusal({ [0] = true }):find("number key", 1, true))
      assert.is_truthy(refusal({ [{}] = true }):find("table key", 1, true))
      assert.is_truthy(refusal({ x = { [true] = 1 } }):find("boolean key .* at %$%.x"))
      assert.is_truthy(refusal(extruct.array({ a = 1 })):find("marked as an array", 1, true))
    end)

    it("NaN and infinities", function()
      assert.is_truthy(refusal({ n = 0 / 0 }):find("NaN (JSON has no such number) at $.n", 1, true))
      assert.is_truthy(refusal(math.huge):find("infinite", 1, true))
      assert.is_truthy(refusal(-math.huge):find("infinite", 1, true))
    end)

    it("nesting deeper than decode accepts", function()
      local deep = {}
      local t = deep
      for _ = 1, 2000 do
        t[1] = {}
        t = t[1]
      end
      assert.is_truthy(refusal(deep):find("nested deeper than 1000 levels", 1, true))
      -- and the limit is the one decode has: 999 levels still round-trip
      local ok, levels = {}, 0
      t = ok
      for _ = 1, 998 do
        t[1] = {}
        t = t[1]
        levels = levels + 1
      end
      assert.is_string(assert(extruct.encode(ok)))
      assert.is_table(assert(extruct.decode(extruct.encode(ok))))
    end)

    it("keys that are not identifiers are quoted in the path", function()
      assert.are.equal('cannot encode a function at $["odd key"].f', refusal({ ["odd key"] = { f = print } }))
    end)
  end)

  it("writes both whole when an encode runs inside an encode (a __pairs metamethod)", function()
    if _VERSION == "Lua 5.1" then
      print("skipped: " .. _VERSION .. "'s pairs does not call __pairs, and encode refuses it")
      return
    end
    local big, inner = {}, nil
    for i = 1, 2000 do big[i] = ("item %d"):format(i) end -- past the first buffer, as the outer one is
    local t = setmetatable({}, { __pairs = function()
      inner = assert(extruct.encode(big))
      return next, { a = 1 }, nil
    end })
    for _ = 1, 3 do
      local text = assert(extruct.encode({ pad = ("x"):rep(10000), t = t }))
      assert.are.same({ pad = ("x"):rep(10000), t = { a = 1 } }, cjson.decode(text))
      assert.are.same(big, cjson.decode(inner))
    end
  end)

  it("keeps the powers of ten of src/dtoa.c as scripts/pow10_table.py computes them", function()
    if not helpers.has_command("python3") then
      print("skipped: no python3 to run scripts/pow10_table.py")
      return
    end
    local out, status = helpers.run("python3 scripts/pow10_table.py --check 2>&1")
    assert.are.equal(0, status, out)
    assert.matches("617 powers of ten as computed", out, 1, true)
  end)

  it("survives many failures and many successes without growing memory", function()
    collectgarbage("collect")
    collectgarbage("collect")
    local before = collectgarbage("count")
    local cyclic = {}
    cyclic.self = cyclic
    local value = assert(extruct.decode(helpers.read_file("spec/support/table.json")))
    for _ = 1, 2000 do
      assert.is_nil(extruct.encode(cyclic))
      assert.is_string(extruct.encode(value))
    end
    -- (twice: the guards finalized by the first collection are freed by the second)
    collectgarbage("collect")
    collectgarbage("collect")
    assert.is_true(collectgarbage("count") - before < 256, "the Lua heap grew by more than 256 KB")
  end)
end)
