-- What the commands make of the client's answers, run in-process against a
-- stand-in client: an answer of `true` (the API sent no body) still ends in
-- exit status 0, with the line the command prints or, where JSON was asked
-- for, nothing on stdout and a word on stderr; and the options that shape
-- the client (--request-timeout) reach extruct.new.
local support = require("spec.support.cli")
local extruct = require("extruct")

local ENV = { EXTRUCT_API_TOKEN = "stand-in-token" }

describe("extruct commands on body-less answers", function()
  local work, remove_work = support.scratch()
  lazy_teardown(function() remove_work(".json", ".csv") end)

  local real_new, made, calls
  before_each(function()
    real_new, made, calls = extruct.new, nil, {}
    -- every method answers true, as the client does for a 204 or an empty body
    local stand_in = setmetatable({}, { __index = function(_, name)
      return function(_, ...)
        calls[#calls + 1] = { name = name, args = { ... } }
        return true
      end
    end })
    extruct.new = function(opts)
      made = opts
      return stand_in
    end
  end)
  after_each(function() extruct.new = real_new end)

  local function run(argv)
    return support.main(argv, ENV)
  end

  it("changes print their line on stdout and exit 0", function()
    local config = work .. ".json"
    local file = assert(io.open(config, "wb"))
    assert(file:write('{"kind": "input", "name": "Source", "key": "source"}'))
    file:close()
    local cases = {
      { argv = { "tables", "delete", "tbl_1", "--yes" }, out = "deleted tbl_1\n", method = "delete_table" },
      { argv = { "tables", "update", "tbl_1", "--name", "New" }, out = "updated New (tbl_1)\n",
        method = "update_table" },
      { argv = { "rows", "delete", "tbl_1", "r1", "r2", "--yes" }, out = "deleted 2 rows from tbl_1\n",
        method = "delete_rows" },
      { argv = { "columns", "update", "tbl_1", "col_1", config }, out = "updated column Source (col_1)\n",
        method = "update_column" },
      { argv = { "columns", "delete", "tbl_1", "col_1", "--yes" }, out = "deleted column col_1\n",
        method = "delete_column" },
    }
    for _, case in ipairs(cases) do
      calls = {}
      local out, err, status = run(case.argv)
      assert.equal(0, status, table.concat(case.argv, " ") .. ": " .. err)
      assert.equal(case.out, out)
      assert.equal("", err)
      assert.equal(case.method, calls[1].name)
    end
  end)

  it("with --json, stdout stays empty and stderr says the API sent no body", function()
    for _, argv in ipairs{
      { "tables", "delete", "tbl_1", "--yes", "--json" },
      { "tables", "update", "tbl_1", "--tag", "a", "--json" },
      { "rows", "delete", "tbl_1", "r1", "--yes", "--json" },
      { "columns", "delete", "tbl_1", "col_1", "--yes", "--json" },
    } do
      local out, err, status = run(argv)
      assert.equal(0, status, err)
      assert.equal("", out)
      assert.matches("^extruct: [^\n]*the API answered without a body[^\n]*\n$", err)
    end
  end)

  it("rows add and update count the rows sent; --json says which could not be printed", function()
    local rows = work .. ".csv"
    local file = assert(io.open(rows, "wb"))
    assert(file:write("id,company\nr1,acme.com\n,globex.com\n"))
    file:close()
    local out, err, status = run{ "rows", "add", "tbl_1", rows }
    assert.equal(0, status, err)
    assert.equal("added 2 rows to tbl_1\n", out)
    out, err, status = run{ "rows", "update", "tbl_1", rows }
    assert.equal(0, status, err)
    assert.equal("updated 1 row of tbl_1, added 1 row\n", out)
    assert.same({ { id = "r1", data = { company = "acme.com" } }, { data = { company = "globex.com" } } },
      calls[#calls].args[2])
    out, err, status = run{ "rows", "add", "tbl_1", rows, "--json", "--batch", "1" }
    assert.equal(0, status, err)
    assert.equal("", out)
    assert.equal("extruct: 2 of 2 rows are not printed: the API answered without a body\n", err)
  end)

  it("columns add, user and health exit 0 and say on stderr that there was nothing to print", function()
    local config = work .. ".json"
    local file = assert(io.open(config, "wb"))
    assert(file:write('[{"kind": "input", "name": "A", "key": "a"}, {"kind": "input", "name": "B", "key": "b"}]'))
    file:close()
    for _, case in ipairs{
      { argv = { "columns", "add", "tbl_1", config }, says = "added 2 columns to tbl_1" },
      { argv = { "user" }, says = "no user to print" },
      { argv = { "health" }, says = "the API is up" },
    } do
      local out, err, status = run(case.argv)
      assert.equal(0, status, err)
      assert.equal("", out)
      assert.truthy(err:find(case.says, 1, true), err)
    end
  end)

  it("--request-timeout becomes the client's timeout; without it the client's default stands", function()
    local _, err, status = run{ "user", "--request-timeout", "2.5" }
    assert.equal(0, status, err)
    assert.equal(2.5, made.timeout)
    assert.equal("stand-in-token", made.token)
    run{ "health" }
    assert.is_nil(made.timeout)
  end)
end)
