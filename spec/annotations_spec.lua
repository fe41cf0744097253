-- The LuaCATS annotations that lua-language-server reads (docs/types.md)
-- keep up with the code. What is checked is enumerated at run time: every
-- function of require("extruct"), every method of a client, every function
-- of another module that docs/api.md gives a heading of its own, and all
-- that the built extruct.core exports (functions, fields, and the methods
-- of its userdata). A Lua function is looked for where it is defined
-- (debug.getinfo), and the comment lines directly above it must carry a
-- ---@param for each parameter of its signature, by name and in order, and
-- at least one ---@return (---@return nil when it returns nothing). Each
-- endpoint method has its module-level shortcut declared as a ---@field of
-- the class extruct with the method's types. The C module is declared in
-- types/extruct/core.lua, a ---@meta file. Every annotation parses as
-- LuaCATS the way lua-language-server reads it, and names only built-in
-- types and declared classes and aliases.
local extruct = require("extruct")
local helpers = require("spec.helpers")
local client_module = require("extruct.client")
local core = require("extruct.core")

local CORE_TYPES = "types/extruct/core.lua"
local API_DOC = "docs/api.md"
local LUARC = ".luarc.json"

---------------------------------------------------------------------------
-- Files
---------------------------------------------------------------------------

local file_lines = {}

-- The lines of a file (cached), or nil when it cannot be read.
local function read_lines(path)
  if file_lines[path] == nil then
    local file = io.open(path, "rb")
    if not file then
      file_lines[path] = false
    else
      local text = file:read("*a")
      file:close()
      local lines = {}
      for line in (text .. "\n"):gmatch("([^\n]*)\n") do
        lines[#lines + 1] = (line:gsub("\r$", ""))
      end
      file_lines[path] = lines
    end
  end
  return file_lines[path] or nil
end

local function list_files(command)
  local pipe = assert(io.popen(command))
  local found = {}
  for line in pipe:lines() do found[#found + 1] = line end
  pipe:close()
  table.sort(found)
  return found
end

-- Every Lua file whose declarations count (classes and aliases anywhere).
local ALL_FILES = list_files("find lua types -name '*.lua' 2>/dev/null")

-- The files whose annotations are checked: the library and the types; the
-- command line and the mock server are programs of their own.
local function is_checked(path)
  return path:find("^lua/extruct/[%w_]+%.lua$") ~= nil and not path:find("^lua/extruct/mock")
    or path:find("^lua/extruct/api/[%w_]+%.lua$") ~= nil
    or path:find("^types/.+%.lua$") ~= nil
end

---------------------------------------------------------------------------
-- LuaCATS, read as lua-language-server reads it (script/parser/luadoc.lua):
-- tokens, then types made of units joined by |, with ? after the whole.
---------------------------------------------------------------------------

local NAME = "^[%w_\128-\255][%w_%.%*%-\128-\255]*"

-- The tokens of an annotation's text; like lua-language-server's lexer, it
-- stops at a character that starts no token (descriptions may hold any).
local function tokenize(text)
  local tokens, pos, n = {}, 1, #text
  while true do
    local _, space_end = text:find("^[ \t\v\f]+", pos)
    if space_end then pos = space_end + 1 end
    if pos > n then break end
    local kind, value, stop
    local integer = text:match("^%-?%d+", pos)
    local name = text:match(NAME, pos)
    local c = text:sub(pos, pos)
    if integer and text:sub(pos + #integer, pos + #integer) ~= "." then
      kind, value, stop = "integer", integer, pos + #integer - 1
    elseif name then
      kind, value, stop = "name", name, pos + #name - 1
    elseif c == '"' or c == "'" then
      local j = pos + 1
      while j <= n and text:sub(j, j) ~= c do
        j = j + (text:sub(j, j) == "\\" and 2 or 1)
      end
      kind, value, stop = "string", text:sub(pos + 1, j - 1), j
    elseif text:find("^%[=*%[", pos) then
      local equals = text:match("^%[(=*)%[", pos)
      local body_start = pos + #equals + 2
      local close_start, close_end = text:find("]" .. equals .. "]", body_start, true)
      kind = "string"
      value = text:sub(body_start, (close_start or n + 1) - 1)
      stop = close_end or n
    elseif c == "`" then
      local close = text:find("`", pos + 1, true)
      if not close then break end
      kind, value, stop = "code", text:sub(pos + 1, close - 1), close
    elseif text:sub(pos, pos + 2) == "..." then
      kind, value, stop = "symbol", "...", pos + 2
    elseif text:sub(pos, pos + 1) == "[]" then
      kind, value, stop = "symbol", "[]", pos + 1
    elseif c:find("^[:|,;<>()?+#{}%[%]]$") or (c == "-" and text:sub(pos + 1, pos + 1) ~= "-") then
      kind, value, stop = "symbol", c, pos
    else
      break
    end
    tokens[#tokens + 1] = { kind = kind, text = value }
    pos = stop + 1
  end
  return tokens
end

-- A reader over tokens; a malformed annotation raises { luacats = why }.
local function reader(text)
  return { t = tokenize(text), i = 1 }
end
local function peek(p, k) return p.t[p.i + (k or 0)] end
local function is_symbol(token, s) return token ~= nil and token.kind == "symbol" and token.text == s end
local function is_name(token) return token ~= nil and token.kind == "name" end
local function accept(p, s)
  if is_symbol(peek(p), s) then
    p.i = p.i + 1
    return true
  end
  return false
end
local function fail(why) error({ luacats = why }, 0) end
local function expect(p, s)
  if not accept(p, s) then fail("'" .. s .. "' expected") end
end

local parse_type, parse_unit

local function parse_fun(p)
  expect(p, "(")
  local args = {}
  if not accept(p, ")") then
    while true do
      local token = peek(p)
      if not (is_name(token) or is_symbol(token, "...")) then fail("a parameter name expected inside fun(...)") end
      p.i = p.i + 1
      local arg = { name = token.text, optional = accept(p, "?") }
      if accept(p, ":") then
        arg.type = parse_type(p) or fail("a type expected after '" .. arg.name .. ":'")
      end
      args[#args + 1] = arg
      if not accept(p, ",") then
        expect(p, ")")
        break
      end
    end
  end
  local returns = {}
  if accept(p, ":") then
    -- "fun(): (" starts a parenthesized list of returns, not a type
    local listed = accept(p, "(")
    while true do
      local label
      local token = peek(p)
      if (is_name(token) or is_symbol(token, "...")) and is_symbol(peek(p, 1), ":") then
        label = token.text
        p.i = p.i + 2
      end
      local rtype = parse_type(p)
      if not rtype then break end
      returns[#returns + 1] = { label = label, type = rtype }
      if not accept(p, ",") then break end
    end
    if listed then
      expect(p, ")")
      local after = peek(p)
      if is_symbol(after, "?") or is_symbol(after, "|") or is_symbol(after, "[]") then
        fail("'fun(...): (' opens a list of returns, so the '" .. after.text .. "' after ')' applies to the"
          .. " whole function: write the return without parentheses (table|true|nil, not (table|true)?)")
      end
    end
  end
  return { kind = "fun", args = args, returns = returns }
end

local function parse_table(p)
  local fields = {}
  if accept(p, "}") then return { kind = "table", fields = fields } end
  while true do
    local parenthesized = accept(p, "(")
    local field = {}
    if is_name(peek(p)) then
      field.name = peek(p).text
      p.i = p.i + 1
    elseif accept(p, "[") then
      if is_name(peek(p)) then
        field.index = parse_type(p) or fail("a type expected inside [ ]")
      elseif peek(p) then
        field.name = "[" .. peek(p).text .. "]"
        p.i = p.i + 1
      end
      expect(p, "]")
    else
      fail("a field name expected inside { }")
    end
    field.optional = accept(p, "?")
    expect(p, ":")
    field.type = parse_type(p) or fail("a type expected after a field's ':'")
    if parenthesized then expect(p, ")") end
    fields[#fields + 1] = field
    if not (accept(p, ",") or accept(p, ";")) then
      expect(p, "}")
      break
    end
  end
  return { kind = "table", fields = fields }
end

function parse_unit(p)
  local token = peek(p)
  if not token then return nil end
  if is_name(token) and token.text == "async" and is_name(peek(p, 1)) and peek(p, 1).text == "fun" then
    p.i = p.i + 1
    token = peek(p)
  end
  local unit
  if is_name(token) and token.text == "fun" then
    p.i = p.i + 1
    unit = parse_fun(p)
  elseif is_symbol(token, "{") then
    p.i = p.i + 1
    unit = parse_table(p)
  elseif token.kind == "string" then
    p.i = p.i + 1
    unit = { kind = "literal", text = '"' .. token.text .. '"' }
  elseif token.kind == "code" then
    p.i = p.i + 1
    unit = { kind = "literal", text = "`" .. token.text .. "`" }
  elseif token.kind == "integer" or (is_name(token) and (token.text == "true" or token.text == "false")) then
    p.i = p.i + 1
    unit = { kind = "literal", text = token.text }
  elseif is_symbol(token, "(") then
    p.i = p.i + 1
    unit = { kind = "paren", inner = parse_type(p) or fail("a type expected after '('") }
    expect(p, ")")
  elseif is_name(token) then
    p.i = p.i + 1
    unit = { kind = "name", name = token.text }
  elseif is_symbol(token, "...") then
    p.i = p.i + 1
    unit = { kind = "literal", text = "..." }
  else
    return nil
  end
  while accept(p, "<") do
    local args = {}
    repeat
      args[#args + 1] = parse_type(p) or fail("a type expected inside < >")
    until not accept(p, ",")
    expect(p, ">")
    unit = { kind = "generic", node = unit, args = args }
  end
  while accept(p, "[]") do
    unit = { kind = "array", node = unit }
  end
  return unit
end

function parse_type(p)
  local units = {}
  while true do
    local unit = parse_unit(p)
    if not unit then break end
    units[#units + 1] = unit
    if not accept(p, "|") then break end
  end
  if #units == 0 then return nil end
  return { kind = "union", units = units, optional = accept(p, "?") }
end

-- A type as text, the same whatever the spacing it was written with.
local function render(node)
  local kind = node.kind
  local parts = {}
  if kind == "union" then
    for i, unit in ipairs(node.units) do parts[i] = render(unit) end
    return table.concat(parts, "|") .. (node.optional and "?" or "")
  elseif kind == "name" then
    return node.name
  elseif kind == "literal" then
    return node.text
  elseif kind == "paren" then
    return "(" .. render(node.inner) .. ")"
  elseif kind == "generic" then
    for i, arg in ipairs(node.args) do parts[i] = render(arg) end
    return render(node.node) .. "<" .. table.concat(parts, ", ") .. ">"
  elseif kind == "array" then
    return render(node.node) .. "[]"
  elseif kind == "fun" then
    for i, arg in ipairs(node.args) do
      parts[i] = arg.name .. (arg.optional and "?" or "") .. (arg.type and ": " .. render(arg.type) or "")
    end
    local returns = {}
    for i, r in ipairs(node.returns) do returns[i] = (r.label and r.label .. ": " or "") .. render(r.type) end
    return "fun(" .. table.concat(parts, ", ") .. ")" .. (#returns > 0 and ": " .. table.concat(returns, ", ") or "")
  elseif kind == "table" then
    for i, field in ipairs(node.fields) do
      parts[i] = (field.name or "[" .. render(field.index) .. "]") .. (field.optional and "?" or "") .. ": "
        .. render(field.type)
    end
    return "{ " .. table.concat(parts, ", ") .. " }"
  end
  error("unknown node " .. tostring(kind))
end

-- A type as what it means, for comparing two spellings: `X|nil`, `X?` and
-- `(X)?` are the same type, and so are `A|B|nil` and `(A|B)?`.
local function meaning(node)
  if node.kind ~= "union" then return render(node) end
  local units, optional = {}, node.optional
  for _, unit in ipairs(node.units) do
    if unit.kind == "name" and unit.name == "nil" then
      optional = true
    elseif unit.kind == "paren" and #node.units == 1 then
      local inner = unit.inner
      for _, inner_unit in ipairs(inner.units) do units[#units + 1] = inner_unit end
      optional = optional or inner.optional
    else
      units[#units + 1] = unit
    end
  end
  local parts = {}
  for i, unit in ipairs(units) do parts[i] = unit.kind == "fun" and "(" .. render(unit) .. ")" or render(unit) end
  return table.concat(parts, "|") .. (optional and "?" or "")
end

-- The type names a type refers to, added to `found`.
local function type_names(node, found)
  local kind = node.kind
  if kind == "union" then
    for _, unit in ipairs(node.units) do type_names(unit, found) end
  elseif kind == "name" then
    found[#found + 1] = node.name
  elseif kind == "paren" then
    type_names(node.inner, found)
  elseif kind == "generic" then
    type_names(node.node, found)
    for _, arg in ipairs(node.args) do type_names(arg, found) end
  elseif kind == "array" then
    type_names(node.node, found)
  elseif kind == "fun" then
    for _, arg in ipairs(node.args) do
      if arg.type then type_names(arg.type, found) end
    end
    for _, r in ipairs(node.returns) do type_names(r.type, found) end
  elseif kind == "table" then
    for _, field in ipairs(node.fields) do
      if field.index then type_names(field.index, found) end
      type_names(field.type, found)
    end
  end
  return found
end

local function read_name(p, what)
  local token = peek(p)
  if not is_name(token) then fail(what .. " expected") end
  p.i = p.i + 1
  return token.text
end

-- One parser per tag; each returns what the checks need, and the types
-- the annotation uses (`types`).
local TAGS = {}

function TAGS.param(p)
  local token = peek(p)
  if not (is_name(token) or is_symbol(token, "...")) then fail("a parameter name expected") end
  p.i = p.i + 1
  local optional = accept(p, "?")
  local ptype = parse_type(p) or fail("a type expected after the parameter's name")
  return { name = token.text, optional = optional, type = ptype, types = { ptype } }
end

TAGS["return"] = function(p)
  local returns, types = {}, {}
  while true do
    local rtype = parse_type(p)
    if not rtype then break end
    if accept(p, "?") then rtype.optional = true end
    local name
    if is_name(peek(p)) or is_symbol(peek(p), "...") then
      name = peek(p).text
      p.i = p.i + 1
    end
    returns[#returns + 1] = { type = rtype, name = name }
    types[#types + 1] = rtype
    if not accept(p, ",") then break end
  end
  if #returns == 0 then fail("a type expected") end
  return { returns = returns, types = types }
end

local VISIBILITY = { public = true, protected = true, private = true, package = true }

function TAGS.field(p)
  if is_name(peek(p)) and VISIBILITY[peek(p).text] and is_name(peek(p, 1)) and peek(p, 2) then
    p.i = p.i + 1
  end
  local name, index
  if accept(p, "[") then
    index = parse_type(p) or fail("a type expected inside [ ]")
    expect(p, "]")
  else
    name = read_name(p, "a field name")
  end
  local optional = accept(p, "?")
  local ftype = parse_type(p) or fail("a type expected after the field's name")
  return { name = name, optional = optional, type = ftype, types = { ftype, index } }
end

local function read_signs(p)
  local signs = {}
  if accept(p, "<") then
    repeat signs[#signs + 1] = read_name(p, "a type parameter") until not accept(p, ",")
    expect(p, ">")
  end
  return signs
end

function TAGS.class(p)
  if accept(p, "(") then -- attributes: (exact), (partial)
    while peek(p) and not accept(p, ")") do p.i = p.i + 1 end
  end
  local name = read_name(p, "a class name")
  local signs = read_signs(p)
  local parents = {}
  if accept(p, ":") then
    repeat
      if accept(p, "{") then
        parents[#parents + 1] = parse_table(p)
      else
        parents[#parents + 1] = { kind = "name", name = read_name(p, "a parent class") }
      end
    until not accept(p, ",")
  end
  return { name = name, signs = signs, types = parents }
end

function TAGS.alias(p)
  local name = read_name(p, "an alias name")
  local signs = read_signs(p)
  local atype = parse_type(p) -- nil when the members follow as ---| lines
  return { name = name, signs = signs, type = atype, types = { atype } }
end

function TAGS.generic(p)
  local names, types = {}, {}
  repeat
    names[#names + 1] = read_name(p, "a generic name")
    if accept(p, ":") then types[#types + 1] = parse_type(p) or fail("a type expected after ':'") end
  until not accept(p, ",")
  return { names = names, types = types }
end

function TAGS.overload(p)
  local token = peek(p)
  if not (is_name(token) and (token.text == "fun" or token.text == "async")) then fail("fun(...) expected") end
  local otype = parse_type(p)
  return { type = otype, types = { otype } }
end

function TAGS.type(p)
  local types = {}
  repeat types[#types + 1] = parse_type(p) or fail("a type expected") until not accept(p, ",")
  return { types = types }
end

function TAGS.vararg(p)
  return { types = { parse_type(p) or fail("a type expected") } }
end

-- Tags read without a type to check.
for _, tag in ipairs({ "meta", "module", "deprecated", "version", "see", "diagnostic", "async", "nodiscard",
                       "cast", "operator", "enum", "source", "private", "protected", "public", "package" }) do
  TAGS[tag] = function() return { types = {} } end
end

-- The annotation on a line, if any: { tag = ..., ... } or { tag = ..., error = why }.
local function annotation(line)
  local text = line:match("^%s*%-%-%-%s*@(.*)$")
  if not text then return nil end
  local tag, rest = text:match("^(%w+)%s*(.*)$")
  if not tag then return { error = "no tag after ---@" } end
  if not TAGS[tag] then return { tag = tag, error = "---@" .. tag .. " is not a LuaCATS annotation" } end
  local p = reader(rest)
  local ok, result = pcall(TAGS[tag], p)
  if not ok then
    if type(result) == "table" and result.luacats then return { tag = tag, error = result.luacats } end
    error(result, 0)
  end
  result.tag = tag
  local after = peek(p)
  if (tag == "param" or tag == "return" or tag == "field") and after and after.kind == "string" then
    -- lua-language-server reads such a description as a Lua string: all the rest is lost
    result.warning = "a description that starts with a quote shows as that quoted text alone"
  end
  return result
end

-- A member of a multi-line alias ("---| type # comment"), or nil.
local function alias_member(line)
  local text = line:match("^%s*%-%-%-%s*|(.*)$")
  if not text then return nil end
  text = text:gsub("#.*$", "")
  local p = reader(text)
  if not accept(p, ">") then accept(p, "+") end
  local ok, unit = pcall(parse_unit, p)
  if not ok then return { error = type(unit) == "table" and unit.luacats or tostring(unit) } end
  if not unit then return { error = "a type expected after ---|" } end
  return { type = { kind = "union", units = { unit } } }
end

local function is_comment(line)
  return line ~= nil and line:find("^%s*%-%-") ~= nil
end

---------------------------------------------------------------------------
-- Declarations: the comment blocks of every file (a block is the run of
-- comment lines between code or blank lines), their classes, aliases and
-- the fields each class block declares.
---------------------------------------------------------------------------

local BUILTIN = {
  ["nil"] = true, any = true, boolean = true, string = true, number = true, integer = true,
  ["function"] = true, table = true, thread = true, userdata = true, lightuserdata = true,
  unknown = true, self = true,
}

-- Reads a file's blocks: { first, last, items = { { line, text, ann, member } },
-- classes = { [name] = { line, fields = { [name] = field annotation } } },
-- aliases = { [name] = { line, members = { type... } } } }.
local function read_blocks(lines)
  local blocks, block = {}, nil
  local class, alias
  for n, line in ipairs(lines) do
    if is_comment(line) then
      if not block then
        block = { first = n, items = {}, classes = {}, aliases = {}, generics = {} }
        blocks[#blocks + 1] = block
        class, alias = nil, nil
      end
      block.last = n
      local item = { line = n, text = line, ann = annotation(line), member = alias_member(line) }
      block.items[#block.items + 1] = item
      local ann = item.ann
      if ann and not ann.error then
        if ann.tag == "class" then
          class = { line = n, name = ann.name, fields = {} }
          block.classes[ann.name] = class
          for _, sign in ipairs(ann.signs) do block.generics[sign] = true end
        elseif ann.tag == "field" and class and ann.name then
          class.fields[ann.name] = { line = n, ann = ann }
        elseif ann.tag == "alias" then
          alias = { line = n, members = {}, type = ann.type }
          block.aliases[ann.name] = alias
          for _, sign in ipairs(ann.signs) do block.generics[sign] = true end
        elseif ann.tag == "generic" then
          for _, name in ipairs(ann.names) do block.generics[name] = true end
        end
        if ann.tag ~= "alias" then alias = nil end
      elseif item.member and alias and not item.member.error then
        alias.members[#alias.members + 1] = item.member.type
      end
    else
      block = nil
    end
  end
  return blocks
end

local file_blocks = {}
local function blocks_of(path)
  if file_blocks[path] == nil then
    local lines = read_lines(path)
    file_blocks[path] = lines and read_blocks(lines) or {}
  end
  return file_blocks[path]
end

-- Every class and alias declared in lua/ and types/: name -> "path:line".
local declared = {}
for _, path in ipairs(ALL_FILES) do
  for _, block in ipairs(blocks_of(path)) do
    for name, class in pairs(block.classes) do declared[name] = declared[name] or (path .. ":" .. class.line) end
    for name, alias in pairs(block.aliases) do declared[name] = declared[name] or (path .. ":" .. alias.line) end
  end
end

-- The fields that the blocks of `paths` declare for the class `name`:
-- field name -> { path, line, ann }.
local function class_fields(paths, name)
  local fields = {}
  for _, path in ipairs(paths) do
    for _, block in ipairs(blocks_of(path)) do
      local class = block.classes[name]
      if class then
        for field, entry in pairs(class.fields) do
          fields[field] = fields[field] or { path = path, line = entry.line, ann = entry.ann }
        end
      end
    end
  end
  return fields
end

-- Problems with the annotations of one file: annotations that do not parse,
-- and type names that nothing declares.
local function annotation_problems(path, known)
  known = known or declared
  local problems = {}
  for _, block in ipairs(blocks_of(path)) do
    for _, item in ipairs(block.items) do
      local where = path .. ":" .. item.line
      local ann, member = item.ann, item.member
      if ann and ann.error then
        problems[#problems + 1] = ("%s: %s (in '%s')"):format(where, ann.error, item.text)
      elseif member and member.error then
        problems[#problems + 1] = ("%s: %s (in '%s')"):format(where, member.error, item.text)
      elseif ann and ann.warning then
        problems[#problems + 1] = ("%s: %s (in '%s')"):format(where, ann.warning, item.text)
      end
      local types = ann and not ann.error and ann.types or member and member.type and { member.type } or {}
      for _, node in pairs(types) do
        for _, name in ipairs(type_names(node, {})) do
          if not (BUILTIN[name] or known[name] or block.generics[name]) then
            problems[#problems + 1] = ("%s: unknown type '%s': no ---@class or ---@alias declares it (in '%s')")
              :format(where, name, item.text)
          end
        end
      end
    end
  end
  return problems
end

---------------------------------------------------------------------------
-- Functions: the signature at the line where a function is defined, and
-- the annotations of the comment lines directly above it.
---------------------------------------------------------------------------

local function trim(s) return (s:gsub("^%s+", ""):gsub("%s+$", "")) end

-- The function defined at `line`: { name, params, method } (name "" for an
-- anonymous function), or nil.
local function signature(lines, line)
  local text = lines[line] or ""
  local last = line
  while not text:find("function%s*[%w_%.:]*%s*%b()") and lines[last + 1] and last < line + 10 do
    last = last + 1
    text = text .. " " .. lines[last]
  end
  local name, list = text:match("function%s*([%w_%.:]*)%s*%(([^)]*)%)")
  if not name then return nil end
  local params = {}
  for param in list:gmatch("[^,]+") do
    param = trim(param)
    if param ~= "" then params[#params + 1] = param end
  end
  return { name = name, params = params, method = name:find(":", 1, true) ~= nil }
end

-- The annotations of the comment lines directly above `line`, in order.
local function annotations_above(lines, line)
  local first = line
  while is_comment(lines[first - 1]) do first = first - 1 end
  local found = {}
  for n = first, line - 1 do
    local ann = annotation(lines[n])
    if ann and not ann.error then
      ann.line = n
      found[#found + 1] = ann
    end
  end
  return found
end

-- The annotations of the function defined at lines[line]: { params = {...},
-- returns = { return types... }, problems = { what it lacks... } }.
local function check_function(lines, line)
  local sig = signature(lines, line)
  if not sig then return { problems = { "no function is defined at this line" }, params = {}, returns = {} } end
  local anns = annotations_above(lines, line)
  local documented, documented_order, returns = {}, {}, {}
  for _, ann in ipairs(anns) do
    if ann.tag == "param" then
      documented[ann.name] = ann
      documented_order[#documented_order + 1] = ann.name
    elseif ann.tag == "return" then
      for _, r in ipairs(ann.returns) do returns[#returns + 1] = r end
    end
  end
  local problems, params, wanted = {}, {}, {}
  local missing = {}
  for _, param in ipairs(sig.params) do
    wanted[param] = true
    if documented[param] then
      params[#params + 1] = documented[param]
    else
      missing[#missing + 1] = "---@param " .. param
    end
  end
  if #missing > 0 then problems[#problems + 1] = "lacks " .. table.concat(missing, ", ") end
  for _, name in ipairs(documented_order) do
    if not wanted[name] then
      problems[#problems + 1] = ("---@param %s names no parameter of %s(%s)"):format(name, sig.name,
        table.concat(sig.params, ", "))
    end
  end
  if #missing == 0 and #problems == 0 then
    for i, name in ipairs(documented_order) do
      if name ~= sig.params[i] then
        problems[#problems + 1] = ("the ---@param lines are not in the order of the parameters (%s)")
          :format(table.concat(sig.params, ", "))
        break
      end
    end
  end
  if #returns == 0 then
    problems[#problems + 1] = "lacks a ---@return (---@return nil for a function that returns nothing)"
  end
  return { sig = sig, params = params, returns = returns, problems = problems }
end

-- Problems of the Lua function fn, published as `label`.
local function function_problems(label, fn)
  local info = debug.getinfo(fn, "S")
  local path = info.source:match("^@(.*)$")
  local lines = path and read_lines(path)
  if not lines then
    return { ("%s: its source (%s) cannot be read"):format(label, tostring(info.source)) }, nil
  end
  local result = check_function(lines, info.linedefined)
  local problems = {}
  for _, problem in ipairs(result.problems) do
    problems[#problems + 1] = ("%s (%s:%d): %s"):format(label, path, info.linedefined, problem)
  end
  result.path, result.line, result.lines = path, info.linedefined, lines
  return problems, result
end

-- The name under which extruct.core exports the C function fn, or nil.
local function core_name(module, fn)
  for name, value in pairs(module) do
    if rawequal(value, fn) then return name end
  end
  return nil
end

local function sorted_keys(t)
  local keys = {}
  for key in pairs(t) do
    if type(key) == "string" then keys[#keys + 1] = key end
  end
  table.sort(keys)
  return keys
end

local client_methods = helpers.client_methods

-- The functions of other modules that docs/api.md gives a heading:
-- "### `extruct.url.segment`" -> { label, fn }.
local function documented_module_functions()
  local found = {}
  for _, line in ipairs(read_lines(API_DOC) or {}) do
    local module, name = line:match("^#+%s+`(extruct%.[%w_]+)%.([%w_]+)`%s*$")
    if module then
      local ok, loaded = pcall(require, module)
      if ok and type(loaded) == "table" and type(loaded[name]) == "function" then
        found[#found + 1] = { label = module .. "." .. name, fn = loaded[name] }
      end
    end
  end
  return found
end

---------------------------------------------------------------------------
-- The C module against types/extruct/core.lua
---------------------------------------------------------------------------

-- The local a class declaration is bound to: `local var = {}` on the line
-- right after the class's block.
local function bound_local(path, class_name)
  local lines = read_lines(path) or {}
  for _, block in ipairs(blocks_of(path)) do
    if block.classes[class_name] then
      local var = (lines[block.last + 1] or ""):match("^local%s+([%w_]+)%s*=")
      if var then return var end
    end
  end
  return nil
end

-- Lines "function var.name(" (or "var:name(") of a file: name -> line.
local function defined_on(lines, var, separator)
  local found = {}
  local pattern = "^function%s+" .. var .. "%" .. separator .. "([%w_]+)%s*%("
  for n, line in ipairs(lines) do
    local name = line:match(pattern)
    if name then found[name] = n end
  end
  return found
end

-- Whether the declared type can describe the value the module holds.
local function fits(node, value)
  local kind = type(value)
  for _, unit in ipairs(node.units) do
    local base = unit
    if base.kind == "generic" then base = base.node end
    local name = base.kind == "name" and base.name
    if name == "any" or name == "unknown" then return true end
    if kind == "string" and (name == "string" or (unit.kind == "literal" and unit.text:sub(1, 1) == '"')) then
      return true
    elseif kind == "number" and (name == "number" or name == "integer" or unit.kind == "literal") then
      return true
    elseif kind == "boolean" and (name == "boolean" or unit.text == "true" or unit.text == "false") then
      return true
    elseif kind == "userdata" and (name == "userdata" or name == "lightuserdata") then
      return true
    elseif kind == "table" and (name == "table" or unit.kind == "array" or unit.kind == "table"
      or (name and declared[name] and not BUILTIN[name])) then
      return true
    end
  end
  return false
end

-- Problems of the declarations of `module` (what require("extruct.core")
-- returns, or a stand-in) in the ---@meta file at `path`.
local function core_problems(module, path, registry)
  local lines = read_lines(path)
  if not lines then return { path .. ": missing" } end
  local problems = {}
  local function add(fmt, ...) problems[#problems + 1] = fmt:format(...) end
  if not (lines[1] or ""):find("^%-%-%-@meta") then add("%s: the first line must be ---@meta", path) end

  local var = bound_local(path, "extruct.core")
  if not var then
    add("%s: no '---@class extruct.core' block directly above 'local core = {}'", path)
    return problems
  end
  local fields = class_fields({ path }, "extruct.core")
  local functions = defined_on(lines, var, ".")
  for _, name in ipairs(sorted_keys(module)) do
    local value = module[name]
    if type(value) == "function" then
      local line = functions[name]
      if not line then
        add("extruct.core.%s: a function the module exports, not declared in %s (add ---@param/---@return"
          .. " lines and 'function %s.%s(...) end')", name, path, var, name)
      else
        for _, problem in ipairs(check_function(lines, line).problems) do
          add("extruct.core.%s (%s:%d): %s", name, path, line, problem)
        end
      end
    else
      local field = fields[name]
      if not field then
        add("extruct.core.%s: a %s the module exports, not declared in %s (add '---@field %s <type>'"
          .. " to the ---@class extruct.core block)", name, type(value), path, name)
      elseif not fits(field.ann.type, value) then
        add("extruct.core.%s (%s:%d): declared as %s, but the module holds a %s", name, path, field.line,
          render(field.ann.type), type(value))
      end
    end
  end
  for name, line in pairs(functions) do
    if module[name] == nil then add("%s:%d: declares core.%s, which the module does not export", path, line, name) end
  end
  for name, field in pairs(fields) do
    if module[name] == nil and not field.ann.optional then
      add("%s:%d: declares the field %s, which the module does not export (mark it %s? if it may be absent)",
        path, field.line, name, name)
    end
  end

  -- The userdata types: metatables the module registered as "extruct.core.<type>" with methods.
  for _, type_name in ipairs(sorted_keys(registry)) do
    local mt = registry[type_name]
    local methods = type(mt) == "table" and rawget(mt, "__index")
    if type_name:find("^extruct%.core%.") and type(methods) == "table" then
      local type_var = bound_local(path, type_name)
      if not type_var then
        add("%s: a userdata type of the module, not declared in %s (add '---@class %s' directly above"
          .. " 'local <name> = {}' and its methods)", type_name, path, type_name)
      else
        local declared_methods = defined_on(lines, type_var, ":")
        for _, method in ipairs(sorted_keys(methods)) do
          local line = declared_methods[method]
          if not line then
            add("%s:%s: a method of the userdata, not declared in %s (add 'function %s:%s(...) end' with its"
              .. " annotations)", type_name, method, path, type_var, method)
          else
            for _, problem in ipairs(check_function(lines, line).problems) do
              add("%s:%s (%s:%d): %s", type_name, method, path, line, problem)
            end
          end
        end
        for method, line in pairs(declared_methods) do
          if methods[method] == nil then
            add("%s:%d: declares %s:%s, which the userdata does not have", path, line, type_name, method)
          end
        end
      end
    end
  end
  table.sort(problems)
  return problems
end

-- Whether a declared type is the function a method's annotations describe,
-- without its self: the same parameters (names, optional, types) and the
-- same returns, each type compared by meaning.
local function same_function_type(declared_type, method)
  local fun = #declared_type.units == 1 and not declared_type.optional and declared_type.units[1]
  if not fun or fun.kind ~= "fun" then return false end
  local params = {}
  for i, param in ipairs(method.params) do
    if not (i == 1 and param.name == "self") then params[#params + 1] = param end
  end
  if #fun.args ~= #params or #fun.returns ~= #method.returns then return false end
  for i, param in ipairs(params) do
    local arg = fun.args[i]
    if arg.name ~= param.name or not arg.optional ~= not param.optional or not arg.type
      or meaning(arg.type) ~= meaning(param.type) then
      return false
    end
  end
  for i, r in ipairs(method.returns) do
    if meaning(fun.returns[i].type) ~= meaning(r.type) then return false end
  end
  return true
end

-- Fails with every problem on a line of its own.
local function expect_none(problems, what)
  if #problems > 0 then
    error(what .. ":\n  " .. table.concat(problems, "\n  "), 2)
  end
end

local CHECKED_FILES = {}
for _, path in ipairs(ALL_FILES) do
  if is_checked(path) then CHECKED_FILES[#CHECKED_FILES + 1] = path end
end
local LIBRARY_FILES = {}
for _, path in ipairs(ALL_FILES) do
  if path:find("^lua/") then LIBRARY_FILES[#LIBRARY_FILES + 1] = path end
end

---------------------------------------------------------------------------
-- The specs
---------------------------------------------------------------------------

describe("annotations", function()
  local methods, method_fns = client_methods()
  local endpoint_methods = {}
  for _, name in ipairs(client_module.METHODS) do endpoint_methods[name] = true end

  it("finds what it checks", function()
    assert.truthy(#methods >= 20, table.concat(methods, " "))
    assert.truthy(#client_module.METHODS >= 18)
    assert.truthy(read_lines(CORE_TYPES), CORE_TYPES .. " is missing")
    assert.truthy(#CHECKED_FILES >= 10, table.concat(CHECKED_FILES, " "))
    assert.truthy(#documented_module_functions() >= 3)
    assert.truthy(declared["extruct.Client"] and declared["extruct.Error"] and declared["extruct.core"])
  end)

  it("every function of require('extruct') has a ---@param for each parameter and a ---@return", function()
    local problems = {}
    for _, name in ipairs(sorted_keys(extruct)) do
      local fn = extruct[name]
      if type(fn) == "function" and not endpoint_methods[name] then
        if debug.getinfo(fn, "S").what == "C" then
          -- declared with the C module
          if not core_name(core, fn) then
            problems[#problems + 1] = ("extruct.%s: a C function that extruct.core does not export, so %s"
              .. " cannot declare it"):format(name, CORE_TYPES)
          end
        else
          for _, problem in ipairs((function_problems("extruct." .. name, fn))) do
            problems[#problems + 1] = problem
          end
        end
      end
    end
    expect_none(problems, "functions of require('extruct') without their annotations")
  end)

  it("every method of a client has a ---@param for each parameter and a ---@return", function()
    local problems = {}
    for _, name in ipairs(methods) do
      for _, problem in ipairs((function_problems("client:" .. name, method_fns[name]))) do
        problems[#problems + 1] = problem
      end
    end
    expect_none(problems, "methods of a client without their annotations")
  end)

  it("every method of a client is defined on a table declared ---@class extruct.Client", function()
    local problems = {}
    for _, name in ipairs(methods) do
      local _, result = function_problems("client:" .. name, method_fns[name])
      local sig = result and result.sig
      local var = sig and sig.method and sig.name:match("^([%w_]+):")
      if var then
        local bound
        for _, block in ipairs(blocks_of(result.path)) do
          if block.classes["extruct.Client"] then
            local line = result.lines[block.last + 1] or ""
            if line:match("^local%s+([%w_]+)%s*=") == var then bound = true end
          end
        end
        if not bound then
          problems[#problems + 1] = ("client:%s (%s:%d): defined on `%s`, whose `local %s = ...` in that file"
            .. " lacks a '---@class extruct.Client' line directly above it"):format(name, result.path,
              result.line, var, var)
        end
      end
    end
    expect_none(problems, "methods lua-language-server would not see as methods of extruct.Client")
  end)

  it("every endpoint method's shortcut is a ---@field of the class extruct, with the method's types", function()
    local fields = class_fields(LIBRARY_FILES, "extruct")
    local problems = {}
    for _, name in ipairs(client_module.METHODS) do
      local _, result = function_problems("client:" .. name, method_fns[name])
      if result and #result.problems > 0 and not fields[name] then
        problems[#problems + 1] = ("extruct.%s: no ---@field %s in a '---@class extruct' block (it repeats the"
          .. " types of client:%s, which lacks annotations first)"):format(name, name, name)
      elseif result and #result.problems == 0 then
        local args, returns = {}, {}
        for i, param in ipairs(result.params) do
          if not (i == 1 and param.name == "self") then
            args[#args + 1] = param.name .. (param.optional and "?" or "") .. ": " .. render(param.type)
          end
        end
        for i, r in ipairs(result.returns) do returns[i] = render(r.type) end
        local wanted = ("fun(%s): %s"):format(table.concat(args, ", "), table.concat(returns, ", "))
        local field = fields[name]
        local have = field and render(field.ann.type)
        if not (field and same_function_type(field.ann.type, result)) then
          problems[#problems + 1] = ("extruct.%s: %s; the endpoint group's file (%s) wants, in a"
            .. " '---@class extruct' block:\n    ---@field %s %s"):format(name,
              field and ("%s:%d declares %s"):format(field.path, field.line, have) or "not declared",
              result.path, name, wanted)
        end
      end
    end
    for name, field in pairs(fields) do
      if extruct[name] == nil then
        problems[#problems + 1] = ("%s:%d: ---@field %s of the class extruct names nothing require('extruct') has")
          :format(field.path, field.line, name)
      end
    end
    table.sort(problems)
    expect_none(problems, "module-level shortcuts lua-language-server would not know")
  end)

  it("every function of another module with a heading in docs/api.md is annotated", function()
    local problems = {}
    for _, entry in ipairs(documented_module_functions()) do
      for _, problem in ipairs((function_problems(entry.label, entry.fn))) do problems[#problems + 1] = problem end
    end
    expect_none(problems, "documented functions without their annotations")
  end)

  it(CORE_TYPES .. " declares everything extruct.core exports", function()
    expect_none(core_problems(core, CORE_TYPES, debug.getregistry()),
      "extruct.core against " .. CORE_TYPES)
  end)

  it("declares in the alias extruct.ErrorKind every kind of error, in the core's order", function()
    local members
    for _, path in ipairs(LIBRARY_FILES) do
      for _, block in ipairs(blocks_of(path)) do
        local alias = block.aliases["extruct.ErrorKind"]
        if alias then
          members = {}
          local types = alias.type and alias.type.units or {}
          for _, unit in ipairs(types) do members[#members + 1] = render(unit) end
          for _, member in ipairs(alias.members) do members[#members + 1] = render(member) end
        end
      end
    end
    assert.truthy(members, "no ---@alias extruct.ErrorKind")
    local kinds = {}
    for i, kind in ipairs(core.error_kinds) do kinds[i] = '"' .. kind .. '"' end
    assert.same(kinds, members)
  end)

  it("every annotation parses, and names only built-in types and declared classes and aliases", function()
    local problems = {}
    for _, path in ipairs(CHECKED_FILES) do
      for _, problem in ipairs(annotation_problems(path)) do problems[#problems + 1] = problem end
    end
    expect_none(problems, "annotations lua-language-server would not read as meant")
  end)

  -- What an editor completes after `local t = extruct.get_table(id)`:
  -- t.status.run_status, each step a declared field of a declared class.
  it("types the answers, so that a chain of fields completes (t.status.run_status, row.data, company.domain)", function()
    local function type_of(class, field)
      local entry = class_fields(ALL_FILES, class)[field]
      assert.truthy(entry, ("no ---@field %s of ---@class %s"):format(field, class))
      return render(entry.ann.type)
    end
    local shortcuts = class_fields(LIBRARY_FILES, "extruct")
    local chains = {
      { "get_table", "extruct.Table?", { { "extruct.Table", "status", "extruct.TableStatus" },
                                         { "extruct.TableStatus", "run_status", '"running"|"idle"' },
                                         { "extruct.Table", "columns", "extruct.Column[]" },
                                         { "extruct.Column", "config", "extruct.ColumnConfig" } } },
      { "wait_until_idle", "extruct.Table?", {} },
      { "get_table_data", "extruct.TableData?", { { "extruct.TableData", "rows", "extruct.Row[]" } } },
      { "get_row", "extruct.Row?", { { "extruct.Row", "data", "table<string, extruct.Cell|any>" } } },
      { "run_table", "extruct.Run?", { { "extruct.Run", "num_requested_cells", "integer" } } },
      { "get_company", "extruct.Company?", { { "extruct.Company", "domain", "string" } } },
      { "get_deep_search", "extruct.DeepSearchTask?", { { "extruct.DeepSearchTask", "num_results", "integer" } } },
      { "get_deep_research", "extruct.DeepResearchTask?", { { "extruct.DeepResearchTask", "report", "table" } } },
    }
    for _, chain in ipairs(chains) do
      local shortcut = assert(shortcuts[chain[1]], "no ---@field " .. chain[1] .. " of ---@class extruct")
      assert.matches(": " .. chain[2]:gsub("%p", "%%%0") .. ", extruct%.Error%?$", render(shortcut.ann.type), nil)
      for _, step in ipairs(chain[3]) do
        assert.equal(step[3], type_of(step[1], step[2]), step[1] .. "." .. step[2])
      end
    end
    assert.truthy(class_fields(ALL_FILES, "extruct.Cell").value, "extruct.Cell has no value")
  end)

  it("ships a .luarc.json whose workspace.library holds types/", function()
    local file = assert(io.open(LUARC, "rb"), LUARC .. " is missing")
    local text = file:read("*a")
    file:close()
    local ok, cjson = pcall(require, "cjson")
    if not ok then
      pending("lua-cjson is not installed: " .. LUARC .. " not decoded")
      return
    end
    local config = cjson.decode(text)
    local library = config["workspace.library"] or (type(config.workspace) == "table" and config.workspace.library)
    assert.is_table(library, LUARC .. ": no workspace.library")
    local has_types = false
    for _, entry in ipairs(library) do
      if entry == "types" or entry == "types/" or entry == "./types" then has_types = true end
    end
    assert.is_true(has_types, LUARC .. ": workspace.library does not hold types")
  end)
end)

describe("the annotation checks", function()
  local function lines_of(text)
    local lines = {}
    for line in (text .. "\n"):gmatch("([^\n]*)\n") do lines[#lines + 1] = line end
    return lines
  end

  it("tell what a function lacks, by name", function()
    local lines = lines_of([[
--- Adds.
---@param a number
---@param c number
function M.add(a, b)
end]])
    assert.same({
      "lacks ---@param b",
      "---@param c names no parameter of M.add(a, b)",
      "lacks a ---@return (---@return nil for a function that returns nothing)",
    }, check_function(lines, 4).problems)
  end)

  it("take a method's self as given, and want the parameters in order", function()
    local lines = lines_of([[
---@param opts? extruct.Options
---@param id string
---@return table? t
---@return extruct.Error? err
function methods:get_thing(id, opts)
end
---@param ... any
---@return nil
local function f(...) end]])
    assert.same({ "the ---@param lines are not in the order of the parameters (id, opts)" },
      check_function(lines, 5).problems)
    assert.same({}, check_function(lines, 9).problems)
  end)

  it("find no annotations above a blank line", function()
    local lines = lines_of("---@param a any\n---@return nil\n\nfunction M.f(a) end")
    assert.same({ "lacks ---@param a", "lacks a ---@return (---@return nil for a function that returns nothing)" },
      check_function(lines, 4).problems)
  end)

  it("read types as lua-language-server does", function()
    local function type_of(text) return render(annotation("---@param x " .. text).type) end
    assert.equal("table|true|nil", type_of("table|true|nil the description"))
    assert.equal("(table|true)?", type_of("(table|true)? t"))
    assert.equal("fun(id: string, opts?: extruct.Options): table?, extruct.Error?",
      type_of("fun(id:string,opts?:extruct.Options):table?,extruct.Error? desc"))
    assert.equal("table<string, extruct.Error>", type_of("table<string, extruct.Error> what's this"))
    assert.equal('"a"|"b"', type_of("'a'|\"b\""))
    assert.equal("{ n: integer, [integer]: any }", type_of("{ n: integer, [integer]: any }"))
    local function meaning_of(text) return meaning(annotation("---@param x " .. text).type) end
    assert.equal(meaning_of("table?"), meaning_of("table|nil"))
    assert.equal(meaning_of("(table|true)?"), meaning_of("table|true|nil"))
    assert.are_not.equal(meaning_of("table"), meaning_of("table?"))
    local returns = annotation("---@return string? text JSON text, or nil").returns
    assert.equal(1, #returns)
    assert.equal("text", returns[1].name)
    assert.matches("opens a list of returns", annotation("---@field f fun(): (table|true)?, extruct.Error?").error)
    assert.matches("is not a LuaCATS annotation", annotation("---@retrun nil").error)
    assert.matches("starts with a quote", annotation('---@param mode string "a" or "b"').warning)
    assert.matches("expected", annotation("---@param x fun(a: string").error)
  end)

  it("report a type nothing declares, and the members of a multi-line alias", function()
    local path = "spec/annotations-fixture.lua"
    file_lines[path] = lines_of([[
---@alias my.Kind
---| "one" # the first
---| "two"

---@generic T
---@param t T
---@param kind my.Kind
---@param err extruct.Eror
---@return T
function M.f(t, kind, err) end]])
    local known = setmetatable({ ["my.Kind"] = true }, { __index = declared })
    assert.same({ path .. ":8: unknown type 'extruct.Eror': no ---@class or ---@alias declares it"
      .. " (in '---@param err extruct.Eror')" }, annotation_problems(path, known))
    local alias = blocks_of(path)[1].aliases["my.Kind"]
    assert.same({ '"one"', '"two"' }, { render(alias.members[1]), render(alias.members[2]) })
    file_lines[path], file_blocks[path] = nil, nil
  end)

  it("report a C export, field or userdata method that the ---@meta file does not declare", function()
    local module, registry = {}, {}
    for name, value in pairs(core) do module[name] = value end
    module.new_export = function() end
    module.new_field = 42
    for name, mt in pairs(debug.getregistry()) do
      if type(name) == "string" and name:find("^extruct%.core%.") then registry[name] = mt end
    end
    local engine_methods = {}
    for name, fn in pairs(registry["extruct.core.engine"].__index) do engine_methods[name] = fn end
    engine_methods.new_method = function() end
    registry["extruct.core.engine"] = { __index = engine_methods }
    registry["extruct.core.new_type"] = { __index = { go = function() end } }
    local problems = core_problems(module, CORE_TYPES, registry)
    local text = table.concat(problems, "\n")
    assert.equal(4, #problems, text)
    assert.matches("extruct.core.new_export: a function the module exports, not declared", text, 1, true)
    assert.matches("extruct.core.new_field: a number the module exports, not declared", text, 1, true)
    assert.matches("extruct.core.engine:new_method: a method of the userdata, not declared", text, 1, true)
    assert.matches("extruct.core.new_type: a userdata type of the module, not declared", text, 1, true)
  end)
end)

describe("docs/types.md's settings", function()
  local markdown = require("spec.support.markdown")
  local blocks = markdown.claimed("docs/types.md", "annotations_spec")
  -- the versions lua-language-server's runtime.version takes
  local VERSIONS = { ["Lua 5.1"] = true, ["Lua 5.2"] = true, ["Lua 5.3"] = true, ["Lua 5.4"] = true, LuaJIT = true }

  -- A library folder of the page, in this checkout: "/path/to/extruct/x" is x.
  local function in_checkout(path)
    local inside = path:match("^/path/to/extruct/(.+)$")
    assert.truthy(inside, path)
    return inside
  end

  it("are the three the page shows: lazydev's plugin spec, lua_ls' settings, a .luarc.json", function()
    assert.same({ "lua", "lua", "json" }, { blocks[1].lang, blocks[2].lang, blocks[3].lang })
  end)

  it("lazydev's: an entry of lazy.nvim's list of plugins, naming types/ under the plugin folder extruct", function()
    -- as written, it is an item of a list: `return { <block> }` reads it
    local chunk = assert((loadstring or load)("return {\n" .. blocks[1].text .. "}", "=" .. markdown.where(blocks[1])))
    local plugins = chunk()
    assert.equal(1, #plugins)
    local spec = plugins[1]
    assert.equal("folke/lazydev.nvim", spec[1])
    assert.equal("lua", spec.ft)
    local library = spec.opts.library[1]
    assert.same({ "extruct" }, library.words)
    -- lazy.nvim names a plugin's folder after its repository: extruct
    local folder = library.path:match("^extruct/(.+)$")
    assert.equal("types", folder)
    assert.truthy(helpers.read_file(folder .. "/extruct/core.lua"):find("---@meta", 1, true))
  end)

  it("lua_ls': Neovim 0.11's vim.lsp.config, given settings whose library folders exist", function()
    -- vim.lsp.config came with Neovim 0.11 (Debian 12 has 0.7.2), and its
    -- use needs lua-language-server, which the project does not install:
    -- the block runs with a vim.lsp.config that keeps what it is given
    print("NOTICE: annotations_spec: docs/types.md's vim.lsp.config block runs with a vim.lsp.config that records"
      .. " its settings, not Neovim's: that needs Neovim 0.11+ and lua-language-server")
    local given = {}
    local env = { vim = { lsp = { config = function(name, config) given[#given + 1] = { name, config } end } } }
    local text = blocks[2].text
    local chunk = assert((loadstring or load)(text, "=" .. markdown.where(blocks[2]), "t", env))
    if setfenv then setfenv(chunk, env) end
    chunk()
    assert.equal(1, #given)
    assert.equal("lua_ls", given[1][1])
    local Lua = given[1][2].settings.Lua
    assert.is_true(VERSIONS[Lua.runtime.version], Lua.runtime.version)
    local folders = {}
    for i, path in ipairs(Lua.workspace.library) do folders[i] = in_checkout(path) end
    assert.same({ "lua", "types" }, folders)
    assert.truthy(io.open("lua/extruct/init.lua", "rb") and io.open("types/extruct/core.lua", "rb"))
  end)

  it("the .luarc.json: JSON whose runtime version lua-language-server knows, and folders that exist", function()
    local luarc = assert(extruct.decode(blocks[3].text))
    assert.is_true(VERSIONS[luarc.runtime.version], luarc.runtime.version)
    local folders = {}
    for i, path in ipairs(luarc.workspace.library) do folders[i] = in_checkout(path) end
    assert.same({ "lua", "types" }, folders)
  end)
end)
