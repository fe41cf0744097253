-- Specs for company search, lookalikes and lookup of the mock's offline
-- Extruct (lua/extruct/mock/fake/companies.lua), over HTTP.

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

local function search(query)
  return ok("GET", "/v1/companies/search", nil, query)
end

local function names(results)
  local out = {}
  for i, company in ipairs(results) do out[i] = company.name end
  return out
end

local function filters(value)
  return assert(extruct.encode(value))
end

describe("the offline Extruct's companies", function()
  describe("GET /v1/companies/search", function()
    it("answers results in the profile shape, and the request", function()
      local answer = search{ q = "logistics software", limit = 3 }
      assert.same({ offset = 0, limit = 3, query = "logistics software", filters = extruct.null }, answer.request)
      assert.equal(3, #answer.results)
      local first = answer.results[1]
      for _, field in ipairs(PROFILE_FIELDS) do assert.is_not_nil(first[field], field) end
      assert.matches("^%x+%-%x+%-4%x+%-[89ab]%x+%-%x+$", first.id)
      assert.matches("%.example$", first.domain)
      assert.is_number(first.relevance_score)
      assert.is_number(first.website_authority.score)
      assert.is_string(first.website_authority.tier_label)
      assert.matches("^https://www%.linkedin%.com/company/", first.social_profiles.linkedin)
      local found = false
      for _, size in ipairs(SIZES) do found = found or size == first.employee_count end
      assert.is_true(found, first.employee_count)
    end)

    it("ranks by the words of the query, the same order every time; pages with offset and limit", function()
      local all = search{ q = "logistics software", limit = 250 }.results
      assert.equal(24, #all) -- every company, the matching ones first
      assert.equal("Globex", all[1].name) -- both words
      assert.equal(100, all[1].relevance_score)
      for i = 2, #all do assert.is_true(all[i - 1].relevance_score >= all[i].relevance_score) end
      assert.equal(0, all[#all].relevance_score)
      assert.same(names(all), names(search{ q = "logistics software", limit = 250 }.results))
      local page = search{ q = "logistics software", offset = 2, limit = 2 }
      assert.same({ all[3].name, all[4].name }, names(page.results))
      assert.equal(2, page.request.offset)
      assert.equal(20, #search{ q = "logistics software" }.results) -- the default limit
      assert.same({}, search{ q = "logistics software", offset = 30 }.results)
      -- a query word matches the start of a word: "ai" is not found in "rail"
      assert.equal("Brightdesk", search{ q = "customer support" }.results[1].name)
    end)

    it("filters: include and exclude by country, city and size, a founded range, excluded domains", function()
      local germany = search{ q = "software", limit = 250,
                              filters = filters{ include = { country = { "germany" } } } }.results
      assert.equal(3, #germany) -- Nordwind, Helio Grid, Brightdesk
      for _, company in ipairs(germany) do assert.equal("Germany", company.hq_country) end
      local request = search{ q = "software", filters = filters{ include = { country = { "Germany" } } } }.request
      assert.same({ include = { country = { "Germany" } } }, request.filters)

      local small = search{ q = "ai", limit = 250, filters = filters{ include = { size = { "1-10", "11-50" } },
                                                                      exclude = { city = { "Paris" } } } }.results
      local small_names = names(small)
      table.sort(small_names)
      assert.same({ "Atlas Freight", "Cargonaut", "Medisync", "Quantaloop" }, small_names) -- not Kleio: Paris

      local young = search{ q = "ai", limit = 250, filters = filters{ range = { founded = { min = 2020 } },
                                                                      exclude = { domains = { "kleio.example" } } } }
      for _, company in ipairs(young.results) do
        assert.is_true(company.founding_year >= 2020)
        assert.is_true(company.domain ~= "kleio.example")
      end
      assert.equal(3, #young.results)
      local old = search{ q = "ai", limit = 250, filters = filters{ range = { founded = { max = 1950 } } } }
      local old_names = names(old.results)
      table.sort(old_names)
      assert.same({ "Acme", "Stark", "Wayne" }, old_names)
    end)

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
      detail = fails(422, "GET", "/v1/companies/search", nil, { q = "x", filters = filters{
        include = { size = { "huge" }, colour = { "red" } }, range = { founded = { min = "1990" } }, sort = "name" } })
      assert.equal("enum", find_problem(detail, "filters", "include", "size", "0").type)
      assert.matches("'10001+'", find_problem(detail, "filters", "include", "size", "0").msg, 1, true)
      assert.equal("extra_forbidden", find_problem(detail, "filters", "include", "colour").type)
      assert.equal("int_type", find_problem(detail, "filters", "range", "founded", "min").type)
      assert.equal("extra_forbidden", find_problem(detail, "filters", "sort").type)
      assert.equal("model_attributes_type",
        fails(422, "GET", "/v1/companies/search", nil, { q = "x", filters = "[1]" })[1].type)
    end)
  end)

  describe("GET /v1/companies/{identifier}/similar", function()
    it("ranks lookalikes of a seed named by domain, URL or id, without the seed", function()
      local answer = ok("GET", "/v1/companies/globex.example/similar")
      assert.equal("Globex", answer.reference_company.name)
      assert.equal(answer.reference_company.id, answer.request.reference_company_id)
      assert.same({ 0, 20 }, { answer.request.offset, answer.request.limit })
      assert.equal(20, #answer.results)
      for _, company in ipairs(answer.results) do assert.is_true(company.name ~= "Globex") end
      -- Nordwind shares two industry tags (logistics, saas); the next ones one tag and the country
      assert.same({ "Nordwind", 60 }, { answer.results[1].name, answer.results[1].relevance_score })
      assert.equal(40, answer.results[2].relevance_score)
      for i = 2, #answer.results do
        assert.is_true(answer.results[i - 1].relevance_score >= answer.results[i].relevance_score)
      end
      local by_url = ok("GET", "/v1/companies/" .. helpers.url_encode("https://www.Globex.example/about") .. "/similar")
      local by_id = ok("GET", "/v1/companies/" .. answer.reference_company.id .. "/similar")
      assert.same(names(answer.results), names(by_url.results))
      assert.same(names(answer.results), names(by_id.results))
      local page = ok("GET", "/v1/companies/globex.example/similar", nil,
        { offset = 1, limit = 2, filters = filters{ include = { country = { "United States" } } } })
      assert.equal(2, #page.results)
      for _, company in ipairs(page.results) do assert.equal("United States", company.hq_country) end
    end)

    it("404 for a company the index does not hold, 422 for bad filters", function()
      assert.equal("Company not found", fails(404, "GET", "/v1/companies/nope.example/similar"))
      assert.equal("json_invalid", fails(422, "GET", "/v1/companies/globex.example/similar", nil,
        { filters = "{" })[1].type)
    end)
  end)

  describe("GET /v1/companies/{identifier}", function()
    it("one company's profile, by domain, URL or id; 404 when unknown", function()
      local acme = ok("GET", "/v1/companies/acme.example")
      assert.equal("Acme", acme.name)
      assert.is_nil(acme.relevance_score)
      for _, field in ipairs(PROFILE_FIELDS) do assert.is_not_nil(acme[field], field) end
      assert.same(acme, ok("GET", "/v1/companies/" .. acme.id))
      assert.same(acme, ok("GET", "/v1/companies/" .. helpers.url_encode("http://WWW.acme.example/")))
      assert.equal("Company not found", fails(404, "GET", "/v1/companies/stripe.com"))
      local status = session.mock:http("GET", "/v1/companies/acme.example")
      assert.equal(401, status)
      assert.equal(405, (session.mock:http("POST", "/v1/companies/acme.example",
        { authorization = "Bearer " .. session.mock.token })))
    end)
  end)
end)
