--- extruct.mock.api: an offline Extruct, the state and the API routes of
--- the mock server (lua/extruct/mock.lua does the HTTP).
--
-- Tables, their columns, rows and cells live in memory. A run queues output
-- cells; the mock's clock is the table's polls: every authorized GET of a
-- table, its /data or one of its rows advances its queue (cells_per_poll
-- cells a poll, or, for the fixture tables and /_mock/tables, a schedule
-- that ends after a given number of polls). Answers are deterministic
-- functions of the row's inputs and the column; ids come from counters and
-- timestamps from a fake clock, so the same requests give the same JSON.
-- Pure Lua (no C module), Lua 5.1 to 5.4 and LuaJIT.

local json = require("extruct.mock.json")

local M = {}

local null, array, is_array, is_object = json.null, json.array, json.is_array, json.is_object
local floor, ceil, huge = math.floor, math.ceil, math.huge
local format, concat = string.format, table.concat

M.DEFAULT_CELLS_PER_POLL = 10
M.DEFAULT_POLLS = 3
M.DEFAULT_ROWS = 25
M.MAX_FIXTURE_ROWS = 10000
M.LIST_LIMIT_MAX = 100   -- GET /v1/tables?limit above this: 400
M.DATA_LIMIT_MAX = 1000  -- GET /v1/tables/{id}/data?limit above this: 400
local DEFAULT_LIMIT = 50

-- The fake clock: 2025-01-15T09:30:00Z, plus one second per thing created.
local EPOCH = 1736933400
local function timestamp(seconds)
  return os.date("!%Y-%m-%dT%H:%M:%S", EPOCH + seconds) .. ".000000Z"
end
local FIXTURE_TIME = timestamp(0)

local OWNER = { id = "usr_mock_0001", email = "owner@example.com" }
local USER = {
  user_id = OWNER.id, email = OWNER.email, name = "Mock User",
  available_credits = 1000, organization_id = "org_mock_0001", organization_name = "Mock organization",
}

local TABLE_KINDS = { "generic", "company", "people" }
local COLUMN_KINDS = {
  "input", "agent", "criterion_grade", "company_people_finder", "discovery_scores", "company_name",
  "company_website", "company_profile", "email_finder", "phone_finder", "reverse_email_lookup",
}
local AGENT_TYPES = { "research", "research_pro", "research_reasoning", "llm", "linkedin" }
local OUTPUT_FORMATS = {
  "text", "url", "number", "email", "label", "json", "grade", "people", "numeric", "money", "date",
  "phone", "select", "multiselect",
}
local SORTS = { "-created_at", "created_at", "name", "-name", "num_rows", "-num_rows" }
local SCOPES = { "personal", "organization" }
local RUN_MODES = { "new", "all", "failed", "stuck_failed_new" }

local function set_of(list)
  local set = {}
  for _, v in ipairs(list) do set[v] = true end
  return set
end

local function deep_copy(v)
  if type(v) ~= "table" or v == null then return v end
  local copy = setmetatable({}, getmetatable(v))
  for k, x in pairs(v) do copy[k] = deep_copy(x) end
  return copy
end

---------------------------------------------------------------------------
-- Responses and query strings
---------------------------------------------------------------------------

local function respond(status, value, headers)
  return { status = status, body = json.encode(value), headers = headers or {} }
end
M.respond = respond

local function detail(status, text, headers)
  return respond(status, { detail = text }, headers)
end
M.detail = detail

local function percent_decode(s)
  -- Invalid escapes stay as they are (as uvicorn does).
  return (s:gsub("%%(%x%x)", function(hex) return string.char(tonumber(hex, 16)) end))
end
M.percent_decode = percent_decode

--- Splits a query string into a map. A name in `repeatable` collects a list
--- of its values; any other name given twice gives nil and a message.
function M.parse_query(query, repeatable)
  local params = {}
  for pair in query:gmatch("[^&]+") do
    local name, value = pair:match("^([^=]*)=(.*)$")
    name = percent_decode(((name or pair):gsub("%+", " ")))
    value = percent_decode(((value or ""):gsub("%+", " ")))
    if repeatable and repeatable[name] then
      params[name] = params[name] or {}
      table.insert(params[name], value)
    elseif params[name] ~= nil then
      return nil, "parameter '" .. name .. "' given twice", name
    else
      params[name] = value
    end
  end
  return params
end

---------------------------------------------------------------------------
-- Validation, with FastAPI's (pydantic's) words
---------------------------------------------------------------------------

local function loc_of(base, ...)
  local loc = array{}
  for _, part in ipairs(base) do loc[#loc + 1] = part end
  for _, part in ipairs({ ... }) do loc[#loc + 1] = part end
  return loc
end

local function add(errs, loc, msg, kind)
  errs[#errs + 1] = { loc = loc, msg = msg, type = kind }
end

local function invalid(errs)
  return respond(422, { detail = array(errs) })
end

local function quoted_choices(values)
  local parts = {}
  for i, v in ipairs(values) do parts[i] = "'" .. v .. "'" end
  if #parts == 1 then return parts[1] end
  return concat(parts, ", ", 1, #parts - 1) .. " or " .. parts[#parts]
end

local function is_integer(v)
  return type(v) == "number" and v == floor(v) and v > -huge and v < huge
end

-- Checkers: each looks at one value and records what is wrong with it.
local check = {}

function check.string(v, loc, errs)
  if type(v) ~= "string" then add(errs, loc, "Input should be a valid string", "string_type") end
end

function check.boolean(v, loc, errs)
  if type(v) ~= "boolean" then add(errs, loc, "Input should be a valid boolean", "bool_type") end
end

function check.object(v, loc, errs)
  if not is_object(v) then add(errs, loc, "Input should be a valid dictionary", "dict_type") end
end

function check.any() end

function check.string_list(v, loc, errs)
  if not is_array(v) then return add(errs, loc, "Input should be a valid list", "list_type") end
  for i, item in ipairs(v) do check.string(item, loc_of(loc, i - 1), errs) end
end

function check.nullable(checker)
  return function(v, loc, errs)
    if v ~= null then checker(v, loc, errs) end
  end
end

function check.enum(values)
  local allowed = set_of(values)
  return function(v, loc, errs)
    if not allowed[v] then add(errs, loc, "Input should be " .. quoted_choices(values), "enum") end
  end
end

function check.integer(min)
  return function(v, loc, errs)
    if not is_integer(v) then return add(errs, loc, "Input should be a valid integer", "int_type") end
    if min and v < min then
      add(errs, loc, "Input should be greater than or equal to " .. min, "greater_than_equal")
    end
  end
end

function check.text(min, max, pattern)
  return function(v, loc, errs)
    if type(v) ~= "string" then return add(errs, loc, "Input should be a valid string", "string_type") end
    if #v < min then
      add(errs, loc, format("String should have at least %d character%s", min, min == 1 and "" or "s"),
        "string_too_short")
    elseif max and #v > max then
      add(errs, loc, format("String should have at most %d characters", max), "string_too_long")
    elseif pattern and not v:find(pattern) then
      add(errs, loc, "String should match pattern '^[a-zA-Z][a-zA-Z0-9_]*$'", "string_pattern_mismatch")
    end
  end
end

--- Checks an object against `fields` (a list of { name, checker, required });
--- names not in it are refused (the mock is strict, to catch typos offline).
--- Returns whether v is an object at all.
local function check_fields(v, loc, fields, errs)
  if not is_object(v) then
    add(errs, loc, "Input should be a valid dictionary or object to extract fields from", "model_attributes_type")
    return false
  end
  local known = {}
  for _, field in ipairs(fields) do
    local name, checker, required = field[1], field[2], field[3]
    known[name] = true
    if v[name] == nil then
      if required then add(errs, loc_of(loc, name), "Field required", "missing") end
    else
      checker(v[name], loc_of(loc, name), errs)
    end
  end
  local extra = {}
  for name in pairs(v) do
    if not known[name] then extra[#extra + 1] = name end
  end
  table.sort(extra)
  for _, name in ipairs(extra) do
    add(errs, loc_of(loc, name), "Extra inputs are not permitted", "extra_forbidden")
  end
  return true
end

local CRITERION_FIELDS = {
  { "key", check.text(1, nil, "^[a-zA-Z][a-zA-Z0-9_]*$"), true },
  { "name", check.text(1, 100), true },
  { "criterion", check.text(10, 500), true },
}

local function check_criteria(v, loc, errs)
  if not is_object(v) then return add(errs, loc, "Input should be a valid dictionary", "dict_type") end
  local keys = {}
  for key in pairs(v) do keys[#keys + 1] = key end
  table.sort(keys)
  for _, key in ipairs(keys) do check_fields(v[key], loc_of(loc, key), CRITERION_FIELDS, errs) end
end

local function value_checker(fields)
  return function(v, loc, errs) check_fields(v, loc, fields, errs) end
end

local function roles_checker(v, loc, errs)
  check.string_list(v, loc, errs)
  if is_array(v) and #v == 0 then
    add(errs, loc, "List should have at least 1 item after validation, not 0", "too_short")
  end
end

local function literal(value)
  return function(v, loc, errs)
    if v ~= value then add(errs, loc, "Input should be '" .. value .. "'", "literal_error") end
  end
end

local COMMON_FIELDS = { { "kind", check.any }, { "name", check.string, true }, { "key", check.text(1), true } }

local function config_fields(extra)
  local fields = {}
  for _, f in ipairs(COMMON_FIELDS) do fields[#fields + 1] = f end
  for _, f in ipairs(extra or {}) do fields[#fields + 1] = f end
  return fields
end

-- The fields of each column kind (the seed's ColumnOutputSchema), and the
-- defaults an answer fills in.
local CONFIG_FIELDS = {
  input = config_fields(),
  agent = config_fields{ { "value", value_checker{
    { "agent_type", check.enum(AGENT_TYPES) },
    { "prompt", check.string },
    { "output_format", check.enum(OUTPUT_FORMATS) },
    { "labels", check.nullable(check.string_list) },
    { "output_schema", check.any },
    { "extra_dependencies", check.nullable(check.string_list) },
  }, true } },
  criterion_grade = config_fields{ { "value", value_checker{ { "criterion", check.string, true } }, true } },
  company_people_finder = config_fields{ { "value", value_checker{
    { "roles", roles_checker, true },
    { "provider", literal("research_pro") },
    { "max_results", check.integer(1) },
  }, true } },
  discovery_scores = config_fields{ { "criteria", check.nullable(check_criteria) } },
  company_name = config_fields(),
  company_website = config_fields(),
  company_profile = config_fields(),
  email_finder = config_fields(),
  phone_finder = config_fields(),
  reverse_email_lookup = config_fields{ { "email_column_key", check.string, true } },
}

local VALUE_DEFAULTS = {
  agent = { agent_type = "research_pro", prompt = "", output_format = "text", labels = null,
            output_schema = null, extra_dependencies = null },
  company_people_finder = { provider = "research_pro", max_results = 5 },
}

--- Checks one column config; returns it with its defaults filled in, or nil.
local function check_config(v, loc, errs)
  local before = #errs
  if not is_object(v) then
    check_fields(v, loc, {}, errs)
    return nil
  end
  local kind = v.kind
  if kind == nil then kind = "input" end
  if not CONFIG_FIELDS[kind] then
    add(errs, loc_of(loc, "kind"), format("Input tag '%s' found using 'kind' does not match any of the expected tags: %s",
      type(kind) == "string" and kind or json.encode(kind), quoted_choices(COLUMN_KINDS)), "union_tag_invalid")
    return nil
  end
  check_fields(v, loc, CONFIG_FIELDS[kind], errs)
  if #errs > before then return nil end
  local config = deep_copy(v)
  config.kind = kind
  if kind == "discovery_scores" and config.criteria == nil then config.criteria = null end
  local defaults = VALUE_DEFAULTS[kind]
  if defaults then
    for name, default in pairs(defaults) do
      if config.value[name] == nil then config.value[name] = default end
    end
  end
  return config
end

--- Reads a JSON request body: the object, or nil and a 422 response.
--- An empty body reads as `empty` when given (optional bodies).
local function read_body(request, empty)
  local body = request.body or ""
  if body:find("^%s*$") then
    if empty then return empty end
    return nil, invalid{ { loc = array{ "body" }, msg = "Field required", type = "missing" } }
  end
  local value, message, pos = json.decode(body)
  if value == nil then
    return nil, respond(422, { detail = array{ {
      loc = array{ "body", pos - 1 }, msg = "JSON decode error", type = "json_invalid",
      ctx = { error = message },
    } } })
  end
  return value
end

-- Query parameters: integers and booleans as FastAPI parses them.
local function query_integer(params, name, default, min, errs)
  local text = params[name]
  if text == nil then return default end
  if not text:find("^%s*[-+]?%d+%s*$") then
    add(errs, array{ "query", name }, "Input should be a valid integer, unable to parse string as an integer",
      "int_parsing")
    return nil
  end
  local n = tonumber((text:gsub("^%s*%+?", "")))
  if n < min then
    add(errs, array{ "query", name }, "Input should be greater than or equal to " .. min, "greater_than_equal")
    return nil
  end
  return n
end

local TRUE_WORDS = set_of{ "true", "1", "yes", "on", "t", "y" }
local FALSE_WORDS = set_of{ "false", "0", "no", "off", "f", "n" }

local function query_boolean(params, name, errs)
  local text = params[name]
  if text == nil then return false end
  if TRUE_WORDS[text:lower()] then return true end
  if FALSE_WORDS[text:lower()] then return false end
  add(errs, array{ "query", name }, "Input should be a valid boolean, unable to interpret input", "bool_parsing")
  return nil
end

local function query_enum(params, name, values, errs)
  local text = params[name]
  if text ~= nil and not set_of(values)[text] then
    add(errs, array{ "query", name }, "Input should be " .. quoted_choices(values), "enum")
  end
  return text
end

---------------------------------------------------------------------------
-- Deterministic answers
---------------------------------------------------------------------------

-- djb2, in doubles that stay exact on every Lua.
local function hash(s)
  local h = 5381
  for i = 1, #s do h = (h * 33 + s:byte(i)) % 4294967296 end
  return h
end

local function slug(s)
  local out = tostring(s):lower():gsub("[^%w]+", "-"):gsub("^%-+", ""):gsub("%-+$", "")
  if out == "" then return "row" end
  return out
end

local function capitalize(s)
  return (s:gsub("^%l", string.upper))
end

local FIRST_NAMES = { "Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia", "Niklaus" }
local LAST_NAMES = { "Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson",
                     "Perlman", "Wirth" }

local function person(seed, role, domain)
  local h = hash(seed)
  local first = FIRST_NAMES[h % #FIRST_NAMES + 1]
  local last = LAST_NAMES[floor(h / 16) % #LAST_NAMES + 1]
  return {
    name = first .. " " .. last, role = role,
    email = first:lower() .. "." .. last:lower() .. "@" .. domain,
    linkedin_url = "https://www.linkedin.com/in/" .. slug(first .. "-" .. last .. "-" .. h % 1000),
  }
end

--- What a row gives the answers: its input values, a subject and a domain.
local function row_facts(t, row)
  local values = {}
  for _, col in ipairs(t.columns) do
    if col.config.kind == "input" then
      local v = row.inputs[col.config.key]
      if v ~= nil and v ~= null and v ~= "" then
        values[#values + 1] = type(v) == "table" and json.encode(v) or tostring(v)
      end
    end
  end
  local subject = values[1] or ("row " .. row.id)
  local domain
  for _, v in ipairs(values) do
    domain = v:match("^%a[%w+.-]*://([^/:?#]+)") or v:match("@([%w.-]+%.%a+)$") or v:match("^([%w-]+%.[%w.-]*%a)$")
    if domain then break end
  end
  domain = (domain or slug(subject) .. ".example"):lower():gsub("^www%.", "")
  local company = capitalize((domain:match("^([^.]+)") or domain):gsub("-", " "))
  return { values = values, subject = subject, domain = domain, company = company, text = concat(values, "\n") }
end

local function agent_answer(config, facts, h)
  local value = config.value
  local fmt = value.output_format
  local labels = is_array(value.labels) and value.labels or {}
  if fmt == "url" then
    return "https://" .. facts.domain .. "/" .. slug(config.key)
  elseif fmt == "number" or fmt == "numeric" then
    return h % 1000
  elseif fmt == "money" then
    return (h % 9000 + 1000) * 1000
  elseif fmt == "email" then
    return "info@" .. facts.domain
  elseif fmt == "grade" then
    return h % 5 + 1
  elseif fmt == "date" then
    return format("%04d-%02d-%02d", 1990 + h % 35, floor(h / 64) % 12 + 1, floor(h / 1024) % 28 + 1)
  elseif fmt == "phone" then
    return format("+1 555 01%02d", h % 100)
  elseif fmt == "label" or fmt == "select" then
    return labels[1] and labels[h % #labels + 1] or null
  elseif fmt == "multiselect" then
    local chosen = array()
    for i, label in ipairs(labels) do
      if floor(h / 2 ^ (i - 1)) % 2 == 1 or (i == #labels and #chosen == 0) then chosen[#chosen + 1] = label end
    end
    return chosen
  elseif fmt == "people" then
    return array{ person(facts.domain .. config.key, "Founder", facts.domain) }
  elseif fmt == "json" then
    local schema = value.output_schema
    local properties = is_object(schema) and is_object(schema.properties) and schema.properties or { summary = {} }
    local result = {}
    for name, property in pairs(properties) do
      local kind = is_object(property) and property.type
      local ph = hash(name .. "\0" .. facts.text)
      if kind == "integer" or kind == "number" then
        result[name] = kind == "integer" and 1950 + ph % 75 or ph % 1000 / 10
      elseif kind == "boolean" then
        result[name] = ph % 2 == 1
      elseif kind == "array" then
        result[name] = array()
      elseif kind == "object" then
        result[name] = {}
      else
        result[name] = format("%s of %s (%s)", name, facts.company, facts.domain)
      end
    end
    return result
  end
  return format("%s of %s (%s)", config.name, facts.company, facts.domain)
end

-- The plain answer in a cell of another column, or nil.
local function cell_answer(row, key)
  local input = row.inputs[key]
  if input ~= nil and input ~= null then return input end
  local cell = row.cells[key]
  if cell and cell.status == "done" and is_object(cell.value) then return cell.value.answer end
end

--- The value of a done cell: { answer, explanation, sources }.
local function answer_for(t, row, config)
  local facts = row_facts(t, row)
  local h = hash(config.key .. "\0" .. facts.text)
  local kind = config.kind
  local answer
  local sources = array{ "https://" .. facts.domain .. "/" }
  if kind == "agent" then
    answer = agent_answer(config, facts, h)
  elseif kind == "criterion_grade" then
    answer = hash(config.value.criterion .. "\0" .. facts.text) % 5 + 1
  elseif kind == "company_people_finder" then
    answer = array()
    local roles = config.value.roles
    for i = 1, math.min(#roles, config.value.max_results) do
      answer[i] = person(facts.domain .. "\0" .. roles[i], roles[i], facts.domain)
    end
    sources[2] = "https://www.linkedin.com/company/" .. slug(facts.company)
  elseif kind == "discovery_scores" then
    answer = {}
    for key, criterion in pairs(is_object(config.criteria) and config.criteria or {}) do
      answer[key] = hash(tostring(criterion.criterion) .. "\0" .. facts.text) % 5 + 1
    end
  elseif kind == "company_name" then
    answer = facts.company
  elseif kind == "company_website" then
    answer = "https://" .. facts.domain
  elseif kind == "company_profile" then
    answer = {
      name = facts.company, website = "https://" .. facts.domain,
      description = format("%s is a company at %s (mock profile).", facts.company, facts.domain),
      employees = (h % 50 + 1) * 20, founded = 1950 + h % 75,
    }
  elseif kind == "email_finder" then
    answer = "contact@" .. facts.domain
    for _, v in ipairs(facts.values) do
      local first, last = v:match("^(%a+)%s+(%a+)$")
      if first then
        answer = (first .. "." .. last):lower() .. "@" .. facts.domain
        break
      end
    end
  elseif kind == "phone_finder" then
    answer = format("+1 555 01%02d", h % 100)
  elseif kind == "reverse_email_lookup" then
    local email = cell_answer(row, config.email_column_key)
    if type(email) == "string" and email:find("@") then
      local who = email:match("^([^@]+)")
      answer = { email = email, linkedin_url = "https://www.linkedin.com/in/" .. slug(who) }
      sources = array{ "https://www.linkedin.com/in/" .. slug(who) }
    else
      answer = null
    end
  end
  return {
    answer = answer,
    explanation = format("Mock answer for '%s' from the row's inputs (%s).", config.name, facts.subject),
    sources = sources,
  }
end

-- The failure trigger: a row whose inputs hold the text "fail" (any case)
-- fails its output cells on their first run.
local function row_fails(row)
  for _, v in pairs(row.inputs) do
    if type(v) == "string" and v:lower():find("fail", 1, true) then return true end
  end
  return false
end

---------------------------------------------------------------------------
-- The state: tables, columns, rows, cells, run queues
---------------------------------------------------------------------------

local Extruct = {}
Extruct.__index = Extruct

--- opts: token (required), polls (tbl_demo's, default 3), cells_per_poll (10).
function M.new(opts)
  local self = setmetatable({
    token = assert(opts.token, "token"),
    default_polls = opts.polls or M.DEFAULT_POLLS,
    cells_per_poll = opts.cells_per_poll or M.DEFAULT_CELLS_PER_POLL,
  }, Extruct)
  self:reset()
  return self
end

function Extruct:next_id(prefix)
  self.counters[prefix] = (self.counters[prefix] or 0) + 1
  return format("%s_%04d", prefix, self.counters[prefix])
end

--- The fake clock's next time.
function Extruct:now()
  self.ticks = self.ticks + 1
  return timestamp(self.ticks)
end

local function is_output(col) return col.config.kind ~= "input" end

local function find_by_id(list, id)
  for i, item in ipairs(list) do
    if item.id == id then return item, i end
  end
end

local function column_by_key(t, key)
  for _, col in ipairs(t.columns) do
    if col.config.key == key then return col end
  end
end

function Extruct:new_table(fields)
  local t = {
    id = fields.id,
    created_at = fields.created_at or self:now(),
    name = fields.name,
    description = fields.description == nil and null or fields.description,
    tags = fields.tags == nil and null or fields.tags,
    kind = fields.kind or "generic",
    notify = fields.notify or false,
    settings = fields.settings or {},
    columns = {},
    rows = {},
    child_relationships = array(),
    parent_relationships = array(),
    clock = 0,        -- polls so far
    queue = {},       -- queued cells, in the order they complete: queue[head..tail]
    queue_head = 1,
    queue_tail = 0,
  }
  self.tables[t.id] = t
  return t
end

function Extruct:new_column(config, created_at)
  return { id = self:next_id("col"), created_at = created_at or self:now(), config = config }
end

function Extruct:new_row(t, data, metadata, created_at)
  local row = {
    id = self:next_id("row"), created_at = created_at or self:now(),
    parent_row_id = null, parent_data = null,
    metadata = metadata == nil and {} or metadata,
    inputs = data or {}, cells = {},
  }
  t.rows[#t.rows + 1] = row
  return row
end

-- A queued cell's status as the API shows it: the cells due at the next
-- poll are in progress, the later ones requested.
local function render_cell(t, cell)
  if cell.status == "queued" then
    return { status = cell.entry.due <= t.clock + 1 and "in_progress" or "requested", value = null }
  end
  return { status = cell.status, value = cell.value }
end

local function row_data(t, row)
  local data = {}
  for _, col in ipairs(t.columns) do
    local key = col.config.key
    if is_output(col) then
      local cell = row.cells[key]
      if cell then data[key] = render_cell(t, cell) end
    elseif row.inputs[key] ~= nil then
      data[key] = row.inputs[key]
    end
  end
  return data
end

local function missing_inputs(t, row)
  for _, col in ipairs(t.columns) do
    if not is_output(col) then
      local v = row.inputs[col.config.key]
      if v == nil or v == null or v == "" then return true end
    end
  end
  return false
end

local function render_row(t, row)
  return {
    id = row.id, created_at = row.created_at, is_missing_inputs = missing_inputs(t, row),
    parent_row_id = row.parent_row_id, data = row_data(t, row), metadata = row.metadata,
    parent_data = row.parent_data,
  }
end

local function row_running(row)
  for _, cell in pairs(row.cells) do
    if cell.status == "queued" then return true end
  end
  return false
end

local function render_columns(t)
  local columns = array()
  for i, col in ipairs(t.columns) do columns[i] = { id = col.id, created_at = col.created_at, config = col.config } end
  return columns
end

local function table_status(t)
  local inputs, outputs = 0, 0
  local completed, in_progress, failed = 0, 0, 0
  for _, col in ipairs(t.columns) do
    if is_output(col) then outputs = outputs + 1 else inputs = inputs + 1 end
  end
  for _, row in ipairs(t.rows) do
    for _, col in ipairs(t.columns) do
      local cell = is_output(col) and row.cells[col.config.key]
      if cell then
        if cell.status == "queued" then
          in_progress = in_progress + 1
        else
          completed = completed + 1
          if cell.status == "failed" then failed = failed + 1 end
        end
      end
    end
  end
  return {
    num_rows = #t.rows,
    num_output_columns = outputs,
    num_input_columns = inputs,
    num_columns = inputs + outputs,
    num_cells_completed = completed,
    num_cells_in_progress = in_progress,
    num_cells_failed = failed, -- not in the schema: clients must keep unknown fields
    run_status = in_progress > 0 and "running" or "idle",
  }
end

--- The table header with its status (TableHeaderWithStatusOutput).
local function render_table(t)
  return {
    id = t.id,
    created_at = t.created_at,
    name = t.name,
    description = t.description,
    tags = t.tags,
    kind = t.kind,
    columns = render_columns(t),
    owner = OWNER,
    child_relationships = t.child_relationships,
    parent_relationships = t.parent_relationships,
    status = table_status(t),
    -- not in the schema: clients must keep unknown fields
    x_future_field = { nested = array{ 1, 2.5, null, true, "s" } },
  }
end
M.render_table = render_table

--- Completes the queued cells that are due by the table's clock.
local function settle(t)
  local queue = t.queue
  while t.queue_head <= t.queue_tail do
    local entry = queue[t.queue_head]
    if not entry.cancelled then
      if entry.due > t.clock then break end
      local cell = entry.row.cells[entry.key]
      local col = column_by_key(t, entry.key)
      cell.attempts = cell.attempts + 1
      cell.entry = nil
      if cell.attempts == 1 and row_fails(entry.row) then
        cell.status, cell.value = "failed", null
      else
        cell.status, cell.value = "done", answer_for(t, entry.row, col.config)
      end
    end
    queue[t.queue_head] = nil
    t.queue_head = t.queue_head + 1
  end
  if t.queue_head > t.queue_tail then
    t.queue, t.queue_head, t.queue_tail = {}, 1, 0
  end
end

--- Moves the table's clock on by `polls` polls.
local function advance(t, polls)
  for _ = 1, polls do
    if t.queue_head > t.queue_tail then break end -- nothing queued: later polls change nothing
    t.clock = t.clock + 1
    settle(t)
  end
end

-- Drops a cell (and its place in the queue, if queued).
local function drop_cell(row, key)
  local cell = row.cells[key]
  if cell and cell.entry then cell.entry.cancelled = true end
  row.cells[key] = nil
end

--- Queues cells ({ row, key } pairs); returns how many. With `polls`, the
--- last of n cells is due after that many polls, cell i after
--- ceil(i * polls / n); otherwise cells_per_poll cells a poll, after those
--- already queued.
function Extruct:enqueue(t, targets, polls)
  local entries = {}
  for _, target in ipairs(targets) do
    local row, key = target[1], target[2]
    local old = row.cells[key]
    local entry = { row = row, key = key }
    row.cells[key] = { status = "queued", value = null, attempts = old and old.attempts or 0, entry = entry }
    entries[#entries + 1] = entry
  end
  local n = #entries
  if polls then
    for i, entry in ipairs(entries) do entry.due = t.clock + ceil(i * polls / n) end
    if n > 0 then t.tail_slot, t.tail_used = t.clock + polls, huge end
  else
    local slot, used = t.tail_slot, t.tail_used
    if not slot or slot <= t.clock then slot, used = t.clock + 1, 0 end
    for _, entry in ipairs(entries) do
      if used >= self.cells_per_poll then slot, used = slot + 1, 0 end
      used = used + 1
      entry.due = slot
    end
    t.tail_slot, t.tail_used = slot, used
  end
  for _, entry in ipairs(entries) do
    t.queue_tail = t.queue_tail + 1
    t.queue[t.queue_tail] = entry
  end
  settle(t) -- a schedule of 0 polls completes at once
  return n
end

--- The output cells of `rows` x `columns` that a run in `mode` queues.
local function run_targets(rows, columns, mode)
  local targets = {}
  for _, row in ipairs(rows) do
    for _, col in ipairs(columns) do
      local cell = row.cells[col.config.key]
      local status = cell and cell.status
      local wanted
      if mode == "new" then
        wanted = cell == nil
      elseif mode == "all" then
        wanted = status ~= "queued"
      elseif mode == "failed" then
        wanted = status == "failed"
      else -- stuck_failed_new: nothing gets stuck in the mock
        wanted = cell == nil or status == "failed"
      end
      if wanted then targets[#targets + 1] = { row, col.config.key } end
    end
  end
  return targets
end

local function output_columns(t)
  local list = {}
  for _, col in ipairs(t.columns) do
    if is_output(col) then list[#list + 1] = col end
  end
  return list
end

--- Starts a run; returns the run object the API answers.
function Extruct:start_run(t, mode, rows, columns, polls, requested_rows, requested_columns)
  local n = self:enqueue(t, run_targets(rows or t.rows, columns or output_columns(t), mode), polls)
  return {
    id = self:next_id("run"),
    created_at = self:now(),
    status = n > 0 and "created" or "done",
    rows = requested_rows or null,
    columns = requested_columns or null,
    num_requested_cells = n,
    mode = mode,
  }
end

---------------------------------------------------------------------------
-- Fixtures
---------------------------------------------------------------------------

-- One column of every config kind in the OpenAPI schema (ColumnOutputSchema).
local function template_configs()
  return {
    { kind = "input", name = "Company website", key = "input" },
    { kind = "agent", name = "Summary", key = "summary", value = {
      agent_type = "research_pro",
      prompt = "Summarise what {input} sells, in one sentence.",
      output_format = "json",
      labels = array(),
      output_schema = {
        type = "object",
        properties = { summary = { type = "string" }, founded = { type = "integer" } },
        required = array{ "summary" },
      },
      extra_dependencies = array{ "company_name" },
    } },
    { kind = "criterion_grade", name = "Enterprise fit", key = "enterprise_fit", value = {
      criterion = "Sells mainly to enterprises with more than 1000 employees.",
    } },
    { kind = "company_people_finder", name = "Decision makers", key = "decision_makers", value = {
      roles = array{ "CEO", "Head of Sales" },
      provider = "research_pro",
      max_results = 5,
    } },
    { kind = "discovery_scores", name = "Discovery scores", key = "discovery_scores", criteria = {
      is_ai_company = {
        key = "is_ai_company", name = "AI company",
        criterion = "The company builds products based on machine learning.",
      },
      sells_b2b = {
        key = "sells_b2b", name = "Sells B2B",
        criterion = "Most of the company's revenue comes from other businesses.",
      },
    } },
    { kind = "company_name", name = "Company name", key = "company_name" },
    { kind = "company_website", name = "Website", key = "company_website" },
    { kind = "company_profile", name = "Company profile", key = "company_profile" },
    { kind = "email_finder", name = "Work email", key = "work_email" },
    { kind = "phone_finder", name = "Phone", key = "phone" },
    { kind = "reverse_email_lookup", name = "LinkedIn from email", key = "linkedin_from_email",
      email_column_key = "work_email" },
  }
end

local COMPANIES = { "acme", "globex", "initech", "umbrella", "hooli", "stark", "wayne", "wonka", "tyrell",
                    "cyberdyne", "soylent", "aperture" }

local function fixture_website(i)
  local name = COMPANIES[(i - 1) % #COMPANIES + 1]
  local round = ceil(i / #COMPANIES)
  return format("https://%s%s.example", name, round > 1 and tostring(round) or "")
end

--- A table of the template's columns with `rows` rows whose run (every
--- output cell) goes idle after `polls` polls. fields: id, name, kind,
--- rows, polls, description, tags, created_at.
function Extruct:add_polled_table(fields)
  local created_at = fields.created_at or self:now()
  local t = self:new_table{
    id = fields.id, name = fields.name, kind = fields.kind, created_at = created_at,
    description = fields.description, tags = fields.tags,
  }
  for i, config in ipairs(template_configs()) do
    t.columns[i] = self:new_column(config, created_at)
  end
  for i = 1, fields.rows do
    self:new_row(t, { input = fixture_website(i) }, {}, created_at)
  end
  self:start_run(t, "all", nil, nil, fields.polls)
  return t
end

--- Restores the fixture tables and clears every counter.
function Extruct:reset()
  self.tables = {}
  self.counters = {}
  self.ticks = 0
  local demo = self:add_polled_table{
    id = "tbl_demo",
    name = "Démo — B2B companies",
    -- Characters a JSON encoder must escape, somewhere harmless.
    description = 'Companies to research.\nSay "hi" to C:\\extruct\\mock.\tThanks!',
    tags = array{ "demo", "café" },
    kind = "company", rows = M.DEFAULT_ROWS, polls = self.default_polls, created_at = FIXTURE_TIME,
  }
  self:add_polled_table{ id = "tbl_idle", name = "Idle table", kind = "generic", rows = 3, polls = 0,
                         created_at = FIXTURE_TIME }
  local people = self:add_polled_table{
    id = "tbl_people",
    name = "People — décideurs",
    description = "Decision makers found for the companies of tbl_demo.",
    tags = array{ "people" },
    kind = "people", rows = 10, polls = 0, created_at = FIXTURE_TIME,
  }
  demo.child_relationships[1] = { table_id = "tbl_people", relationship_type = "company_people" }
  people.parent_relationships[1] = { table_id = "tbl_demo", relationship_type = "company_people" }
  for i, row in ipairs(people.rows) do
    local parent = demo.rows[i]
    row.parent_row_id = parent.id
    row.parent_data = { input = parent.inputs.input }
  end
end

--- Advances table `id` by `polls` polls; its header, or nil when unknown.
function Extruct:advance(id, polls)
  local t = self.tables[id]
  if not t then return nil end
  advance(t, polls)
  return render_table(t)
end

---------------------------------------------------------------------------
-- Routes
---------------------------------------------------------------------------

local function table_not_found() return detail(404, "Table not found") end

--- Checks column configs for a table (keys unique, email columns known);
--- `existing` are the columns kept. Returns the configs or nil and a 422.
local function check_configs(list, loc, existing, errs, replaced)
  local configs = {}
  local keys = {}
  for _, col in ipairs(existing) do
    if col ~= replaced then keys[col.config.key] = true end
  end
  for i, v in ipairs(list) do
    local item_loc = is_array(list) and loc_of(loc, i - 1) or loc
    local config = check_config(v, item_loc, errs)
    if config then
      if keys[config.key] then
        add(errs, loc_of(item_loc, "key"), format("Value error, column key '%s' is already used in this table",
          config.key), "value_error")
      end
      keys[config.key] = true
      configs[#configs + 1] = { config = config, loc = item_loc }
    end
  end
  for _, item in ipairs(configs) do
    local ref = item.config.email_column_key
    if ref and not keys[ref] then
      add(errs, loc_of(item.loc, "email_column_key"),
        format("Value error, no column with key '%s' in this table", ref), "value_error")
    end
  end
  return configs
end

local function input_keys(t)
  local keys = {}
  for _, col in ipairs(t.columns) do
    if not is_output(col) then keys[#keys + 1] = col.config.key end
  end
  return keys
end

--- Checks the `data` of row inputs against the table's columns.
local function check_row_data(t, data, loc, errs)
  local names = {}
  for key in pairs(data) do names[#names + 1] = key end
  table.sort(names)
  for _, key in ipairs(names) do
    local col = column_by_key(t, key)
    if not col then
      local known = input_keys(t)
      add(errs, loc_of(loc, key), format("Value error, unknown column key '%s'; the table's input columns are: %s",
        key, #known > 0 and concat(known, ", ") or "(none)"), "value_error")
    elseif is_output(col) then
      add(errs, loc_of(loc, key), format("Value error, '%s' is an output column (%s): only input columns take values",
        key, col.config.kind), "value_error")
    end
  end
end

local ROW_FIELDS = { { "data", check.object }, { "metadata", check.nullable(check.object) } }
local ROW_UPDATE_FIELDS = { { "id", check.string }, { "data", check.object }, { "metadata", check.nullable(check.object) } }

local function check_rows_body(body, errs, fields)
  check_fields(body, array{ "body" }, {
    { "rows", function(v, loc)
      if not is_array(v) then return add(errs, loc, "Input should be a valid list", "list_type") end
      for i, item in ipairs(v) do check_fields(item, loc_of(loc, i - 1), fields, errs) end
    end, true },
    { "run", check.boolean },
  }, errs)
end

local function page_of(list, offset, limit)
  local page = array()
  for i = offset + 1, math.min(#list, offset + limit) do page[#page + 1] = list[i] end
  return page
end

local routes = {}

function routes.list_tables(self, _, _, params)
  local errs = {}
  local kind = query_enum(params, "kind", TABLE_KINDS, errs)
  query_enum(params, "scope", SCOPES, errs)
  local sort = query_enum(params, "sort", SORTS, errs) or "-created_at"
  local offset = query_integer(params, "offset", 0, 0, errs)
  local limit = query_integer(params, "limit", DEFAULT_LIMIT, 1, errs)
  if #errs > 0 then return invalid(errs) end
  if limit > M.LIST_LIMIT_MAX then
    return detail(400, format("limit must be at most %d", M.LIST_LIMIT_MAX))
  end
  local search = params.search and params.search:lower()
  local wanted_tags = params.tags or {}
  local found = {}
  for _, t in pairs(self.tables) do
    local ok = #t.parent_relationships == 0 -- root tables only
      and (kind == nil or t.kind == kind)
    if ok and search and search ~= "" then
      local text = (t.name .. "\n" .. (t.description ~= null and t.description or "")):lower()
      ok = text:find(search, 1, true) ~= nil
    end
    if ok then
      local have = set_of(t.tags ~= null and t.tags or {})
      for _, tag in ipairs(wanted_tags) do
        if not have[tag] then ok = false end
      end
    end
    if ok then found[#found + 1] = t end
  end
  local field, descending = sort:gsub("^%-", ""), sort:sub(1, 1) == "-"
  local function key_of(t)
    if field == "num_rows" then return #t.rows end
    return t[field]
  end
  table.sort(found, function(a, b)
    local ka, kb = key_of(a), key_of(b)
    if ka ~= kb then
      if descending then return ka > kb end
      return ka < kb
    end
    return a.id < b.id
  end)
  local headers = {}
  for i, t in ipairs(found) do headers[i] = render_table(t) end
  local total = #found
  return respond(200, page_of(headers, offset, limit), {
    ["x-extruct-pagination-total"] = tostring(total),
    ["x-extruct-pagination-total-pages"] = tostring(ceil(total / limit)),
    ["x-extruct-pagination-limit"] = tostring(limit),
    ["x-extruct-pagination-offset"] = tostring(offset),
    ["x-extruct-pagination-page"] = tostring(floor(offset / limit) + 1),
  })
end

local TABLE_FIELDS = {
  { "name", check.string, true },
  { "description", check.nullable(check.string) },
  { "tags", check.nullable(check.string_list) },
  { "kind", check.enum(TABLE_KINDS) },
  { "notify", check.boolean },
  { "settings", check.nullable(check.object) },
  { "column_configs", check.nullable(function(v, loc, errs)
    if not is_array(v) then add(errs, loc, "Input should be a valid list", "list_type") end
  end) },
}

function routes.create_table(self, request)
  local body, failure = read_body(request)
  if not body then return failure end
  local errs = {}
  check_fields(body, array{ "body" }, TABLE_FIELDS, errs)
  local configs = {}
  if #errs == 0 and is_array(body.column_configs) then
    configs = check_configs(body.column_configs, array{ "body", "column_configs" }, {}, errs)
  end
  if #errs > 0 then return invalid(errs) end
  local id
  repeat id = self:next_id("tbl") until not self.tables[id]
  local t = self:new_table{
    id = id, name = body.name, description = body.description, tags = body.tags,
    kind = body.kind, notify = body.notify, settings = body.settings,
  }
  for i, item in ipairs(configs) do t.columns[i] = self:new_column(item.config) end
  return respond(200, render_table(t))
end

function routes.get_table(_, request, t)
  if request.count_poll ~= false then advance(t, 1) end
  return respond(200, render_table(t))
end

function routes.update_table(_, request, t)
  local body, failure = read_body(request)
  if not body then return failure end
  local errs = {}
  check_fields(body, array{ "body" }, {
    { "name", check.string },
    { "description", check.nullable(check.string) },
    { "tags", check.nullable(check.string_list) },
    { "columns_order", check.string_list },
  }, errs)
  local order = body.columns_order
  if #errs == 0 and order then
    local seen, ok = {}, #order == #t.columns
    for _, id in ipairs(order) do
      if seen[id] or not find_by_id(t.columns, id) then ok = false end
      seen[id] = true
    end
    if not ok then
      add(errs, array{ "body", "columns_order" },
        "Value error, columns_order must list every column id of the table exactly once", "value_error")
    end
  end
  if #errs > 0 then return invalid(errs) end
  if body.name ~= nil then t.name = body.name end
  if body.description ~= nil then t.description = body.description end
  if body.tags ~= nil then t.tags = body.tags end
  if order then
    local columns = {}
    for i, id in ipairs(order) do columns[i] = find_by_id(t.columns, id) end
    t.columns = columns
  end
  return respond(200, render_table(t))
end

function routes.delete_table(self, _, t)
  local header = render_table(t)
  for _, row in ipairs(t.rows) do
    for key in pairs(row.cells) do drop_cell(row, key) end
  end
  self.tables[t.id] = nil
  for _, other in pairs(self.tables) do
    for _, list in ipairs({ other.child_relationships, other.parent_relationships }) do
      for i = #list, 1, -1 do
        if list[i].table_id == t.id then table.remove(list, i) end
      end
    end
  end
  return respond(200, header)
end

function routes.clone_table(self, _, t, params)
  local errs = {}
  local schema_only = query_boolean(params, "schema_only", errs)
  if #errs > 0 then return invalid(errs) end
  local id
  repeat id = self:next_id("tbl") until not self.tables[id]
  local copy = self:new_table{
    id = id, name = t.name .. " (copy)", description = deep_copy(t.description), tags = deep_copy(t.tags),
    kind = t.kind, notify = t.notify, settings = deep_copy(t.settings),
  }
  for i, col in ipairs(t.columns) do copy.columns[i] = self:new_column(deep_copy(col.config)) end
  if not schema_only then
    for _, row in ipairs(t.rows) do
      local new = self:new_row(copy, deep_copy(row.inputs), deep_copy(row.metadata))
      for key, cell in pairs(row.cells) do
        -- finished cells come along; queued ones stay with the original's run
        if cell.status ~= "queued" then
          new.cells[key] = { status = cell.status, value = deep_copy(cell.value), attempts = cell.attempts }
        end
      end
    end
  end
  return respond(200, render_table(copy))
end

function routes.get_data(_, request, t, params)
  local errs = {}
  local offset = query_integer(params, "offset", 0, 0, errs)
  local limit = query_integer(params, "limit", DEFAULT_LIMIT, 1, errs)
  if #errs > 0 then return invalid(errs) end
  if limit > M.DATA_LIMIT_MAX then
    return detail(400, format("limit must be at most %d", M.DATA_LIMIT_MAX))
  end
  if request.count_poll ~= false then advance(t, 1) end
  local answer = render_table(t)
  answer.rows = array()
  for i = offset + 1, math.min(#t.rows, offset + limit) do
    answer.rows[#answer.rows + 1] = render_row(t, t.rows[i])
  end
  answer.discovery_tasks = array()
  return respond(200, answer)
end

--- Runs rows in mode new, for `run: true` on add and update.
function Extruct:run_rows(t, rows)
  return self:start_run(t, "new", rows, nil, nil)
end

--- The checked body of an add or update of rows, or nil and the 422.
local function read_rows_body(request, t, fields)
  local body, failure = read_body(request)
  if not body then return nil, failure end
  local errs = {}
  check_rows_body(body, errs, fields)
  if #errs == 0 then
    for i, item in ipairs(body.rows) do
      check_row_data(t, item.data or {}, array{ "body", "rows", i - 1, "data" }, errs)
    end
  end
  if #errs > 0 then return nil, invalid(errs) end
  return body
end

function routes.add_rows(self, request, t)
  local body, failure = read_rows_body(request, t, ROW_FIELDS)
  if not body then return failure end
  local created = {}
  for i, item in ipairs(body.rows) do
    created[i] = self:new_row(t, item.data or {}, item.metadata)
  end
  if body.run then self:run_rows(t, created) end
  local answer = array()
  for i, row in ipairs(created) do answer[i] = render_row(t, row) end
  return respond(200, answer)
end

function routes.update_rows(self, request, t)
  local body, failure = read_rows_body(request, t, ROW_UPDATE_FIELDS)
  if not body then return failure end
  for _, item in ipairs(body.rows) do
    if item.id ~= nil and not find_by_id(t.rows, item.id) then return detail(404, "Row not found") end
  end
  local touched = {}
  for i, item in ipairs(body.rows) do
    local row = item.id and find_by_id(t.rows, item.id)
    if row then
      local changed = false
      for key, value in pairs(item.data or {}) do
        if json.encode(row.inputs[key]) ~= json.encode(value) then changed = true end
        row.inputs[key] = value
      end
      -- New inputs make the answers stale: the output cells start over.
      if changed then
        for key in pairs(row.cells) do drop_cell(row, key) end
      end
      if item.metadata ~= nil then row.metadata = item.metadata end
    else
      row = self:new_row(t, item.data or {}, item.metadata)
    end
    touched[i] = row
  end
  if body.run then self:run_rows(t, touched) end
  local answer = array()
  for i, row in ipairs(touched) do answer[i] = render_row(t, row) end
  return respond(200, answer)
end

function routes.delete_rows(_, request, t)
  local body, failure = read_body(request)
  if not body then return failure end
  local errs = {}
  check_fields(body, array{ "body" }, { { "rows", check.string_list, true } }, errs)
  if #errs > 0 then return invalid(errs) end
  for _, id in ipairs(body.rows) do
    if not find_by_id(t.rows, id) then return detail(404, "Row not found") end
  end
  local deleted, seen = array(), {}
  for _, id in ipairs(body.rows) do
    if not seen[id] then
      seen[id] = true
      local row, index = find_by_id(t.rows, id)
      for key in pairs(row.cells) do drop_cell(row, key) end
      table.remove(t.rows, index)
      deleted[#deleted + 1] = id
    end
  end
  return respond(200, deleted)
end

function routes.get_row(_, request, t, _, row_id)
  local row = find_by_id(t.rows, row_id)
  if not row then return detail(404, "Row not found") end
  if request.count_poll ~= false then advance(t, 1) end
  local answer = render_row(t, row)
  answer.is_missing_inputs = nil
  answer.status = row_running(row) and "running" or "idle"
  answer.columns = render_columns(t)
  answer.company_profile_id = null
  return respond(200, answer)
end

local function insert_after_checker(v, loc, errs)
  if type(v) ~= "boolean" and type(v) ~= "string" then
    add(errs, loc, "Input should be a valid boolean or a column id (string)", "union_type")
  end
end

function routes.add_columns(self, request, t)
  local body, failure = read_body(request)
  if not body then return failure end
  local errs = {}
  check_fields(body, array{ "body" }, {
    { "column_configs", function(v, loc)
      if not is_array(v) then add(errs, loc, "Input should be a valid list", "list_type") end
    end, true },
    { "insert_after", insert_after_checker },
  }, errs)
  local configs, position = {}, #t.columns
  if #errs == 0 then
    configs = check_configs(body.column_configs, array{ "body", "column_configs" }, t.columns, errs)
    local after = body.insert_after
    if after == false then
      position = 0
    elseif type(after) == "string" then
      local _, index = find_by_id(t.columns, after)
      if not index then
        add(errs, array{ "body", "insert_after" }, format("Value error, no column '%s' in this table", after),
          "value_error")
      end
      position = index
    end
  end
  if #errs > 0 then return invalid(errs) end
  local added = array()
  for i, item in ipairs(configs) do
    local col = self:new_column(item.config)
    table.insert(t.columns, position + i, col)
    added[i] = { id = col.id, created_at = col.created_at, config = col.config }
  end
  return respond(200, added)
end

function routes.update_column(_, request, t, _, column_id)
  local col = find_by_id(t.columns, column_id)
  if not col then return detail(404, "Column not found") end
  local body, failure = read_body(request)
  if not body then return failure end
  local errs = {}
  local configs = check_configs({ body }, array{ "body" }, t.columns, errs, col)
  if #errs > 0 then return invalid(errs) end
  local config = configs[1].config
  local old_key, was_output = col.config.key, is_output(col)
  col.config = config
  for _, row in ipairs(t.rows) do
    if was_output ~= is_output(col) then
      -- an input became an output or the other way round: its values go
      drop_cell(row, old_key)
      row.inputs[old_key] = nil
    elseif config.key ~= old_key then
      row.inputs[config.key], row.inputs[old_key] = row.inputs[old_key], nil
      local cell = row.cells[old_key]
      row.cells[config.key], row.cells[old_key] = cell, nil
      if cell and cell.entry then cell.entry.key = config.key end
    end
  end
  return respond(200, { id = col.id, created_at = col.created_at, config = col.config })
end

function routes.delete_column(_, _, t, _, column_id)
  local col, index = find_by_id(t.columns, column_id)
  if not col then return detail(404, "Column not found") end
  table.remove(t.columns, index)
  for _, row in ipairs(t.rows) do
    drop_cell(row, col.config.key)
    row.inputs[col.config.key] = nil
  end
  return respond(200, { id = col.id, created_at = col.created_at, config = col.config })
end

function routes.run_table(self, request, t)
  local body, failure = read_body(request, {})
  if not body then return failure end
  local errs = {}
  check_fields(body, array{ "body" }, {
    { "mode", check.enum(RUN_MODES) },
    { "rows", check.nullable(check.string_list) },
    { "columns", check.nullable(check.string_list) },
  }, errs)
  if #errs > 0 then return invalid(errs) end
  local rows, columns
  if is_array(body.rows) then
    rows = {}
    for i, id in ipairs(body.rows) do
      rows[i] = find_by_id(t.rows, id)
      if not rows[i] then return detail(404, "Row not found") end
    end
  end
  if is_array(body.columns) then
    columns = {}
    for i, id in ipairs(body.columns) do
      columns[i] = find_by_id(t.columns, id)
      if not columns[i] then return detail(404, "Column not found") end
      if not is_output(columns[i]) then
        return invalid{ { loc = array{ "body", "columns", i - 1 }, type = "value_error",
          msg = format("Value error, column '%s' is an input column: a run computes output columns", id) } }
      end
    end
  end
  local run = self:start_run(t, body.mode or "new", rows, columns, nil,
    is_array(body.rows) and body.rows or nil, is_array(body.columns) and body.columns or nil)
  return respond(200, run)
end

function routes.get_user()
  return respond(200, USER)
end

function routes.healthcheck()
  return respond(200, { status = "ok" })
end

-- path pattern (":table" and ":id" are parameters) -> method -> route
local ROUTES = {
  { { "v1", "healthcheck" }, { GET = "healthcheck" }, public = true },
  { { "v1", "user" }, { GET = "get_user" } },
  { { "v1", "tables" }, { GET = "list_tables", POST = "create_table" } },
  { { "v1", "tables", ":table" }, { GET = "get_table", PATCH = "update_table", DELETE = "delete_table" } },
  { { "v1", "tables", ":table", "data" }, { GET = "get_data" } },
  { { "v1", "tables", ":table", "clone" }, { POST = "clone_table" } },
  { { "v1", "tables", ":table", "run" }, { POST = "run_table" } },
  { { "v1", "tables", ":table", "rows" }, { POST = "add_rows", PATCH = "update_rows", DELETE = "delete_rows" } },
  { { "v1", "tables", ":table", "rows", ":id" }, { GET = "get_row" } },
  { { "v1", "tables", ":table", "columns" }, { POST = "add_columns" } },
  { { "v1", "tables", ":table", "columns", ":id" }, { PATCH = "update_column", DELETE = "delete_column" } },
}

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
      local name = route[2][request.method]
      if not name then
        return detail(405, "Method Not Allowed", { Allow = allowed_methods(route[2]) })
      end
      if not route.public and not self:authorized(request) then
        return detail(401, "Could not validate credentials", { ["WWW-Authenticate"] = "Bearer" })
      end
      local params, problem, param = M.parse_query(request.query or "", { tags = true })
      if not params then
        return invalid{ { loc = array{ "query", param }, type = "value_error",
                          msg = "Value error, " .. problem .. " (only 'tags' may repeat)" } }
      end
      local t
      if captured.table then
        t = self.tables[captured.table]
        if not t then return table_not_found() end
      end
      return routes[name](self, request, t, params, captured.id)
    end
  end
  return detail(404, "Not Found")
end

return M
