--- extruct.mock.fake.answers: the made-up answers of the offline Extruct.
--
-- Every answer is a deterministic function of its inputs (a row's input
-- values and the column's config), so two servers given the same requests
-- answer the same JSON. Nothing here is random and nothing looks anything
-- up.

local json = require("extruct.mock.json")

local M = {}

local null, array, is_array, is_object = json.null, json.array, json.is_array, json.is_object
local floor = math.floor
local format, concat = string.format, table.concat

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

M.hash, M.slug, M.capitalize, M.person = hash, slug, capitalize, person
M.answer_for, M.row_fails = answer_for, row_fails

return M
