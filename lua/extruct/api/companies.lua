-- Companies: semantic search over Extruct's company index, lookalikes of a
-- seed company, and one company's profile, plus iterators over the pages
-- of the two searches. extruct.client installs these methods on every
-- client.
--
-- Every method returns one value on success and nil, err on failure; a
-- malformed argument or option (filters included) raises.

local core = require("extruct.core")
local endpoint = require("extruct.endpoint")
local errors = require("extruct.errors")
local filters = require("extruct.filters")

local call, check_id, check_options = endpoint.call, endpoint.check_id, endpoint.check_options
local misuse, path, whole = endpoint.misuse, endpoint.path, endpoint.whole
local options = endpoint.with_retry_options

-- The module-level shortcuts of these methods, on the default client.
---@class extruct
---@field search_companies fun(query: string, opts?: extruct.CompanySearchOptions): extruct.CompanyPage?, extruct.Error?
---@field iter_search_companies fun(query: string, opts?: extruct.CompanySearchOptions): extruct.Iterator
---@field similar_companies fun(identifier: string, opts?: extruct.CompanySearchOptions): extruct.CompanyPage?, extruct.Error?
---@field iter_similar_companies fun(identifier: string, opts?: extruct.CompanySearchOptions): extruct.Iterator
---@field get_company fun(identifier: string, opts?: extruct.Options): extruct.Company?, extruct.Error?

---@class extruct.Client
local methods = {}

-- The API's largest page of companies.
local MAX_LIMIT = 250
local DEFAULT_PAGE_SIZE = 50

local function any_table(v) return type(v) == "table" end

local METHODS = { POST = true, GET = true }

local SEARCH_OPTIONS = options{
  -- (what is in the table is checked by extruct.filters, with its own words)
  filters = { check = any_table, want = "a table { include = {...}, exclude = {...}, range = {...} }" },
  offset = { check = whole(0, math.huge), want = "a whole number >= 0" },
  limit = { check = whole(1, MAX_LIMIT), want = "a whole number from 1 to " .. MAX_LIMIT },
  method = { check = function(v) return METHODS[v] == true end,
             want = '"POST" (the default) or "GET" (the deprecated form, for a server without POST)' },
}
local NO_OPTIONS = options{}

---@class extruct.PageOptions: extruct.Options
---@field offset? integer where the page starts (default 0)
---@field limit? integer items a page

---@class extruct.CompanySearchOptions: extruct.PageOptions
---@field filters? table include = { country, city, size }, exclude = { ..., domains }, range = { founded = { min, max } }
---@field method? "POST"|"GET" the form of the request (default "POST"; a 405 to it is asked again as GET)

--- A company's profile, as get_company answers it and each result of a
--- search is (with its relevance_score); null fields hold extruct.null.
---@class extruct.Company
---@field id string
---@field name string
---@field domain string Its registered domain
---@field short_description? string
---@field full_description? string
---@field products_services? string
---@field use_cases? string
---@field target_audience? string
---@field other_considerations? string
---@field founding_year? integer
---@field employee_count? string A size: "1-10", "11-50", ... "10001+"
---@field hq_country? string
---@field hq_state_province? string
---@field hq_city? string
---@field hq_full_address? string
---@field social_profiles? table<string, string> e.g. linkedin -> URL
---@field website_authority? { score: number, tier: string, tier_label: string }
---@field relevance_score? number In a search's or lookalikes' results: how well it matches

---@class extruct.CompanyPage
---@field results extruct.Company[] the companies of the page, best first, each a profile with a relevance_score
---@field request table the query, filters, offset and limit the API read

local function subject_company(identifier)
  return ("company '%s'"):format(errors.show(identifier))
end

-- Raises unless query is a string with something in it.
local function check_query(query, where)
  if type(query) ~= "string" or not query:find("%S") then
    misuse(("extruct.%s: the query must be a non-blank string, got %s"):format(where,
      type(query) == "string" and (query == "" and "an empty string" or "only blanks") or type(query)))
  end
end

-- What every page of one search sends: to `path`, the query `q` (none for
-- lookalikes) and the checked filters, by `method`. A server that answers
-- the POST form with 405 (one from before it, or a proxy that lets only GET
-- through) gets the same page asked as GET, and so do the later pages of
-- the same loop.
local function new_search(target, q, opts, where, subject)
  local search = { path = target, q = q, method = opts.method or "POST", subject = subject }
  if opts.filters ~= nil then
    local checked, why = filters.check(opts.filters)
    if not checked then misuse(("extruct.%s: %s"):format(where, why)) end
    search.filters = checked
  end
  return search
end

local function fetch_page(self, search, opts, offset, limit)
  if search.method == "POST" then
    local pagination
    if offset ~= nil or limit ~= nil then pagination = { offset = offset, limit = limit } end
    local page, err = call(self, "POST", search.path, opts, {
      body = { q = search.q, filters = search.filters, pagination = pagination },
      answer = "object", subject = search.subject, idempotent = true, -- it only reads
    })
    if page ~= nil then return page end
    if err.status ~= 405 then return nil, err end
    search.method = "GET"
  end
  if search.filters ~= nil and search.filters_text == nil then
    -- (checked filters hold strings, whole numbers and tables only: they encode)
    search.filters_text = assert(core.encode(search.filters))
  end
  return call(self, "GET", search.path, opts, {
    query = { q = search.q, offset = offset, limit = limit, filters = search.filters_text },
    answer = "object", subject = search.subject,
  })
end

-- An iterator over the results of successive pages of `search`.
local function iterate(self, search, opts, what)
  local limit = opts.limit or DEFAULT_PAGE_SIZE
  return endpoint.pages(function(offset)
    local page, err = fetch_page(self, search, opts, offset, limit)
    if page == nil then return nil, err end
    local results = page.results
    if type(results) ~= "table" then
      return nil, errors.new("decode", ("%s: the page at offset %d has no results list"):format(what, offset))
    end
    return results, #results < limit
  end, opts.offset or 0)
end

local function search_of(query, opts, where)
  return new_search("/v1/companies/search", query, opts, where)
end

local function lookalikes_of(identifier, opts, where)
  return new_search(path("/v1/companies", identifier, "similar"), nil, opts, where, subject_company(identifier))
end

--- POST /v1/companies/search: one page of the companies that best match a
--- natural-language query, `{ results, request }`. Sends `{ q, filters,
--- pagination = { offset, limit } }`; opts.method = "GET" sends the
--- deprecated GET form instead (also used when the server answers 405).
--- filters.exclude.domains is sent as registered domains without
--- duplicates; more than 1,000 of them raise, as malformed filters do.
---@param query string what to look for, in words
---@param opts? extruct.CompanySearchOptions
---@return extruct.CompanyPage|nil page
---@return extruct.Error? err
function methods:search_companies(query, opts)
  check_query(query, "search_companies")
  opts = check_options(opts, SEARCH_OPTIONS, "extruct.search_companies")
  return fetch_page(self, search_of(query, opts, "search_companies"), opts, opts.offset, opts.limit)
end

--- Every company a search finds, page by page:
--- `for company, err in client:iter_search_companies("...") do`.
--- opts as search_companies; limit is the page size (default 50), offset
--- where to start.
---@param query string
---@param opts? extruct.CompanySearchOptions
---@return extruct.Iterator iterator for a generic for: each step a company, or false and an error
function methods:iter_search_companies(query, opts)
  check_query(query, "iter_search_companies")
  opts = check_options(opts, SEARCH_OPTIONS, "extruct.iter_search_companies")
  return iterate(self, search_of(query, opts, "iter_search_companies"), opts,
    ("the search '%s'"):format(errors.show(query)))
end

--- POST /v1/companies/{identifier}/similar: one page of lookalikes of a
--- seed company, `{ results, request, reference_company }`. The identifier
--- is a domain or URL (preferred) or a company id, sent as one path
--- segment; the body is `{ filters, pagination }`, and opts as
--- search_companies (method = "GET" for the deprecated form).
---@param identifier string a domain ("acme.com"), a URL or a company id
---@param opts? extruct.CompanySearchOptions
---@return extruct.CompanyPage|nil page
---@return extruct.Error? err
function methods:similar_companies(identifier, opts)
  check_id(identifier, "similar_companies", "company identifier")
  opts = check_options(opts, SEARCH_OPTIONS, "extruct.similar_companies")
  return fetch_page(self, lookalikes_of(identifier, opts, "similar_companies"), opts, opts.offset, opts.limit)
end

--- Every lookalike of a seed company, page by page:
--- `for company, err in client:iter_similar_companies("acme.com") do`.
---@param identifier string
---@param opts? extruct.CompanySearchOptions
---@return extruct.Iterator iterator for a generic for: each step a company, or false and an error
function methods:iter_similar_companies(identifier, opts)
  check_id(identifier, "iter_similar_companies", "company identifier")
  opts = check_options(opts, SEARCH_OPTIONS, "extruct.iter_similar_companies")
  return iterate(self, lookalikes_of(identifier, opts, "iter_similar_companies"), opts,
    ("the lookalikes of %s"):format(subject_company(identifier)))
end

--- GET /v1/companies/{identifier}: one company's profile.
---@param identifier string a domain, a URL or a company id
---@param opts? extruct.Options
---@return extruct.Company|nil company
---@return extruct.Error? err
function methods:get_company(identifier, opts)
  check_id(identifier, "get_company", "company identifier")
  opts = check_options(opts, NO_OPTIONS, "extruct.get_company")
  return call(self, "GET", path("/v1/companies", identifier), opts, {
    answer = "object", subject = subject_company(identifier),
  })
end

return methods
