--- extruct.cli: the `extruct` command, for shell scripts and terminals.
--
--   extruct tables get ID        the table as JSON on stdout
--   extruct tables status ID     one line: name, run status, cells done/total, percent
--   extruct tables wait ID       progress on stderr, then the idle table as JSON on stdout
--
-- M.main(argv, sys) parses, runs and returns the exit code; bin/extruct is
-- a launcher around it. `sys` replaces the process's streams and
-- environment (stdout, stderr, getenv, isatty, terminal_width), which
-- keeps the parsing testable in-process.

local M = {}

M.EXIT_OK = 0
M.EXIT_API = 1      -- the API answered with an error, or the network failed
M.EXIT_USAGE = 2    -- bad command line or configuration
M.EXIT_TIMEOUT = 3  -- `tables wait` ran out of time

local EXIT_CODES = [[
Exit status:
  0  success
  1  API or network error, or stdout cannot be written
     (stderr: "extruct: KIND: message")
  2  usage or configuration error: unknown option, missing ID, no token,
     unreadable token file, malformed base URL
  3  `tables wait` timed out before the table went idle
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

local HELP = {}

HELP[""] = [[
usage: extruct [OPTIONS] COMMAND ...

The command line of the Extruct API client (https://extruct.ai).

Commands:
  tables get ID      print the table (header and run status) as JSON
  tables status ID   print one line: name, run status, cells done/total, percent
  tables wait ID     wait until the table's run is idle, then print it as JSON
  help [COMMAND]     show help for a command

]] .. COMMON_OPTIONS .. [[

Options may come before or after the command words, as `--opt value` or
`--opt=value`; `--` ends the options. The token is never printed; there is no
--token option because command lines are visible to other users.

Environment:
  EXTRUCT_API_TOKEN  the API token (unless --token-file is given)
  EXTRUCT_API_URL    the API's address (unless --base-url is given)

]] .. EXIT_CODES .. [[

Run 'extruct tables --help' or 'extruct help tables wait' for more.
]]

HELP.tables = [[
usage: extruct tables SUBCOMMAND ID [OPTIONS]

Subcommands:
  get ID      print the table (header and run status) as JSON on stdout
  status ID   print one line: name, run status, cells done/total, percent
  wait ID     show progress on stderr until the run is idle, then print
              the table as JSON on stdout

]] .. COMMON_OPTIONS .. [[

]] .. EXIT_CODES .. [[

Run 'extruct tables SUBCOMMAND --help' for the options of each.
]]

HELP["tables get"] = [[
usage: extruct tables get ID [--pretty | --compact] [OPTIONS]

Prints the table ID (GET /v1/tables/ID: header, columns, run status) as one
JSON document on stdout, followed by a newline.

]] .. JSON_OPTIONS .. "\n" .. COMMON_OPTIONS .. "\n" .. EXIT_CODES

HELP["tables status"] = [[
usage: extruct tables status ID [OPTIONS]

Prints one line about the table's run on stdout, for example:
  Acme leads (tbl_demo): running, 18/25 cells, 72%
with ", N failed" appended when cells failed. Counts are of non-input cells;
the percent is rounded down, so 100% means done.

]] .. COMMON_OPTIONS .. "\n" .. EXIT_CODES

HELP["tables wait"] = [[
usage: extruct tables wait ID [--interval S] [--max-interval S] [--timeout S]
                              [--quiet] [--pretty | --compact] [OPTIONS]

Polls the table until its run is idle, then prints it as JSON on stdout.
While waiting it reports progress on stderr: when stderr is a terminal, a bar
redrawn in place every second (cells done/total, percent, time elapsed, time
since the counts last changed), cleared at the end and replaced by a summary
line; otherwise one line per poll where the run status or a count changed
(and at least one a minute):
  tbl_demo: running, 166/250 cells, 66%, elapsed 0:10

  --interval S       seconds between polls (default 5)
  --max-interval S   while a poll shows no change, the pause grows (x1.5)
                     up to S seconds; any change resets it (default: the
                     interval, so no growth)
  --timeout S        give up after S seconds, exit status 3 (default 900);
                     0 polls once
  --quiet            no progress report
]] .. JSON_OPTIONS .. "\n" .. COMMON_OPTIONS .. "\n" .. EXIT_CODES

-- Every option: the key it sets, and for those taking a value, the name of
-- the value in messages and how to read it.
local function seconds(text, allow_zero)
  local n = (text:find("^%d+%.?%d*$") or text:find("^%.%d+$")) and tonumber(text)
  if not n or n >= 1e9 or (n == 0 and not allow_zero) then return nil end
  return n
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
}

-- wait_until_idle's default, which --max-interval must not undercut
local DEFAULT_INTERVAL = 5

local GLOBAL_KEYS = { help = true, version = true, token_file = true, base_url = true }

-- The commands: their words, the options they take beyond the global ones.
local COMMANDS = {
  ["tables get"] = { pretty = true, compact = true },
  ["tables status"] = {},
  ["tables wait"] = { pretty = true, compact = true, quiet = true,
                      interval = true, max_interval = true, timeout = true },
}

local UsageError = {}

local function usage_error(message, topic)
  error(setmetatable({ message = message, topic = topic }, UsageError), 0)
end

--- The longest known command (or help topic) the words start with.
local function topic_of(words)
  local topic = ""
  for n = 1, math.min(#words, 2) do
    local candidate = table.concat(words, " ", 1, n)
    if not HELP[candidate] then break end
    topic = candidate
  end
  return topic
end

--- Splits argv into the command words and the options ({ key = value },
--- plus `given`, the spelling of each option as typed, for messages).
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

--- "Acme leads (tbl_demo): running, 18/25 cells, 72%"
function M.status_line(extruct, id, t)
  local name = type(t.name) == "string" and t.name:find("%S") and one_line(t.name) or nil
  local label = name and ("%s (%s)"):format(name, one_line(id)) or one_line(id)
  return label .. ": " .. (M.run_summary(extruct, t))
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

function Progress:draw()
  local t = self.last_table
  if not t then return end
  local now = self.now()
  local line = M.bar_line(self.id, self.counts, self.percent, now - self.started, now - self.changed_at, self:width())
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

--- Called after every poll with the table seen.
function Progress:update(t)
  local now = self.now()
  local summary, counts, percent = M.run_summary(self.extruct, t)
  local changed = summary ~= self.summary
  if changed then self.changed_at = now end
  self.last_table, self.summary, self.counts, self.percent = t, summary, counts, percent
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

local function write_json(extruct, sys, opts, value)
  local pretty
  if opts.pretty then pretty = true
  elseif opts.compact then pretty = false
  else pretty = sys.isatty(1) end
  local text, err = extruct.encode(value, { pretty = pretty })
  if not text then return nil, err end
  local ok, why = sys.stdout:write(text, "\n")
  if ok then ok, why = sys.stdout:flush() end
  if not ok then
    return nil, setmetatable({ kind = "output", message = "cannot write to stdout: " .. tostring(why) }, extruct.Error)
  end
  return true
end

local RUN = {}

RUN["tables get"] = function(extruct, sys, opts, id)
  local t, err = make_client(extruct, opts, sys):get_table(id)
  if not t then return nil, err end
  return write_json(extruct, sys, opts, t)
end

RUN["tables status"] = function(extruct, sys, opts, id)
  local t, err = make_client(extruct, opts, sys):get_table(id)
  if not t then return nil, err end
  sys.stdout:write(M.status_line(extruct, id, t), "\n")
  sys.stdout:flush()
  return true
end

RUN["tables wait"] = function(extruct, sys, opts, id)
  local client = make_client(extruct, opts, sys)
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
  if not t then return nil, err end
  return write_json(extruct, sys, opts, t)
end

local function exit_code_for(err, command)
  if err.kind == "config" then return M.EXIT_USAGE end
  if err.kind == "timeout" and command == "tables wait" then return M.EXIT_TIMEOUT end
  return M.EXIT_API
end

local function default_sys()
  local core = require("extruct.core")
  return {
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

  if words[1] == nil then
    usage_error("missing command (tables get|status|wait ID)")
  elseif words[1] ~= "tables" then
    usage_error(("unknown command '%s'"):format(words[1]))
  elseif words[2] == nil then
    usage_error("missing subcommand: get, status or wait", "tables")
  end
  local command = "tables " .. words[2]
  if not COMMANDS[command] then
    usage_error(("unknown subcommand '%s' of tables"):format(words[2]), "tables")
  end
  local id = words[3]
  if id == nil or id == "" then
    usage_error("missing table ID", command)
  elseif words[4] ~= nil then
    usage_error(("unexpected argument '%s'"):format(words[4]), command)
  end
  for key, spelling in pairs(opts.given) do
    if not GLOBAL_KEYS[key] and not COMMANDS[command][key] then
      usage_error(("option %s does not apply to '%s'"):format(spelling, command), command)
    end
  end
  if opts.max_interval and opts.max_interval < (opts.interval or DEFAULT_INTERVAL) then
    usage_error(("--max-interval (%g) must be at least --interval (%g)"):format(
      opts.max_interval, opts.interval or DEFAULT_INTERVAL), command)
  end
  if opts.pretty and opts.compact then
    usage_error("--pretty and --compact exclude each other", command)
  end

  local ok, err = RUN[command](extruct, sys, opts, id)
  if ok then return M.EXIT_OK end
  sys.stderr:write(one_line(tostring(err)), "\n")
  return exit_code_for(err, command)
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
