--- extruct.cli.deep_search: the `extruct deep-search ...` commands
--- (create, get, list, results, resume, wait), one entry each (see
--- extruct.cli.registry for the shape of an entry).

local args = require("extruct.cli.args")
local input = require("extruct.cli.input")
local linear = require("extruct.text")
local output = require("extruct.cli.output")
local paging = require("extruct.cli.paging")
local progress = require("extruct.cli.progress")
local records = require("extruct.cli.records")
local tasks = require("extruct.cli.tasks")
local waiting = require("extruct.cli.waiting")

local field_text, one_line = output.field_text, output.one_line

local M = {}

local TASK_ID = { name = "ID", key = "id", help = "the Deep Search task's id", missing = "missing task ID" }

-- A result's columns as records (extruct.cli.records): table = false
-- leaves one out of the aligned table, keeping it in CSV.
local RESULT_COLUMNS = {
  { "ID", "id", table = false },
  { "COMPANY", "company_name" },
  { "WEBSITE", "company_website" },
  { "COUNTRY", "hq_country" },
  { "EMPLOYEES", "employee_count", table = false },
  { "FOUNDED", "founding_year", table = false },
  { "RELEVANCE", "relevance" },
  { "SCORES", "scores", table = false },
}
local PRETTY, COMPACT = output.PRETTY, output.COMPACT

--- The API's bound on a task's results.
local MAX_RESULTS = 250

--- The wait's options, with wait_deep_search's defaults.
local WAIT_OPTIONS = waiting.options(require("extruct.waits").DEFAULTS.deep_search)

local WAIT_HELP = [[
While waiting it reports progress on stderr, one line per poll where the
status or a count changed (and at least one a minute), or on a terminal
that line redrawn in place:
  ds_0001: in_progress, 12/50 results, 40 discovered, 31 enriched, 25 evaluated, elapsed 1:10
A task may be `exhausted` (no more candidates come) and still in progress
while the last ones are graded: only `done` ends the wait. Transient
failures (network, 5xx, 429) are retried within the timeout.
]]

local EXIT_CODES = { [3] = "timed out before the task was done (stdout stays empty)" }

--- "matches_query" -> "Matches query": a criterion's name from its key.
function M.criterion_name(key)
  local words = linear.trim((key:gsub("_+", " ")))
  if words == "" then return key end
  return words:sub(1, 1):upper() .. words:sub(2)
end

local CRITERION = {
  want = "KEY=TEXT (KEY a letter, then letters, digits or _; TEXT what a company is graded on)",
  parse = function(text)
    local equals = text:find("=", 1, true)
    if not equals then return nil end
    local key, criterion = linear.trim(text:sub(1, equals - 1)), linear.trim(text:sub(equals + 1))
    if not key:find("^%a[%w_]*$") or criterion == "" then return nil end
    return { key = key, name = M.criterion_name(key), criterion = criterion }
  end,
}

local RESULTS_WANTED = args.whole(1, MAX_RESULTS)

--- The wait and its end: the done task as JSON on stdout, or the error
--- and the exit status (3 when time ran out).
local function wait_and_print(ctx, id)
  local task, err, exit_code = waiting.wait_task(ctx, id, "wait_deep_search", progress.deep_search_summary)
  if not task then return nil, err, exit_code end
  return ctx:print_json(task)
end

-- The options of a command that starts a task or sets it going again: its
-- own, then --json, --wait and the wait's.
local function start_options(own, json_help, wait_help)
  return args.options(own, {
    args.option{ name = "--json", help = json_help },
    args.option{ name = "--wait", help = wait_help },
  }, WAIT_OPTIONS, { PRETTY, COMPACT })
end

-- The check of a command that starts a task and may wait for it.
local function start_check(opts, fail, spelled)
  waiting.need_wait(WAIT_OPTIONS)(opts, fail, spelled)
  if opts.wait and opts.json then
    fail("--json and --wait exclude each other (--wait prints the done task as JSON)")
  end
  if (opts.pretty or opts.compact) and not (opts.wait or opts.json) then
    fail(("option %s needs --json or --wait"):format(spelled.pretty or spelled.compact))
  end
end

-- The domains of --exclude-domain and --exclude-domains-file, checked as
-- the API counts them (a usage error past 1,000), or nil when none is given.
local function excluded_domains(ctx, opts)
  if not (opts.exclude_domains or opts.exclude_domains_file) then return nil end
  local domains = require("extruct.domains")
  local list = {}
  for _, domain in ipairs(opts.exclude_domains or {}) do
    local _, why = domains.registered(domain)
    if why then ctx:usage_error(("--exclude-domain '%s' is not a domain or URL: %s"):format(one_line(domain), why)) end
    list[#list + 1] = domain
  end
  if opts.exclude_domains_file then
    for _, domain in ipairs(input.domain_lines(ctx, opts.exclude_domains_file)) do list[#list + 1] = domain end
  end
  local distinct, why = domains.exclusion(list, "the excluded domains")
  if not distinct then ctx:usage_error(why) end
  return distinct
end

M.commands = {}
local function command(entry) M.commands[#M.commands + 1] = entry end

command{ words = { "deep-search" }, group = true, help = [[
A Deep Search (the API's discovery task) finds companies that match a
query and grades each against criteria, over minutes; its results can be
read while it runs, and a finished task can be resumed for more. Starting
and resuming one needs the Pro plan and credits.
]] }

command{
  words = { "deep-search", "create" },
  args = { { name = "QUERY", key = "query", help = "the companies to find, in words",
             missing = "missing QUERY (the companies to find, in words)" } },
  summary = "start a Deep Search, print its id (--wait: until done)",
  options = start_options({
    args.option{ name = "--results", value = "N", type = RESULTS_WANTED,
                 help = ("how many results to find, 1..%d (the API's default otherwise)"):format(MAX_RESULTS) },
    args.option{ name = "--criterion", key = "criteria", value = "KEY=TEXT", type = CRITERION, repeated = true,
                 help = "grade every company on TEXT, under the key KEY (a letter, then letters, digits or _; its"
                   .. " name is made from the key);"
                   .. " repeat it for several (without any, the API makes criteria from the query)",
                 check = function(opts, fail)
                   local seen = {}
                   for _, criterion in ipairs(opts.criteria) do
                     if seen[criterion.key] then fail(("--criterion names the key '%s' twice"):format(criterion.key)) end
                     seen[criterion.key] = true
                   end
                 end },
    args.option{ name = "--exclude-domain", key = "exclude_domains", value = "D", repeated = true,
                 help = "leave out the company at domain (or URL) D; repeat it for several" },
    args.option{ name = "--exclude-domains-file", value = "FILE",
                 help = "leave out the companies at the domains or URLs of FILE, one a line (blank lines and lines"
                   .. " starting with # skipped; - reads standard input); at most 1,000 distinct domains in all" },
  }, "print the new task as JSON instead of its id",
  "then wait until the task is done, as `deep-search wait` does, with its options: the task's id and the progress"
    .. " go to stderr (none with --quiet), the done task as JSON to stdout"),
  check = start_check,
  help = [[
Starts a Deep Search for QUERY (POST /v1/discovery_tasks) and prints the
new task's id on stdout. --criterion KEY=TEXT grades each company on TEXT
(1 to 5) under KEY in its `scores`; the name the API shows is made from the
key (is_saas: "Is saas"). `deep-search results ID` prints what it found.
--exclude-domain and --exclude-domains-file leave companies out; each
entry is read as its registered domain (https://www.acme.com/about,
blog.acme.com and acme.com are one), and more than 1,000 exit 2 before
anything is sent. The wait options (--interval, --max-interval, --timeout,
--quiet) need --wait.
]],
  exit_codes = { [3] = "with --wait: timed out before the task was done" },
  examples = {
    "id=$(extruct deep-search create 'B2B payroll software in Germany' --results 50)",
    "extruct deep-search create 'robotics startups in Japan' --criterion funded='raised a Series A or later'"
      .. " --wait --interval 1 > task.json",
  },
  run = function(ctx, a, opts)
    if not a.query:find("%S") then ctx:usage_error("the QUERY is blank: say in words which companies to find") end
    local task, err = ctx:client():create_deep_search{ query = a.query, desired_num_results = opts.results,
                                                        criteria = opts.criteria,
                                                        exclude_domains = excluded_domains(ctx, opts) }
    if not task then return nil, err end
    if opts.json then return ctx:print_json(task) end
    local id
    id, err = tasks.id_of(task, "a Deep Search")
    if not id then return nil, err end
    if not opts.wait then return ctx:print(one_line(id)) end
    if not opts.quiet then ctx:note(("started Deep Search %s"):format(one_line(id))) end
    return wait_and_print(ctx, id)
  end,
}

command{
  words = { "deep-search", "get" },
  args = { TASK_ID },
  summary = "print the task (status and counters) as JSON",
  options = { PRETTY, COMPACT },
  help = [[
Prints the Deep Search task ID (GET /v1/discovery_tasks/ID: its status,
created, in_progress, done or failed, its query and criteria, and the
counts of companies discovered, enriched, evaluated and kept as results)
as one JSON document on stdout.
]],
  examples = { "extruct deep-search get ds_0001 | jq -r .status" },
  run = function(ctx, a)
    local task, err = ctx:client():get_deep_search(a.id)
    if not task then return nil, err end
    return ctx:print_json(task)
  end,
}

command{
  words = { "deep-search", "list" },
  summary = "list the Deep Search tasks: id, status, results, created, query",
  options = tasks.LIST_OPTIONS,
  check = records.check,
  help = [[
Lists the Deep Search tasks, newest first (GET /v1/discovery_tasks, page
after page), on stdout: on a terminal an aligned table with a header line
(ID, STATUS, RESULTS found of those asked for, CREATED in UTC to the
minute, QUERY cut to 60 characters), otherwise one task a line as JSON
(--format: table, jsonl, json or csv).
]],
  examples = {
    "extruct deep-search list --limit 10",
    "extruct deep-search list --format jsonl | jq -r 'select(.status == \"done\") | .id'",
  },
  run = function(ctx, _, opts)
    return tasks.list(ctx, opts, "list_deep_searches", {
      { "RESULTS", "num_results", text = function(task)
        return ("%s/%s"):format(field_text(task.num_results), field_text(task.desired_num_results))
      end },
      { "WANTED", "desired_num_results", table = false },
    }, { "QUERY", "query" })
  end,
}

command{
  words = { "deep-search", "results" },
  args = { TASK_ID },
  summary = "print the task's results: a table, JSON lines, a JSON array or CSV",
  options = paging.options("results"),
  check = paging.check,
  help = [[
Prints the results of the Deep Search task ID (GET
/v1/discovery_tasks/ID/results), best first: on a terminal an aligned
table (COMPANY, WEBSITE, COUNTRY, RELEVANCE), otherwise one JSON object a
line: the company's name, website and descriptions, its relevance, and
its `scores` on each criterion (grade, explanation, sources). --format
csv has the columns id, company_name, company_website, hq_country,
employee_count, founding_year, relevance and scores (as JSON). They can be
read while the task runs: more come as it goes on. Without --all one
request prints one page (the API's page size, or --limit); --all pages
through every result from --offset on.
]],
  examples = {
    "extruct deep-search results ds_0001 --all --format jsonl > results.jsonl",
    "extruct deep-search results ds_0001 --limit 10 --format jsonl | jq -r .company_website",
    "extruct deep-search results ds_0001 --all --format csv -o results.csv",
  },
  run = function(ctx, a, opts)
    local client = ctx:client()
    local what = ("the results of Deep Search '%s'"):format(one_line(a.id))
    return paging.print(ctx, opts, {
      page = function(offset, limit)
        local page, err = client:get_deep_search_results(a.id, { offset = offset, limit = limit })
        if not page then return nil, err end
        return paging.results_of(page, what)
      end,
      iterate = function(offset, page_size)
        return client:iter_deep_search_results(a.id, { offset = offset, limit = page_size })
      end,
    }, RESULT_COLUMNS)
  end,
}

command{
  words = { "deep-search", "resume" },
  args = { TASK_ID },
  summary = "ask a Deep Search for more results (--wait: until done)",
  options = start_options({
    args.option{ name = "--results", value = "N", type = args.whole(0, MAX_RESULTS),
                 help = ("how many more results, 0..%d (the API's default otherwise)"):format(MAX_RESULTS) },
  }, "print the resumed task as JSON instead",
  "then wait until the task is done again, as `deep-search wait` does, with its options; the done task as JSON to"
    .. " stdout"),
  check = start_check,
  help = [[
Asks the Deep Search task ID for more results (POST
/v1/discovery_tasks/ID/resume) and prints one line on stdout, the task as
it now stands:
  resumed ds_0001: in_progress, 50/100 results, 120 discovered, 96 enriched, 80 evaluated
A task that is exhausted (no more candidates come) cannot be resumed: the
API refuses (exit status 1). The wait options need --wait.
]],
  exit_codes = { [3] = "with --wait: timed out before the task was done" },
  examples = {
    "extruct deep-search resume ds_0001 --results 50",
    "extruct deep-search resume ds_0001 --wait --interval 1 --quiet > task.json",
  },
  run = function(ctx, a, opts)
    local task, err = ctx:client():resume_deep_search(a.id, { desired_new_results = opts.results })
    if not task then return nil, err end
    if opts.json then return ctx:print_json(task) end
    if opts.wait then
      if not opts.quiet then ctx:note(("resumed Deep Search %s"):format(one_line(a.id))) end
      return wait_and_print(ctx, a.id)
    end
    return ctx:print(("resumed %s: %s"):format(one_line(a.id), progress.deep_search_summary(task)))
  end,
}

command{
  words = { "deep-search", "wait" },
  args = { TASK_ID },
  summary = "wait until the Deep Search is done, then print it as JSON",
  options = args.options(WAIT_OPTIONS, { PRETTY, COMPACT }),
  help = [[
Polls the Deep Search task ID until it is done, then prints it as JSON on
stdout (`deep-search results` prints its results). A task that ends failed
exits 1, with stdout empty and the failure on stderr:
  extruct: failed: Deep Search 'ds_0001' failed (4 of 50 results found)
]] .. "\n" .. WAIT_HELP,
  exit_codes = EXIT_CODES,
  examples = {
    "extruct deep-search wait ds_0001 --interval 1 > task.json && extruct deep-search results ds_0001 --all",
    "extruct deep-search wait ds_0001 --timeout 600 --quiet",
  },
  run = function(ctx, a)
    return wait_and_print(ctx, a.id)
  end,
}

return M
