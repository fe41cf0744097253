-- The Tables API: one method per endpoint, each a few lines on
-- extruct.endpoint, plus iterators over the endpoints that page.
-- extruct.client installs these methods on every client.
--
-- Every method returns one value on success (the decoded answer, or true
-- where the API may answer with no body) and nil, err on failure.

local cells = require("extruct.cells")
local endpoint = require("extruct.endpoint")
local errors = require("extruct.errors")
local linear = require("extruct.text")

local call, check_id, check_options = endpoint.call, endpoint.check_id, endpoint.check_options
local misuse, list, path = endpoint.misuse, endpoint.list, endpoint.path
local subject_table = endpoint.subject_table
local nothing_created = endpoint.nothing_created
local is_string, is_boolean, whole = endpoint.is_string, endpoint.is_boolean, endpoint.whole
local options = endpoint.with_retry_options

-- The module-level shortcuts of these methods, on the default client:
-- extruct.get_table(id) is extruct.default_client():get_table(id).
-- luacheck: push ignore 631
---@class extruct
---@field get_table fun(id: string, opts?: extruct.Options): extruct.Table?, extruct.Error?
---@field list_tables fun(opts?: extruct.ListTablesOptions): extruct.Table[]?, extruct.Error?
---@field iter_tables fun(opts?: extruct.IterTablesOptions): extruct.Iterator
---@field create_table fun(spec: extruct.TableSpec, opts?: extruct.Options): extruct.Table?, extruct.Error?
---@field update_table fun(id: string, changes: extruct.TableChanges, opts?: extruct.Options): extruct.Table|true|nil, extruct.Error?
---@field delete_table fun(id: string, opts?: extruct.Options): extruct.Table|true|nil, extruct.Error?
---@field clone_table fun(id: string, opts?: extruct.CloneOptions): extruct.Table?, extruct.Error?
---@field get_table_data fun(id: string, opts?: extruct.DataOptions): extruct.TableData?, extruct.Error?
---@field iter_rows fun(id: string, opts?: extruct.DataOptions): extruct.Iterator
---@field add_rows fun(id: string, rows: table[], opts?: extruct.RowsOptions): extruct.Row[]|true|nil, extruct.Error?
---@field update_rows fun(id: string, rows: table[], opts?: extruct.RowsOptions): extruct.Row[]|true|nil, extruct.Error?
---@field delete_rows fun(id: string, row_ids: string[], opts?: extruct.Options): table|true|nil, extruct.Error?
---@field get_row fun(id: string, row_id: string, opts?: extruct.Options): extruct.Row?, extruct.Error?
---@field add_columns fun(id: string, column_configs: table|table[], opts?: extruct.ColumnOptions): extruct.Column[]|true|nil, extruct.Error?
---@field update_column fun(id: string, column_id: string, config: table, opts?: extruct.Options): extruct.Column|true|nil, extruct.Error?
---@field delete_column fun(id: string, column_id: string, opts?: extruct.Options): table|true|nil, extruct.Error?
---@field run_table fun(id: string, opts?: extruct.RunOptions): extruct.Run?, extruct.Error?
-- luacheck: pop

---@class extruct.Client
local methods = {}

-- What the Tables API answers: the JSON as decoded, typed for editors.
-- A field the API sends as null holds extruct.null (a light userdata,
-- which is truthy: compare with it); the API may add fields.

--- A table as get_table answers it (the API's TableHeaderWithStatusOutput).
---@class extruct.Table
---@field id string
---@field created_at string When it was made (ISO 8601, UTC)
---@field name string
---@field description string|lightuserdata The description, or extruct.null
---@field tags string[]|lightuserdata The tags, or extruct.null
---@field kind "generic"|"company"|"people"
---@field columns extruct.Column[] In the table's order
---@field owner { id: string, email: string }
---@field child_relationships { table_id: string, relationship_type: string }[] Tables made from this one
---@field parent_relationships { table_id: string, relationship_type: string }[] Tables this one was made from
---@field status extruct.TableStatus The run status: idle when run_status is "idle" and no cell is in progress
---@field notify? boolean
---@field settings? table

--- A table's run status (TableStatus in the API's schema).
---@class extruct.TableStatus
---@field run_status "running"|"idle"
---@field num_rows integer
---@field num_columns integer
---@field num_input_columns integer
---@field num_output_columns integer
---@field num_cells_completed integer Non-input cells done
---@field num_cells_in_progress integer Non-input cells at work
---@field num_cells_failed? integer

--- A column: its id and its config (docs/api.md#column-configs).
---@class extruct.Column
---@field id string
---@field created_at string
---@field config extruct.ColumnConfig

--- The kinds of column (docs/api.md#column-configs).
---@alias extruct.ColumnKind
---| "input" # filled in by you
---| "agent" # an agent answers value.prompt
---| "criterion_grade" # a grade from 1 to 5 against value.criterion
---| "company_people_finder" # people at the row's company (a child people table)
---| "discovery_scores" # a Deep Search's grades, one per criterion
---| "company_name" # built in: the company's name
---| "company_website" # built in: its website
---| "company_profile" # built in: its profile
---| "email_finder" # a person's work e-mail
---| "phone_finder" # a person's phone
---| "reverse_email_lookup" # a LinkedIn profile from an e-mail address

--- A column's config: what create_table's column_configs and add_columns take.
---@class extruct.ColumnConfig
---@field kind extruct.ColumnKind
---@field name string
---@field key string The key of its cells in every row's data
---@field value? table agent: { agent_type, prompt, output_format, labels, output_schema, extra_dependencies };
---criterion_grade: { criterion }; company_people_finder: { roles, provider, max_results }
---@field criteria? table discovery_scores: criterion key -> { key, name, criterion }
---@field email_column_key? string reverse_email_lookup: the column of the e-mail addresses

--- get_table_data's answer: the header with a page of rows.
---@class extruct.TableData: extruct.Table
---@field rows extruct.Row[] One page of rows
---@field discovery_tasks? table[] Deep Search tasks importing into the table

--- A row: its cells under data, by column key (extruct.cell reads them).
---@class extruct.Row
---@field id string
---@field created_at string
---@field data table<string, extruct.Cell|any> Column key -> its cell (an input's may be a plain value)
---@field metadata table
---@field is_missing_inputs? boolean
---@field parent_row_id? string|lightuserdata
---@field parent_data? table|lightuserdata
---@field status? "running"|"idle" get_row: the row's own run status
---@field columns? table get_row: the columns of its cells

--- A cell of a row: what an agent answered, and how it went.
---@class extruct.Cell
---@field status "done"|"failed"|"requested"|"in_progress"|string
---@field value? { answer: any, explanation?: string, sources?: string[], source?: string[] }

--- A run, as run_table answers it.
---@class extruct.Run
---@field id string
---@field created_at string
---@field status "created"|"in_progress"|"done"|"failed"
---@field mode "new"|"all"|"failed"|"stuck_failed_new"
---@field num_requested_cells integer
---@field rows? string[]
---@field columns? string[]

---------------------------------------------------------------------------
-- Option checks
---------------------------------------------------------------------------

-- The API's largest page of tables; a bigger limit is answered with 400.
local MAX_LIST_LIMIT = 100
local DEFAULT_PAGE_SIZE = 50

local function column_position(v)
  return type(v) == "boolean" or (type(v) == "string" and v ~= "")
end
local function any_table(v) return type(v) == "table" end

--- The options of list_tables: filters, order and one page.
---@class extruct.ListTablesOptions: extruct.IterTablesOptions
---@field offset? integer Where the page starts (>= 0)

--- The options of iter_tables (list_tables' without offset; limit is the page size, default 50).
---@class extruct.IterTablesOptions: extruct.Options
---@field kind? "generic"|"company"|"people"
---@field scope? "personal"|"organization"
---@field search? string Text to look for
---@field tags? string|string[] A table carrying any of them matches
---@field sort? "-created_at"|"created_at"|"name"|"-name"|"num_rows"|"-num_rows"
---@field view? "full"|"minimal"
---@field limit? integer Tables a page, 1 to 100 (the API's default 50)

--- The options of clone_table.
---@class extruct.CloneOptions: extruct.Options
---@field schema_only? boolean true copies the columns without the rows

--- The options of get_table_data and iter_rows.
---@class extruct.DataOptions: extruct.Options
---@field offset? integer The first row (>= 0)
---@field limit? integer Rows a page (>= 1; iter_rows' default 50)
---@field columns? string[] Column keys: each row's data keeps only those

--- The options of add_rows and update_rows.
---@class extruct.RowsOptions: extruct.Options
---@field run? boolean true starts the rows' cells at once

--- The options of add_columns.
---@class extruct.ColumnOptions: extruct.Options
---@field insert_after? boolean|string true, false or the id of the column to insert after

--- The options of run_table.
---@class extruct.RunOptions: extruct.Options
---@field mode? "new"|"all"|"failed"|"stuck_failed_new" Which cells run (default "new": those never run)
---@field rows? string[] Only these rows
---@field columns? string[] Only these columns

--- What create_table sends: a new table's spec.
---@class extruct.TableSpec
---@field name string
---@field description? string
---@field tags? string[]
---@field kind? "generic"|"company"|"people"
---@field notify? boolean
---@field settings? table
---@field column_configs? table[] Column configs, as in get_table's columns[i].config

--- What update_table sends: the fields to change.
---@class extruct.TableChanges
---@field name? string
---@field description? string
---@field tags? string[]
---@field columns_order? string[] Every column id of the table, in the new order

local NO_OPTIONS = options{}
local LIST_OPTIONS = options{
  kind = { check = is_string, want = 'a string ("generic", "company" or "people")' },
  scope = { check = is_string, want = 'a string ("personal" or "organization")' },
  search = { check = is_string, want = "a string" },
  tags = { check = endpoint.string_list, want = "a string or a list of strings" },
  sort = { check = is_string, want = 'a string such as "-created_at" or "name"' },
  view = { check = is_string, want = 'a string ("full" or "minimal")' },
  offset = { check = whole(0, math.huge), want = "a whole number >= 0" },
  limit = { check = whole(1, MAX_LIST_LIMIT), want = "a whole number from 1 to " .. MAX_LIST_LIMIT },
}
local ITER_TABLES_OPTIONS = options{}
for name, option in pairs(LIST_OPTIONS) do
  if name ~= "offset" then ITER_TABLES_OPTIONS[name] = option end
end
local CLONE_OPTIONS = options{ schema_only = { check = is_boolean, want = "a boolean" } }
local DATA_OPTIONS = options{
  offset = { check = whole(0, math.huge), want = "a whole number >= 0" },
  limit = { check = whole(1, math.huge), want = "a whole number >= 1" },
  -- (what is in the list is checked by cells.check_keys, with its own words)
  columns = { check = any_table, want = "a non-empty list of column keys (strings)" },
}
local ROWS_OPTIONS = options{ run = { check = is_boolean, want = "a boolean" } }
local COLUMNS_OPTIONS = options{
  insert_after = { check = column_position, want = "true, false or a column id" },
}
local RUN_OPTIONS = options{
  mode = { check = is_string, want = 'a string ("new", "all", "failed" or "stuck_failed_new")' },
  rows = { check = endpoint.list_of_strings, want = "a list of row ids" },
  columns = { check = endpoint.list_of_strings, want = "a list of column ids" },
}

local function table_path(id, ...)
  return path("/v1/tables", id, ...)
end

---------------------------------------------------------------------------
-- Tables
---------------------------------------------------------------------------

--- GET /v1/tables/{id}: the table's header and run status.
--- opts: retries, backoff, sleep, now (default: the client's).
---@param id string The table's id
---@param opts? extruct.Options
---@return extruct.Table? t The table's header and run status
---@return extruct.Error? err
function methods:get_table(id, opts)
  check_id(id, "get_table")
  opts = check_options(opts, NO_OPTIONS, "extruct.get_table")
  return endpoint.fetch_table(self, id, opts)
end

local PAGE_HEADERS = { "total", "total_pages", "limit", "offset", "page" }

-- The x-extruct-pagination-* headers as numbers (nil when absent or not a number).
local function page_info(response)
  local page, headers = {}, response and response.headers or {}
  for _, name in ipairs(PAGE_HEADERS) do
    local value = headers["x-extruct-pagination-" .. name:gsub("_", "-")]
    page[name] = linear.whole_number(value)
  end
  return page
end

-- One page of tables and its paging facts (from this call's own response),
-- or nil and an error.
local function list_page(self, opts)
  local page, err, response = endpoint.exchange(self, "GET", "/v1/tables", opts, {
    query = {
      kind = opts.kind, scope = opts.scope, search = opts.search, sort = opts.sort, view = opts.view,
      tags = opts.tags, offset = opts.offset, limit = opts.limit,
    },
    answer = "array",
  })
  if page == nil then return nil, err end
  local info = page_info(response)
  -- (the running coroutine's last_response is this call's: no yield since)
  local last = self.last_response
  if last then last.page = info end
  return page, info
end

--- GET /v1/tables: one page of root tables (an array). Its paging facts
--- { total, total_pages, limit, offset, page }, from the response headers,
--- are in client.last_response.page. opts: kind, scope, search, tags (a
--- list: a table carrying any of them matches), sort, view ("full" or
--- "minimal"), offset, limit (1..100, the API's default 50).
---@param opts? extruct.ListTablesOptions
---@return extruct.Table[]? tables One page of table headers, an array
---@return extruct.Error? err
function methods:list_tables(opts)
  opts = check_options(opts, LIST_OPTIONS, "extruct.list_tables")
  local page, err = list_page(self, opts)
  if page == nil then return nil, err end
  return page
end

--- Every table of every page: `for t, err in client:iter_tables{...} do`.
--- opts as list_tables, without offset; limit is the page size (default 50).
---@param opts? extruct.IterTablesOptions
---@return extruct.Iterator tables
function methods:iter_tables(opts)
  opts = check_options(opts, ITER_TABLES_OPTIONS, "extruct.iter_tables")
  local limit = opts.limit or DEFAULT_PAGE_SIZE
  return endpoint.pages(function(offset)
    local query = {}
    for name, value in pairs(opts) do query[name] = value end
    query.offset, query.limit = offset, limit
    local page, info = list_page(self, query)
    if page == nil then return nil, info end
    local last = #page < limit or #page == 0
      or (info.total ~= nil and offset + #page >= info.total)
    return page, last
  end, 0)
end

--- POST /v1/tables: creates a table from spec { name, description, tags,
--- kind, notify, settings, column_configs }; returns its header.
---@param spec extruct.TableSpec
---@param opts? extruct.Options
---@return extruct.Table? t The new table's header
---@return extruct.Error? err
function methods:create_table(spec, opts)
  endpoint.check_table_arg(spec, "create_table", "the table's spec")
  opts = check_options(opts, NO_OPTIONS, "extruct.create_table")
  return call(self, "POST", "/v1/tables", opts, { body = spec, answer = "object", retry_if = nothing_created })
end

--- PATCH /v1/tables/{id}: changes { name, description, tags, columns_order };
--- returns the updated header (true when the API answers with no body).
---@param id string The table's id
---@param changes extruct.TableChanges
---@param opts? extruct.Options
---@return extruct.Table|true|nil t The updated header
---@return extruct.Error? err
function methods:update_table(id, changes, opts)
  check_id(id, "update_table")
  endpoint.check_table_arg(changes, "update_table", "the changes")
  opts = check_options(opts, NO_OPTIONS, "extruct.update_table")
  return call(self, "PATCH", table_path(id), opts, {
    body = changes, answer = "object", optional = true, subject = subject_table(id),
  })
end

--- DELETE /v1/tables/{id}: returns the deleted table's header (true when
--- the API answers with no body).
---@param id string The table's id
---@param opts? extruct.Options
---@return extruct.Table|true|nil t The deleted table's header
---@return extruct.Error? err
function methods:delete_table(id, opts)
  check_id(id, "delete_table")
  opts = check_options(opts, NO_OPTIONS, "extruct.delete_table")
  return call(self, "DELETE", table_path(id), opts, { answer = "object", optional = true, subject = subject_table(id) })
end

--- POST /v1/tables/{id}/clone: a copy of the table; with schema_only = true,
--- of its columns only. Returns the new table's header.
---@param id string The table's id
---@param opts? extruct.CloneOptions
---@return extruct.Table? t The copy's header
---@return extruct.Error? err
function methods:clone_table(id, opts)
  check_id(id, "clone_table")
  opts = check_options(opts, CLONE_OPTIONS, "extruct.clone_table")
  return call(self, "POST", table_path(id, "clone"), opts, {
    query = { schema_only = opts.schema_only and "true" or nil },
    answer = "object", subject = subject_table(id),
  })
end

-- One page of /data, its rows kept to `columns` when given.
local function data_page(self, id, opts, offset, limit)
  local page, err = call(self, "GET", table_path(id, "data"), opts, {
    query = { offset = offset, limit = limit }, answer = "object", subject = subject_table(id),
  })
  if page == nil or opts.columns == nil then return page, err end
  return cells.project(page, opts.columns, id)
end

--- GET /v1/tables/{id}/data: the header and one page of `rows`.
--- opts: offset, limit, columns (a list of column keys: each row's data
--- keeps only those; a key the table does not have is a validation error
--- listing the keys it has).
---@param id string The table's id
---@param opts? extruct.DataOptions
---@return extruct.TableData? page The header with one page of `rows`
---@return extruct.Error? err
function methods:get_table_data(id, opts)
  check_id(id, "get_table_data")
  opts = check_options(opts, DATA_OPTIONS, "extruct.get_table_data")
  if opts.columns ~= nil then cells.check_keys(opts.columns, "get_table_data") end
  local page, err = data_page(self, id, opts, opts.offset, opts.limit)
  if page == nil then return nil, err end
  return page
end

--- Every row of the table, page by page: `for row, err in client:iter_rows(id) do`.
--- opts: limit (rows a page, default 50), offset (where to start), columns
--- (as get_table_data's), and the retry options.
---@param id string The table's id
---@param opts? extruct.DataOptions
---@return extruct.Iterator rows
function methods:iter_rows(id, opts)
  check_id(id, "iter_rows")
  opts = check_options(opts, DATA_OPTIONS, "extruct.iter_rows")
  if opts.columns ~= nil then cells.check_keys(opts.columns, "iter_rows") end
  local limit = opts.limit or DEFAULT_PAGE_SIZE
  return endpoint.pages(function(offset)
    local page, err = data_page(self, id, opts, offset, limit)
    if page == nil then return nil, err end
    local rows = page.rows
    if type(rows) ~= "table" then
      return nil, errors.new("decode", ("table '%s': the data page at offset %d has no rows list")
        :format(errors.show(id), offset))
    end
    -- "Continue paging until returned rows are fewer than limit."
    return rows, #rows < limit
  end, opts.offset or 0)
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
  if not endpoint.list_of_strings(ids) then
    misuse(("extruct.%s: %s must be a list of id strings"):format(where, what))
  end
  local out = list()
  for i, id in ipairs(ids) do out[i] = id end
  return out
end

local function send_rows(self, method, id, rows, opts, where)
  check_id(id, where)
  rows = row_list(rows, where)
  opts = check_options(opts, ROWS_OPTIONS, "extruct." .. where)
  if #rows == 0 then return list() end -- nothing to send
  return call(self, method, table_path(id, "rows"), opts, {
    body = { rows = rows, run = opts.run or false }, answer = "array", optional = true, subject = subject_table(id),
  })
end

--- POST /v1/tables/{id}/rows: adds rows; returns the created rows (true
--- when the API answers with no body). opts.run = true starts their cells.
---@param id string The table's id
---@param rows table[] Rows { data = {...}, metadata = {...} }, or maps of column key -> value
---@param opts? extruct.RowsOptions
---@return extruct.Row[]|true|nil rows The created rows
---@return extruct.Error? err
function methods:add_rows(id, rows, opts)
  return send_rows(self, "POST", id, rows, opts, "add_rows")
end

--- PATCH /v1/tables/{id}/rows: rows with an `id` are updated, the others
--- created; opts.run as for add_rows.
---@param id string The table's id
---@param rows table[] Rows; those with an `id` are updated, the others created
---@param opts? extruct.RowsOptions
---@return extruct.Row[]|true|nil rows
---@return extruct.Error? err
function methods:update_rows(id, rows, opts)
  return send_rows(self, "PATCH", id, rows, opts, "update_rows")
end

--- DELETE /v1/tables/{id}/rows, the ids in a JSON body; returns what the API
--- says was deleted (true when it answers with no body).
---@param id string The table's id
---@param row_ids string[]
---@param opts? extruct.Options
---@return table|true|nil deleted What the API reports deleted
---@return extruct.Error? err
function methods:delete_rows(id, row_ids, opts)
  check_id(id, "delete_rows")
  row_ids = id_list(row_ids, "delete_rows", "row_ids")
  opts = check_options(opts, NO_OPTIONS, "extruct.delete_rows")
  if #row_ids == 0 then return list() end
  return call(self, "DELETE", table_path(id, "rows"), opts, {
    body = { rows = row_ids }, answer = "object or array", optional = true, subject = subject_table(id),
  })
end

--- GET /v1/tables/{id}/rows/{row_id}: one row, with its run status.
---@param id string The table's id
---@param row_id string
---@param opts? extruct.Options
---@return extruct.Row? row The row, with its own status
---@return extruct.Error? err
function methods:get_row(id, row_id, opts)
  check_id(id, "get_row")
  check_id(row_id, "get_row", "row id")
  opts = check_options(opts, NO_OPTIONS, "extruct.get_row")
  return call(self, "GET", table_path(id, "rows", row_id), opts, {
    answer = "object", subject = ("row '%s' of table '%s'"):format(errors.show(row_id), errors.show(id)),
  })
end

---------------------------------------------------------------------------
-- Columns and runs
---------------------------------------------------------------------------

local function subject_column(id, column_id)
  return ("column '%s' of table '%s'"):format(errors.show(column_id), errors.show(id))
end

--- POST /v1/tables/{id}/columns: adds columns (a list of configs, or one
--- config); opts.insert_after: true, false or a column id. Returns the new
--- columns (true when the API answers with no body).
---@param id string The table's id
---@param column_configs table|table[] A list of column configs, or one config
---@param opts? extruct.ColumnOptions
---@return extruct.Column[]|true|nil columns The new columns
---@return extruct.Error? err
function methods:add_columns(id, column_configs, opts)
  check_id(id, "add_columns")
  endpoint.check_table_arg(column_configs, "add_columns", "column_configs")
  opts = check_options(opts, COLUMNS_OPTIONS, "extruct.add_columns")
  if column_configs[1] == nil and next(column_configs) ~= nil then
    column_configs = { column_configs } -- one config
  end
  return call(self, "POST", table_path(id, "columns"), opts, {
    body = { column_configs = list(column_configs), insert_after = opts.insert_after },
    answer = "array", optional = true, subject = subject_table(id),
  })
end

--- PATCH /v1/tables/{id}/columns/{column_id}: replaces the column's config;
--- returns the column (true when the API answers with no body).
---@param id string The table's id
---@param column_id string
---@param config table The column's whole new config
---@param opts? extruct.Options
---@return extruct.Column|true|nil column
---@return extruct.Error? err
function methods:update_column(id, column_id, config, opts)
  check_id(id, "update_column")
  check_id(column_id, "update_column", "column id")
  endpoint.check_table_arg(config, "update_column", "the column's config")
  opts = check_options(opts, NO_OPTIONS, "extruct.update_column")
  return call(self, "PATCH", table_path(id, "columns", column_id), opts, {
    body = config, answer = "object", optional = true, subject = subject_column(id, column_id),
  })
end

--- DELETE /v1/tables/{id}/columns/{column_id}: the API's answer (true when
--- it has none).
---@param id string The table's id
---@param column_id string
---@param opts? extruct.Options
---@return table|true|nil answer The API's answer
---@return extruct.Error? err
function methods:delete_column(id, column_id, opts)
  check_id(id, "delete_column")
  check_id(column_id, "delete_column", "column id")
  opts = check_options(opts, NO_OPTIONS, "extruct.delete_column")
  return call(self, "DELETE", table_path(id, "columns", column_id), opts, {
    answer = "object or array", optional = true, subject = subject_column(id, column_id),
  })
end

--- POST /v1/tables/{id}/run: starts a run. opts: mode ("new" by default,
--- "all", "failed", "stuck_failed_new"), rows and columns (lists of ids).
--- Returns the run { id, status, num_requested_cells, ... }.
---@param id string The table's id
---@param opts? extruct.RunOptions
---@return extruct.Run? run The run { id, status, num_requested_cells, ... }
---@return extruct.Error? err
function methods:run_table(id, opts)
  check_id(id, "run_table")
  opts = check_options(opts, RUN_OPTIONS, "extruct.run_table")
  return call(self, "POST", table_path(id, "run"), opts, {
    body = {
      mode = opts.mode or "new",
      rows = opts.rows and id_list(opts.rows, "run_table", "rows"),
      columns = opts.columns and id_list(opts.columns, "run_table", "columns"),
    },
    answer = "object", subject = subject_table(id),
  })
end

return methods
