--- extruct.mock.fake.companies: company search, lookalikes and lookup of
--- the offline Extruct, over an index that knows any company.
--
--   POST /v1/companies/search                 {q, filters, pagination: {offset, limit}}
--   GET  /v1/companies/search?q=&filters=&offset=&limit=          (the deprecated form)
--   POST /v1/companies/{identifier}/similar   {filters, pagination}
--   GET  /v1/companies/{identifier}/similar?filters=&offset=&limit=  (deprecated)
--   GET  /v1/companies/{identifier}           one profile
--
-- The index: 24 hand-written companies (at .example domains) are the
-- well-known ones; any other well-formed domain is a company made up from
-- it, the same one for every spelling of it (extruct.domains reads
-- `https://www.Stripe.com/about` as `stripe.com`), with a profile that is a
-- function of the domain alone. A search also finds made-up companies whose
-- domains carry the query's words, enough to show the plans' caps: every
-- result holds at least one word of the query, none is padded in with a
-- relevance of 0. "Semantic" here is word overlap: a company ranks by the
-- share of the query's words its profile holds, ties broken by a hash of
-- the query, so the order is the same every time. Lookalikes rank by shared
-- industry tags, country and size.

local json = require("extruct.mock.json")
local http = require("extruct.mock.http")
local validation = require("extruct.mock.fake.validation")
local answers = require("extruct.mock.fake.answers")
local domains = require("extruct.domains")

local M = {}

local null, array, is_array, is_object = json.null, json.array, json.is_array, json.is_object
local floor, min = math.floor, math.min
local format, concat = string.format, table.concat
local respond, detail = http.respond, http.detail
local check, check_fields, add, invalid = validation.check, validation.check_fields, validation.add, validation.invalid
local loc_of = validation.loc_of
local hash, slug, capitalize = answers.hash, answers.slug, answers.capitalize

M.DEFAULT_LIMIT = 20
M.LIMIT_MAX = 250
-- The results one query reaches on each plan (Extruct's docs: 2,000 on the
-- paid plans, 25 on the free one), and the made-up companies a query or a
-- seed finds, a few more than the largest cap so that the cap shows.
M.QUERY_CAPS = { free = 25, starter = 2000, pro = 2000 }
M.MADE_UP_MATCHES = 2400

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

-- What a made-up company does: the industry a word of its domain names,
-- else one picked by a hash of the domain. word, what it makes, for whom, tags.
local INDUSTRIES = {
  { "fintech", "payment and treasury software", "finance teams", { "fintech", "payments", "software" } },
  { "logistics", "freight and fleet software", "shippers and carriers", { "logistics", "saas", "software" } },
  { "health", "clinical software and diagnostics", "clinics and hospitals", { "healthcare", "software" } },
  { "ai", "AI assistants and automation", "enterprise teams", { "ai", "software", "automation" } },
  { "energy", "clean energy systems", "utilities", { "energy", "climate", "hardware" } },
  { "retail", "e-commerce tools", "online shops", { "ecommerce", "retail", "saas" } },
  { "security", "security software", "IT teams", { "security", "software" } },
  { "food", "food products", "retailers and consumers", { "food", "consumer" } },
  { "robotics", "robots and automation hardware", "manufacturers", { "robotics", "hardware", "automation" } },
  { "legal", "legal software", "law firms", { "legaltech", "saas" } },
  { "education", "learning software", "schools and learners", { "edtech", "software" } },
  { "marketing", "marketing software", "marketing teams", { "marketing", "saas", "b2b" } },
  { "construction", "construction tools", "builders", { "construction", "hardware", "manufacturing" } },
  { "travel", "travel booking", "travellers", { "travel", "consumer", "marketplace" } },
  { "gaming", "games and game tools", "players and studios", { "gaming", "software" } },
  { "agriculture", "farm technology", "farms", { "agriculture", "iot", "hardware" } },
}
local INDUSTRY_BY_WORD = {}
for _, industry in ipairs(INDUSTRIES) do
  INDUSTRY_BY_WORD[industry[1]] = INDUSTRY_BY_WORD[industry[1]] or industry
  for _, tag in ipairs(industry[4]) do INDUSTRY_BY_WORD[tag] = INDUSTRY_BY_WORD[tag] or industry end
end

local PLACES = {
  { "United States", "California", "San Francisco" }, { "United States", "New York", "New York" },
  { "United States", "Texas", "Austin" }, { "United Kingdom", "England", "London" },
  { "Germany", "Berlin", "Berlin" }, { "France", "Île-de-France", "Paris" },
  { "Netherlands", "North Holland", "Amsterdam" }, { "Canada", "Ontario", "Toronto" },
  { "Sweden", "Stockholm", "Stockholm" }, { "Australia", "New South Wales", "Sydney" },
  { "India", "Karnataka", "Bengaluru" }, { "Brazil", "São Paulo", "São Paulo" },
}

-- The made-up companies' name parts: tail i is NAME_STARTS x NAME_ENDS, then a round number.
local NAME_STARTS = { "nord", "blue", "vertex", "quanta", "lumen", "cargo", "atlas", "pixel", "terra", "helio",
                      "nimbus", "orbit", "kestrel", "juniper", "cobalt", "meridian" }
local NAME_ENDS = { "ly", "works", "labs", "flow", "stack", "ware", "hub", "logic", "nest", "scale", "grid", "path" }

-- Two whole numbers below 2^32 mixed into a third, exactly on every Lua
-- (doubles or integers, nothing past 2^53).
local function mix(a, b)
  return (a % 1048573 * 4093 + b % 4294967291 + floor(b / 1048576) * 977) % 4294967296
end

--- A UUID-shaped id made from a text (the real ids are UUIDs).
local function uuid_of(text)
  local a, b, c, d = hash("1" .. text), hash("2" .. text), hash("3" .. text), hash("4" .. text)
  return format("%08x-%04x-4%03x-%x%03x-%04x%08x", a, b % 65536, floor(b / 65536) % 4096, 8 + c % 4,
    floor(c / 4) % 4096, floor(c / 16384) % 65536, d)
end
M.uuid_of = uuid_of

local TIERS = { { 80, "top", "Top authority" }, { 50, "high", "High authority" }, { 20, "medium", "Medium authority" },
                { 0, "low", "Low authority" } }

---------------------------------------------------------------------------
-- Companies: an entry (the facts above, cheap to make and to score) and
-- the profile the API shows, made from it when answered
---------------------------------------------------------------------------

local FIXTURES, FIXTURE_IDS = {}, {}  -- domain -> entry; id -> domain
for i, entry in ipairs(INDEX) do
  entry.position, entry.well_known, entry.h = i, true, hash(entry[2])
  FIXTURES[entry[2]] = entry
  FIXTURE_IDS[uuid_of(entry[2])] = entry[2]
end
-- id -> domain of the made-up companies answered so far (so an id the mock
-- gave out can be looked up), forgotten past MAX_MADE_UP_IDS
local made_up_ids, made_up_count = {}, 0
local MAX_MADE_UP_IDS = 200000

-- The words of a registered domain's name: "atlas-freight.co.uk" -> atlas, freight.
local function domain_words(domain)
  local words = {}
  for word in domain:match("^[^.]+"):gmatch("[a-z0-9]+") do words[#words + 1] = word end
  return words
end

--- The entry of the company at `domain` (a registered domain): a fixture,
--- or one made up from the domain.
local function entry_at(domain)
  local fixture = FIXTURES[domain]
  if fixture then return fixture end
  local words = domain_words(domain)
  local h = hash(domain)
  local industry
  for _, word in ipairs(words) do
    industry = industry or INDUSTRY_BY_WORD[word]
  end
  industry = industry or INDUSTRIES[h % #INDUSTRIES + 1]
  local place = PLACES[floor(h / 16) % #PLACES + 1]
  local names = {}
  for i, word in ipairs(words) do names[i] = capitalize(word) end
  return { concat(names, " "), domain, industry[2], industry[3], industry[4], place[1], place[2], place[3],
           M.SIZES[floor(h / 256) % #M.SIZES + 1], 1950 + floor(h / 4096) % 74, position = h % 997 + 1, h = h }
end

-- The lower-case text a search looks in.
local function searchable(entry)
  if not entry.text then
    entry.text = concat({ entry[1], entry[2], entry[3], entry[4], concat(entry[5], " "), entry[6], entry[7],
                          entry[8], tostring(entry[10]) }, "\n"):lower()
  end
  return entry.text
end

--- The profile the API answers for an entry.
local function profile_of(entry)
  local name, domain, what, who, tags, country, region, city, size, founded =
    entry[1], entry[2], entry[3], entry[4], entry[5], entry[6], entry[7], entry[8], entry[9], entry[10]
  local id = uuid_of(domain)
  if not entry.well_known and made_up_ids[id] == nil then
    if made_up_count >= MAX_MADE_UP_IDS then made_up_ids, made_up_count = {}, 0 end
    made_up_ids[id], made_up_count = domain, made_up_count + 1
  end
  local short = format("%s makes %s for %s.", name, what, who)
  local score = hash("authority" .. domain) % 100
  local tier
  for _, t in ipairs(TIERS) do
    if score >= t[1] then tier = t break end
  end
  return {
    id = id,
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
    hq_full_address = format("%d Mock Street, %s, %s", entry.position * 7, city, country),
    social_profiles = { linkedin = "https://www.linkedin.com/company/" .. slug(name) },
    website_authority = { score = score, percentile = score, tier = tier[2], tier_label = tier[3] },
  }
end

-- The entry an identifier names (a domain, a URL, or the id of a company
-- answered before), or nil. Domains under the reserved `.invalid` are
-- never in the index: a client's way to see a 404.
local function find_entry(identifier)
  local id = identifier:lower()
  local domain = FIXTURE_IDS[id] or made_up_ids[id]
  if not domain then
    domain = domains.registered(identifier)
    if not domain or domain:find("%.invalid$") then return nil end
  end
  return entry_at(domain)
end

--- The profile a domain, URL or id names, or nil.
function M.find_company(identifier)
  local entry = find_entry(identifier)
  return entry and profile_of(entry)
end

---------------------------------------------------------------------------
-- Filters: {"include": {...}, "exclude": {...}, "range": {"founded": {...}}}
---------------------------------------------------------------------------

local function size_list(v, loc, errs)
  if not is_array(v) then return add(errs, loc, "Input should be a valid list", "list_type") end
  for i, item in ipairs(v) do check.enum(M.SIZES)(item, loc_of(loc, i - 1), errs) end
end

--- exclude.domains: domains or URLs, at most 1,000 once each is read as
--- its registered domain.
local function domain_list(v, loc, errs)
  if not is_array(v) then return add(errs, loc, "Input should be a valid list", "list_type") end
  local seen, distinct, bad = {}, 0, false
  for i, item in ipairs(v) do
    if type(item) ~= "string" then
      bad = true
      add(errs, loc_of(loc, i - 1), "Input should be a valid string", "string_type")
    else
      local domain, why = domains.registered(item)
      if not domain then
        bad = true
        add(errs, loc_of(loc, i - 1), format("Value error, '%s' is not a domain or URL: %s", item:sub(1, 100), why),
          "value_error")
      elseif not seen[domain] then
        seen[domain], distinct = true, distinct + 1
      end
    end
  end
  if not bad and distinct > domains.MAX_EXCLUDED then
    add(errs, loc, format("Value error, %d distinct domains once each is read as its registered domain; at most %d"
      .. " are allowed", distinct, domains.MAX_EXCLUDED), "value_error")
  end
end
M.domain_list = domain_list

local function object_of(fields)
  return check.nullable(function(v, loc, errs) check_fields(v, loc, fields, errs) end)
end

local INCLUDE_FIELDS = {
  { "country", check.nullable(check.string_list) }, { "city", check.nullable(check.string_list) },
  { "size", check.nullable(size_list) },
}
local EXCLUDE_FIELDS = {
  { "country", check.nullable(check.string_list) }, { "city", check.nullable(check.string_list) },
  { "size", check.nullable(size_list) }, { "domains", check.nullable(domain_list) },
}
local FILTER_FIELDS = {
  { "include", object_of(INCLUDE_FIELDS) },
  { "exclude", object_of(EXCLUDE_FIELDS) },
  { "range", object_of{ { "founded", object_of{ { "min", check.integer() }, { "max", check.integer() } } } } },
}

local function check_filters(v, loc, errs)
  check_fields(v, loc, FILTER_FIELDS, errs)
end

--- The filters as the search reads them: exclude.domains as registered
--- domains, duplicates dropped (valid filters only).
local function normalized(filters)
  if not (is_object(filters) and is_object(filters.exclude) and is_array(filters.exclude.domains)) then
    return filters
  end
  local copy = json.copy(filters)
  copy.exclude.domains = array(assert(domains.exclusion(filters.exclude.domains, "exclude.domains")))
  return copy
end

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
  check_filters(value, loc, errs)
  return value
end

-- The lower-cased items of a list (a JSON array, or an entry's tags), as a set.
local function lower_set(list)
  local set = {}
  for _, item in ipairs(type(list) == "table" and list or {}) do
    if type(item) == "string" then set[item:lower()] = true end
  end
  return set
end

--- A test of an entry against the filters (normalized).
local function filter_of(filters)
  if not is_object(filters) then return function() return true end end
  local include = is_object(filters.include) and filters.include or {}
  local exclude = is_object(filters.exclude) and filters.exclude or {}
  local wanted, unwanted = {}, {}
  for _, key in ipairs({ "country", "city", "size" }) do
    if is_array(include[key]) and #include[key] > 0 then wanted[key] = lower_set(include[key]) end
    unwanted[key] = lower_set(exclude[key])
  end
  unwanted.domains = lower_set(exclude.domains)
  local founded = is_object(filters.range) and is_object(filters.range.founded) and filters.range.founded or {}
  local from, to = type(founded.min) == "number" and founded.min, type(founded.max) == "number" and founded.max
  return function(entry)
    local facts = { country = entry[6]:lower(), city = entry[8]:lower(), size = entry[9] }
    for key, set in pairs(wanted) do
      if not set[facts[key]] then return false end
    end
    for key, set in pairs(unwanted) do
      if set[key == "domains" and entry[2] or facts[key]] then return false end
    end
    if from and entry[10] < from then return false end
    if to and entry[10] > to then return false end
    return true
  end
end

---------------------------------------------------------------------------
-- Ranking
---------------------------------------------------------------------------

local STOP_WORDS = validation.set_of{ "an", "and", "for", "in", "of", "on", "or", "the", "to", "with", "that",
                                      "companies", "company" }

-- The words of a query a search looks for: runs of ASCII letters and
-- digits, two or more long, not stop words.
local function query_words(q)
  local words = {}
  for word in q:lower():gmatch("[a-z0-9]+") do
    if #word > 1 and not STOP_WORDS[word] then words[#words + 1] = word end
  end
  return words
end

-- The share (0 to 100) of the query's words found at the start of a word of an entry.
local function score_of(entry, words)
  local text, matched = searchable(entry), 0
  for _, word in ipairs(words) do
    if text:find("%f[%w]" .. word) then matched = matched + 1 end
  end
  return #words > 0 and floor(100 * matched / #words) or 0
end

-- The tail of the i-th made-up name: nordly, bluely ... then nordly2 ...
local function tail_of(i)
  local n = i - 1
  local round = floor(n / (#NAME_STARTS * #NAME_ENDS))
  return NAME_STARTS[n % #NAME_STARTS + 1] .. NAME_ENDS[floor(n / #NAME_STARTS) % #NAME_ENDS + 1]
    .. (round > 0 and tostring(round + 1) or "")
end

-- The domains of the made-up companies a query finds: a made-up name and
-- some of its words (the first four distinct ones), at .example.
local function made_up_for_query(q, words)
  local distinct, seen = {}, {}
  for _, word in ipairs(words) do
    if not seen[word] and #distinct < 4 then
      seen[word] = true
      distinct[#distinct + 1] = word:sub(1, 20)
    end
  end
  local list = {}
  if #distinct == 0 then return list end
  local subsets, seed = 2 ^ #distinct - 1, hash(q)
  for i = 1, M.MADE_UP_MATCHES do
    local mask, picked = floor(mix(seed, i) / 256) % subsets + 1, {}
    for bit = 1, #distinct do
      if floor(mask / 2 ^ (bit - 1)) % 2 == 1 then picked[#picked + 1] = distinct[bit] end
    end
    list[i] = tail_of(i) .. "-" .. concat(picked, "-") .. ".example"
  end
  return list
end

-- Sorts { entry, score } pairs by score, the well-known companies first
-- among equals, then in an order fixed by `seed` and the domain.
local function ranked(list, seed)
  local h = hash(seed)
  for _, item in ipairs(list) do item[3] = mix(h, item[1].h) end
  table.sort(list, function(a, b)
    if a[2] ~= b[2] then return a[2] > b[2] end
    -- among equals, the well-known companies first
    if a[1].well_known ~= b[1].well_known then return a[1].well_known == true end
    if a[3] ~= b[3] then return a[3] < b[3] end
    return a[1][2] < b[1][2]
  end)
  return list
end

-- The last rankings made, by key: paging through one search ranks it once.
local rankings, ranking_order = {}, {}
local KEPT_RANKINGS = 8
local function remembered(key, make)
  local list = rankings[key]
  if list then return list end
  list = make()
  rankings[key] = list
  ranking_order[#ranking_order + 1] = key
  if #ranking_order > KEPT_RANKINGS then rankings[table.remove(ranking_order, 1)] = nil end
  return list
end

--- Every company a query finds ({ entry, score } pairs), best first.
local function search_ranking(q)
  return remembered("q\0" .. q, function()
    local words, found = query_words(q), {}
    for _, entry in ipairs(INDEX) do
      local score = score_of(entry, words)
      if score > 0 then found[#found + 1] = { entry, score } end
    end
    for _, domain in ipairs(made_up_for_query(q, words)) do
      local entry = entry_at(domain)
      local score = score_of(entry, words)
      if score > 0 then found[#found + 1] = { entry, score } end
    end
    return ranked(found, q)
  end)
end

-- How alike two entries are: 30 a shared industry tag, 10 the same
-- country, 5 the same size, at most 99.
local function likeness(reference, entry, tags)
  local score = 0
  for _, tag in ipairs(entry[5]) do
    if tags[tag] then score = score + 30 end
  end
  if entry[6] == reference[6] then score = score + 10 end
  if entry[9] == reference[9] then score = score + 5 end
  return min(score, 99)
end

-- The industry of the made-up lookalikes of an entry: the one sharing the
-- most of its tags.
local function industry_like(reference)
  local tags, best, best_shared = lower_set(reference[5]), nil, 0
  for _, industry in ipairs(INDUSTRIES) do
    local shared = 0
    for _, tag in ipairs(industry[4]) do
      if tags[tag] then shared = shared + 1 end
    end
    if shared > best_shared then best, best_shared = industry, shared end
  end
  return best
end

--- Every lookalike of an entry ({ entry, score } pairs), best first: the
--- well-known companies and made-up ones of its industry, itself left out.
local function lookalike_ranking(reference)
  return remembered("similar\0" .. reference[2], function()
    local tags, found = lower_set(reference[5]), {}
    local function consider(entry)
      if entry[2] ~= reference[2] then
        local score = likeness(reference, entry, tags)
        if score > 0 then found[#found + 1] = { entry, score } end
      end
    end
    for _, entry in ipairs(INDEX) do consider(entry) end
    local industry = industry_like(reference)
    if industry then
      for i = 1, M.MADE_UP_MATCHES do consider(entry_at(tail_of(i) .. "-" .. industry[1] .. ".example")) end
    end
    return ranked(found, reference[2])
  end)
end

--- The well-known companies whose profiles hold a word of `q`, best first
--- (Deep Search's first candidates).
function M.matching(q)
  local words, found = query_words(q), {}
  for _, entry in ipairs(INDEX) do
    local score = score_of(entry, words)
    if score > 0 then found[#found + 1] = { entry, score } end
  end
  local list = {}
  for i, item in ipairs(ranked(found, q)) do list[i] = profile_of(item[1]) end
  return list
end

-- The page of a ranking that passes the filters, within the plan's cap.
local function page_of_results(ranking, filters, offset, limit, cap)
  local passes, results, position = filter_of(filters), array(), 0
  local last = min(offset + limit, cap)
  for _, item in ipairs(ranking) do
    if position >= last then break end
    if passes(item[1]) then
      position = position + 1
      if position > offset then
        local result = profile_of(item[1])
        result.relevance_score = item[2]
        results[#results + 1] = result
      end
    end
  end
  return results
end

---------------------------------------------------------------------------
-- Routes
---------------------------------------------------------------------------

-- offset and limit of a GET search, problems to errs
local function read_page(params, errs)
  local offset = validation.query_integer(params, "offset", 0, 0, errs)
  local limit = validation.query_integer(params, "limit", M.DEFAULT_LIMIT, 1, errs, M.LIMIT_MAX)
  return offset, limit
end

local PAGINATION_FIELDS = { { "offset", check.integer(0) }, { "limit", check.integer(1, M.LIMIT_MAX) } }

local function check_q(q, loc, errs)
  if type(q) ~= "string" then return add(errs, loc, "Input should be a valid string", "string_type") end
  if q:find("^%s*$") then add(errs, loc, "String should have at least 1 character", "string_too_short") end
end

-- A search's request from a POST body: q (for search), filters,
-- offset and limit; or nil and the 422.
local function read_body_search(request, with_q)
  local body, failure = validation.read_body(request, not with_q and {} or nil)
  if not body then return nil, failure end
  local errs, fields = {}, {
    { "filters", check.nullable(check_filters) },
    { "pagination", object_of(PAGINATION_FIELDS) },
  }
  if with_q then table.insert(fields, 1, { "q", check_q, true }) end
  check_fields(body, array{ "body" }, fields, errs)
  if #errs > 0 then return nil, invalid(errs) end
  local pagination = is_object(body.pagination) and body.pagination or {}
  return { q = body.q, filters = body.filters == nil and null or body.filters,
           offset = pagination.offset or 0, limit = pagination.limit or M.DEFAULT_LIMIT }
end

local function read_query_search(params, with_q)
  local errs = {}
  if with_q then
    if params.q == nil then
      add(errs, array{ "query", "q" }, "Field required", "missing")
    else
      check_q(params.q, array{ "query", "q" }, errs)
    end
  end
  local offset, limit = read_page(params, errs)
  local filters = read_filters(params, errs)
  if #errs > 0 then return nil, invalid(errs) end
  return { q = params.q, filters = filters, offset = offset, limit = limit }
end

local function cap_of(extruct)
  return M.QUERY_CAPS[extruct.account.plan] or M.QUERY_CAPS.pro
end

local function answer_search(extruct, search)
  local filters = normalized(search.filters)
  return respond(200, {
    results = page_of_results(search_ranking(search.q), filters, search.offset, search.limit, cap_of(extruct)),
    request = { offset = search.offset, limit = search.limit, query = search.q, filters = filters },
  })
end

local function company_not_found() return detail(404, "Company not found") end

local function answer_lookalikes(extruct, search, identifier)
  local reference = find_entry(identifier)
  if not reference then return company_not_found() end
  local profile = profile_of(reference)
  local filters = normalized(search.filters)
  return respond(200, {
    results = page_of_results(lookalike_ranking(reference), filters, search.offset, search.limit, cap_of(extruct)),
    request = { offset = search.offset, limit = search.limit, filters = filters, reference_company_id = profile.id },
    reference_company = profile,
  })
end

local function search_by_post(extruct, request)
  local search, failure = read_body_search(request, true)
  if not search then return failure end
  return answer_search(extruct, search)
end

local function search_by_get(extruct, _, params)
  local search, failure = read_query_search(params, true)
  if not search then return failure end
  return answer_search(extruct, search)
end

local function similar_by_post(extruct, request, _, captured)
  local search, failure = read_body_search(request, false)
  if not search then return failure end
  return answer_lookalikes(extruct, search, captured.identifier)
end

local function similar_by_get(extruct, _, params, captured)
  local search, failure = read_query_search(params, false)
  if not search then return failure end
  return answer_lookalikes(extruct, search, captured.identifier)
end

local function lookup(_, _, _, captured)
  local profile = M.find_company(captured.identifier)
  if not profile then return company_not_found() end
  return respond(200, profile)
end

-- "search" comes first: it is not a company identifier
M.ROUTES = {
  { { "v1", "companies", "search" }, { GET = search_by_get, POST = search_by_post } },
  { { "v1", "companies", ":identifier", "similar" }, { GET = similar_by_get, POST = similar_by_post } },
  { { "v1", "companies", ":identifier" }, { GET = lookup } },
}

return M
