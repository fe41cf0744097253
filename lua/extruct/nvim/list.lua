-- Aligned lists of things (companies, Deep Search results): a line of
-- titles, a rule, one line per item; and the buffer keys they share.

local text = require("extruct.nvim.text")

local M = {}

local SEPARATOR = "  "

--- Appends the list to lines/highlights. columns = { { title, get(item) ->
--- text, width (at most), right (align right) } }. Returns the 1-based line
--- of the first item.
function M.render(lines, highlights, columns, items)
  local widths = {}
  local cells = {}
  for j, column in ipairs(columns) do
    local w = text.width(column.title)
    for i, item in ipairs(items) do
      cells[i] = cells[i] or {}
      local value = text.inline(column.get(item))
      cells[i][j] = value
      w = math.max(w, text.width(value))
    end
    widths[j] = math.min(w, column.width or 40)
  end
  local function line(values)
    local parts = {}
    for j, column in ipairs(columns) do
      parts[j] = column.right and text.right(values[j], widths[j]) or text.fit(values[j], widths[j])
    end
    return (table.concat(parts, SEPARATOR):gsub("%s+$", ""))
  end
  local titles, rule = {}, {}
  for j, column in ipairs(columns) do
    titles[j] = column.title
    rule[j] = ("─"):rep(widths[j])
  end
  highlights[#highlights + 1] = { #lines, 0, -1, "ExtructColumnTitle" }
  lines[#lines + 1] = line(titles)
  highlights[#highlights + 1] = { #lines, 0, -1, "ExtructDim" }
  lines[#lines + 1] = table.concat(rule, SEPARATOR)
  local first = #lines + 1
  for i = 1, #items do lines[#lines + 1] = line(cells[i]) end
  return first
end

return M
