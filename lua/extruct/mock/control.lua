--- extruct.mock.control: the control API under /_mock/ that makes the mock
--- a test double. No auth; parameters in the query string; answers JSON, 400
--- with a string detail for a bad parameter.
--
--   POST /_mock/reset                fixtures back; tables, tasks, account, counters,
--                                    clock, faults, log cleared
--   POST /_mock/tables               add or replace a table whose run ends after N polls
--   POST /_mock/discovery_tasks      add or replace a Deep Search task, its outcome chosen
--   POST /_mock/deep_research_tasks  add or replace a Deep Research task, its outcome chosen
--   POST /_mock/advance              move a table's or a task's clock on without GETs
--   POST /_mock/account              set the plan, the credits, a failed payment
--   POST /_mock/quirks               switch the real server's quirks the mock copies
--   POST /_mock/faults               queue a fault for the next API requests
--   GET  /_mock/requests             the API requests since the reset
--   GET  /_mock/stats                connection and request counters
--   POST /_mock/shutdown             answer, then stop the server

local http = require("extruct.mock.http")
local json = require("extruct.mock.json")
local faults = require("extruct.mock.faults")
local fixtures = require("extruct.mock.fake.fixtures")
local account = require("extruct.mock.fake.account")
local deep_search = require("extruct.mock.fake.deep_search")
local deep_research = require("extruct.mock.fake.deep_research")

local M = {}

local format, concat = string.format, table.concat
local respond, detail = http.respond, http.detail

local MAX_FAULTS = 10000
local MAX_DELAY = 3600

local function check_params(params, allowed)
  for name in pairs(params) do
    if not allowed[name] then return "unknown parameter '" .. name .. "'" end
  end
end

local function integer_param(params, name, default, min, max)
  local value = params[name]
  if value == nil then return default end
  if not value:find("^%d+$") or tonumber(value) < min or tonumber(value) > max then
    return nil, format("parameter '%s' must be an integer from %d to %d", name, min, max)
  end
  return tonumber(value)
end

local FAULT_MODES = {}
for _, mode in ipairs(faults.MODES) do FAULT_MODES[mode] = true end
local FAULT_PARAMS = {
  count = true, path = true, status = true, detail = true, retry_after = true,
  delay = true, body = true, content_type = true, mode = true, content_encoding = true, location = true,
}
local TABLE_PARAMS = { id = true, polls = true, kind = true, rows = true }
local ADVANCE_PARAMS = { id = true, polls = true }
local TABLE_KINDS = { generic = true, company = true, people = true }
local DISCOVERY_PARAMS = { id = true, outcome = true, polls = true, desired = true, query = true }
local RESEARCH_PARAMS = { id = true, outcome = true, polls = true, depth = true, brief = true, foreign = true }
local ACCOUNT_PARAMS = { plan = true, credits = true, payment_failed = true }
local QUIRK_PARAMS = { raw_newlines = true }

local function boolean_param(params, name)
  local value = params[name]
  if value == nil then return nil end
  if value == "true" then return true end
  if value == "false" then return false end
  return nil, format("parameter '%s' must be true or false", name)
end

-- A parameter that must be one of `values` (a list); default when absent.
local function choice_param(params, name, values, default)
  local value = params[name]
  if value == nil then return default end
  for _, allowed in ipairs(values) do
    if value == allowed then return value end
  end
  return nil, format("parameter '%s' must be one of %s", name, concat(values, ", "))
end

-- The id of a task the control API adds: given, and not empty.
local function task_id(params)
  if params.id == "" then return nil, "parameter 'id' must not be empty" end
  return params.id
end

--- A fault from the control call's parameters, or nil and a message.
local function parse_fault(params)
  local problem = check_params(params, FAULT_PARAMS)
  if problem then return nil, problem end
  local fault = {}
  local err
  fault.remaining, err = integer_param(params, "count", 1, 1, 1000000)
  if not fault.remaining then return nil, err end
  if params.status then
    -- no 1xx: a client would take it for an interim answer and wait on
    fault.status, err = integer_param(params, "status", nil, 200, 599)
    if not fault.status then return nil, err end
  end
  if params.delay then
    local delay = tonumber(params.delay)
    if not params.delay:find("^%d*%.?%d+$") or not delay or delay > MAX_DELAY then
      return nil, format("parameter 'delay' must be a number of seconds from 0 to %d", MAX_DELAY)
    end
    fault.delay = delay
  end
  if params.mode and not FAULT_MODES[params.mode] then
    return nil, "parameter 'mode' must be one of " .. concat(faults.MODES, ", ")
  end
  if params.path and params.path:sub(1, 1) ~= "/" then
    return nil, "parameter 'path' must start with /"
  end
  for _, name in ipairs({ "retry_after", "content_type", "content_encoding", "location" }) do
    if params[name] and params[name]:find("%c") then
      return nil, "parameter '" .. name .. "' must not contain control characters"
    end
  end
  fault.mode, fault.path, fault.body, fault.detail = params.mode, params.path, params.body, params.detail
  fault.retry_after, fault.content_type = params.retry_after, params.content_type
  fault.content_encoding, fault.location = params.content_encoding, params.location
  return fault
end

--- Adds a table from the control call's parameters; its header, or nil
--- and a message.
local function add_table(server, params)
  local problem = check_params(params, TABLE_PARAMS)
  if problem then return nil, problem end
  if not params.id or params.id == "" then return nil, "parameter 'id' is required" end
  local polls, rows, err
  polls, err = integer_param(params, "polls", server.default_polls, 0, 1000000000)
  if not polls then return nil, err end
  rows, err = integer_param(params, "rows", fixtures.DEFAULT_ROWS, 0, fixtures.MAX_ROWS)
  if not rows then return nil, err end
  if rows == 0 and polls > 0 then return nil, "a running table needs rows >= 1" end
  local kind = params.kind or "company"
  if not TABLE_KINDS[kind] then return nil, "parameter 'kind' must be generic, company or people" end
  return server.fake:add_polled_table{ id = params.id, name = "Mock table " .. params.id, kind = kind,
                                       rows = rows, polls = polls }
end

--- Adds a Deep Search task from the control call's parameters: id (default
--- the next ds_ id), outcome (done, failed or exhausted; default from the
--- query), polls, desired, query. The task, or nil and a message.
local function add_discovery_task(server, params)
  local problem = check_params(params, DISCOVERY_PARAMS)
  if problem then return nil, problem end
  local fields, err = {}
  fields.id, err = task_id(params)
  if err then return nil, err end
  fields.outcome, err = choice_param(params, "outcome", deep_search.OUTCOMES)
  if err then return nil, err end
  fields.polls, err = integer_param(params, "polls", server.default_polls, 0, 1000000)
  if not fields.polls then return nil, err end
  fields.desired, err = integer_param(params, "desired", 10, 1, deep_search.DESIRED_MAX)
  if not fields.desired then return nil, err end
  fields.query = params.query or "B2B software companies"
  return server.fake:add_discovery_task(fields)
end

--- Adds a Deep Research task from the control call's parameters: id
--- (default the next dr_ id), outcome (done, failed or degraded; default
--- from the brief), polls, depth, brief, foreign (true: a task of another
--- organization). The task, or nil and a message.
local function add_research_task(server, params)
  local problem = check_params(params, RESEARCH_PARAMS)
  if problem then return nil, problem end
  local fields, err = {}
  fields.id, err = task_id(params)
  if err then return nil, err end
  fields.outcome, err = choice_param(params, "outcome", deep_research.OUTCOMES)
  if err then return nil, err end
  fields.depth, err = choice_param(params, "depth", deep_research.DEPTHS, deep_research.DEFAULT_DEPTH)
  if err then return nil, err end
  fields.polls, err = integer_param(params, "polls", server.default_polls, 0, 1000000)
  if not fields.polls then return nil, err end
  fields.brief = params.brief or "Research Acme (acme.example) for an account plan."
  if fields.brief == "" then return nil, "parameter 'brief' must not be empty" end
  fields.foreign, err = boolean_param(params, "foreign")
  if err then return nil, err end
  return server.fake:add_research_task(fields)
end

--- Sets the account: plan, credits, payment_failed. What GET /v1/billing
--- answers now, or nil and a message.
local function set_account(server, params)
  local problem = check_params(params, ACCOUNT_PARAMS)
  if problem then return nil, problem end
  local plan, credits, failed, err
  plan, err = choice_param(params, "plan", account.PLANS)
  if err then return nil, err end
  credits, err = integer_param(params, "credits", nil, 0, 1000000000)
  if err then return nil, err end
  failed, err = boolean_param(params, "payment_failed")
  if err then return nil, err end
  local settings = server.fake.account
  if plan ~= nil then settings.plan = plan end
  if credits ~= nil then settings.credits = credits end
  if failed ~= nil then settings.payment_failed = failed end
  return server.fake:billing()
end

--- Switches the quirks of the real server the mock copies: raw_newlines
--- (Deep Research briefs echoed with raw newlines). The quirks now.
local function set_quirks(server, params)
  local problem = check_params(params, QUIRK_PARAMS)
  if problem then return nil, problem end
  local raw, err = boolean_param(params, "raw_newlines")
  if err then return nil, err end
  if raw ~= nil then server.fake.quirks.raw_newlines = raw end
  return server.fake.quirks
end

--- Moves a table's or a task's clock on by `polls` polls (default 1) as
--- that many GETs would; its header or the task, or nil and a message.
local function advance(server, params)
  local problem = check_params(params, ADVANCE_PARAMS)
  if problem then return nil, problem end
  if not params.id or params.id == "" then return nil, "parameter 'id' is required" end
  local polls, err = integer_param(params, "polls", 1, 0, 1000000000)
  if not polls then return nil, err end
  local answer = server.fake:advance(params.id, polls)
  if not answer then return nil, "no table or task '" .. params.id .. "'" end
  return answer
end

local OK = { ok = true }

-- path -> { method, handler(server, params): answer | nil, message }
local ROUTES = {
  ["/_mock/reset"] = { "POST", function(server)
    server:reset()
    return OK
  end },
  ["/_mock/tables"] = { "POST", add_table },
  ["/_mock/advance"] = { "POST", advance },
  ["/_mock/discovery_tasks"] = { "POST", add_discovery_task },
  ["/_mock/deep_research_tasks"] = { "POST", add_research_task },
  ["/_mock/account"] = { "POST", set_account },
  ["/_mock/quirks"] = { "POST", set_quirks },
  ["/_mock/faults"] = { "POST", function(server, params)
    local fault, err = parse_fault(params)
    if not fault then return nil, err end
    if #server.faults >= MAX_FAULTS then return nil, "too many queued faults" end
    server.faults[#server.faults + 1] = fault
    return OK
  end },
  ["/_mock/requests"] = { "GET", function(server) return json.array(server.request_log) end },
  ["/_mock/stats"] = { "GET", function(server) return server.stats end },
  -- answered, then the connection closes and the server's run() returns
  ["/_mock/shutdown"] = { "POST", function() return OK end },
}

--- The answer to a request under /_mock/.
function M.handle(server, request)
  local route = ROUTES[request.path]
  if not route then return detail(404, "Not Found") end
  if request.method ~= route[1] then
    return detail(405, "Method Not Allowed", { Allow = route[1] })
  end
  local params, err = http.parse_query(request.query)
  if not params then return detail(400, err) end
  local answer
  answer, err = route[2](server, params)
  if answer == nil then return detail(400, err) end
  local response = respond(200, answer)
  response.shutdown = request.path == "/_mock/shutdown"
  return response
end

return M
