--- extruct.csv: comma-separated values (RFC 4180), read and written in pure Lua.
--
--   local records, lines = csv.parse(text)   -- or nil, err (kind "decode", err.line)
--   io.write(csv.format_record({ "a", "b,c", 'say "hi"' }))   --> a,"b,c","say ""hi"""\n
--
-- Reading accepts what spreadsheets and RFC 4180 writers produce: fields in
-- double quotes may hold commas, doubled quotes and line breaks; records end
-- with CRLF or LF (the last one may have none); a UTF-8 byte order mark at
-- the start is ignored, and so are empty lines between records. Every record
-- must have as many fields as the first, so a lost or extra comma is an error
-- that names its line rather than a silently shifted value.

local errors = require("extruct.errors")

local M = {}

local BOM = "\239\187\191"

local function count_newlines(text)
  return select(2, text:gsub("\n", ""))
end

local function failure(line, message)
  return nil, errors.new("decode", ("line %d: %s"):format(line, message), { line = line })
end

--- Parses CSV text into records: a list of lists of strings. The second
--- result lists the line each record starts on (1-based, counting the line
--- breaks inside quoted fields), for messages about the records. On
--- malformed text: nil and an error of kind "decode" whose `line` field and
--- message name the line.
---@param text string CSV text
---@return string[][]|nil records The records, each a list of fields
---@return integer[]|extruct.Error lines The line each record starts on; or the error
function M.parse(text)
  if type(text) ~= "string" then
    error("extruct.csv.parse: expected a string, got " .. type(text), 2)
  end
  local records, starts = {}, {}
  local pos, len, line = 1, #text, 1
  if text:sub(1, 3) == BOM then pos = 4 end
  local width -- fields in the first record

  while pos <= len do
    local first = text:byte(pos)
    if first == 10 then -- an empty line
      pos, line = pos + 1, line + 1
    elseif first == 13 and text:byte(pos + 1) == 10 then
      pos, line = pos + 2, line + 1
    else
      local record, record_line = {}, line
      while true do -- one field, and the separator after it
        local field, stop
        if text:byte(pos) == 34 then -- a quoted field
          local parts, from, open_line = {}, pos + 1, line
          while true do
            local quote = text:find('"', from, true)
            if not quote then
              return failure(open_line, "a quoted field is never closed (a missing '\"'?)")
            end
            parts[#parts + 1] = text:sub(from, quote - 1)
            if text:byte(quote + 1) == 34 then -- a doubled quote stands for one
              parts[#parts + 1] = '"'
              from = quote + 2
            else
              pos = quote + 1
              break
            end
          end
          field = table.concat(parts)
          line = line + count_newlines(field)
          stop = text:byte(pos)
          if stop == 13 and text:byte(pos + 1) == 10 then
            pos, stop = pos + 1, 10
          end
          if stop ~= nil and stop ~= 44 and stop ~= 10 then
            return failure(line, "text after the closing quote of a field (a quote inside a quoted field"
              .. " must be doubled: \"\")")
          end
        else
          local at = text:find('[,\n"]', pos)
          if at and text:byte(at) == 34 then
            return failure(line, "a quote inside a field that does not start with one (quote the whole"
              .. " field and double the quote: \"say \"\"hi\"\"\")")
          end
          field = text:sub(pos, (at or len + 1) - 1)
          stop = at and text:byte(at)
          if stop == 10 and field:sub(-1) == "\r" then field = field:sub(1, -2) end
          pos = at or len + 1
        end
        record[#record + 1] = field
        pos = pos + 1 -- past the separator (or past the end)
        if stop ~= 44 then
          if stop == 10 then line = line + 1 end
          break
        end
        -- a comma at the very end of the text still opens one last, empty field
      end
      width = width or #record
      if #record ~= width then
        return failure(record_line, ("%d field%s, but the first record (line %d) has %d"):format(
          #record, #record == 1 and "" or "s", starts[1] or record_line, width))
      end
      records[#records + 1] = record
      starts[#starts + 1] = record_line
    end
  end
  return records, starts
end

--- One field as CSV: quoted when it holds a comma, a quote or a line break
--- (quotes doubled), as it is otherwise.
---@param field string
---@return string text
function M.quote(field)
  if field:find('[,"\r\n]') then
    return '"' .. field:gsub('"', '""') .. '"'
  end
  return field
end

--- One record as a line of CSV text, ending with "\n". fields: a list of
--- strings; n (default #fields) the number of fields, so that trailing nils
--- count: nil and false are written as empty fields.
---@param fields (string|false)[] The fields
---@param n? integer How many fields (default #fields)
---@return string line
function M.format_record(fields, n)
  if type(fields) ~= "table" then
    error("extruct.csv.format_record: expected a list of fields, got " .. type(fields), 2)
  end
  n = n or #fields
  if n == 1 and (fields[1] == "" or not fields[1]) then
    return '""\n' -- an empty line would be skipped when read back
  end
  local out = {}
  for i = 1, n do
    local field = fields[i]
    if field == nil or field == false then
      out[i] = ""
    elseif type(field) == "string" then
      out[i] = M.quote(field)
    else
      error(("extruct.csv.format_record: field %d must be a string, got %s"):format(i, type(field)), 2)
    end
  end
  return table.concat(out, ",") .. "\n"
end

return M
