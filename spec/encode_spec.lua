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
    local prefix = "[0,-7,1000000000000000,9007199254740992,0.1,"
    assert.are.equal(prefix, text:sub(1, #prefix))
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

  it("escapes strings correctly and passes UTF-8 through", function()
    local s = 'quote " backslash \\ newline \n tab \t bell \7 slash / é 日本 \240\159\152\128'
    local text = assert(extruct.encode(s))
    assert.is_nil(text:find("[%z\1-\31]"), "a raw control character in the output")
    assert.is_truthy(text:find("é 日本 \240\159\152\128", 1, true), "UTF-8 was not passed through")
    assert.are.equal(s, cjson.decode(text))
    assert.are.equal(s, assert(extruct.decode(text)))
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

  it("indents with pretty = true", function()
    local text = assert(extruct.encode({ a = { 1 } }, { pretty = true }))
    assert.is_truthy(text:find("\n", 1, true))
    assert.are.same({ a = { 1 } }, cjson.decode(text))
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
