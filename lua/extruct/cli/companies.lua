--- extruct.cli.companies: the `extruct companies ...` commands (search,
--- similar, get), one entry each (see extruct.cli.registry for the shape of
--- an entry).

local args = require("extruct.cli.args")
local input = require("extruct.cli.input")
local output = require("extruct.cli.output")
local paging = require("extruct.cli.paging")

local M = {}

local PRETTY, COMPACT = output.PRETTY, output.COMPACT

--- The company sizes the API knows, as extruct.filters.SIZES lists them
--- (written out here because the help pages are made without loading the
--- C core, which extruct.filters needs).
M.SIZES = { "1-10", "11-50", "51-200", "201-500", "501-1000", "1001-5000", "5001-10000", "10001+" }

local SIZE = {
  want = "a company size: " .. args.or_list(M.SIZES),
  parse = function(text)
    for _, size in ipairs(M.SIZES) do
      if text == size then return text end
    end
    return nil
  end,
}

local YEAR = args.whole(0, 9999)

local IDENTIFIER_HELP = "a domain (acme.com) or URL, or a company's id"

-- A company's columns as records (extruct.cli.records): table = false
-- leaves one out of the aligned table, keeping it in CSV.
local COMPANY_COLUMNS = {
  { "ID", "id", table = false },
  { "NAME", "name" },
  { "DOMAIN", "domain" },
  { "COUNTRY", "hq_country" },
  { "CITY", "hq_city", table = false },
  { "EMPLOYEES", "employee_count" },
  { "FOUNDED", "founding_year" },
  { "SCORE", "relevance_score" },
  { "DESCRIPTION", "short_description", table = false },
}

local RECORDS_HELP = [[
On a terminal they come as an aligned table (NAME, DOMAIN, COUNTRY,
EMPLOYEES, FOUNDED, SCORE), otherwise one JSON object a line (--format:
table, jsonl, json or csv; csv has the columns id, name, domain,
hq_country, hq_city, employee_count, founding_year, relevance_score and
short_description).
]]

-- Each option that adds to the filters: the section and key it fills.
local FILTER_OPTIONS = {
  { spec = args.option{ name = "--country", key = "countries", value = "C", repeated = true,
                        help = "only companies based in country C; repeat it for several" },
    section = "include", field = "country" },
  { spec = args.option{ name = "--city", key = "cities", value = "C", repeated = true,
                        help = "only companies based in city C; repeat it for several" },
    section = "include", field = "city" },
  { spec = args.option{ name = "--size", key = "sizes", value = "S", type = SIZE, repeated = true,
                        help = "only companies of size S (employees): " .. table.concat(M.SIZES, ", ")
                          .. "; repeat it for several" },
    section = "include", field = "size" },
  { spec = args.option{ name = "--exclude-country", key = "exclude_countries", value = "C", repeated = true,
                        help = "leave out companies based in country C; repeat it for several" },
    section = "exclude", field = "country" },
  { spec = args.option{ name = "--exclude-city", key = "exclude_cities", value = "C", repeated = true,
                        help = "leave out companies based in city C; repeat it for several" },
    section = "exclude", field = "city" },
  { spec = args.option{ name = "--exclude-size", key = "exclude_sizes", value = "S", type = SIZE, repeated = true,
                        help = "leave out companies of size S; repeat it for several" },
    section = "exclude", field = "size" },
  { spec = args.option{ name = "--exclude-domain", key = "exclude_domains", value = "D", repeated = true,
                        help = "leave out the company at domain D; repeat it for several" },
    section = "exclude", field = "domains" },
}

local SEARCH_OPTIONS = {}
for i, item in ipairs(FILTER_OPTIONS) do SEARCH_OPTIONS[i] = item.spec end
for _, spec in ipairs({
  args.option{ name = "--exclude-domains-file", value = "FILE",
               help = "leave out the companies at the domains or URLs of FILE, one a line (blank lines and lines"
                 .. " starting with # skipped; - reads standard input); at most 1,000 distinct domains in all" },
  args.option{ name = "--founded-min", value = "Y", type = YEAR, help = "only companies founded in year Y or later" },
  args.option{ name = "--founded-max", value = "Y", type = YEAR, help = "only companies founded in year Y or earlier" },
  args.option{ name = "--filters", value = "JSON",
               help = "filters as the API takes them, a JSON object {\"include\": {...}, \"exclude\": {...},"
                 .. " \"range\": {\"founded\": {\"min\": Y, \"max\": Y}}}; the options above add to it" },
}) do SEARCH_OPTIONS[#SEARCH_OPTIONS + 1] = spec end
for _, spec in ipairs(paging.options("companies")) do SEARCH_OPTIONS[#SEARCH_OPTIONS + 1] = spec end

local function check_search(opts, fail, spelled)
  if opts.founded_min and opts.founded_max and opts.founded_min > opts.founded_max then
    fail(("--founded-min (%d) is after --founded-max (%d)"):format(opts.founded_min, opts.founded_max))
  end
  paging.check(opts, fail, spelled)
end

local FILTERS_HELP = [[
Filters narrow the search on the server; an option given several times
matches any of its values (--country Germany --country France: either):
  --country, --city, --size              only companies that match
  --exclude-country, --exclude-city,     leave out those that match
  --exclude-size, --exclude-domain,
  --exclude-domains-file
  --founded-min, --founded-max           founded in those years (inclusive)
--filters takes the API's own JSON, and the options add to it. Filters are
checked before anything is sent: an unknown key or size exits 2, and so do
excluded domains past 1,000 once each is read as its registered domain
(https://www.acme.com/about, blog.acme.com and acme.com are one).
Without --all one request prints one page (the API's page size, or
--limit); --all pages through every result from --offset on.
]]

-- Adds `values` to the list filters[section][field]; a part of the
-- wrong type is left for extruct.filters to name.
local function add_values(filters, section, field, values)
  if filters[section] == nil then filters[section] = {} end
  local into = filters[section]
  if type(into) ~= "table" then return end
  local list = into[field]
  if type(list) == "string" then list = { list } end
  if list ~= nil and type(list) ~= "table" then return end
  local merged = {}
  for i, value in ipairs(list or {}) do merged[i] = value end
  for _, value in ipairs(values) do merged[#merged + 1] = value end
  into[field] = merged
end

local function set_founded(filters, min, max)
  if filters.range == nil then filters.range = {} end
  local range = filters.range
  if type(range) ~= "table" then return end
  if range.founded == nil then range.founded = {} end
  if type(range.founded) ~= "table" then return end
  range.founded.min = min or range.founded.min
  range.founded.max = max or range.founded.max
end

-- The filters of the options, checked: a table, or nil when there are
-- none. A problem is a usage error (exit status 2).
local function filters_of(ctx, opts)
  local extruct = ctx.extruct
  local filters, given = {}, opts.filters ~= nil
  if opts.filters then
    local value, err = extruct.decode(opts.filters)
    if value == nil then ctx:usage_error("--filters is not valid JSON: " .. err.message) end
    if type(value) ~= "table" or getmetatable(value) == extruct.array_mt then
      ctx:usage_error("--filters must be a JSON object {\"include\": ..., \"exclude\": ..., \"range\": ...}")
    end
    filters = value
  end
  for _, item in ipairs(FILTER_OPTIONS) do
    if opts[item.spec.key] then
      given = true
      add_values(filters, item.section, item.field, opts[item.spec.key])
    end
  end
  if opts.exclude_domains_file then
    given = true
    add_values(filters, "exclude", "domains", input.domain_lines(ctx, opts.exclude_domains_file))
  end
  if opts.founded_min or opts.founded_max then
    given = true
    set_founded(filters, opts.founded_min, opts.founded_max)
  end
  if not given then return nil end
  local checked, why = require("extruct.filters").check(filters)
  if not checked then ctx:usage_error(why) end
  return checked
end

local function query_of(ctx, query)
  if not query:find("%S") then ctx:usage_error("the QUERY is blank: say in words which companies to find") end
  return query
end

M.commands = {}
local function command(entry) M.commands[#M.commands + 1] = entry end

command{ words = { "companies" }, group = true, help = [[
Extruct's index of company profiles: search it in words, find the
lookalikes of a company, or read one company's profile. Reads need no
particular plan.
]] }

command{
  words = { "companies", "search" },
  args = { { name = "QUERY", key = "query", help = "which companies to find, in words",
             missing = "missing QUERY (which companies to find, in words)" } },
  summary = "search companies in words: a table, JSON lines, a JSON array or CSV",
  options = SEARCH_OPTIONS,
  check = check_search,
  help = [[
Searches Extruct's company index for QUERY (POST /v1/companies/search) and
prints the companies found, best first: each a profile with its
relevance_score.
]] .. RECORDS_HELP .. "\n" .. FILTERS_HELP,
  examples = {
    "extruct companies search 'payroll software for restaurants' --country Germany --size 11-50",
    "extruct companies search 'vertical farming' --founded-min 2015 --all --limit 500 --format jsonl | jq -r .domain",
    "extruct companies search 'treasury software' --exclude-domains-file customers.txt --all -o prospects.jsonl",
    "extruct companies search 'payroll software' --limit 20 --format csv -o payroll.csv",
  },
  run = function(ctx, a, opts)
    local client, query = ctx:client(), query_of(ctx, a.query)
    local filters = filters_of(ctx, opts)
    local what = ("the search '%s'"):format(output.one_line(query))
    return paging.print(ctx, opts, {
      page = function(offset, limit)
        local page, err = client:search_companies(query, { filters = filters, offset = offset, limit = limit })
        if not page then return nil, err end
        return paging.results_of(page, what)
      end,
      iterate = function(offset, page_size)
        return client:iter_search_companies(query, { filters = filters, offset = offset, limit = page_size })
      end,
    }, COMPANY_COLUMNS)
  end,
}

command{
  words = { "companies", "similar" },
  args = { { name = "IDENTIFIER", key = "identifier", help = "the company to find lookalikes of: " .. IDENTIFIER_HELP,
             missing = "missing IDENTIFIER (a domain, URL or company id)" } },
  summary = "find lookalikes of a company: a table, JSON lines, a JSON array or CSV",
  options = SEARCH_OPTIONS,
  check = check_search,
  help = [[
Finds the companies most like IDENTIFIER (POST
/v1/companies/IDENTIFIER/similar) and prints them, most alike first.
IDENTIFIER is a domain or a URL (preferred), or a
company's id; an unknown one exits 1 with kind not_found.
]] .. RECORDS_HELP .. "\n" .. FILTERS_HELP,
  examples = {
    "extruct companies similar acme.example --limit 10",
    "extruct companies similar https://www.acme.example --exclude-country 'United States' --all --limit 100"
      .. " -o lookalikes.jsonl",
  },
  run = function(ctx, a, opts)
    local client = ctx:client()
    local filters = filters_of(ctx, opts)
    local what = ("the lookalikes of '%s'"):format(output.one_line(a.identifier))
    return paging.print(ctx, opts, {
      page = function(offset, limit)
        local page, err = client:similar_companies(a.identifier, { filters = filters, offset = offset, limit = limit })
        if not page then return nil, err end
        return paging.results_of(page, what)
      end,
      iterate = function(offset, page_size)
        return client:iter_similar_companies(a.identifier, { filters = filters, offset = offset, limit = page_size })
      end,
    }, COMPANY_COLUMNS)
  end,
}

command{
  words = { "companies", "get" },
  args = { { name = "IDENTIFIER", key = "identifier", help = IDENTIFIER_HELP,
             missing = "missing IDENTIFIER (a domain, URL or company id)" } },
  summary = "print one company's profile as JSON",
  options = { PRETTY, COMPACT },
  help = [[
Prints the profile of the company IDENTIFIER (GET /v1/companies/IDENTIFIER)
as one JSON document on stdout: its name, domain, descriptions, industry,
size, founding year, headquarters and social profiles. An unknown company
exits 1 with kind not_found.
]],
  examples = {
    "extruct companies get acme.example --pretty",
    "extruct companies get https://www.acme.example/about | jq -r .short_description",
  },
  run = function(ctx, a)
    local company, err = ctx:client():get_company(a.identifier)
    if not company then return nil, err end
    return ctx:print_json(company)
  end,
}

return M
