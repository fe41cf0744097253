-- A table into a database: export_table writes an Extruct table into SQLite
-- or PostgreSQL and keeps it in sync on later runs (extruct.export does the
-- work). extruct.client installs these methods on every client.

local endpoint = require("extruct.endpoint")
local export = require("extruct.export")

-- The module-level shortcut of export_table, on the default client.
---@class extruct
---@field export_table fun(id: string, target: string, opts?: extruct.ExportOptions): extruct.ExportSummary?, extruct.Error?

--- The options of export_table (docs/api.md#clientexport_table).
---@class extruct.ExportOptions: extruct.Options
---@field sql_table? string The SQL table's name (default: from the table's id)
---@field keep_deleted? boolean true keeps the rows the table no longer has (default: they are deleted)
---@field page_size? integer Rows a request of /data, 1 to 1000 (default 50)
---@field on_progress? fun(progress: extruct.ExportProgress): boolean? Called after each page is written; false cancels

--- What on_progress is told after each page.
---@class extruct.ExportProgress
---@field table string The table's id
---@field fetched integer Rows read from the API so far
---@field read integer Of them, the distinct rows (a row seen twice while paging counts once)
---@field written integer Rows inserted or updated so far
---@field total? integer The rows the table says it has
---@field seconds number Since the export began

--- What export_table returns.
---@class extruct.ExportSummary
---@field table string The table's id
---@field sql_table string The SQL table written
---@field target string Where: the target without its password
---@field rows integer The rows the table has, all read
---@field inserted integer Rows new to the database
---@field updated integer Rows that changed
---@field deleted integer Rows the table no longer has, deleted (0 with keep_deleted)
---@field columns_added integer SQL columns added (all of them on the first export)
---@field seconds number How long the export took

---@class extruct.Client
local methods = {}

local function page_size(v)
  return type(v) == "number" and v >= 1 and v <= 1000 and v == math.floor(v)
end

local EXPORT_OPTIONS = endpoint.with_retry_options{
  sql_table = { check = endpoint.is_string, want = "a string (the SQL table's name)" },
  keep_deleted = { check = endpoint.is_boolean, want = "a boolean" },
  page_size = { check = page_size, want = "a whole number from 1 to 1000" },
  on_progress = { check = endpoint.is_function, want = "a function(progress)" },
}

--- Writes table `id` into the database `target` ("sqlite:PATH", or
--- "postgresql://user@host:port/db"), in one transaction: its rows as one
--- SQL table (row_id, created_at, a column per Extruct column), every cell
--- in extruct_cells. Run again, it updates what changed, inserts new rows,
--- deletes rows the table no longer has (unless keep_deleted), adds new
--- columns. opts: sql_table, keep_deleted, page_size, on_progress, the retry
--- options. Needs LuaDBI's driver (lua-dbi-sqlite3, lua-dbi-postgresql).
---@param id string The table's id
---@param target string sqlite:PATH, or a PostgreSQL URI (postgresql://user@host:port/db)
---@param opts? extruct.ExportOptions
---@return extruct.ExportSummary? summary { table, sql_table, target, rows, inserted, updated, deleted, columns_added, seconds }
---@return extruct.Error? err
function methods:export_table(id, target, opts)
  endpoint.check_id(id, "export_table")
  if type(target) ~= "string" then
    endpoint.misuse(("extruct.export_table: the target must be a string (sqlite:PATH or postgresql://...), got %s")
      :format(type(target)))
  end
  opts = endpoint.check_options(opts, EXPORT_OPTIONS, "extruct.export_table")
  return export.run(self, id, target, opts)
end

return methods
