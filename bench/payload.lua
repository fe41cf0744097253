-- Generated JSON in the shape of GET /v1/tables/{id}/data: the table header
-- of spec/support/table.json plus `rows`, each row with ten cells (strings,
-- a number, a boolean, a null and a one-element array). Deterministic, so
-- every run and every interpreter decodes the same bytes.
local M = {}

local function read(path)
  local f = assert(io.open(path, "rb"))
  local text = f:read("*a")
  f:close()
  return text
end

M.header = read("spec/support/table.json")

local STATUSES = { "done", "done", "done", "failed", "requested" }

local function cell(r, c)
  return ('{"status":"%s","value":{"answer":"Company %d sells line %d in %d regions",'
    .. '"explanation":"pricing page, %d","score":%d.%d,"confidence":%d,"verified":%s,"note":null,'
    .. '"sources":["https://example-%d.com/%d"]}}')
    :format(STATUSES[(r + c) % #STATUSES + 1], r, c, (r * 7 + c) % 40 + 1, 2000 + (r + c) % 25,
      (r * 13 + c) % 100, (r + c * 3) % 10, (r * c) % 1000, (r + c) % 2 == 0 and "true" or "false", r, c)
end

local function row(r)
  local cells = {}
  for c = 1, 10 do
    cells[c] = ('"column_%02d":%s'):format(c, cell(r, c))
  end
  return ('{"id":"row_%06d","created_at":"2025-01-15T09:%02d:%02d.000000Z","is_missing_inputs":false,'
    .. '"parent_row_id":null,"data":{%s},"metadata":{"source":"import","batch":%d},"parent_data":null}')
    :format(r, r % 60, (r * 7) % 60, table.concat(cells, ","), r % 17)
end

--- The header with n rows appended (n = 0: the header alone).
function M.table_data(n)
  local rows = {}
  for r = 1, n do rows[r] = row(r) end
  return M.header:sub(1, -2):gsub("%s+$", "") .. ',"rows":[' .. table.concat(rows, ",") .. "]}"
end

return M
