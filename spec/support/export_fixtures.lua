-- What the export specs share (spec/export_spec.lua for SQLite and the
-- command line, spec/integration/export_postgres_spec.lua for a PostgreSQL
-- server of their own): the fixture tables' keys, hostile column keys,
-- values and table names, and small readers of an export's outcome.
local assert = require("luassert")
local extruct = require("extruct")

local M = {}

function M.hex(s)
  return (s:gsub(".", function(c) return ("%02X"):format(c:byte()) end))
end

function M.without_seconds(summary)
  assert.is_number(summary.seconds)
  assert.is_true(summary.seconds >= 0)
  local copy = {}
  for k, v in pairs(summary) do copy[k] = v end
  copy.seconds = nil
  return copy
end

-- The input values of table id, by row id, as the API gives them.
function M.inputs_of(client, id, key)
  local found_rows = {}
  for row, err in client:iter_rows(id) do
    assert(row, err)
    found_rows[#found_rows + 1] = { row.id, extruct.cell(row, key) }
  end
  table.sort(found_rows, function(a, b) return a[1] < b[1] end)
  return found_rows
end

-- The fixture tables' column keys, in their order.
M.FIXTURE_KEYS = { "input", "summary", "enterprise_fit", "decision_makers", "discovery_scores", "company_name",
                   "company_website", "company_profile", "work_email", "phone", "linkedin_from_email" }

-- Column keys and values that try to leave their quotes, or that SQL
-- names cannot hold as they are.
M.LONG_KEY = ("k"):rep(70) .. "é" .. ("z"):rep(10)
M.HOSTILE_COLUMNS = {
  { key = 'quo"te', name = 'quo"te' },
  { key = "x'); DROP TABLE extruct_cells; --", name = "x'); DROP TABLE extruct_cells; --" },
  { key = "semi;colon", name = "semi;colon" },
  { key = "what?", name = "what?" },
  { key = "back\\slash", name = "back\\slash" },
  { key = "nul\0byte", name = "nul_byte" },
  { key = M.LONG_KEY, name = ("k"):rep(63) },
  { key = "ROW_ID", name = "ROW_ID_2" },
  { key = "Name", name = "Name" },
  { key = "name", name = "name_2" },
  { key = "ünï", name = "ünï" },
}
M.HOSTILE_VALUES = {
  'say "hi"', "O'Brien'); DELETE FROM extruct_rows; --", "a;b", "who?", "C:\\path", "x\0y", ("v"):rep(5000),
  "1", "line\nbreak", "", "émoji 😀",
}
M.HOSTILE_TABLE = 't"; DROP TABLE extruct_cells; --?'

-- A table of HOSTILE_COLUMNS (inputs) with two rows of HOSTILE_VALUES (the
-- second with "!" after each), made by requests of the spec's own: the
-- client's encoder refuses a NUL byte in an object key, lua-cjson does not.
function M.hostile_table(mock)
  local cjson = require("cjson")
  local configs, data = {}, {}
  for i, column in ipairs(M.HOSTILE_COLUMNS) do
    configs[i] = { kind = "input", name = "Column " .. i, key = column.key }
    data[column.key] = M.HOSTILE_VALUES[i]
  end
  local second = {}
  for key, value in pairs(data) do second[key] = value .. "!" end
  local headers = { authorization = "Bearer " .. mock.token, ["content-type"] = "application/json" }
  local function post(path, body)
    local text = cjson.encode(body)
    headers["content-length"] = tostring(#text)
    local status, answer = mock:http("POST", path, headers, text)
    assert(status == 200, answer)
    return cjson.decode(answer)
  end
  local t = post("/v1/tables", { name = "Hostile", kind = "generic", column_configs = configs })
  post("/v1/tables/" .. t.id .. "/rows", { rows = { { data = data }, { data = second } } })
  return t.id
end

return M
