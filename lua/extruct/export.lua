--- extruct.export: an Extruct table into a database (SQLite or PostgreSQL,
--- extruct.database), kept in sync by later exports. client:export_table
--- (lua/extruct/api/export.lua) checks the arguments and calls M.run.
---
--- What the database holds (docs/export.md):
---   <sql table>      row_id (the primary key), created_at, then one column
---                    per Extruct column, named by its key, holding the
---                    cell's answer (text, JSON text, or a number)
---   extruct_cells    table_id, row_id, column_key, status, answer_json,
---                    explanation, sources_json: every cell as it came
---   extruct_rows     table_id, row_id, parent_row_id, row_json: the rest
---                    of each row (metadata, parent_data ...) as JSON
---   extruct_columns  table_id, column_key, column_name, column_id, name,
---                    kind, type, position: which SQL column holds which key
---   extruct_exports  one row per export: table_id, sql_table, name, kind,
---                    exported_at, rows, inserted, updated, deleted,
---                    columns_added
---
--- An export is one transaction: the pages of /data are read and written
--- as they come, and the database changes only when the last one is in.
--- A row is written only when it differs from what the database holds of
--- it (its cells read back as one JSON array a row, made by the database;
--- compared as values: JSON objects have no key order), so a second
--- export with nothing changed writes nothing but its log line.

local cells = require("extruct.cells")
local core = require("extruct.core")
local database = require("extruct.database")
local endpoint = require("extruct.endpoint")
local errors = require("extruct.errors")
local interrupt = require("extruct.interrupt")

local null, array_mt, encode, decode = core.null, core.array_mt, core.encode, core.decode
local parts = cells.parts
local floor = math.floor

local M = {}

M.DEFAULT_PAGE_SIZE = 50

-- The tables every export shares, told apart by table_id.
local CELLS, ROWS, COLUMNS, EXPORTS = "extruct_cells", "extruct_rows", "extruct_columns", "extruct_exports"
M.SIDE_TABLES = { CELLS, ROWS, COLUMNS, EXPORTS }

---------------------------------------------------------------------------
-- Names
---------------------------------------------------------------------------

local MAX_NAME = database.MAX_NAME_BYTES

-- s cut to at most max bytes, not inside a UTF-8 character.
local function cut(s, max)
  if #s <= max then return s end
  local stop = max
  while stop > 0 do
    local b = s:byte(stop + 1)
    if b < 0x80 or b >= 0xC0 then break end
    stop = stop - 1
  end
  return s:sub(1, stop)
end

--- A name both dialects take for text: NUL bytes become "_", invalid UTF-8
--- U+FFFD, cut to 63 bytes; "" becomes `empty`.
function M.sql_name(text, empty)
  local name = cut(database.valid_utf8((text:gsub("%z", "_"))), MAX_NAME)
  if name == "" then name = empty end
  return name
end

-- base, or base_2, base_3 ... cut to fit: the first whose lower case is not
-- in `taken` (SQLite compares names without case); marks it taken.
local function unique_name(base, taken)
  local name, n = base, 1
  while taken[name:lower()] do
    n = n + 1
    local suffix = "_" .. n
    name = cut(base, MAX_NAME - #suffix) .. suffix
  end
  taken[name:lower()] = true
  return name
end

--- Why `name` cannot be the SQL table of an export into `kind` ("sqlite" or
--- "postgresql"), or nil.
function M.table_name_problem(name, kind)
  if name == "" then return "is empty" end
  if name:find("%z") then return "holds a NUL byte" end
  if #name > MAX_NAME then return ("is longer than %d bytes"):format(MAX_NAME) end
  if database.valid_utf8(name) ~= name then return "is not valid UTF-8" end
  for _, side in ipairs(M.SIDE_TABLES) do
    if name:lower() == side then return "is the name of a table every export keeps for itself" end
  end
  if kind == "sqlite" and name:lower():find("^sqlite_") then return "starts with sqlite_, which SQLite keeps for itself" end
  return nil
end

---------------------------------------------------------------------------
-- Values
---------------------------------------------------------------------------

-- The output formats whose answers are numbers: their columns are numeric.
local NUMBER_FORMATS = { number = true, numeric = true, money = true, grade = true }

--- "number" for a column whose answers are numbers (a criterion grade, an
--- agent whose output_format is number, numeric, money or grade), else "text".
function M.column_type(config)
  if config.kind == "criterion_grade" then return "number" end
  local value = config.value
  if config.kind == "agent" and type(value) == "table" and NUMBER_FORMATS[value.output_format] then
    return "number"
  end
  return "text"
end

-- JSON text in Lua, for the values the core's encoder refuses: an object
-- key holding a NUL byte (cJSON's keys are C strings). Never NaN or a
-- cycle: the values come from the decoder.
local ESCAPES = { ['"'] = '\\"', ["\\"] = "\\\\" }
local function escape(c) return ESCAPES[c] or ("\\u%04x"):format(c:byte()) end
local function lua_json(value)
  local kind = type(value)
  if kind == "string" then return '"' .. value:gsub('[%z\1-\31"\\\127]', escape) .. '"' end
  if kind ~= "table" then return (encode(value)) end
  local pieces = {}
  if getmetatable(value) == array_mt then
    for i = 1, #value do pieces[i] = lua_json(value[i]) end
    return "[" .. table.concat(pieces, ",") .. "]"
  end
  for key, item in pairs(value) do pieces[#pieces + 1] = lua_json(key) .. ":" .. lua_json(item) end
  return "{" .. table.concat(pieces, ",") .. "}"
end

-- The bytes a JSON string may hold as they are: printable ASCII but " and \.
local NOT_PLAIN = '[^ !#-%[%]-~]'

-- JSON text of a value. Strings of plain bytes and lists of them, most of
-- what cells hold, are written here: quicker than a trip through the
-- encoder's tree.
local function json_text(value)
  local kind = type(value)
  if kind == "string" then
    if not value:find(NOT_PLAIN) then return '"' .. value .. '"' end
  elseif kind == "table" and getmetatable(value) == array_mt then
    local plain = true
    for i = 1, #value do
      local item = value[i]
      if type(item) ~= "string" or item:find(NOT_PLAIN) then
        plain = false
        break
      end
    end
    if plain then return #value == 0 and "[]" or '["' .. table.concat(value, '","') .. '"]' end
  end
  return encode(value) or lua_json(value)
end

-- A number written as text: 12, 0.5, 1e+300.
local function number_text(v)
  return (encode(v))
end

-- A string that is a number in JSON's syntax, as a number; else nil.
local function number_in(s)
  if s:find("^%-?%d+%.?%d*$") or s:find("^%-?%d+%.?%d*[eE][%-+]?%d+$") then return tonumber(s) end
  return nil
end

--- What the SQL column of `column_type` holds for a cell: a failed or empty
--- cell is NULL (nil); a numeric column holds numbers (a number written as
--- a string too), NULL for anything else; a text column holds a string as
--- it is, a number or boolean as text, an object or array as JSON text
--- (`answer_json`, when the caller has it already).
function M.column_value(column_type, answer, status, answer_json)
  if answer == nil or answer == null or status == "failed" then return nil end
  local kind = type(answer)
  if column_type == "number" then
    if kind == "number" then return answer end
    if kind == "string" then return number_in(answer) end
    if kind == "boolean" then return answer and 1 or 0 end
    return nil
  end
  if kind == "string" then return answer end
  if kind == "number" then return number_text(answer) end
  if kind == "boolean" then return answer and "true" or "false" end
  return answer_json or json_text(answer)
end


-- Whether two decoded JSON values are the same: objects key for key,
-- arrays (their metatable array_mt) item for item.
local function same(a, b)
  if a == b then return true end
  if type(a) ~= "table" or type(b) ~= "table" then return false end
  local mt = getmetatable(a)
  if mt ~= getmetatable(b) then return false end
  if mt == array_mt then
    local n = #a
    if n ~= #b then return false end
    for i = 1, n do
      local x, y = a[i], b[i]
      if x ~= y and not same(x, y) then return false end
    end
    return true
  end
  if mt ~= nil then return false end -- (decoded values have no other metatable)
  local n = 0
  for key, x in next, a do
    local y = rawget(b, key)
    if x ~= y and (y == nil or not same(x, y)) then return false end
    n = n + 1
  end
  for _ in next, b do
    n = n - 1
    if n < 0 then return false end
  end
  return n == 0
end

-- The row without its cells: what extruct_rows keeps of it as JSON.
local function row_rest(row)
  local rest = {}
  for key, value in pairs(row) do
    if key ~= "data" then rest[key] = value end
  end
  return rest
end

-- Whether stored JSON text holds the value.
local function same_json(text, value)
  local stored = text and decode(text, false)
  return stored ~= nil and same(stored, value)
end

-- A stored value: JSON null for SQL NULL.
local function same_stored(old, new)
  if old == null then return new == nil end
  return old == new or (new ~= nil and same(old, new))
end

-- Whether the cells stored of a row (column_key -> { status, answer,
-- explanation, sources }, JSON null for SQL NULL; nil for none) are the
-- cells of its data now (a JSON null is no cell).
local function same_cells(stored, data)
  stored = stored or {}
  local n = 0
  for _ in next, stored do n = n + 1 end
  for key, value in next, data do
    if value ~= null then
      local old = stored[key]
      if old == nil then return false end
      local answer, status, sources, explanation = parts(value)
      if not (same_stored(old[1], status) and same_stored(old[3], explanation) and same_stored(old[2], answer)
        and same_stored(old[4], sources)) then
        return false
      end
      n = n - 1
    end
  end
  return n == 0
end

local function as_it_is(v) return v end

-- Text the database gave in hexadecimal (ids and keys are read that way:
-- the driver reads text up to a NUL byte).
local function unhex(text)
  return (text:gsub("%x%x", function(byte) return string.char(tonumber(byte, 16)) end))
end

---------------------------------------------------------------------------
-- Statements over many records
---------------------------------------------------------------------------

local function placeholders(n)
  return "(" .. ("?, "):rep(n - 1) .. "?)"
end

-- The largest power of two that is at most n (n >= 1).
local function power_of_two_at_most(n)
  local size = 1
  while size * 2 <= n do size = size * 2 end
  return size
end

-- Runs the statement make_sql(k) over `count` records of `width` values
-- each (the flat list `values`), `prefix` (a list) before each statement's
-- values, as many records a statement as fit the parameter limit, in
-- chunks of powers of two so that few statements are prepared. With
-- `collect`, returns the rows the statements select.
local function in_chunks(db, make_sql, values, width, count, prefix, collect)
  prefix = prefix or {}
  local size = power_of_two_at_most(floor((database.MAX_PARAMS - #prefix) / width))
  local done, found = 0, {}
  while done < count do
    while size > count - done do size = floor(size / 2) end
    local params, n = {}, #prefix
    for i = 1, n do params[i] = prefix[i] end
    for i = done * width + 1, (done + size) * width do
      n = n + 1
      params[n] = values[i]
    end
    if collect then
      local rows, err = db:rows(make_sql(size), params, n)
      if not rows then return nil, err end
      for _, row in ipairs(rows) do found[#found + 1] = row end
    else
      local ok, err = db:run_list(make_sql(size), params, n)
      if not ok then return nil, err end
    end
    done = done + size
  end
  return found
end

-- make_sql(k) for the statement whose text is head .. k groups .. tail,
-- each group `width` placeholders (a list when list_only: "(?, ?, ?)" for
-- IN), remembered by k.
local function statement_maker(head, width, tail, list_only)
  local made = {}
  return function(k)
    local sql = made[k]
    if sql == nil then
      if list_only then
        sql = head .. placeholders(k) .. tail
      else
        local group = placeholders(width)
        sql = head .. (group .. ", "):rep(k - 1) .. group .. tail
      end
      made[k] = sql
    end
    return sql
  end
end

---------------------------------------------------------------------------
-- The export
---------------------------------------------------------------------------

local Export = {}
Export.__index = Export

function Export:q(name) return self.db:quote(name) end

-- The tables every export shares, made when missing.
function Export:create_side_tables()
  local db = self.db
  local text, integer = db.text_type, db.integer_type
  local q = function(name) return db:quote(name) end
  local statements = {
    ("CREATE TABLE IF NOT EXISTS %s (%s %s NOT NULL, %s %s NOT NULL, %s %s, %s %s, %s %s NOT NULL, %s %s NOT NULL,"
      .. " %s %s, %s %s, %s %s, %s %s)"):format(q(EXPORTS), q("table_id"), text, q("sql_table"), text, q("name"), text,
      q("kind"), text, q("exported_at"), text, q("rows"), integer, q("inserted"), integer, q("updated"), integer,
      q("deleted"), integer, q("columns_added"), integer),
    ("CREATE TABLE IF NOT EXISTS %s (%s %s NOT NULL, %s %s NOT NULL, %s %s NOT NULL, %s %s, %s %s, %s %s,"
      .. " %s %s NOT NULL, %s %s, PRIMARY KEY (%s, %s))"):format(q(COLUMNS), q("table_id"), text, q("column_key"), text,
      q("column_name"), text, q("column_id"), text, q("name"), text, q("kind"), text, q("type"), text,
      q("position"), integer, q("table_id"), q("column_key")),
    ("CREATE TABLE IF NOT EXISTS %s (%s %s NOT NULL, %s %s NOT NULL, %s %s, %s %s NOT NULL, PRIMARY KEY (%s, %s))")
      :format(q(ROWS), q("table_id"), text, q("row_id"), text, q("parent_row_id"), text, q("row_json"), text,
        q("table_id"), q("row_id")),
    ("CREATE TABLE IF NOT EXISTS %s (%s %s NOT NULL, %s %s NOT NULL, %s %s NOT NULL, %s %s, %s %s, %s %s, %s %s,"
      .. " PRIMARY KEY (%s, %s, %s))"):format(q(CELLS), q("table_id"), text, q("row_id"), text, q("column_key"), text,
      q("status"), text, q("answer_json"), text, q("explanation"), text, q("sources_json"), text,
      q("table_id"), q("row_id"), q("column_key")),
  }
  for _, sql in ipairs(statements) do
    local ok, err = db:run(sql)
    if not ok then return nil, err end
  end
  return true
end

local function config_error(message)
  return nil, errors.new("config", message)
end

-- Refuses a SQL table that holds another Extruct table's export, or that
-- no export made; and one Extruct table exported under two names in one
-- database (their rows would share the side tables).
function Export:check_ownership()
  local db, id, name = self.db, self.id, self.sql_table
  local pairs_seen, err = db:rows(("SELECT DISTINCT %s, %s FROM %s"):format(db.hex(self:q("table_id")),
    self:q("sql_table"), self:q(EXPORTS)))
  if not pairs_seen then return nil, err end
  local owned, stored_id = false, self.as_stored(id)
  for _, pair in ipairs(pairs_seen) do
    local table_id, sql_table = unhex(pair[1]), pair[2]
    local same_table = db.same_name(sql_table, name)
    if table_id == stored_id and same_table then
      owned = true
    elseif table_id == stored_id then
      return config_error(("table '%s' is exported to the SQL table '%s' of this database: export it there"
        .. " again (--sql-table / sql_table), or into another database"):format(errors.show(id), errors.show(sql_table)))
    elseif same_table then
      return config_error(("the SQL table '%s' holds the export of table '%s': choose another name (--sql-table"
        .. " / sql_table)"):format(errors.show(sql_table), errors.show(table_id)))
    end
  end
  local exists
  exists, err = db:has_table(name)
  if exists == nil then return nil, err end
  if exists and not owned then
    return config_error(("the database already has a table '%s' that no export made: choose another name"
      .. " (--sql-table / sql_table)"):format(errors.show(name)))
  end
  self.table_exists = exists
  if not exists then
    -- the table was dropped (or never made): what the side tables hold of it goes too
    for _, side in ipairs({ CELLS, ROWS, COLUMNS }) do
      local ok, why = db:run(("DELETE FROM %s WHERE %s = ?"):format(self:q(side), self:q("table_id")), id)
      if not ok then return nil, why end
    end
  end
  return true
end

-- The SQL columns: the key -> column mapping kept in extruct_columns, the
-- table's new columns added (to the mapping, and to the SQL table, made
-- here when missing).
function Export:sync_columns(header_columns)
  local db, id = self.db, self.id
  local rows, err = db:rows(("SELECT %s, %s, %s FROM %s WHERE %s = ?"):format(db.hex(self:q("column_key")),
    self:q("column_name"), self:q("type"), self:q(COLUMNS), self:q("table_id")), { id }, 1)
  if not rows then return nil, err end
  -- by_key: the keys as the database holds them (PostgreSQL's text has no
  -- NUL byte and only valid UTF-8)
  local by_key, taken, columns = {}, { row_id = true, created_at = true }, {}
  local as_stored = self.as_stored
  for _, row in ipairs(rows) do
    local key = unhex(row[1])
    local column = { key = key, name = row[2], type = row[3] == "number" and "number" or "text" }
    by_key[key] = column
    taken[column.name:lower()] = true
    columns[#columns + 1] = column
  end
  local existing = {}
  if self.table_exists then
    local names
    names, err = db:column_names(self.sql_table)
    if not names then return nil, err end
    for _, name in ipairs(names) do
      existing[name:lower()] = true
      taken[name:lower()] = true
    end
  end
  -- the table's columns, in its order: new keys get a name and a type
  local described = {}
  for position, column in ipairs(header_columns) do
    local config = type(column) == "table" and column.config
    local key = type(config) == "table" and config.key
    local stored_key = type(key) == "string" and as_stored(key)
    if stored_key and not described[stored_key] then
      local known = by_key[stored_key]
      if known then
        known.key = key
      else
        known = { key = key, name = unique_name(M.sql_name(key, "column"), taken), type = M.column_type(config) }
        by_key[stored_key] = known
        columns[#columns + 1] = known
      end
      described[stored_key] = {
        id, key, known.name, type(column.id) == "string" and column.id or nil,
        type(config.name) == "string" and config.name or nil, type(config.kind) == "string" and config.kind or nil,
        known.type, position,
      }
    end
  end
  local q = function(name) return self:q(name) end
  if not self.table_exists then
    local definitions = { q("row_id") .. " " .. db.text_type .. " PRIMARY KEY", q("created_at") .. " " .. db.text_type }
    for _, column in ipairs(columns) do
      definitions[#definitions + 1] = q(column.name) .. " " .. (column.type == "number" and db.number_type or db.text_type)
      self.columns_added = self.columns_added + 1
    end
    local ok, why = db:run(("CREATE TABLE %s (%s)"):format(q(self.sql_table), table.concat(definitions, ", ")))
    if not ok then return nil, why end
  else
    for _, column in ipairs(columns) do
      if not existing[column.name:lower()] then
        local ok, why = db:run(("ALTER TABLE %s ADD COLUMN %s %s"):format(q(self.sql_table), q(column.name),
          column.type == "number" and db.number_type or db.text_type))
        if not ok then return nil, why end
        self.columns_added = self.columns_added + 1
      end
    end
  end
  -- the mapping, with each column's current name, kind and place (a
  -- column the table no longer has keeps what was said of it)
  local values, count = {}, 0
  for _, column in ipairs(columns) do
    local record = described[as_stored(column.key)]
    if record then
      for i = 1, 8 do values[count * 8 + i] = record[i] end
      count = count + 1
    end
  end
  if count > 0 then
    local names = { "table_id", "column_key", "column_name", "column_id", "name", "kind", "type", "position" }
    local quoted, updates = {}, {}
    for i, name in ipairs(names) do
      quoted[i] = q(name)
      if i > 2 then updates[#updates + 1] = ("%s = excluded.%s"):format(q(name), q(name)) end
    end
    local ok, why = in_chunks(db, statement_maker(("INSERT INTO %s (%s) VALUES "):format(q(COLUMNS),
      table.concat(quoted, ", ")), 8, (" ON CONFLICT (%s, %s) DO UPDATE SET %s"):format(q("table_id"),
      q("column_key"), table.concat(updates, ", "))), values, 8, count)
    if not ok then return nil, why end
  end
  self.columns = columns
  -- key -> the column, with its place among the SQL table's values
  self.column_at = {}
  for i, column in ipairs(columns) do
    column.position = i
    self.column_at[column.key] = column
  end
  -- the statements of the page writes
  local names, updates = { q("row_id"), q("created_at") }, { ("%s = excluded.%s"):format(q("created_at"), q("created_at")) }
  for _, column in ipairs(columns) do
    names[#names + 1] = q(column.name)
    updates[#updates + 1] = ("%s = excluded.%s"):format(q(column.name), q(column.name))
  end
  self.width = #columns + 2
  self.upsert_main = statement_maker(("INSERT INTO %s (%s) VALUES "):format(q(self.sql_table), table.concat(names, ", ")),
    self.width, (" ON CONFLICT (%s) DO UPDATE SET %s"):format(q("row_id"), table.concat(updates, ", ")))
  self.upsert_rows = statement_maker(("INSERT INTO %s (%s, %s, %s, %s) VALUES "):format(q(ROWS), q("table_id"),
    q("row_id"), q("parent_row_id"), q("row_json")), 4, (" ON CONFLICT (%s, %s) DO UPDATE SET %s = excluded.%s,"
    .. " %s = excluded.%s"):format(q("table_id"), q("row_id"), q("parent_row_id"), q("parent_row_id"),
    q("row_json"), q("row_json")))
  self.insert_cells = statement_maker(("INSERT INTO %s (%s, %s, %s, %s, %s, %s, %s) VALUES "):format(q(CELLS),
    q("table_id"), q("row_id"), q("column_key"), q("status"), q("answer_json"), q("explanation"),
    q("sources_json")), 7, "")
  local where_ids = (" WHERE %s = ? AND %s IN "):format(q("table_id"), q("row_id"))
  self.delete_cells = statement_maker("DELETE FROM " .. q(CELLS) .. where_ids, 1, "", true)
  self.delete_rows = statement_maker("DELETE FROM " .. q(ROWS) .. where_ids, 1, "", true)
  self.delete_main = statement_maker(("DELETE FROM %s WHERE %s IN "):format(q(self.sql_table), q("row_id")), 1, "", true)
  local hex_id = db.hex(q("row_id"))
  self.select_rows = statement_maker(("SELECT %s, %s FROM %s"):format(hex_id, q("row_json"), q(ROWS)) .. where_ids,
    1, "", true)
  -- each row's cells as one JSON object, made by the database
  self.select_cells = statement_maker(("SELECT %s, %s FROM %s"):format(hex_id, db.cells_json(q), q(CELLS))
    .. where_ids, 1, (" GROUP BY %s"):format(q("row_id")), true)
  self.select_main = statement_maker(("SELECT %s FROM %s WHERE %s IN "):format(hex_id, q(self.sql_table),
    q("row_id")), 1, "", true)
  return true
end

-- What the database holds of the rows `ids` (a list of ids as the
-- database holds them): which are in the SQL table (id -> true), the JSON
-- kept in extruct_rows of each, and each one's cells as a JSON object of
-- column_key -> [status, answer, explanation, sources].
function Export:stored(ids)
  local db, count = self.db, #ids
  local present, rest_json, cells_json = {}, {}, {}
  if not self.table_exists then return present, rest_json, cells_json end
  local rows, err = in_chunks(db, self.select_main, ids, 1, count, nil, true)
  if not rows then return nil, err end
  for _, row in ipairs(rows) do present[unhex(row[1])] = true end
  rows, err = in_chunks(db, self.select_rows, ids, 1, count, { self.id }, true)
  if not rows then return nil, err end
  for _, row in ipairs(rows) do rest_json[unhex(row[1])] = row[2] end
  rows, err = in_chunks(db, self.select_cells, ids, 1, count, { self.id }, true)
  if not rows then return nil, err end
  for _, row in ipairs(rows) do cells_json[unhex(row[1])] = row[2] end
  return present, rest_json, cells_json
end

-- Writes one page of rows: those that differ from what the database holds.
function Export:write_page(rows)
  local id, db, as_stored = self.id, self.db, self.as_stored
  local ids, fresh = {}, {} -- (ids: as the database holds them)
  for _, row in ipairs(rows) do
    local row_id = type(row) == "table" and row.id
    if type(row_id) ~= "string" or row_id == "" then
      return nil, errors.new("decode", ("table '%s': a row of /data has no id (row %d of the export)")
        :format(errors.show(id), self.read + #ids + 1))
    end
    local key = as_stored(row_id)
    if not self.seen[key] then -- (a row that moved to a later page while paging is taken once)
      self.seen[key] = true
      ids[#ids + 1] = key
      fresh[#fresh + 1] = row
    end
  end
  self.read = self.read + #fresh
  if #fresh == 0 then return true end
  local present, rest_json, cells_json = self:stored(ids)
  if not present then return nil, rest_json end
  local main, row_values, cell_values, stale = {}, {}, {}, {}
  local n_main, n_rows, n_cells, n_stale, changed = 0, 0, 0, 0, 0
  local column_at, width = self.column_at, self.width
  for i, row in ipairs(fresh) do
    local row_id, stored_id = row.id, ids[i]
    local data = type(row.data) == "table" and row.data or {}
    local rest = row_rest(row)
    local stored_cells = cells_json[stored_id]
    if not (present[stored_id] and same_json(rest_json[stored_id], rest)
      and same_cells(stored_cells and decode(stored_cells, false), data)) then
      changed = changed + 1
      if present[stored_id] then self.updated = self.updated + 1 else self.inserted = self.inserted + 1 end
      -- the SQL table's row: a cell's column left out is NULL (nil)
      local main_base = n_main * width
      main[main_base + 1] = row_id
      main[main_base + 2] = type(row.created_at) == "string" and row.created_at or nil
      n_main = n_main + 1
      local base = n_rows * 4
      row_values[base + 1], row_values[base + 2] = id, row_id
      row_values[base + 3] = type(row.parent_row_id) == "string" and row.parent_row_id or nil
      row_values[base + 4] = json_text(rest)
      n_rows = n_rows + 1
      for key, value in pairs(data) do
        if type(key) == "string" and value ~= null then
          local answer, status, sources, explanation = parts(value)
          local answer_json = answer ~= nil and json_text(answer) or nil
          base = n_cells * 7
          cell_values[base + 1], cell_values[base + 2], cell_values[base + 3] = id, row_id, key
          cell_values[base + 4] = status
          cell_values[base + 5] = answer_json
          cell_values[base + 6] = explanation
          cell_values[base + 7] = sources ~= nil and json_text(sources) or nil
          n_cells = n_cells + 1
          local column = column_at[key]
          if column then
            main[main_base + 2 + column.position] = M.column_value(column.type, answer, status, answer_json)
          end
        end
      end
      if stored_cells then
        n_stale = n_stale + 1
        stale[n_stale] = stored_id
      end
    end
  end
  local ok, err = true, nil
  if n_stale > 0 then ok, err = in_chunks(db, self.delete_cells, stale, 1, n_stale, { id }) end
  if ok and n_main > 0 then ok, err = in_chunks(db, self.upsert_main, main, width, n_main) end
  if ok and n_rows > 0 then ok, err = in_chunks(db, self.upsert_rows, row_values, 4, n_rows) end
  if ok and n_cells > 0 then ok, err = in_chunks(db, self.insert_cells, cell_values, 7, n_cells) end
  if not ok then return nil, err end
  self.written = self.written + changed
  return true
end

-- Deletes the rows the table no longer has.
function Export:delete_gone()
  local db, id = self.db, self.id
  local rows, err = db:rows(("SELECT %s FROM %s WHERE %s = ?"):format(db.hex(self:q("row_id")), self:q(ROWS),
    self:q("table_id")), { id }, 1)
  if not rows then return nil, err end
  local gone = {}
  for _, row in ipairs(rows) do
    local row_id = unhex(row[1])
    if not self.seen[row_id] then gone[#gone + 1] = row_id end
  end
  if #gone == 0 then return true end
  local ok
  ok, err = in_chunks(db, self.delete_main, gone, 1, #gone)
  if ok then ok, err = in_chunks(db, self.delete_rows, gone, 1, #gone, { id }) end
  if ok then ok, err = in_chunks(db, self.delete_cells, gone, 1, #gone, { id }) end
  if not ok then return nil, err end
  self.deleted = #gone
  return true
end

function Export:log(header)
  local q = function(name) return self:q(name) end
  return self.db:run(("INSERT INTO %s (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
    :format(q(EXPORTS), q("table_id"), q("sql_table"), q("name"), q("kind"), q("exported_at"), q("rows"),
      q("inserted"), q("updated"), q("deleted"), q("columns_added")),
    self.id, self.sql_table, type(header.name) == "string" and header.name or nil,
    type(header.kind) == "string" and header.kind or nil, os.date("!%Y-%m-%dT%H:%M:%SZ"), self.read,
    self.inserted, self.updated, self.deleted, self.columns_added)
end

function Export:report(header, now)
  local on_progress = self.opts.on_progress
  if on_progress == nil then return true end
  local status = type(header) == "table" and type(header.status) == "table" and header.status or {}
  local total = status.num_rows
  local go_on = on_progress({
    table = self.id, fetched = self.fetched, read = self.read, written = self.written,
    total = type(total) == "number" and total or nil, seconds = now() - self.started,
  })
  if go_on == false then
    return nil, errors.new("cancelled", ("the export of table '%s' was cancelled by on_progress after %d rows;"
      .. " the database is as it was"):format(errors.show(self.id), self.read))
  end
  return true
end

-- The whole export, in the transaction `db` has begun; the summary, or nil and an error.
function Export:run(client, now)
  local id, opts, limit = self.id, self.opts, self.opts.page_size or M.DEFAULT_PAGE_SIZE
  local ok, err = self:create_side_tables()
  if ok then ok, err = self:check_ownership() end
  if not ok then return nil, err end
  local header, last_page
  local rows = endpoint.pages(function(offset)
    local page, why = client:get_table_data(id, endpoint.pass_retry_options(opts, { offset = offset, limit = limit }))
    if not page then return nil, why end
    if type(page.rows) ~= "table" then
      return nil, errors.new("decode", ("table '%s': the data page at offset %d has no rows list")
        :format(errors.show(id), offset))
    end
    header, last_page = header or page, page
    self.fetched = self.fetched + #page.rows
    return page.rows, #page.rows < limit
  end, 0)
  local batch, done = {}, false
  while not done do
    local row, why = rows()
    if row == false then return nil, why end
    if row ~= nil then batch[#batch + 1] = row end
    done = row == nil
    if self.columns == nil and header then
      local columns = header.columns
      if type(columns) ~= "table" then
        local t
        t, err = client:get_table(id, endpoint.pass_retry_options(opts, {}))
        if not t then return nil, err end
        columns = type(t.columns) == "table" and t.columns or {}
      end
      ok, err = self:sync_columns(columns)
      if not ok then return nil, err end
    end
    if #batch >= limit or (done and #batch > 0) then
      ok, err = self:write_page(batch)
      if ok then ok, err = self:report(last_page, now) end
      if not ok then return nil, err end
      batch = {}
    end
    if interrupt.pending() then return nil, interrupt.error(interrupt.WORDS) end -- (M.run words it)
  end
  -- a short read would delete rows that are still there
  local status = type(last_page.status) == "table" and last_page.status or {}
  if type(status.num_rows) == "number" and self.read < status.num_rows then
    return nil, errors.new("decode", ("table '%s' has %d rows but its pages held %d: the table changed while it"
      .. " was read, or the API sent shorter pages than asked (try a smaller page size); nothing was written")
      :format(errors.show(id), status.num_rows, self.read))
  end
  if not opts.keep_deleted then
    ok, err = self:delete_gone()
    if not ok then return nil, err end
  end
  ok, err = self:log(header)
  if not ok then return nil, err end
  return {
    table = id, sql_table = self.sql_table, target = self.db.shown, rows = self.read, inserted = self.inserted,
    updated = self.updated, deleted = self.deleted, columns_added = self.columns_added,
  }
end

--- Exports table `id` into `target` (see extruct.database.parse_target).
--- opts (checked by the caller): sql_table, keep_deleted, page_size,
--- on_progress, and the retry options. Returns the summary, or nil and an
--- error; the database changes only on success.
function M.run(client, id, target, opts)
  local where, err = database.parse_target(target)
  if not where then return nil, err end
  local sql_table = opts.sql_table or M.sql_name(id, "extruct_table")
  local problem = M.table_name_problem(sql_table, where.kind)
  if problem then
    return nil, errors.new("config", ("the SQL table name '%s' %s: choose another (--sql-table / sql_table)")
      :format(errors.show(sql_table), problem))
  end
  local db
  db, err = database.open(where)
  if not db then return nil, err end
  local _, now = endpoint.sleep_and_now(client, opts)
  local export = setmetatable({
    db = db, id = id, sql_table = sql_table, opts = opts, started = now(), seen = {}, as_stored = db.clean or as_it_is,
    fetched = 0, read = 0, written = 0, inserted = 0, updated = 0, deleted = 0, columns_added = 0,
  }, Export)
  -- Whatever happens, the transaction ends here: committed after a whole
  -- export, rolled back otherwise (an error raised inside too, which then
  -- goes on up).
  local ran, summary
  ran, summary, err = pcall(function()
    local begun, why = db:begin()
    if not begun then return nil, why end
    return export:run(client, now)
  end)
  -- Ctrl-C (extruct.interrupt) rolls back too: a request it cut short, or
  -- one that came while the rows were being written.
  if ran and (summary or (err and err.interrupted)) and interrupt.pending() then
    summary, err = nil, interrupt.error(("the export of table '%s' was %s after %d rows; the database is as it was")
      :format(errors.show(id), interrupt.WORDS, export.read))
  end
  if ran and summary then
    local committed
    committed, err = db:commit()
    if not committed then summary = nil end
  end
  db:close()
  if not ran then error(summary, 0) end
  if not summary then return nil, err end
  summary.seconds = now() - export.started
  return summary
end

return M
