-- `extruct user`, `extruct health` and the --request-timeout every command
-- takes, run as a real bin/extruct subprocess against the mock server.
local helpers = require("spec.helpers")
local support = require("spec.support.cli")
local extruct = require("extruct")
local cjson = require("cjson")

local run_extruct, lines_of, api_requests = support.run_extruct, support.lines_of, support.api_requests

describe("extruct account commands", function()
  local session = helpers.mock_and_client()
  local mock, client
  before_each(function() mock, client = session.mock, session.client end)
  local work, remove_work = support.scratch()
  lazy_teardown(function() remove_work(".json") end)

  describe("user", function()
    it("prints GET /v1/user as one JSON document, indented with --pretty", function()
      local out, err, status = run_extruct(mock, { "user" })
      assert.equal(0, status, err)
      assert.equal("", err)
      assert.equal(1, #lines_of(out))
      assert.same(assert(client:get_user()), assert(extruct.decode(out)))
      local requests = api_requests(mock, "GET", "/v1/user")
      assert.equal(2, #requests)
      assert.equal("Bearer " .. mock.token, requests[1].headers.authorization)

      out, err, status = run_extruct(mock, { "user", "--pretty" })
      assert.equal(0, status, err)
      assert.truthy(#lines_of(out) > 3)
      assert.same(cjson.decode(lines_of((run_extruct(mock, { "user" })))[1]), cjson.decode(out))
    end)

    it("exits 1 with kind auth on a rejected token, and 2 without one", function()
      local out, err, status = run_extruct(mock, { "user" }, { env = { EXTRUCT_API_TOKEN = "not-the-token" } })
      assert.equal(1, status)
      assert.equal("", out)
      assert.matches("^extruct: auth: [^\n]*\n$", err)
      out, err, status = run_extruct(mock, { "user" }, { env = { EXTRUCT_API_TOKEN = false } })
      support.assert_usage_error(out, err, status, "")
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
      assert.matches("^extruct: timeout: POST /v1/tables: [^\n]*\n$", err)
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

    it("is not the wait's --timeout: both go together on tables wait", function()
      local out, err, status = run_extruct(mock, { "tables", "wait", "tbl_idle", "--request-timeout", "5",
        "--timeout", "10", "--quiet" })
      assert.equal(0, status, err)
      assert.equal("tbl_idle", assert(extruct.decode(out)).id)
    end)
  end)
end)
