-- Answers as text for the editor: on one line for a grid cell (inline,
-- fit), on several for a floating window (lines), measured in screen cells.

local extruct = require("extruct")

local M = {}

local null, array_mt = extruct.null, extruct.array_mt

--- Screen cells `s` takes.
M.width = vim.api.nvim_strwidth

local function is_array(v)
  if getmetatable(v) == array_mt then return true end
  if next(v) == nil then return false end
  local n = 0
  for _ in pairs(v) do n = n + 1 end
  return n == #v
end

-- An object's keys: the ones that say what it is first, the rest sorted.
local FIRST = { "name", "title", "full_name", "summary", "answer", "value", "role" }
-- (their values speak for themselves: shown without the key)
local TELLING = {}
for _, key in ipairs(FIRST) do TELLING[key] = true end
local function keys_of(object)
  local keys, first = {}, {}
  for _, key in ipairs(FIRST) do
    if object[key] ~= nil then
      keys[#keys + 1] = key
      first[key] = true
    end
  end
  local rest = {}
  for key in pairs(object) do
    if not first[key] then rest[#rest + 1] = key end
  end
  table.sort(rest, function(a, b) return tostring(a) < tostring(b) end)
  for _, key in ipairs(rest) do keys[#keys + 1] = key end
  return keys
end
M.keys_of = keys_of

-- A number as people write it: whole numbers without a fraction.
local function number_text(n)
  if n == math.floor(n) and math.abs(n) < 2 ^ 53 then return ("%d"):format(n) end
  return ("%.10g"):format(n)
end

--- One line of text for a value: text with its control characters made
--- spaces, lists joined by ", ", objects as "key: value" joined by " · "
--- (names, titles and summaries first, without their keys), nothing for null.
--- With `limit`, a list or object stops growing past about `limit` bytes
--- (for a cell that shows only its start).
function M.inline(value, limit)
  if value == nil or value == null then return "" end
  local kind = type(value)
  if kind == "string" then return (value:gsub("%c+", " ")) end
  if kind == "number" then return number_text(value) end
  if kind ~= "table" then return tostring(value) end
  local parts, size = {}, 0
  if is_array(value) then
    for _, item in ipairs(value) do
      local part = M.inline(item, limit)
      parts[#parts + 1] = part
      size = size + #part + 2
      if limit and size > limit then break end
    end
    return table.concat(parts, ", ")
  end
  for _, key in ipairs(keys_of(value)) do
    local part = M.inline(value[key], limit)
    if part ~= "" then
      parts[#parts + 1] = TELLING[key] and part or (tostring(key) .. ": " .. part)
      size = size + #parts[#parts] + 4
      if limit and size > limit then break end
    end
  end
  return table.concat(parts, " · ")
end

local UTF8_CHAR = "[%z\1-\127\194-\244][\128-\191]*"

--- `s` cut to at most `width` screen cells, with "…" where it was cut.
function M.truncate(s, width)
  if M.width(s) <= width then return s end
  if width <= 1 then return width == 1 and "…" or "" end
  if not s:find("[\128-\255]") then return s:sub(1, width - 1) .. "…" end
  -- the longest run of whole characters that fits in width - 1 cells,
  -- found in a few measures (each character takes at least one cell, so
  -- no more than width - 1 of them can fit)
  local ends = {}
  for last in s:gmatch(UTF8_CHAR .. "()") do
    ends[#ends + 1] = last - 1
    if #ends >= width - 1 then break end
  end
  local fits, low, high = 0, 1, #ends
  while low <= high do
    local mid = math.floor((low + high) / 2)
    if M.width(s:sub(1, ends[mid])) <= width - 1 then
      fits, low = mid, mid + 1
    else
      high = mid - 1
    end
  end
  return (fits > 0 and s:sub(1, ends[fits]) or "") .. "…"
end

--- `s` cut or padded with spaces to exactly `width` screen cells.
function M.fit(s, width)
  s = M.truncate(s, width)
  return s .. (" "):rep(width - M.width(s))
end

--- `s` padded on the left to `width` screen cells.
function M.right(s, width)
  s = M.truncate(s, width)
  return (" "):rep(width - M.width(s)) .. s
end

--- A value as lines for reading: text split at its line breaks, objects
--- as `key: value` lines, lists as `- item` lines, nested ones indented.
function M.lines(value, indent, out)
  out = out or {}
  indent = indent or ""
  if value == nil or value == null then
    out[#out + 1] = indent .. "(none)"
  elseif type(value) ~= "table" then
    local text = type(value) == "number" and number_text(value) or tostring(value)
    for line in (text .. "\n"):gmatch("(.-)\r?\n") do out[#out + 1] = indent .. line:gsub("%c", " ") end
  elseif is_array(value) then
    if #value == 0 then out[#out + 1] = indent .. "(none)" end
    for _, item in ipairs(value) do
      if type(item) == "table" and next(item) ~= nil then
        local first = #out + 1
        M.lines(item, indent .. "  ", out)
        out[first] = indent .. "- " .. out[first]:sub(#indent + 3)
      else
        out[#out + 1] = indent .. "- " .. M.inline(item)
      end
    end
  else
    if next(value) == nil then out[#out + 1] = indent .. "(empty)" end
    for _, key in ipairs(keys_of(value)) do
      local item = value[key]
      if type(item) == "table" and next(item) ~= nil then
        out[#out + 1] = indent .. tostring(key) .. ":"
        M.lines(item, indent .. "  ", out)
      elseif type(item) == "string" and item:find("\n") then
        out[#out + 1] = indent .. tostring(key) .. ":"
        M.lines(item, indent .. "  ", out)
      else
        out[#out + 1] = indent .. tostring(key) .. ": " .. M.inline(item)
      end
    end
  end
  return out
end

--- The time of day, for "refreshed 09:30:12".
function M.clock()
  return os.date("%H:%M:%S")
end

--- A bar of `width` cells, filled to `fraction`: the filled part, the rest.
function M.bar(fraction, width)
  local filled = math.floor(math.max(0, math.min(1, fraction)) * width + 0.5)
  return ("█"):rep(filled), ("░"):rep(width - filled)
end

return M
