--- extruct.mock.fake.companies: company search, lookalikes and lookup over
--- a small made-up index of 24 companies (domains under .example).
--
--   GET /v1/companies/search?q=&filters=&offset=&limit=     semantic search
--   GET /v1/companies/{identifier}/similar?filters=&offset=&limit=
--   GET /v1/companies/{identifier}                          one profile
--
-- "Semantic" here is word overlap: a company ranks by how many words of the
-- query its profile holds, ties broken by a hash of the query, so every
-- query answers every company that passes the filters, in a fixed order.
-- Lookalikes rank by shared industry tags, country and size.

local json = require("extruct.mock.json")
local http = require("extruct.mock.http")
local validation = require("extruct.mock.fake.validation")
local answers = require("extruct.mock.fake.answers")

local M = {}

local null, array, is_array, is_object = json.null, json.array, json.is_array, json.is_object
local floor = math.floor
local format, concat = string.format, table.concat
local respond, detail = http.respond, http.detail
local check, check_fields, add, invalid = validation.check, validation.check_fields, validation.add, validation.invalid
local hash, slug, capitalize = answers.hash, answers.slug, answers.capitalize

M.DEFAULT_LIMIT = 20
M.LIMIT_MAX = 250

M.SIZES = { "1-10", "11-50", "51-200", "201-500", "501-1000", "1001-5000", "5001-10000", "10001+" }

-- name, domain, what it makes, for whom, industry tags, country, state or province, city, size, founded
local INDEX = {
  { "Acme", "acme.example", "industrial tools and hardware", "construction companies",
    { "manufacturing", "hardware", "construction" }, "United States", "California", "San Francisco", "201-500", 1949 },
  { "Globex", "globex.example", "logistics software", "freight forwarders and shippers",
    { "logistics", "saas", "software" }, "United States", "Texas", "Austin", "1001-5000", 1989 },
  { "Initech", "initech.example", "banking back-office software", "regional banks",
    { "fintech", "software", "banking" }, "United States", "Texas", "Dallas", "501-1000", 1996 },
  { "Umbrella", "umbrella.example", "clinical research and diagnostics", "hospitals and laboratories",
    { "healthcare", "biotech", "diagnostics" }, "United Kingdom", "England", "London", "10001+", 1972 },
  { "Hooli", "hooli.example", "cloud search and AI assistants", "large enterprises",
    { "ai", "cloud", "software", "search" }, "United States", "California", "Palo Alto", "5001-10000", 2004 },
  { "Stark", "stark.example", "energy storage and clean power systems", "utilities",
    { "energy", "hardware", "climate" }, "United States", "New York", "New York", "5001-10000", 1939 },
  { "Wayne", "wayne.example", "security systems and defence electronics", "governments and critical infrastructure",
    { "security", "hardware", "defence" }, "United States", "New Jersey", "Newark", "10001+", 1910 },
  { "Wonka", "wonka.example", "confectionery and food manufacturing", "retailers",
    { "food", "consumer", "manufacturing" }, "United Kingdom", "England", "Manchester", "1001-5000", 1964 },
  { "Tyrell", "tyrell.example", "robotics and synthetic biology", "manufacturers",
    { "robotics", "ai", "biotech" }, "Japan", "Tokyo", "Tokyo", "1001-5000", 1982 },
  { "Cyberdyne", "cyberdyne.example", "autonomous systems and AI chips", "defence and industry",
    { "ai", "semiconductors", "robotics" }, "United States", "California", "Sunnyvale", "501-1000", 1984 },
  { "Soylent", "soylent.example", "plant-based nutrition", "consumers",
    { "food", "consumer", "health" }, "Netherlands", "North Holland", "Amsterdam", "51-200", 2013 },
  { "Aperture", "aperture.example", "lab automation and test equipment", "research labs",
    { "science", "hardware", "automation" }, "Canada", "Ontario", "Toronto", "201-500", 1998 },
  { "Nordwind", "nordwind.example", "fleet telematics", "trucking fleets",
    { "logistics", "iot", "saas" }, "Germany", "Hamburg", "Hamburg", "51-200", 2016 },
  { "Kleio", "kleio.example", "AI contract review", "law firms and in-house legal teams",
    { "ai", "legaltech", "saas" }, "France", "Île-de-France", "Paris", "11-50", 2020 },
  { "Lumen Ledger", "lumenledger.example", "treasury automation software", "finance teams of mid-market companies",
    { "fintech", "saas", "b2b" }, "United Kingdom", "England", "London", "51-200", 2018 },
  { "Fjordpay", "fjordpay.example", "payment processing", "online marketplaces",
    { "fintech", "payments" }, "Sweden", "Stockholm", "Stockholm", "201-500", 2015 },
  { "Cargonaut", "cargonaut.example", "a procurement marketplace", "logistics procurement teams",
    { "logistics", "procurement", "marketplace" }, "Netherlands", "South Holland", "Rotterdam", "11-50", 2021 },
  { "Helio Grid", "heliogrid.example", "solar asset management software", "solar park operators",
    { "energy", "climate", "saas" }, "Germany", "Bavaria", "Munich", "51-200", 2017 },
  { "Medisync", "medisync.example", "scheduling software", "clinics",
    { "healthcare", "saas" }, "Canada", "British Columbia", "Vancouver", "11-50", 2019 },
  { "Quantaloop", "quantaloop.example", "LLM evaluation and observability", "AI engineering teams",
    { "ai", "developer tools", "saas" }, "United States", "New York", "New York", "11-50", 2022 },
  { "Pixelforge", "pixelforge.example", "game engine tooling", "game studios",
    { "gaming", "developer tools", "software" }, "Sweden", "Västra Götaland", "Gothenburg", "51-200", 2012 },
  { "Terra Harvest", "terraharvest.example", "precision agriculture sensors", "farms",
    { "agriculture", "iot", "hardware" }, "France", "Occitanie", "Toulouse", "51-200", 2014 },
  { "Brightdesk", "brightdesk.example", "customer support automation", "support teams",
    { "ai", "saas", "customer support" }, "Germany", "Berlin", "Berlin", "201-500", 2016 },
  { "Atlas Freight", "atlasfreight.example", "freight brokerage", "shippers",
    { "logistics", "freight" }, "United States", "Illinois", "Chicago", "1-10", 2023 },
}

--- A UUID-shaped id made from a text (the real ids are UUIDs).
local function uuid_of(text)
  local a, b, c, d = hash("1" .. text), hash("2" .. text), hash("3" .. text), hash("4" .. text)
  return format("%08x-%04x-4%03x-%x%03x-%04x%08x", a, b % 65536, floor(b / 65536) % 4096, 8 + c % 4,
    floor(c / 4) % 4096, floor(c / 16384) % 65536, d)
end
M.uuid_of = uuid_of

local TIERS = { { 80, "top", "Top authority" }, { 50, "high", "High authority" }, { 20, "medium", "Medium authority" },
                { 0, "low", "Low authority" } }

local function profile_of(entry, position)
  local name, domain, what, who, tags, country, region, city, size, founded =
    entry[1], entry[2], entry[3], entry[4], entry[5], entry[6], entry[7], entry[8], entry[9], entry[10]
  local short = format("%s makes %s for %s.", name, what, who)
  local score = hash("authority" .. domain) % 100
  local tier
  for _, t in ipairs(TIERS) do
    if score >= t[1] then tier = t break end
  end
  return {
    id = uuid_of(domain),
    domain = domain,
    name = name,
    short_description = short,
    full_description = format("%s Founded in %d and based in %s, %s, it has %s employees. (A made-up company of "
      .. "the mock Extruct server.)", short, founded, city, country, size),
    products_services = capitalize(what),
    use_cases = format("%s use %s for %s.", capitalize(who), name, what),
    target_audience = capitalize(who),
    other_considerations = "Made up for offline development: not a real company.",
    business_types = array{ (tags[1] == "food" or tags[2] == "consumer") and "B2C" or "B2B" },
    target_markets = array{ country },
    industry_tags = array(json.copy(tags)),
    founding_year = founded,
    employee_count = size,
    hq_country = country,
    hq_state_province = region,
    hq_city = city,
    hq_full_address = format("%d Mock Street, %s, %s", position * 7, city, country),
    social_profiles = { linkedin = "https://www.linkedin.com/company/" .. slug(name) },
    website_authority = { score = score, percentile = score, tier = tier[2], tier_label = tier[3] },
  }
end

local PROFILES = {}
for i, entry in ipairs(INDEX) do PROFILES[i] = profile_of(entry, i) end

-- The lower-case text a search looks in.
local function searchable(profile)
  return concat({ profile.name, profile.domain, profile.full_description, profile.use_cases,
                  concat(profile.industry_tags, " ") }, "\n"):lower()
end

--- The profile a domain, URL or id names, or nil.
local function find_company(identifier)
  local text = identifier:lower():gsub("^%a[%w+.-]*://", ""):gsub("[/?#].*$", ""):gsub("^www%.", "")
  for _, profile in ipairs(PROFILES) do
    if profile.domain == text or profile.id == identifier:lower() then return profile end
  end
end
M.find_company = find_company

--- The profile of the company at `domain` (a bare domain), or nil.
function M.profile_at(domain)
  for _, profile in ipairs(PROFILES) do
    if profile.domain == domain then return profile end
  end
end

---------------------------------------------------------------------------
-- Filters: {"include": {...}, "exclude": {...}, "range": {"founded": {...}}}
---------------------------------------------------------------------------

local function size_list(v, loc, errs)
  if not is_array(v) then return add(errs, loc, "Input should be a valid list", "list_type") end
  for i, item in ipairs(v) do check.enum(M.SIZES)(item, validation.loc_of(loc, i - 1), errs) end
end

local function object_of(fields)
  return check.nullable(function(v, loc, errs) check_fields(v, loc, fields, errs) end)
end

local INCLUDE_FIELDS = {
  { "country", check.nullable(check.string_list) }, { "city", check.nullable(check.string_list) },
  { "size", check.nullable(size_list) },
}
local EXCLUDE_FIELDS = {
  { "country", check.nullable(check.string_list) }, { "city", check.nullable(check.string_list) },
  { "size", check.nullable(size_list) }, { "domains", check.nullable(check.string_list) },
}
local FILTER_FIELDS = {
  { "include", object_of(INCLUDE_FIELDS) },
  { "exclude", object_of(EXCLUDE_FIELDS) },
  { "range", object_of{ { "founded", object_of{ { "min", check.integer() }, { "max", check.integer() } } } } },
}

--- The filters of the `filters` query parameter (a JSON object sent as a
--- string): the decoded object (or null when absent); problems go to errs.
local function read_filters(params, errs)
  local text = params.filters
  if text == nil or text == "" then return null end
  local loc = array{ "query", "filters" }
  local value, message = json.decode(text)
  if value == nil then
    add(errs, loc, "Invalid JSON: " .. message, "json_invalid")
    return null
  end
  check_fields(value, loc, FILTER_FIELDS, errs)
  return value
end

local function lower_set(list)
  local set = {}
  for _, item in ipairs(is_array(list) and list or {}) do set[item:lower()] = true end
  return set
end

--- Whether a profile passes the filters.
local function passes(profile, filters)
  if not is_object(filters) then return true end
  local include = is_object(filters.include) and filters.include or {}
  local exclude = is_object(filters.exclude) and filters.exclude or {}
  local facts = { country = profile.hq_country:lower(), city = profile.hq_city:lower(),
                  size = profile.employee_count:lower(), domains = profile.domain }
  for _, key in ipairs({ "country", "city", "size" }) do
    if is_array(include[key]) and #include[key] > 0 and not lower_set(include[key])[facts[key]] then return false end
  end
  for _, key in ipairs({ "country", "city", "size", "domains" }) do
    if lower_set(exclude[key])[facts[key]] then return false end
  end
  local founded = is_object(filters.range) and is_object(filters.range.founded) and filters.range.founded
  if founded then
    if type(founded.min) == "number" and profile.founding_year < founded.min then return false end
    if type(founded.max) == "number" and profile.founding_year > founded.max then return false end
  end
  return true
end

---------------------------------------------------------------------------
-- Routes
---------------------------------------------------------------------------

-- offset and limit of a search, problems to errs
local function read_page(params, errs)
  local offset = validation.query_integer(params, "offset", 0, 0, errs)
  local limit = validation.query_integer(params, "limit", M.DEFAULT_LIMIT, 1, errs, M.LIMIT_MAX)
  return offset, limit
end

local STOP_WORDS = validation.set_of{ "a", "an", "and", "for", "in", "of", "on", "or", "the", "to", "with", "that" }

-- A ranked list of { profile, score } sorted by score, then by a hash of `seed`.
local function ranked(list, seed)
  table.sort(list, function(a, b)
    if a[2] ~= b[2] then return a[2] > b[2] end
    return hash(seed .. "\0" .. a[1].domain) < hash(seed .. "\0" .. b[1].domain)
  end)
  return list
end

local function page_of_results(list, offset, limit)
  local results = array()
  for i = offset + 1, math.min(#list, offset + limit) do
    local result = json.copy(list[i][1])
    result.relevance_score = list[i][2]
    results[#results + 1] = result
  end
  return results
end

local function query_words(q)
  local words = {}
  for word in q:lower():gmatch("[%w\128-\255]+") do
    if not STOP_WORDS[word] then words[#words + 1] = word end
  end
  return words
end

-- The share (0 to 100) of the query's words found in a profile.
local function score_of(profile, words)
  local text, matched = searchable(profile), 0
  for _, word in ipairs(words) do
    -- a word of the profile that starts with the query's word
    if text:find("%f[%w\128-\255]" .. word) then matched = matched + 1 end
  end
  return #words > 0 and floor(100 * matched / #words) or 0
end

--- The profiles that hold at least one word of `q`, best first.
function M.matching(q)
  local words, found = query_words(q), {}
  for _, profile in ipairs(PROFILES) do
    local score = score_of(profile, words)
    if score > 0 then found[#found + 1] = { profile, score } end
  end
  local list = {}
  for i, item in ipairs(ranked(found, q)) do list[i] = item[1] end
  return list
end

local function search(_, _, params)
  local errs = {}
  local q = params.q
  if q == nil then
    add(errs, array{ "query", "q" }, "Field required", "missing")
  elseif q:find("^%s*$") then
    add(errs, array{ "query", "q" }, "String should have at least 1 character", "string_too_short")
  end
  local offset, limit = read_page(params, errs)
  local filters = read_filters(params, errs)
  if #errs > 0 then return invalid(errs) end
  local words, found = query_words(q), {}
  for _, profile in ipairs(PROFILES) do
    if passes(profile, filters) then found[#found + 1] = { profile, score_of(profile, words) } end
  end
  return respond(200, {
    results = page_of_results(ranked(found, q), offset, limit),
    request = { offset = offset, limit = limit, query = q, filters = filters },
  })
end

local function company_not_found() return detail(404, "Company not found") end

local function similar(_, _, params, captured)
  local errs = {}
  local offset, limit = read_page(params, errs)
  local filters = read_filters(params, errs)
  if #errs > 0 then return invalid(errs) end
  local reference = find_company(captured.identifier)
  if not reference then return company_not_found() end
  local tags = lower_set(reference.industry_tags)
  local found = {}
  for _, profile in ipairs(PROFILES) do
    if profile ~= reference and passes(profile, filters) then
      local score = 0
      for _, tag in ipairs(profile.industry_tags) do
        if tags[tag] then score = score + 30 end
      end
      if profile.hq_country == reference.hq_country then score = score + 10 end
      if profile.employee_count == reference.employee_count then score = score + 5 end
      found[#found + 1] = { profile, math.min(score, 99) }
    end
  end
  return respond(200, {
    results = page_of_results(ranked(found, reference.domain), offset, limit),
    request = { offset = offset, limit = limit, filters = filters, reference_company_id = reference.id },
    reference_company = reference,
  })
end

local function lookup(_, _, _, captured)
  local profile = find_company(captured.identifier)
  if not profile then return company_not_found() end
  return respond(200, profile)
end

-- "search" comes first: it is not a company identifier
M.ROUTES = {
  { { "v1", "companies", "search" }, { GET = search } },
  { { "v1", "companies", ":identifier", "similar" }, { GET = similar } },
  { { "v1", "companies", ":identifier" }, { GET = lookup } },
}

return M
