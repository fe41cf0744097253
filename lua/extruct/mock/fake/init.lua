--- extruct.mock.fake: the offline Extruct that the mock server serves: the
--- API's routes over an in-memory state, with answers made up the same way
--- every time. The HTTP is the server's (extruct.mock.server); this module
--- takes a parsed request and returns { status, body, headers }.
--
--   extruct.mock.fake.state          tables, columns, rows, cells, run queues
--   extruct.mock.fake.tables         the Tables API
--   extruct.mock.fake.account        user, billing, plan and credits (402s)
--   extruct.mock.fake.companies      company search, lookalikes and lookup
--   extruct.mock.fake.deep_search    Deep Search (discovery tasks)
--   extruct.mock.fake.deep_research  Deep Research tasks
--   extruct.mock.fake.validation     FastAPI-style request checks (422)
--   extruct.mock.fake.answers        the made-up cell answers
--   extruct.mock.fake.fixtures       the tables it starts with
--
-- Ids come from counters and times from a fake clock, so the same requests
-- give the same JSON. Pure Lua (no C module), Lua 5.1 to 5.4 and LuaJIT.

local json = require("extruct.mock.json")
local http = require("extruct.mock.http")
local state = require("extruct.mock.fake.state")
local fixtures = require("extruct.mock.fake.fixtures")
local tables = require("extruct.mock.fake.tables")
local account = require("extruct.mock.fake.account")
local companies = require("extruct.mock.fake.companies")
local deep_search = require("extruct.mock.fake.deep_search")
local deep_research = require("extruct.mock.fake.deep_research")

local M = {}

local array = json.array
local concat = table.concat
local respond, detail = http.respond, http.detail

M.DEFAULT_CELLS_PER_POLL = 10

-- Every route: { path pattern (":name" segments are parameters), { METHOD = handler } },
-- public = true for the one route that needs no token, pro = true where the
-- methods other than GET need the Pro plan. A handler is
-- handler(extruct, request, params, captured).
local ROUTES = {}
for _, module in ipairs({ account, tables, companies, deep_search, deep_research }) do
  for _, route in ipairs(module.ROUTES) do ROUTES[#ROUTES + 1] = route end
end

local Extruct = setmetatable({}, { __index = state.State })
Extruct.__index = Extruct

--- opts: token (required), polls (tbl_demo's and the tasks', default 3),
--- cells_per_poll (10), plan (the account's at start, default "pro").
function M.new(opts)
  local self = setmetatable({
    token = assert(opts.token, "token"),
    default_polls = opts.polls or fixtures.DEFAULT_POLLS,
    cells_per_poll = opts.cells_per_poll or M.DEFAULT_CELLS_PER_POLL,
    default_plan = opts.plan or account.DEFAULT_PLAN,
  }, Extruct)
  self:reset()
  return self
end

--- Restores the fixture tables, the account and the quirks; forgets the
--- tasks and clears every counter.
function Extruct:reset()
  self.tables = {}
  self.counters = {}
  self.ticks = 0
  self.account = account.new(self.default_plan)
  self.quirks = { raw_newlines = true }
  self.discovery_tasks, self.discovery_order = {}, {}
  self.research_tasks, self.research_order = {}, {}
  fixtures.seed(self, self.default_polls)
end

--- Table `id`'s header with its status, or nil when there is no such table.
function Extruct:table_header(id)
  local t = self.tables[id]
  return t and state.render_table(t)
end

--- Adds (or replaces) a table of the fixtures' columns whose run ends after
--- `fields.polls` polls (see extruct.mock.fake.fixtures); its header.
function Extruct:add_polled_table(fields)
  return state.render_table(fixtures.add_polled_table(self, fields))
end

--- Advances table or task `id` (looked up in that order) by `polls` polls
--- as that many GETs would; its header or the task, or nil when unknown.
function Extruct:advance(id, polls)
  local t = self.tables[id]
  if t then
    state.advance(t, polls)
    return state.render_table(t)
  end
  local search_task = self.discovery_tasks[id]
  if search_task then
    deep_search.advance(self, search_task, polls)
    return deep_search.render(search_task)
  end
  local research_task = self.research_tasks[id]
  if research_task then
    deep_research.advance(self, research_task, polls)
    return deep_research.render(self, research_task)
  end
end

--- Adds (or replaces) a Deep Search task (see extruct.mock.fake.deep_search's
--- create); the task as the API answers it.
function Extruct:add_discovery_task(fields)
  return deep_search.render(deep_search.create(self, fields))
end

--- Adds (or replaces) a Deep Research task (see extruct.mock.fake.deep_research's
--- create); the task as the API answers it.
function Extruct:add_research_task(fields)
  return deep_research.render(self, deep_research.create(self, fields))
end

--- What GET /v1/billing answers.
function Extruct:billing()
  return account.billing(self.account)
end

local function match(pattern, segments)
  if #pattern ~= #segments then return nil end
  local captured = {}
  for i, part in ipairs(pattern) do
    if part:sub(1, 1) == ":" then
      if segments[i] == "" then return nil end
      captured[part:sub(2)] = segments[i]
    elseif part ~= segments[i] then
      return nil
    end
  end
  return captured
end

local function allowed_methods(methods)
  local list = {}
  for method in pairs(methods) do list[#list + 1] = method end
  table.sort(list)
  return concat(list, ", ")
end

function Extruct:authorized(request)
  -- Like FastAPI's HTTPBearer: scheme case-insensitive, then one space.
  local scheme, credentials = (request.headers.authorization or ""):match("^(%S+) (.*)$")
  return scheme ~= nil and scheme:lower() == "bearer" and credentials == self.token
end

--- The answer to an API request { method, segments, query, headers, body,
--- count_poll } (count_poll false: a GET does not move the clock).
function Extruct:handle(request)
  for _, route in ipairs(ROUTES) do
    local captured = match(route[1], request.segments)
    if captured then
      local handler = route[2][request.method]
      if not handler then
        return detail(405, "Method Not Allowed", { Allow = allowed_methods(route[2]) })
      end
      if not route.public and not self:authorized(request) then
        return detail(401, "Could not validate credentials", { ["WWW-Authenticate"] = "Bearer" })
      end
      local refused = route.pro and request.method ~= "GET" and account.gate(self.account)
      if refused then return refused end
      local params, problem, param = http.parse_query(request.query or "", { tags = true })
      if not params then
        return respond(422, { detail = array{ { loc = array{ "query", param }, type = "value_error",
          msg = "Value error, " .. problem .. " (only 'tags' may repeat)" } } })
      end
      return handler(self, request, params, captured)
    end
  end
  return detail(404, "Not Found")
end

return M
