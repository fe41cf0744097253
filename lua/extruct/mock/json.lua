--- extruct.mock.json: the mock server's own JSON, in pure Lua (the mock
--- needs no C module but luasocket). Runs on Lua 5.1 to 5.4 and LuaJIT.
--
-- Its null and its array marker are the client's (extruct.null, the NULL
-- light userdata that is also cjson.null, and extruct.array_mt) whenever
-- the C core extruct.core loads, so values pass between the mock and the
-- client as they are. Where the core cannot load (not built, or built for
-- another interpreter), the mock still runs, with sentinels of its own.
--
-- Encoding: arrays are tables marked with M.array_mt (see M.array), every
-- other table is an object whose keys come out sorted, M.null is null.
-- Decoding is strict RFC 8259 (what a FastAPI server accepts): objects,
-- arrays (marked with M.array_mt), M.null, numbers, strings with \u escapes
-- (surrogate pairs joined, a lone surrogate refused), valid UTF-8 only,
-- nested at most MAX_DEPTH levels.

local M = {}

local floor, huge = math.floor, math.huge
local format, concat, char, byte = string.format, table.concat, string.char, string.byte

M.MAX_DEPTH = 200

local loaded, core = pcall(require, "extruct.core")
if not (loaded and type(core) == "table" and core.null ~= nil and type(core.array_mt) == "table") then
  core = nil
end

--- Whether null and array_mt are the C core's (the client's) sentinels.
M.shares_core_sentinels = core ~= nil

--- The JSON null: a unique sentinel.
M.null = core and core.null or setmetatable({}, {
  __tostring = function() return "extruct.mock.null" end,
  __newindex = function() error("extruct.mock.null is read-only", 2) end,
})

--- Tables with this metatable encode as JSON arrays; all others as objects,
--- so an empty array ([]) and an empty object ({}) stay distinct.
local array_mt = core and core.array_mt or { __name = "extruct.mock.array" }
M.array_mt = array_mt

--- Marks t (default: a new table) as a JSON array and returns it.
local function array(t)
  return setmetatable(t or {}, array_mt)
end
M.array = array

function M.is_array(v)
  return type(v) == "table" and getmetatable(v) == array_mt
end

--- An object: a table that is neither an array nor null.
function M.is_object(v)
  return type(v) == "table" and v ~= M.null and getmetatable(v) ~= array_mt
end

--- A deep copy of a decoded value: arrays stay arrays, null stays null.
local function copy(v)
  if type(v) ~= "table" or v == M.null then return v end
  local result = setmetatable({}, getmetatable(v))
  for k, x in pairs(v) do result[k] = copy(x) end
  return result
end
M.copy = copy

---------------------------------------------------------------------------
-- Encoder
---------------------------------------------------------------------------

local string_escapes = {
  ['"'] = '\\"', ['\\'] = '\\\\', ['\b'] = '\\b', ['\f'] = '\\f',
  ['\n'] = '\\n', ['\r'] = '\\r', ['\t'] = '\\t',
}

local function escape_char(c)
  return string_escapes[c] or format("\\u%04x", c:byte())
end

-- RFC 8259 string: quote, backslash and control characters escaped; all
-- other bytes (UTF-8 included) pass through unchanged.
local function encode_string(s)
  return '"' .. s:gsub('[%c"\\]', escape_char) .. '"'
end

-- A string whose newlines stay raw bytes inside the JSON string: not JSON
-- (RFC 8259 wants them escaped), but what the real Extruct sends when it
-- echoes a Deep Research brief, and so what a client has to read.
local raw_newlines_mt = { __name = "extruct.mock.raw_newlines" }

--- Wraps a string so that M.encode writes its newlines unescaped.
function M.raw_newlines(s)
  return setmetatable({ text = s }, raw_newlines_mt)
end

local function escape_all_but_newline(c)
  if c == "\n" then return c end
  return escape_char(c)
end

local MAX_EXACT_INTEGER = 2 ^ 53

local function encode_number(n)
  if n ~= n or n == huge or n == -huge then
    error("cannot encode " .. tostring(n) .. " as JSON", 0)
  end
  if math.type and math.type(n) == "integer" then
    return format("%d", n)
  end
  -- Integral floats (every number on Lua 5.1) must not grow a ".0".
  if n == floor(n) and n > -MAX_EXACT_INTEGER and n < MAX_EXACT_INTEGER then
    return format("%d", n)
  end
  -- The shortest form that reads back as the same double.
  for precision = 15, 16 do
    local s = format("%." .. precision .. "g", n)
    if tonumber(s) == n then return s end
  end
  return format("%.17g", n)
end

local encode_value

local function encode_table(t, out, depth)
  if depth > M.MAX_DEPTH then
    error("cannot encode JSON nested deeper than " .. M.MAX_DEPTH .. " levels (a cycle?)", 0)
  end
  if getmetatable(t) == array_mt then
    out[#out + 1] = "["
    for i = 1, #t do
      if i > 1 then out[#out + 1] = "," end
      encode_value(t[i], out, depth + 1)
    end
    out[#out + 1] = "]"
    return
  end
  local keys = {}
  for key in pairs(t) do
    if type(key) ~= "string" then
      error("cannot encode a table with a " .. type(key) .. " key as a JSON object"
        .. " (mark arrays with extruct.mock.array)", 0)
    end
    keys[#keys + 1] = key
  end
  table.sort(keys) -- deterministic output
  out[#out + 1] = "{"
  for i, key in ipairs(keys) do
    if i > 1 then out[#out + 1] = "," end
    out[#out + 1] = encode_string(key)
    out[#out + 1] = ":"
    encode_value(t[key], out, depth + 1)
  end
  out[#out + 1] = "}"
end

function encode_value(v, out, depth)
  local kind = type(v)
  if v == nil or v == M.null then
    out[#out + 1] = "null"
  elseif kind == "boolean" then
    out[#out + 1] = v and "true" or "false"
  elseif kind == "number" then
    out[#out + 1] = encode_number(v)
  elseif kind == "string" then
    out[#out + 1] = encode_string(v)
  elseif kind == "table" and getmetatable(v) == raw_newlines_mt then
    out[#out + 1] = '"' .. v.text:gsub('[%c"\\]', escape_all_but_newline) .. '"'
  elseif kind == "table" then
    encode_table(v, out, depth)
  else
    error("cannot encode a " .. kind .. " as JSON", 0)
  end
end

--- Encodes a Lua value as JSON text; raises on what JSON cannot hold.
function M.encode(value)
  local out = {}
  encode_value(value, out, 0)
  return concat(out)
end

---------------------------------------------------------------------------
-- Decoder
---------------------------------------------------------------------------

-- A decoding failure travels as this table through error(), so that a bug
-- in the decoder still surfaces as a Lua error, not as a bad-JSON verdict.
local Failure = {}

local function fail(message, pos)
  error(setmetatable({ message = message, pos = pos }, Failure), 0)
end

local function utf8_char(code)
  if code < 0x80 then
    return char(code)
  elseif code < 0x800 then
    return char(0xC0 + floor(code / 0x40), 0x80 + code % 0x40)
  elseif code < 0x10000 then
    return char(0xE0 + floor(code / 0x1000), 0x80 + floor(code / 0x40) % 0x40, 0x80 + code % 0x40)
  end
  return char(0xF0 + floor(code / 0x40000), 0x80 + floor(code / 0x1000) % 0x40,
    0x80 + floor(code / 0x40) % 0x40, 0x80 + code % 0x40)
end

--- The position of the first byte of s[i..j] that breaks UTF-8, or nil.
local function invalid_utf8(s, i, j)
  while i <= j do
    local c = byte(s, i)
    local n, min
    if c < 0x80 then
      n = 0
    elseif c >= 0xC2 and c <= 0xDF then
      n, min = 1, 0x80
    elseif c >= 0xE0 and c <= 0xEF then
      n, min = 2, 0x800
    elseif c >= 0xF0 and c <= 0xF4 then
      n, min = 3, 0x10000
    else
      return i
    end
    if n > 0 then
      if i + n > j then return i end
      local code = c % (2 ^ (6 - n))
      for k = 1, n do
        local cc = byte(s, i + k)
        if cc < 0x80 or cc > 0xBF then return i end
        code = code * 64 + cc % 64
      end
      -- overlong forms, surrogates and code points past U+10FFFF
      if code < min or (code >= 0xD800 and code <= 0xDFFF) or code > 0x10FFFF then return i end
    end
    i = i + n + 1
  end
  return nil
end

local ESCAPES = { ['"'] = '"', ['\\'] = '\\', ['/'] = '/', b = '\b', f = '\f', n = '\n', r = '\r', t = '\t' }

local function decode_string(text, pos)
  -- pos is at the opening quote
  local parts = {}
  local i = pos + 1
  while true do
    local j = text:find('["\\%z\1-\31]', i)
    if not j then fail("unterminated string", pos) end
    if j > i then
      local bad = invalid_utf8(text, i, j - 1)
      if bad then fail("invalid UTF-8 in a string", bad) end
      parts[#parts + 1] = text:sub(i, j - 1)
    end
    local c = text:sub(j, j)
    if c == '"' then
      return concat(parts), j + 1
    elseif c ~= "\\" then
      fail("control character in a string (escape it)", j)
    end
    local e = text:sub(j + 1, j + 1)
    if ESCAPES[e] then
      parts[#parts + 1] = ESCAPES[e]
      i = j + 2
    elseif e == "u" then
      local hex = text:match("^%x%x%x%x", j + 2)
      if not hex then fail("bad \\u escape: four hex digits expected", j) end
      local code = tonumber(hex, 16)
      i = j + 6
      if code >= 0xD800 and code <= 0xDBFF then
        local low = text:match("^\\u(%x%x%x%x)", i)
        local low_code = low and tonumber(low, 16)
        if not low_code or low_code < 0xDC00 or low_code > 0xDFFF then
          fail("lone surrogate in a \\u escape", j)
        end
        code = 0x10000 + (code - 0xD800) * 0x400 + (low_code - 0xDC00)
        i = i + 6
      elseif code >= 0xDC00 and code <= 0xDFFF then
        fail("lone surrogate in a \\u escape", j)
      end
      parts[#parts + 1] = utf8_char(code)
    else
      fail("bad escape in a string", j)
    end
  end
end

local decode_value

local function skip_space(text, pos)
  return text:find("[^ \t\r\n]", pos) or #text + 1
end

local function decode_number(text, pos)
  local s = text:match("^-?%d+%.?%d*[eE]?[-+]?%d*", pos)
  if not s or not (s:find("^-?0$") or s:find("^-?0[.eE]") or s:find("^-?[1-9]")) then
    fail("malformed number", pos)
  end
  -- The shape RFC 8259 allows: int [frac] [exp]
  local int, frac, exp = s:match("^(-?%d+)(%.?%d*)([eE]?[-+]?%d*)$")
  if not int or frac == "." or (exp ~= "" and not exp:find("^[eE][-+]?%d+$")) then
    fail("malformed number", pos)
  end
  local n = tonumber(s)
  if n == huge or n == -huge then fail("number out of range", pos) end
  if math.tointeger and frac == "" and exp == "" then n = math.tointeger(n) or n end
  return n, pos + #s
end

local function decode_array(text, pos, depth)
  local result = array()
  pos = skip_space(text, pos + 1)
  if text:sub(pos, pos) == "]" then return result, pos + 1 end
  while true do
    local value
    value, pos = decode_value(text, pos, depth)
    result[#result + 1] = value
    pos = skip_space(text, pos)
    local c = text:sub(pos, pos)
    if c == "]" then return result, pos + 1 end
    if c ~= "," then fail("',' or ']' expected", pos) end
    pos = skip_space(text, pos + 1)
  end
end

local function decode_object(text, pos, depth)
  local result = {}
  pos = skip_space(text, pos + 1)
  if text:sub(pos, pos) == "}" then return result, pos + 1 end
  while true do
    if text:sub(pos, pos) ~= '"' then fail("a string key expected", pos) end
    local key
    key, pos = decode_string(text, pos)
    pos = skip_space(text, pos)
    if text:sub(pos, pos) ~= ":" then fail("':' expected", pos) end
    local value
    value, pos = decode_value(text, skip_space(text, pos + 1), depth)
    result[key] = value -- a repeated key: the last one wins, as in Python
    pos = skip_space(text, pos)
    local c = text:sub(pos, pos)
    if c == "}" then return result, pos + 1 end
    if c ~= "," then fail("',' or '}' expected", pos) end
    pos = skip_space(text, pos + 1)
  end
end

local LITERALS = { t = { "true", true }, f = { "false", false }, n = { "null", M.null } }

function decode_value(text, pos, depth)
  local c = text:sub(pos, pos)
  if c == "{" or c == "[" then
    if depth >= M.MAX_DEPTH then fail("nested deeper than " .. M.MAX_DEPTH .. " levels", pos) end
    if c == "{" then return decode_object(text, pos, depth + 1) end
    return decode_array(text, pos, depth + 1)
  elseif c == '"' then
    return decode_string(text, pos)
  elseif c == "-" or c:find("^%d$") then
    return decode_number(text, pos)
  end
  local literal = LITERALS[c]
  if literal and text:sub(pos, pos + #literal[1] - 1) == literal[1] then
    return literal[2], pos + #literal[1]
  end
  if c == "" then fail("unexpected end of input", pos) end
  fail("a value expected", pos)
end

--- Decodes JSON text: the value, or nil, a message and the 1-based byte
--- position of the problem.
function M.decode(text)
  if type(text) ~= "string" then error("extruct.mock.json.decode: expected a string, got " .. type(text), 2) end
  local ok, value = pcall(function()
    local v, p = decode_value(text, skip_space(text, 1), 0)
    p = skip_space(text, p)
    if p <= #text then fail("extra data after the value", p) end
    return v
  end)
  if ok then return value end
  if getmetatable(value) ~= Failure then error(value, 0) end
  return nil, format("%s at byte %d", value.message, value.pos), value.pos
end

return M
