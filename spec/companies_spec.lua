-- Companies: search, lookalikes and lookup against the mock over HTTP.
-- What each call sends (method, path, query, JSON body) is read from the
-- mock's request log; filters are checked before anything is sent.
local helpers = require("spec.helpers")
local request_log = require("spec.support.request_log")

local function pack(...) return { n = select("#", ...), ... } end

describe("companies", function()
  local session = helpers.mock_and_client{ single_attempt = true }

  describe("search_companies", function()
    it("sends POST /v1/companies/search with q and pagination in a JSON body, and answers one page", function()
      local r = pack(session.client:search_companies("logistics software", { offset = 1, limit = 3 }))
      assert.equal(1, r.n)
      local page = r[1]
      local request = request_log.only(session.mock)
      assert.equal("POST", request.method)
      assert.equal("/v1/companies/search", request.target)
      assert.same({ q = "logistics software", pagination = { offset = 1, limit = 3 } }, request.body)
      assert.equal(3, #page.results)
      assert.equal("logistics software", page.request.query)
      assert.equal(1, page.request.offset)
      for _, company in ipairs(page.results) do
        assert.is_string(company.domain)
        assert.is_true(company.relevance_score > 0)
      end
      assert.equal(200, session.client.last_response.status)
    end)

    it("sends nothing but q when no option is given", function()
      assert(session.client:search_companies("fintech"))
      assert.equal('{"q":"fintech"}', request_log.only(session.mock).raw_body)
    end)

    it("sends filters as a JSON object beside q and pagination; a single string is a list of one", function()
      local filters = {
        include = { country = { "United States", "Germany" }, size = "51-200" },
        exclude = { city = { "Austin" }, domains = { "kleio.example" } },
        range = { founded = { min = 2010, max = 2020 } },
      }
      local page = assert(session.client:search_companies("software", { filters = filters, limit = 5, offset = 10 }))
      assert.same({
        q = "software",
        filters = {
          include = { country = { "United States", "Germany" }, size = { "51-200" } },
          exclude = { city = { "Austin" }, domains = { "kleio.example" } },
          range = { founded = { min = 2010, max = 2020 } },
        },
        pagination = { offset = 10, limit = 5 },
      }, request_log.only(session.mock).body)
      assert.equal(5, #page.results)
      for _, company in ipairs(page.results) do
        assert.equal("51-200", company.employee_count)
        assert.is_true(company.hq_country == "United States" or company.hq_country == "Germany", company.hq_country)
        assert.is_true(company.founding_year >= 2010 and company.founding_year <= 2020)
      end
    end)

    it("sends an empty list as a JSON array", function()
      assert(session.client:search_companies("software", { filters = { include = { city = {} } } }))
      local request = request_log.only(session.mock)
      assert.matches('"filters":{"include":{"city":[]}}', request.raw_body, 1, true)
      assert.equal("software", request.body.q)
    end)

    it("sends exclude.domains as registered domains, each once: 1,200 entries naming 1,000 domains go", function()
      local entries = {}
      for i = 1, 1000 do entries[i] = ("company%d.com"):format(i) end
      for i = 1, 200 do entries[#entries + 1] = ("https://www.Company%d.com/pricing"):format(i) end
      local page = assert(session.client:search_companies("software", {
        limit = 3, filters = { exclude = { domains = entries } } }))
      local sent = request_log.only(session.mock).body.filters.exclude.domains
      assert.equal(1000, #sent)
      assert.equal("company1.com", sent[1])
      assert.equal("company1000.com", sent[1000])
      assert.equal(3, #page.results)
      assert.equal(1000, #page.request.filters.exclude.domains)
    end)

    it("method = \"GET\" sends the deprecated GET form: the page in the query, filters as JSON text", function()
      local page = assert(session.client:search_companies("logistics software", {
        method = "GET", offset = 1, limit = 3, filters = { exclude = { domains = { "https://www.Globex.example/" } } } }))
      local request = request_log.only(session.mock)
      assert.equal("GET", request.method)
      assert.same({ q = "logistics software", offset = "1", limit = "3",
                    filters = '{"exclude":{"domains":["globex.example"]}}' }, request.query)
      assert.is_nil(request.body)
      assert.equal(3, #page.results)
    end)

    it("a server that answers the POST form with 405 is asked the same page as GET", function()
      session.mock:fault{ path = "/v1/companies/search", status = 405 }
      local page = assert(session.client:search_companies("logistics software", { offset = 2, limit = 4,
        filters = { include = { country = { "United States" } } } }))
      local requests = request_log.requests(session.mock)
      assert.equal(2, #requests)
      assert.equal("POST", requests[1].method)
      assert.equal("GET", requests[2].method)
      assert.same({ q = "logistics software", offset = "2", limit = "4",
                    filters = '{"include":{"country":["United States"]}}' }, requests[2].query)
      assert.equal(4, #page.results)
      assert.equal(200, session.client.last_response.status)
    end)

    describe("refuses before sending anything", function()
      local function refused(filters, pattern)
        local ok, message = pcall(session.client.search_companies, session.client, "software", { filters = filters })
        assert.is_false(ok)
        assert.matches(pattern, message, 1, true)
        assert.same({}, session.mock:requests())
        return message
      end

      it("an unknown key at any level", function()
        refused({ includes = {} }, "filters: unknown key 'includes' (the keys are: include, exclude, range)")
        refused({ include = { industry = { "saas" } } },
          "filters.include: unknown key 'industry' (the keys are: country, city, size)")
        refused({ include = { domains = { "a.example" } } }, "filters.include: unknown key 'domains'")
        refused({ exclude = { founded = {} } }, "filters.exclude: unknown key 'founded'")
        refused({ range = { employees = {} } }, "filters.range: unknown key 'employees' (the keys are: founded)")
        refused({ range = { founded = { from = 2000 } } },
          "filters.range.founded: unknown key 'from' (the keys are: min, max)")
      end)

      it("a size that is not one of the API's buckets, naming them", function()
        refused({ include = { size = { "11-50", "51-100" } } },
          "filters.include.size[2]: '51-100' is not a company size (the sizes are: 1-10, 11-50, 51-200, 201-500,"
          .. " 501-1000, 1001-5000, 5001-10000, 10001+)")
        refused({ exclude = { size = "10000+" } }, "filters.exclude.size[1]: '10000+' is not a company size")
      end)

      it("a founding year that is not a whole number, or a range the wrong way round", function()
        refused({ range = { founded = { min = 2015.5 } } },
          "filters.range.founded.min must be a whole number (a year), got 2015.5")
        refused({ range = { founded = { max = "2020" } } },
          "filters.range.founded.max must be a whole number (a year), got string")
        refused({ range = { founded = { min = 2020, max = 2010 } } },
          "filters.range.founded: min (2020) is after max (2010)")
      end)

      it("more than 1,000 distinct excluded domains, naming the limit; an entry that is no domain", function()
        local entries = {}
        for i = 1, 1001 do entries[i] = ("company%d.com"):format(i) end
        refused({ exclude = { domains = entries } }, "filters.exclude.domains: 1001 distinct domains once each is"
          .. " read as its registered domain (www.stripe.com/pricing and blog.stripe.com are stripe.com); the API"
          .. " takes at most 1000")
        refused({ exclude = { domains = { "acme.example", "localhost" } } },
          "filters.exclude.domains[2]: 'localhost' is not a domain or URL: a domain has at least two labels")
      end)

      it("lists that are not lists of strings, and filters that are not a table", function()
        refused({ include = { country = { "France", 7 } } },
          "filters.include.country must be a list of strings (keys 1..n), got number at [2]")
        refused({ include = "France" }, "filters.include must be a table, got string")
        refused("{}", "option 'filters' must be a table")
      end)

      it("raised at the caller's line, naming the function", function()
        local message = refused({ include = { size = { "huge" } } }, "'huge' is not a company size")
        assert.matches("^[^:]*companies_spec%.lua:%d+: extruct%.search_companies: filters", message)
      end)

      it("a blank query, a limit above 250, an unknown option or method", function()
        local client = session.client
        for _, case in ipairs({
          { function() client:search_companies("") end, "the query must be a non-blank string, got an empty string" },
          { function() client:search_companies("  ") end, "the query must be a non-blank string, got only blanks" },
          { function() client:search_companies(nil) end, "the query must be a non-blank string, got nil" },
          { function() client:search_companies("x", { limit = 251 }) end,
            "option 'limit' must be a whole number from 1 to 250" },
          { function() client:search_companies("x", { page = 2 }) end, "unknown option 'page'" },
          { function() client:search_companies("x", { method = "PUT" }) end,
            "option 'method' must be \"POST\" (the default) or \"GET\"" },
        }) do
          local ok, message = pcall(case[1])
          assert.is_false(ok)
          assert.matches(case[2], message, 1, true)
        end
        assert.same({}, session.mock:requests())
      end)
    end)

    it("a 422 from the API is a validation error; a 405 to GET is not asked again", function()
      session.mock:fault{ path = "/v1/companies/search", status = 422, detail = "bad filters" }
      local page, err = session.client:search_companies("software")
      assert.is_nil(page)
      assert.equal("validation", err.kind)
      session.mock:reset()
      session.mock:fault{ path = "/v1/companies/search", status = 405 }
      page, err = session.client:search_companies("software", { method = "GET" })
      assert.is_nil(page)
      assert.equal(405, err.status)
      assert.equal(1, #session.mock:requests())
    end)
  end)

  describe("similar_companies", function()
    it("sends POST with the identifier as one path segment, a URL's slashes included", function()
      local r = pack(session.client:similar_companies("https://www.acme.example/about", { limit = 4 }))
      assert.equal(1, r.n)
      local request = request_log.only(session.mock)
      assert.equal("POST", request.method)
      assert.equal("/v1/companies/https%3A%2F%2Fwww.acme.example%2Fabout/similar", request.target)
      assert.same({ pagination = { limit = 4 } }, request.body)
      assert.equal("acme.example", r[1].reference_company.domain)
      assert.equal(4, #r[1].results)
      for _, company in ipairs(r[1].results) do assert.are_not.equal("acme.example", company.domain) end
    end)

    it("takes the same filters, offset and limit; no option sends an empty object", function()
      local page = assert(session.client:similar_companies("globex.example", {
        offset = 10, limit = 5, filters = { include = { country = { "United States" } } },
      }))
      local request = request_log.only(session.mock)
      assert.equal("/v1/companies/globex.example/similar", request.path)
      assert.same({ filters = { include = { country = { "United States" } } }, pagination = { offset = 10, limit = 5 } },
        request.body)
      assert.equal(5, #page.results)
      for _, company in ipairs(page.results) do assert.equal("United States", company.hq_country) end
      session.mock:reset()
      assert(session.client:similar_companies("stripe.com"))
      assert.equal("{}", request_log.only(session.mock).raw_body)
    end)

    it("method = \"GET\" and the 405 fallback work as for search", function()
      assert(session.client:similar_companies("globex.example", { method = "GET", limit = 2 }))
      assert.equal("GET /v1/companies/globex.example/similar?limit=2",
        request_log.only(session.mock).method .. " " .. request_log.only(session.mock).target)
      session.mock:reset()
      session.mock:fault{ path = "/v1/companies/globex.example/similar", status = 405 }
      assert(session.client:similar_companies("globex.example", { limit = 2 }))
      local requests = request_log.requests(session.mock)
      assert.same({ "POST", "GET" }, { requests[1].method, requests[2].method })
    end)

    it("an unknown company is not_found, naming it", function()
      local page, err = session.client:similar_companies("nowhere.invalid")
      assert.is_nil(page)
      assert.equal("not_found", err.kind)
      assert.matches("company 'nowhere.invalid'", err.message, 1, true)
    end)

    it("refuses bad filters and an empty identifier before sending anything", function()
      local bad = { filters = { include = { size = { "x" } } } }
      assert.error_matches(function() session.client:similar_companies("acme.example", bad) end,
        "extruct.similar_companies: filters.include.size[1]: 'x' is not a company size (the sizes are: 1-10, 11-50, 51-200, 2"
        .. "01-500, 501-1000, 1001-5000, 5001-10000, 10001+)", nil, true)
      assert.error_matches(function() session.client:similar_companies("") end,
        "extruct.similar_companies: the company identifier must be a non-empty string, got an empty string", nil, true)
      assert.same({}, session.mock:requests())
    end)
  end)

  describe("get_company", function()
    it("sends GET /v1/companies/{identifier} and answers the profile", function()
      local r = pack(session.client:get_company("https://acme.example/"))
      assert.equal(1, r.n)
      local request = request_log.only(session.mock)
      assert.equal("GET", request.method)
      assert.equal("/v1/companies/https%3A%2F%2Facme.example%2F", request.target)
      assert.equal("acme.example", r[1].domain)
      assert.equal("Acme", r[1].name)
    end)

    it("takes the company's id as well; any domain is a company of the mock", function()
      local profile = assert(session.client:get_company("acme.example"))
      assert.equal("acme.example", assert(session.client:get_company(profile.id)).domain)
      local stripe = assert(session.client:get_company("https://www.Stripe.com/about"))
      assert.equal("stripe.com", stripe.domain)
      assert.equal(stripe.id, assert(session.client:get_company("stripe.com")).id)
    end)

    it("an unknown company is not_found; no body is a decode error", function()
      local profile, err = session.client:get_company("nowhere.invalid")
      assert.is_nil(profile)
      assert.equal("not_found", err.kind)
      session.mock:fault{ path = "/v1/companies/acme.example", status = 204, mode = "empty" }
      profile, err = session.client:get_company("acme.example")
      assert.is_nil(profile)
      assert.equal("decode", err.kind)
    end)
  end)

  describe("iterators", function()
    local function collect(iterator, most)
      local items = {}
      for item, err in iterator do
        assert(item, err and tostring(err))
        items[#items + 1] = item
        if #items == most then break end
      end
      return items
    end

    it("iter_search_companies pages through 40 results with pagination.offset", function()
      local first = assert(session.client:search_companies("software", { limit = 40 })).results
      session.mock:reset()
      local companies = collect(session.client:iter_search_companies("software", { limit = 10 }), 40)
      assert.equal(40, #companies)
      for i, company in ipairs(companies) do assert.equal(first[i].domain, company.domain) end
      local offsets = {}
      for i, request in ipairs(request_log.requests(session.mock)) do
        assert.equal("POST", request.method)
        assert.equal("/v1/companies/search", request.path)
        assert.equal("software", request.body.q)
        assert.equal(10, request.body.pagination.limit)
        offsets[i] = request.body.pagination.offset
      end
      assert.same({ 0, 10, 20, 30 }, offsets)
    end)

    it("ends at a short page: on the free plan a query reads 25 results", function()
      session.mock:control("POST", "/_mock/account", { plan = "free" })
      local companies = collect(session.client:iter_search_companies("software", { limit = 10 }))
      assert.equal(25, #companies)
      assert.equal(3, #request_log.requests(session.mock)) -- 10, 10, 5
    end)

    it("iter_search_companies keeps the filters on every page and starts at offset", function()
      local filters = { exclude = { country = { "United States" } } }
      local companies = collect(session.client:iter_search_companies("software", {
        filters = filters, limit = 3, offset = 1,
      }), 9)
      assert.equal(9, #companies)
      for _, company in ipairs(companies) do assert.are_not.equal("United States", company.hq_country) end
      local requests = request_log.requests(session.mock)
      assert.equal(1, requests[1].body.pagination.offset)
      for _, request in ipairs(requests) do assert.same(filters, request.body.filters) end
    end)

    it("a 405 switches the rest of the loop to GET", function()
      session.mock:fault{ path = "/v1/companies/search", status = 405 }
      local companies = collect(session.client:iter_search_companies("software", { limit = 10 }), 30)
      assert.equal(30, #companies)
      local methods = {}
      for i, request in ipairs(request_log.requests(session.mock)) do methods[i] = request.method end
      assert.same({ "POST", "GET", "GET", "GET" }, methods)
    end)

    it("iter_similar_companies pages through the lookalikes", function()
      local companies = collect(session.client:iter_similar_companies("https://acme.example", { limit = 10 }), 25)
      assert.equal(25, #companies)
      local requests = request_log.requests(session.mock)
      assert.equal(3, #requests)
      for _, request in ipairs(requests) do
        assert.equal("/v1/companies/https%3A%2F%2Facme.example/similar", request.target)
      end
    end)

    it("a page that fails ends the loop with false, err", function()
      session.mock:fault{ path = "/v1/companies/search", status = 500, count = 1 }
      local seen = {}
      for item, err in session.client:iter_search_companies("software") do
        seen[#seen + 1] = { item, err }
      end
      assert.equal(1, #seen)
      assert.is_false(seen[1][1])
      assert.equal("server", seen[1][2].kind)
    end)

    it("return one value, the iterator", function()
      assert.equal(1, select("#", session.client:iter_search_companies("software")))
      assert.equal(1, select("#", session.client:iter_similar_companies("acme.example")))
      assert.same({}, session.mock:requests()) -- nothing is fetched before the loop asks
    end)
  end)
end)

describe("extruct.filters.check", function()
  local filters = require("extruct.filters")

  it("returns the filters to send, or nil and what is wrong, without raising", function()
    local checked = assert(filters.check({ include = { size = "1-10" } }))
    assert.same({ "1-10" }, checked.include.size)
    assert.equal(require("extruct").array_mt, getmetatable(checked.include.size))
    local none, why = filters.check({ include = { size = { "2-9" } } })
    assert.is_nil(none)
    assert.matches("filters.include.size[1]: '2-9' is not a company size", why, 1, true)
    assert.is_nil((filters.check(42)))
  end)

  it("lists the API's size buckets", function()
    assert.same({ "1-10", "11-50", "51-200", "201-500", "501-1000", "1001-5000", "5001-10000", "10001+" },
      filters.SIZES)
  end)
end)
