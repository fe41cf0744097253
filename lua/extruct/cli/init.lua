--- extruct.cli: the `extruct` command, for shell scripts and terminals.
---
--- M.main(argv, sys) reads the command line, runs the command and returns
--- the exit status; bin/extruct is a launcher around it. `sys` replaces the
--- process's streams and environment (stdin, stdout, stderr, getenv,
--- isatty, terminal_width), which keeps the command line testable
--- in-process.
---
--- The commands live in a registry (extruct.cli.registry), one entry each,
--- in the command modules (extruct.cli.tables, extruct.cli.rows,
--- extruct.cli.columns, extruct.cli.companies, extruct.cli.deep_search,
--- extruct.cli.deep_research, extruct.cli.account); the help pages
--- (extruct.cli.help) and docs/cli.md (extruct.cli.docs) are made from it.

local args = require("extruct.cli.args")
local context = require("extruct.cli.context")
local errors = require("extruct.errors")
local help = require("extruct.cli.help")
local interrupt = require("extruct.interrupt")
local output = require("extruct.cli.output")
local registry = require("extruct.cli.registry")

local M = {}

local interrupted = interrupt.pending

M.EXIT_OK = registry.EXIT_OK
M.EXIT_API = registry.EXIT_API
M.EXIT_USAGE = registry.EXIT_USAGE
M.EXIT_TIMEOUT = registry.EXIT_TIMEOUT
M.EXIT_NOT_DONE = registry.EXIT_NOT_DONE
M.EXIT_CLOSED_PIPE = registry.EXIT_CLOSED_PIPE
M.EXIT_INTERRUPTED = registry.EXIT_INTERRUPTED

local standard

--- The registry of the standard commands, made on first use.
function M.commands()
  standard = standard or registry.standard()
  return standard
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

local function help_hint(topic)
  if topic == nil or topic == "" then return "Run 'extruct --help' for usage." end
  return ("Run 'extruct %s --help' for usage."):format(topic)
end

local function given_any(given, names)
  for _, option in ipairs(given) do
    if names[option.name] then return true end
  end
  return false
end

local HELP_NAMES = { ["--help"] = true, ["-h"] = true }
local VERSION_NAMES = { ["--version"] = true }

-- The exit status of a command that failed with err, which is reported on
-- stderr; a reader that closed stdout's pipe (`| head`) ends it silently,
-- as SIGPIPE ends other tools.
local function failed(sys, err, exit_code)
  if errors.is_error(err) and err.closed_pipe then return M.EXIT_CLOSED_PIPE end
  sys.stderr:write(output.error_line(err), "\n")
  if exit_code then return exit_code end
  return err.kind == "config" and M.EXIT_USAGE or M.EXIT_API
end

-- A help page or the version on stdout.
local function show(sys, text)
  local ok, err = output.write(sys.stdout, text)
  if ok then ok, err = output.flush(sys.stdout) end
  if not ok then return failed(sys, err) end
  return M.EXIT_OK
end

local function dispatch(argv, sys, commands, state)
  local words, given = args.split(argv,
    function(name) return commands:spec_of(name) end,
    function(so_far) return commands:topic_of(so_far) end,
    function(topic) return commands:spellings(topic) end)
  local extruct = require("extruct")

  if given_any(given, VERSION_NAMES) then
    return show(sys, version_line(extruct) .. "\n")
  end
  if words[1] == "help" then
    local topic = table.concat(words, " ", 2)
    local page = help.page(commands, topic)
    if not page then args.usage_error(("no help for '%s'"):format(topic)) end
    return show(sys, page)
  end
  if given_any(given, HELP_NAMES) then
    return show(sys, help.page(commands, commands:topic_of(words)))
  end

  local entry, used = commands:resolve(words)
  local values, opts = registry.bind(entry, words, used, given)
  local ctx = context.new(extruct, sys, opts, entry)
  if opts.output and opts.output ~= "-" then
    -- opened before anything is sent: a FILE that cannot be written is known at once
    local out, why = require("extruct.file_writer").open(opts.output)
    if not out then args.usage_error("--output: " .. why.message, entry.path) end
    state.out = out
    ctx:write_to(out)
  end
  local ok, err, exit_code = entry.run(ctx, values, opts)
  -- After Ctrl-C the command ends as interrupted, however far it got: its
  -- --output FILE is left as it was.
  if interrupted() then ok, exit_code = false, M.EXIT_INTERRUPTED end
  if state.out then
    state.out = nil
    if ok then
      ok, err = ctx.out_file:commit()
      exit_code = nil
    else
      ctx.out_file:abort()
    end
  end
  if ok then return M.EXIT_OK end
  if exit_code == M.EXIT_INTERRUPTED then return exit_code end
  return failed(sys, err, exit_code)
end

--- Runs the command line argv (a list of strings, like the global `arg`);
--- returns the exit status. sys: see the header; commands: a registry
--- (default: the standard commands).
function M.main(argv, sys, commands)
  local defaults = default_sys()
  sys = sys or {}
  for name, value in pairs(defaults) do
    if sys[name] == nil then sys[name] = value end
  end
  -- Ctrl-C cancels what is in flight (extruct.interrupt) for the run's
  -- length; the handler there was before is back when it ends.
  local end_handling = interrupt.for_a_run()
  -- Usage errors unwind to here; anything else is a bug, raised with its
  -- traceback (not after Ctrl-C: the user asked for nothing more). Either
  -- way an --output FILE is left as it was.
  local state = {}
  local ok, result = xpcall(function() return dispatch(argv or {}, sys, commands or M.commands(), state) end,
    function(e)
      if state.out then state.out:abort() end
      if args.is_usage_error(e) then return e end
      return debug.traceback(tostring(e), 2)
    end)
  local was_interrupted = interrupted()
  if end_handling then end_handling() end
  if was_interrupted then return M.EXIT_INTERRUPTED end
  if ok then return result end
  if not args.is_usage_error(result) then error(result, 0) end
  sys.stderr:write("extruct: ", result.message, "\n", help_hint(result.help_topic), "\n")
  return M.EXIT_USAGE
end

return M
