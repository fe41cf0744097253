-- `extruct user`, `extruct billing`, `extruct health`, what a 402 says, and
-- the --request-timeout every command takes, run as a real bin/extruct
-- subprocess against the mock server.
local helpers = require("spec.helpers")
local support = require("spec.support.cli")
local extruct = require("extruct")
local cjson = require("cjson")

local run_extruct, lines_of, api_requests = support.run_extruct, support.lines_of, support.api_requests

describe("extruct account commands", function()
  local mock, client, work
  support.against_mock({ ".json" }, function(s) mock, client, work = s.mock, s.client, s.work end)

  describe("user", function()
    it("prints the user, organization and credits as text; --json prints GET /v1/user as it is", function()
      local out, err, status = run_extruct(mock, { "user" })
      assert.equal(0, status, err)
      assert.equal("", err)
      assert.equal(table.concat({
        "user          Mock User <owner@example.com> (usr_mock_0001)",
        "organization  Mock organization (org_mock_0001), active",
        "credits       1000 available",
      }, "\n") .. "\n", out)

      out, err, status = run_extruct(mock, { "user", "--json" })
      assert.equal(0, status, err)
      assert.equal(1, #lines_of(out))
      assert.same(assert(client:get_user()), assert(extruct.decode(out)))
      local requests = api_requests(mock, "GET", "/v1/user")
      assert.equal(3, #requests)
      assert.equal("Bearer " .. mock.token, requests[1].headers.authorization)

      out, err, status = run_extruct(mock, { "user", "--json", "--pretty" })
      assert.equal(0, status, err)
      assert.truthy(#lines_of(out) > 3)
      assert.same(assert(client:get_user()), cjson.decode(out))
    end)

    it("--pretty and --compact need --json", function()
      local out, err, status = run_extruct(mock, { "user", "--pretty" })
      support.assert_usage_error(out, err, status, "user")
      assert.equal(0, #api_requests(mock))
    end)

    it("exits 1 with kind auth on a rejected token, and 2 without one", function()
      local out, err, status = run_extruct(mock, { "user" }, { env = { EXTRUCT_API_TOKEN = "not-the-token" } })
      assert.equal(1, status)
      assert.equal("", out)
      assert.matches("^extruct: auth: [^\n]*\n$", err)
      out, err, status = run_extruct(mock, { "user" }, { env = { EXTRUCT_API_TOKEN = false } })
      support.assert_usage_error(out, err, status, "")
    end)

    it("exits 1 at once with kind tls when --base-url asks https of the mock's plain-HTTP port", function()
      local url = "https://127.0.0.1:" .. mock.port
      local out, err, status = run_extruct(mock, { "user", "--base-url", url })
      assert.equal(1, status)
      assert.equal("", out)
      -- one attempt (a retried failure ends "(after N attempts)")
      assert.matches("^extruct: tls: GET " .. url:gsub("%p", "%%%0") .. "/v1/user: [^\n]*; no TLS handshake with this"
        .. " server: if the port serves plain HTTP, the URL should start with http://\n$", err)
      assert.equal(0, #api_requests(mock))
    end)
  end)

  describe("billing", function()
    it("prints the plan and subscription, then the user as `user` does", function()
      local out, err, status = run_extruct(mock, { "billing" })
      assert.equal(0, status, err)
      assert.equal("", err)
      local user_text = run_extruct(mock, { "user" })
      assert.equal("plan          pro, subscription active\n" .. user_text, out)
      assert.equal(1, #api_requests(mock, "GET", "/v1/billing"))
    end)

    it("says when a subscription is required, a payment failed or the organization is inactive", function()
      mock:control("POST", "/_mock/account", { plan = "free", credits = 3 })
      local out, err, status = run_extruct(mock, { "billing" })
      assert.equal(0, status, err)
      assert.equal("plan          free, subscription active, a subscription is required", lines_of(out)[1])
      assert.equal("credits       3 available", lines_of(out)[4])

      mock:control("POST", "/_mock/account", { plan = "starter", payment_failed = "true" })
      out, err, status = run_extruct(mock, { "billing" })
      assert.equal(0, status, err)
      assert.equal("plan          starter, subscription past_due", lines_of(out)[1])
      assert.equal("organization  Mock organization (org_mock_0001), inactive", lines_of(out)[3])
    end)

    it("--json prints GET /v1/billing as it is, indented with --pretty", function()
      local out, err, status = run_extruct(mock, { "billing", "--json" })
      assert.equal(0, status, err)
      assert.equal(1, #lines_of(out))
      local billing = assert(extruct.decode(out))
      assert.same(assert(client:get_billing()), billing)
      assert.equal("pro", billing.subscription.plan_tier)
      out = run_extruct(mock, { "billing", "--json", "--pretty" })
      assert.truthy(#lines_of(out) > 3)
      assert.same(billing, cjson.decode(out))
    end)
  end)

  describe("a 402", function()
    local function refused(argv)
      local out, err, status = run_extruct(mock, argv)
      assert.equal(1, status, err)
      assert.equal("", out)
      assert.equal(1, #lines_of(err), err)
      return err
    end

    it("on another plan than Pro says the command needs the Pro plan", function()
      mock:control("POST", "/_mock/account", { plan = "free" })
      for _, argv in ipairs{
        { "deep-search", "create", "robotics startups" },
        { "deep-research", "create", "--brief", "Who makes anvils?" },
        { "tables", "delete", "tbl_idle", "--yes" },
      } do
        assert.equal("extruct: payment: this needs the Pro plan (the organization is on the free plan);"
          .. " `extruct billing` shows the plan [plan_required, HTTP 402]\n", refused(argv))
      end
      -- never sent twice
      assert.equal(1, #api_requests(mock, "POST", "/v1/discovery_tasks"))
    end)

    it("without the credits says how many are needed and available", function()
      mock:control("POST", "/_mock/account", { credits = 10 })
      assert.equal("extruct: payment: not enough credits: this needs 75, and 10 are available"
        .. " [insufficient_credits, HTTP 402]\n",
        refused{ "deep-research", "create", "--brief", "Who makes anvils?", "--depth", "xhigh" })
      mock:control("POST", "/_mock/account", { credits = 1 })
      assert.matches("this needs 25, and 1 is available", refused{ "deep-research", "create", "--brief", "Anvils" })
    end)

    it("after a failed payment says so", function()
      mock:control("POST", "/_mock/account", { payment_failed = "true" })
      assert.matches("^extruct: payment: the organization's last payment failed: [^\n]* %[payment_failed, HTTP 402%]\n$",
        refused{ "deep-search", "resume", "ds_1" })
    end)

    it("with a code the client does not know keeps the API's words", function()
      mock:fault{ path = "/v1/discovery_tasks", status = 402,
                  body = '{"detail": {"error": "quota_frozen", "message": "Frozen by an administrator."}}' }
      assert.matches("^extruct: payment: [^\n]*quota_frozen: Frozen by an administrator%.",
        refused{ "deep-search", "create", "robotics startups" })
    end)
  end)

  describe("health", function()
    it("prints the API's health report and exits 0", function()
      local out, err, status = run_extruct(mock, { "health" })
      assert.equal(0, status, err)
      assert.same({ status = "ok" }, cjson.decode(out))
      assert.equal(1, #api_requests(mock, "GET", "/v1/healthcheck"))
    end)

    it("exits 1 when the API answers with an error or cannot be reached", function()
      mock:fault{ path = "/v1/healthcheck", status = 418, detail = "not today" }
      local out, err, status = run_extruct(mock, { "health" })
      assert.equal(1, status)
      assert.equal("", out)
      assert.matches("^extruct: http: [^\n]*not today", err)

      out, err, status = run_extruct(mock, { "health" },
        { env = { EXTRUCT_API_URL = "http://127.0.0.1:" .. helpers.closed_port() } })
      assert.equal(1, status)
      assert.equal("", out)
      assert.matches("^extruct: network: ", err)
    end)
  end)

  describe("--request-timeout", function()
    local function timed(argv, opts)
      local started = extruct.now()
      local out, err, status = run_extruct(mock, argv, opts)
      return out, err, status, extruct.now() - started
    end

    it("ends a request that takes longer: exit 1, kind timeout, long before the answer would come", function()
      helpers.write_file(work .. ".json", cjson.encode{ name = "Slow", kind = "generic" })
      mock:fault{ path = "/v1/tables", delay = 5 }
      -- (a create is not sent twice: one attempt)
      local out, err, status, took = timed({ "--request-timeout", "0.3", "tables", "create", work .. ".json" })
      assert.equal(1, status)
      assert.equal("", out)
      assert.matches("^extruct: timeout: POST " .. mock.url:gsub("%p", "%%%0") .. "/v1/tables: [^\n]*\n$", err)
      assert.is_true(took < 3, ("took %.1f s"):format(took))
    end)

    it("a GET that times out is sent again, and the retry's answer is printed", function()
      mock:fault{ path = "/v1/healthcheck", delay = 5, count = 1 }
      local out, err, status, took = timed({ "health", "--request-timeout=0.3" })
      assert.equal(0, status, err)
      assert.same({ status = "ok" }, cjson.decode(out))
      assert.equal(2, #api_requests(mock, "GET", "/v1/healthcheck"))
      assert.is_true(took < 4, ("took %.1f s"):format(took))
    end)

    it("without it, an answer well within the default 30 s still comes", function()
      mock:fault{ path = "/v1/healthcheck", delay = 0.5 }
      local out, err, status, took = timed({ "health" })
      assert.equal(0, status, err)
      assert.same({ status = "ok" }, cjson.decode(out))
      assert.equal(1, #api_requests(mock, "GET", "/v1/healthcheck"))
      assert.is_true(took >= 0.45, ("took %.1f s"):format(took))
    end)

    it("is not the wait's --timeout: both go together on tables wait", function()
      local out, err, status = run_extruct(mock, { "tables", "wait", "tbl_idle", "--request-timeout", "5",
        "--timeout", "10", "--quiet" })
      assert.equal(0, status, err)
      assert.equal("tbl_idle", assert(extruct.decode(out)).id)
    end)
  end)
end)
