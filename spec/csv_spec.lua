-- extruct.csv on its own: RFC 4180 reading and writing, line numbers in
-- errors, and round trips of awkward fields.
local csv = require("extruct.csv")
local extruct = require("extruct")

local function parse_ok(text)
  local records, lines = csv.parse(text)
  assert.is_table(records, lines and tostring(lines))
  return records, lines
end

local function parse_error(text)
  local records, err = csv.parse(text)
  assert.is_nil(records)
  assert.is_true(extruct.is_error(err))
  assert.equal("decode", err.kind)
  assert.matches("^line " .. err.line .. ": ", err.message)
  return err
end

describe("extruct.csv.parse", function()
  it("reads plain records and their line numbers", function()
    local records, lines = parse_ok("key,name\nacme.com,Acme\nglobex.com,Globex\n")
    assert.same({ { "key", "name" }, { "acme.com", "Acme" }, { "globex.com", "Globex" } }, records)
    assert.same({ 1, 2, 3 }, lines)
  end)

  it("needs no line break after the last record", function()
    assert.same({ { "a", "b" }, { "1", "2" } }, (parse_ok("a,b\n1,2")))
  end)

  it("reads CRLF and LF line endings, also mixed", function()
    assert.same({ { "a", "b" }, { "1", "2" }, { "3", "4" } }, (parse_ok("a,b\r\n1,2\n3,4\r\n")))
    -- the CR of a CRLF is not part of the last field
    assert.same({ { "a" }, { "x" } }, (parse_ok("a\r\nx\r\n")))
  end)

  it("ignores a UTF-8 byte order mark at the start, and only there", function()
    local records = parse_ok("\239\187\191key,name\nacme.com,Café\n")
    assert.same({ "key", "name" }, records[1])
    assert.same({ "acme.com", "Café" }, records[2])
    -- elsewhere it is data
    assert.same({ { "a" }, { "\239\187\191b" } }, (parse_ok("a\n\239\187\191b\n")))
  end)

  it("reads quoted fields with commas, doubled quotes and line breaks", function()
    local text = 'key,note\n"a,b","He said ""hi"""\n"multi\nline\r\nfield",""\nlast,"x"\n'
    local records, lines = parse_ok(text)
    assert.same({
      { "key", "note" },
      { "a,b", 'He said "hi"' },
      { "multi\nline\r\nfield", "" },
      { "last", "x" },
    }, records)
    -- a record starts on the line after the breaks inside the previous one
    assert.same({ 1, 2, 3, 6 }, lines)
  end)

  it("keeps empty fields, including a last one after a final comma", function()
    assert.same({ { "a", "b", "c" }, { "", "", "" }, { "1", "", "" } }, (parse_ok("a,b,c\n,,\n1,,")))
  end)

  it("skips empty lines between records, counting them for line numbers", function()
    local records, lines = parse_ok("a,b\n\n1,2\r\n\r\n\n3,4\n\n")
    assert.same({ { "a", "b" }, { "1", "2" }, { "3", "4" } }, records)
    assert.same({ 1, 3, 6 }, lines)
  end)

  it("gives no records for empty text or only line breaks", function()
    assert.same({}, (parse_ok("")))
    assert.same({}, (parse_ok("\n\r\n")))
    assert.same({}, (parse_ok("\239\187\191")))
  end)

  it("keeps spaces and a lone CR inside unquoted fields", function()
    assert.same({ { " a ", "b\rc" } }, (parse_ok(" a ,b\rc\n")))
  end)

  it("rejects a record with more or fewer fields than the first, naming its line", function()
    local err = parse_error("a,b,c\n1,2,3\n4,5\n")
    assert.equal(3, err.line)
    assert.matches("2 fields, but the first record %(line 1%) has 3", err.message)

    err = parse_error('a,b\n"x\ny",2\n1,2,3\n')
    assert.equal(4, err.line)
    assert.matches("3 fields", err.message)

    err = parse_error("\n\na\nb,c\n")
    assert.equal(4, err.line)
    assert.matches("2 fields, but the first record %(line 3%) has 1", err.message)
  end)

  it("rejects a quoted field that is never closed, naming the line it opens on", function()
    local err = parse_error('a,b\n1,2\n3,"open\nstill open\n')
    assert.equal(3, err.line)
    assert.matches("never closed", err.message)
  end)

  it("rejects text after a closing quote", function()
    local err = parse_error('a,b\n"x\ny"z,2\n')
    assert.equal(3, err.line)
    assert.matches("after the closing quote", err.message)
    assert.equal(1, parse_error('"a" ,b\n').line)
    assert.equal(1, parse_error('"a"\rb\n').line)
  end)

  it("rejects a quote inside an unquoted field", function()
    local err = parse_error('a,b\n1,2\n3,ab"c\n')
    assert.equal(3, err.line)
    assert.matches("a quote inside a field", err.message)
  end)

  it("raises on a non-string argument", function()
    assert.has_error(function() csv.parse(nil) end, "extruct.csv.parse: expected a string, got nil")
  end)
end)

describe("extruct.csv.format_record", function()
  it("quotes only the fields that need it", function()
    assert.equal("a,b c,,1.5\n", csv.format_record{ "a", "b c", "", "1.5" })
    assert.equal('"a,b","say ""hi""","two\nlines","cr\r",plain\n',
      csv.format_record{ "a,b", 'say "hi"', "two\nlines", "cr\r", "plain" })
  end)

  it("writes nil and false as empty fields, trailing ones too when given n", function()
    assert.equal("a,,c,,\n", csv.format_record({ "a", nil, "c", false }, 5))
  end)

  it("raises on a field that is not a string", function()
    assert.has_error(function() csv.format_record{ "a", 2 } end,
      "extruct.csv.format_record: field 2 must be a string, got number")
  end)

  it("round trips awkward fields through parse", function()
    local awkward = {
      { "key", "value", "note" },
      { "", '"', '""' },
      { ",", "a,b,c", " leading and trailing " },
      { "line\nbreak", "crlf\r\ninside", "\r" },
      { "Démo — café", "\239\187\191not a BOM here", "tab\there" },
      { '"quoted"', 'end"', '"start' },
    }
    local lf, crlf = {}, {}
    for i, record in ipairs(awkward) do
      lf[i] = csv.format_record(record)
      crlf[i] = lf[i]:sub(1, -2) .. "\r\n" -- as spreadsheets end their records
    end
    assert.same(awkward, (parse_ok(table.concat(lf))))
    assert.same(awkward, (parse_ok(table.concat(crlf))))
  end)

  it("writes a lone empty field as \"\", so that reading it back does not skip it", function()
    assert.equal('""\n', csv.format_record{ "" })
    assert.equal('""\n', csv.format_record({}, 1))
    assert.same({ { "key" }, { "" }, { "x" } },
      (parse_ok(csv.format_record{ "key" } .. csv.format_record{ "" } .. csv.format_record{ "x" })))
  end)

  it("round trips random fields drawn from the characters that matter", function()
    local alphabet = { "a", "b", ",", '"', "\n", "\r", " ", "é" }
    local seed = 12345
    local function random(n) -- Park-Miller: the same cases on every Lua
      seed = seed * 16807 % 2147483647 -- exact in doubles too
      return seed % n + 1
    end
    for _ = 1, 300 do
      local width = random(4)
      local records = {}
      for r = 1, random(4) do
        local record = {}
        for f = 1, width do
          local chars = {}
          for c = 1, random(6) - 1 do chars[c] = alphabet[random(#alphabet)] end
          record[f] = table.concat(chars)
        end
        records[r] = record
      end
      local text = {}
      for i, record in ipairs(records) do text[i] = csv.format_record(record) end
      local back, err = csv.parse(table.concat(text))
      assert.is_table(back, tostring(err) .. ": " .. table.concat(text))
      assert.same(records, back)
    end
  end)
end)

describe("docs/api.md's extruct.csv example", function()
  it("runs as written: a record with a quote, a comma and a line break, written and read back", function()
    local helpers = require("spec.helpers")
    local block = helpers.read_file("docs/api.md"):match("\n### `extruct%.csv%.format_record`\n.-\n```lua\n(.-)```\n")
    assert.truthy(block)
    local out, status = helpers.run_lua("", block, 30)
    assert.equal(0, status, out)
    assert.equal('id,note\nrow_1,"say ""hi"", twice\nthen stop"\n', out)
  end)
end)
