--- extruct.cli.records: the one way the command line prints records (the
--- tables of `tables list`, the rows of `tables data`, companies, Deep
--- Search results, tasks, columns): --format
---   table  aligned columns under a header line (the default on a terminal)
---   jsonl  one JSON object a line, as the API sent it (the default otherwise)
---   json   one JSON array of them
---   csv    a header line, then one record each (RFC 4180)
--- --json is the earlier spelling of --format jsonl; --pretty and --compact
--- shape the JSON formats.
---
--- A command describes its records' columns once, for `table` and `csv`:
---   { { "ID", "id" }, { "CREATED", "created_at", text = fn(item) }, ... }
--- a header, the field it reads (its name is the CSV header), how the field
--- reads in the aligned table (text; default: its text on one line, cut to
--- 60 characters) and in CSV (value; default: as `csv_field` writes it);
--- table = false keeps a column out of the aligned table (CSV has it).

local args = require("extruct.cli.args")
local csv = require("extruct.csv")
local output = require("extruct.cli.output")

local M = {}

M.FORMATS = { "table", "jsonl", "json", "csv" }

--- The options of a command that prints records: --format among
--- `formats` (default M.FORMATS), --json, --pretty and --compact.
function M.options(formats)
  formats = formats or M.FORMATS
  return {
    args.option{ name = "--format", value = "FORMAT", type = args.choice((table.unpack or unpack)(formats)),
                 help = args.or_list(formats) .. ": aligned columns, one JSON object a line, one JSON array, or CSV"
                   .. " (default: table on a terminal, jsonl otherwise)" },
    args.option{ name = "--json", help = "the same as --format jsonl" },
    args.option{ name = "--pretty", help = "indent JSON as `jq .` does (the server's text, re-indented)" },
    args.option{ name = "--compact", help = "JSON on one line, each object (the default)" },
  }
end

--- The check of those options.
function M.check(opts, fail, spelled)
  if opts.pretty and opts.compact then fail("--pretty and --compact exclude each other") end
  if opts.json and opts.format and opts.format ~= "jsonl" then
    fail(("--json and --format %s exclude each other"):format(opts.format))
  end
  if (opts.pretty or opts.compact) and (opts.format == "table" or opts.format == "csv") then
    fail(("option %s shapes JSON: it does not go with --format %s"):format(spelled.pretty or spelled.compact,
      opts.format))
  end
end

--- The format the command prints in: --format, else jsonl for --json,
--- --pretty or --compact, else table on a terminal and jsonl otherwise.
function M.format_of(ctx)
  local opts = ctx.opts
  if opts.format then return opts.format end
  if opts.json or opts.pretty or opts.compact then return "jsonl" end
  if not ctx.out_file and ctx.sys.isatty(1) then return "table" end
  return "jsonl"
end

-- A field's value as one CSV field: text as it is, a number or boolean as
-- text, an object or array as compact JSON, null or nothing as empty.
local function csv_field(ctx, value)
  local kind = type(value)
  if kind == "string" then return value end
  if kind == "number" then return output.number_text(value) end
  if kind == "boolean" then return tostring(value) end
  if kind == "table" then return (ctx.extruct.encode(value)) or "" end
  return ""
end

-- How wide a cell of the aligned table may be, in characters.
local MAX_CELL = 60

--- Text for a cell of the aligned table: on one line, at most `most`
--- characters (cut with "...").
function M.cut(text, most)
  text = output.one_line(text)
  most = most or MAX_CELL
  if output.text_width(text) <= most then return text end
  -- (cut between characters, not inside one)
  local kept, width = {}, 0
  for char in text:gmatch("[\1-\127\194-\244][\128-\191]*") do
    if width == most - 3 then break end
    kept[#kept + 1], width = char, width + 1
  end
  return table.concat(kept) .. "..."
end

local Writer = {}
Writer.__index = Writer

--- A writer of records in the command's format: writer:add(item) for each
--- (written at once, but for `table`, which aligns them all at the end),
--- then writer:finish(). Each returns true, or nil and an error.
function M.writer(ctx, columns)
  return setmetatable({ ctx = ctx, columns = columns, format = M.format_of(ctx), count = 0, lines = {} }, Writer)
end

function Writer:header()
  local ctx, columns = self.ctx, self.columns
  if self.format == "csv" then
    local names = {}
    for i, column in ipairs(columns) do names[i] = column[2] end
    return ctx:write(csv.format_record(names, #names))
  end
  if self.format == "table" then
    local names = {}
    for _, column in ipairs(columns) do
      if column.table ~= false then names[#names + 1] = column[1] end
    end
    self.lines[1] = names
  end
  return true
end

function Writer:add(item)
  local ctx, columns = self.ctx, self.columns
  if self.count == 0 then
    local ok, err = self:header()
    if not ok then return nil, err end
  end
  self.count = self.count + 1
  local format = self.format
  if format == "jsonl" then return ctx:json_line(item) end
  if format == "json" then
    local text, err = ctx:json_text(item, ctx.opts.pretty or false)
    if not text then return nil, err end
    if ctx.opts.pretty then text = "  " .. text:gsub("\n", "\n  ") end
    local lead = self.count == 1 and "[" or ","
    if ctx.opts.pretty then lead = lead .. "\n" end
    return ctx:write(lead, text)
  end
  item = type(item) == "table" and item or {}
  if format == "csv" then
    local fields = {}
    for i, column in ipairs(columns) do
      fields[i] = column.value and column.value(item) or csv_field(ctx, item[column[2]])
    end
    return ctx:write(csv.format_record(fields, #fields))
  end
  local cells = {}
  for _, column in ipairs(columns) do
    if column.table ~= false then
      cells[#cells + 1] = M.cut(column.text and column.text(item) or output.field_text(item[column[2]]))
    end
  end
  self.lines[#self.lines + 1] = cells
  return true
end

--- Flushes what the format holds back: every `--limit` worth of items, a
--- streaming format writes at once; `table` waits for the end.
function Writer:flush()
  if self.format == "table" then return true end
  return self.ctx:flush()
end

function Writer:finish()
  local ctx = self.ctx
  local ok, err = true, nil
  if self.count == 0 then ok, err = self:header() end
  if not ok then return nil, err end
  if self.format == "json" then
    ok, err = ctx:write(self.count == 0 and "[]\n" or (ctx.opts.pretty and "\n]\n" or "]\n"))
  elseif self.format == "table" then
    ok, err = ctx:write(output.aligned(self.lines))
  end
  if not ok then return nil, err end
  return ctx:flush()
end

--- Prints the items of `each` (an iterator as the client's: an item, or
--- false and an error), at most `limit` of them, flushing every
--- `flush_every` (streams of JSON lines and CSV reach readers downstream a
--- page at a time). Returns true, or nil and an error.
function M.print(ctx, each, columns, limit, flush_every)
  local writer = M.writer(ctx, columns)
  local count = 0
  for item, err in each do
    if item == false then
      writer:flush()
      return nil, err
    end
    local ok, why = writer:add(item)
    if not ok then return nil, why end
    count = count + 1
    if count == limit then break end
    if flush_every and count % flush_every == 0 then
      ok, why = writer:flush()
      if not ok then return nil, why end
    end
  end
  return writer:finish()
end

--- An iterator over a list, as the client's iterators are.
function M.each(list)
  local i = 0
  return function()
    i = i + 1
    return list[i]
  end
end

return M
