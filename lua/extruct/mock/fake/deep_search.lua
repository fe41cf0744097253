--- extruct.mock.fake.deep_search: Deep Search (discovery tasks) of the
--- offline Extruct.
--
--   POST /v1/discovery_tasks               create {query, desired_num_results, criteria, ...}
--   GET  /v1/discovery_tasks               list, newest first (offset, limit)
--   GET  /v1/discovery_tasks/{id}          the task: status and the four counters
--   GET  /v1/discovery_tasks/{id}/results  the task with a page of its results
--   POST /v1/discovery_tasks/{id}/resume   {desired_new_results} (default 25)
--
-- A task's clock is its polls, as a table's: every authorized GET of the
-- task or of its results is one. Its candidates (made up from the query)
-- are discovered, enriched, then evaluated over the polls; those evaluated
-- as high fit (at least 75% of the criteria graded 4 or 5) are its results.
-- A task ends in one of three ways, chosen by its query (or by the control
-- API): normally, "done" with desired_num_results results after `polls`
-- polls; when the query says "fail", "failed" half way; when it says
-- "exhaust", its sources run dry at the first poll (is_exhausted true) and
-- it stays "in_progress" two polls longer while the candidates are scored,
-- then ends "done" with fewer results than desired.
--
-- Companies named in `exclude_domains` (read as registered domains, at most
-- 1,000) and the results of the tasks in `exclude_task_ids` (finished tasks
-- of this organization, at most 100) are never candidates. With `table:
-- {id, auto_import: true}` each result becomes a row of that table as it is
-- evaluated (the domain as `input`), run when `table.run` says so; the
-- table's /data lists the task under `discovery_tasks`, and a poll of the
-- table is a poll of the task too.

local json = require("extruct.mock.json")
local http = require("extruct.mock.http")
local validation = require("extruct.mock.fake.validation")
local answers = require("extruct.mock.fake.answers")
local account = require("extruct.mock.fake.account")
local companies = require("extruct.mock.fake.companies")
local state = require("extruct.mock.fake.state")
local domains = require("extruct.domains")

local M = {}

local null, array, is_array, is_object = json.null, json.array, json.is_array, json.is_object
local floor, ceil, max, min = math.floor, math.ceil, math.max, math.min
local format = string.format
local respond, detail = http.respond, http.detail
local check, check_fields, add, invalid = validation.check, validation.check_fields, validation.add, validation.invalid
local hash, slug = answers.hash, answers.slug

M.OUTCOMES = { "done", "failed", "exhausted" }
M.DEFAULT_DESIRED = 100
M.DEFAULT_NEW_RESULTS = 25   -- a resume without desired_new_results
M.DESIRED_MAX = 250
M.MAX_EXCLUDED_TASKS = 100
local RESULTS_LIMIT, RESULTS_LIMIT_MAX = 50, 250
local LIST_LIMIT, LIST_LIMIT_MAX = 50, 100
local EXHAUSTED_SHARE = 0.6   -- of the desired results, what an exhausted task finds
local EXHAUSTED_EXTRA_POLLS = 2

local DATA_SOURCES = { "web_search", "extruct_db", "linkedin", "maps" }

--- The outcome a query asks for: "failed", "exhausted" or "done".
function M.outcome_of(query)
  local text = query:lower()
  if text:find("fail", 1, true) then return "failed" end
  if text:find("exhaust", 1, true) then return "exhausted" end
  return "done"
end

---------------------------------------------------------------------------
-- Candidates
---------------------------------------------------------------------------

local NAME_STARTS = { "Nord", "Blue", "Vertex", "Quanta", "Lumen", "Cargo", "Atlas", "Pixel", "Terra", "Helio",
                      "Nimbus", "Orbit", "Kestrel", "Juniper", "Cobalt", "Meridian" }
local NAME_ENDS = { "ly", "works", "labs", "flow", "stack", "ware", "hub", "logic", "nest", "scale", "grid", "path" }

local function default_criteria(query)
  return array{
    { key = "matches_query", name = "Matches the query",
      criterion = "The company matches this description: " .. query:sub(1, 400) },
    { key = "is_operating", name = "Operating company",
      criterion = "The company is operating and sells its products today." },
  }
end

-- The next candidate of a task: first the companies of the mock's index
-- that match the query (all high fit), then made-up ones (three in four
-- high fit); those at an excluded domain are passed over.
local function next_candidate(extruct, task, created_at)
  while true do
    task.drawn = task.drawn + 1
    local i = task.drawn
    local h = hash(task.query .. "\0" .. i)
    local profile = task.matches[i]
    local name, domain, fit
    if profile then
      name, domain, fit = profile.name, profile.domain, true
    else
      name = NAME_STARTS[h % #NAME_STARTS + 1] .. NAME_ENDS[floor(h / 16) % #NAME_ENDS + 1]
      if task.names[name] then name = name .. " " .. i end
      domain, fit = slug(name) .. ".example", h % 4 ~= 0
    end
    if not task.excluded[domain] then
      task.names[name] = true
      return { id = extruct:next_id("dsr"), created_at = created_at, h = h, name = name, domain = domain, fit = fit,
               profile = profile }
    end
  end
end

-- Adds candidates to the task until `wanted` more of them are high fit,
-- scheduled over `polls` polls from now.
local function add_candidates(extruct, task, wanted, polls)
  local found, added = 0, {}
  local created_at = extruct:now()
  while found < wanted do
    local candidate = next_candidate(extruct, task, created_at)
    task.candidates[#task.candidates + 1] = candidate
    if candidate.fit then found = found + 1 end
    added[#added + 1] = candidate
  end
  -- candidate k of n: discovered, enriched and evaluated a poll apart,
  -- the last evaluated at the last poll
  local n = #added
  for k, candidate in ipairs(added) do
    local evaluated = ceil(k * polls / n)
    candidate.evaluated_at = task.clock + max(1, evaluated)
    candidate.enriched_at = task.clock + max(1, evaluated - 1)
    candidate.discovered_at = task.outcome == "exhausted" and task.clock + 1 or task.clock + max(1, evaluated - 2)
  end
end

local function grades_of(task, candidate)
  local scores = {}
  for i, criterion in ipairs(task.criteria) do
    local g = hash(candidate.name .. "\0" .. i) % 2
    local grade = candidate.fit and 4 + g or 1 + hash(criterion.key .. candidate.name) % 3
    scores[criterion.key] = {
      grade = grade,
      explanation = format("Graded %d of 5 against '%s' from %s's website (mock).", grade, criterion.name,
        candidate.name),
      sources = array{ "https://" .. candidate.domain .. "/" },
    }
  end
  return scores
end

-- A result: the company as the index knows it (a well-known one from
-- Extruct's database, a made-up one from the web, the same company a
-- lookup of its domain answers), graded on the task's criteria.
local function render_result(task, candidate)
  local h, known = candidate.h, candidate.profile
  local profile = known or companies.find_company(candidate.domain)
  return {
    id = candidate.id, task_id = task.id, created_at = candidate.created_at,
    company_name = candidate.name, company_website = "https://" .. candidate.domain,
    company_description = profile.short_description, company_full_description = profile.full_description,
    relevance = candidate.fit and 70 + h % 31 or 10 + h % 56,
    scores = grades_of(task, candidate),
    company_profile_id = known and known.id or null, source = known and "extruct_db" or "web_search",
    founding_year = profile.founding_year, employee_count = profile.employee_count,
    hq_country = profile.hq_country, hq_state_province = profile.hq_state_province, hq_city = profile.hq_city,
  }
end

---------------------------------------------------------------------------
-- The task
---------------------------------------------------------------------------

local function counters(task)
  local c = task.clock
  local discovered, enriched, evaluated, results = 0, 0, 0, 0
  for _, candidate in ipairs(task.candidates) do
    if candidate.discovered_at <= c then discovered = discovered + 1 end
    if candidate.enriched_at <= c then enriched = enriched + 1 end
    if candidate.evaluated_at <= c then
      evaluated = evaluated + 1
      if candidate.fit then results = results + 1 end
    end
  end
  return discovered, enriched, evaluated, results
end

--- The poll at which the task ends (done or failed).
local function last_poll(task)
  if task.outcome == "failed" then return task.failed_at end
  local last = 0
  for _, candidate in ipairs(task.candidates) do last = max(last, candidate.evaluated_at) end
  return last
end

local function status_of(task)
  if task.clock == 0 then return "created" end
  if task.clock < last_poll(task) then return "in_progress" end
  return task.outcome == "failed" and "failed" or "done"
end

local function is_exhausted(task)
  return task.outcome == "exhausted" and task.clock >= 1
end

local function render(task)
  local discovered, enriched, evaluated, results = counters(task)
  return {
    id = task.id, created_at = task.created_at, status = status_of(task), query = task.query,
    desired_num_results = task.desired, is_exhausted = is_exhausted(task),
    num_results_discovered = discovered, num_results_enriched = enriched,
    num_results_evaluated = evaluated, num_results = results,
    table_id = task.table_id, auto_data_sources = task.auto_data_sources, data_sources = task.data_sources,
    criteria = task.criteria, exclude_domains = task.exclude_domains, exclude_task_ids = task.exclude_task_ids,
  }
end
M.render = render

-- The results evaluated so far, in the order they were: rows of the
-- task's table (auto_import), run when the task says so.
local function import_results(extruct, task)
  local link = task.link
  local t = link and link.auto_import and extruct.tables[link.table_id]
  if not t then return end
  local rows = {}
  for _, candidate in ipairs(task.candidates) do
    if candidate.fit and not candidate.imported and candidate.evaluated_at <= task.clock then
      candidate.imported = true
      rows[#rows + 1] = extruct:new_row(t, { input = candidate.domain },
        { discovery_task_id = task.id, discovery_result_id = candidate.id })
    end
  end
  if link.run and #rows > 0 then
    local columns
    if link.columns then
      columns = {}
      for _, id in ipairs(link.columns) do columns[#columns + 1] = state.find_by_id(t.columns, id) end
    end
    extruct:start_run(t, "new", rows, columns)
  end
end

--- Moves a task's clock on by `polls` polls (it stops where the task
--- ends), importing its new results into its table.
function M.advance(extruct, task, polls)
  task.clock = min(task.clock + polls, max(task.clock, last_poll(task)))
  import_results(extruct, task)
end

--- A poll of table `t` is one of the tasks that import into it.
function M.poll_importers(extruct, t)
  for _, id in ipairs(t.discovery_task_ids) do
    local task = extruct.discovery_tasks[id]
    if task and task.link.auto_import then M.advance(extruct, task, 1) end
  end
end

--- The tasks of table `t`, as /data lists them.
function M.of_table(extruct, t)
  local list = array()
  for _, id in ipairs(t.discovery_task_ids) do
    local task = extruct.discovery_tasks[id]
    if task then list[#list + 1] = render(task) end
  end
  return list
end

-- The domains of a task's results so far.
local function result_domains(task, into)
  for _, candidate in ipairs(task.candidates) do
    if candidate.fit and candidate.evaluated_at <= task.clock then into[candidate.domain] = true end
  end
end

--- Creates a task. fields: id (default: the next ds_ id), query, desired,
--- criteria, outcome (default: from the query), polls, exclude_domains
--- (registered domains), exclude_task_ids, table (the checked `table` of
--- the request: {id, run, columns, auto_import}), and the echoed
--- auto_data_sources, data_sources. Returns it.
function M.create(extruct, fields)
  local task = {
    id = fields.id or extruct:next_id("ds"), created_at = extruct:now(), query = fields.query,
    desired = fields.desired or M.DEFAULT_DESIRED,
    criteria = fields.criteria or default_criteria(fields.query),
    outcome = fields.outcome or M.outcome_of(fields.query),
    polls = max(1, fields.polls or extruct.default_polls),
    table_id = fields.table and fields.table.id or null,
    link = fields.table and { table_id = fields.table.id, run = fields.table.run == true,
                              columns = is_array(fields.table.columns) and fields.table.columns or nil,
                              auto_import = fields.table.auto_import == true } or {},
    auto_data_sources = fields.auto_data_sources ~= false,
    data_sources = fields.data_sources or array(),
    exclude_domains = array(fields.exclude_domains or {}),
    exclude_task_ids = array(fields.exclude_task_ids or {}),
    clock = 0, candidates = {}, names = {}, drawn = 0, excluded = {},
    matches = companies.matching(fields.query),
  }
  for _, domain in ipairs(task.exclude_domains) do task.excluded[domain] = true end
  for _, id in ipairs(task.exclude_task_ids) do result_domains(extruct.discovery_tasks[id], task.excluded) end
  task.failed_at = max(1, ceil(task.polls / 2))
  if task.outcome == "exhausted" then
    add_candidates(extruct, task, ceil(task.desired * EXHAUSTED_SHARE), task.polls + EXHAUSTED_EXTRA_POLLS)
  else
    add_candidates(extruct, task, task.desired, task.polls)
  end
  if extruct.discovery_tasks[task.id] == nil then
    extruct.discovery_order[#extruct.discovery_order + 1] = task.id
  end
  extruct.discovery_tasks[task.id] = task
  local t = fields.table and extruct.tables[fields.table.id]
  if t then t.discovery_task_ids[#t.discovery_task_ids + 1] = task.id end
  return task
end

---------------------------------------------------------------------------
-- Routes
---------------------------------------------------------------------------

local CRITERION_FIELDS = {
  { "key", check.text(1, nil, "^[a-zA-Z][a-zA-Z0-9_]*$"), true },
  { "name", check.text(1, 100), true },
  { "criterion", check.text(10, 500), true },
}

local function criteria_checker(v, loc, errs)
  if not is_array(v) then return add(errs, loc, "Input should be a valid list", "list_type") end
  local seen = {}
  for i, item in ipairs(v) do
    local item_loc = validation.loc_of(loc, i - 1)
    check_fields(item, item_loc, CRITERION_FIELDS, errs)
    if type(item) == "table" and type(item.key) == "string" then
      if seen[item.key] then
        add(errs, validation.loc_of(item_loc, "key"), format("Value error, criterion key '%s' is used twice",
          item.key), "value_error")
      end
      seen[item.key] = true
    end
  end
end

local function data_sources_checker(v, loc, errs)
  if not is_array(v) then return add(errs, loc, "Input should be a valid list", "list_type") end
  for i, item in ipairs(v) do check.enum(DATA_SOURCES)(item, validation.loc_of(loc, i - 1), errs) end
end

local CREATE_FIELDS = {
  { "query", check.text(1), true },
  { "desired_num_results", check.integer(1, M.DESIRED_MAX) },
  { "criteria", check.nullable(criteria_checker) },
  { "auto_data_sources", check.boolean },
  { "data_sources", check.nullable(data_sources_checker) },
  { "notify", check.boolean },
  { "table", check.nullable(function(v, loc, errs)
    check_fields(v, loc, { { "id", check.string, true }, { "run", check.boolean },
                           { "columns", check.nullable(check.string_list) }, { "auto_import", check.boolean } }, errs)
  end) },
  { "exclude_domains", check.nullable(companies.domain_list) },
  { "exclude_task_ids", check.nullable(function(v, loc, errs)
    check.string_list(v, loc, errs)
    if is_array(v) and #v > M.MAX_EXCLUDED_TASKS then
      add(errs, loc, format("List should have at most %d items after validation, not %d", M.MAX_EXCLUDED_TASKS, #v),
        "too_long")
    end
  end) },
}

-- The checks that need the server's state: the excluded tasks are finished
-- tasks of this organization; the table exists, takes companies and has the
-- columns to run. Returns nil, or the answer that refuses the request.
local function check_references(self, body, errs)
  for i, id in ipairs(is_array(body.exclude_task_ids) and body.exclude_task_ids or {}) do
    local task = self.discovery_tasks[id]
    local status = task and status_of(task)
    if status ~= "done" and status ~= "failed" then
      add(errs, validation.loc_of(array{ "body", "exclude_task_ids" }, i - 1), format(
        "Value error, '%s' is not a finished Deep Search task of this organization%s", id,
        task and format(" (it is %s)", status) or ""), "value_error")
    end
  end
  local link = body.table
  if #errs > 0 or type(link) ~= "table" or link == null then return nil end
  local t = self.tables[link.id]
  if not t then return detail(404, "Table not found") end
  local loc = array{ "body", "table", "id" }
  if t.kind == "people" then
    add(errs, loc, format("Value error, a Deep Search finds companies: table '%s' is a people table", t.id),
      "value_error")
  elseif link.auto_import and not state.column_by_key(t, "input") then
    add(errs, loc, format("Value error, table '%s' has no column with key 'input' to import the companies into", t.id),
      "value_error")
  end
  for i, id in ipairs(is_array(link.columns) and link.columns or {}) do
    local col = state.find_by_id(t.columns, id)
    if not col then return detail(404, "Column not found") end
    if not state.is_output(col) then
      add(errs, validation.loc_of(array{ "body", "table", "columns" }, i - 1), format(
        "Value error, column '%s' is an input column: a run computes output columns", id), "value_error")
    end
  end
end

local function create(self, request)
  local body, failure = validation.read_body(request)
  if not body then return failure end
  local errs = {}
  if check_fields(body, array{ "body" }, CREATE_FIELDS, errs) then
    if type(body.query) == "string" and body.query:find("^%s+$") then
      add(errs, array{ "body", "query" }, "Value error, query must not be blank", "value_error")
    end
    if body.auto_data_sources == false and not (is_array(body.data_sources) and #body.data_sources > 0) then
      add(errs, array{ "body", "data_sources" },
        "Value error, data_sources is required when auto_data_sources is false", "value_error")
    end
  end
  local refused = #errs == 0 and check_references(self, body, errs)
  if refused then return refused end
  if #errs > 0 then return invalid(errs) end
  local broke = account.need_credits(self.account, 1)
  if broke then return broke end
  local task = M.create(self, {
    query = body.query, desired = body.desired_num_results,
    criteria = is_array(body.criteria) and #body.criteria > 0 and body.criteria or nil,
    table = is_object(body.table) and body.table or nil,
    auto_data_sources = body.auto_data_sources,
    data_sources = is_array(body.data_sources) and body.data_sources or nil,
    exclude_domains = is_array(body.exclude_domains)
      and assert(domains.exclusion(body.exclude_domains, "exclude_domains")) or nil,
    exclude_task_ids = is_array(body.exclude_task_ids) and body.exclude_task_ids or nil,
  })
  return respond(200, render(task))
end

local function list(self, _, params)
  local errs = {}
  local offset = validation.query_integer(params, "offset", 0, 0, errs)
  local limit = validation.query_integer(params, "limit", LIST_LIMIT, 1, errs, LIST_LIMIT_MAX)
  if #errs > 0 then return invalid(errs) end
  local answer, order = array(), self.discovery_order
  for i = #order - offset, max(1, #order - offset - limit + 1), -1 do
    answer[#answer + 1] = render(self.discovery_tasks[order[i]])
  end
  return respond(200, answer)
end

-- A route on one task: the task named in the path, or 404.
local function on_task(fn)
  return function(self, request, params, captured)
    local task = self.discovery_tasks[captured.task]
    if not task then return detail(404, "Task not found") end
    return fn(self, request, params, task)
  end
end

local function get(self, request, _, task)
  if request.count_poll ~= false then M.advance(self, task, 1) end
  return respond(200, render(task))
end

local function results(self, request, params, task)
  local errs = {}
  local offset = validation.query_integer(params, "offset", 0, 0, errs)
  local limit = validation.query_integer(params, "limit", RESULTS_LIMIT, 1, errs, RESULTS_LIMIT_MAX)
  if #errs > 0 then return invalid(errs) end
  if request.count_poll ~= false then M.advance(self, task, 1) end
  local visible = {}
  for _, candidate in ipairs(task.candidates) do
    if candidate.fit and candidate.evaluated_at <= task.clock then visible[#visible + 1] = candidate end
  end
  local rendered = {}
  for i, candidate in ipairs(visible) do rendered[i] = render_result(task, candidate) end
  table.sort(rendered, function(a, b)
    if a.relevance ~= b.relevance then return a.relevance > b.relevance end
    return a.id < b.id
  end)
  local answer = render(task)
  answer.results = array()
  for i = offset + 1, min(#rendered, offset + limit) do answer.results[#answer.results + 1] = rendered[i] end
  return respond(200, answer)
end

local function resume(self, request, _, task)
  local body, failure = validation.read_body(request, {})
  if not body then return failure end
  local errs = {}
  check_fields(body, array{ "body" }, { { "desired_new_results", check.integer(0, M.DESIRED_MAX) } }, errs)
  if #errs > 0 then return invalid(errs) end
  if task.outcome == "failed" and task.clock >= task.failed_at then
    return detail(400, "The task failed: a failed task cannot be resumed")
  end
  if is_exhausted(task) then
    return detail(400, "The task is exhausted: its sources have no more candidates")
  end
  local wanted = body.desired_new_results or M.DEFAULT_NEW_RESULTS
  if wanted > 0 then
    local broke = account.need_credits(self.account, 1)
    if broke then return broke end
    task.desired = task.desired + wanted
    add_candidates(self, task, wanted, task.polls)
  end
  return respond(200, render(task))
end

-- pro: every method but GET needs the Pro plan (extruct.mock.fake.account)
M.ROUTES = {
  { { "v1", "discovery_tasks" }, { GET = list, POST = create }, pro = true },
  { { "v1", "discovery_tasks", ":task" }, { GET = on_task(get) } },
  { { "v1", "discovery_tasks", ":task", "results" }, { GET = on_task(results) } },
  { { "v1", "discovery_tasks", ":task", "resume" }, { POST = on_task(resume) }, pro = true },
}

return M
