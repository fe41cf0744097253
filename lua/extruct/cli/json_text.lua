--- extruct.cli.json_text: JSON text as the server sent it, walked without
--- decoding it: re-indented the way `jq .` shows it (two spaces, ": " after
--- a key, `[]` and `{}` for empty ones) with every key, number and escape as
--- received and the keys in the server's order; and the spans of the items
--- of an array in it, so that each item of a page can be shown so too.
---
--- The text is one the core decoded already (valid JSON, or JSON with raw
--- control characters inside strings, as the API sends them); those are
--- written escaped, so that the output is JSON again. Every function reads
--- the text once, in time linear in its length: it comes from the server.

local M = {}

-- How a raw control character inside a string is written.
local ESCAPES = { ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t", ["\b"] = "\\b", ["\f"] = "\\f" }
local function escape_control(c)
  return ESCAPES[c] or ("\\u%04x"):format(c:byte())
end

-- The position just past the string that starts at `at` (its quote), or
-- nil when it does not end.
local function string_end(text, at)
  local pos = at + 1
  while true do
    local stop = text:find('["\\]', pos)
    if not stop then return nil end
    if text:byte(stop) == 34 then return stop + 1 end -- '"'
    pos = stop + 2 -- a backslash and the character it escapes
  end
end

-- The position of the first character at or after `pos` that is not JSON
-- white space.
local function skip_space(text, pos)
  return text:find("[^ \t\r\n]", pos) or #text + 1
end

--- The JSON text `text` (from `first` to `last`, the whole of it by
--- default) re-indented: two spaces a level, or `indent` spaces. Returns
--- the text, or nil when it is not JSON the walk can follow.
function M.reindent(text, first, last, indent)
  first, last = first or 1, last or #text
  local unit = (" "):rep(indent or 2)
  local out, n = {}, 0
  local margins = { [0] = "\n" }
  local function margin(depth)
    local m = margins[depth]
    if not m then
      m = "\n" .. unit:rep(depth)
      margins[depth] = m
    end
    return m
  end
  local depth, pos = 0, skip_space(text, first)
  local closers = {} -- what closes each open level: } or ]
  while pos <= last do
    local c = text:byte(pos)
    if c == 34 then -- a string: as received, raw control characters escaped
      local stop = string_end(text, pos)
      if not stop or stop - 1 > last then return nil end
      n = n + 1
      out[n] = text:sub(pos, stop - 1):gsub("%c", escape_control)
      pos = stop
    elseif c == 123 or c == 91 then -- { or [
      local after = skip_space(text, pos + 1)
      local close = c == 123 and 125 or 93
      if text:byte(after) == close then
        n = n + 1
        out[n] = c == 123 and "{}" or "[]"
        pos = after + 1
      else
        depth = depth + 1
        closers[depth] = close
        n = n + 1
        out[n] = (c == 123 and "{" or "[") .. margin(depth)
        pos = after
      end
    elseif c == 125 or c == 93 then -- } or ]
      if closers[depth] ~= c then return nil end
      depth = depth - 1
      n = n + 1
      out[n] = margin(depth) .. (c == 125 and "}" or "]")
      pos = pos + 1
    elseif c == 44 then -- ,
      n = n + 1
      out[n] = "," .. margin(depth)
      pos = pos + 1
    elseif c == 58 then -- :
      n = n + 1
      out[n] = ": "
      pos = pos + 1
    else -- a number, true, false or null
      local stop = text:find("[ \t\r\n,:%[%]{}\"]", pos) or last + 1
      if stop > last + 1 then stop = last + 1 end
      if stop == pos then return nil end
      n = n + 1
      out[n] = text:sub(pos, stop - 1)
      pos = stop
    end
    pos = skip_space(text, pos)
  end
  if depth ~= 0 then return nil end
  return table.concat(out)
end

-- The position just past the value that starts at `pos`, or nil.
local function value_end(text, pos)
  local c = text:byte(pos)
  if c == 34 then return string_end(text, pos) end
  if c ~= 123 and c ~= 91 then
    local stop = text:find("[ \t\r\n,:%]}]", pos) or #text + 1
    return stop > pos and stop or nil
  end
  local depth = 0
  while true do
    local found = text:find('[%[%]{}"]', pos)
    if not found then return nil end
    local b = text:byte(found)
    if b == 34 then
      pos = string_end(text, found)
      if not pos then return nil end
    else
      depth = depth + ((b == 123 or b == 91) and 1 or -1)
      pos = found + 1
      if depth == 0 then return pos end
    end
  end
end

-- The spans { first, last } of the items of the array starting at `pos`.
local function array_items(text, pos)
  local spans = {}
  pos = skip_space(text, pos + 1)
  if text:byte(pos) == 93 then return spans end
  while true do
    local stop = value_end(text, pos)
    if not stop then return nil end
    spans[#spans + 1] = { pos, stop - 1 }
    pos = skip_space(text, stop)
    local c = text:byte(pos)
    if c == 93 then return spans end
    if c ~= 44 then return nil end
    pos = skip_space(text, pos + 1)
  end
end

--- Where the items of the arrays of `text` are: for a JSON array, the list
--- of the spans { first, last } of its items; for a JSON object, a map of
--- each member whose value is an array to the spans of its items (the
--- member named last wins, as when decoding). nil for anything else.
function M.items(text)
  local pos = skip_space(text, 1)
  local c = text:byte(pos)
  if c == 91 then return array_items(text, pos) end
  if c ~= 123 then return nil end
  local members = {}
  pos = skip_space(text, pos + 1)
  if text:byte(pos) == 125 then return members end
  while true do
    if text:byte(pos) ~= 34 then return nil end
    local key_end = string_end(text, pos)
    if not key_end then return nil end
    local raw_key = text:sub(pos + 1, key_end - 2)
    pos = skip_space(text, key_end)
    if text:byte(pos) ~= 58 then return nil end
    pos = skip_space(text, pos + 1)
    local stop = value_end(text, pos)
    if not stop then return nil end
    -- (keys with escapes are left out: the ones looked for are plain words)
    if text:byte(pos) == 91 and not raw_key:find("\\", 1, true) then
      members[raw_key] = array_items(text, pos)
    end
    pos = skip_space(text, stop)
    local sep = text:byte(pos)
    if sep == 125 then return members end
    if sep ~= 44 then return nil end
    pos = skip_space(text, pos + 1)
  end
end

return M
