-- extruct.domains reads a domain or URL as its registered domain, for the
-- client (exclude.domains checked and sent by search_companies) and for the
-- mock server (exclude.domains counted, a company looked up). One table of
-- cases runs through both sides over HTTP; each outcome is written once.
local extruct = require("extruct")
local domains = require("extruct.domains")
local helpers = require("spec.helpers")
local request_log = require("spec.support.request_log")

-- input, the registered domain (nil: refused), words of the refusal
local CASES = {
  { "stripe.com", "stripe.com" },
  { "Stripe.COM", "stripe.com" },
  { "https://www.stripe.com/pricing", "stripe.com" },
  { "blog.stripe.com", "stripe.com" },
  { "  www.stripe.com.  ", "stripe.com" },
  { "http://user:secret@shop.stripe.com:8080/x?y=1#z", "stripe.com" },
  { "//cdn.stripe.com/app.js", "stripe.com" },
  { "bbc.co.uk", "bbc.co.uk" },
  { "https://news.bbc.co.uk/sport", "bbc.co.uk" },
  { "shop.example.com.au", "example.com.au" },
  { "a.b.c.example", "c.example" },
  { "my-company.io", "my-company.io" },
  { "xn--mnchen-3ya.de", "xn--mnchen-3ya.de" },
  { "", nil, "it is empty" },
  { "   ", nil, "it is empty" },
  { "https://", nil, "it names no host" },
  { "localhost", nil, "a domain has at least two labels (name.tld)" },
  { "http://localhost:8080/", nil, "a domain has at least two labels (name.tld)" },
  { "192.168.0.1", nil, "an IP address is not a domain" },
  { "co.uk", nil, "'co.uk' is a public suffix, not a company's domain" },
  { "stripe..com", nil, "it has an empty label (two dots in a row)" },
  { "-stripe.com", nil, "the label '-stripe' starts or ends with a hyphen" },
  { "stripe.c0m", nil, "'c0m' is not a top-level domain" },
  { "strïpe.com", nil, "it has non-ASCII characters (write an internationalized domain in its xn-- form)" },
  { "stripe com.io", nil, "'stripe com' holds a character a host name cannot" },
  { ("a"):rep(64) .. ".com", nil, "a label is longer than 63 characters" },
}

describe("extruct.domains.registered", function()
  it("reads each case as written, never raising", function()
    for _, case in ipairs(CASES) do
      local domain, why = domains.registered(case[1])
      assert.equal(case[2], domain, case[1])
      if case[2] == nil then assert.matches(case[3], why, 1, true) end
    end
    assert.same({ nil, "a domain is a string, got number" }, { domains.registered(42) })
  end)

  it("exclusion: registered domains, first seen first, each once; past 1,000 refused with the count", function()
    assert.same({ "stripe.com", "bbc.co.uk" },
      domains.exclusion({ "https://www.stripe.com/pricing", "bbc.co.uk", "stripe.com", "blog.stripe.com" }, "x"))
    local list, why, index = domains.exclusion({ "a.com", "localhost" }, "exclude.domains")
    assert.is_nil(list)
    assert.equal(2, index)
    assert.equal("exclude.domains[2]: 'localhost' is not a domain or URL: a domain has at least two labels (name.tld)",
      why)
    local many = {}
    for i = 1, 1001 do many[i] = ("c%d.com"):format(i) end
    list, why, index = domains.exclusion(many, "exclude.domains")
    assert.is_nil(list)
    assert.is_nil(index)
    assert.matches("exclude.domains: 1001 distinct domains once each is read as its registered domain", why, 1, true)
    assert.matches("the API takes at most 1000", why, 1, true)
    many[1001] = "https://www.c1000.com/"
    assert.equal(1000, #domains.exclusion(many, "exclude.domains"))
  end)
end)

describe("docs/api.md on extruct.domains", function()
  it("its example runs as written and prints what its --> comments say", function()
    local text = helpers.read_file("docs/api.md")
    local block = text:match("### `extruct%.domains%.registered`.-```lua\n(.-)```")
    assert.is_string(block, "no Lua block under extruct.domains.registered")
    local printed = {}
    local env = setmetatable({ print = function(...)
      local parts = {}
      for i = 1, select("#", ...) do parts[i] = tostring((select(i, ...))) end
      printed[#printed + 1] = table.concat(parts, "  ")
    end }, { __index = _G })
    local chunk = assert((loadstring or load)(block, "=docs/api.md"))
    if setfenv then setfenv(chunk, env) else chunk = assert(load(block, "=docs/api.md", "t", env)) end
    chunk()
    local said = {}
    for comment in block:gmatch("%-%->%s*([^\n]-)%s*\n") do said[#said + 1] = comment end
    assert.equal(3, #said)
    assert.same(said, printed)
  end)
end)

describe("one reading of a domain, client and mock", function()
  local session = helpers.mock_and_client{ single_attempt = true }

  it("the client sends exclude.domains as the cases' registered domains, and refuses the others unsent", function()
    for _, case in ipairs(CASES) do
      session.mock:reset()
      local ok, answer = pcall(session.client.search_companies, session.client, "software",
        { limit = 1, filters = { exclude = { domains = { "acme.example", case[1] } } } })
      if case[2] then
        assert(ok and answer, case[1])
        local sent = request_log.only(session.mock).body.filters.exclude.domains
        assert.same({ "acme.example", case[2] }, sent, case[1])
      else
        assert.is_false(ok, case[1])
        assert.matches("filters.exclude.domains[2]: ", answer, 1, true)
        assert.matches(case[3], answer, 1, true)
        assert.same({}, session.mock:requests())
      end
    end
  end)

  it("the mock counts exclude.domains the same way, and answers a company at the same domain", function()
    for _, case in ipairs(CASES) do
      local body = assert(extruct.encode{ q = "software", filters = { exclude = { domains = { case[1] } } } })
      local answer, err = session.client:request("POST", "/v1/companies/search", { body = body })
      if case[2] then
        assert(answer, case[1] .. ": " .. tostring(err))
        assert.same({ case[2] }, answer.request.filters.exclude.domains, case[1])
        local company = assert(session.client:get_company(case[1]))
        assert.equal(case[2], company.domain, case[1])
      else
        assert.is_nil(answer, case[1])
        assert.equal(422, err.status)
        assert.same({ "body", "filters", "exclude", "domains", 0 }, err.detail[1].loc)
        assert.matches(case[3], err.detail[1].msg, 1, true)
      end
    end
  end)
end)
