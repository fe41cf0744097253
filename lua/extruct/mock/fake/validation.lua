--- extruct.mock.fake.validation: how the offline Extruct checks requests,
--- with FastAPI's (pydantic's) words: 422 {"detail": [{loc, msg, type}]}.
--
-- A checker looks at one value and appends what is wrong with it to `errs`
-- (a list of {loc, msg, type}); the routes gather every problem of a
-- request before answering, as FastAPI does. The mock is stricter than the
-- real API where that catches a mistake offline (a field it does not know
-- is refused).

local json = require("extruct.mock.json")
local http = require("extruct.mock.http")

local M = {}

local null, array, is_array, is_object = json.null, json.array, json.is_array, json.is_object
local floor, huge = math.floor, math.huge
local format, concat = string.format, table.concat
local respond = http.respond

local function set_of(list)
  local set = {}
  for _, v in ipairs(list) do set[v] = true end
  return set
end
M.set_of = set_of

M.COLUMN_KINDS = {
  "input", "agent", "criterion_grade", "company_people_finder", "discovery_scores", "company_name",
  "company_website", "company_profile", "email_finder", "phone_finder", "reverse_email_lookup",
}
local COLUMN_KINDS = M.COLUMN_KINDS
local AGENT_TYPES = { "research", "research_pro", "research_reasoning", "llm", "linkedin" }
local OUTPUT_FORMATS = {
  "text", "url", "number", "email", "label", "json", "grade", "people", "numeric", "money", "date",
  "phone", "select", "multiselect",
}


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

function check.integer(min, max)
  return function(v, loc, errs)
    if not is_integer(v) then return add(errs, loc, "Input should be a valid integer", "int_type") end
    if min and v < min then
      add(errs, loc, "Input should be greater than or equal to " .. min, "greater_than_equal")
    elseif max and v > max then
      add(errs, loc, "Input should be less than or equal to " .. max, "less_than_equal")
    end
  end
end

--- The number of characters of UTF-8 text (pydantic counts characters, not bytes).
local function characters(s)
  return #s - select(2, s:gsub("[\128-\191]", ""))
end
M.characters = characters

function check.text(min, max, pattern)
  return function(v, loc, errs)
    if type(v) ~= "string" then return add(errs, loc, "Input should be a valid string", "string_type") end
    local length = characters(v)
    if length < min then
      add(errs, loc, format("String should have at least %d character%s", min, min == 1 and "" or "s"),
        "string_too_short")
    elseif max and length > max then
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
  local config = json.copy(v)
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
local function query_integer(params, name, default, min, errs, max)
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
  if max and n > max then
    add(errs, array{ "query", name }, "Input should be less than or equal to " .. max, "less_than_equal")
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

M.loc_of, M.add, M.invalid, M.quoted_choices, M.is_integer = loc_of, add, invalid, quoted_choices, is_integer
M.check, M.check_fields, M.check_config, M.read_body = check, check_fields, check_config, read_body
M.query_integer, M.query_boolean, M.query_enum = query_integer, query_boolean, query_enum

return M
