--- extruct.cli.rows: the `extruct tables rows ...` commands, one entry each
--- (see extruct.cli.registry for the shape of an entry).

local args = require("extruct.cli.args")
local input = require("extruct.cli.input")
local output = require("extruct.cli.output")

local M = {}

-- Rows a request for `tables rows add`.
local ROWS_BATCH = 100

M.commands = {}
local function command(entry) M.commands[#M.commands + 1] = entry end

command{
  words = { "tables", "rows", "add" },
  args = {
    { name = "ID", key = "id", help = "the table's id", missing = "missing table ID" },
    { name = "FILE", key = "file", missing = "missing FILE (a path, or - for standard input)",
      help = "the rows: JSON lines, a JSON array or CSV (`-`: standard input)" },
  },
  summary = "add rows from JSON lines or CSV",
  options = {
    args.option{ name = "--format", value = "FORMAT", type = args.choice("jsonl", "csv"),
                 help = "jsonl or csv (needed for standard input)" },
    args.option{ name = "--batch", value = "N", type = args.COUNT, help = "rows a request (default 100)" },
    args.option{ name = "--run", help = "start the new rows' cells at once" },
    args.option{ name = "--json", help = "print the created rows, one JSON object per line, instead of the count" },
  },
  help = [[
Adds the rows of FILE (`-`: standard input) to the table ID (POST
/v1/tables/ID/rows), --batch rows a request, and prints how many were added:
  added 250 rows to tbl_demo
The whole input is read and checked first: a malformed line sends nothing
and exits 2, naming the line. When a batch fails after others went in, the
error says how many rows were added before it.

Formats (from --format, else the extension: .csv, or .jsonl .ndjson .json):
  jsonl  one JSON object a line: {"data": {...}, "metadata": {...}}, or a
         plain map of column key -> value; blank lines are skipped. Input
         that starts with `[` is read as one JSON array of such objects.
  csv    RFC 4180: a header line of column keys, then one record per row;
         quoted fields may hold commas, quotes ("") and line breaks; CRLF or
         LF; a UTF-8 byte order mark is ignored; an empty field leaves the
         cell out (values are sent as text); every record must have as many
         fields as the header.
]],
  examples = {
    "extruct tables rows add tbl_0001 leads.csv",
    "printf 'company\\nacme.com\\n' | extruct tables rows add tbl_0001 - --format csv --run",
  },
  run = function(ctx, a, opts)
    local format = input.rows_format(ctx, opts.format, a.file)
    local rows = input.rows(ctx, a.file, format)
    local extruct, client = ctx.extruct, ctx:client()
    local batch_size = opts.batch or ROWS_BATCH
    local added = 0
    for first = 1, #rows, batch_size do
      local batch = {}
      for i = first, math.min(first + batch_size - 1, #rows) do batch[#batch + 1] = rows[i] end
      local created, err = client:add_rows(a.id, batch, { run = opts.run or nil })
      if not created then
        if added > 0 then
          err.message = ("%s (%d of %d rows were added before this failure)"):format(err.message, added, #rows)
        end
        return nil, err
      end
      local list = type(created) == "table" and getmetatable(created) == extruct.array_mt and created or nil
      if opts.json and list then
        for _, row in ipairs(list) do
          local ok, why = ctx:json_line(row)
          if not ok then return nil, why end
        end
      end
      added = added + (list and #list or #batch)
    end
    if not opts.json then
      local ok, err = ctx:write(("added %d row%s to %s\n"):format(added, added == 1 and "" or "s",
        output.one_line(a.id)))
      if not ok then return nil, err end
    end
    return ctx:flush()
  end,
}

return M
