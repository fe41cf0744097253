-- Specs for company search, lookalikes and lookup of the mock's offline
-- Extruct (lua/extruct/mock/fake/companies.lua), over HTTP: the POST forms
-- and the deprecated GET ones, an index that knows any company, the plans'
-- caps, and exclude.domains read as the API reads it.

local extruct = require("extruct")
local helpers = require("spec.helpers")

local session = helpers.mock_and_client{ single_attempt = true }
local api = require("spec.support.fake_requests")(session)
local ok, fails, find_problem = api.ok, api.fails, api.find_problem

local PROFILE_FIELDS = {
  "id", "domain", "name", "short_description", "full_description", "products_services", "use_cases",
  "target_audience", "other_considerations", "business_types", "target_markets", "industry_tags", "founding_year",
  "employee_count", "hq_country", "hq_state_province", "hq_city", "hq_full_address", "social_profiles",
  "website_authority",
}
local SIZES = { "1-10", "11-50", "51-200", "201-500", "501-1000", "1001-5000", "5001-10000", "10001+" }

local function search(body)
  return ok("POST", "/v1/companies/search", body)
end

local function search_by_get(query)
  return ok("GET", "/v1/companies/search", nil, query)
end

local function names(results)
  local out = {}
  for i, company in ipairs(results) do out[i] = company.name end
  return out
end

local function domains(results)
  local out = {}
  for i, company in ipairs(results) do out[i] = company.domain end
  return out
end

local function json(value)
  return assert(extruct.encode(value))
end

local function set_plan(plan)
  session.mock:control("POST", "/_mock/account", { plan = plan })
end

-- Whether a company's profile holds one of `words` at the start of a word.
local function holds_a_word(company, words)
  local text = table.concat({ company.name, company.domain, company.full_description, company.use_cases,
                              table.concat(company.industry_tags, " ") }, "\n"):lower()
  for _, word in ipairs(words) do
    if text:find("%f[%w]" .. word) then return true end
  end
  return false
end

describe("the offline Extruct's companies", function()
  describe("POST /v1/companies/search", function()
    it("answers results in the profile shape, and the request it read", function()
      local answer = search{ q = "logistics software", pagination = { limit = 3 } }
      assert.same({ offset = 0, limit = 3, query = "logistics software", filters = extruct.null }, answer.request)
      assert.equal(3, #answer.results)
      local first = answer.results[1]
      for _, field in ipairs(PROFILE_FIELDS) do assert.is_not_nil(first[field], field) end
      assert.matches("^%x+%-%x+%-4%x+%-[89ab]%x+%-%x+$", first.id)
      assert.is_number(first.relevance_score)
      assert.is_number(first.website_authority.score)
      assert.is_string(first.website_authority.tier_label)
      assert.matches("^https://www%.linkedin%.com/company/", first.social_profiles.linkedin)
      local found = false
      for _, size in ipairs(SIZES) do found = found or size == first.employee_count end
      assert.is_true(found, first.employee_count)
    end)

    it("answers as the deprecated GET form does, page for page", function()
      local filters = { include = { country = { "Germany" } }, range = { founded = { min = 2000 } } }
      local posted = search{ q = "logistics software", filters = filters, pagination = { offset = 3, limit = 7 } }
      local got = search_by_get{ q = "logistics software", filters = json(filters), offset = 3, limit = 7 }
      assert.same(got, posted)
      assert.equal(7, #posted.results)
    end)

    it("ranks by the share of the query's words, the well-known companies first among equals, the same every time",
      function()
      local all = search{ q = "logistics software", pagination = { limit = 250 } }.results
      assert.equal(250, #all)
      assert.same({ "Globex", 100 }, { all[1].name, all[1].relevance_score }) -- both words, and well known
      for i = 2, #all do assert.is_true(all[i - 1].relevance_score >= all[i].relevance_score) end
      assert.same(domains(all), domains(search{ q = "logistics software", pagination = { limit = 250 } }.results))
      local page = search{ q = "logistics software", pagination = { offset = 2, limit = 2 } }
      assert.same({ all[3].name, all[4].name }, names(page.results))
      assert.equal(20, #search{ q = "logistics software" }.results) -- the default limit
      -- a query word matches the start of a word: "ai" is not found in "rail"
      assert.equal("Brightdesk", search{ q = "customer support" }.results[1].name)
    end)

    it("finds companies for any query, never padded with companies that hold none of its words", function()
      local answer = search{ q = "payroll software for restaurants", pagination = { limit = 250 } }
      assert.equal(250, #answer.results)
      for _, company in ipairs(answer.results) do
        assert.is_true(company.relevance_score > 0, company.domain)
        assert.is_true(holds_a_word(company, { "payroll", "software", "restaurants" }), company.domain)
      end
      -- a company found is the company its domain names
      local first = answer.results[1]
      local looked_up = ok("GET", "/v1/companies/" .. first.domain)
      first.relevance_score = nil
      assert.same(first, looked_up)
      -- a query of stop words and punctuation holds no word to find
      assert.same({}, search{ q = "the and ??" }.results)
    end)

    it("a paid plan reads 2,000 results of a query, the free plan 25", function()
      local function count_at(offset, limit)
        return #search{ q = "vertical farming", pagination = { offset = offset, limit = limit } }.results
      end
      assert.equal(250, count_at(1750, 250))
      assert.equal(10, count_at(1990, 20))
      assert.equal(0, count_at(2000, 10))
      set_plan("starter")
      assert.equal(10, count_at(1990, 20))
      set_plan("free")
      assert.equal(25, count_at(0, 250))
      assert.equal(5, count_at(20, 10))
      assert.equal(0, count_at(25, 10))
      local similar = ok("POST", "/v1/companies/stripe.com/similar", { pagination = { limit = 250 } })
      assert.equal(25, #similar.results)
    end)

    it("filters: include and exclude by country, city and size, a founded range, excluded domains", function()
      local germany = search{ q = "software", filters = { include = { country = { "germany" } } },
                              pagination = { limit = 250 } }
      assert.is_true(#germany.results > 3)
      for _, company in ipairs(germany.results) do assert.equal("Germany", company.hq_country) end
      assert.same({ include = { country = { "germany" } } }, germany.request.filters)

      local small = search{ q = "ai", pagination = { limit = 250 },
                            filters = { include = { size = { "1-10", "11-50" } }, exclude = { city = { "Paris" } } } }
      assert.is_true(#small.results > 0)
      for _, company in ipairs(small.results) do
        assert.is_true(company.employee_count == "1-10" or company.employee_count == "11-50", company.domain)
        assert.are_not.equal("Paris", company.hq_city)
      end

      local young = search{ q = "ai", pagination = { limit = 250 }, filters = { range = { founded = { min = 2020 } },
                                                                     exclude = { domains = { "kleio.example" } } } }
      assert.is_true(#young.results > 0)
      for _, company in ipairs(young.results) do
        assert.is_true(company.founding_year >= 2020)
        assert.are_not.equal("kleio.example", company.domain)
      end
    end)

    it("exclude.domains: each entry read as its registered domain, each once, echoed so", function()
      local all = domains(search{ q = "logistics software", pagination = { limit = 5 } }.results)
      assert.equal("globex.example", all[1])
      local answer = search{ q = "logistics software", pagination = { limit = 5 }, filters = { exclude = { domains = {
        "https://www.Globex.example/pricing", "blog.globex.example", "globex.example", all[2] } } } }
      assert.same({ "globex.example", all[2] }, answer.request.filters.exclude.domains)
      assert.same({ all[3], all[4], all[5] },
        { answer.results[1].domain, answer.results[2].domain, answer.results[3].domain })
    end)

    it("422 past 1,000 distinct domains, or for an entry that is no domain; 1,200 naming 1,000 are taken", function()
      local entries = {}
      for i = 1, 1001 do entries[i] = ("company%d.com"):format(i) end
      local item = fails(422, "POST", "/v1/companies/search", { q = "x", filters = { exclude = { domains = entries } } })[1]
      assert.same({ "body", "filters", "exclude", "domains" }, item.loc)
      assert.equal("value_error", item.type)
      assert.matches("1001 distinct domains once each is read as its registered domain; at most 1000", item.msg, 1, true)
      entries[1001] = nil
      for i = 1, 200 do entries[#entries + 1] = ("https://www.company%d.com/about"):format(i) end
      assert.equal(1000, #search{ q = "x", filters = { exclude = { domains = entries } } }.request.filters.exclude.domains)
      local detail = fails(422, "POST", "/v1/companies/search",
        { q = "x", filters = { exclude = { domains = { "acme.example", "http://localhost:8080/", 7 } } } })
      local bad = find_problem(detail, "domains", "1")
      assert.matches("'http://localhost:8080/' is not a domain or URL: a domain has at least two labels", bad.msg, 1, true)
      assert.equal("string_type", find_problem(detail, "domains", "2").type)
      -- the deprecated GET form counts the same way
      entries = {}
      for i = 1, 1001 do entries[i] = ("c%d.io"):format(i) end
      item = fails(422, "GET", "/v1/companies/search", nil,
        { q = "x", filters = json{ exclude = { domains = entries } } })[1]
      assert.same({ "query", "filters", "exclude", "domains" }, item.loc)
    end)

    it("422 for a missing or blank q, bad pagination, a body that is not JSON or has unknown fields", function()
      assert.same({ loc = { "body", "q" }, msg = "Field required", type = "missing" },
                  fails(422, "POST", "/v1/companies/search", {})[1])
      assert.equal("string_too_short", fails(422, "POST", "/v1/companies/search", { q = "  " })[1].type)
      local detail = fails(422, "POST", "/v1/companies/search",
        { q = "x", pagination = { offset = -1, limit = 251 }, page = 2 })
      assert.equal("less_than_equal", find_problem(detail, "pagination", "limit").type)
      assert.equal("greater_than_equal", find_problem(detail, "pagination", "offset").type)
      assert.equal("extra_forbidden", find_problem(detail, "body", "page").type)
      detail = fails(422, "POST", "/v1/companies/search", { q = "x", filters = {
        include = { size = { "huge" }, colour = { "red" } }, range = { founded = { min = "1990" } }, sort = "name" } })
      assert.equal("enum", find_problem(detail, "filters", "include", "size", "0").type)
      assert.matches("'10001+'", find_problem(detail, "filters", "include", "size", "0").msg, 1, true)
      assert.equal("extra_forbidden", find_problem(detail, "filters", "include", "colour").type)
      assert.equal("int_type", find_problem(detail, "filters", "range", "founded", "min").type)
      assert.equal("extra_forbidden", find_problem(detail, "filters", "sort").type)
      local value, err = session.client:request("POST", "/v1/companies/search", { body = '{"q": ' })
      assert.is_nil(value)
      assert.equal("json_invalid", err.detail[1].type)
    end)
  end)

  describe("GET /v1/companies/search (deprecated)", function()
    it("422 for a missing or empty q, bad paging, filters that are not JSON or not the filter shape", function()
      assert.same({ loc = { "query", "q" }, msg = "Field required", type = "missing" },
                  fails(422, "GET", "/v1/companies/search")[1])
      assert.equal("string_too_short", fails(422, "GET", "/v1/companies/search", nil, { q = " " })[1].type)
      local detail = fails(422, "GET", "/v1/companies/search", nil, { q = "x", limit = 251, offset = -1 })
      assert.equal("less_than_equal", find_problem(detail, "query", "limit").type)
      assert.equal("greater_than_equal", find_problem(detail, "query", "offset").type)
      assert.equal("int_parsing", fails(422, "GET", "/v1/companies/search", nil, { q = "x", limit = "ten" })[1].type)
      local item = fails(422, "GET", "/v1/companies/search", nil, { q = "x", filters = '{"include": ' })[1]
      assert.same({ "query", "filters" }, item.loc)
      assert.equal("json_invalid", item.type)
      assert.equal("model_attributes_type",
        fails(422, "GET", "/v1/companies/search", nil, { q = "x", filters = "[1]" })[1].type)
    end)
  end)

  describe("POST and GET /v1/companies/{identifier}/similar", function()
    it("ranks lookalikes of a seed named by domain, URL or id, without the seed", function()
      local answer = ok("POST", "/v1/companies/globex.example/similar", {})
      assert.equal("Globex", answer.reference_company.name)
      assert.equal(answer.reference_company.id, answer.request.reference_company_id)
      assert.same({ 0, 20 }, { answer.request.offset, answer.request.limit })
      assert.equal(20, #answer.results)
      for i, company in ipairs(answer.results) do
        assert.are_not.equal("globex.example", company.domain)
        assert.is_true(company.relevance_score > 0)
        if i > 1 then assert.is_true(answer.results[i - 1].relevance_score >= company.relevance_score) end
      end
      -- three shared industry tags, the country and the size
      assert.equal(99, answer.results[1].relevance_score)
      local by_url = ok("POST", "/v1/companies/" .. helpers.url_encode("https://www.Globex.example/about") .. "/similar")
      local by_id = ok("GET", "/v1/companies/" .. answer.reference_company.id .. "/similar")
      assert.same(domains(answer.results), domains(by_url.results))
      assert.same(domains(answer.results), domains(by_id.results))
      local page = ok("POST", "/v1/companies/globex.example/similar",
        { pagination = { offset = 1, limit = 2 }, filters = { include = { country = { "United States" } } } })
      assert.same(page, ok("GET", "/v1/companies/globex.example/similar", nil,
        { offset = 1, limit = 2, filters = json{ include = { country = { "United States" } } } }))
      for _, company in ipairs(page.results) do assert.equal("United States", company.hq_country) end
    end)

    it("any company has lookalikes, enough to page through 2,000; exclude.domains adds to the seed", function()
      local answer = ok("POST", "/v1/companies/stripe.com/similar", { pagination = { offset = 1990, limit = 20 } })
      assert.equal("stripe.com", answer.reference_company.domain)
      assert.equal(10, #answer.results)
      local first = ok("POST", "/v1/companies/stripe.com/similar", { pagination = { limit = 2 } }).results
      local without = ok("POST", "/v1/companies/stripe.com/similar",
        { pagination = { limit = 1 }, filters = { exclude = { domains = { "https://" .. first[1].domain } } } })
      assert.equal(first[2].domain, without.results[1].domain)
    end)

    it("404 for a company the index does not hold, 422 for bad filters or pagination", function()
      assert.equal("Company not found", fails(404, "POST", "/v1/companies/nowhere.invalid/similar"))
      assert.equal("Company not found", fails(404, "GET", "/v1/companies/localhost/similar"))
      assert.equal("json_invalid", fails(422, "GET", "/v1/companies/globex.example/similar", nil,
        { filters = "{" })[1].type)
      assert.equal("extra_forbidden", fails(422, "POST", "/v1/companies/globex.example/similar", { q = "x" })[1].type)
    end)
  end)

  describe("GET /v1/companies/{identifier}", function()
    it("one company's profile, by domain, URL or id", function()
      local acme = ok("GET", "/v1/companies/acme.example")
      assert.equal("Acme", acme.name)
      assert.is_nil(acme.relevance_score)
      for _, field in ipairs(PROFILE_FIELDS) do assert.is_not_nil(acme[field], field) end
      assert.same(acme, ok("GET", "/v1/companies/" .. acme.id))
      assert.same(acme, ok("GET", "/v1/companies/" .. helpers.url_encode("http://WWW.acme.example/")))
    end)

    it("knows any well-formed domain: the same company for every spelling of it", function()
      local stripe = ok("GET", "/v1/companies/stripe.com")
      assert.equal("stripe.com", stripe.domain)
      assert.equal("Stripe", stripe.name)
      for _, field in ipairs(PROFILE_FIELDS) do assert.is_not_nil(stripe[field], field) end
      for _, spelling in ipairs({ "www.Stripe.com", "https://www.stripe.com/about?x=1", "blog.stripe.com",
                                  "STRIPE.COM.", "http://user@stripe.com:8443/pricing" }) do
        assert.same(stripe, ok("GET", "/v1/companies/" .. helpers.url_encode(spelling)), spelling)
      end
      assert.same(stripe, ok("GET", "/v1/companies/" .. stripe.id))
      assert.equal("example.co.uk", ok("GET", "/v1/companies/shop.example.co.uk").domain)
    end)

    it("404 for what names no company; 401 without the token; 405 for another method", function()
      for _, identifier in ipairs({ "nowhere.invalid", "localhost", "192.168.0.1", "co.uk",
                                    "00000000-0000-4000-8000-000000000000" }) do
        assert.equal("Company not found", fails(404, "GET", "/v1/companies/" .. identifier), identifier)
      end
      assert.equal(401, (session.mock:http("GET", "/v1/companies/acme.example")))
      local status, _, headers = session.mock:http("POST", "/v1/companies/acme.example",
        { authorization = "Bearer " .. session.mock.token })
      assert.equal(405, status)
      assert.equal("GET", headers.allow)
    end)
  end)
end)
