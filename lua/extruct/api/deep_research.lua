-- Deep Research: a task in which research agents work through a brief for
-- 10 to 20 minutes or more and write a report (Markdown with sources, or
-- fields that fit an output schema). extruct.client installs these methods
-- on every client.
--
-- Every method returns one value on success and nil, err on failure; a
-- malformed argument or option raises.

local endpoint = require("extruct.endpoint")
local errors = require("extruct.errors")
local poller = require("extruct.poller")

local call, check_id, check_options = endpoint.call, endpoint.check_id, endpoint.check_options
local misuse, path, whole = endpoint.misuse, endpoint.path, endpoint.whole
local options = endpoint.with_retry_options
local nothing_created = endpoint.nothing_created

-- The module-level shortcuts of these methods, on the default client.
-- luacheck: push ignore 631
---@class extruct
---@field create_deep_research fun(spec: extruct.DeepResearchSpec, opts?: extruct.Options): extruct.DeepResearchTask?, extruct.Error?
---@field get_deep_research fun(id: string, opts?: extruct.Options): extruct.DeepResearchTask?, extruct.Error?
---@field list_deep_research fun(opts?: extruct.PageOptions): extruct.DeepResearchTask[]?, extruct.Error?
---@field wait_deep_research fun(id: string, opts?: extruct.TaskWaitOptions): extruct.DeepResearchTask?, extruct.Error?
-- luacheck: pop

---@class extruct.Client
local methods = {}

-- The API's bounds on a brief, in characters.
local MAX_BRIEF = 20000

local NO_OPTIONS = options{}
local LIST_OPTIONS = options{
  offset = { check = whole(0, math.huge), want = "a whole number >= 0" },
  limit = { check = whole(1, math.huge), want = "a whole number >= 1" },
}

--- How long wait_deep_research waits by default: a run takes 10 to 20
--- minutes (more at "xhigh"), so a poll every 15 s at first, up to one a
--- minute while nothing moves, for at most an hour.
local WAIT_DEFAULTS = poller.DEFAULTS.deep_research

---@class extruct.DeepResearchSpec
---@field brief string what to research, 1 to 20,000 characters (required)
---@field depth? string One of "medium", "high" or "xhigh", sent as given (the API picks when absent)
---@field output_schema? table a JSON Schema object: the report's fields then fit it
---@field [string] any any other field of the API's create request, sent as given

---@class extruct.DeepResearchTask
---@field id string
---@field status "created"|"in_progress"|"done"|"failed"
---@field brief string
---@field depth string
---@field iterations integer
---@field agents integer
---@field sources integer
---@field report? table once done: { markdown, sources = { { id, url } }, degradation_reasons, fields }
---@field failure_reason? string once failed: why

--- on_progress's info in wait_deep_research: the wait's (done of total:
--- 0 or 1 of 1) and the task's counters.
---@class extruct.DeepResearchProgress: extruct.WaitInfo
---@field iterations integer
---@field agents integer
---@field sources integer

local function task_path(id)
  return path("/v1/deep_research_tasks", id)
end

local function subject_task(id)
  return poller.subject("Deep Research", id)
end

-- Characters of UTF-8 text: the bytes that do not continue a character.
local function characters(text)
  local _, continuations = text:gsub("[\128-\191]", "")
  return #text - continuations
end

--- POST /v1/deep_research_tasks: starts a Deep Research task; returns it.
--- spec: brief (required, 1 to 20,000 characters), depth ("medium",
--- "high", "xhigh": passed through), output_schema (a JSON Schema object);
--- any other field is sent as given.
---@param spec extruct.DeepResearchSpec
---@param opts? extruct.Options
---@return extruct.DeepResearchTask|nil task
---@return extruct.Error? err
function methods:create_deep_research(spec, opts)
  endpoint.check_table_arg(spec, "create_deep_research", "the task's spec")
  local brief = spec.brief
  if type(brief) ~= "string" or brief == "" then
    misuse(("extruct.create_deep_research: spec.brief must be a non-empty string, got %s"):format(
      type(brief) == "string" and "an empty string" or type(brief)))
  end
  local length = characters(brief)
  if length > MAX_BRIEF then
    misuse(("extruct.create_deep_research: spec.brief has %d characters; the API takes at most %d"):format(
      length, MAX_BRIEF))
  end
  if spec.depth ~= nil and type(spec.depth) ~= "string" then
    misuse('extruct.create_deep_research: spec.depth must be a string ("medium", "high" or "xhigh"), got '
      .. type(spec.depth))
  end
  if spec.output_schema ~= nil and type(spec.output_schema) ~= "table" then
    misuse("extruct.create_deep_research: spec.output_schema must be a table (a JSON Schema object), got "
      .. type(spec.output_schema))
  end
  opts = check_options(opts, NO_OPTIONS, "extruct.create_deep_research")
  return call(self, "POST", "/v1/deep_research_tasks", opts, {
    body = spec, answer = "object", retry_if = nothing_created,
  })
end

-- GET /v1/deep_research_tasks/{id}, for get_deep_research and the wait
-- (which passes a deadline for its retries).
local function fetch_task(self, id, opts, deadline)
  return call(self, "GET", task_path(id), opts, { answer = "object", subject = subject_task(id), deadline = deadline })
end

--- GET /v1/deep_research_tasks/{id}: the task, its progress, and once
--- done its report.
---@param id string the task's id
---@param opts? extruct.Options
---@return extruct.DeepResearchTask|nil task
---@return extruct.Error? err
function methods:get_deep_research(id, opts)
  check_id(id, "get_deep_research", "task id")
  opts = check_options(opts, NO_OPTIONS, "extruct.get_deep_research")
  return fetch_task(self, id, opts)
end

--- GET /v1/deep_research_tasks: one page of Deep Research tasks (an array).
---@param opts? extruct.PageOptions
---@return extruct.DeepResearchTask[]|nil tasks
---@return extruct.Error? err
function methods:list_deep_research(opts)
  opts = check_options(opts, LIST_OPTIONS, "extruct.list_deep_research")
  return call(self, "GET", "/v1/deep_research_tasks", opts, {
    query = { offset = opts.offset, limit = opts.limit }, answer = "array",
  })
end

-- How far a task has got: its counters, and done of total (1 of 1 once
-- done: a report comes whole).
local function progress(task)
  local count = poller.count
  local done = task.status == "done" and 1 or 0
  return { iterations = count(task.iterations), agents = count(task.agents), sources = count(task.sources),
           done = done, total = 1, fraction = done }
end

--- Polls the task until its status is "done". opts: interval (s, default
--- 15), max_interval (s, default 60), timeout (s, default 3600),
--- on_progress(task, info) after every poll (info:
--- extruct.DeepResearchProgress; returning false cancels), retries,
--- backoff, sleep, now.
--- Returns the done task (its report in task.report), or nil and an
--- error: "failed" (err.task; err.failure_reason, the API's words),
--- "timeout" (err.task, the last task seen; err.cause, the last poll's
--- error if it failed), "cancelled" (err.task), or the permanent error of
--- a poll.
---@param id string the task's id
---@param opts? extruct.TaskWaitOptions
---@return extruct.DeepResearchTask|nil task the done task
---@return extruct.Error? err
function methods:wait_deep_research(id, opts)
  check_id(id, "wait_deep_research", "task id")
  opts = check_options(opts, poller.OPTIONS, "extruct.wait_deep_research")
  local settings = poller.settings(opts, WAIT_DEFAULTS, "extruct.wait_deep_research")
  return poller.wait_for_task(self, opts, settings, {
    id = id,
    subject = subject_task(id),
    fetch = function(deadline) return fetch_task(self, id, opts, deadline) end,
    failed = function(task)
      local reason = type(task.failure_reason) == "string" and task.failure_reason or nil
      return reason and (": " .. errors.show(reason, 500)) or " (the API gave no reason)", { failure_reason = reason }
    end,
    mark = function(task)
      local p = progress(task)
      return ("%s %g %g %g"):format(tostring(task.status), p.iterations, p.agents, p.sources)
    end,
    progress = progress,
    state = function(task)
      local p = progress(task)
      return ("%g iterations, %g agents, %g sources"):format(p.iterations, p.agents, p.sources)
    end,
  })
end

return methods
