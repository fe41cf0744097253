--- extruct.cli.columns: the `extruct columns ...` commands, one entry each
--- (see extruct.cli.registry for the shape of an entry).

local args = require("extruct.cli.args")
local input = require("extruct.cli.input")
local output = require("extruct.cli.output")
local records = require("extruct.cli.records")

local field_text, one_line = output.field_text, output.one_line

local M = {}

local TABLE_ID = { name = "ID", key = "id", help = "the table's id", missing = "missing table ID" }
local COLUMN_ID = { name = "COLUMN_ID", key = "column_id", help = "the column's id (`columns list` shows them)",
                    missing = "missing COLUMN_ID" }
local PRETTY, COMPACT = output.PRETTY, output.COMPACT

local json_style_needs_json = output.json_style_needs_json

local CONFIG_EXAMPLE = [[
  {"kind": "agent", "name": "Summary", "key": "summary",
   "value": {"agent_type": "research_pro", "prompt": "Summarise {company}",
             "output_format": "text"}}
]]

-- The config of a column, or an empty table.
local function config_of(column)
  local config = type(column) == "table" and column.config
  return type(config) == "table" and config or {}
end

-- "column Summary (col_0001)", or "column col_0001" when the answer has no name.
local function column_label(answer, column_id)
  return "column " .. output.label(config_of(answer).name, column_id)
end

M.commands = {}
local function command(entry) M.commands[#M.commands + 1] = entry end

command{ words = { "columns" }, group = true, help = [[
The columns of a table: each has an id, and a config whose `key` names its
cells in every row, whose `kind` says what fills them (`input`: you do;
`agent` and the other kinds: Extruct's agents, on a run).
]] }

command{
  words = { "columns", "list" },
  args = { TABLE_ID },
  summary = "list the table's columns: id, key, kind, name",
  options = records.options(),
  check = records.check,
  help = [[
Lists the columns of the table ID in the table's order, from its header
(GET /v1/tables/ID), on stdout: on a terminal an aligned table with a
header line (ID, KEY, KIND, NAME), otherwise one column object ({id,
created_at, config}) a line as JSON (--format: table, jsonl, json or csv;
csv has the columns id, key, kind and name).
]],
  examples = {
    "extruct columns list tbl_demo",
    "extruct columns list tbl_demo --format jsonl | jq -r 'select(.config.kind == \"agent\") | .id'",
  },
  run = function(ctx, a)
    local t, err = ctx:client():get_table(a.id)
    if not t then return nil, err end
    local columns = type(t.columns) == "table" and t.columns or {}
    local function config_field(name)
      return function(column) return field_text(config_of(column)[name]) end
    end
    return records.print(ctx, records.each(columns), {
      { "ID", "id" },
      { "KEY", "key", text = config_field("key"), value = config_field("key") },
      { "KIND", "kind", text = config_field("kind"), value = config_field("kind") },
      { "NAME", "name", text = config_field("name"), value = config_field("name") },
    })
  end,
}

command{
  words = { "columns", "add" },
  args = { TABLE_ID, { name = "FILE", key = "file", missing = "missing FILE (a path, or - for standard input)",
                       help = "a column's config (a JSON object), or a JSON array of them (`-`: standard input)" } },
  summary = "add columns from JSON configs, print their ids",
  options = {
    args.option{ name = "--after", value = "COLUMN_ID", help = "put the new columns after this column" },
    args.option{ name = "--first", help = "put the new columns before all the others" },
    args.option{ name = "--json", help = "print the new columns, one JSON object per line, instead of their ids" },
    output.PRETTY_LINES, output.COMPACT_LINES,
  },
  check = function(opts, fail, spelled)
    if opts.after and opts.first then fail("--after and --first exclude each other") end
    json_style_needs_json(opts, fail, spelled)
  end,
  help = [[
Adds the columns of FILE to the table ID (POST /v1/tables/ID/columns), in
one request, and prints the id of each new column on its own line. FILE
holds one column config, or a JSON array of them, such as
]] .. CONFIG_EXAMPLE .. [[
(`tables create` takes the same configs in its column_configs). The new
columns go after the last one, or after --after's column, or with --first
before the first. The new cells are empty until a run fills them.
]],
  examples = {
    "col=$(extruct columns add tbl_demo pitch.json)",
    "extruct columns add tbl_demo - --first < inputs.json",
  },
  run = function(ctx, a, opts)
    local configs = input.json_objects(ctx, a.file, "a column's config")
    local insert_after = opts.after
    if opts.first then insert_after = false end
    local added, err = ctx:client():add_columns(a.id, configs, { insert_after = insert_after })
    if not added then return nil, err end
    if added == true then
      ctx:note(("extruct: added %d column%s to %s (the API answered without a body, so there are no ids to"
        .. " print)"):format(#configs, #configs == 1 and "" or "s", one_line(a.id)))
      return true
    end
    local list = type(added) == "table" and getmetatable(added) == ctx.extruct.array_mt and added or { added }
    for _, column in ipairs(list) do
      local ok, why
      if opts.json then
        ok, why = ctx:json_line(column)
      else
        ok, why = ctx:write(field_text(type(column) == "table" and column.id or nil), "\n")
      end
      if not ok then return nil, why end
    end
    return ctx:flush()
  end,
}

command{
  words = { "columns", "update" },
  args = { TABLE_ID, COLUMN_ID, { name = "FILE", key = "file", missing = "missing FILE (a path, or - for standard input)",
                                  help = "the column's whole new config, a JSON object (`-`: standard input)" } },
  summary = "replace a column's config",
  options = {
    args.option{ name = "--json", help = "print the updated column as JSON instead" },
    PRETTY, COMPACT,
  },
  check = json_style_needs_json,
  help = [[
Replaces the config of the column COLUMN_ID of the table ID with FILE
(PATCH /v1/tables/ID/columns/COLUMN_ID): the whole config, as `columns add`
takes it, not only the fields that change; `columns list --json` prints
the current one to start from. Prints one line on stdout:
  updated column Summary (col_0003)
A changed prompt or kind does not refill the cells: run the table (mode
all) for that.
]],
  examples = {
    "extruct columns update tbl_demo col_0003 fit.json",
    "extruct columns list tbl_demo --json | jq -c 'select(.id == \"col_0003\") | .config | .name = \"Brief\"'"
      .. " | extruct columns update tbl_demo col_0003 -",
  },
  run = function(ctx, a)
    local config = input.json_object(ctx, a.file, "the column's config")
    local answer, err = ctx:client():update_column(a.id, a.column_id, config)
    if not answer then return nil, err end
    local shown = type(answer) == "table" and answer or { config = config }
    return ctx:print_change(answer, "updated " .. column_label(shown, a.column_id))
  end,
}

command{
  words = { "columns", "delete" },
  args = { TABLE_ID, COLUMN_ID },
  summary = "delete a column and its cells (needs --yes)",
  destructive = true,
  options = {
    args.option{ name = "--json", help = "print the API's answer (the deleted column) as JSON instead" },
    PRETTY, COMPACT,
  },
  check = json_style_needs_json,
  help = [[
Deletes the column COLUMN_ID of the table ID, with its cells in every row
(DELETE /v1/tables/ID/columns/COLUMN_ID), and prints one line on stdout:
  deleted column Summary (col_0003)
There is no undo, so it refuses to run without --yes.
]],
  examples = { "extruct columns delete tbl_demo col_0003 --yes" },
  run = function(ctx, a)
    local answer, err = ctx:client():delete_column(a.id, a.column_id)
    if not answer then return nil, err end
    return ctx:print_change(answer, "deleted " .. column_label(answer, a.column_id))
  end,
}

return M
