-- Hostile JSON: JSONTestSuite's parsing tests, checked against lua-cjson as a
-- peer, and inputs at the edges (deep nesting, huge strings, extreme numbers,
-- bad UTF-8, NUL escapes). Every input gets a defined result: a value, or
-- nil and a decode error; none may crash the process.
local extruct = require("extruct")
local cjson = require("cjson")
local helpers = require("spec.helpers")

local has_integers = math.type ~= nil

-- Structural equality of two decoded values; metatables are ignored (extruct
-- marks arrays with extruct.array_mt, lua-cjson does not). Returns true, or
-- false and the path where they differ.
local function same_value(a, b, path)
  path = path or "$"
  if type(a) ~= type(b) then
    return false, ("%s: %s vs %s"):format(path, type(a), type(b))
  end
  if type(a) == "number" then
    if a ~= a and b ~= b then return true end
    -- lua-cjson reads every number with strtod; extruct reads digits alone
    -- as an integer where Lua 5.3+ has one (as tonumber does): that
    -- integer's nearest double is what lua-cjson has, and an integer 0 has
    -- no sign to compare
    if math.type and math.type(a) == "integer" and math.type(b) == "float" then
      if a + 0.0 ~= b then
        return false, ("%s: %s vs %s"):format(path, tostring(a), tostring(b))
      end
      return true
    end
    if a ~= b or (a == 0 and 1 / a ~= 1 / b) then
      return false, ("%s: %s vs %s"):format(path, tostring(a), tostring(b))
    end
    return true
  end
  if type(a) ~= "table" then
    if a ~= b then return false, ("%s: %q vs %q"):format(path, tostring(a), tostring(b)) end
    return true
  end
  for k, v in pairs(a) do
    local ok, where = same_value(v, rawget(b, k), path .. "." .. tostring(k))
    if not ok then return false, where end
  end
  for k in pairs(b) do
    if rawget(a, k) == nil then return false, path .. "." .. tostring(k) .. ": missing" end
  end
  return true
end

local function list_files(dir, prefix)
  local names = {}
  local pipe = assert(io.popen("ls " .. helpers.shell_quote(dir)))
  for name in pipe:lines() do
    if name:sub(1, #prefix) == prefix and name:match("%.json$") then names[#names + 1] = name end
  end
  pipe:close()
  return names
end

local function decode_error(text)
  local v, err = extruct.decode(text)
  assert.is_nil(v, text:sub(1, 60))
  assert.equal("decode", err.kind)
  return err.message
end

describe("JSONTestSuite", function()
  local dir = helpers.json_test_suite_or_pending()
  if not dir then return end

  -- The n_ files cJSON alone would accept, and the part of extruct's check
  -- before parsing that rejects each one (cJSON reads any run of number
  -- characters with strtod and passes control characters through).
  local stricter_than_cjson = {
    ["n_number_-01.json"] = "malformed number",
    ["n_number_-2..json"] = "malformed number",
    ["n_number_0.e1.json"] = "malformed number",
    ["n_number_2.e+3.json"] = "malformed number",
    ["n_number_2.e-3.json"] = "malformed number",
    ["n_number_2.e3.json"] = "malformed number",
    ["n_number_neg_int_starting_with_zero.json"] = "malformed number",
    ["n_number_neg_real_without_int_part.json"] = "malformed number",
    ["n_number_real_without_fractional_part.json"] = "malformed number",
    ["n_number_with_leading_zero.json"] = "malformed number",
    ["n_string_invalid_unicode_escape.json"] = "\\u escape without four hex digits",
    ["n_string_unescaped_ctrl_char.json"] = "unescaped control character in a string",
    ["n_string_unescaped_newline.json"] = "unescaped control character in a string",
    ["n_string_unescaped_tab.json"] = "unescaped control character in a string",
    ["n_structure_null-byte-outside-string.json"] = "control character outside a string",
    ["n_structure_whitespace_formfeed.json"] = "control character outside a string",
  }

  it("decodes every y_ file, to the value lua-cjson gives where it accepts the file", function()
    local names, compared = list_files(dir, "y_"), 0
    assert.is_true(#names >= 90, "only " .. #names .. " y_ files")
    for _, name in ipairs(names) do
      local text = helpers.read_file(dir .. "/" .. name)
      local value, err = extruct.decode(text)
      assert(value ~= nil, name .. ": " .. tostring(err))
      local ok, peer = pcall(cjson.decode, text)
      if ok then
        local same, where = same_value(value, peer)
        assert(same, name .. " differs from lua-cjson at " .. tostring(where))
        compared = compared + 1
      end
    end
    -- lua-cjson refuses only a few y_ files (big numbers, deep nesting...)
    assert.is_true(compared >= #names - 10, compared .. " of " .. #names .. " compared")
  end)

  it("rejects every n_ file, those cJSON alone would accept with the check that catches them", function()
    local names = list_files(dir, "n_")
    assert.is_true(#names >= 180, "only " .. #names .. " n_ files")
    local disagreements = {}
    for _, name in ipairs(names) do
      local text = helpers.read_file(dir .. "/" .. name)
      local value, err = extruct.decode(text)
      assert(value == nil, name .. " was accepted")
      assert.equal("decode", err.kind, name)
      local reason = stricter_than_cjson[name]
      if reason then assert.matches(reason, err.message, 1, true) end
      if pcall(cjson.decode, text) then disagreements[#disagreements + 1] = name end
    end
    -- a file named in the table must still exist, so the table stays true
    for name in pairs(stricter_than_cjson) do
      assert(io.open(dir .. "/" .. name), name .. " not in the suite")
    end
    print(("NOTICE: n_ files lua-cjson accepts and extruct rejects (%d): %s")
      :format(#disagreements, table.concat(disagreements, " ")))
  end)

  -- The n_ files a lenient decode (strict = false, as response bodies are
  -- decoded) accepts: raw control characters in strings, kept as they are.
  local raw_controls_in_strings = {
    ["n_string_unescaped_ctrl_char.json"] = { "a\0a" },
    ["n_string_unescaped_newline.json"] = { "new\nline" },
    ["n_string_unescaped_tab.json"] = { "\t" },
  }
  local lenient = { strict = false }

  it("with strict = false accepts exactly the n_ files with raw control characters in strings", function()
    local names = list_files(dir, "n_")
    for _, name in ipairs(names) do
      local text = helpers.read_file(dir .. "/" .. name)
      local value, err = extruct.decode(text, lenient)
      if raw_controls_in_strings[name] then
        assert.same(raw_controls_in_strings[name], value, name)
      else
        assert(value == nil, name .. " was accepted")
        assert.equal("decode", err.kind, name)
        -- the same verdict as strict, unless strict stopped at a raw control character
        local strict_message = select(2, extruct.decode(text)).message
        if not strict_message:find("unescaped control character in a string", 1, true) then
          assert.equal(strict_message, err.message, name)
        end
      end
    end
    for name in pairs(raw_controls_in_strings) do
      assert(io.open(dir .. "/" .. name), name .. " not in the suite")
    end
  end)

  it("with strict = false gives every y_ and i_ file the strict result", function()
    for _, prefix in ipairs({ "y_", "i_" }) do
      for _, name in ipairs(list_files(dir, prefix)) do
        local text = helpers.read_file(dir .. "/" .. name)
        local strict_value, strict_err = extruct.decode(text)
        local value, err = extruct.decode(text, lenient)
        if strict_value == nil then
          assert(value == nil, name .. " accepted only with strict = false")
          assert.equal(strict_err.message, err.message, name)
        else
          local same, where = same_value(strict_value, value)
          assert(same, name .. " differs between the modes at " .. tostring(where))
        end
      end
    end
  end)

  it("gives a value or a decode error for every i_ file", function()
    local names = list_files(dir, "i_")
    assert.is_true(#names >= 30)
    for _, name in ipairs(names) do
      local value, err = extruct.decode(helpers.read_file(dir .. "/" .. name))
      assert(value ~= nil or (extruct.is_error(err) and err.kind == "decode"), name)
    end
  end)
end)

describe("edge inputs", function()
  it("refuses nesting 100000 levels deep, arrays and objects, with a clear error", function()
    assert.matches("nested deeper than 1000 levels",
      decode_error(string.rep("[", 100000) .. string.rep("]", 100000)), 1, true)
    assert.matches("nested deeper than 1000 levels",
      decode_error(string.rep('{"a":', 100000) .. "1" .. string.rep("}", 100000)), 1, true)
    assert.matches("nested deeper than 1000 levels", decode_error(string.rep("[", 100000)), 1, true)
    -- a decode after all that still works
    assert.same({ 1 }, extruct.decode("[1]"))
  end)

  it("decodes a 50 MB string", function()
    local big = string.rep("abcdefghij", 5 * 1024 * 1024)
    local v = assert(extruct.decode('["' .. big .. '"]'))
    assert.equal(#big, #v[1])
    assert.is_true(v[1] == big)
  end)

  it("keeps numbers at the edges of a double", function()
    local v = assert(extruct.decode("[9007199254740992, 9007199254740993, -9007199254740992, "
      .. "1e400, -1e400, -0, 0, 1e-400, -1e-400, 1.7976931348623157e308, 5e-324, 123456789012345678901234567890]"))
    assert.equal(2 ^ 53, v[1])
    if has_integers then
      -- an integer where 64 bits hold it, as tonumber reads it
      assert.equal(9007199254740993, v[2])
      assert.equal("integer", math.type(v[2]))
      assert.equal("integer", math.type(v[6])) -- -0 is the integer 0
    else
      -- 2^53 + 1 has no double: it reads as the nearest one, 2^53
      assert.equal(2 ^ 53, v[2])
      assert.equal(-math.huge, 1 / v[6]) -- -0 keeps its sign
    end
    assert.equal(-2 ^ 53, v[3])
    assert.equal(math.huge, v[4])
    assert.equal(-math.huge, v[5])
    assert.equal(0, v[6])
    assert.equal(math.huge, 1 / v[7])
    assert.equal(0, v[8])
    assert.equal(1.7976931348623157e308, v[10])
    assert.equal(5e-324, v[11])
    assert.equal(1.2345678901234568e29, v[12])
    if has_integers then
      assert.equal("integer", math.type(v[1]))
      assert.equal("integer", math.type(v[3]))
      assert.equal("float", math.type(v[4]))
      assert.equal("integer", math.type(v[7]))
      assert.equal("float", math.type(v[12]))
    end
  end)

  it("refuses numbers JSON does not allow, which cJSON alone would read", function()
    for _, text in ipairs({ "[-01]", "[012]", "[2.]", "[-.5]", "[2.e3]", "[1e]", "[1e+]", "-", "[--1]" }) do
      assert.matches("malformed number at byte", decode_error(text), 1, true)
    end
    for _, text in ipairs({ "[NaN]", "[Infinity]", "[-Infinity]", "[+1]", "[0x10]" }) do
      decode_error(text)
    end
  end)

  it("passes bytes that are not UTF-8 through unchanged", function()
    local v = assert(extruct.decode('["\255\254", "a\192\175b", "\237\160\128", "caf\233"]'))
    assert.equal("\255\254", v[1])
    assert.equal("a\192\175b", v[2])
    assert.equal("\237\160\128", v[3]) -- a raw UTF-8 encoded surrogate
    assert.equal("caf\233", v[4])
    -- the same bytes in a key
    local o = assert(extruct.decode('{"k\255": 1}'))
    assert.equal(1, o["k\255"])
  end)

  it("refuses escaped lone surrogates and \\u escapes without four hex digits", function()
    decode_error('["\\ud800"]')
    decode_error('["\\ud800x"]')
    decode_error('["\\udc00\\ud800"]')
    assert.matches("\\u escape without four hex digits", decode_error('["\\u12"]'), 1, true)
    assert.matches("\\u escape without four hex digits", decode_error('["\\uzzzz"]'), 1, true)
    -- a valid pair still makes one character
    assert.equal("\240\157\132\158", assert(extruct.decode('["\\ud834\\udd1e"]'))[1])
  end)

  it("keeps escaped NULs in strings and keys instead of cutting the string there", function()
    local v = assert(extruct.decode('{"a\\u0000b": "x\\u0000y\\u0000", "plain": "\\\\u0000"}'))
    assert.equal("x\0y\0", v["a\0b"])
    assert.equal("\\u0000", v.plain) -- an escaped backslash, then text
    assert.equal("\0", assert(extruct.decode('"\\u0000"')))
    -- positions in errors still count the caller's bytes
    assert.matches("at byte 14 of 15", decode_error('["\\u0000", 1, ]'), 1, true)
    -- and beside a 0xFF byte
    assert.same({ "\0", "\255" }, extruct.decode('["\\u0000", "\255"]'))
  end)

  it("refuses raw control characters in strings and between tokens", function()
    assert.matches("unescaped control character in a string at byte 2", decode_error('["\0"]'), 1, true)
    assert.matches("unescaped control character in a string", decode_error('["a\nb"]'), 1, true)
    assert.matches("control character outside a string at byte 1", decode_error("[\0]"), 1, true)
    assert.matches("control character outside a string", decode_error("[1,\f2]"), 1, true)
    -- the four whitespace characters of JSON are fine
    assert.same({ 1, 2 }, extruct.decode(" \t\r\n[1,\n\t2]\r\n"))
    -- and so is a UTF-8 byte-order mark before the value
    assert.same({ a = 1 }, extruct.decode('\239\187\191{"a": 1}'))
  end)

  it("gives every prefix of a document a value or a decode error", function()
    local text = helpers.read_file("spec/support/table.json")
    for i = 0, #text, 7 do
      local v, err = extruct.decode(text:sub(1, i))
      assert(v ~= nil or err.kind == "decode", i)
    end
  end)
end)
