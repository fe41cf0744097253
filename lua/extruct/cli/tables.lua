--- extruct.cli.tables: the `extruct tables ...` commands, one entry each
--- (see extruct.cli.registry for the shape of an entry).

local args = require("extruct.cli.args")
local errors = require("extruct.errors")
local input = require("extruct.cli.input")
local output = require("extruct.cli.output")
local paging = require("extruct.cli.paging")
local progress = require("extruct.cli.progress")
local records = require("extruct.cli.records")
local rows_commands = require("extruct.cli.rows")
local waiting = require("extruct.cli.waiting")

local field_text, one_line = output.field_text, output.one_line

local M = {}

-- Tables a request for `tables list`: the most the API allows.
local LIST_PAGE_SIZE = 100
-- Rows a request for `tables data`: the API's own paging advice.
local DATA_PAGE_SIZE = 50

local TABLE_ID = { name = "ID", key = "id", help = "the table's id", missing = "missing table ID" }
local SPEC_FILE = { name = "FILE", key = "file", missing = "missing FILE (a path, or - for standard input)",
                    help = "a JSON object: the new table's spec (`-`: standard input)" }

local PRETTY, COMPACT = output.PRETTY, output.COMPACT

-- --pretty and --compact shape --json's output only.
local json_style_needs_json = output.json_style_needs_json

--- "run_0001: 50 cells requested (mode new)"
function M.run_line(run)
  run = type(run) == "table" and run or {}
  local cells = type(run.num_requested_cells) == "number" and output.number_text(run.num_requested_cells) or "?"
  local text = ("%s: %s cell%s requested"):format(field_text(run.id), cells, cells == "1" and "" or "s")
  if type(run.mode) == "string" then text = text .. (" (mode %s)"):format(one_line(run.mode)) end
  return text
end

--- A cell of a row as one CSV field: the answer (extruct.cell) as text;
--- empty for a null, missing or failed cell.
function M.cell_text(extruct, row, key)
  if type(row) ~= "table" then return "" end
  local answer, status = extruct.cell(row, key)
  if answer == nil or answer == extruct.null or status == "failed" then return "" end
  local kind = type(answer)
  if kind == "string" then return answer end
  if kind == "number" then return output.number_text(answer) end
  if kind == "boolean" then return tostring(answer) end
  if kind == "table" then return (extruct.encode(answer)) or "" end
  return ""
end

-- The column keys of a table, in its column order; only those of columns
-- of `kind` when given.
local function column_keys(t, kind)
  local keys = {}
  for _, column in ipairs(type(t.columns) == "table" and t.columns or {}) do
    local config = type(column) == "table" and column.config
    if type(config) == "table" and type(config.key) == "string" and (kind == nil or config.kind == kind) then
      keys[#keys + 1] = config.key
    end
  end
  return keys
end

-- Refuses (exit status 2) keys that are not column keys of table `id`,
-- naming the ones it has.
local function check_column_keys(ctx, id, wanted, keys)
  local known, unknown = {}, {}
  for _, key in ipairs(keys) do known[key] = true end
  for _, key in ipairs(wanted) do
    if not known[key] then unknown[#unknown + 1] = ("'%s'"):format(one_line(key)) end
  end
  if #unknown == 0 then return end
  local valid = {}
  for i, key in ipairs(keys) do valid[i] = one_line(key) end
  ctx:usage_error(("table '%s' has no column%s %s; its column keys are: %s"):format(one_line(id),
    #unknown == 1 and "" or "s", table.concat(unknown, ", "), #valid > 0 and table.concat(valid, ", ") or "(none)"))
end

-- A copy of the row with only `keys` of its data (a new table: it is no
-- longer the row as the server sent it).
local function project(row, keys)
  if type(row) ~= "table" or type(row.data) ~= "table" then return row end
  local copy = {}
  for field, value in pairs(row) do copy[field] = value end
  local kept = {}
  for _, key in ipairs(keys) do kept[key] = row.data[key] end
  copy.data = kept
  return copy
end

M.commands = {}
local function command(entry) M.commands[#M.commands + 1] = entry end

command{ words = { "tables" }, group = true, help = [[
A table holds rows, and columns whose cells Extruct's agents fill in; a run
fills the cells, and the table is idle again when it is done.
]] }

command{
  words = { "tables", "list" },
  summary = "list the tables: id, name, kind, created",
  options = {
    args.option{ name = "--kind", value = "K", type = args.choice("generic", "company", "people"),
                 help = "only tables of this kind: generic, company or people" },
    args.option{ name = "--scope", value = "S", type = args.choice("personal", "organization"),
                 help = "personal or organization" },
    args.option{ name = "--search", value = "TEXT", help = "only tables whose name or description holds TEXT" },
    args.option{ name = "--tag", key = "tags", value = "T", repeated = true,
                 help = "only tables with the tag T; repeat it for several tags" },
    args.option{ name = "--sort", value = "ORDER",
                 type = args.choice("-created_at", "created_at", "name", "-name", "num_rows", "-num_rows"),
                 help = "-created_at (the default: newest first), created_at, name, -name, num_rows or -num_rows" },
    args.option{ name = "--limit", value = "N", type = args.COUNT, help = "at most N tables in all" },
    args.option{ name = "--page-size", value = "N", type = args.COUNT,
                 help = "tables a request, 1..100 (default 100, or N of --limit when that is smaller)",
                 check = function(opts, fail)
                   if opts.page_size > LIST_PAGE_SIZE then
                     fail(("--page-size is at most %d for tables list"):format(LIST_PAGE_SIZE))
                   end
                 end },
    args.option{ name = "--view", value = "V", type = args.choice("full", "minimal"),
                 help = "full or minimal: how much of each table the API sends (its default: full)" },
    (table.unpack or unpack)(records.options()),
  },
  check = records.check,
  help = [[
Lists every table (GET /v1/tables, page after page) on stdout, in the
API's order: on a terminal an aligned table with a header line (ID, NAME,
KIND, CREATED, the time in UTC to the minute), otherwise one table header
a line as JSON (--format says which: table, jsonl, json or csv). --kind,
--scope, --search, --tag and --sort filter and order on the server; a
table carrying any of the --tag tags is listed. --view minimal asks for
less of each table (in JSON, fewer fields).
]],
  examples = {
    "extruct tables list --kind company",
    "extruct tables list --tag demo --sort name --format jsonl | jq -r .id",
    "extruct tables list --format csv -o tables.csv",
  },
  run = function(ctx, _, opts)
    local page_size = opts.page_size or math.min(opts.limit or LIST_PAGE_SIZE, LIST_PAGE_SIZE)
    local query = { kind = opts.kind, scope = opts.scope, search = opts.search, tags = opts.tags, sort = opts.sort,
                    view = opts.view, limit = page_size }
    return paging.print_listing(ctx, opts, ctx:client():iter_tables(query), {
      { "ID", "id" },
      { "NAME", "name" },
      { "KIND", "kind" },
      { "CREATED", "created_at", text = function(t) return output.created_text(t.created_at) end },
    })
  end,
}

command{
  words = { "tables", "get" },
  args = { TABLE_ID },
  summary = "print the table (header and run status) as JSON",
  options = { PRETTY, COMPACT },
  help = [[
Prints the table ID (GET /v1/tables/ID: header, columns, run status) as one
JSON document on stdout, followed by a newline.
]],
  examples = { "extruct tables get tbl_demo | jq -r .status.run_status" },
  run = function(ctx, a)
    local t, err = ctx:client():get_table(a.id)
    if not t then return nil, err end
    return ctx:print_json(t)
  end,
}

command{
  words = { "tables", "status" },
  args = { TABLE_ID },
  summary = "print one line: name, run status, cells done/total, percent",
  help = [[
Prints one line about the table's run on stdout, for example:
  Acme leads (tbl_demo): running, 18/25 cells, 72%
with ", N failed" appended when cells failed. Counts are of non-input cells;
the percent is rounded down, so 100% means done.
]],
  examples = { "extruct tables status tbl_demo" },
  run = function(ctx, a)
    local t, err = ctx:client():get_table(a.id)
    if not t then return nil, err end
    return ctx:print(progress.status_line(ctx.extruct, a.id, t))
  end,
}


command{
  words = { "tables", "wait" },
  args = { { name = "ID", key = "ids", many = true, help = "the table's id; several wait side by side",
             missing = "missing table ID" } },
  summary = "wait until the table's run is idle, then print it as JSON",
  options = args.options(waiting.OPTIONS, {
    args.option{ name = "--concurrency", value = "N", type = args.COUNT,
                 help = "tables polled at once (several IDs; default 8)" },
    PRETTY, COMPACT,
  }),
  help = [[
Polls the table until its run is idle, then prints it as JSON on stdout.
With several IDs it polls up to --concurrency of them at once (default 8),
prints each idle table as one line of JSON in the order given, and the
timeout is for the whole wait; if one table fails or time runs out, the
tables that did go idle are still printed before the error.
While waiting it reports progress on stderr: when stderr is a terminal, a bar
redrawn in place every second (cells done/total, percent, time elapsed, time
since the counts last changed), cleared at the end and replaced by a summary
line; otherwise one line per poll where the run status or a count changed
(and at least one a minute):
  tbl_demo: running, 166/250 cells, 66%, elapsed 0:10
With several IDs, a terminal shows one bar per table. Transient failures
(network, 5xx, 429) are retried within the timeout.
]],
  exit_codes = { [3] = "timed out before the table went idle (stdout stays empty for one table)" },
  examples = {
    "extruct tables wait tbl_demo --interval 1 > demo.json",
    "extruct tables wait tbl_demo tbl_idle --timeout 600 --quiet",
  },
  run = function(ctx, a)
    if #a.ids == 1 then return waiting.wait_one(ctx, a.ids[1]) end
    return waiting.wait_many(ctx, a.ids)
  end,
}

command{
  words = { "tables", "create" },
  args = { SPEC_FILE },
  summary = "create a table from a JSON spec, print its id",
  options = {
    args.option{ name = "--json", help = "print the whole new table as JSON instead of its id" },
    PRETTY, COMPACT,
  },
  check = json_style_needs_json,
  help = [[
Creates a table (POST /v1/tables) from FILE, a JSON object such as
  {"name": "Leads", "kind": "company", "column_configs": [
     {"kind": "input", "name": "Company", "key": "company"}]}
(fields: name, description, tags, kind, notify, settings, column_configs,
sent as they are) and prints the new table's id on stdout.
]],
  examples = {
    "id=$(extruct tables create leads.json)",
    "extruct tables create - --json < leads.json",
  },
  run = function(ctx, a, opts)
    local spec = input.json_object(ctx, a.file, "the table's spec")
    local t, err = ctx:client():create_table(spec)
    if not t then return nil, err end
    if opts.json then return ctx:print_json(t) end
    if type(t.id) ~= "string" then
      return nil, errors.new("decode", "the API created a table but sent no id for it")
    end
    return ctx:print(one_line(t.id))
  end,
}

command{
  words = { "tables", "update" },
  args = { TABLE_ID },
  summary = "rename the table, or change its description or tags",
  options = {
    args.option{ name = "--name", value = "NAME", help = "the table's new name" },
    args.option{ name = "--description", value = "TEXT", help = "the table's new description" },
    args.option{ name = "--tag", key = "tags", value = "T", repeated = true,
                 help = "a tag of the table; repeat it for several: they replace all its tags" },
    args.option{ name = "--json", help = "print the updated table's header as JSON instead" },
    PRETTY, COMPACT,
  },
  check = function(opts, fail, spelled)
    if not (opts.name or opts.description or opts.tags) then
      fail("nothing to change: pass --name, --description or --tag")
    end
    json_style_needs_json(opts, fail, spelled)
  end,
  help = [[
Changes the table ID (PATCH /v1/tables/ID): only what the options name is
sent, the rest stays as it is. Prints one line on stdout:
  updated Acme leads (tbl_demo)
]],
  examples = {
    "extruct tables update tbl_demo --name 'Acme leads (2024)'",
    "extruct tables update tbl_demo --tag demo --tag q3 --json | jq .tags",
  },
  run = function(ctx, a, opts)
    local answer, err = ctx:client():update_table(a.id, { name = opts.name, description = opts.description,
                                                          tags = opts.tags })
    if not answer then return nil, err end
    local name = type(answer) == "table" and answer.name or opts.name
    return ctx:print_change(answer, "updated " .. output.label(name, a.id))
  end,
}

command{
  words = { "tables", "clone" },
  args = { TABLE_ID },
  summary = "copy the table (--schema-only: its columns only), print the copy's id",
  options = {
    args.option{ name = "--schema-only", help = "copy the columns only, no rows" },
    args.option{ name = "--json", help = "print the copy's header as JSON instead of its id" },
    PRETTY, COMPACT,
  },
  check = json_style_needs_json,
  help = [[
Copies the table ID (POST /v1/tables/ID/clone): its columns and its rows,
or with --schema-only its columns only, and prints the new table's id on
stdout.
]],
  examples = {
    "copy=$(extruct tables clone tbl_demo --schema-only)",
    "extruct tables clone tbl_demo --json | jq -r .name",
  },
  run = function(ctx, a, opts)
    local t, err = ctx:client():clone_table(a.id, { schema_only = opts.schema_only or nil })
    if not t then return nil, err end
    if opts.json and t ~= true then return ctx:print_json(t) end
    if type(t) ~= "table" or type(t.id) ~= "string" then
      return nil, errors.new("decode", "the API cloned the table but sent no id for the copy")
    end
    return ctx:print(one_line(t.id))
  end,
}

command{
  words = { "tables", "delete" },
  args = { TABLE_ID },
  summary = "delete the table (needs --yes)",
  destructive = true,
  options = {
    args.option{ name = "--json", help = "print the deleted table's header as JSON instead" },
    PRETTY, COMPACT,
  },
  check = json_style_needs_json,
  help = [[
Deletes the table ID (DELETE /v1/tables/ID) and prints one line on stdout:
  deleted Acme leads (tbl_demo)
There is no undo, so it refuses to run without --yes.
]],
  examples = { "extruct tables delete tbl_0002 --yes" },
  run = function(ctx, a)
    local t, err = ctx:client():delete_table(a.id)
    if not t then return nil, err end
    local name = type(t) == "table" and t.name or nil
    return ctx:print_change(t, "deleted " .. output.label(name, a.id))
  end,
}

local run_options = args.options({
  args.option{ name = "--mode", value = "MODE", type = args.choice("new", "all", "failed", "stuck_failed_new"),
               help = "new (the default: cells never run), all, failed or stuck_failed_new" },
  args.option{ name = "--rows", value = "IDS", type = args.ID_LIST, want = "row ids separated by commas",
               help = "only these rows: ids separated by commas" },
  args.option{ name = "--columns", value = "IDS", type = args.ID_LIST, want = "column ids separated by commas",
               help = "only these columns: ids separated by commas" },
  args.option{ name = "--json", help = "print the whole run object as JSON instead" },
  args.option{ name = "--wait",
               help = "then wait until the table is idle, as `tables wait` does, with its options: the run's"
                 .. " line and the progress go to stderr (none with --quiet), the idle table as JSON to stdout" },
}, waiting.OPTIONS, { PRETTY, COMPACT })

local WAIT_KEYS = {}
for _, spec in ipairs(waiting.OPTIONS) do WAIT_KEYS[#WAIT_KEYS + 1] = spec.key end

command{
  words = { "tables", "run" },
  args = { TABLE_ID },
  summary = "start a run of the table's cells (--wait: until idle)",
  options = run_options,
  check = function(opts, fail, spelled)
    for _, key in ipairs(WAIT_KEYS) do
      if spelled[key] and not opts.wait then fail(("option %s needs --wait"):format(spelled[key])) end
    end
    if opts.wait and opts.json then
      fail("--json and --wait exclude each other (--wait prints the idle table as JSON)")
    end
    if (opts.pretty or opts.compact) and not (opts.wait or opts.json) then
      fail(("option %s needs --json or --wait"):format(spelled.pretty or spelled.compact))
    end
  end,
  help = [[
Starts a run of the table's cells (POST /v1/tables/ID/run) and prints one
line on stdout: the run's id, the number of cells requested and the mode:
  run_0001: 50 cells requested (mode new)
The wait options (--interval, --max-interval, --timeout, --quiet) need
--wait.
]],
  exit_codes = { [3] = "with --wait: timed out before the table went idle" },
  examples = {
    "extruct tables run tbl_0001",
    "extruct tables run tbl_0001 --mode failed --wait --interval 1 > table.json",
  },
  run = function(ctx, a, opts)
    local run, err = ctx:client():run_table(a.id, { mode = opts.mode, rows = opts.rows, columns = opts.columns })
    if not run then return nil, err end
    if opts.wait then
      if not opts.quiet then ctx:note(M.run_line(run)) end
      return waiting.wait_one(ctx, a.id)
    end
    if opts.json then return ctx:print_json(run) end
    return ctx:print(M.run_line(run))
  end,
}

command{
  words = { "tables", "data" },
  args = { TABLE_ID },
  summary = "print every row: a table, JSON lines, a JSON array or CSV",
  options = {
    args.option{ name = "--columns", value = "KEYS", type = args.ID_LIST, want = "column keys separated by commas",
                 help = "only these columns: their keys separated by commas, in this order for csv; a key the"
                   .. " table does not have exits 2, naming the keys it has",
                 check = function(opts, fail)
                   local seen = {}
                   for _, key in ipairs(opts.columns) do
                     if seen[key] then fail(("--columns names '%s' twice"):format(key)) end
                     seen[key] = true
                   end
                 end },
    args.option{ name = "--id", help = "csv: a first column `id` with the row id, and the input columns only (without"
                   .. " it, the header is every column key, as `rows add` reads them; with it, what `rows update`"
                   .. " takes back)" },
    args.option{ name = "--limit", value = "N", type = args.COUNT, help = "at most N rows" },
    args.option{ name = "--page-size", value = "N", type = args.COUNT,
                 help = "rows a request (default 50, or N of --limit when that is smaller)" },
    (table.unpack or unpack)(records.options()),
  },
  check = function(opts, fail, spelled)
    records.check(opts, fail, spelled)
    if opts.id and opts.format ~= "csv" then
      fail("option --id needs --format csv (JSON carries the row id, and the table shows it)")
    end
  end,
  help = [[
Prints every row of the table (GET /v1/tables/ID/data, page after page),
written as the pages arrive (--format):
  table  on a terminal, the default: the row id, then each column's answer
         cut to 60 characters
  jsonl  one row object per line, as the API returns it (the default when
         stdout is not a terminal); json: one array of them
  csv    a header line of the column keys, in the table's column order, then
         one record per row (RFC 4180, LF line ends): the answer of each
         cell, a string as it is, a number or boolean as text, an object or
         array as compact JSON; a null, missing or failed cell is an empty
         field. Data under keys that are not columns is left out.
--columns keeps only the cells of the columns named (in a row's `data` for
JSON); it reads the table's header first to check the keys.
--id (csv) starts each record with the row's id and keeps the input
columns only, the ones a person fills in: edit the file and send it back
with `extruct rows update ID FILE`, which changes those rows (an output
column is filled by runs, and an update that names one is refused).
]],
  examples = {
    "extruct tables data tbl_demo --format csv > demo.csv",
    "extruct tables data tbl_demo --limit 10 --format jsonl | jq .data",
    "extruct tables data tbl_demo --columns input,summary --format csv -o demo-summaries.csv",
    "extruct tables data tbl_demo --format csv --id -o demo-inputs.csv",
  },
  run = function(ctx, a, opts)
    local extruct, client = ctx.extruct, ctx:client()
    local page_size = opts.page_size or math.min(opts.limit or DATA_PAGE_SIZE, DATA_PAGE_SIZE)
    local format = records.format_of(ctx)
    local keys = {}
    if format == "csv" or format == "table" or opts.columns then
      -- the column keys and their order come with the table's header
      local t, err = client:get_table(a.id)
      if not t then return nil, err end
      if opts.columns then
        check_column_keys(ctx, a.id, opts.columns, column_keys(t))
        keys = opts.columns
      else
        keys = column_keys(t, opts.id and "input" or nil)
      end
    end
    local columns = {}
    if opts.id or format == "table" then
      columns[1] = { "ID", "id", value = function(row) return field_text(row.id) end }
    end
    for _, key in ipairs(keys) do
      local function answer(row) return M.cell_text(extruct, row, key) end
      columns[#columns + 1] = { key, key, value = answer, text = answer }
    end
    local each = client:iter_rows(a.id, { limit = page_size })
    if opts.columns then
      local rows = each
      each = function()
        local row, err = rows()
        if row then row = project(row, keys) end
        return row, err
      end
    end
    return records.print(ctx, each, columns, opts.limit, page_size)
  end,
}

command{
  words = { "tables", "export" },
  args = { TABLE_ID },
  summary = "write the table into SQLite or PostgreSQL; run again to bring that copy up to date",
  options = {
    args.option{ name = "--to", value = "TARGET",
                 required = "missing --to TARGET (sqlite:PATH or postgresql://user@host:port/db)",
                 help = "where: sqlite:PATH (a file, made when missing) or postgresql://user@host:port/db"
                   .. " (libpq's URI; the host may be a socket folder: postgresql:///db?host=/run/postgresql)" },
    args.option{ name = "--sql-table", value = "NAME", help = "the SQL table's name (default: the table's id)" },
    args.option{ name = "--keep-deleted", help = "keep the rows the table no longer has (default: delete them)" },
    args.option{ name = "--page-size", value = "N", type = args.whole(1, 1000),
                 help = "rows a request, 1..1000 (default 50)" },
    args.option{ name = "--quiet", help = "no progress line on a terminal" },
    args.option{ name = "--json", help = "print the summary as JSON instead of a line" },
    PRETTY, COMPACT,
  },
  check = json_style_needs_json,
  help = [[
Writes the table ID into a database (GET /v1/tables/ID/data, page after
page), in one transaction: the SQL table (named by --sql-table, else the
table's id) gets the primary key row_id, created_at, and one column per
column of the table, named by its key and holding the cell's answer: text,
JSON text for an object or a list, a number where the column's output
format is a number (a grade, number, numeric or money). Every cell
(status, answer, explanation, sources) goes into extruct_cells, the rest
of each row (metadata, parent_data ...) into extruct_rows, the columns
into extruct_columns, and a line per export into extruct_exports.
Run again, it brings the copy up to date: changed rows are updated, new
ones inserted, rows the table no longer has deleted (kept with
--keep-deleted), new columns added; nothing is duplicated, and rows that
did not change are not written. If anything fails (the network, the disk,
Ctrl-C) the database is left as it was. Prints one line on stdout:
  exported tbl_demo to sqlite:leads.db, SQL table tbl_demo: 25 rows, 25 inserted, 0 updated, 0 deleted, 11 columns added
On a terminal, stderr shows the rows fetched and written as pages come.
Needs LuaDBI's driver: Debian's lua-dbi-sqlite3 or lua-dbi-postgresql.
PostgreSQL: --to 'postgresql://me@db.internal:5432/crm' (libpq's URI; a
socket folder as host=: postgresql:///crm?host=/run/postgresql). A
password is better in PGPASSWORD or ~/.pgpass than in the URI, which
other users can see on the command line.
]],
  examples = {
    "extruct tables export tbl_demo --to sqlite:leads.db",
    "extruct tables export tbl_demo --to sqlite:crm.db --sql-table leads --keep-deleted",
    "extruct tables export tbl_demo --to sqlite:leads.db --json | jq .updated",
  },
  run = function(ctx, a, opts)
    local reporter
    if not opts.quiet and ctx.sys.isatty(2) then reporter = progress.reporter(ctx, a.id, progress.export_summary) end
    local summary, err = ctx:client():export_table(a.id, opts.to, {
      sql_table = opts.sql_table, keep_deleted = opts.keep_deleted or nil, page_size = opts.page_size,
      on_progress = reporter and function(p) reporter:update(p) end,
    })
    if reporter then reporter:clear() end
    if not summary then return nil, err end
    if opts.json then return ctx:print_json(summary) end
    return ctx:print(M.export_line(summary))
  end,
}

--- "exported tbl_demo to sqlite:leads.db, SQL table tbl_demo: 25 rows, 25
--- inserted, 0 updated, 0 deleted, 11 columns added"
function M.export_line(summary)
  local count = output.count_text
  return ("exported %s to %s, SQL table %s: %s row%s, %s inserted, %s updated, %s deleted, %s column%s added")
    :format(one_line(summary.table), one_line(summary.target), one_line(summary.sql_table), count(summary.rows),
      summary.rows == 1 and "" or "s", count(summary.inserted), count(summary.updated), count(summary.deleted),
      count(summary.columns_added), summary.columns_added == 1 and "" or "s")
end

-- `rows add` under its earlier name.
command(rows_commands.alias{ "tables", "rows", "add" })

return M
