-- Reading a row's cells (extruct.cell) and keeping only some of them
-- (the `columns` option of get_table_data and iter_rows).

local core = require("extruct.core")
local endpoint = require("extruct.endpoint")
local errors = require("extruct.errors")

local null, array_mt = core.null, core.array_mt

local M = {}

local function absent(v)
  return v == nil or v == null
end

-- A cell's sources: `sources` as Extruct's own scripts read it, or `source`
-- as its n8n node documents it.
local function sources_of(value)
  if type(value.sources) == "table" then return value.sources end
  if type(value.source) == "table" then return value.source end
  return nil
end

--- A cell of a row: answer, status, sources, explanation.
--- row is a row from /data or get_row (or its `data` map). An output cell
--- { status, value = { answer, sources (or source), explanation } } gives
--- its parts; a plain value (an input cell) is its own answer, with no
--- status; a missing cell or a JSON null gives nil.
---@param row table A row (from get_table_data, iter_rows or get_row) or its `data` map
---@param key string The column's key
---@return any answer The answer (nil for a missing cell, or one not answered yet)
---@return string? status One of "done", "failed", "requested"...; nil for an input cell
---@return table? sources The answer's sources, when the cell has them
---@return string? explanation The answer's explanation, when the cell has one
function M.cell(row, key)
  if type(row) ~= "table" then
    endpoint.misuse("extruct.cell: expected a row (a table), got " .. type(row))
  end
  if type(key) ~= "string" then
    endpoint.misuse("extruct.cell: expected a column key (a string), got " .. type(key))
  end
  local data = type(row.data) == "table" and row.data or row
  return M.parts(data[key])
end

--- The parts of one cell value (what a row's `data` holds under a key), as
--- M.cell gives them: answer, status, sources, explanation.
---@param cell any
---@return any answer
---@return string? status
---@return table? sources
---@return string? explanation
function M.parts(cell)
  if absent(cell) then return nil end
  if type(cell) ~= "table" or getmetatable(cell) == array_mt or (cell.status == nil and cell.value == nil) then
    return cell -- a plain value
  end
  local status = type(cell.status) == "string" and cell.status or nil
  local value = cell.value
  if absent(value) then return nil, status end
  if type(value) ~= "table" or getmetatable(value) == array_mt or value.answer == nil then
    return value, status -- an answer without the usual wrapping
  end
  local explanation = type(value.explanation) == "string" and value.explanation or nil
  local answer = value.answer
  if answer == null then answer = nil end
  return answer, status, sources_of(value), explanation
end

--- Raises unless keys is a non-empty list of non-empty strings.
function M.check_keys(keys, where)
  local ok = type(keys) == "table" and keys[1] ~= nil
  if ok then
    local n = 0
    for _, key in pairs(keys) do
      n = n + 1
      if type(key) ~= "string" or key == "" then ok = false end
    end
    ok = ok and n == #keys
  end
  if not ok then
    endpoint.misuse(("extruct.%s: option 'columns' must be a non-empty list of column keys (strings)"):format(where))
  end
end

-- The column keys of a /data page: those of its `columns` headers, else
-- (a page without them) those its rows hold; in their order, once each.
local function valid_keys(page, rows)
  local keys, seen = {}, {}
  local function add(key)
    if type(key) == "string" and not seen[key] then
      seen[key] = true
      keys[#keys + 1] = key
    end
  end
  if type(page.columns) == "table" then
    for _, column in ipairs(page.columns) do
      if type(column) == "table" and type(column.config) == "table" then add(column.config.key) end
    end
  end
  if #keys == 0 then
    for _, row in ipairs(rows) do
      if type(row) == "table" and type(row.data) == "table" then
        local row_keys = {}
        for key in pairs(row.data) do row_keys[#row_keys + 1] = key end
        table.sort(row_keys, function(a, b) return tostring(a) < tostring(b) end)
        for _, key in ipairs(row_keys) do add(key) end
      end
    end
  end
  return keys, seen
end

--- Keeps only the cells of `keys` in the rows of a /data page (each row's
--- `data`; the rest of the page as it came). Returns the page, or nil and a
--- "validation" error naming the keys the table does not have and listing
--- those it has (err.valid_columns). A page that names no columns and holds
--- no rows gives nothing to check against, and is returned as it is.
function M.project(page, keys, id)
  local rows = type(page.rows) == "table" and page.rows or {}
  local valid, is_valid = valid_keys(page, rows)
  if #valid == 0 then return page end
  local unknown = {}
  for _, key in ipairs(keys) do
    if not is_valid[key] then unknown[#unknown + 1] = "'" .. errors.show(key) .. "'" end
  end
  if #unknown > 0 then
    local shown = {}
    for i, key in ipairs(valid) do shown[i] = errors.show(key) end
    return nil, errors.new("validation", ("table '%s' has no column%s %s; its column keys are: %s"):format(
      errors.show(id), #unknown == 1 and "" or "s", table.concat(unknown, ", "), table.concat(shown, ", ")),
      { valid_columns = endpoint.list(valid) })
  end
  for _, row in ipairs(rows) do
    if type(row) == "table" and type(row.data) == "table" then
      local kept = {}
      for _, key in ipairs(keys) do kept[key] = row.data[key] end
      row.data = kept
    end
  end
  return page
end

return M
