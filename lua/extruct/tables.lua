-- The Tables API: one method per endpoint, each a few lines on
-- Client:request, plus iterators over the endpoints that page and
-- extruct.cell for reading a row's cells.

local core = require("extruct.core")
local client = require("extruct.client")
local errors = require("extruct.errors")
local url = require("extruct.url")

local Client = client.Client
local misuse, check_id = client.misuse, client.check_id
local null, array_mt = core.null, core.array_mt

local M = {}

---------------------------------------------------------------------------
-- Option checks
---------------------------------------------------------------------------

local is_string, is_boolean = client.is_string, client.is_boolean
local function whole(min, max)
  return function(v) return type(v) == "number" and v == math.floor(v) and v >= min and v <= max end
end
-- A string, or a list of strings with keys 1..n (a hole would drop the
-- strings after it).
local function string_list(v)
  if type(v) == "string" then return true end
  if type(v) ~= "table" then return false end
  local n = 0
  for _, item in pairs(v) do
    if type(item) ~= "string" then return false end
    n = n + 1
  end
  for i = 1, n do
    if v[i] == nil then return false end
  end
  return true
end
local function list_of_ids(v)
  return type(v) == "table" and string_list(v)
end
local function column_position(v)
  return type(v) == "boolean" or (type(v) == "string" and v ~= "")
end

local options = client.with_retry_options

-- The API's largest page of tables; a bigger limit is answered with 400.
M.MAX_LIST_LIMIT = 100
M.DEFAULT_PAGE_SIZE = 50

local NO_OPTIONS = options{}
local LIST_OPTIONS = options{
  kind = { check = is_string, want = 'a string ("generic", "company" or "people")' },
  scope = { check = is_string, want = 'a string ("personal" or "organization")' },
  search = { check = is_string, want = "a string" },
  tags = { check = string_list, want = "a string or a list of strings" },
  sort = { check = is_string, want = 'a string such as "-created_at" or "name"' },
  offset = { check = whole(0, math.huge), want = "a whole number >= 0" },
  limit = { check = whole(1, M.MAX_LIST_LIMIT), want = "a whole number from 1 to " .. M.MAX_LIST_LIMIT },
}
local ITER_TABLES_OPTIONS = options{}
for name, option in pairs(LIST_OPTIONS) do
  if name ~= "offset" then ITER_TABLES_OPTIONS[name] = option end
end
local CLONE_OPTIONS = options{ schema_only = { check = is_boolean, want = "a boolean" } }
local DATA_OPTIONS = options{
  offset = { check = whole(0, math.huge), want = "a whole number >= 0" },
  limit = { check = whole(1, math.huge), want = "a whole number >= 1" },
}
local ROWS_OPTIONS = options{ run = { check = is_boolean, want = "a boolean" } }
local COLUMNS_OPTIONS = options{
  insert_after = { check = column_position, want = "true, false or a column id" },
}
local RUN_OPTIONS = options{
  mode = { check = is_string, want = 'a string ("new", "all", "failed" or "stuck_failed_new")' },
  rows = { check = list_of_ids, want = "a list of row ids" },
  columns = { check = list_of_ids, want = "a list of column ids" },
}

local function check_table_arg(value, where, what)
  if type(value) ~= "table" then
    misuse(("extruct.%s: %s must be a table, got %s"):format(where, what, type(value)))
  end
end

---------------------------------------------------------------------------
-- The request path shared by every endpoint
---------------------------------------------------------------------------

local function list(t)
  return setmetatable(t or {}, array_mt)
end

local function table_path(id, ...)
  local path = "/v1/tables/" .. url.segment(id)
  for i = 1, select("#", ...) do
    path = path .. "/" .. url.segment((select(i, ...)))
  end
  return path
end

-- One call: the body (a Lua value) is encoded here, so a value JSON cannot
-- hold comes back as an "encode" error before anything is sent.
local function call(self, method, path, opts, how)
  local text
  if how.body ~= nil then
    local why
    text, why = core.encode(how.body)
    if text == nil then
      return nil, errors.new("encode", ("%s %s: the request body: %s"):format(method, path, why), { attempts = 0 })
    end
  end
  return self:request(method, path, client.pass_retry_options(opts, {
    query = how.query, body = text, subject = how.subject, expect = how.expect,
    retry_if = how.retry_if,
  }))
end

local function subject_table(id)
  return ("table '%s'"):format(errors.show(id))
end

-- Extruct documents that a 503 from create means nothing was created, so
-- that one failure, unlike others of a POST, is safe to send again.
local function nothing_created(err)
  return err.status == 503
end

---------------------------------------------------------------------------
-- Tables
---------------------------------------------------------------------------

local PAGE_HEADERS = { "total", "total_pages", "limit", "offset", "page" }

-- The x-extruct-pagination-* headers as numbers (nil when absent or not a number).
local function page_info(response)
  local page, headers = {}, response and response.headers or {}
  for _, name in ipairs(PAGE_HEADERS) do
    local value = headers["x-extruct-pagination-" .. name:gsub("_", "-")]
    page[name] = tonumber(type(value) == "string" and value:match("^%s*(%d+)%s*$") or nil)
  end
  return page
end

local function list_query(opts)
  return {
    kind = opts.kind, scope = opts.scope, search = opts.search, sort = opts.sort,
    tags = opts.tags, offset = opts.offset, limit = opts.limit,
  }
end

--- GET /v1/tables: one page of root tables, and the paging facts
--- { total, total_pages, limit, offset, page } from the response headers.
--- opts: kind, scope, search, tags (a list: every tag must match), sort,
--- offset, limit (1..100, the API's default 50).
function Client:list_tables(opts)
  opts = client.check_options(opts, LIST_OPTIONS, "extruct.list_tables")
  local body, response = call(self, "GET", "/v1/tables", opts, { query = list_query(opts) })
  if body == nil then return nil, response end
  if getmetatable(body) ~= array_mt then
    return nil, errors.from_bad_body(response, "expected a JSON array of tables")
  end
  return list(body), page_info(response)
end

--- POST /v1/tables: creates a table from spec { name, description, tags,
--- kind, notify, settings, column_configs }; returns its header.
function Client:create_table(spec, opts)
  check_table_arg(spec, "create_table", "the table's spec")
  opts = client.check_options(opts, NO_OPTIONS, "extruct.create_table")
  return call(self, "POST", "/v1/tables", opts, { body = spec, expect = "object", retry_if = nothing_created })
end

--- PATCH /v1/tables/{id}: changes { name, description, tags, columns_order }.
function Client:update_table(id, changes, opts)
  check_id(id, "update_table")
  check_table_arg(changes, "update_table", "the changes")
  opts = client.check_options(opts, NO_OPTIONS, "extruct.update_table")
  return call(self, "PATCH", table_path(id), opts, { body = changes, expect = "object", subject = subject_table(id) })
end

--- DELETE /v1/tables/{id}: returns the deleted table's header.
function Client:delete_table(id, opts)
  check_id(id, "delete_table")
  opts = client.check_options(opts, NO_OPTIONS, "extruct.delete_table")
  return call(self, "DELETE", table_path(id), opts, { subject = subject_table(id) })
end

--- POST /v1/tables/{id}/clone: a copy of the table; with schema_only = true,
--- of its columns only. Returns the new table's header.
function Client:clone_table(id, opts)
  check_id(id, "clone_table")
  opts = client.check_options(opts, CLONE_OPTIONS, "extruct.clone_table")
  return call(self, "POST", table_path(id, "clone"), opts, {
    query = { schema_only = opts.schema_only and "true" or nil },
    expect = "object", subject = subject_table(id),
  })
end

--- GET /v1/tables/{id}/data: the header and one page of `rows`.
--- opts: offset, limit.
function Client:get_table_data(id, opts)
  check_id(id, "get_table_data")
  opts = client.check_options(opts, DATA_OPTIONS, "extruct.get_table_data")
  return call(self, "GET", table_path(id, "data"), opts, {
    query = { offset = opts.offset, limit = opts.limit }, expect = "object", subject = subject_table(id),
  })
end

---------------------------------------------------------------------------
-- Rows
---------------------------------------------------------------------------

-- Rows for the API: a row object { data = {...}, metadata = {...}, id = ... }
-- goes as it is; any other table is a plain map of column key -> value.
local function row_list(rows, where)
  if type(rows) ~= "table" then
    misuse(("extruct.%s: rows must be a list of rows, got %s"):format(where, type(rows)))
  end
  local out = list()
  for i, row in ipairs(rows) do
    if type(row) ~= "table" then
      misuse(("extruct.%s: rows[%d] must be a table (a row or a map of column key -> value), got %s")
        :format(where, i, type(row)))
    end
    out[i] = type(row.data) == "table" and row or { data = row }
  end
  if next(rows) ~= nil and #out == 0 then
    misuse(("extruct.%s: rows must be a list (rows[1], rows[2], ...), not a map"):format(where))
  end
  return out
end

local function id_list(ids, where, what)
  if not list_of_ids(ids) then
    misuse(("extruct.%s: %s must be a list of id strings"):format(where, what))
  end
  local out = list()
  for i, id in ipairs(ids) do out[i] = id end
  return out
end

local function send_rows(self, method, id, rows, opts, where)
  check_id(id, where)
  rows = row_list(rows, where)
  opts = client.check_options(opts, ROWS_OPTIONS, "extruct." .. where)
  if #rows == 0 then return list() end -- nothing to send
  return call(self, method, table_path(id, "rows"), opts, {
    body = { rows = rows, run = opts.run or false }, subject = subject_table(id),
  })
end

--- POST /v1/tables/{id}/rows: adds rows; returns the created rows.
--- opts.run = true starts their cells at once.
function Client:add_rows(id, rows, opts)
  return send_rows(self, "POST", id, rows, opts, "add_rows")
end

--- PATCH /v1/tables/{id}/rows: rows with an `id` are updated, the others
--- created; opts.run as for add_rows.
function Client:update_rows(id, rows, opts)
  return send_rows(self, "PATCH", id, rows, opts, "update_rows")
end

--- DELETE /v1/tables/{id}/rows, the ids in a JSON body; returns what the API
--- says was deleted.
function Client:delete_rows(id, row_ids, opts)
  check_id(id, "delete_rows")
  row_ids = id_list(row_ids, "delete_rows", "row_ids")
  opts = client.check_options(opts, NO_OPTIONS, "extruct.delete_rows")
  if #row_ids == 0 then return list() end
  return call(self, "DELETE", table_path(id, "rows"), opts, { body = { rows = row_ids }, subject = subject_table(id) })
end

--- GET /v1/tables/{id}/rows/{row_id}: one row, with its run status.
function Client:get_row(id, row_id, opts)
  check_id(id, "get_row")
  check_id(row_id, "get_row", "row id")
  opts = client.check_options(opts, NO_OPTIONS, "extruct.get_row")
  return call(self, "GET", table_path(id, "rows", row_id), opts, {
    expect = "object", subject = ("row '%s' of table '%s'"):format(errors.show(row_id), errors.show(id)),
  })
end

---------------------------------------------------------------------------
-- Columns and runs
---------------------------------------------------------------------------

--- POST /v1/tables/{id}/columns: adds columns (a list of configs, or one
--- config); opts.insert_after: true, false or a column id. Returns the new
--- columns.
function Client:add_columns(id, column_configs, opts)
  check_id(id, "add_columns")
  check_table_arg(column_configs, "add_columns", "column_configs")
  opts = client.check_options(opts, COLUMNS_OPTIONS, "extruct.add_columns")
  if column_configs[1] == nil and next(column_configs) ~= nil then
    column_configs = { column_configs } -- one config
  end
  return call(self, "POST", table_path(id, "columns"), opts, {
    body = { column_configs = list(column_configs), insert_after = opts.insert_after },
    subject = subject_table(id),
  })
end

--- PATCH /v1/tables/{id}/columns/{column_id}: replaces the column's config.
function Client:update_column(id, column_id, config, opts)
  check_id(id, "update_column")
  check_id(column_id, "update_column", "column id")
  check_table_arg(config, "update_column", "the column's config")
  opts = client.check_options(opts, NO_OPTIONS, "extruct.update_column")
  return call(self, "PATCH", table_path(id, "columns", column_id), opts, {
    body = config, subject = ("column '%s' of table '%s'"):format(errors.show(column_id), errors.show(id)),
  })
end

--- DELETE /v1/tables/{id}/columns/{column_id}.
function Client:delete_column(id, column_id, opts)
  check_id(id, "delete_column")
  check_id(column_id, "delete_column", "column id")
  opts = client.check_options(opts, NO_OPTIONS, "extruct.delete_column")
  return call(self, "DELETE", table_path(id, "columns", column_id), opts, {
    subject = ("column '%s' of table '%s'"):format(errors.show(column_id), errors.show(id)),
  })
end

--- POST /v1/tables/{id}/run: starts a run. opts: mode ("new" by default,
--- "all", "failed", "stuck_failed_new"), rows and columns (lists of ids).
--- Returns the run { id, status, num_requested_cells, ... }.
function Client:run_table(id, opts)
  check_id(id, "run_table")
  opts = client.check_options(opts, RUN_OPTIONS, "extruct.run_table")
  return call(self, "POST", table_path(id, "run"), opts, {
    body = {
      mode = opts.mode or "new",
      rows = opts.rows and id_list(opts.rows, "run_table", "rows"),
      columns = opts.columns and id_list(opts.columns, "run_table", "columns"),
    },
    expect = "object", subject = subject_table(id),
  })
end

---------------------------------------------------------------------------
-- The account
---------------------------------------------------------------------------

--- GET /v1/user: the user, their organization and available credits.
function Client:get_user(opts)
  opts = client.check_options(opts, NO_OPTIONS, "extruct.get_user")
  return call(self, "GET", "/v1/user", opts, { expect = "object" })
end

--- GET /v1/healthcheck: the API's own health report.
function Client:healthcheck(opts)
  opts = client.check_options(opts, NO_OPTIONS, "extruct.healthcheck")
  return call(self, "GET", "/v1/healthcheck", opts, {})
end

---------------------------------------------------------------------------
-- Iterators
---------------------------------------------------------------------------

-- Whether two decoded JSON values are the same, key for key.
local function same_value(a, b)
  if a == b then return true end
  if type(a) ~= "table" or type(b) ~= "table" or getmetatable(a) ~= getmetatable(b) then return false end
  local n = 0
  for key, value in pairs(a) do
    local other = rawget(b, key)
    if other == nil or not same_value(value, other) then return false end
    n = n + 1
  end
  for _ in pairs(b) do
    n = n - 1
    if n < 0 then return false end
  end
  return n == 0
end

-- A generic-for iterator over the items of successive pages. fetch(offset)
-- returns the page's items and whether it was the last, or nil and an
-- error. A failure is handed to the loop once as false, err; then it ends.
-- A server that ignores the offset would send the same page forever: a page
-- whose first item has the id of the previous page's first, or that is the
-- previous page over again (items without ids), ends the loop with a
-- "decode" error.
local function pages(fetch, first_offset)
  local items, i, offset, finished = nil, 0, first_offset, false
  local previous, previous_first
  return function()
    while true do
      if items and i < #items then
        i = i + 1
        return items[i]
      end
      if finished then return nil end
      local page, last_or_err = fetch(offset)
      if page == nil then
        finished = true
        return false, last_or_err
      end
      local first = type(page[1]) == "table" and page[1].id or nil
      local same_first = first ~= nil and first == previous_first
      if same_first or (#page > 0 and previous ~= nil and same_value(page, previous)) then
        finished = true
        return false, errors.new("decode", ("the page at offset %d repeats the previous page%s:"
          .. " the server ignores the offset"):format(offset,
            same_first and (" (item '%s')"):format(errors.show(first)) or ""))
      end
      previous, previous_first = page, first
      items, i, offset, finished = page, 0, offset + #page, last_or_err
    end
  end
end

--- Every table of every page: `for t, err in client:iter_tables{...} do`.
--- opts as list_tables, without offset; limit is the page size (default 50).
function Client:iter_tables(opts)
  opts = client.check_options(opts, ITER_TABLES_OPTIONS, "extruct.iter_tables")
  local limit = opts.limit or M.DEFAULT_PAGE_SIZE
  return pages(function(offset)
    local query = {}
    for name, value in pairs(opts) do query[name] = value end
    query.offset, query.limit = offset, limit
    local page, info = self:list_tables(query)
    if page == nil then return nil, info end
    local last = #page < limit or #page == 0
      or (info.total ~= nil and offset + #page >= info.total)
    return page, last
  end, 0)
end

--- Every row of the table, page by page: `for row, err in client:iter_rows(id) do`.
--- opts: limit (rows a page, default 50), offset (where to start), and
--- the retry options.
function Client:iter_rows(id, opts)
  check_id(id, "iter_rows")
  opts = client.check_options(opts, DATA_OPTIONS, "extruct.iter_rows")
  local limit = opts.limit or M.DEFAULT_PAGE_SIZE
  return pages(function(offset)
    local data, err = self:get_table_data(id, client.pass_retry_options(opts, { offset = offset, limit = limit }))
    if data == nil then return nil, err end
    local rows = data.rows
    if type(rows) ~= "table" then
      return nil, errors.new("decode", ("table '%s': the data page at offset %d has no rows list")
        :format(errors.show(id), offset))
    end
    -- "Continue paging until returned rows are fewer than limit."
    return rows, #rows < limit
  end, opts.offset or 0)
end

---------------------------------------------------------------------------
-- Cells
---------------------------------------------------------------------------

local function absent(v)
  return v == nil or v == null
end

--- A cell of a row: answer, status, sources, explanation.
--- row is a row from /data or get_row (or its `data` map). An output cell
--- { status, value = { answer, sources, explanation } } gives its parts; a
--- plain value (an input cell) is its own answer, with no status; a missing
--- cell or a JSON null gives nil.
function M.cell(row, key)
  if type(row) ~= "table" then
    misuse("extruct.cell: expected a row (a table), got " .. type(row))
  end
  if type(key) ~= "string" then
    misuse("extruct.cell: expected a column key (a string), got " .. type(key))
  end
  local data = type(row.data) == "table" and row.data or row
  local cell = data[key]
  if absent(cell) then return nil end
  if type(cell) ~= "table" or getmetatable(cell) == array_mt or (cell.status == nil and cell.value == nil) then
    return cell -- a plain value
  end
  local status = type(cell.status) == "string" and cell.status or nil
  local value = cell.value
  if absent(value) then return nil, status end
  if type(value) ~= "table" or getmetatable(value) == array_mt or value.answer == nil then
    return value, status -- an answer without the usual wrapping
  end
  local sources = type(value.sources) == "table" and value.sources or nil
  local explanation = type(value.explanation) == "string" and value.explanation or nil
  local answer = value.answer
  if answer == null then answer = nil end
  return answer, status, sources, explanation
end

--- The methods that have module-level shortcuts on the default client.
M.METHODS = {
  "list_tables", "iter_tables", "create_table", "update_table", "delete_table", "clone_table",
  "get_table_data", "iter_rows", "add_rows", "update_rows", "delete_rows", "get_row",
  "add_columns", "update_column", "delete_column", "run_table", "get_user", "healthcheck",
}

return M
