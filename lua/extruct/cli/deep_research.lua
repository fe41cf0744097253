--- extruct.cli.deep_research: the `extruct deep-research ...` commands
--- (create, get, list, wait), one entry each (see extruct.cli.registry for
--- the shape of an entry), and how they write a task's report.

local args = require("extruct.cli.args")
local errors = require("extruct.errors")
local linear = require("extruct.text")
local input = require("extruct.cli.input")
local output = require("extruct.cli.output")
local progress = require("extruct.cli.progress")
local records = require("extruct.cli.records")
local registry = require("extruct.cli.registry")
local research_report = require("extruct.cli.research_report")
local tasks = require("extruct.cli.tasks")
local waiting = require("extruct.cli.waiting")

local field_text, one_line = output.field_text, output.one_line

local M = {}

--- The API's bound on a brief, in characters.
M.MAX_BRIEF = 20000

local EXIT_NOT_DONE = registry.EXIT_NOT_DONE

local TASK_ID = { name = "ID", key = "id", help = "the Deep Research task's id", missing = "missing task ID" }
local PRETTY, COMPACT = output.PRETTY, output.COMPACT

--- The wait's options, with wait_deep_research's defaults.
local WAIT_OPTIONS = waiting.options(require("extruct.waits").DEFAULTS.deep_research)

local function format_options(default)
  return {
    args.option{ name = "--markdown", help = "the report as Markdown, followed by its numbered sources"
                   .. (default == "markdown" and " (the default)" or "") },
    args.option{ name = "--json", help = "the whole task as JSON: status, progress, and the report once written"
                   .. (default == "json" and " (the default)" or "") },
  }
end

-- The check of the output options; `json_by_default` when the command
-- prints JSON unless told --markdown.
local function format_check(json_by_default)
  return function(opts, fail, spelled)
    if opts.markdown and opts.json then fail("--markdown and --json exclude each other") end
    local json = opts.json or (json_by_default and not opts.markdown)
    if (opts.pretty or opts.compact) and not json then
      fail(("option %s shapes JSON: it needs --json"):format(spelled.pretty or spelled.compact))
    end
  end
end

local REPORT_HELP = [[
The Markdown is the report's own, then a section "## Sources" that lists
its sources, numbered as the report cites them ("[1] https://..."), unless
the report ends in such a list already. A report made to an output schema
(--schema) shows its fields as a JSON code block instead. Degradation
reasons, when the API gives any, go to stderr.
]]

local WAIT_HELP = [[
While waiting it reports progress on stderr, one line per poll where
something changed (and at least one a minute), or on a terminal that line
redrawn in place:
  dr_0001: in_progress, 3 iterations, 25 agents, 75 sources, elapsed 2:30
A run takes 10 to 20 minutes or more. Transient failures (network, 5xx,
429) are retried within the timeout. A task that ends failed exits 1 with
stdout (and the --output FILE) left alone and the API's reason on stderr:
  extruct: failed: Deep Research 'dr_0001' failed: the brief names no target
]]

-- An error for a task that has no report to write, and its exit status:
-- failed (1), still at work (4), or done without one (1).
local function no_report(task, id, why)
  local subject = ("Deep Research '%s'"):format(one_line(id))
  if task.status == "failed" then
    return errors.new("failed", ("%s: %s"):format(subject, why), { task = task })
  end
  if task.status == "done" then
    return errors.new("decode", ("%s is done but %s"):format(subject, (why:gsub("^the task ", ""))), { task = task })
  end
  -- (not an API error: a line of its own, without a kind)
  local err = { message = ("%s: %s; `extruct deep-research wait %s` waits for it"):format(subject,
    why, one_line(id)), task = task }
  return setmetatable(err, { __tostring = function(e) return "extruct: " .. e.message end }), EXIT_NOT_DONE
end

-- Where the report goes: stdout, or the --output FILE, which the command
-- line opened before anything was sent and writes whole once the command
-- succeeds (extruct.file_writer).
local function destination(ctx)
  return { write = function(text)
    local ok, err = ctx:write(text)
    if not ok then return nil, err end
    return ctx:flush()
  end }
end

--- Writes the task to `to` as ctx.opts asks: JSON with --json (or when
--- json_by_default and not --markdown), else the report as Markdown.
--- Returns true, or nil, err and the exit status.
local function write_task(ctx, to, id, task, json_by_default)
  local opts = ctx.opts
  if opts.json or (json_by_default and not opts.markdown) then
    local text, err = ctx:json_text(task, ctx:pretty())
    if not text then return nil, err end
    return to.write(text .. "\n")
  end
  local text, why = research_report.markdown(task, function(value) return (ctx:json_text(value, true)) end)
  if not text then return nil, no_report(task, id, why) end
  local ok, err = to.write(text)
  if not ok then return nil, err end
  local report = type(task.report) == "table" and task.report or {}
  if type(report.degradation_reasons) == "table" then
    for _, reason in ipairs(report.degradation_reasons) do
      ctx:note("extruct: the report is degraded: ", one_line(field_text(reason)))
    end
  end
  return true
end

-- Waits for task `id`, then writes it to `to`: true, or nil, err and the
-- exit status.
local function wait_and_write(ctx, to, id)
  local task, err, exit_code = waiting.wait_task(ctx, id, "wait_deep_research", progress.deep_research_summary)
  if not task then return nil, err, exit_code end
  return write_task(ctx, to, id, task, false)
end

-- Characters of UTF-8 text: the bytes that do not continue a character.
local function characters(text)
  return #text - select(2, text:gsub("[\128-\191]", ""))
end

-- The brief of BRIEF, --brief or --brief-file, checked (a usage error otherwise).
local function brief_of(ctx, opts)
  local brief = opts.brief
  if opts.brief_file then
    brief = input.read(ctx, opts.brief_file):gsub("^\239\187\191", "")
    brief = linear.trim(brief)
  end
  local where = opts.brief_file and ("the brief in %s"):format(opts.brief_file == "-" and "standard input"
    or opts.brief_file) or (opts.brief_given_as or "--brief")
  if not brief:find("%S") then ctx:usage_error(where .. " is blank: say what to research") end
  local length = characters(brief)
  if length > M.MAX_BRIEF then
    ctx:usage_error(("%s has %d characters; the API takes at most %d"):format(where, length, M.MAX_BRIEF))
  end
  return brief
end

M.commands = {}
local function command(entry) M.commands[#M.commands + 1] = entry end

command{ words = { "deep-research" }, group = true, help = [[
A Deep Research task sends research agents through a brief for 10 to 20
minutes or more; they write a report in Markdown that cites its sources,
or fields that fit an output schema. Starting one needs the Pro plan and
credits (25, 50 or 75 by depth).
]] }

command{
  words = { "deep-research", "create" },
  args = { { name = "BRIEF", key = "brief", optional = true,
             help = "what to research, in words (at most 20,000 characters); or --brief-file",
             missing = "missing BRIEF (what to research, in words)" } },
  summary = "start a Deep Research task, print its id (--wait: its report)",
  options = args.options({
    args.option{ name = "--brief", value = "TEXT", help = "the same as BRIEF (its earlier spelling)" },
    args.option{ name = "--brief-file", value = "FILE", help = "read the brief from FILE (`-`: standard input)" },
    args.option{ name = "--depth", value = "D", type = args.choice("medium", "high", "xhigh"),
                 help = "medium, high or xhigh: how many agents work on it (the API's default otherwise)" },
    args.option{ name = "--schema", value = "FILE",
                 help = "a JSON Schema object (`-`: standard input): the report is then fields that fit it" },
    args.option{ name = "--wait",
                 help = "then wait until the task is done, as `deep-research wait` does, with its options, and"
                   .. " write its report: the task's id and the progress go to stderr (none with --quiet)" },
    args.option{ name = "--markdown", help = "with --wait: the report as Markdown (the default)" },
    args.option{ name = "--json", help = "the task as JSON instead of its id (with --wait, the done task)" },
  }, WAIT_OPTIONS, { PRETTY, COMPACT }),
  check = function(opts, fail, spelled)
    if opts.brief and opts.brief_file then fail("--brief and --brief-file exclude each other") end
    if opts.brief_file == "-" and opts.schema == "-" then
      fail("--brief-file and --schema cannot both read standard input")
    end
    waiting.need_wait(WAIT_OPTIONS)(opts, fail, spelled)
    if not opts.wait and opts.markdown then fail("option --markdown needs --wait (there is no report before)") end
    format_check(false)(opts, fail, spelled)
  end,
  help = [[
Starts a Deep Research task (POST /v1/deep_research_tasks) on BRIEF (or
the brief in --brief-file FILE) and prints the new task's id on stdout.
--schema FILE asks for the report as fields that fit a JSON Schema (at
most 5 levels and 50 properties) instead of Markdown. With --wait it waits
until the task is done, as `deep-research wait` does, and writes its
report as Markdown, or with --json the done task; --output FILE writes it
to FILE. A 402 says what is missing: the Pro plan, or credits (how many
are needed and available).
]],
  exit_codes = { [3] = "with --wait: timed out before the task was done" },
  examples = {
    "id=$(extruct deep-research create 'Who are the main suppliers of industrial anvils in Europe?')",
    "extruct deep-research create --brief-file brief.md --depth high --wait --interval 1 -o report.md",
    "extruct deep-research create 'Acme Corp: funding' --schema funding.schema.json --wait --interval 1 --json",
  },
  run = function(ctx, a, opts)
    if a.brief and (opts.brief or opts.brief_file) then
      ctx:usage_error(("BRIEF and %s exclude each other"):format(opts.brief and "--brief" or "--brief-file"))
    end
    if a.brief then opts.brief, opts.brief_given_as = a.brief, "BRIEF" end
    if not (opts.brief or opts.brief_file) then
      ctx:usage_error("missing BRIEF (what to research, in words), or --brief-file FILE")
    end
    local brief = brief_of(ctx, opts)
    local schema = opts.schema and input.json_object(ctx, opts.schema, "the output schema") or nil
    local to = opts.wait and destination(ctx) or nil
    local task, err = ctx:client():create_deep_research{ brief = brief, depth = opts.depth, output_schema = schema }
    if not task then return nil, err end
    if not opts.wait then
      if opts.json then return ctx:print_json(task) end
      local id
      id, err = tasks.id_of(task, "a Deep Research task")
      if not id then return nil, err end
      return ctx:print(one_line(id))
    end
    local id
    id, err = tasks.id_of(task, "a Deep Research task")
    if not id then return nil, err end
    if not opts.quiet then
      local depth = type(task.depth) == "string" and (" (depth %s)"):format(one_line(task.depth)) or ""
      ctx:note(("started Deep Research %s%s"):format(one_line(id), depth))
    end
    return wait_and_write(ctx, to, id)
  end,
}

command{
  words = { "deep-research", "get" },
  args = { TASK_ID },
  summary = "print the task as JSON, or its report as Markdown",
  options = args.options(format_options("json"), { PRETTY, COMPACT }),
  check = format_check(true),
  help = [[
Prints the Deep Research task ID (GET /v1/deep_research_tasks/ID: status,
brief, depth, progress in iterations, agents and sources, and once done
its report) as one JSON document on stdout, or with --markdown its report.
A task that failed has no report: --markdown exits 1 with the API's reason
on stderr; one still at work exits 4 (`deep-research wait` waits for it).

]] .. REPORT_HELP,
  exit_codes = { [EXIT_NOT_DONE] = "with --markdown: the task is still at work, so there is no report yet" },
  examples = {
    "extruct deep-research get dr_0001 | jq -r .status",
    "extruct deep-research get dr_0002 --markdown --output report.md",
  },
  run = function(ctx, a)
    local to = destination(ctx)
    local task, err = ctx:client():get_deep_research(a.id)
    if not task then return nil, err end
    return write_task(ctx, to, a.id, task, true)
  end,
}

command{
  words = { "deep-research", "list" },
  summary = "list the Deep Research tasks: id, status, depth, created, brief",
  options = tasks.LIST_OPTIONS,
  check = records.check,
  help = [[
Lists the Deep Research tasks, newest first (GET /v1/deep_research_tasks,
page after page), on stdout: on a terminal an aligned table with a header
line (ID, STATUS, DEPTH, CREATED in UTC to the minute, BRIEF on one line,
cut to 60 characters), otherwise one task a line as JSON (--format: table,
jsonl, json or csv).
]],
  examples = {
    "extruct deep-research list --limit 5",
    "extruct deep-research list --format jsonl | jq -r 'select(.status == \"done\") | .id'",
  },
  run = function(ctx, _, opts)
    return tasks.list(ctx, opts, "list_deep_research", { { "DEPTH", "depth" } }, { "BRIEF", "brief" })
  end,
}

command{
  words = { "deep-research", "wait" },
  args = { TASK_ID },
  summary = "wait until the task is done, then write its report",
  options = args.options(format_options("markdown"), WAIT_OPTIONS, { PRETTY, COMPACT }),
  check = format_check(false),
  help = [[
Polls the Deep Research task ID until it is done, then writes its report as
Markdown on stdout (or to --output FILE), or with --json the done task.

]] .. REPORT_HELP .. "\n" .. WAIT_HELP,
  exit_codes = { [3] = "timed out before the task was done (stdout and the --output FILE stay as they were)" },
  examples = {
    "extruct deep-research wait dr_0001 --interval 1 --output report.md",
    "extruct deep-research wait dr_0001 --json --quiet | jq .report.fields",
  },
  run = function(ctx, a)
    return wait_and_write(ctx, destination(ctx), a.id)
  end,
}

return M
