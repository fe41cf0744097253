-- Deep Research against the mock over HTTP: what each call sends (from the
-- mock's request log) and answers, and wait_deep_research on a clock that
-- moves only when slept on, briefs with raw newlines included.
local helpers = require("spec.helpers")
local request_log = require("spec.support.request_log")

local function pack(...) return { n = select("#", ...), ... } end

local SCHEMA = {
  type = "object",
  properties = {
    founded = { type = "integer" },
    sells_to = { type = "string", enum = { "enterprises", "smb" } },
  },
}

-- A task of the mock's: outcome "done", "failed" or "degraded", ending after `polls` polls.
local function add_task(mock, params)
  return mock:control("POST", "/_mock/deep_research_tasks", params)
end

-- A task that answers the same in-progress status for `count` polls.
local function stuck(mock, id, count)
  mock:fault{
    path = "/v1/deep_research_tasks/" .. id, count = count,
    body = ('{"id":"%s","status":"in_progress","brief":"b","depth":"medium","iterations":2,"agents":10,'
      .. '"sources":30,"report":null,"failure_reason":null}'):format(id),
  }
end

describe("Deep Research", function()
  local session = helpers.mock_and_client{ single_attempt = true, fake_clock = 0 }

  describe("create_deep_research", function()
    it("sends POST /v1/deep_research_tasks with the brief, the depth and the output schema", function()
      local r = pack(session.client:create_deep_research{
        brief = "Research acme.example: who buys its tools?", depth = "high", output_schema = SCHEMA,
      })
      assert.equal(1, r.n)
      local request = request_log.only(session.mock)
      assert.equal("POST", request.method)
      assert.equal("/v1/deep_research_tasks", request.target)
      assert.same({ brief = "Research acme.example: who buys its tools?", depth = "high", output_schema = SCHEMA },
        request.body)
      local task = r[1]
      assert.is_string(task.id)
      assert.equal("created", task.status)
      assert.equal("high", task.depth)
    end)

    it("sends the brief alone when that is all: the API picks the depth", function()
      assert(session.client:create_deep_research{ brief = "Research globex.example" })
      assert.same({ brief = "Research globex.example" }, request_log.only(session.mock).body)
    end)

    it("passes any depth through for the API to judge", function()
      local task, err = session.client:create_deep_research{ brief = "Research globex.example", depth = "extreme" }
      assert.is_nil(task)
      assert.equal("validation", err.kind)
      assert.equal("extreme", request_log.only(session.mock).body.depth)
    end)

    it("counts the brief's length in characters: 20,000 go, 20,001 do not", function()
      local brief = ("é"):rep(20000) -- 40,000 bytes
      assert(session.client:create_deep_research{ brief = brief })
      assert.equal(brief, request_log.only(session.mock).body.brief)
      local ok, message = pcall(session.client.create_deep_research, session.client, { brief = brief .. "x" })
      assert.is_false(ok)
      assert.matches("spec.brief has 20001 characters; the API takes at most 20000", message, 1, true)
    end)

    it("refuses a bad spec before sending anything", function()
      local client = session.client
      for _, case in ipairs({
        { "brief", "the task's spec must be a table, got string" },
        { {}, "spec.brief must be a non-empty string, got nil" },
        { { brief = "" }, "spec.brief must be a non-empty string, got an empty string" },
        { { brief = "b", depth = 2 }, 'spec.depth must be a string ("medium", "high" or "xhigh"), got number' },
        { { brief = "b", output_schema = "{}" }, "spec.output_schema must be a table (a JSON Schema object), got string" },
      }) do
        local ok, message = pcall(client.create_deep_research, client, case[1])
        assert.is_false(ok, case[2])
        assert.matches("deep_research_spec%.lua:%d+: extruct%.create_deep_research: ", message)
        assert.matches(case[2], message, 1, true)
      end
      assert.same({}, session.mock:requests())
    end)

    it("a 402 insufficient_credits carries what is required and available, sent once", function()
      session.mock:control("POST", "/_mock/account", { credits = 10 })
      local client = session:new_client{ retries = 3 }
      local task, err = client:create_deep_research{ brief = "Research acme.example", depth = "xhigh" }
      assert.is_nil(task)
      assert.equal("payment", err.kind)
      assert.equal("insufficient_credits", err.code)
      assert.equal(75, err.detail.required_credits)
      assert.equal(10, err.detail.available_credits)
      assert.equal(1, #session.mock:requests())
    end)
  end)

  describe("reading a task", function()
    it("get_deep_research sends GET /v1/deep_research_tasks/{id} and answers the task", function()
      add_task(session.mock, { id = "dr_read", polls = 3, brief = "Research acme.example" })
      local r = pack(session.client:get_deep_research("dr_read"))
      assert.equal(1, r.n)
      local request = request_log.only(session.mock)
      assert.equal("GET", request.method)
      assert.equal("/v1/deep_research_tasks/dr_read", request.target)
      assert.equal("dr_read", r[1].id)
      assert.equal("in_progress", r[1].status)
      assert.equal("Research acme.example", r[1].brief)
    end)

    it("an unknown task is not_found, naming it", function()
      local task, err = session.client:get_deep_research("dr_none")
      assert.is_nil(task)
      assert.equal("not_found", err.kind)
      assert.matches("Deep Research 'dr_none'", err.message, 1, true)
    end)

    it("list_deep_research sends offset and limit and answers an array", function()
      for i = 1, 3 do add_task(session.mock, { id = "dr_list_" .. i, brief = "Research\nacme.example" }) end
      local r = pack(session.client:list_deep_research{ offset = 1, limit = 5 })
      assert.equal(1, r.n)
      local request = request_log.only(session.mock)
      assert.equal("/v1/deep_research_tasks", request.path)
      assert.same({ offset = "1", limit = "5" }, request.query)
      assert.equal(2, #r[1])
      assert.equal("dr_list_2", r[1][1].id)
      assert.equal("Research\nacme.example", r[1][1].brief) -- echoed with a raw newline
    end)
  end)

  describe("wait_deep_research", function()
    local function polls() return #session.mock:requests() end

    it("ends on done with the report, returning the task alone", function()
      add_task(session.mock, { id = "dr_wait", polls = 4, brief = "Research acme.example" })
      local r = pack(session.client:wait_deep_research("dr_wait", { interval = 10 }))
      assert.equal(1, r.n)
      local task = r[1]
      assert.equal("done", task.status)
      assert.is_string(task.report.markdown)
      assert.matches("Acme", task.report.markdown, 1, true)
      assert.is_true(#task.report.sources > 0)
      assert.equal(4, polls())
      assert.same({ 10, 10, 10 }, session.clock.slept)
      for _, request in ipairs(request_log.requests(session.mock)) do
        assert.equal("GET", request.method)
        assert.equal("/v1/deep_research_tasks/dr_wait", request.target)
        assert.is_nil(request.body)
      end
    end)

    it("polls a task whose brief the server echoes with raw newlines to done", function()
      local brief = "Research acme.example.\nFocus on:\n- who buys its tools\n- its pricing\n"
      local created = assert(session.client:create_deep_research{ brief = brief })
      assert.equal(brief, created.brief)
      local task = assert(session.client:wait_deep_research(created.id, { interval = 1 }))
      assert.equal("done", task.status)
      assert.equal(brief, task.brief)
      -- the server really sent them raw, inside the JSON string
      local status, body = session.mock:http("GET", "/v1/deep_research_tasks/" .. created.id,
        { Authorization = "Bearer " .. session.mock.token })
      assert.equal(200, status)
      assert.truthy(body:find('"brief":"Research acme.example.\nFocus on:\n', 1, true))
    end)

    it("ends on failed with an error carrying the task and its failure_reason", function()
      add_task(session.mock, { id = "dr_fail", outcome = "failed", polls = 4 })
      local r = pack(session.client:wait_deep_research("dr_fail", { interval = 1 }))
      assert.equal(2, r.n)
      local err = r[2]
      assert.equal("failed", err.kind)
      assert.equal("dr_fail", err.task.id)
      assert.equal("failed", err.task.status)
      assert.is_string(err.failure_reason)
      assert.equal(err.task.failure_reason, err.failure_reason)
      assert.matches("Deep Research 'dr_fail' failed: " .. err.failure_reason:sub(1, 20), tostring(err), 1, true)
      assert.equal(2, polls())
    end)

    it("ends at the deadline with a timeout error carrying the last task", function()
      add_task(session.mock, { id = "dr_slow", polls = 100000 })
      local task, err = session.client:wait_deep_research("dr_slow", { interval = 15, timeout = 40 })
      assert.is_nil(task)
      assert.equal("timeout", err.kind)
      assert.equal("dr_slow", err.task.id)
      assert.equal("in_progress", err.task.status)
      assert.equal(err.task, err.last)
      assert.same({ 15, 15, 10 }, session.clock.slept)
      assert.equal(40, session.clock.time)
      assert.matches("Deep Research 'dr_slow' was still in_progress after 40 s (4 iterations", err.message, 1, true)
    end)

    it("waits an hour by default, polling every 15 s while it moves, up to 60 s while it does not", function()
      stuck(session.mock, "dr_stuck", 1000)
      local _, err = session.client:wait_deep_research("dr_stuck")
      assert.equal("timeout", err.kind)
      assert.equal(3600, session.clock.time)
      assert.same({ 15, 22.5, 33.75, 50.625, 60, 60 }, { (table.unpack or unpack)(session.clock.slept, 1, 6) })
    end)

    it("calls on_progress with the task and its info: the wait's fields, iterations, agents and sources", function()
      add_task(session.mock, { id = "dr_progress", polls = 3, depth = "high" })
      local seen = {}
      assert(session.client:wait_deep_research("dr_progress", {
        interval = 1, on_progress = function(task, progress) seen[#seen + 1] = { task, progress } end,
      }))
      assert.equal(3, #seen)
      for i, s in ipairs(seen) do
        local done = i == 3 and 1 or 0
        assert.same({ iterations = s[1].iterations, agents = s[1].agents, sources = s[1].sources, id = "dr_progress",
                      polls = i, elapsed = s[2].elapsed, done = done, total = 1, fraction = done }, s[2])
      end
      assert.is_true(seen[1][2].agents < seen[3][2].agents)
    end)

    it("on_progress returning false cancels, with the task", function()
      add_task(session.mock, { id = "dr_cancel", polls = 10 })
      local task, err = session.client:wait_deep_research("dr_cancel", {
        interval = 1, on_progress = function() return false end,
      })
      assert.is_nil(task)
      assert.equal("cancelled", err.kind)
      assert.equal("dr_cancel", err.task.id)
      assert.equal(1, polls())
    end)

    it("rides out transient failures as missed polls", function()
      add_task(session.mock, { id = "dr_flaky", polls = 2 })
      session.mock:fault{ path = "/v1/deep_research_tasks/dr_flaky", status = 502, count = 2 }
      local task = assert(session.client:wait_deep_research("dr_flaky", { interval = 1 }))
      assert.equal("done", task.status)
      assert.equal(4, polls())
    end)

    it("refuses bad options", function()
      local client = session.client
      assert.error_matches(function() client:wait_deep_research("dr_x", { max_interval = 10 }) end,
        "extruct.wait_deep_research: max_interval (10) must be >= interval (15)", nil, true) -- interval 15
      assert.error_matches(function() client:wait_deep_research("dr_x", { timeout = -1 }) end,
        "extruct.wait_deep_research: option 'timeout' must be a number of seconds >= 0", nil, true)
      assert.error_matches(function() client:wait_deep_research(nil) end,
        "extruct.wait_deep_research: the task id must be a non-empty string, got nil", nil, true)
      assert.same({}, session.mock:requests())
    end)
  end)
end)
