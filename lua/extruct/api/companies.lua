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
---@field get_company fun(identifier: string, opts?: extruct.Options): table?, extruct.Error?

---@class extruct.Client
local methods = {}

-- The API's largest page of companies.
local MAX_LIMIT = 250
local DEFAULT_PAGE_SIZE = 50

local function any_table(v) return type(v) == "table" end

local SEARCH_OPTIONS = options{
  -- (what is in the table is checked by extruct.filters, with its own words)
  filters = { check = any_table, want = "a table { include = {...}, exclude = {...}, range = {...} }" },
  offset = { check = whole(0, math.huge), want = "a whole number >= 0" },
  limit = { check = whole(1, MAX_LIMIT), want = "a whole number from 1 to " .. MAX_LIMIT },
}
local NO_OPTIONS = options{}

---@class extruct.PageOptions: extruct.Options
---@field offset? integer where the page starts (default 0)
---@field limit? integer items a page

---@class extruct.CompanySearchOptions: extruct.PageOptions
---@field filters? table include = { country, city, size }, exclude = { ..., domains }, range = { founded = { min, max } }

---@class extruct.CompanyPage
---@field results table[] the companies of the page, best first, each a profile with a relevance_score
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

-- The query parameters of a search: filters as JSON text.
local function search_query(opts, where, extra)
  local query = extra or {}
  query.offset, query.limit = opts.offset, opts.limit
  if opts.filters ~= nil then
    local checked, why = filters.check(opts.filters)
    if not checked then misuse(("extruct.%s: %s"):format(where, why)) end
    -- (checked holds strings, whole numbers and tables only: it encodes)
    query.filters = assert(core.encode(checked))
  end
  return query
end

local function search_page(self, query, opts, offset, limit)
  query.offset, query.limit = offset, limit
  return call(self, "GET", "/v1/companies/search", opts, { query = query, answer = "object" })
end

local function similar_page(self, identifier, query, opts, offset, limit)
  query.offset, query.limit = offset, limit
  return call(self, "GET", path("/v1/companies", identifier, "similar"), opts, {
    query = query, answer = "object", subject = subject_company(identifier),
  })
end

-- An iterator over the results of successive pages of `fetch_page(offset, limit)`.
local function iterate(fetch_page, first_offset, limit, what)
  return endpoint.pages(function(offset)
    local page, err = fetch_page(offset, limit)
    if page == nil then return nil, err end
    local results = page.results
    if type(results) ~= "table" then
      return nil, errors.new("decode", ("%s: the page at offset %d has no results list"):format(what, offset))
    end
    return results, #results < limit
  end, first_offset)
end

--- GET /v1/companies/search: one page of the companies that best match a
--- natural-language query, `{ results, request }`.
---@param query string what to look for, in words
---@param opts? extruct.CompanySearchOptions
---@return extruct.CompanyPage|nil page
---@return extruct.Error? err
function methods:search_companies(query, opts)
  check_query(query, "search_companies")
  opts = check_options(opts, SEARCH_OPTIONS, "extruct.search_companies")
  local params = search_query(opts, "search_companies", { q = query })
  return search_page(self, params, opts, opts.offset, opts.limit)
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
  local params = search_query(opts, "iter_search_companies", { q = query })
  return iterate(function(offset, limit)
    return search_page(self, params, opts, offset, limit)
  end, opts.offset or 0, opts.limit or DEFAULT_PAGE_SIZE, ("the search '%s'"):format(errors.show(query)))
end

--- GET /v1/companies/{identifier}/similar: one page of lookalikes of a seed
--- company, `{ results, request, reference_company }`. The identifier is
--- a domain or URL (preferred) or a company id, sent as one path segment.
---@param identifier string a domain ("acme.com"), a URL or a company id
---@param opts? extruct.CompanySearchOptions
---@return extruct.CompanyPage|nil page
---@return extruct.Error? err
function methods:similar_companies(identifier, opts)
  check_id(identifier, "similar_companies", "company identifier")
  opts = check_options(opts, SEARCH_OPTIONS, "extruct.similar_companies")
  local params = search_query(opts, "similar_companies")
  return similar_page(self, identifier, params, opts, opts.offset, opts.limit)
end

--- Every lookalike of a seed company, page by page:
--- `for company, err in client:iter_similar_companies("acme.com") do`.
---@param identifier string
---@param opts? extruct.CompanySearchOptions
---@return extruct.Iterator iterator for a generic for: each step a company, or false and an error
function methods:iter_similar_companies(identifier, opts)
  check_id(identifier, "iter_similar_companies", "company identifier")
  opts = check_options(opts, SEARCH_OPTIONS, "extruct.iter_similar_companies")
  local params = search_query(opts, "iter_similar_companies")
  return iterate(function(offset, limit)
    return similar_page(self, identifier, params, opts, offset, limit)
  end, opts.offset or 0, opts.limit or DEFAULT_PAGE_SIZE, ("the lookalikes of %s"):format(subject_company(identifier)))
end

--- GET /v1/companies/{identifier}: one company's profile.
---@param identifier string a domain, a URL or a company id
---@param opts? extruct.Options
---@return table|nil company
---@return extruct.Error? err
function methods:get_company(identifier, opts)
  check_id(identifier, "get_company", "company identifier")
  opts = check_options(opts, NO_OPTIONS, "extruct.get_company")
  return call(self, "GET", path("/v1/companies", identifier), opts, {
    answer = "object", subject = subject_company(identifier),
  })
end

return methods
