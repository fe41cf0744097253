-- Company search filters, the `filters` of search_companies and
-- similar_companies, checked before anything is sent: a key the API does
-- not know, a size that is not one of its buckets or a founding year that
-- is not a whole number would only come back as a 422. exclude.domains is
-- read as the API reads it (extruct.domains): each entry as its registered
-- domain, duplicates dropped, at most 1,000; what is sent is that list.
--
--   { include = { country = {...}, city = {...}, size = {...} },
--     exclude = { country = {...}, city = {...}, size = {...}, domains = {...} },
--     range = { founded = { min = 2015, max = 2024 } } }

local core = require("extruct.core")
local domains = require("extruct.domains")
local errors = require("extruct.errors")

local M = {}

--- The company size buckets the API knows, smallest first.
M.SIZES = { "1-10", "11-50", "51-200", "201-500", "501-1000", "1001-5000", "5001-10000", "10001+" }

local SIZE_SET = {}
for _, size in ipairs(M.SIZES) do SIZE_SET[size] = true end

local INCLUDE_KEYS = { "country", "city", "size" }
local EXCLUDE_KEYS = { "country", "city", "size", "domains" }
local SECTIONS = { include = INCLUDE_KEYS, exclude = EXCLUDE_KEYS, range = { "founded" } }
local SECTION_NAMES = { "include", "exclude", "range" }
local FOUNDED_KEYS = { "min", "max" }

local function set_of(list)
  local set = {}
  for _, item in ipairs(list) do set[item] = true end
  return set
end

-- The first key of t that is not in `allowed`, in a fixed order.
local function unknown_key(t, allowed)
  local known, found = set_of(allowed), nil
  for key in pairs(t) do
    if not known[key] and (found == nil or tostring(key) < tostring(found)) then found = key end
  end
  return found
end

local function unknown(where, key, allowed)
  return ("%s: unknown key '%s' (the keys are: %s)"):format(where, errors.show(key), table.concat(allowed, ", "))
end

local function is_year(v)
  return type(v) == "number" and v == math.floor(v) and v > -math.huge and v < math.huge
end

-- A list of strings (or one string) as a JSON array, or nil and why not.
local function string_list(value, where, check_item)
  if type(value) == "string" then value = { value } end
  if type(value) ~= "table" then
    return nil, ("%s must be a list of strings, got %s"):format(where, type(value))
  end
  local out, n = setmetatable({}, core.array_mt), 0
  for _ in pairs(value) do n = n + 1 end
  for i = 1, n do
    local item = value[i]
    if type(item) ~= "string" then
      return nil, ("%s must be a list of strings (keys 1..n), got %s at [%d]"):format(where, type(item), i)
    end
    if check_item then
      local why = check_item(item)
      if why then return nil, ("%s[%d]: %s"):format(where, i, why) end
    end
    out[i] = item
  end
  return out
end

local function size_problem(item)
  if SIZE_SET[item] then return nil end
  return ("'%s' is not a company size (the sizes are: %s)"):format(errors.show(item), table.concat(M.SIZES, ", "))
end

local function check_lists(section, where, keys)
  if type(section) ~= "table" then
    return nil, ("%s must be a table, got %s"):format(where, type(section))
  end
  local bad = unknown_key(section, keys)
  if bad ~= nil then return nil, unknown(where, bad, keys) end
  local out = {}
  for key, value in pairs(section) do
    local list, why = string_list(value, where .. "." .. key, key == "size" and size_problem or nil)
    if not list then return nil, why end
    if key == "domains" then
      local distinct
      distinct, why = domains.exclusion(list, where .. ".domains")
      if not distinct then return nil, why end
      list = setmetatable(distinct, core.array_mt)
    end
    out[key] = list
  end
  return out
end

local function check_range(range, where)
  if type(range) ~= "table" then
    return nil, ("%s must be a table, got %s"):format(where, type(range))
  end
  local bad = unknown_key(range, SECTIONS.range)
  if bad ~= nil then return nil, unknown(where, bad, SECTIONS.range) end
  local founded = range.founded
  if founded == nil then return {} end
  where = where .. ".founded"
  if type(founded) ~= "table" then
    return nil, ("%s must be a table { min = year, max = year }, got %s"):format(where, type(founded))
  end
  bad = unknown_key(founded, FOUNDED_KEYS)
  if bad ~= nil then return nil, unknown(where, bad, FOUNDED_KEYS) end
  for _, key in ipairs(FOUNDED_KEYS) do
    local year = founded[key]
    if year ~= nil and not is_year(year) then
      return nil, ("%s.%s must be a whole number (a year), got %s"):format(where, key,
        type(year) == "number" and tostring(year) or type(year))
    end
  end
  if founded.min and founded.max and founded.min > founded.max then
    return nil, ("%s: min (%g) is after max (%g)"):format(where, founded.min, founded.max)
  end
  return { founded = { min = founded.min, max = founded.max } }
end

--- Checks company search filters. Returns a copy ready to send (each list
--- a JSON array, a single string taken as a list of one, exclude.domains
--- as registered domains without duplicates), or nil and what is wrong,
--- naming the key: "filters.include.size[2]: '51-100' is not a company size
--- (the sizes are: 1-10, ...)", or more than 1,000 excluded domains. Never
--- raises.
---@param filters any
---@return table? filters the filters to send
---@return string? problem
function M.check(filters)
  if type(filters) ~= "table" then
    return nil, ("filters must be a table, got %s"):format(type(filters))
  end
  local bad = unknown_key(filters, SECTION_NAMES)
  if bad ~= nil then return nil, unknown("filters", bad, SECTION_NAMES) end
  local out = {}
  for _, name in ipairs(SECTION_NAMES) do
    local section = filters[name]
    if section ~= nil then
      local checked, why
      if name == "range" then
        checked, why = check_range(section, "filters.range")
      else
        checked, why = check_lists(section, "filters." .. name, SECTIONS[name])
      end
      if not checked then return nil, why end
      out[name] = checked
    end
  end
  return out
end

return M
