-- The `extruct companies` commands (search, similar, get), run as a real
-- bin/extruct subprocess against the mock server: the JSON lines they
-- print, the requests they send (POST bodies: the query, the paging, the
-- filters), and the filters they refuse before sending anything.
local helpers = require("spec.helpers")
local support = require("spec.support.cli")
local extruct = require("extruct")
local cjson = require("cjson")
local companies_commands = require("extruct.cli.companies")

local run_extruct, lines_of, api_requests = support.run_extruct, support.lines_of, support.api_requests
local unpack = table.unpack or unpack

-- The decoded JSON bodies of the POST requests to a path prefix.
local function bodies(mock, path)
  local list = {}
  for i, request in ipairs(api_requests(mock, "POST", path)) do list[i] = cjson.decode(request.body) end
  return list
end

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
  local mock, client, work
  local fixture = support.against_mock({ ".txt", ".many", ".bad", ".none" },
    function(s) mock, client, work = s.mock, s.client, s.work end)

  describe("companies search", function()
    it("prints one page of companies, best first, one JSON object a line", function()
      local out, err, status = run_extruct(mock, { "companies", "search", "banking software" })
      assert.equal(0, status, err)
      assert.equal("", err)
      local page = assert(client:search_companies("banking software"))
      assert.same(page.results, decoded_lines(out))
      assert.same({ q = "banking software" }, bodies(mock, "/v1/companies/search")[1])
    end)

    it("sends --limit and --offset as the page to read", function()
      local out, err, status = run_extruct(mock, { "companies", "search", "software", "--limit", "3", "--offset", "2" })
      assert.equal(0, status, err)
      assert.same({ q = "software", pagination = { limit = 3, offset = 2 } }, bodies(mock, "/v1/companies/search")[1])
      assert.same(assert(client:search_companies("software", { limit = 3, offset = 2 })).results, decoded_lines(out))
    end)

    it("--all pages through every result, --page-size a request; --limit stops it", function()
      mock:control("POST", "/_mock/account", { plan = "free" }) -- 25 results a query
      local every = {}
      for company in client:iter_search_companies("software") do every[#every + 1] = assert(company) end
      mock:reset()
      mock:control("POST", "/_mock/account", { plan = "free" })
      local out, err, status = run_extruct(mock, { "companies", "search", "software", "--all", "--page-size", "5" })
      assert.equal(0, status, err)
      assert.equal(25, #every)
      assert.same(domains(every), domains(decoded_lines(out)))
      local pages = bodies(mock, "/v1/companies/search")
      assert.equal(math.floor(#every / 5) + 1, #pages)
      assert.equal(5, pages[2].pagination.offset)

      mock:reset()
      mock:control("POST", "/_mock/account", { plan = "free" })
      out, err, status = run_extruct(mock, { "companies", "search", "software", "--all", "--limit", "7",
        "--offset", "1" })
      assert.equal(0, status, err)
      assert.same({ unpack(domains(every), 2, 8) }, domains(decoded_lines(out)))
      pages = bodies(mock, "/v1/companies/search")
      assert.equal(1, #pages, "one request of 7")
      assert.equal(7, pages[1].pagination.limit)
    end)

    it("sends the filter options as the API's JSON, added to --filters", function()
      local out, err, status = run_extruct(mock, { "companies", "search", "software",
        "--country", "United States", "--country", "Germany", "--city", "Austin", "--size", "501-1000",
        "--size", "1001-5000", "--exclude-country", "France", "--exclude-city", "Paris", "--exclude-size", "1-10",
        "--exclude-domain", "initech.example", "--founded-min", "1980", "--founded-max", "2000",
        "--filters", '{"include": {"country": "Japan"}, "exclude": {"domains": ["hooli.example"]}}' })
      assert.equal(0, status, err)
      assert.same({
        include = { country = { "Japan", "United States", "Germany" }, city = { "Austin" },
                    size = { "501-1000", "1001-5000" } },
        exclude = { country = { "France" }, city = { "Paris" }, size = { "1-10" },
                    domains = { "hooli.example", "initech.example" } },
        range = { founded = { min = 1980, max = 2000 } },
      }, bodies(mock, "/v1/companies/search")[1].filters)
      local found = decoded_lines(out)
      assert.equal("globex.example", found[1].domain)
      for _, company in ipairs(found) do
        assert.truthy(company.hq_city == "Austin", company.domain)
        assert.truthy(company.founding_year >= 1980 and company.founding_year <= 2000, company.domain)
      end
    end)

    it("--exclude-domains-file reads a domain or URL a line, added to --exclude-domain, sent once each", function()
      local path = work .. ".txt"
      helpers.write_file(path, "# our customers\nhttps://www.Globex.example/about\n\n  initech.example  \r\n"
        .. "blog.globex.example\n")
      local out, err, status = run_extruct(mock, { "companies", "search", "logistics software", "--limit", "5",
        "--exclude-domain", "hooli.example", "--exclude-domains-file", path })
      assert.equal(0, status, err)
      assert.same({ "hooli.example", "globex.example", "initech.example" },
        bodies(mock, "/v1/companies/search")[1].filters.exclude.domains)
      for _, company in ipairs(decoded_lines(out)) do
        assert.is_nil(({ ["globex.example"] = 1, ["initech.example"] = 1, ["hooli.example"] = 1 })[company.domain])
      end
      mock:reset()
      out, err, status = run_extruct(mock, { "companies", "similar", "stripe.com", "--limit", "2",
        "--exclude-domains-file", "-" }, { stdin = "adyen.com\n" })
      assert.equal(0, status, err)
      assert.equal(2, #decoded_lines(out))
      assert.same({ "adyen.com" }, bodies(mock, "/v1/companies/stripe.com/similar")[1].filters.exclude.domains)
    end)

    it("refuses a file past 1,000 domains, or with a line that is no domain, naming the line; sends nothing",
      function()
      local many = {}
      for i = 1, 1001 do many[i] = ("company%d.com"):format(i) end
      helpers.write_file(work .. ".many", table.concat(many, "\n"))
      local out, err, status = run_extruct(mock, { "companies", "search", "x", "--exclude-domains-file",
        work .. ".many" })
      support.assert_usage_error(out, err, status, "companies search")
      assert.matches("filters.exclude.domains: 1001 distinct domains", err, 1, true)
      assert.matches("the API takes at most 1000", err, 1, true)
      many[1001] = "https://www.company1.com/pricing" -- 1,001 lines, 1,000 domains: taken
      helpers.write_file(work .. ".many", table.concat(many, "\n"))
      out, err, status = run_extruct(mock, { "companies", "search", "software", "--limit", "1", "--exclude-domains-file",
        work .. ".many" })
      assert.equal(0, status, err)
      assert.equal(1, #decoded_lines(out))
      assert.equal(1000, #bodies(mock, "/v1/companies/search")[1].filters.exclude.domains)
      mock:reset()
      helpers.write_file(work .. ".bad", "acme.example\n\nlocalhost\n")
      out, err, status = run_extruct(mock, { "companies", "search", "x", "--exclude-domains-file", work .. ".bad" })
      support.assert_usage_error(out, err, status, "companies search")
      assert.matches(work .. ".bad, line 3: 'localhost' is not a domain or URL: a domain has at least two labels",
        err, 1, true)
      out, err, status = run_extruct(mock, { "companies", "search", "x", "--exclude-domains-file", work .. ".none" })
      support.assert_usage_error(out, err, status, "companies search")
      assert.matches("cannot read " .. work .. ".none", err, 1, true)
      assert.same({}, mock:requests())
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
      local sent = api_requests(mock, "POST")[1]
      assert.equal("/v1/companies/https%3A%2F%2Fwww.acme.example%2Fabout/similar", sent.target)
      assert.same({ filters = { include = { size = { "51-200" } } }, pagination = { limit = 4 } }, cjson.decode(sent.body))
      local page = assert(client:similar_companies("acme.example", { limit = 4, filters = { include = { size = "51-200" } } }))
      assert.same(domains(page.results), domains(decoded_lines(out)))
    end)

    it("--all pages through the lookalikes", function()
      mock:control("POST", "/_mock/account", { plan = "free" }) -- 25 results a query
      local out, err, status = run_extruct(mock, { "companies", "similar", "acme.example", "--all", "--page-size", "10" })
      assert.equal(0, status, err)
      local all = decoded_lines(out)
      assert.equal(25, #all)
      assert.equal(3, #api_requests(mock, "POST", "/v1/companies/acme.example/similar"))
    end)

    it("exits 1 with kind not_found for a company the index does not hold", function()
      local out, err, status = run_extruct(mock, { "companies", "similar", "nowhere.invalid" })
      assert.equal(1, status)
      assert.equal("", out)
      assert.matches("^extruct: not_found: company 'nowhere.invalid' ", err)
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
      local out, err, status = run_extruct(mock, { "companies", "get", "nowhere.invalid" })
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
      { args = { "companies", "similar", "acme.example", "--format", "csv", "--pretty" },
        says = "option --pretty shapes JSON: it does not go with --format csv", hint = "companies similar" },
      { args = { "companies", "similar", "acme.example", "--json", "--format", "json" },
        says = "--json and --format json exclude each other", hint = "companies similar" },
      { args = { "companies", "get" }, says = "missing IDENTIFIER", hint = "companies get" },
      { args = { "companies", "get", "acme.example", "--limit", "2" },
        says = "option --limit does not apply to 'companies get'", hint = "companies get" },
    })
  end)
end)
