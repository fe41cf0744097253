-- Specs for the account of the mock's offline Extruct
-- (lua/extruct/mock/fake/account.lua): GET /v1/user, GET /v1/billing, the
-- plan (--plan, /_mock/account) and the 402 answers it leads to, over HTTP.

local cjson = require("cjson")
local helpers = require("spec.helpers")

local session = helpers.mock_and_client{ single_attempt = true }
local api = require("spec.support.fake_requests")(session)
local ok, fails = api.ok, api.fails

local function set_account(params)
  return session.mock:control("POST", "/_mock/account", params)
end

-- Every kind of Pro-gated mutation, and a GET beside each that stays open.
local MUTATIONS = {
  { "POST", "/v1/tables", { name = "x" } },
  { "PATCH", "/v1/tables/tbl_idle", { name = "y" } },
  { "DELETE", "/v1/tables/tbl_idle" },
  { "POST", "/v1/tables/tbl_idle/run", {} },
  { "POST", "/v1/tables/tbl_idle/rows", { rows = {} } },
  { "POST", "/v1/tables/tbl_idle/clone" },
  { "POST", "/v1/discovery_tasks", { query = "logistics software" } },
  { "POST", "/v1/deep_research_tasks", { brief = "Research Acme (acme.example)." } },
}
local READS = { "/v1/tables", "/v1/tables/tbl_idle", "/v1/tables/tbl_idle/data", "/v1/discovery_tasks",
                "/v1/deep_research_tasks", "/v1/companies/search?q=ai", "/v1/user", "/v1/billing" }

describe("the offline Extruct's account", function()
  it("GET /v1/user: the user and the credits", function()
    local user = ok("GET", "/v1/user")
    assert.same({ user_id = "usr_mock_0001", email = "owner@example.com", name = "Mock User",
                  available_credits = 1000, organization_id = "org_mock_0001",
                  organization_name = "Mock organization", organization_slug = "mock-organization",
                  organization_is_active = true }, user)
    set_account{ credits = 7 }
    assert.equal(7, ok("GET", "/v1/user").available_credits)
  end)

  it("GET /v1/billing: the user and the subscription, Pro by default", function()
    local billing = ok("GET", "/v1/billing")
    assert.same({ plan_tier = "pro", requires_subscription = false, status = "active" }, billing.subscription)
    assert.equal("org_mock_0001", billing.user.organization_id)
    assert.is_true(billing.user.organization_is_active)
    assert.equal(1000, billing.user.available_credits)
    local status, body = session.mock:http("GET", "/v1/billing")
    assert.equal(401, status)
    assert.same({ detail = "Could not validate credentials" }, cjson.decode(body))
  end)

  it("/_mock/account sets the plan, the credits and a failed payment; answers the billing", function()
    local billing = set_account{ plan = "free", credits = 3 }
    assert.same({ plan_tier = "free", requires_subscription = true, status = "active" }, billing.subscription)
    assert.equal(3, billing.user.available_credits)
    billing = set_account{ plan = "starter", payment_failed = "true" }
    assert.same({ plan_tier = "starter", requires_subscription = false, status = "past_due" }, billing.subscription)
    assert.is_false(billing.user.organization_is_active)
    assert.equal(3, billing.user.available_credits)
    assert.same(billing, ok("GET", "/v1/billing"))
    for _, params in ipairs({ { plan = "gold" }, { credits = "-1" }, { credits = "many" },
                              { payment_failed = "yes" }, { colour = "red" } }) do
      local status, answer = session.mock:call("POST", "/_mock/account", params)
      assert.equal(400, status)
      assert.is_string(answer.detail)
    end
    session.mock:reset()
    assert.equal("pro", ok("GET", "/v1/billing").subscription.plan_tier)
  end)

  it("on another plan than Pro, every Pro-gated mutation answers 402 plan_required; reads stay open", function()
    for _, plan in ipairs({ "free", "starter" }) do
      set_account{ plan = plan }
      for _, mutation in ipairs(MUTATIONS) do
        local detail = fails(402, mutation[1], mutation[2], mutation[3])
        assert.equal("plan_required", detail.error, mutation[2])
        assert.equal("pro", detail.required_plan)
        assert.equal(plan, detail.plan_tier)
        assert.is_string(detail.message)
      end
      for _, path in ipairs(READS) do
        local status = session.mock:http("GET", path, { authorization = "Bearer " .. session.mock.token })
        assert.equal(200, status, path)
      end
    end
    assert.equal("Idle table", ok("GET", "/v1/tables/tbl_idle").name) -- nothing was changed
    assert.equal(2, #ok("GET", "/v1/tables"))
  end)

  it("a failed payment answers 402 payment_failed, even on Pro", function()
    set_account{ payment_failed = "true" }
    for _, mutation in ipairs(MUTATIONS) do
      local detail = fails(402, mutation[1], mutation[2], mutation[3])
      assert.equal("payment_failed", detail.error, mutation[2])
      assert.is_string(detail.message)
    end
    set_account{ payment_failed = "false" }
    ok("POST", "/v1/tables", { name = "x" })
  end)

  it("what spends credits needs them: 402 insufficient_credits with required and available credits", function()
    set_account{ credits = 0 }
    local t = ok("POST", "/v1/tables", { name = "x", column_configs = {
      { kind = "input", name = "Website", key = "website" },
      { kind = "agent", name = "Summary", key = "summary", value = { prompt = "What does {website} sell?" } } } })
    ok("POST", "/v1/tables/" .. t.id .. "/rows", { rows = { { data = { website = "acme.example" } } } })
    for _, spend in ipairs({
      { "POST", "/v1/tables/" .. t.id .. "/run", {}, 1 },
      { "POST", "/v1/tables/" .. t.id .. "/rows", { rows = { { data = { website = "b.example" } } }, run = true }, 1 },
      { "POST", "/v1/discovery_tasks", { query = "logistics software" }, 1 },
      { "POST", "/v1/deep_research_tasks", { brief = "Research Acme." }, 25 },
      { "POST", "/v1/deep_research_tasks", { brief = "Research Acme.", depth = "xhigh" }, 75 },
    }) do
      local detail = fails(402, spend[1], spend[2], spend[3])
      assert.same({ "insufficient_credits", spend[4], 0 },
                  { detail.error, detail.required_credits, detail.available_credits }, spend[2])
    end
    assert.equal(1, ok("GET", "/v1/tables/" .. t.id).status.num_rows) -- the refused rows were not added
    set_account{ credits = 30 }
    ok("POST", "/v1/deep_research_tasks", { brief = "Research Acme." })
    assert.equal(75, fails(402, "POST", "/v1/deep_research_tasks", { brief = "Research Acme.", depth = "xhigh" })
      .required_credits)
    assert.equal(30, ok("GET", "/v1/user").available_credits) -- the mock never spends them
  end)

  it("401 comes before 402, and 402 before 404 and 422", function()
    set_account{ plan = "free" }
    local status = session.mock:http("POST", "/v1/tables", { authorization = "Bearer wrong" }, "{}")
    assert.equal(401, status)
    assert.equal("plan_required", fails(402, "DELETE", "/v1/tables/tbl_nope").error)
    assert.equal("plan_required", fails(402, "POST", "/v1/tables", { colour = "red" }).error)
  end)
end)

describe("extruct-mock --plan", function()
  it("starts the account on that plan; a bad plan is a usage error", function()
    local pipe = assert(io.popen(("sh -c 'echo $$; exec \"$0\" bin/extruct-mock --port 0 --quiet --plan free' %s")
      :format(helpers.shell_quote(helpers.LUA)), "r"))
    local pid = pipe:read("*l")
    local port = (pipe:read("*l") or ""):match("^extruct%-mock listening on http://127%.0%.0%.1:(%d+)$")
    local mock = setmetatable({ pipe = pipe, pid = tonumber(pid), port = tonumber(port), token = "mock-token",
                                host = "127.0.0.1", url = "http://127.0.0.1:" .. tostring(port) },
                              getmetatable(session.mock))
    local checked, err = pcall(function()
      assert.is_not_nil(port, "the mock did not start")
      local auth = { authorization = "Bearer mock-token" }
      local status, body = mock:http("GET", "/v1/billing", auth)
      assert.equal(200, status)
      assert.equal("free", cjson.decode(body).subscription.plan_tier)
      status, body = mock:http("POST", "/v1/tables", auth, '{"name": "x"}')
      assert.equal(402, status)
      assert.equal("plan_required", cjson.decode(body).detail.error)
      mock:reset() -- a reset keeps the plan of the command line
      assert.equal("free", cjson.decode((select(2, mock:http("GET", "/v1/billing", auth)))).subscription.plan_tier)
    end)
    mock:stop()
    assert(checked, err)
    for _, args in ipairs({ "--plan gold", "--plan", "--plan=" }) do
      local out, status = helpers.run(("%s bin/extruct-mock %s 2>&1"):format(helpers.LUA, args))
      assert.equal(2, status, args)
      assert.matches("--plan needs pro, starter or free", out, 1, true)
    end
    assert.error_matches(function() require("extruct.mock").new{ plan = "gold" } end,
      "extruct.mock.new: bad plan (pro, starter or free)", nil, true)
  end)
end)
