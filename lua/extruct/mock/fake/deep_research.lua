--- extruct.mock.fake.deep_research: Deep Research tasks of the offline
--- Extruct.
--
--   POST /v1/deep_research_tasks        create {brief, depth, output_schema}
--   GET  /v1/deep_research_tasks        list, newest first (offset, limit)
--   GET  /v1/deep_research_tasks/{id}   the task: status, progress, report
--
-- A task's clock is its polls: every authorized GET of it is one. It is
-- "created" until the first, "in_progress" while `iterations`, `agents` and
-- `sources` grow, and after `polls` polls "done" with a report: Markdown
-- whose [n] citations resolve against report.sources ({id, url}), or, with
-- an output_schema, `fields` that fit the schema and their `basis`. A brief
-- that says "fail" ends "failed" half way with a failure_reason and no
-- report; one that says "degrade" ends "done" with degradation_reasons.
--
-- A task of another organization (made by the control API with
-- foreign=true) is 403 to GET and left out of the list.
--
-- As the real server does, every answer that echoes a brief sends its
-- newlines as raw bytes inside the JSON string (not valid JSON; the control
-- API's /_mock/quirks?raw_newlines=false turns that off).

local json = require("extruct.mock.json")
local http = require("extruct.mock.http")
local validation = require("extruct.mock.fake.validation")
local answers = require("extruct.mock.fake.answers")
local account = require("extruct.mock.fake.account")
local state = require("extruct.mock.fake.state")

local M = {}

local null, array, is_array, is_object = json.null, json.array, json.is_array, json.is_object
local floor, ceil, max, min = math.floor, math.ceil, math.max, math.min
local format, concat = string.format, table.concat
local respond, detail = http.respond, http.detail
local check, check_fields, add, invalid = validation.check, validation.check_fields, validation.add, validation.invalid
local hash, slug, capitalize = answers.hash, answers.slug, answers.capitalize

M.DEPTHS = { "medium", "high", "xhigh" }
M.DEFAULT_DEPTH = "medium"
M.AGENTS = { medium = 25, high = 50, xhigh = 75 }   -- research agents a depth runs at most
M.OUTCOMES = { "done", "failed", "degraded" }
M.BRIEF_MAX = 20000
M.SCHEMA_MAX_LEVELS = 5
M.SCHEMA_MAX_PROPERTIES = 50
local LIST_LIMIT, LIST_LIMIT_MAX = 50, 100
local DEGRADED_SHARE = 0.8    -- of a depth's agents, what a degraded task runs

--- The outcome a brief asks for: "failed", "degraded" or "done".
function M.outcome_of(brief)
  local text = brief:lower()
  if text:find("fail", 1, true) then return "failed" end
  if text:find("degrade", 1, true) then return "degraded" end
  return "done"
end

---------------------------------------------------------------------------
-- The report
---------------------------------------------------------------------------

-- What the brief is about: the first domain it names, else the first
-- capitalised word after its first one, else "the target".
local function target_of(brief)
  local domain = brief:match("([%w-]+%.[%a][%w.-]*%a)")
  if domain then
    domain = domain:lower():gsub("^www%.", "")
    return capitalize((domain:match("^([^.]+)") or domain):gsub("-", " ")), domain
  end
  local word = brief:match("^%S+.-%f[%w](%u[%w-]+)")
  if word then return word, slug(word) .. ".example" end
  return "the target", "target.example"
end

local function report_sources(domain)
  local name = slug(domain:match("^([^.]+)") or domain)
  return array{
    { id = 1, url = "https://" .. domain .. "/" },
    { id = 2, url = "https://" .. domain .. "/about" },
    { id = 3, url = "https://news.example/" .. name .. "-announces-new-initiative" },
    { id = 4, url = "https://www.linkedin.com/company/" .. name },
    { id = 5, url = "https://" .. domain .. "/blog" },
  }
end

local function markdown_report(target, sources)
  local lines = {
    "# Research report: " .. target,
    "",
    "## Summary",
    "",
    format("%s is the subject of this brief. The mock Extruct server made this report up from the brief; "
      .. "every claim cites its sources [1][2].", target),
    "",
    "## Findings",
    "",
    format("1. What %s sells and to whom, from its own website [1][2].", target),
    "2. A recent initiative announced in the press [3].",
    "3. The people and teams the brief asks about [4].",
    "4. Open questions worth checking by hand [5].",
    "",
    "## Sources",
    "",
  }
  for _, source in ipairs(sources) do lines[#lines + 1] = format("[%d] %s", source.id, source.url) end
  return concat(lines, "\n") .. "\n"
end

-- A value that fits a JSON Schema (the subset the API takes), made up.
local function value_for(schema, name, target)
  if not is_object(schema) then return format("%s of %s (mock)", name, target) end
  if is_array(schema.enum) and schema.enum[1] ~= nil then return schema.enum[1] end
  local kind = schema.type
  if is_array(kind) then
    for _, k in ipairs(kind) do
      if k ~= "null" then kind = k break end
    end
  end
  if kind == nil and is_object(schema.properties) then kind = "object" end
  local h = hash(name .. "\0" .. target)
  if kind == "object" then
    local result = {}
    for key, property in pairs(is_object(schema.properties) and schema.properties or {}) do
      result[key] = value_for(property, key, target)
    end
    return result
  elseif kind == "array" then
    return array{ value_for(schema.items, name, target) }
  elseif kind == "integer" then
    return 1950 + h % 75
  elseif kind == "number" then
    return h % 1000 / 10
  elseif kind == "boolean" then
    return h % 2 == 1
  elseif kind == "null" then
    return null
  end
  return format("%s of %s (mock)", name, target)
end

local function make_report(task)
  local target, domain = target_of(task.brief)
  local sources = report_sources(domain)
  local reasons = array()
  if task.outcome == "degraded" then
    reasons = array{ "Research stopped at its budget before every angle of the brief was covered.",
                     "2 research agents failed; their angles rest on fewer sources." }
  end
  if task.output_schema == null then
    return { kind = "markdown", markdown = markdown_report(target, sources), sources = sources,
             degradation_reasons = reasons }
  end
  local fields = value_for(task.output_schema, "report", target)
  local basis = {}
  for key in pairs(is_object(fields) and fields or {}) do basis[key] = array{ 1, 1 + hash(key) % #sources } end
  return { kind = "schema", fields = fields, basis = basis, sources = sources, degradation_reasons = reasons }
end

---------------------------------------------------------------------------
-- The task
---------------------------------------------------------------------------

local function last_poll(task)
  return task.outcome == "failed" and task.failed_at or task.polls
end

local function status_of(task)
  if task.clock == 0 then return "created" end
  if task.clock < last_poll(task) then return "in_progress" end
  return task.outcome == "failed" and "failed" or "done"
end

--- The task as the API answers it (`raw_newlines`: the brief's newlines unescaped).
local function render(task, raw_newlines)
  local status = status_of(task)
  local agents = floor(task.executed * min(task.clock, task.polls) / task.polls)
  if task.outcome == "failed" then agents = 0 end -- a rejected brief runs no agent
  return {
    id = task.id, created_at = task.created_at, updated_at = task.updated_at, status = status,
    brief = raw_newlines and json.raw_newlines(task.brief) or task.brief,
    depth = task.depth,
    iterations = min(task.clock, last_poll(task)),
    agents = agents,
    sources = agents * 3,
    owner = state.OWNER,
    output_schema = task.output_schema,
    failure_reason = status == "failed" and task.failure_reason or null,
    report = status == "done" and make_report(task) or null,
  }
end

--- The task as the server answers it.
function M.render(extruct, task)
  return render(task, extruct.quirks.raw_newlines)
end

--- Moves a task's clock on by `polls` polls; it stops where the task ends.
function M.advance(extruct, task, polls)
  local clock = min(task.clock + polls, max(task.clock, last_poll(task)))
  if clock ~= task.clock then
    task.clock, task.updated_at = clock, extruct:now()
  end
end

--- Creates a task. fields: id (default: the next dr_ id), brief, depth,
--- output_schema, outcome (default: from the brief), polls, foreign (a task
--- of another organization). Returns it.
function M.create(extruct, fields)
  local depth = fields.depth or M.DEFAULT_DEPTH
  local outcome = fields.outcome or M.outcome_of(fields.brief)
  local created_at = extruct:now()
  local task = {
    id = fields.id or extruct:next_id("dr"), created_at = created_at, updated_at = created_at,
    brief = fields.brief, depth = depth, output_schema = fields.output_schema or null, outcome = outcome,
    polls = max(1, fields.polls or extruct.default_polls), clock = 0, foreign = fields.foreign == true,
    executed = outcome == "degraded" and ceil(M.AGENTS[depth] * DEGRADED_SHARE) or M.AGENTS[depth],
    failure_reason = "The brief does not name a research target the agents can work on. Suggestions: name the "
      .. "company, person or team; say what you sell and what decision the report should support.",
  }
  task.failed_at = max(1, ceil(task.polls / 2))
  if extruct.research_tasks[task.id] == nil then
    extruct.research_order[#extruct.research_order + 1] = task.id
  end
  extruct.research_tasks[task.id] = task
  return task
end

---------------------------------------------------------------------------
-- Routes
---------------------------------------------------------------------------

-- The deepest nesting of objects and arrays in a schema, and its number of properties.
local function schema_shape(schema)
  if not is_object(schema) then return 0, 0 end
  local deepest, count = 0, 0
  if is_object(schema.properties) then
    for _, property in pairs(schema.properties) do
      local levels, properties = schema_shape(property)
      deepest, count = max(deepest, levels), count + 1 + properties
    end
  end
  if schema.items ~= nil then
    local levels, properties = schema_shape(schema.items)
    deepest, count = max(deepest, levels), count + properties
  end
  local nests = schema.type == "object" or schema.type == "array" or is_object(schema.properties)
  return deepest + (nests and 1 or 0), count
end

local function check_output_schema(v, loc, errs)
  if not is_object(v) then return add(errs, loc, "Input should be a valid dictionary", "dict_type") end
  if v.type ~= "object" then
    return add(errs, loc, 'Value error, output_schema must be a JSON Schema object ("type": "object")',
      "value_error")
  end
  local levels, properties = schema_shape(v)
  if levels > M.SCHEMA_MAX_LEVELS then
    add(errs, loc, format("Value error, output_schema nests %d levels; at most %d are allowed", levels,
      M.SCHEMA_MAX_LEVELS), "value_error")
  end
  if properties > M.SCHEMA_MAX_PROPERTIES then
    add(errs, loc, format("Value error, output_schema has %d properties; at most %d are allowed", properties,
      M.SCHEMA_MAX_PROPERTIES), "value_error")
  end
end

local CREATE_FIELDS = {
  { "brief", check.text(1, M.BRIEF_MAX), true },
  { "depth", check.enum(M.DEPTHS) },
  { "output_schema", check.nullable(check_output_schema) },
}

local function create(self, request)
  local body, failure = validation.read_body(request)
  if not body then return failure end
  local errs = {}
  check_fields(body, array{ "body" }, CREATE_FIELDS, errs)
  if #errs > 0 then return invalid(errs) end
  local depth = body.depth or M.DEFAULT_DEPTH
  -- the whole depth's budget must be there, though only the agents that run are billed
  local broke = account.need_credits(self.account, M.AGENTS[depth])
  if broke then return broke end
  local task = M.create(self, { brief = body.brief, depth = depth, output_schema = body.output_schema })
  return respond(200, M.render(self, task))
end

local function list(self, _, params)
  local errs = {}
  local offset = validation.query_integer(params, "offset", 0, 0, errs)
  local limit = validation.query_integer(params, "limit", LIST_LIMIT, 1, errs, LIST_LIMIT_MAX)
  if #errs > 0 then return invalid(errs) end
  local answer, order = array(), self.research_order
  local own = {}
  for _, id in ipairs(order) do
    if not self.research_tasks[id].foreign then own[#own + 1] = id end
  end
  for i = #own - offset, max(1, #own - offset - limit + 1), -1 do
    answer[#answer + 1] = M.render(self, self.research_tasks[own[i]])
  end
  return respond(200, answer)
end

local function get(self, request, _, captured)
  local task = self.research_tasks[captured.task]
  if not task then return detail(404, "Task not found") end
  if task.foreign then return detail(403, "This task belongs to another organization") end
  if request.count_poll ~= false then M.advance(self, task, 1) end
  return respond(200, M.render(self, task))
end

-- pro: every method but GET needs the Pro plan (extruct.mock.fake.account)
M.ROUTES = {
  { { "v1", "deep_research_tasks" }, { GET = list, POST = create }, pro = true },
  { { "v1", "deep_research_tasks", ":task" }, { GET = get } },
}

return M
