-- Deep Search (the API's discovery tasks): a task that finds companies
-- matching a query and grades each against criteria, read while it runs,
-- resumed for more, and waited for. extruct.client installs these methods
-- on every client.
--
-- Every method returns one value on success and nil, err on failure; a
-- malformed argument or option raises.

local domains = require("extruct.domains")
local endpoint = require("extruct.endpoint")
local errors = require("extruct.errors")
local poller = require("extruct.poller")

local call, check_id, check_options = endpoint.call, endpoint.check_id, endpoint.check_options
local misuse, list, path, whole = endpoint.misuse, endpoint.list, endpoint.path, endpoint.whole
local options = endpoint.with_retry_options
local nothing_created = endpoint.nothing_created

-- The module-level shortcuts of these methods, on the default client.
---@class extruct
---@field create_deep_search fun(spec: extruct.DeepSearchSpec, opts?: extruct.Options): extruct.DeepSearchTask?, extruct.Error?
---@field get_deep_search fun(id: string, opts?: extruct.Options): extruct.DeepSearchTask?, extruct.Error?
---@field list_deep_searches fun(opts?: extruct.PageOptions): extruct.DeepSearchTask[]?, extruct.Error?
---@field get_deep_search_results fun(id: string, opts?: extruct.PageOptions): extruct.DeepSearchTask?, extruct.Error?
---@field iter_deep_search_results fun(id: string, opts?: extruct.PageOptions): extruct.Iterator
---@field resume_deep_search fun(id: string, opts?: extruct.ResumeOptions): extruct.DeepSearchTask?, extruct.Error?
---@field wait_deep_search fun(id: string, opts?: extruct.TaskWaitOptions): extruct.DeepSearchTask?, extruct.Error?

---@class extruct.Client
local methods = {}

-- The API's bounds on a task's results, and on the tasks whose results it leaves out.
local MAX_RESULTS = 250
local MAX_EXCLUDED_TASKS = 100
local DEFAULT_PAGE_SIZE = 50

local PAGE_OPTIONS = options{
  offset = { check = whole(0, math.huge), want = "a whole number >= 0" },
  limit = { check = whole(1, math.huge), want = "a whole number >= 1" },
}
local NO_OPTIONS = options{}
local RESUME_OPTIONS = options{
  desired_new_results = { check = whole(0, MAX_RESULTS), want = "a whole number from 0 to " .. MAX_RESULTS },
}

--- How long wait_deep_search waits by default: a task takes minutes, and
--- its counters move at every poll while it works.
local WAIT_DEFAULTS = poller.DEFAULTS.deep_search

---@class extruct.DeepSearchCriterion
---@field key string the criterion's key in each result's scores
---@field name string its name
---@field criterion string what a company is graded on, 1 to 5

---@class extruct.DeepSearchSpec
---@field query string the companies to find, in words (required)
---@field desired_num_results? integer how many results, 1 to 250 (the API's default 100)
---@field criteria? extruct.DeepSearchCriterion[] how to grade them (the API infers criteria when absent)
---@field exclude_domains? string[] companies to leave out, by domain or URL (at most 1,000 registered domains)
---@field exclude_task_ids? string[] leave out the results of these finished tasks (at most 100)
---@field [string] any any other field of the API's create request, sent as given (data_sources, table, ...)

---@class extruct.DeepSearchTask
---@field id string
---@field status "created"|"in_progress"|"done"|"failed"
---@field query string
---@field desired_num_results integer
---@field is_exhausted boolean true when no more candidates come; the task may still be in progress
---@field num_results_discovered integer
---@field num_results_enriched integer
---@field num_results_evaluated integer
---@field num_results integer
---@field results? extruct.DeepSearchResult[] with get_deep_search_results: a page of results, best first

--- A company a Deep Search found, graded on each criterion.
---@class extruct.DeepSearchResult
---@field id string
---@field company_name string
---@field company_website string
---@field company_description? string
---@field relevance number
---@field scores table<string, { grade: integer, explanation: string, sources: string[] }> criterion key -> its grade
---@field hq_country? string
---@field employee_count? string
---@field founding_year? integer

--- on_progress's info in wait_deep_search: the wait's (done: results
--- found, total: results asked for) and the task's counters.
---@class extruct.DeepSearchProgress: extruct.WaitInfo
---@field discovered integer
---@field enriched integer
---@field evaluated integer
---@field results integer
---@field desired integer
---@field is_exhausted boolean

---@class extruct.ResumeOptions: extruct.Options
---@field desired_new_results? integer how many more results, 0 to 250 (the API's default 25 when absent)

local function task_path(id, ...)
  return path("/v1/discovery_tasks", id, ...)
end

local function subject_task(id)
  return poller.subject("Deep Search", id)
end

-- The criteria as the API takes them, or a raised error naming the bad one.
local function check_criteria(criteria)
  if type(criteria) ~= "table" then
    misuse("extruct.create_deep_search: criteria must be a list of { key, name, criterion }, got " .. type(criteria))
  end
  local n = 0
  for _ in pairs(criteria) do n = n + 1 end
  local out = list()
  for i = 1, n do
    local item = criteria[i]
    if type(item) ~= "table" then
      misuse(("extruct.create_deep_search: criteria[%d] must be a table { key, name, criterion }, got %s")
        :format(i, type(item)))
    end
    for _, field in ipairs({ "key", "name", "criterion" }) do
      if type(item[field]) ~= "string" or item[field] == "" then
        misuse(("extruct.create_deep_search: criteria[%d].%s must be a non-empty string, got %s"):format(i, field,
          type(item[field]) == "string" and "an empty string" or type(item[field])))
      end
    end
    out[i] = item
  end
  return out
end

-- The domains to leave out as the API counts them (extruct.domains), or a
-- raised error: a malformed entry, or more than 1,000 domains.
local function check_excluded_domains(value)
  if not endpoint.string_list(value) then
    misuse("extruct.create_deep_search: spec.exclude_domains must be a list of domains or URLs (strings), got "
      .. type(value))
  end
  local distinct, why = domains.exclusion(type(value) == "string" and { value } or value, "spec.exclude_domains")
  if not distinct then misuse("extruct.create_deep_search: " .. why) end
  return list(distinct)
end

local function check_excluded_tasks(value)
  if not endpoint.list_of_strings(value) then
    misuse("extruct.create_deep_search: spec.exclude_task_ids must be a list of task ids (strings), got "
      .. type(value))
  end
  if #value > MAX_EXCLUDED_TASKS then
    misuse(("extruct.create_deep_search: spec.exclude_task_ids names %d tasks; the API takes at most %d")
      :format(#value, MAX_EXCLUDED_TASKS))
  end
  local ids = list()
  for i, id in ipairs(value) do ids[i] = id end
  return ids
end

--- POST /v1/discovery_tasks: starts a Deep Search; returns the new task.
--- spec: query (required), desired_num_results (1..250), criteria (a list
--- of { key, name, criterion }), exclude_domains (read as registered
--- domains, duplicates dropped: more than 1,000 raise), exclude_task_ids
--- (at most 100); any other field (table, data_sources ...) is sent as given.
---@param spec extruct.DeepSearchSpec
---@param opts? extruct.Options
---@return extruct.DeepSearchTask|nil task
---@return extruct.Error? err
function methods:create_deep_search(spec, opts)
  endpoint.check_table_arg(spec, "create_deep_search", "the task's spec")
  if type(spec.query) ~= "string" or not spec.query:find("%S") then
    misuse(("extruct.create_deep_search: spec.query must be a non-blank string, got %s"):format(
      type(spec.query) == "string" and "a blank string" or type(spec.query)))
  end
  local desired = spec.desired_num_results
  if desired ~= nil and not whole(1, MAX_RESULTS)(desired) then
    misuse(("extruct.create_deep_search: spec.desired_num_results must be a whole number from 1 to %d, got %s")
      :format(MAX_RESULTS, errors.show(desired)))
  end
  opts = check_options(opts, NO_OPTIONS, "extruct.create_deep_search")
  local body = {}
  for key, value in pairs(spec) do body[key] = value end
  if spec.criteria ~= nil then body.criteria = check_criteria(spec.criteria) end
  if spec.exclude_domains ~= nil then body.exclude_domains = check_excluded_domains(spec.exclude_domains) end
  if spec.exclude_task_ids ~= nil then body.exclude_task_ids = check_excluded_tasks(spec.exclude_task_ids) end
  return call(self, "POST", "/v1/discovery_tasks", opts, { body = body, answer = "object", retry_if = nothing_created })
end

-- GET /v1/discovery_tasks/{id}, for get_deep_search and the wait (which
-- passes a deadline for its retries).
local function fetch_task(self, id, opts, deadline)
  return call(self, "GET", task_path(id), opts, { answer = "object", subject = subject_task(id), deadline = deadline })
end

--- GET /v1/discovery_tasks/{id}: the task, its status and its counters.
---@param id string the task's id
---@param opts? extruct.Options
---@return extruct.DeepSearchTask|nil task
---@return extruct.Error? err
function methods:get_deep_search(id, opts)
  check_id(id, "get_deep_search", "task id")
  opts = check_options(opts, NO_OPTIONS, "extruct.get_deep_search")
  return fetch_task(self, id, opts)
end

--- GET /v1/discovery_tasks: one page of Deep Search tasks (an array).
---@param opts? extruct.PageOptions
---@return extruct.DeepSearchTask[]|nil tasks
---@return extruct.Error? err
function methods:list_deep_searches(opts)
  opts = check_options(opts, PAGE_OPTIONS, "extruct.list_deep_searches")
  return call(self, "GET", "/v1/discovery_tasks", opts, {
    query = { offset = opts.offset, limit = opts.limit }, answer = "array",
  })
end

local function results_page(self, id, opts, offset, limit)
  return call(self, "GET", task_path(id, "results"), opts, {
    query = { offset = offset, limit = limit }, answer = "object", subject = subject_task(id),
  })
end

--- GET /v1/discovery_tasks/{id}/results: the task with one page of its
--- `results`, best first; readable while the task runs.
---@param id string
---@param opts? extruct.PageOptions
---@return extruct.DeepSearchTask|nil task the task, with `results`
---@return extruct.Error? err
function methods:get_deep_search_results(id, opts)
  check_id(id, "get_deep_search_results", "task id")
  opts = check_options(opts, PAGE_OPTIONS, "extruct.get_deep_search_results")
  return results_page(self, id, opts, opts.offset, opts.limit)
end

--- Every result of the task, page by page:
--- `for result, err in client:iter_deep_search_results(id) do`. opts:
--- limit (results a page, default 50), offset (where to start).
---@param id string
---@param opts? extruct.PageOptions
---@return extruct.Iterator iterator for a generic for: each step a result, or false and an error
function methods:iter_deep_search_results(id, opts)
  check_id(id, "iter_deep_search_results", "task id")
  opts = check_options(opts, PAGE_OPTIONS, "extruct.iter_deep_search_results")
  local limit = opts.limit or DEFAULT_PAGE_SIZE
  return endpoint.pages(function(offset)
    local page, err = results_page(self, id, opts, offset, limit)
    if page == nil then return nil, err end
    local results = page.results
    if type(results) ~= "table" then
      return nil, errors.new("decode", ("%s: the results page at offset %d has no results list")
        :format(subject_task(id), offset))
    end
    -- "Continue paging until returned rows are fewer than limit."
    return results, #results < limit
  end, opts.offset or 0)
end

--- POST /v1/discovery_tasks/{id}/resume: asks for more results; returns
--- the task. opts.desired_new_results: 0 to 250 (the API's default, 25, when
--- absent). A task that is exhausted cannot be resumed (the API answers 400).
---@param id string
---@param opts? extruct.ResumeOptions
---@return extruct.DeepSearchTask|nil task
---@return extruct.Error? err
function methods:resume_deep_search(id, opts)
  check_id(id, "resume_deep_search", "task id")
  opts = check_options(opts, RESUME_OPTIONS, "extruct.resume_deep_search")
  return call(self, "POST", task_path(id, "resume"), opts, {
    body = { desired_new_results = opts.desired_new_results }, answer = "object", subject = subject_task(id),
  })
end

---------------------------------------------------------------------------
-- Waiting
---------------------------------------------------------------------------

local function counts(task)
  local count = poller.count
  return {
    discovered = count(task.num_results_discovered),
    enriched = count(task.num_results_enriched),
    evaluated = count(task.num_results_evaluated),
    results = count(task.num_results),
    desired = count(task.desired_num_results),
    is_exhausted = task.is_exhausted == true,
  }
end

--- How far a Deep Search task has got, from its counters: fraction (0..1,
--- num_results of desired_num_results, 1 once done), done and total (the
--- results found and asked for) and the counts.
local function progress(task)
  local c = counts(task)
  if task.status == "done" then
    c.fraction = 1
  elseif c.desired > 0 then
    c.fraction = math.min(c.results / c.desired, 1)
  else
    c.fraction = 0
  end
  c.done, c.total = c.results, c.desired
  return c
end

local function progress_mark(task)
  local c = counts(task)
  return ("%s %s %g %g %g %g"):format(tostring(task.status), tostring(c.is_exhausted), c.discovered, c.enriched,
    c.evaluated, c.results)
end

--- Polls the task until its status is "done". opts: interval (s, default
--- 5), max_interval (s, default 30), timeout (s, default 1800),
--- on_progress(task, info) after every poll (info:
--- extruct.DeepSearchProgress; returning false cancels),
--- retries, backoff, sleep, now. A task that is exhausted but still in
--- progress is still being scored: the wait goes on.
--- Returns the done task, or nil and an error: "failed" (the task ended
--- failed: err.task), "timeout" (err.task, the last task seen; err.cause,
--- the last poll's error if it failed), "cancelled" (err.task), or the
--- permanent error of a poll.
---@param id string the task's id
---@param opts? extruct.TaskWaitOptions
---@return extruct.DeepSearchTask|nil task the done task
---@return extruct.Error? err
function methods:wait_deep_search(id, opts)
  check_id(id, "wait_deep_search", "task id")
  opts = check_options(opts, poller.OPTIONS, "extruct.wait_deep_search")
  local settings = poller.settings(opts, WAIT_DEFAULTS, "extruct.wait_deep_search")
  return poller.wait_for_task(self, opts, settings, {
    id = id,
    subject = subject_task(id),
    fetch = function(deadline) return fetch_task(self, id, opts, deadline) end,
    failed = function(task)
      local c = counts(task)
      return (" (%g of %g results found)"):format(c.results, c.desired)
    end,
    mark = progress_mark,
    progress = progress,
    state = function(task)
      local c = counts(task)
      return ("%g of %g results, %g evaluated of %g discovered%s"):format(c.results, c.desired, c.evaluated,
        c.discovered, c.is_exhausted and "; exhausted, still scoring" or "")
    end,
  })
end

return methods
