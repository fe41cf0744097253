--- extruct.cli.input: the files commands read (`-` is standard input): a
--- JSON object, or rows as JSON lines, a JSON array or CSV. Everything is
--- read and checked before a command sends anything; a problem is a usage
--- error that names the file and the line.

local csv = require("extruct.csv")
local plain_text = require("extruct.text")

local M = {}

local function source_name(path)
  return path == "-" and "standard input" or path
end

local function input_error(ctx, path, line, message)
  local where = source_name(path) .. (line and (", line %d"):format(line) or "")
  ctx:usage_error(("%s: %s"):format(where, message))
end

--- The whole of FILE (`-`: standard input).
function M.read(ctx, path)
  local text, why
  if path == "-" then
    text, why = ctx.sys.stdin:read("*a")
  else
    local file, open_why = io.open(path, "rb")
    if not file then ctx:usage_error(("cannot read %s"):format(open_why)) end
    text, why = file:read("*a")
    file:close()
  end
  if not text then
    ctx:usage_error(("cannot read %s: %s"):format(source_name(path), tostring(why)))
  end
  return text
end

local BOM = "\239\187\191"

local function strip_bom(text)
  if text:sub(1, 3) == BOM then return text:sub(4) end
  return text
end

--- The domains of FILE, one a line: blanks around each dropped, blank lines
--- and lines starting with `#` skipped, each a domain or URL as
--- extruct.domains reads it (a line that is not names the file and line).
--- Returns them as written; duplicates stay (the count is the caller's).
function M.domain_lines(ctx, path)
  local domains = require("extruct.domains")
  local text = strip_bom(M.read(ctx, path))
  local list, line = {}, 0
  for raw in (text .. "\n"):gmatch("([^\n]*)\n") do
    line = line + 1
    local entry = plain_text.trim(raw)
    if entry ~= "" and entry:sub(1, 1) ~= "#" then
      local _, why = domains.registered(entry)
      if why then
        input_error(ctx, path, line, ("'%s' is not a domain or URL: %s"):format(entry:gsub("%c", "?"):sub(1, 100), why))
      end
      list[#list + 1] = entry
    end
  end
  return list
end

local function is_object(extruct, value)
  return type(value) == "table" and getmetatable(value) ~= extruct.array_mt
end

local function json_type(extruct, value)
  if value == extruct.null then return "null" end
  if type(value) == "table" then return getmetatable(value) == extruct.array_mt and "an array" or "an object" end
  if type(value) == "string" then return "a string" end
  return ("a %s"):format(type(value))
end

-- The line of a byte offset in text, from a decode error "... at byte N ...".
local function line_of_error(text, err)
  local byte = tonumber(tostring(err.message):match("at byte (%d+)") or "")
  if not byte then return nil end
  return select(2, text:sub(1, byte - 1):gsub("\n", "")) + 1
end

--- FILE as one JSON object; `what` names it in messages ("the table's spec").
function M.json_object(ctx, path, what)
  local extruct = ctx.extruct
  local text = strip_bom(M.read(ctx, path))
  local value, err = extruct.decode(text)
  if value == nil then
    input_error(ctx, path, line_of_error(text, err), "not valid JSON: " .. err.message)
  end
  if not is_object(extruct, value) then
    input_error(ctx, path, nil, ("%s must be a JSON object, not %s"):format(what, json_type(extruct, value)))
  end
  return value
end

local function row_problem(extruct, value)
  if not is_object(extruct, value) then
    return ("a row must be a JSON object, not %s"):format(json_type(extruct, value))
  end
  if value.data ~= nil and is_object(extruct, value.data) then
    local metadata = value.metadata
    if metadata ~= nil and metadata ~= extruct.null and not is_object(extruct, metadata) then
      return ("the row's metadata must be an object, not %s"):format(json_type(extruct, metadata))
    end
  end
  return nil
end

-- A row of an update, { id, data, metadata }: a row object keeps its
-- fields; in a plain map, `id` is the row's id and the rest its data. An
-- absent or null id leaves the row without one (the API creates it).
-- Returns the row, or nil and what is wrong with it.
local function row_with_id(extruct, value)
  local row = value
  if not (value.data ~= nil and is_object(extruct, value.data)) then
    local data = {}
    for key, item in pairs(value) do
      if key ~= "id" then data[key] = item end
    end
    row = { id = value.id, data = data }
  end
  if row.id == extruct.null then row.id = nil end
  if row.id ~= nil and not (type(row.id) == "string" and row.id ~= "") then
    return nil, ("the row's id must be a non-empty string, not %s"):format(
      row.id == "" and "an empty one" or json_type(extruct, row.id))
  end
  return row
end

-- Rows from JSON lines, or from one JSON array when the input starts with `[`.
local function json_rows(ctx, text, path, with_ids)
  local extruct = ctx.extruct
  text = strip_bom(text)
  local rows = {}
  if text:find("^%s*%[") then
    local value, err = extruct.decode(text)
    if value == nil then
      input_error(ctx, path, line_of_error(text, err), "not valid JSON: " .. err.message)
    end
    if getmetatable(value) ~= extruct.array_mt then
      input_error(ctx, path, nil, "expected a JSON array of rows")
    end
    for i, row in ipairs(value) do
      local problem = row_problem(extruct, row)
      if not problem and with_ids then row, problem = row_with_id(extruct, row) end
      if problem then input_error(ctx, path, nil, ("item %d of the array: %s"):format(i, problem)) end
      rows[i] = row
    end
    return rows
  end
  local line = 0
  for line_text in (text .. "\n"):gmatch("([^\n]*)\n") do
    line = line + 1
    if line_text:find("%S") then
      local value, err = extruct.decode(line_text)
      if value == nil then
        input_error(ctx, path, line, "not valid JSON: " .. err.message)
      end
      local problem = row_problem(extruct, value)
      if not problem and with_ids then value, problem = row_with_id(extruct, value) end
      if problem then input_error(ctx, path, line, problem) end
      rows[#rows + 1] = value
    end
  end
  return rows
end

-- Rows from CSV: the header names the column keys; an empty field leaves
-- the cell out. with_ids: a header field `id` holds the row's id instead.
local function csv_rows(ctx, text, path, with_ids)
  local records, lines_or_err = csv.parse(text)
  if not records then
    input_error(ctx, path, lines_or_err.line, (lines_or_err.message:gsub("^line %d+: ", "")))
  end
  local rows, header = {}, records[1]
  if not header then return rows end
  local seen = {}
  for i, key in ipairs(header) do
    if key == "" then
      input_error(ctx, path, lines_or_err[1], ("the header's field %d is empty: it must name a column key"):format(i))
    end
    if seen[key] then
      input_error(ctx, path, lines_or_err[1], ("the header names the column key '%s' twice"):format(key))
    end
    seen[key] = true
  end
  for r = 2, #records do
    local row = {}
    for i, value in ipairs(records[r]) do
      if value ~= "" then row[header[i]] = value end
    end
    if with_ids then
      local id = row.id
      row.id = nil
      row = { id = id, data = row }
    end
    rows[#rows + 1] = row
  end
  return rows
end

local FORMAT_BY_EXTENSION = { csv = "csv", jsonl = "jsonl", ndjson = "jsonl", json = "jsonl" }

--- The format of rows in FILE: `format` when given, else the extension's.
function M.rows_format(ctx, format, path)
  if format then return format end
  local extension = path ~= "-" and path:match("%.([%w]+)$")
  format = extension and FORMAT_BY_EXTENSION[extension:lower()]
  if not format then
    ctx:usage_error(("cannot tell the format of %s from %s: pass --format jsonl or --format csv"):format(
      source_name(path), path == "-" and "its name" or "its extension"))
  end
  return format
end

--- The rows of FILE, in `format` ("jsonl" or "csv"), checked. with_ids:
--- rows for an update, each { id = row id or nil, data, metadata }, the id
--- from a row object's `id`, a plain map's `id` or a CSV column `id`.
function M.rows(ctx, path, format, with_ids)
  local text = M.read(ctx, path)
  if format == "csv" then return csv_rows(ctx, text, path, with_ids) end
  return json_rows(ctx, text, path, with_ids)
end

--- FILE as a JSON object, or a JSON array of objects (a list of them);
--- `what` names one in messages ("a column's config").
function M.json_objects(ctx, path, what)
  local extruct = ctx.extruct
  local text = strip_bom(M.read(ctx, path))
  local value, err = extruct.decode(text)
  if value == nil then
    input_error(ctx, path, line_of_error(text, err), "not valid JSON: " .. err.message)
  end
  if is_object(extruct, value) then return { value } end
  if getmetatable(value) ~= extruct.array_mt then
    input_error(ctx, path, nil, ("expected %s (a JSON object) or an array of them, not %s"):format(what,
      json_type(extruct, value)))
  end
  if #value == 0 then input_error(ctx, path, nil, ("the array is empty: it must hold at least one (%s)"):format(what)) end
  for i, item in ipairs(value) do
    if not is_object(extruct, item) then
      input_error(ctx, path, nil, ("item %d of the array: %s must be a JSON object, not %s"):format(i, what,
        json_type(extruct, item)))
    end
  end
  return value
end

return M
