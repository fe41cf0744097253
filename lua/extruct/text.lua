--- extruct.text: text from the server, handled in time linear in its length.
---
--- Lua's patterns backtrack, so some read as if linear and are not: the
--- trim `^%s*(.-)%s*$` and the cut `%s+$` try every start of a run of
--- spaces, each to its end, and a run of 60,000 spaces inside a header
--- costs seconds of CPU. These helpers look at each byte once.

local M = {}

-- Where the white space (as %s reads it) at the end of text begins: #text + 1
-- when there is none. Each byte is looked at once, from the end.
local function end_of_content(text)
  local last = #text
  while last > 0 and text:find("^%s", last) do last = last - 1 end
  return last
end

--- text without the white space at its start and end.
---@param text string
---@return string
function M.trim(text)
  local first = text:find("%S")
  if not first then return "" end
  return text:sub(first, end_of_content(text))
end

--- text without the white space at its end.
---@param text string
---@return string
function M.trim_end(text)
  return text:sub(1, end_of_content(text))
end

--- The whole number a header holds (decimal digits, white space around
--- them allowed), or nil for anything else.
---@param value any
---@return number|nil
function M.whole_number(value)
  if type(value) ~= "string" then return nil end
  value = M.trim(value)
  if not value:find("^%d+$") then return nil end
  return tonumber(value)
end

return M
