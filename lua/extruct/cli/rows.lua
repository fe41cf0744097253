--- extruct.cli.rows: the `extruct rows ...` commands, one entry each (see
--- extruct.cli.registry for the shape of an entry); `tables rows add`, the
--- earlier spelling of `rows add`, is made by M.alias.

local args = require("extruct.cli.args")
local input = require("extruct.cli.input")
local output = require("extruct.cli.output")

local M = {}

-- Rows a request for `rows add` and `rows update`.
local ROWS_BATCH = 100

local TABLE_ID = { name = "ID", key = "id", help = "the table's id", missing = "missing table ID" }
local PRETTY, COMPACT = output.PRETTY, output.COMPACT

local FORMATS_HELP = [[
Formats (from --format, else the extension: .csv, or .jsonl .ndjson .json):
  jsonl  one JSON object a line: {"data": {...}, "metadata": {...}}, or a
         plain map of column key -> value; blank lines are skipped. Input
         that starts with `[` is read as one JSON array of such objects.
  csv    RFC 4180: a header line of column keys, then one record per row;
         quoted fields may hold commas, quotes ("") and line breaks; CRLF or
         LF; a UTF-8 byte order mark is ignored; an empty field leaves the
         cell out (values are sent as text); every record must have as many
         fields as the header.
]]

-- The options of the commands that send rows from a file.
local function send_options(verb)
  return {
    args.option{ name = "--format", value = "FORMAT", type = args.choice("jsonl", "csv"),
                 help = "jsonl or csv (needed for standard input)" },
    args.option{ name = "--batch", value = "N", type = args.COUNT, help = "rows a request (default 100)" },
    args.option{ name = "--run", help = ("start the %s rows' cells at once"):format(verb) },
    args.option{ name = "--json", help = ("print the %s rows, one JSON object per line, instead of the count"):format(verb) },
    output.PRETTY_LINES, output.COMPACT_LINES,
  }
end

local function rows_file(what)
  return { name = "FILE", key = "file", missing = "missing FILE (a path, or - for standard input)",
           help = ("the rows%s: JSON lines, a JSON array or CSV (`-`: standard input)"):format(what) }
end

local json_style_needs_json = output.json_style_needs_json

local function plural(n, word)
  return ("%d %s%s"):format(n, word, n == 1 and "" or "s")
end

-- Sends rows to table `id` with client[method], --batch rows a request,
-- printing the answers with --json (rows of a batch the API answered
-- without a body cannot be, and stderr says so). Returns how many rows the
-- API says it took (a batch answered without a body counts whole), or nil
-- and an error saying how many rows went in before the failure.
local function send_in_batches(ctx, method, id, rows, opts)
  local extruct, client = ctx.extruct, ctx:client()
  local batch_size = opts.batch or ROWS_BATCH
  local sent, taken, unprinted = 0, 0, 0
  for first = 1, #rows, batch_size do
    local batch = {}
    for i = first, math.min(first + batch_size - 1, #rows) do batch[#batch + 1] = rows[i] end
    local answer, err = client[method](client, id, batch, { run = opts.run or nil })
    if not answer then
      if sent > 0 then
        err.message = ("%s (%d of %d rows were %s before this failure)"):format(err.message, sent, #rows,
          method == "add_rows" and "added" or "sent")
      end
      return nil, err
    end
    -- (true: the API sent no body, so there is nothing to print)
    local list = type(answer) == "table" and getmetatable(answer) == extruct.array_mt and answer or nil
    if opts.json and list then
      for _, row in ipairs(list) do
        local ok, why = ctx:json_line(row)
        if not ok then return nil, why end
      end
    end
    if answer == true then unprinted = unprinted + #batch end
    sent = sent + #batch
    taken = taken + (list and #list or #batch)
  end
  if opts.json and unprinted > 0 then
    ctx:note(("extruct: %d of %d rows are not printed: the API answered without a body"):format(unprinted, #rows))
  end
  return taken
end

M.commands = {}
local function command(entry) M.commands[#M.commands + 1] = entry end

command{ words = { "rows" }, group = true, help = [[
The rows of a table: add and update them from JSON lines or CSV, read one
with its run status, delete them. `tables data` prints them all.
]] }

local ADD = {
  words = { "rows", "add" },
  args = { TABLE_ID, rows_file("") },
  summary = "add rows from JSON lines or CSV",
  options = send_options("created"),
  check = json_style_needs_json,
  help = [[
Adds the rows of FILE (`-`: standard input) to the table ID (POST
/v1/tables/ID/rows), --batch rows a request, and prints how many were added:
  added 250 rows to tbl_demo
The whole input is read and checked first: a malformed line sends nothing
and exits 2, naming the line. When a batch fails after others went in, the
error says how many rows were added before it.

]] .. FORMATS_HELP,
  examples = {
    "extruct rows add tbl_0001 leads.csv",
    "printf 'input\\nhooli.example\\n' | extruct rows add tbl_0001 - --format csv --run",
  },
  run = function(ctx, a, opts)
    local format = input.rows_format(ctx, opts.format, a.file)
    local rows = input.rows(ctx, a.file, format)
    local added, err = send_in_batches(ctx, "add_rows", a.id, rows, opts)
    if not added then return nil, err end
    if not opts.json then
      local ok
      ok, err = ctx:write(("added %s to %s\n"):format(plural(added, "row"), output.one_line(a.id)))
      if not ok then return nil, err end
    end
    return ctx:flush()
  end,
}
command(ADD)

--- `rows add` under other words (`tables rows add`), its help pointing at
--- the new spelling.
function M.alias(words)
  local entry = {}
  for field, value in pairs(ADD) do entry[field] = value end
  entry.words = words
  entry.summary = "the same as `rows add`"
  entry.help = "The same as `extruct rows add`, under its earlier name; see `extruct rows add --help`.\n"
  entry.examples = { "extruct " .. table.concat(words, " ") .. " tbl_0001 leads.csv" }
  return entry
end

command{
  words = { "rows", "get" },
  args = { TABLE_ID, { name = "ROW_ID", key = "row_id", help = "the row's id", missing = "missing ROW_ID" } },
  summary = "print one row (its cells and run status) as JSON",
  options = { PRETTY, COMPACT },
  help = [[
Prints the row ROW_ID of the table ID (GET /v1/tables/ID/rows/ROW_ID: its
data, metadata, columns and status, running or idle) as one JSON document
on stdout, followed by a newline.
]],
  examples = { "extruct rows get tbl_demo row_0001 | jq -r .status" },
  run = function(ctx, a)
    local row, err = ctx:client():get_row(a.id, a.row_id)
    if not row then return nil, err end
    return ctx:print_json(row)
  end,
}

command{
  words = { "rows", "update" },
  args = { TABLE_ID, rows_file(", each with the id of the row it changes") },
  summary = "change rows (by id) from JSON lines or CSV",
  options = send_options("changed"),
  check = json_style_needs_json,
  help = [[
Sends the rows of FILE (`-`: standard input) to the table ID as changes
(PATCH /v1/tables/ID/rows), --batch rows a request: a row with an id
changes that row's data (and metadata, when given), and a row without one
is added as a new row. Prints what was done:
  updated 2 rows of tbl_demo, added 1 row
The row's id is the `id` of a row object {"id": ..., "data": {...}}, the
field `id` of a plain map, or the CSV column `id` (`tables data --format
csv --id` writes one); an id that is not a non-empty string exits 2 naming
the line, and one the table does not have makes the API refuse its batch
(exit status 1). As with `rows add`, the input is checked before anything is sent,
and a failed batch says how many rows were sent before it. Changed inputs
make the row's answers stale: run the table again (or pass --run) to fill
them.

]] .. FORMATS_HELP,
  examples = {
    "extruct rows update tbl_demo demo-inputs.csv --run  # from tables data --format csv --id, edited",
    "echo '{\"id\": \"row_0001\", \"input\": \"https://acme.example\"}' | extruct rows update tbl_demo - --format jsonl",
  },
  run = function(ctx, a, opts)
    local format = input.rows_format(ctx, opts.format, a.file)
    local rows = input.rows(ctx, a.file, format, true)
    local ok, err = send_in_batches(ctx, "update_rows", a.id, rows, opts)
    if not ok then return nil, err end
    if not opts.json then
      -- (counted from the input: the API's answer does not tell the two apart)
      local updated = 0
      for _, row in ipairs(rows) do
        if row.id ~= nil then updated = updated + 1 end
      end
      local added = #rows - updated
      local text = ("updated %s of %s"):format(plural(updated, "row"), output.one_line(a.id))
      if added > 0 then text = text .. (", added %s"):format(plural(added, "row")) end
      ok, err = ctx:write(text, "\n")
      if not ok then return nil, err end
    end
    return ctx:flush()
  end,
}

command{
  words = { "rows", "delete" },
  args = { TABLE_ID, { name = "ROW_ID", key = "row_ids", many = true, help = "the id of a row to delete",
                       missing = "missing ROW_ID" } },
  summary = "delete rows (needs --yes)",
  destructive = true,
  options = {
    args.option{ name = "--json", help = "print the API's answer (the deleted ids) as JSON instead" },
    PRETTY, COMPACT,
  },
  check = json_style_needs_json,
  help = [[
Deletes the rows ROW_ID ... of the table ID in one request (DELETE
/v1/tables/ID/rows) and prints how many went:
  deleted 2 rows from tbl_demo
If one of the ids is not a row of the table the API refuses them all (exit
status 1). There is no undo, so it refuses to run without --yes.
]],
  examples = { "extruct rows delete tbl_demo row_0001 row_0002 --yes" },
  run = function(ctx, a)
    local ids, seen = {}, {}
    for _, id in ipairs(a.row_ids) do
      if not seen[id] then ids[#ids + 1], seen[id] = id, true end
    end
    local answer, err = ctx:client():delete_rows(a.id, ids)
    if not answer then return nil, err end
    local count = #ids
    if type(answer) == "table" and getmetatable(answer) == ctx.extruct.array_mt then count = #answer end
    return ctx:print_change(answer, ("deleted %s from %s"):format(plural(count, "row"), output.one_line(a.id)))
  end,
}

return M
