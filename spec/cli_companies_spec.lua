-- The `extruct companies` commands (search, similar, get), run as a real
-- bin/extruct subprocess against the mock server: the JSON lines they
-- print, the requests they send (the query, the paging, the filters as
-- JSON), and the filters they refuse before sending anything.
local support = require("spec.support.cli")
local extruct = require("extruct")
local cjson = require("cjson")
local companies_commands = require("extruct.cli.companies")

local run_extruct, lines_of, api_requests = support.run_extruct, support.lines_of, support.api_requests
local query_value = support.query_value
local unpack = table.unpack or unpack

-- The objects of JSON lines.
local function decoded_lines(out)
  local list = {}
  for i, line in ipairs(lines_of(out)) do list[i] = assert(extruct.decode(line)) end
  return list
end

local function domains(list)
  local names = {}
  for i, company in ipairs(list) do names[i] = company.domain end
  return names
end

describe("extruct companies commands", function()
  local mock, client
  local fixture = support.against_mock({}, function(s) mock, client = s.mock, s.client end)

  describe("companies search", function()
    it("prints one page of companies, best first, one JSON object a line", function()
      local out, err, status = run_extruct(mock, { "companies", "search", "banking software" })
      assert.equal(0, status, err)
      assert.equal("", err)
      local page = assert(client:search_companies("banking software"))
      assert.same(page.results, decoded_lines(out))
      local sent = api_requests(mock, "GET", "/v1/companies/search")[1]
      assert.same({ { "q", "banking software" } }, support.query_pairs(sent.query))
    end)

    it("sends --limit and --offset as the page to read", function()
      local out, err, status = run_extruct(mock, { "companies", "search", "software", "--limit", "3", "--offset", "2" })
      assert.equal(0, status, err)
      local sent = api_requests(mock, "GET", "/v1/companies/search")[1]
      assert.equal("3", query_value(sent.query, "limit"))
      assert.equal("2", query_value(sent.query, "offset"))
      assert.same(assert(client:search_companies("software", { limit = 3, offset = 2 })).results, decoded_lines(out))
    end)

    it("--all pages through every result, --page-size a request; --limit stops it", function()
      local every = {}
      for company in client:iter_search_companies("software") do every[#every + 1] = assert(company) end
      mock:reset()
      local out, err, status = run_extruct(mock, { "companies", "search", "software", "--all", "--page-size", "5" })
      assert.equal(0, status, err)
      assert.same(domains(every), domains(decoded_lines(out)))
      local pages = api_requests(mock, "GET", "/v1/companies/search")
      assert.equal(math.floor(#every / 5) + 1, #pages)
      assert.equal("5", query_value(pages[2].query, "offset"))

      mock:reset()
      out, err, status = run_extruct(mock, { "companies", "search", "software", "--all", "--limit", "7",
        "--offset", "1" })
      assert.equal(0, status, err)
      assert.same({ unpack(domains(every), 2, 8) }, domains(decoded_lines(out)))
      pages = api_requests(mock, "GET", "/v1/companies/search")
      assert.equal(1, #pages, "one request of 7")
      assert.equal("7", query_value(pages[1].query, "limit"))
    end)

    it("sends the filter options as the API's JSON, added to --filters", function()
      local out, err, status = run_extruct(mock, { "companies", "search", "software",
        "--country", "United States", "--country", "Germany", "--city", "Austin", "--size", "501-1000",
        "--size", "1001-5000", "--exclude-country", "France", "--exclude-city", "Paris", "--exclude-size", "1-10",
        "--exclude-domain", "initech.example", "--founded-min", "1980", "--founded-max", "2000",
        "--filters", '{"include": {"country": "Japan"}, "exclude": {"domains": ["hooli.example"]}}' })
      assert.equal(0, status, err)
      local sent = api_requests(mock, "GET", "/v1/companies/search")[1]
      assert.same({
        include = { country = { "Japan", "United States", "Germany" }, city = { "Austin" },
                    size = { "501-1000", "1001-5000" } },
        exclude = { country = { "France" }, city = { "Paris" }, size = { "1-10" },
                    domains = { "hooli.example", "initech.example" } },
        range = { founded = { min = 1980, max = 2000 } },
      }, cjson.decode(query_value(sent.query, "filters")))
      local found = decoded_lines(out)
      assert.same({ "globex.example" }, domains(found))
      for _, company in ipairs(found) do
        assert.truthy(company.hq_city == "Austin", company.domain)
        assert.truthy(company.founding_year >= 1980 and company.founding_year <= 2000, company.domain)
      end
    end)

    it("--pretty indents each company", function()
      local out, err, status = run_extruct(mock, { "companies", "search", "software", "--limit", "2", "--pretty" })
      assert.equal(0, status, err)
      assert.truthy(#lines_of(out) > 4)
      assert.equal(assert(client:search_companies("software", { limit = 1 })).results[1].domain,
        assert(extruct.decode(out:match("^(.-\n})\n"))).domain)
    end)

    it("knows the sizes extruct.filters knows", function()
      assert.same(require("extruct.filters").SIZES, companies_commands.SIZES)
    end)
  end)

  describe("companies similar", function()
    it("prints the lookalikes of a company; a URL goes as one path segment", function()
      local out, err, status = run_extruct(mock, { "companies", "similar", "https://www.acme.example/about",
        "--limit", "4", "--size", "51-200" })
      assert.equal(0, status, err)
      local sent = api_requests(mock, "GET")[1]
      assert.equal("/v1/companies/https%3A%2F%2Fwww.acme.example%2Fabout/similar", sent.target:match("^[^?]*"))
      assert.same({ include = { size = { "51-200" } } }, cjson.decode(query_value(sent.query, "filters")))
      local page = assert(client:similar_companies("acme.example", { limit = 4, filters = { include = { size = "51-200" } } }))
      assert.same(domains(page.results), domains(decoded_lines(out)))
    end)

    it("--all pages through the lookalikes", function()
      local out, err, status = run_extruct(mock, { "companies", "similar", "acme.example", "--all", "--page-size", "10" })
      assert.equal(0, status, err)
      local all = decoded_lines(out)
      assert.is_true(#all > 10)
      assert.equal(math.floor(#all / 10) + 1, #api_requests(mock, "GET", "/v1/companies/acme.example/similar"))
    end)

    it("exits 1 with kind not_found for a company the index does not hold", function()
      local out, err, status = run_extruct(mock, { "companies", "similar", "nowhere.example" })
      assert.equal(1, status)
      assert.equal("", out)
      assert.matches("^extruct: not_found: company 'nowhere.example' ", err)
    end)
  end)

  describe("companies get", function()
    it("prints the profile as one JSON document, indented with --pretty", function()
      local out, err, status = run_extruct(mock, { "companies", "get", "acme.example" })
      assert.equal(0, status, err)
      assert.equal(1, #lines_of(out))
      local company = assert(extruct.decode(out))
      assert.same(assert(client:get_company("acme.example")), company)
      out = run_extruct(mock, { "companies", "get", company.id, "--pretty" })
      assert.truthy(#lines_of(out) > 5)
      assert.same(company, cjson.decode(out))
    end)

    it("exits 1 with kind not_found for an unknown company", function()
      local out, err, status = run_extruct(mock, { "companies", "get", "nowhere.example" })
      assert.equal(1, status)
      assert.equal("", out)
      assert.matches("^extruct: not_found: ", err)
    end)
  end)

  describe("refuse before sending anything", function()
    support.usage_error_cases(fixture, {
      { args = { "companies", "search" }, says = "missing QUERY", hint = "companies search" },
      { args = { "companies", "search", "  " }, says = "the QUERY is blank", hint = "companies search" },
      { args = { "companies", "search", "x", "--size", "51-100" },
        says = "option --size wants a company size: 1-10, 11-50,", hint = "companies search" },
      { args = { "companies", "search", "x", "--founded-min", "2020", "--founded-max", "2010" },
        says = "--founded-min (2020) is after --founded-max (2010)", hint = "companies search" },
      { args = { "companies", "search", "x", "--founded-min", "soon" }, says = "option --founded-min wants a whole",
        hint = "companies search" },
      { args = { "companies", "search", "x", "--filters", "{include" }, says = "--filters is not valid JSON",
        hint = "companies search" },
      { args = { "companies", "search", "x", "--filters", "[1]" }, says = "--filters must be a JSON object",
        hint = "companies search" },
      { args = { "companies", "search", "x", "--filters", '{"include": {"region": ["EU"]}}' },
        says = "filters.include: unknown key 'region'", hint = "companies search" },
      { args = { "companies", "search", "x", "--filters", '{"include": {"size": ["2-3"]}}', "--size", "1-10" },
        says = "filters.include.size[1]: '2-3' is not a company size", hint = "companies search" },
      { args = { "companies", "search", "x", "--page-size", "10" }, says = "option --page-size needs --all",
        hint = "companies search" },
      { args = { "companies", "search", "x", "--all", "--page-size", "251" },
        says = "option --page-size wants a whole number from 1 to 250", hint = "companies search" },
      { args = { "companies", "search", "x", "--limit", "251" }, says = "--limit is at most 250 for one request",
        hint = "companies search" },
      { args = { "companies", "search", "x", "--offset", "-1" }, says = "option --offset wants a whole number >= 0",
        hint = "companies search" },
      { args = { "companies", "similar", "acme.example", "--json" },
        says = "option --json does not apply to 'companies similar'", hint = "companies similar" },
      { args = { "companies", "get" }, says = "missing IDENTIFIER", hint = "companies get" },
      { args = { "companies", "get", "acme.example", "--limit", "2" },
        says = "option --limit does not apply to 'companies get'", hint = "companies get" },
    })
  end)
end)
