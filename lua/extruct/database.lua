--- extruct.database: the databases an export writes into, SQLite (a file)
--- and PostgreSQL (a server), through LuaDBI's drivers (Debian packages
--- lua-dbi-sqlite3 and lua-dbi-postgresql; LuaRocks luadbi-sqlite3 and
--- luadbi-postgresql), which prepare each statement once and bind every
--- value as a parameter: no value is ever part of the SQL text. Names are
--- quoted here, in one place per dialect. The drivers are optional: the
--- rest of the library never loads this module.
---
---   local target = database.parse_target("sqlite:leads.db")  -- or nil, err
---   local db = database.open(target)                          -- or nil, err
---   db:begin(); db:run("INSERT INTO " .. db:quote(name) .. " VALUES (?, ?)", a, b); db:commit()
---   db:close()
---
--- Every method returns true (or its rows) on success and nil, err (kind
--- "database", the target in the message, credentials hidden) on failure,
--- including the failures the drivers raise.

local errors = require("extruct.errors")

local M = {}

-- What each kind of target needs: the driver's module and where it comes from.
local DRIVERS = {
  sqlite = { module = "dbd.sqlite3", package = "lua-dbi-sqlite3", rock = "luadbi-sqlite3", title = "SQLite" },
  postgresql = { module = "dbd.postgresql", package = "lua-dbi-postgresql", rock = "luadbi-postgresql",
                 title = "PostgreSQL" },
}
M.DRIVERS = DRIVERS

--- The most parameters one statement binds: SQLite's limit before 3.32
--- (LuaDBI's PostgreSQL driver takes 9999).
M.MAX_PARAMS = 999

--- The longest name, in bytes: PostgreSQL cuts longer ones (NAMEDATALEN - 1),
--- and both dialects get the same names.
M.MAX_NAME_BYTES = 63

-- A PostgreSQL URI shown without its password (user:password@ and
-- password=... in the query).
local function redact_uri(uri)
  return (uri:gsub("^(%a[%w+.-]*://[^/?#@:]*):[^/?#@]*@", "%1:***@"):gsub("([?&]password=)[^&#]*", "%1***"))
end

--- Reads a target: "sqlite:PATH", a bare PATH (SQLite too), or a libpq URI
--- "postgresql://user@host:port/db" ("postgres://" too; the host may be a
--- socket folder: "postgresql:///db?host=/run/postgresql"). Returns
--- { kind = "sqlite", path } or { kind = "postgresql", uri }, each with
--- `shown` (the target without its password), or nil and a "config" error.
function M.parse_target(target)
  if type(target) ~= "string" or target == "" then
    return nil, errors.new("config", "the export's target is empty: give sqlite:PATH or postgresql://...")
  end
  if target:find("%z") then
    return nil, errors.new("config", "the export's target holds a NUL byte")
  end
  local scheme = target:match("^(%a[%w+.-]*):")
  if scheme == nil then
    return { kind = "sqlite", path = target, shown = "sqlite:" .. target }
  end
  scheme = scheme:lower()
  if scheme == "sqlite" or scheme == "sqlite3" then
    local path = target:sub(#scheme + 2)
    if path == "" then
      return nil, errors.new("config", "the target 'sqlite:' names no file: give sqlite:PATH")
    end
    return { kind = "sqlite", path = path, shown = "sqlite:" .. path }
  end
  if scheme == "postgresql" or scheme == "postgres" then
    if not target:find("^%a[%w+.-]*://") then
      return nil, errors.new("config", ("the target '%s' is not a PostgreSQL URI: write postgresql://user@host:port/db")
        :format(errors.show(redact_uri(target))))
    end
    return { kind = "postgresql", uri = target, shown = redact_uri(target) }
  end
  return nil, errors.new("config", ("the target '%s' is neither sqlite:PATH nor postgresql://...")
    :format(errors.show(redact_uri(target))))
end

---------------------------------------------------------------------------
-- Values and names as each dialect takes them
---------------------------------------------------------------------------

-- The bytes of s with NUL bytes and invalid UTF-8 each replaced by U+FFFD:
-- PostgreSQL's text holds neither (the driver passes C strings, so a NUL
-- would silently cut the value).
local REPLACEMENT = "\239\191\189"
local function valid_utf8(s)
  local out, n, i, len, start = nil, 0, 1, #s, 1
  while true do
    local bad = s:find("[%z\128-\255]", i)
    if bad == nil then break end
    local c = s:byte(bad)
    local size = 0
    if c >= 0xC2 and c <= 0xDF then size = 2
    elseif c >= 0xE0 and c <= 0xEF then size = 3
    elseif c >= 0xF0 and c <= 0xF4 then size = 4 end
    local ok = size > 0 and bad + size - 1 <= len
    if ok then
      for k = bad + 1, bad + size - 1 do
        local b = s:byte(k)
        if b < 0x80 or b > 0xBF then ok = false break end
      end
      local c2 = s:byte(bad + 1)
      -- overlong forms, surrogates and code points past U+10FFFF
      if ok and ((c == 0xE0 and c2 < 0xA0) or (c == 0xED and c2 > 0x9F)
        or (c == 0xF0 and c2 < 0x90) or (c == 0xF4 and c2 > 0x8F)) then ok = false end
    end
    if ok then
      i = bad + size
    else
      out = out or {}
      n = n + 1
      out[n] = s:sub(start, bad - 1) .. REPLACEMENT
      i, start = bad + 1, bad + 1
    end
  end
  if out == nil then return s end
  out[n + 1] = s:sub(start)
  return table.concat(out)
end
M.valid_utf8 = valid_utf8

-- Numbers as PostgreSQL reads them: digits that give the same double back
-- (the driver's own conversion keeps 14 significant digits).
local function number_text(v)
  if v == math.floor(v) and v > -2 ^ 53 and v < 2 ^ 53 then return ("%d"):format(v) end
  for digits = 15, 17 do
    local text = ("%." .. digits .. "g"):format(v)
    if tonumber(text) == v then return text end
  end
  return ("%.17g"):format(v)
end

local DIALECTS = {}

DIALECTS.sqlite = {
  text_type = "TEXT", number_type = "NUMERIC", integer_type = "INTEGER",
  -- a double quote inside is doubled; SQLite takes every other byte
  quote_name = function(name) return '"' .. name:gsub('"', '""') .. '"' end,
  -- SQLite compares names without ASCII case
  same_name = function(a, b) return a:lower() == b:lower() end,
  -- an expression of a text's bytes in hexadecimal
  hex = function(expression) return "hex(" .. expression .. ")" end,
  -- the cells of a row of extruct_cells as one JSON object, column_key ->
  -- [status, answer, explanation, sources] (a GROUP BY's), the JSON
  -- columns put in as they are, not parsed again
  cells_json = function(q)
    return ("'{' || group_concat(json_quote(%s) || ':[' || json_quote(%s) || ',' || coalesce(%s, 'null') || ','"
      .. " || json_quote(%s) || ',' || coalesce(%s, 'null') || ']', ',') || '}'"):format(q("column_key"),
      q("status"), q("answer_json"), q("explanation"), q("sources_json"))
  end,
  clean = nil, -- binds text with its length, every byte as it is
  -- BEGIN IMMEDIATE takes the write lock now, so a concurrent export
  -- waits (busy_timeout) or fails before reading anything
  begin_sql = "BEGIN IMMEDIATE",
  setup = { "PRAGMA busy_timeout = 10000" },
  table_exists_sql = "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') AND name = ? COLLATE NOCASE",
  columns_sql = "SELECT name FROM pragma_table_info(?)",
}

-- LuaDBI's PostgreSQL driver turns each ? outside single quotes into $n,
-- inside double-quoted names too, and a ' flips what it counts as quoted:
-- a name holding ?, ' or \ is written as a Unicode-escaped name
-- (U&"..."), where they are \003F, \0027 and \\, so the SQL text holds
-- none of them but the placeholders.
local PG_ESCAPES = { ["?"] = "\\003F", ["'"] = "\\0027", ["\\"] = "\\\\", ['"'] = '""' }
DIALECTS.postgresql = {
  text_type = "text", number_type = "numeric", integer_type = "bigint",
  quote_name = function(name)
    if name:find("[?'\\]") then return 'U&"' .. name:gsub("[?'\\\"]", PG_ESCAPES) .. '"' end
    return '"' .. name:gsub('"', '""') .. '"'
  end,
  same_name = function(a, b) return a == b end,
  hex = function(expression) return "encode(convert_to(" .. expression .. ", 'UTF8'), 'hex')" end,
  cells_json = function(q)
    return ("'{' || string_agg(to_json(%s)::text || ':[' || coalesce(to_json(%s)::text, 'null') || ','"
      .. " || coalesce(%s, 'null') || ',' || coalesce(to_json(%s)::text, 'null') || ',' || coalesce(%s, 'null')"
      .. " || ']', ',') || '}'"):format(q("column_key"), q("status"), q("answer_json"), q("explanation"),
      q("sources_json"))
  end,
  clean = function(v)
    local kind = type(v)
    if kind == "string" then return valid_utf8(v) end
    if kind == "number" then return number_text(v) end
    return v
  end,
  begin_sql = "BEGIN",
  -- NOTICEs (a table that already exists...) would go to stderr
  setup = { "SET client_min_messages = warning" },
  table_exists_sql = "SELECT table_name FROM information_schema.tables"
    .. " WHERE table_schema = current_schema() AND table_name = ?",
  columns_sql = "SELECT column_name FROM information_schema.columns"
    .. " WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position",
}

---------------------------------------------------------------------------
-- A connection
---------------------------------------------------------------------------

local Database = {}
Database.__index = Database

-- The first line of a driver's message, without LuaDBI's prefixes.
local function driver_words(message)
  message = tostring(message or "unknown failure")
  message = message:gsub("^Failed to connect to database: ", ""):gsub("^Failed to prepare statement: ", "")
    :gsub("^Failed to execute statement: ", ""):gsub("^Error executing prepared statement: ", "")
  message = message:gsub("%s+$", ""):gsub("\n%s*", "; ")
  return message
end

function Database:fail(doing, message)
  return nil, errors.new("database", ("%s: %s: %s"):format(self.shown, doing, errors.show(driver_words(message), 300)))
end

--- Loads the driver for target (from parse_target) and connects. Returns
--- the database, or nil and an error: "config" when the driver is not
--- installed (naming the package), "database" when the connection fails.
function M.open(target)
  local driver = DRIVERS[target.kind]
  local loaded, module = pcall(require, driver.module)
  if not loaded or type(module) ~= "table" or type(module.New) ~= "function" then
    return nil, errors.new("config", ("exporting to %s needs LuaDBI's %s driver (the Lua module '%s'), which"
      .. " is not installed: install the Debian package %s (or the LuaRocks rock %s)"):format(
        driver.title, driver.title, driver.module, driver.package, driver.rock))
  end
  local self = setmetatable({ kind = target.kind, shown = target.shown, statements = {}, in_transaction = false },
    Database)
  local dialect = DIALECTS[target.kind]
  for name, value in pairs(dialect) do self[name] = value end
  local ok, connection, why = pcall(module.New, target.kind == "sqlite" and target.path or target.uri)
  if not ok or not connection then
    return self:fail("cannot connect", ok and why or connection)
  end
  self.connection = connection
  -- The transactions are this module's own: BEGIN, COMMIT and ROLLBACK as
  -- statements. (Turning autocommit on rolls back the transaction the
  -- driver keeps; SQLite's says false when there was none to roll back.)
  local set, why_not = pcall(connection.autocommit, connection, true)
  if not set then
    self:close()
    return self:fail("cannot connect", why_not)
  end
  for _, sql in ipairs(dialect.setup) do
    local done, err = self:run(sql)
    if not done then
      self:close()
      return nil, err
    end
  end
  return self
end

--- name as a quoted identifier of the dialect.
function Database:quote(name)
  return self.quote_name(name)
end

--- The statement for sql, prepared on first use and kept.
function Database:statement(sql)
  local statement = self.statements[sql]
  if statement then return statement end
  local ok, made, why = pcall(self.connection.prepare, self.connection, sql)
  if not ok or not made then return self:fail("cannot prepare a statement", ok and why or made) end
  self.statements[sql] = made
  return made
end

local unpack = table.unpack or unpack

-- Executes sql with the n values of params; returns the statement.
function Database:execute(sql, params, n)
  if self.connection == nil then return nil, errors.new("database", self.shown .. ": the connection is closed") end
  local statement, err = self:statement(sql)
  if not statement then return nil, err end
  local clean = self.clean
  if clean then
    local cleaned = {}
    for i = 1, n do cleaned[i] = clean(params[i]) end
    params = cleaned
  end
  local ok, done, why = pcall(statement.execute, statement, unpack(params, 1, n))
  if not ok or not done then return self:fail("a statement failed", ok and why or done) end
  return statement
end

--- Runs sql with the values given; true, or nil and an error.
function Database:run(sql, ...)
  local statement, err = self:execute(sql, { ... }, select("#", ...))
  if not statement then return nil, err end
  return true
end

--- Runs sql with the n values of the list params; true, or nil and an error.
function Database:run_list(sql, params, n)
  local statement, err = self:execute(sql, params, n or #params)
  if not statement then return nil, err end
  return true
end

--- The rows sql selects (each a list of its values, NULL as nil), or nil
--- and an error. params: a list of n values.
function Database:rows(sql, params, n)
  local statement, err = self:execute(sql, params or {}, n or (params and #params or 0))
  if not statement then return nil, err end
  local list = {}
  local ok, why = pcall(function()
    for row in statement:rows(false) do list[#list + 1] = row end
  end)
  if not ok then return self:fail("cannot read the rows of a query", why) end
  return list
end

function Database:begin()
  local ok, err = self:run(self.begin_sql)
  if not ok then return nil, err end
  self.in_transaction = true
  return true
end

function Database:commit()
  local ok, err = self:run("COMMIT")
  if not ok then return nil, err end
  self.in_transaction = false
  return true
end

--- Rolls back the transaction begun, if any; failures are ignored (a lost
--- connection has rolled it back on the server already).
function Database:rollback()
  if self.in_transaction and self.connection then
    self.in_transaction = false
    self:run("ROLLBACK")
  end
  return true
end

--- Closes the statements and the connection (rolling back what was not
--- committed); safe to call twice.
function Database:close()
  -- the rollback first: it is a statement too, and SQLite closes no
  -- connection that has one left unfinalized
  self:rollback()
  for sql, statement in pairs(self.statements) do
    pcall(statement.close, statement)
    self.statements[sql] = nil
  end
  if self.connection then
    pcall(self.connection.close, self.connection)
    self.connection = nil
  end
  return true
end

--- Whether a table (or view) of that name exists; nil and an error when
--- the database cannot say.
function Database:has_table(name)
  local rows, err = self:rows(self.table_exists_sql, { name }, 1)
  if not rows then return nil, err end
  return rows[1] ~= nil
end

--- The column names of table `name`, in order.
function Database:column_names(name)
  local rows, err = self:rows(self.columns_sql, { name }, 1)
  if not rows then return nil, err end
  local names = {}
  for i, row in ipairs(rows) do names[i] = row[1] end
  return names
end

M.Database = Database

return M
