--- extruct.cli: the `extruct` command, for shell scripts and terminals.
--
--   extruct tables list                  the tables, as an aligned text table or JSON lines
--   extruct tables get ID                the table as JSON on stdout
--   extruct tables status ID             one line: name, run status, cells done/total, percent
--   extruct tables wait ID               progress on stderr, then the idle table as JSON on stdout
--   extruct tables create FILE           a new table from a JSON spec; prints its id
--   extruct tables delete ID             deletes the table
--   extruct tables run ID                starts a run; --wait waits for it like `tables wait`
--   extruct tables data ID               every row, as JSON lines or CSV
--   extruct tables rows add ID FILE      rows from JSON lines or CSV, in batches
--
-- M.main(argv, sys) parses, runs and returns the exit code; bin/extruct is
-- a launcher around it. `sys` replaces the process's streams and
-- environment (stdin, stdout, stderr, getenv, isatty, terminal_width),
-- which keeps the parsing testable in-process.

local csv = require("extruct.csv")

local M = {}

M.EXIT_OK = 0
M.EXIT_API = 1      -- the API answered with an error, or the network failed
M.EXIT_USAGE = 2    -- bad command line, configuration or input file
M.EXIT_TIMEOUT = 3  -- `tables wait` (or `tables run --wait`) ran out of time

local EXIT_CODES = [[
Exit status:
  0  success
  1  API or network error, or stdout cannot be written
     (stderr: "extruct: KIND: message")
  2  usage or configuration error: unknown option, missing ID or FILE, no
     token, unreadable token file, malformed base URL, an input FILE that
     cannot be read or is malformed (the message names the line)
  3  `tables wait` timed out before the table went idle (so did
     `tables run --wait`)
]]

local COMMON_OPTIONS = [[
Options for every command:
  --token-file PATH  read the API token from PATH (surrounding whitespace is
                     trimmed); default: the EXTRUCT_API_TOKEN variable
  --base-url URL     the API's address; default: EXTRUCT_API_URL, else
                     https://api.extruct.ai
  -h, --help         show help
      --version      show the version
]]

local JSON_OPTIONS = [[
  --pretty           indented JSON (the default when stdout is a terminal)
  --compact          JSON on one line (the default otherwise)
]]

local WAIT_OPTIONS = [[
  --interval S       seconds between polls (default 5)
  --max-interval S   while a poll shows no change, the pause grows (x1.5)
                     up to S seconds; any change resets it (default: the
                     interval, so no growth)
  --timeout S        give up after S seconds, exit status 3 (default 900);
                     0 polls once
  --quiet            no progress report
]]

local function command_help(text, options)
  return text .. (options or "") .. "\n" .. COMMON_OPTIONS .. "\n" .. EXIT_CODES
end

local HELP = {}

HELP[""] = [[
usage: extruct [OPTIONS] COMMAND ...

The command line of the Extruct API client (https://extruct.ai).

Commands:
  tables list              list the tables: id, name, kind, created
  tables get ID            print the table (header and run status) as JSON
  tables status ID         print one line: name, run status, cells done/total, percent
  tables wait ID           wait until the table's run is idle, then print it as JSON
  tables create FILE       create a table from a JSON spec, print its id
  tables delete ID         delete the table
  tables run ID            start a run of the table's cells (--wait: until idle)
  tables data ID           print every row, as JSON lines or CSV
  tables rows add ID FILE  add rows from JSON lines or CSV
  help [COMMAND]           show help for a command

]] .. COMMON_OPTIONS .. [[

Options may come before or after the command words, as `--opt value` or
`--opt=value`; `--` ends the options. The token is never printed; there is no
--token option because command lines are visible to other users. A FILE of
`-` is standard input.

Environment:
  EXTRUCT_API_TOKEN  the API token (unless --token-file is given)
  EXTRUCT_API_URL    the API's address (unless --base-url is given)

]] .. EXIT_CODES .. [[

Run 'extruct tables --help' or 'extruct help tables wait' for more.
]]

HELP.tables = [[
usage: extruct tables SUBCOMMAND [ARGUMENTS] [OPTIONS]

Subcommands:
  list              list the tables as an aligned text table (id, name,
                    kind, created) or JSON lines
  get ID            print the table (header and run status) as JSON on stdout
  status ID         print one line: name, run status, cells done/total, percent
  wait ID           show progress on stderr until the run is idle, then print
                    the table as JSON on stdout
  create FILE       create a table from a JSON spec; print its id
  delete ID         delete the table
  run ID            start a run; print its id and the number of cells
                    requested (--wait: then wait like `wait`)
  data ID           print every row as JSON lines, or as CSV
  rows add ID FILE  add rows from JSON lines or CSV, in batches

]] .. COMMON_OPTIONS .. [[

]] .. EXIT_CODES .. [[

Run 'extruct tables SUBCOMMAND --help' for the options of each.
]]

HELP["tables rows"] = [[
usage: extruct tables rows add ID FILE [OPTIONS]

Subcommands:
  add ID FILE  add rows from JSON lines or CSV, in batches

]] .. COMMON_OPTIONS .. [[

]] .. EXIT_CODES .. [[

Run 'extruct tables rows add --help' for its options.
]]

HELP["tables list"] = command_help([=[
usage: extruct tables list [--kind K] [--scope S] [--search TEXT] [--tag T]...
                           [--sort ORDER] [--limit N] [--page-size N] [--json]
                           [OPTIONS]

Lists every table (GET /v1/tables, page after page) on stdout: an aligned
text table with a header line (ID, NAME, KIND, CREATED, the time in UTC to
the minute), or with --json one table header per line as compact JSON, in
the API's order.

  --kind K           only tables of this kind: generic, company or people
  --scope S          personal or organization
  --search TEXT      only tables whose name or description holds TEXT
  --tag T            only tables with the tag T; repeat it to require
                     several tags
  --sort ORDER       -created_at (the default: newest first), created_at,
                     name, -name, num_rows or -num_rows
  --limit N          at most N tables in all
  --page-size N      tables a request, 1..100 (default 100, or N of --limit
                     when that is smaller)
  --json             one JSON object per line instead of the text table
]=])

HELP["tables get"] = command_help([=[
usage: extruct tables get ID [--pretty | --compact] [OPTIONS]

Prints the table ID (GET /v1/tables/ID: header, columns, run status) as one
JSON document on stdout, followed by a newline.

]=], JSON_OPTIONS)

HELP["tables status"] = command_help([=[
usage: extruct tables status ID [OPTIONS]

Prints one line about the table's run on stdout, for example:
  Acme leads (tbl_demo): running, 18/25 cells, 72%
with ", N failed" appended when cells failed. Counts are of non-input cells;
the percent is rounded down, so 100% means done.
]=])

HELP["tables wait"] = command_help([=[
usage: extruct tables wait ID [ID ...] [--interval S] [--max-interval S] [--timeout S]
                              [--concurrency N] [--quiet] [--pretty | --compact] [OPTIONS]

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
With several IDs, a terminal shows one bar per table.

  --concurrency N    tables polled at once (several IDs; default 8)
]=], WAIT_OPTIONS .. JSON_OPTIONS)

HELP["tables create"] = command_help([=[
usage: extruct tables create FILE [--json [--pretty | --compact]] [OPTIONS]

Creates a table (POST /v1/tables) from FILE, a JSON object such as
  {"name": "Leads", "kind": "company", "column_configs": [
     {"kind": "input", "name": "Company", "key": "input"}]}
(fields: name, description, tags, kind, notify, settings, column_configs;
FILE `-` reads standard input) and prints the new table's id on stdout.

  --json             print the whole new table as JSON instead
]=], JSON_OPTIONS)

HELP["tables delete"] = command_help([=[
usage: extruct tables delete ID [--json [--pretty | --compact]] [OPTIONS]

Deletes the table ID (DELETE /v1/tables/ID) and prints one line on stdout:
  deleted Acme leads (tbl_demo)

  --json             print the deleted table's header as JSON instead
]=], JSON_OPTIONS)

HELP["tables run"] = command_help([=[
usage: extruct tables run ID [--mode MODE] [--rows IDS] [--columns IDS]
                             [--json | --wait [WAIT OPTIONS]] [OPTIONS]

Starts a run of the table's cells (POST /v1/tables/ID/run) and prints one
line on stdout: the run's id, the number of cells requested and the mode:
  run_0001: 50 cells requested (mode new)

  --mode MODE        new (the default: cells never run), all, failed or
                     stuck_failed_new
  --rows IDS         only these rows: ids separated by commas
  --columns IDS      only these columns: ids separated by commas
  --json             print the whole run object as JSON instead
  --wait             then wait until the table is idle, as `tables wait`
                     does: the run's line and the progress go to stderr
                     (none with --quiet), the idle table as JSON to stdout;
                     exit status 3 on timeout

Wait options (with --wait):
]=], WAIT_OPTIONS .. JSON_OPTIONS)

HELP["tables data"] = command_help([=[
usage: extruct tables data ID [--format jsonl|csv] [--id] [--limit N]
                              [--page-size N] [OPTIONS]

Prints every row of the table (GET /v1/tables/ID/data, page after page),
written as the pages arrive:
  jsonl  one row object per line, as the API returns it (the default)
  csv    a header line of the column keys, in the table's column order, then
         one record per row (RFC 4180, LF line ends): the answer of each
         cell, a string as it is, a number or boolean as text, an object or
         array as compact JSON; a null, missing or failed cell is an empty
         field. Data under keys that are not columns is left out.

  --format FORMAT    jsonl or csv
  --id               csv: a first column `id` with the row id (without it,
                     the header is the column keys, as `rows add` reads them)
  --limit N          at most N rows
  --page-size N      rows a request (default 50, or N of --limit when that
                     is smaller)
]=])

HELP["tables rows add"] = command_help([=[
usage: extruct tables rows add ID FILE [--format jsonl|csv] [--batch N] [--run]
                                       [--json] [OPTIONS]

Adds the rows of FILE (`-`: standard input) to the table ID (POST
/v1/tables/ID/rows), --batch rows a request, and prints how many were added:
  added 250 rows to tbl_demo
The whole input is read and checked first: a malformed line sends nothing
and exits 2, naming the line.

Formats (from --format, else the extension: .csv, or .jsonl .ndjson .json):
  jsonl  one JSON object a line: {"data": {...}, "metadata": {...}}, or a
         plain map of column key -> value; blank lines are skipped. Input
         that starts with `[` is read as one JSON array of such objects.
  csv    RFC 4180: a header line of column keys, then one record per row;
         quoted fields may hold commas, quotes ("") and line breaks; CRLF or
         LF; a UTF-8 byte order mark is ignored; an empty field leaves the
         cell out; every record must have as many fields as the header.

  --format FORMAT    jsonl or csv (needed for standard input)
  --batch N          rows a request (default 100)
  --run              start the new rows' cells at once
  --json             print the created rows, one JSON object per line,
                     instead of the count
]=])

-- Every option: the key it sets, and for those taking a value, the name of
-- the value in messages and how to read it.
local function seconds(text, allow_zero)
  local n = (text:find("^%d+%.?%d*$") or text:find("^%.%d+$")) and tonumber(text)
  if not n or n >= 1e9 or (n == 0 and not allow_zero) then return nil end
  return n
end

local function whole_number(text)
  local n = text:find("^%d+$") and tonumber(text)
  if not n or n < 1 or n >= 1e9 then return nil end
  return n
end

local function one_of(...)
  local allowed = {}
  for i = 1, select("#", ...) do allowed[(select(i, ...))] = true end
  return function(text) return allowed[text] and text or nil end
end

-- "a, b,c" -> { "a", "b", "c" }; an empty item makes the whole list invalid.
local function id_list(text)
  local ids = {}
  for item in (text .. ","):gmatch("([^,]*),") do
    item = item:match("^%s*(.-)%s*$")
    if item == "" then return nil end
    ids[#ids + 1] = item
  end
  return ids
end

local OPTIONS = {
  ["--help"] = { key = "help" },
  ["-h"] = { key = "help" },
  ["--version"] = { key = "version" },
  ["--token-file"] = { key = "token_file", value = "PATH" },
  ["--base-url"] = { key = "base_url", value = "URL" },
  ["--pretty"] = { key = "pretty" },
  ["--compact"] = { key = "compact" },
  ["--quiet"] = { key = "quiet" },
  ["--interval"] = { key = "interval", value = "SECONDS", want = "a number of seconds > 0",
                     parse = function(v) return seconds(v, false) end },
  ["--max-interval"] = { key = "max_interval", value = "SECONDS", want = "a number of seconds > 0",
                         parse = function(v) return seconds(v, false) end },
  ["--timeout"] = { key = "timeout", value = "SECONDS", want = "a number of seconds >= 0",
                    parse = function(v) return seconds(v, true) end },
  ["--kind"] = { key = "kind", value = "KIND", want = "generic, company or people",
                 parse = one_of("generic", "company", "people") },
  ["--scope"] = { key = "scope", value = "SCOPE", want = "personal or organization",
                  parse = one_of("personal", "organization") },
  ["--search"] = { key = "search", value = "TEXT" },
  ["--tag"] = { key = "tags", value = "TAG", repeated = true },
  ["--sort"] = { key = "sort", value = "ORDER",
                 want = "-created_at, created_at, name, -name, num_rows or -num_rows",
                 parse = one_of("-created_at", "created_at", "name", "-name", "num_rows", "-num_rows") },
  ["--limit"] = { key = "limit", value = "N", want = "a whole number >= 1", parse = whole_number },
  ["--page-size"] = { key = "page_size", value = "N", want = "a whole number >= 1", parse = whole_number },
  ["--json"] = { key = "json" },
  ["--mode"] = { key = "mode", value = "MODE", want = "new, all, failed or stuck_failed_new",
                 parse = one_of("new", "all", "failed", "stuck_failed_new") },
  ["--rows"] = { key = "rows", value = "IDS", want = "row ids separated by commas", parse = id_list },
  ["--columns"] = { key = "columns", value = "IDS", want = "column ids separated by commas", parse = id_list },
  ["--wait"] = { key = "wait" },
  ["--format"] = { key = "format", value = "FORMAT", want = "jsonl or csv", parse = one_of("jsonl", "csv") },
  ["--batch"] = { key = "batch", value = "N", want = "a whole number >= 1", parse = whole_number },
  ["--concurrency"] = { key = "concurrency", value = "N", want = "a whole number >= 1", parse = whole_number },
  ["--run"] = { key = "run" },
  ["--id"] = { key = "id" },
}

-- wait_until_idle's default, which --max-interval must not undercut
local DEFAULT_INTERVAL = 5
-- Tables a request for `tables list`: the most the API allows.
local LIST_PAGE_SIZE = 100
-- Rows a request for `tables data` (the API's own paging advice) and `rows add`.
local DATA_PAGE_SIZE = 50
local ROWS_BATCH = 100

local GLOBAL_KEYS = { help = true, version = true, token_file = true, base_url = true }

local function set(...)
  local keys = {}
  for i = 1, select("#", ...) do keys[(select(i, ...))] = true end
  return keys
end

-- The options of waiting, which `tables run` takes only with --wait.
local WAIT_KEYS = set("interval", "max_interval", "timeout", "quiet")

-- The commands: their words, their arguments, the options they take beyond
-- the global ones.
local COMMANDS = {
  ["tables list"] = { args = {},
                      options = set("kind", "scope", "search", "tags", "sort", "limit", "page_size", "json") },
  ["tables get"] = { args = { "ID" }, options = set("pretty", "compact") },
  ["tables status"] = { args = { "ID" }, options = {} },
  ["tables wait"] = { args = { "ID" }, more = "ID",
                      options = set("pretty", "compact", "interval", "max_interval", "timeout", "quiet",
                                    "concurrency") },
  ["tables create"] = { args = { "FILE" }, options = set("json", "pretty", "compact") },
  ["tables delete"] = { args = { "ID" }, options = set("json", "pretty", "compact") },
  ["tables run"] = { args = { "ID" },
                     options = set("mode", "rows", "columns", "json", "wait", "pretty", "compact",
                                   "interval", "max_interval", "timeout", "quiet") },
  ["tables data"] = { args = { "ID" }, options = set("format", "id", "limit", "page_size") },
  ["tables rows add"] = { args = { "ID", "FILE" }, options = set("format", "batch", "run", "json") },
}

-- The words that lead to commands, what their next word is, and the choices.
local GROUPS = {
  [""] = { missing = "missing command (tables list|get|status|wait|create|delete|run|data|rows)" },
  tables = { missing = "missing subcommand: list, get, status, wait, create, delete, run, data or rows" },
  ["tables rows"] = { missing = "missing subcommand of tables rows: add" },
}

local MISSING_ARGUMENT = {
  ID = "missing table ID",
  FILE = "missing FILE (a path, or - for standard input)",
}

local UsageError = {}

local function usage_error(message, topic)
  error(setmetatable({ message = message, topic = topic }, UsageError), 0)
end

--- The longest known command (or help topic) the words start with.
local function topic_of(words)
  local topic = ""
  for n = 1, math.min(#words, 3) do
    local candidate = table.concat(words, " ", 1, n)
    if not HELP[candidate] then break end
    topic = candidate
  end
  return topic
end

--- Splits argv into the command words and the options ({ key = value },
--- plus `given`, the spelling of each option as typed, for messages).
--- A repeated option keeps its last value, except those that collect a list.
function M.parse(argv)
  local words, opts, given = {}, {}, {}
  local i, only_words = 1, false
  while argv[i] ~= nil do
    local arg = argv[i]
    if only_words or arg == "-" or arg:sub(1, 1) ~= "-" then
      words[#words + 1] = arg
    elseif arg == "--" then
      only_words = true
    else
      local name, inline = arg:match("^(%-%-[^=]+)=(.*)$")
      name = name or arg
      local option = OPTIONS[name]
      if not option then
        usage_error(("unknown option '%s'"):format(name), topic_of(words))
      end
      local value = true
      if option.value then
        if inline then
          value = inline
        else
          i = i + 1
          value = argv[i]
          if value == nil then
            usage_error(("option %s needs a value (%s)"):format(name, option.value), topic_of(words))
          end
        end
        if option.parse then
          local parsed = option.parse(value)
          if parsed == nil then
            usage_error(("option %s wants %s, got '%s'"):format(name, option.want, value), topic_of(words))
          end
          value = parsed
        elseif value == "" then
          usage_error(("option %s needs a non-empty %s"):format(name, option.value), topic_of(words))
        end
      elseif inline then
        usage_error(("option %s takes no value"):format(name), topic_of(words))
      end
      if option.repeated then
        local list = opts[option.key] or {}
        list[#list + 1] = value
        value = list
      end
      opts[option.key] = value
      given[option.key] = name
    end
    i = i + 1
  end
  opts.given = given
  return words, opts
end

local function help_hint(topic)
  if topic == nil or topic == "" then return "Run 'extruct --help' for usage." end
  return ("Run 'extruct %s --help' for usage."):format(topic)
end

---------------------------------------------------------------------------
-- Output
---------------------------------------------------------------------------

local function one_line(text)
  return (tostring(text):gsub("%c+", " "))
end

--- m:ss, or h:mm:ss from an hour on.
function M.duration(s)
  s = math.floor(math.max(0, s))
  if s >= 3600 then
    return ("%d:%02d:%02d"):format(math.floor(s / 3600), math.floor(s % 3600 / 60), s % 60)
  end
  return ("%d:%02d"):format(math.floor(s / 60), s % 60)
end

-- Integer-looking text for counts, which may arrive as floats on Lua 5.1.
local function count_text(n)
  return ("%d"):format(n)
end

--- The run of t in words: "running, 18/25 cells, 72%" (", N failed" when some did).
function M.run_summary(extruct, t)
  local fraction, counts = extruct.progress(t)
  local status = type(t.status) == "table" and t.status or {}
  local run_status = status.run_status
  run_status = type(run_status) == "string" and run_status ~= "" and one_line(run_status) or "unknown status"
  local percent
  if counts.total > 0 then
    percent = math.floor(counts.done * 100 / counts.total)
  else
    percent = math.floor(fraction * 100)
  end
  local text = ("%s, %s/%s cells, %d%%"):format(run_status, count_text(counts.done), count_text(counts.total), percent)
  if counts.failed > 0 then
    text = text .. (", %s failed"):format(count_text(counts.failed))
  end
  return text, counts, percent
end

-- "Acme leads (tbl_demo)", or the id alone when the name is missing or blank.
local function label(name, id)
  name = type(name) == "string" and name:find("%S") and one_line(name) or nil
  return name and ("%s (%s)"):format(name, one_line(id)) or one_line(id)
end

--- "Acme leads (tbl_demo): running, 18/25 cells, 72%"
function M.status_line(extruct, id, t)
  return label(t.name, id) .. ": " .. (M.run_summary(extruct, t))
end

--- The progress bar for a terminal `width` columns wide, without a newline.
--- Parts are dropped as the terminal narrows: the id, then the time since
--- the last change, then the bar itself.
function M.bar_line(id, counts, percent, elapsed, since_change, width)
  -- done is padded to the width of total, so the bar keeps its length as counts grow
  local total = count_text(counts.total)
  local numbers = ("%" .. #total .. "s/%s cells %3d%%"):format(count_text(counts.done), total, percent)
  local times = "elapsed " .. M.duration(elapsed)
  local change = "last change " .. M.duration(since_change) .. " ago"
  local room = width - 1 -- the last column would wrap on some terminals
  local function with_bar(prefix, suffix)
    local bar_width = math.min(60, room - #prefix - #suffix - 3)
    if bar_width < 10 then return nil end
    local filled = math.floor(bar_width * percent / 100)
    return prefix .. "[" .. ("#"):rep(filled) .. ("."):rep(bar_width - filled) .. "] " .. suffix
  end
  local full = numbers .. "  " .. times .. ", " .. change
  return with_bar(one_line(id) .. " ", full)
    or with_bar("", full)
    or with_bar("", numbers .. "  " .. times)
    or (numbers .. "  " .. times):sub(1, math.max(room, 1))
end

-- Reports a wait's progress on stderr: a bar redrawn in place on a
-- terminal, plain lines otherwise. Redraws pad over the previous line
-- instead of using escape sequences, so TERM=dumb terminals work too.
local Progress = {}
Progress.__index = Progress

local PLAIN_LINE_AT_LEAST_EVERY = 60

function M.progress_reporter(extruct, id, sys, now)
  local started = now()
  return setmetatable({
    extruct = extruct, id = id, sys = sys, now = now,
    tty = sys.isatty(2), started = started, printed_at = started, drawn = 0,
  }, Progress)
end

function Progress:width()
  local width = self.sys.terminal_width(2) or tonumber(self.sys.getenv("COLUMNS") or "")
  return (width and width >= 2) and width or 80
end

--- The bar for the last table seen, or nil before the first poll.
function Progress:line(width)
  if not self.last_table then return nil end
  local now = self.now()
  return M.bar_line(self.id, self.counts, self.percent, now - self.started, now - self.changed_at, width or self:width())
end

function Progress:draw()
  local line = self:line()
  if not line then return end
  local pad = math.max(0, self.drawn - #line)
  self.sys.stderr:write("\r", line, (" "):rep(pad))
  self.sys.stderr:flush()
  self.drawn = #line
end

function Progress:clear()
  if self.drawn > 0 then
    self.sys.stderr:write("\r", (" "):rep(self.drawn), "\r")
    self.sys.stderr:flush()
    self.drawn = 0
  end
end

function Progress:plain_line()
  return ("%s: %s, elapsed %s\n"):format(one_line(self.id), self.summary, M.duration(self.now() - self.started))
end

--- Takes in the table a poll saw; returns whether the summary changed.
function Progress:record(t)
  local summary, counts, percent = M.run_summary(self.extruct, t)
  local changed = summary ~= self.summary
  if changed then self.changed_at = self.now() end
  self.last_table, self.summary, self.counts, self.percent = t, summary, counts, percent
  return changed
end

--- Called after every poll with the table seen.
function Progress:update(t)
  local now = self.now()
  local changed = self:record(t)
  if self.tty then
    self:draw()
  elseif changed or now - self.printed_at >= PLAIN_LINE_AT_LEAST_EVERY then
    self.sys.stderr:write(self:plain_line())
    self.sys.stderr:flush()
    self.printed_at = now
  end
end

--- Between polls: keeps the clocks of the bar moving.
function Progress:tick()
  if self.tty then self:draw() end
end

--- At the end: the bar gives way to a summary line of the last table seen.
function Progress:finish()
  if not self.tty then return end
  self:clear()
  if self.last_table then
    self.sys.stderr:write(self:plain_line())
    self.sys.stderr:flush()
  end
end

-- The progress of several waits: on a terminal (other than TERM=dumb) one
-- bar per table, the block redrawn in place; otherwise each table's plain
-- lines, as for one table.
local MultiProgress = {}
MultiProgress.__index = MultiProgress

function M.multi_progress_reporter(extruct, ids, sys, now)
  local self = setmetatable({ sys = sys, ids = ids, reporters = {}, drawn = 0 }, MultiProgress)
  self.tty = sys.isatty(2) and sys.getenv("TERM") ~= "dumb"
  for _, id in ipairs(ids) do
    if not self.reporters[id] then
      local reporter = M.progress_reporter(extruct, id, sys, now)
      reporter.tty = false
      self.reporters[id] = reporter
    end
  end
  return self
end

-- Moves back over the lines drawn last time, then writes `lines`.
function MultiProgress:redraw(lines)
  local parts = {}
  if self.drawn > 0 then parts[1] = ("\r\27[%dA"):format(self.drawn) end
  for _, line in ipairs(lines) do parts[#parts + 1] = "\r" .. line .. "\27[K\n" end
  self.sys.stderr:write(table.concat(parts))
  self.sys.stderr:flush()
  self.drawn = #lines
end

function MultiProgress:update(id, t)
  local reporter = self.reporters[id]
  if not self.tty then return reporter:update(t) end
  reporter:record(t)
  local width = reporter:width()
  local lines = {}
  for i, each in ipairs(self.ids) do
    lines[i] = self.reporters[each]:line(width) or (one_line(each) .. ": waiting for the first poll")
  end
  self:redraw(lines)
end

--- At the end, on a terminal: each bar gives way to its summary line.
function MultiProgress:finish()
  if not self.tty then return end
  local lines = {}
  for i, id in ipairs(self.ids) do
    local reporter = self.reporters[id]
    lines[i] = reporter.last_table and reporter:plain_line():sub(1, -2) or (one_line(id) .. ": not polled")
  end
  self:redraw(lines)
end

---------------------------------------------------------------------------
-- Commands
---------------------------------------------------------------------------

local function read_token_file(path)
  local file, why = io.open(path, "rb")
  if not file then
    usage_error(("cannot read the token file: %s"):format(why))
  end
  local text, read_why = file:read("*a")
  file:close()
  if not text then
    usage_error(("cannot read the token file '%s': %s"):format(path, tostring(read_why)))
  end
  local token = text:match("^%s*(.-)%s*$")
  if token == "" then
    usage_error(("the token file '%s' is empty"):format(path))
  end
  return token
end

local function make_client(extruct, opts, sys)
  local token
  if opts.token_file then
    token = read_token_file(opts.token_file)
  else
    token = sys.getenv("EXTRUCT_API_TOKEN")
    if token == nil or token == "" then
      usage_error("no API token: set EXTRUCT_API_TOKEN or pass --token-file PATH")
    end
  end
  return extruct.new{ token = token, base_url = opts.base_url }
end

local function output_error(extruct, why)
  return setmetatable({ kind = "output", message = "cannot write to stdout: " .. tostring(why) }, extruct.Error)
end

-- Writes its arguments on stdout: true, or nil and an "output" error.
local function emit(extruct, sys, ...)
  local ok, why = sys.stdout:write(...)
  if not ok then return nil, output_error(extruct, why) end
  return true
end

local function flush(extruct, sys)
  local ok, why = sys.stdout:flush()
  if not ok then return nil, output_error(extruct, why) end
  return true
end

local function write_json(extruct, sys, opts, value)
  local pretty
  if opts.pretty then pretty = true
  elseif opts.compact then pretty = false
  else pretty = sys.isatty(1) end
  local text, err = extruct.encode(value, { pretty = pretty })
  if not text then return nil, err end
  local ok
  ok, err = emit(extruct, sys, text, "\n")
  if not ok then return nil, err end
  return flush(extruct, sys)
end

-- One line of text for whatever a field of the API holds.
local function number_text(n)
  if n == math.floor(n) and math.abs(n) < 2 ^ 53 then return ("%d"):format(n) end
  local short = ("%.15g"):format(n)
  if tonumber(short) == n then return short end
  return ("%.17g"):format(n)
end

local function field_text(value)
  if type(value) == "string" then return one_line(value) end
  if type(value) == "number" then return number_text(value) end
  if type(value) == "boolean" then return tostring(value) end
  return ""
end

---------------------------------------------------------------------------
-- Input files
---------------------------------------------------------------------------

local function source_name(path)
  return path == "-" and "standard input" or path
end

-- The whole of FILE (`-`: standard input), or a usage error naming it.
local function read_input(sys, path, command)
  local text, why
  if path == "-" then
    text, why = sys.stdin:read("*a")
  else
    local file, open_why = io.open(path, "rb")
    if not file then usage_error(("cannot read %s"):format(open_why), command) end
    text, why = file:read("*a")
    file:close()
  end
  if not text then
    usage_error(("cannot read %s: %s"):format(source_name(path), tostring(why)), command)
  end
  return text
end

local function input_error(path, line, message, command)
  local where = source_name(path) .. (line and (", line %d"):format(line) or "")
  usage_error(("%s: %s"):format(where, message), command)
end

local BOM = "\239\187\191"

local function strip_bom(text)
  if text:sub(1, 3) == BOM then return text:sub(4) end
  return text
end

local function is_object(extruct, value)
  return type(value) == "table" and getmetatable(value) ~= extruct.array_mt
end

local function json_type(extruct, value)
  if value == extruct.null then return "null" end
  if type(value) == "table" then return getmetatable(value) == extruct.array_mt and "an array" or "an object" end
  if type(value) == "string" then return "a string" end
  return ("a %s"):format(type(value))
end

local function row_problem(extruct, value)
  if not is_object(extruct, value) then
    return ("a row must be a JSON object, not %s"):format(json_type(extruct, value))
  end
  if value.data ~= nil and is_object(extruct, value.data) then
    local metadata = value.metadata
    if metadata ~= nil and metadata ~= extruct.null and not is_object(extruct, metadata) then
      return ("the row's metadata must be an object, not %s"):format(json_type(extruct, metadata))
    end
  end
  return nil
end

-- The line of a byte offset in text, from a decode error "... at byte N ...".
local function line_of_error(text, err)
  local byte = tonumber(tostring(err.message):match("at byte (%d+)") or "")
  if not byte then return nil end
  return select(2, text:sub(1, byte - 1):gsub("\n", "")) + 1
end

-- Rows from JSON lines, or from one JSON array when the input starts with `[`.
local function json_rows(extruct, text, path, command)
  text = strip_bom(text)
  local rows = {}
  if text:find("^%s*%[") then
    local value, err = extruct.decode(text)
    if value == nil then
      input_error(path, line_of_error(text, err), "not valid JSON: " .. err.message, command)
    end
    if getmetatable(value) ~= extruct.array_mt then
      input_error(path, nil, "expected a JSON array of rows", command)
    end
    for i, row in ipairs(value) do
      local problem = row_problem(extruct, row)
      if problem then input_error(path, nil, ("item %d of the array: %s"):format(i, problem), command) end
      rows[i] = row
    end
    return rows
  end
  local line = 0
  for line_text in (text .. "\n"):gmatch("([^\n]*)\n") do
    line = line + 1
    if line_text:find("%S") then
      local value, err = extruct.decode(line_text)
      if value == nil then
        input_error(path, line, "not valid JSON: " .. err.message, command)
      end
      local problem = row_problem(extruct, value)
      if problem then input_error(path, line, problem, command) end
      rows[#rows + 1] = value
    end
  end
  return rows
end

-- Rows from CSV: the header names the column keys; an empty field leaves
-- the cell out.
local function csv_rows(text, path, command)
  local records, lines_or_err = csv.parse(text)
  if not records then
    input_error(path, lines_or_err.line, lines_or_err.message:gsub("^line %d+: ", ""), command)
  end
  local rows, header = {}, records[1]
  if not header then return rows end
  local seen = {}
  for i, key in ipairs(header) do
    if key == "" then
      input_error(path, lines_or_err[1], ("the header's field %d is empty: it must name a column key"):format(i), command)
    end
    if seen[key] then
      input_error(path, lines_or_err[1], ("the header names the column key '%s' twice"):format(key), command)
    end
    seen[key] = true
  end
  for r = 2, #records do
    local row = {}
    for i, value in ipairs(records[r]) do
      if value ~= "" then row[header[i]] = value end
    end
    rows[#rows + 1] = row
  end
  return rows
end

local INPUT_FORMATS = { csv = "csv", jsonl = "jsonl", ndjson = "jsonl", json = "jsonl" }

local function input_format(opts, path, command)
  if opts.format then return opts.format end
  local extension = path ~= "-" and path:match("%.([%w]+)$")
  local format = extension and INPUT_FORMATS[extension:lower()]
  if not format then
    usage_error(("cannot tell the format of %s from %s: pass --format jsonl or --format csv"):format(
      source_name(path), path == "-" and "its name" or "its extension"), command)
  end
  return format
end

---------------------------------------------------------------------------
-- Commands
---------------------------------------------------------------------------

local RUN = {}

RUN["tables get"] = function(extruct, sys, opts, id)
  local t, err = make_client(extruct, opts, sys):get_table(id)
  if not t then return nil, err end
  return write_json(extruct, sys, opts, t)
end

RUN["tables status"] = function(extruct, sys, opts, id)
  local t, err = make_client(extruct, opts, sys):get_table(id)
  if not t then return nil, err end
  local ok
  ok, err = emit(extruct, sys, M.status_line(extruct, id, t), "\n")
  if not ok then return nil, err end
  return flush(extruct, sys)
end

-- Waits for the table to go idle with a progress report, then prints it.
-- A timeout exits with EXIT_TIMEOUT (the third result).
local function wait_and_print(extruct, sys, opts, client, id)
  local progress = M.progress_reporter(extruct, id, sys, extruct.now)
  local wait_opts = { interval = opts.interval, max_interval = opts.max_interval, timeout = opts.timeout }
  if not opts.quiet then
    wait_opts.on_progress = function(t) progress:update(t) end
  end
  if progress.tty and not opts.quiet then
    -- the bar's clocks keep moving between polls: redrawn every second
    wait_opts.sleep = function(pause)
      local wake_at = extruct.now() + pause
      while true do
        local left = wake_at - extruct.now()
        if left <= 0 then return end
        extruct.sleep(math.min(left, 1))
        progress:tick()
      end
    end
  end
  local t, err = client:wait_until_idle(id, wait_opts)
  if not opts.quiet then progress:finish() end
  if not t then return nil, err, err.kind == "timeout" and M.EXIT_TIMEOUT or nil end
  return write_json(extruct, sys, opts, t)
end

-- Waits for several tables at once, a progress line each, then prints the
-- idle tables as JSON lines in the order given (those that went idle, also
-- when another failed).
local function wait_all_and_print(extruct, sys, opts, client, ids)
  local progress = M.multi_progress_reporter(extruct, ids, sys, extruct.now)
  local wait_opts = { interval = opts.interval, max_interval = opts.max_interval, timeout = opts.timeout,
                      concurrency = opts.concurrency }
  if not opts.quiet then
    wait_opts.on_progress = function(id, t) progress:update(id, t) end
  end
  local tables, err = client:wait_all(ids, wait_opts)
  if not opts.quiet then progress:finish() end
  local printed = {}
  for _, id in ipairs(ids) do
    local t = (tables or err.tables)[id]
    if t and extruct.is_idle(t) and not printed[id] then
      printed[id] = true
      local ok, why = write_json(extruct, sys, { compact = not opts.pretty, pretty = opts.pretty }, t)
      if not ok then return nil, why end
    end
  end
  if not tables then return nil, err, err.kind == "timeout" and M.EXIT_TIMEOUT or nil end
  return true
end

RUN["tables wait"] = function(extruct, sys, opts, id, ...)
  local client = make_client(extruct, opts, sys)
  if select("#", ...) == 0 then return wait_and_print(extruct, sys, opts, client, id) end
  return wait_all_and_print(extruct, sys, opts, client, { id, ... })
end

--- The table's creation time for `tables list`: UTC to the minute when the
--- API says UTC, as given otherwise.
function M.created_text(value)
  if type(value) ~= "string" then return field_text(value) end
  local date, time, zone = value:match("^(%d%d%d%d%-%d%d%-%d%d)T(%d%d:%d%d)[%d:.]*(.*)$")
  if date and (zone == "Z" or zone == "+00:00" or zone == "") then
    return date .. " " .. time
  end
  return one_line(value)
end

-- Characters on screen: UTF-8 continuation bytes take no column.
local function text_width(text)
  return select(2, text:gsub("[^\128-\191]", ""))
end

--- Rows of cells as text columns two spaces apart, the last one unpadded.
function M.aligned(rows)
  local widths = {}
  for _, row in ipairs(rows) do
    for i, cell in ipairs(row) do widths[i] = math.max(widths[i] or 0, text_width(cell)) end
  end
  local lines = {}
  for r, row in ipairs(rows) do
    local cells = {}
    for i, cell in ipairs(row) do
      cells[i] = i < #row and cell .. (" "):rep(widths[i] - text_width(cell)) or cell
    end
    lines[r] = table.concat(cells, "  ") .. "\n"
  end
  return table.concat(lines)
end

RUN["tables list"] = function(extruct, sys, opts)
  local client = make_client(extruct, opts, sys)
  local page_size = opts.page_size or math.min(opts.limit or LIST_PAGE_SIZE, LIST_PAGE_SIZE)
  local lines = { { "ID", "NAME", "KIND", "CREATED" } }
  local count = 0
  for t, err in client:iter_tables{ kind = opts.kind, scope = opts.scope, search = opts.search,
                                    tags = opts.tags, sort = opts.sort, limit = page_size } do
    if not t then return nil, err end
    if opts.json then
      local text, why = extruct.encode(t)
      if not text then return nil, why end
      local ok, out_err = emit(extruct, sys, text, "\n")
      if not ok then return nil, out_err end
    else
      t = type(t) == "table" and t or {}
      lines[#lines + 1] = { field_text(t.id), field_text(t.name), field_text(t.kind), M.created_text(t.created_at) }
    end
    count = count + 1
    if count == opts.limit then break end
  end
  if not opts.json then
    local ok, err = emit(extruct, sys, M.aligned(lines))
    if not ok then return nil, err end
  end
  return flush(extruct, sys)
end

RUN["tables create"] = function(extruct, sys, opts, path)
  local text = strip_bom(read_input(sys, path, "tables create"))
  local spec, err = extruct.decode(text)
  if spec == nil then
    input_error(path, line_of_error(text, err), "not valid JSON: " .. err.message, "tables create")
  end
  if not is_object(extruct, spec) then
    input_error(path, nil, ("the table's spec must be a JSON object, not %s"):format(json_type(extruct, spec)),
      "tables create")
  end
  local t
  t, err = make_client(extruct, opts, sys):create_table(spec)
  if not t then return nil, err end
  if opts.json then return write_json(extruct, sys, opts, t) end
  if type(t.id) ~= "string" then
    return nil, setmetatable({ kind = "decode", message = "the API created a table but sent no id for it" },
      extruct.Error)
  end
  local ok
  ok, err = emit(extruct, sys, one_line(t.id), "\n")
  if not ok then return nil, err end
  return flush(extruct, sys)
end

RUN["tables delete"] = function(extruct, sys, opts, id)
  local t, err = make_client(extruct, opts, sys):delete_table(id)
  if not t then return nil, err end
  if opts.json then return write_json(extruct, sys, opts, t) end
  local name = type(t) == "table" and t.name or nil
  local ok
  ok, err = emit(extruct, sys, "deleted ", label(name, id), "\n")
  if not ok then return nil, err end
  return flush(extruct, sys)
end

--- "run_0001: 50 cells requested (mode new)"
function M.run_line(run)
  run = type(run) == "table" and run or {}
  local cells = type(run.num_requested_cells) == "number" and number_text(run.num_requested_cells) or "?"
  local text = ("%s: %s cell%s requested"):format(field_text(run.id), cells, cells == "1" and "" or "s")
  if type(run.mode) == "string" then text = text .. (" (mode %s)"):format(one_line(run.mode)) end
  return text
end

RUN["tables run"] = function(extruct, sys, opts, id)
  local client = make_client(extruct, opts, sys)
  local run, err = client:run_table(id, { mode = opts.mode, rows = opts.rows, columns = opts.columns })
  if not run then return nil, err end
  if opts.wait then
    if not opts.quiet then
      sys.stderr:write(M.run_line(run), "\n")
      sys.stderr:flush()
    end
    return wait_and_print(extruct, sys, opts, client, id)
  end
  if opts.json then return write_json(extruct, sys, opts, run) end
  local ok
  ok, err = emit(extruct, sys, M.run_line(run), "\n")
  if not ok then return nil, err end
  return flush(extruct, sys)
end

--- A cell of a row as one CSV field: the answer (extruct.cell) as text;
--- empty for a null, missing or failed cell.
function M.cell_text(extruct, row, key)
  if type(row) ~= "table" then return "" end
  local answer, status = extruct.cell(row, key)
  if answer == nil or answer == extruct.null or status == "failed" then return "" end
  local kind = type(answer)
  if kind == "string" then return answer end
  if kind == "number" then return number_text(answer) end
  if kind == "boolean" then return tostring(answer) end
  if kind == "table" then return (extruct.encode(answer)) or "" end
  return ""
end

-- The column keys of a table, in its column order.
local function column_keys(t)
  local keys = {}
  for _, column in ipairs(type(t.columns) == "table" and t.columns or {}) do
    local config = type(column) == "table" and column.config
    if type(config) == "table" and type(config.key) == "string" then keys[#keys + 1] = config.key end
  end
  return keys
end

RUN["tables data"] = function(extruct, sys, opts, id)
  local client = make_client(extruct, opts, sys)
  local page_size = opts.page_size or math.min(opts.limit or DATA_PAGE_SIZE, DATA_PAGE_SIZE)
  local write_row
  if opts.format == "csv" then
    -- the column order comes with the table's header
    local t, err = client:get_table(id)
    if not t then return nil, err end
    local keys = column_keys(t)
    local header = {}
    if opts.id then header[1] = "id" end
    for _, key in ipairs(keys) do header[#header + 1] = key end
    local ok
    ok, err = emit(extruct, sys, csv.format_record(header, #header))
    if not ok then return nil, err end
    write_row = function(row)
      local fields = {}
      if opts.id then fields[1] = type(row) == "table" and field_text(row.id) or "" end
      for _, key in ipairs(keys) do fields[#fields + 1] = M.cell_text(extruct, row, key) end
      return emit(extruct, sys, csv.format_record(fields, #header))
    end
  else
    write_row = function(row)
      local text, err = extruct.encode(row)
      if not text then return nil, err end
      return emit(extruct, sys, text, "\n")
    end
  end
  local count = 0
  for row, err in client:iter_rows(id, { limit = page_size }) do
    if row == false then
      flush(extruct, sys)
      return nil, err
    end
    local ok, write_err = write_row(row)
    if not ok then return nil, write_err end
    count = count + 1
    if count % page_size == 0 then
      ok, write_err = flush(extruct, sys) -- a page at a time, for readers downstream
      if not ok then return nil, write_err end
    end
    if count == opts.limit then break end
  end
  return flush(extruct, sys)
end

RUN["tables rows add"] = function(extruct, sys, opts, id, path)
  local command = "tables rows add"
  local format = input_format(opts, path, command)
  local text = read_input(sys, path, command)
  local rows = format == "csv" and csv_rows(text, path, command) or json_rows(extruct, text, path, command)
  local client = make_client(extruct, opts, sys)
  local batch_size = opts.batch or ROWS_BATCH
  local added = 0
  for first = 1, #rows, batch_size do
    local batch = {}
    for i = first, math.min(first + batch_size - 1, #rows) do batch[#batch + 1] = rows[i] end
    local created, err = client:add_rows(id, batch, { run = opts.run or nil })
    if not created then
      if added > 0 then
        err.message = ("%s (%d of %d rows were added before this failure)"):format(err.message, added, #rows)
      end
      return nil, err
    end
    local list = type(created) == "table" and getmetatable(created) == extruct.array_mt and created or nil
    if opts.json and list then
      for _, row in ipairs(list) do
        local line, why = extruct.encode(row)
        if not line then return nil, why end
        local ok, out_err = emit(extruct, sys, line, "\n")
        if not ok then return nil, out_err end
      end
    end
    added = added + (list and #list or #batch)
  end
  if not opts.json then
    local ok, err = emit(extruct, sys, ("added %d row%s to %s\n"):format(added, added == 1 and "" or "s", one_line(id)))
    if not ok then return nil, err end
  end
  return flush(extruct, sys)
end

local function exit_code_for(err)
  if err.kind == "config" then return M.EXIT_USAGE end
  return M.EXIT_API
end

local function default_sys()
  local core = require("extruct.core")
  return {
    stdin = io.stdin,
    stdout = io.stdout,
    stderr = io.stderr,
    getenv = os.getenv,
    isatty = core.isatty,
    terminal_width = core.terminal_width,
  }
end

local function version_line(extruct)
  local lua = rawget(_G, "jit") and jit.version or _VERSION
  local curl = require("extruct.core").curl_version:match("^%S+")
  return ("extruct %s (%s; %s)"):format(extruct._VERSION, lua, curl)
end

-- The command the words name, and how many words that took.
local function resolve(words)
  local path, used = "", 0
  while not COMMANDS[path] do
    local word = words[used + 1]
    if word == nil then usage_error(GROUPS[path].missing, path) end
    local candidate = path == "" and word or path .. " " .. word
    if not COMMANDS[candidate] and not GROUPS[candidate] then
      if path == "" then usage_error(("unknown command '%s'"):format(word)) end
      usage_error(("unknown subcommand '%s' of %s"):format(word, path), path)
    end
    path, used = candidate, used + 1
  end
  return path, used
end

-- Options that only make sense together, or not at all.
local function check_combinations(command, opts)
  local given = opts.given
  if opts.max_interval and opts.max_interval < (opts.interval or DEFAULT_INTERVAL) then
    usage_error(("--max-interval (%g) must be at least --interval (%g)"):format(
      opts.max_interval, opts.interval or DEFAULT_INTERVAL), command)
  end
  if opts.pretty and opts.compact then
    usage_error("--pretty and --compact exclude each other", command)
  end
  if command == "tables run" then
    for key in pairs(WAIT_KEYS) do
      if given[key] and not opts.wait then
        usage_error(("option %s needs --wait"):format(given[key]), command)
      end
    end
    if opts.wait and opts.json then
      usage_error("--json and --wait exclude each other (--wait prints the idle table as JSON)", command)
    end
    if (opts.pretty or opts.compact) and not (opts.wait or opts.json) then
      usage_error(("option %s needs --json or --wait"):format(given.pretty or given.compact), command)
    end
  elseif command == "tables create" or command == "tables delete" then
    if (opts.pretty or opts.compact) and not opts.json then
      usage_error(("option %s needs --json"):format(given.pretty or given.compact), command)
    end
  elseif command == "tables list" then
    if opts.page_size and opts.page_size > LIST_PAGE_SIZE then
      usage_error(("--page-size is at most %d for tables list"):format(LIST_PAGE_SIZE), command)
    end
  elseif command == "tables data" then
    if opts.id and opts.format ~= "csv" then
      usage_error("option --id needs --format csv (JSON lines carry the row id)", command)
    end
  end
end

local function dispatch(argv, sys)
  local words, opts = M.parse(argv)
  local extruct = require("extruct")

  if opts.version then
    sys.stdout:write(version_line(extruct), "\n")
    return M.EXIT_OK
  end
  if words[1] == "help" then
    local topic = table.concat(words, " ", 2)
    if not HELP[topic] then
      usage_error(("no help for '%s'"):format(topic))
    end
    sys.stdout:write(HELP[topic])
    return M.EXIT_OK
  end
  if opts.help then
    sys.stdout:write(HELP[topic_of(words)])
    return M.EXIT_OK
  end

  local command, used = resolve(words)
  local spec = COMMANDS[command]
  local args = {}
  for i, name in ipairs(spec.args) do
    local value = words[used + i]
    if value == nil or value == "" then usage_error(MISSING_ARGUMENT[name], command) end
    args[i] = value
  end
  for i = used + #spec.args + 1, #words do
    if not spec.more then usage_error(("unexpected argument '%s'"):format(words[i]), command) end
    if words[i] == "" then usage_error(MISSING_ARGUMENT[spec.more], command) end
    args[#args + 1] = words[i]
  end
  for key, spelling in pairs(opts.given) do
    if not GLOBAL_KEYS[key] and not spec.options[key] then
      usage_error(("option %s does not apply to '%s'"):format(spelling, command), command)
    end
  end
  check_combinations(command, opts)

  local ok, err, exit_code = RUN[command](extruct, sys, opts, (unpack or table.unpack)(args, 1, #args))
  if ok then return M.EXIT_OK end
  sys.stderr:write(one_line(tostring(err)), "\n")
  return exit_code or exit_code_for(err)
end

--- Runs the command line argv (a list of strings, like the global `arg`);
--- returns the exit status. sys: see the header.
function M.main(argv, sys)
  local defaults = default_sys()
  sys = sys or {}
  for name, value in pairs(defaults) do
    if sys[name] == nil then sys[name] = value end
  end
  -- Usage errors unwind to here; anything else is a bug, raised with its traceback.
  local ok, result = xpcall(function() return dispatch(argv or {}, sys) end, function(e)
    if getmetatable(e) == UsageError then return e end
    return debug.traceback(tostring(e), 2)
  end)
  if ok then return result end
  if getmetatable(result) ~= UsageError then error(result, 0) end
  sys.stderr:write("extruct: ", result.message, "\n", help_hint(result.topic), "\n")
  return M.EXIT_USAGE
end

M.HELP = HELP

return M
