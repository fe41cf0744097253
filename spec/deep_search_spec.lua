-- Deep Search against the mock over HTTP: what each call sends (from the
-- mock's request log) and answers, and wait_deep_search on a clock that
-- moves only when slept on.
local helpers = require("spec.helpers")
local request_log = require("spec.support.request_log")

local function pack(...) return { n = select("#", ...), ... } end

local CRITERIA = {
  { key = "sells_software", name = "Sells software", criterion = "The company sells software to businesses." },
  { key = "logistics", name = "Serves logistics", criterion = "Its customers are freight and logistics companies." },
}

-- A task of the mock's: outcome "done", "failed" or "exhausted", ending after `polls` polls.
local function add_task(mock, params)
  return mock:control("POST", "/_mock/discovery_tasks", params)
end

-- A task that answers the same in-progress status for `count` polls.
local function stuck(mock, id, count, fields)
  local body = ('{"id":"%s","status":"in_progress","query":"q","desired_num_results":10,"is_exhausted":%s,'
    .. '"num_results_discovered":7,"num_results_enriched":5,"num_results_evaluated":4,"num_results":3}')
    :format(id, fields and fields.is_exhausted and "true" or "false")
  mock:fault{ path = "/v1/discovery_tasks/" .. id, count = count, body = body }
end

-- n distinct domains.
local function many_domains(n)
  local list = {}
  for i = 1, n do list[i] = ("c%d.com"):format(i) end
  return list
end

describe("Deep Search", function()
  local session = helpers.mock_and_client{ single_attempt = true, fake_clock = 1000 }

  describe("create_deep_search", function()
    it("sends POST /v1/discovery_tasks with the query, the number of results and the criteria", function()
      local r = pack(session.client:create_deep_search{
        query = "logistics software companies", desired_num_results = 12, criteria = CRITERIA,
      })
      assert.equal(1, r.n)
      local task = r[1]
      local request = request_log.only(session.mock)
      assert.equal("POST", request.method)
      assert.equal("/v1/discovery_tasks", request.target)
      assert.same({ query = "logistics software companies", desired_num_results = 12, criteria = CRITERIA },
        request.body)
      assert.is_string(task.id)
      assert.equal("created", task.status)
      assert.equal(12, task.desired_num_results)
      assert.same(CRITERIA, task.criteria)
    end)

    it("sends the query alone when that is all, and other fields as given", function()
      assert(session.client:create_deep_search{ query = "robotics startups" })
      assert.same({ query = "robotics startups" }, request_log.only(session.mock).body)
      session.mock:reset()
      assert(session.client:create_deep_search{ query = "robotics startups", exclude_domains = { "tyrell.example" } })
      assert.same({ query = "robotics startups", exclude_domains = { "tyrell.example" } },
        request_log.only(session.mock).body)
    end)

    it("sends exclude_domains as registered domains, each once, and exclude_task_ids as given", function()
      local done = add_task(session.mock, { id = "ds_before", polls = 1 })
      session.mock:control("POST", "/_mock/advance", { id = done.id })
      local entries = {}
      for i = 1, 1000 do entries[i] = ("company%d.com"):format(i) end
      for i = 1, 200 do entries[#entries + 1] = ("https://blog.company%d.com/post"):format(i) end
      local task = assert(session.client:create_deep_search{ query = "robotics startups", exclude_domains = entries,
                                                            exclude_task_ids = { done.id } })
      local body = request_log.only(session.mock).body
      assert.equal(1000, #body.exclude_domains)
      assert.equal("company200.com", body.exclude_domains[200])
      assert.same({ "ds_before" }, body.exclude_task_ids)
      assert.equal(1000, #task.exclude_domains)
    end)

    it("refuses a bad spec before sending anything", function()
      local client = session.client
      for _, case in ipairs({
        { nil, "the task's spec must be a table, got nil" },
        { { query = "" }, "spec.query must be a non-blank string, got a blank string" },
        { { query = " \n" }, "spec.query must be a non-blank string, got a blank string" },
        { { desired_num_results = 5 }, "spec.query must be a non-blank string, got nil" },
        { { query = "q", desired_num_results = 0 }, "spec.desired_num_results must be a whole number from 1 to 250, got 0" },
        { { query = "q", desired_num_results = 251 }, "from 1 to 250, got 251" },
        { { query = "q", desired_num_results = 2.5 }, "from 1 to 250, got 2.5" },
        { { query = "q", criteria = "sells software" }, "criteria must be a list of { key, name, criterion }, got string" },
        { { query = "q", criteria = { "sells software" } }, "criteria[1] must be a table { key, name, criterion }" },
        { { query = "q", criteria = { { key = "k", name = "N" } } },
          "criteria[1].criterion must be a non-empty string, got nil" },
        { { query = "q", criteria = { CRITERIA[1], { key = "", name = "N", criterion = "c" } } },
          "criteria[2].key must be a non-empty string, got an empty string" },
        { { query = "q", exclude_domains = many_domains(1001) }, "spec.exclude_domains: 1001 distinct domains once"
          .. " each is read as its registered domain (www.stripe.com/pricing and blog.stripe.com are stripe.com);"
          .. " the API takes at most 1000" },
        { { query = "q", exclude_domains = { "acme.example", "http://10.0.0.1/" } },
          "spec.exclude_domains[2]: 'http://10.0.0.1/' is not a domain or URL: an IP address is not a domain" },
        { { query = "q", exclude_domains = { 7 } }, "spec.exclude_domains must be a list of domains or URLs" },
        { { query = "q", exclude_task_ids = "ds_1" }, "spec.exclude_task_ids must be a list of task ids (strings)" },
        { { query = "q", exclude_task_ids = many_domains(101) },
          "spec.exclude_task_ids names 101 tasks; the API takes at most 100" },
      }) do
        local ok, message = pcall(client.create_deep_search, client, case[1])
        assert.is_false(ok, case[2])
        assert.matches("extruct.create_deep_search: ", message, 1, true)
        assert.matches(case[2], message, 1, true)
      end
      assert.same({}, session.mock:requests())
    end)

    it("a 402 plan_required surfaces as err.code, sent once however many retries the client has", function()
      session.mock:control("POST", "/_mock/account", { plan = "starter" })
      local client = session:new_client{ retries = 3 }
      local r = pack(client:create_deep_search{ query = "logistics software companies" })
      assert.equal(2, r.n)
      local task, err = r[1], r[2]
      assert.is_nil(task)
      assert.equal("payment", err.kind)
      assert.equal(402, err.status)
      assert.equal("plan_required", err.code)
      assert.equal("starter", err.detail.plan_tier)
      assert.equal(1, err.attempts)
      assert.equal(1, #session.mock:requests())
    end)

    it("insufficient_credits and payment_failed come as err.code too", function()
      session.mock:control("POST", "/_mock/account", { credits = 0 })
      local _, err = session.client:create_deep_search{ query = "logistics software companies" }
      assert.equal("insufficient_credits", err.code)
      assert.equal(1, err.detail.required_credits)
      assert.equal(0, err.detail.available_credits)
      session.mock:control("POST", "/_mock/account", { credits = 100, payment_failed = "true" })
      _, err = session.client:create_deep_search{ query = "logistics software companies" }
      assert.equal("payment_failed", err.code)
      assert.equal(2, #session.mock:requests())
    end)
  end)

  describe("reading a task", function()
    it("get_deep_search sends GET /v1/discovery_tasks/{id} and answers the task", function()
      add_task(session.mock, { id = "ds_read", polls = 3, desired = 6 })
      local r = pack(session.client:get_deep_search("ds_read"))
      assert.equal(1, r.n)
      local request = request_log.only(session.mock)
      assert.equal("GET", request.method)
      assert.equal("/v1/discovery_tasks/ds_read", request.target)
      assert.equal("ds_read", r[1].id)
      assert.equal("in_progress", r[1].status)
      for _, counter in ipairs({ "num_results_discovered", "num_results_enriched", "num_results_evaluated",
                                  "num_results" }) do
        assert.is_number(r[1][counter], counter)
      end
    end)

    it("an unknown task is not_found, naming it; its id is one path segment", function()
      local task, err = session.client:get_deep_search("ds/none?")
      assert.is_nil(task)
      assert.equal("not_found", err.kind)
      assert.matches("Deep Search 'ds/none?'", err.message, 1, true)
      assert.equal("/v1/discovery_tasks/ds%2Fnone%3F", request_log.only(session.mock).target)
    end)

    it("list_deep_searches sends offset and limit and answers an array", function()
      for i = 1, 3 do add_task(session.mock, { id = "ds_list_" .. i }) end
      local r = pack(session.client:list_deep_searches{ offset = 1, limit = 2 })
      assert.equal(1, r.n)
      local request = request_log.only(session.mock)
      assert.equal("GET", request.method)
      assert.equal("/v1/discovery_tasks", request.path)
      assert.same({ offset = "1", limit = "2" }, request.query)
      assert.equal(2, #r[1])
      assert.equal("ds_list_2", r[1][1].id) -- newest first
      assert.equal(getmetatable(require("extruct").array()), getmetatable(r[1]))
    end)

    it("list_deep_searches with no options sends no query", function()
      assert(session.client:list_deep_searches())
      assert.equal("/v1/discovery_tasks", request_log.only(session.mock).target)
    end)

    it("get_deep_search_results sends offset and limit and answers the task with a page of results", function()
      add_task(session.mock, { id = "ds_results", polls = 1, desired = 5 })
      session.mock:control("POST", "/_mock/advance", { id = "ds_results" })
      local r = pack(session.client:get_deep_search_results("ds_results", { offset = 1, limit = 2 }))
      assert.equal(1, r.n)
      local request = request_log.only(session.mock)
      assert.equal("/v1/discovery_tasks/ds_results/results", request.path)
      assert.same({ offset = "1", limit = "2" }, request.query)
      local page = r[1]
      assert.equal("ds_results", page.id)
      assert.equal("done", page.status)
      assert.equal(2, #page.results)
      assert.is_string(page.results[1].company_website)
      assert.is_table(page.results[1].scores)
    end)

    it("iter_deep_search_results pages until a short page", function()
      add_task(session.mock, { id = "ds_iter", polls = 1, desired = 7 })
      session.mock:control("POST", "/_mock/advance", { id = "ds_iter" })
      local results = {}
      for result, err in session.client:iter_deep_search_results("ds_iter", { limit = 3 }) do
        assert(result, err and tostring(err))
        results[#results + 1] = result
      end
      assert.equal(7, #results)
      local offsets = {}
      for i, request in ipairs(request_log.requests(session.mock)) do
        assert.equal("/v1/discovery_tasks/ds_iter/results", request.path)
        assert.equal("3", request.query.limit)
        offsets[i] = tonumber(request.query.offset)
      end
      assert.same({ 0, 3, 6 }, offsets)
      local seen = {}
      for _, result in ipairs(results) do
        assert.is_nil(seen[result.id])
        seen[result.id] = true
      end
    end)

    it("iter_deep_search_results of an unknown task gives false, err once", function()
      local seen = {}
      for result, err in session.client:iter_deep_search_results("ds_none") do seen[#seen + 1] = { result, err } end
      assert.equal(1, #seen)
      assert.is_false(seen[1][1])
      assert.equal("not_found", seen[1][2].kind)
    end)
  end)

  describe("resume_deep_search", function()
    it("sends POST .../resume with desired_new_results and answers the task", function()
      add_task(session.mock, { id = "ds_more", polls = 1, desired = 4 })
      session.mock:control("POST", "/_mock/advance", { id = "ds_more" })
      local r = pack(session.client:resume_deep_search("ds_more", { desired_new_results = 6 }))
      assert.equal(1, r.n)
      local request = request_log.only(session.mock)
      assert.equal("POST", request.method)
      assert.equal("/v1/discovery_tasks/ds_more/resume", request.target)
      assert.same({ desired_new_results = 6 }, request.body)
      assert.equal(10, r[1].desired_num_results)
    end)

    it("sends an empty object when no number is given: the API's default", function()
      add_task(session.mock, { id = "ds_more", polls = 1, desired = 4 })
      assert(session.client:resume_deep_search("ds_more"))
      assert.equal("{}", request_log.only(session.mock).raw_body)
    end)

    it("an exhausted task cannot be resumed: the API's 400 comes back", function()
      add_task(session.mock, { id = "ds_dry", outcome = "exhausted", polls = 3 })
      session.mock:control("POST", "/_mock/advance", { id = "ds_dry" })
      local task, err = session.client:resume_deep_search("ds_dry", { desired_new_results = 5 })
      assert.is_nil(task)
      assert.equal("http", err.kind)
      assert.equal(400, err.status)
    end)

    it("refuses a number out of 0..250", function()
      assert.has_error(function() session.client:resume_deep_search("ds_more", { desired_new_results = 251 }) end,
        nil)
      assert.error_matches(function() session.client:resume_deep_search("ds_more", { desired_new_results = -1 }) end,
        "extruct.resume_deep_search: option 'desired_new_results' must be a whole number from 0 to 250", nil, true)
      assert.same({}, session.mock:requests())
    end)
  end)

  describe("wait_deep_search", function()
    local function polls() return #session.mock:requests() end

    it("ends on done, and returns the done task alone", function()
      add_task(session.mock, { id = "ds_wait", polls = 3, desired = 5 })
      local r = pack(session.client:wait_deep_search("ds_wait", { interval = 2 }))
      assert.equal(1, r.n)
      assert.equal("done", r[1].status)
      assert.equal(5, r[1].num_results)
      assert.equal(3, polls())
      assert.same({ 2, 2 }, session.clock.slept)
      for _, request in ipairs(request_log.requests(session.mock)) do
        assert.equal("GET", request.method)
        assert.equal("/v1/discovery_tasks/ds_wait", request.target)
      end
    end)

    it("keeps waiting while the task is exhausted but still in progress", function()
      add_task(session.mock, { id = "ds_dry", outcome = "exhausted", polls = 3, desired = 10 })
      local seen = {}
      local task = assert(session.client:wait_deep_search("ds_dry", {
        interval = 1, on_progress = function(t) seen[#seen + 1] = { t.status, t.is_exhausted } end,
      }))
      assert.equal("done", task.status)
      assert.is_true(task.is_exhausted)
      assert.is_true(task.num_results < task.desired_num_results)
      assert.same({ "in_progress", true }, seen[1]) -- exhausted from the first poll
      assert.equal(5, #seen) -- two polls longer than a task that is not
      for i = 1, 4 do assert.same({ "in_progress", true }, seen[i]) end
      assert.equal(5, polls())
    end)

    it("ends on failed with an error of kind failed carrying the task", function()
      add_task(session.mock, { id = "ds_fail", outcome = "failed", polls = 4 })
      local r = pack(session.client:wait_deep_search("ds_fail", { interval = 1 }))
      assert.equal(2, r.n)
      local err = r[2]
      assert.equal("failed", err.kind)
      assert.equal("ds_fail", err.task.id)
      assert.equal("failed", err.task.status)
      assert.equal(err.task, err.last)
      assert.matches("Deep Search 'ds_fail' failed", tostring(err), 1, true)
      assert.equal(2, polls()) -- failed half way
    end)

    it("ends at the deadline with a timeout error carrying the last task", function()
      add_task(session.mock, { id = "ds_slow", polls = 100000, desired = 250 })
      local task, err = session.client:wait_deep_search("ds_slow", { interval = 5, max_interval = 5, timeout = 12 })
      assert.is_nil(task)
      assert.equal("timeout", err.kind)
      assert.equal("ds_slow", err.task.id)
      assert.equal("in_progress", err.task.status)
      assert.equal(err.task, err.last)
      assert.is_nil(err.cause)
      assert.same({ 5, 5, 2 }, session.clock.slept)
      assert.equal(1012, session.clock.time)
      assert.equal(4, polls())
      assert.matches("Deep Search 'ds_slow' was still in_progress after 12 s", err.message, 1, true)
    end)

    it("waits 30 minutes by default, polling every 5 s while counters move, up to 30 s while they do not", function()
      stuck(session.mock, "ds_stuck", 1000)
      local _, err = session.client:wait_deep_search("ds_stuck")
      assert.equal("timeout", err.kind)
      assert.equal(1000 + 1800, session.clock.time)
      assert.same({ 5, 7.5, 11.25, 16.875, 25.3125, 30, 30 }, { (table.unpack or unpack)(session.clock.slept, 1, 7) })
    end)

    it("an exhausted task whose counters stand still is still waited for, its pauses growing", function()
      stuck(session.mock, "ds_dry", 4, { is_exhausted = true })
      add_task(session.mock, { id = "ds_dry", polls = 1, desired = 3 })
      local task = assert(session.client:wait_deep_search("ds_dry", { interval = 2, max_interval = 8 }))
      assert.equal("done", task.status)
      assert.same({ 2, 3, 4.5, 6.75 }, session.clock.slept)
      assert.equal(5, polls())
    end)

    it("calls on_progress with the task and its info: the wait's fields and the four counters", function()
      add_task(session.mock, { id = "ds_progress", polls = 3, desired = 6 })
      local seen = {}
      assert(session.client:wait_deep_search("ds_progress", {
        interval = 1,
        on_progress = function(task, progress) seen[#seen + 1] = { task = task, progress = progress } end,
      }))
      assert.equal(3, #seen)
      for _, s in ipairs(seen) do
        local p, t = s.progress, s.task
        assert.equal(t.num_results_discovered, p.discovered)
        assert.equal(t.num_results_enriched, p.enriched)
        assert.equal(t.num_results_evaluated, p.evaluated)
        assert.equal(t.num_results, p.results)
        assert.equal(6, p.desired)
        assert.equal("ds_progress", p.id)
        assert.equal(t.num_results, p.done)
        assert.equal(6, p.total)
        assert.is_false(p.is_exhausted)
        assert.is_true(p.discovered >= p.enriched and p.enriched >= p.evaluated and p.evaluated >= p.results)
      end
      assert.is_true(seen[1].progress.fraction < 1)
      assert.equal(1, seen[3].progress.fraction)
    end)

    it("on_progress returning false cancels, with the task", function()
      add_task(session.mock, { id = "ds_cancel", polls = 10 })
      local task, err = session.client:wait_deep_search("ds_cancel", {
        interval = 1, on_progress = function() return false end,
      })
      assert.is_nil(task)
      assert.equal("cancelled", err.kind)
      assert.equal("ds_cancel", err.task.id)
      assert.equal(1, polls())
    end)

    it("rides out transient failures as missed polls", function()
      add_task(session.mock, { id = "ds_flaky", polls = 2 })
      session.mock:fault{ path = "/v1/discovery_tasks/ds_flaky", status = 503, count = 2 }
      session.mock:fault{ path = "/v1/discovery_tasks/ds_flaky", mode = "drop", count = 1 }
      local task = assert(session.client:wait_deep_search("ds_flaky", { interval = 1, max_interval = 1 }))
      assert.equal("done", task.status)
      assert.equal(5, polls())
    end)

    it("a timeout after failed polls carries the last task and the last poll's error", function()
      add_task(session.mock, { id = "ds_down", polls = 100 })
      local mock = session.mock
      local _, err = session.client:wait_deep_search("ds_down", {
        interval = 1, timeout = 3,
        on_progress = function() mock:fault{ path = "/v1/discovery_tasks/ds_down", status = 503, count = 1000 } end,
      })
      assert.equal("timeout", err.kind)
      assert.equal("ds_down", err.task.id)
      assert.equal("server", err.cause.kind)
      assert.matches("the last poll failed: server", err.message, 1, true)
    end)

    it("a permanent failure ends the wait at once", function()
      local task, err = session.client:wait_deep_search("ds_none", { interval = 1 })
      assert.is_nil(task)
      assert.equal("not_found", err.kind)
      assert.same({}, session.clock.slept)
    end)

    it("refuses bad options", function()
      local client = session.client
      assert.error_matches(function() client:wait_deep_search("ds_x", { interval = 0 }) end,
        "extruct.wait_deep_search: option 'interval' must be a positive number of seconds", nil, true)
      assert.error_matches(function() client:wait_deep_search("ds_x", { interval = 10, max_interval = 5 }) end,
        "extruct.wait_deep_search: max_interval (5) must be >= interval (10)", nil, true)
      assert.error_matches(function() client:wait_deep_search("ds_x", { max_interval = 2 }) end,
        "extruct.wait_deep_search: max_interval (2) must be >= interval (5)", nil, true) -- interval 5
      assert.error_matches(function() client:wait_deep_search("ds_x", { every = 5 }) end,
        "extruct.wait_deep_search: unknown option 'every'", nil, true)
      assert.error_matches(function() client:wait_deep_search("") end,
        "extruct.wait_deep_search: the task id must be a non-empty string, got an empty string", nil, true)
      assert.same({}, session.mock:requests())
    end)
  end)
end)

describe("get_billing", function()
  local session = helpers.mock_and_client{ single_attempt = true }

  it("sends GET /v1/billing and answers the user and the subscription", function()
    local r = pack(session.client:get_billing())
    assert.equal(1, r.n)
    local request = request_log.only(session.mock)
    assert.equal("GET", request.method)
    assert.equal("/v1/billing", request.target)
    assert.equal("pro", r[1].subscription.plan_tier)
    assert.is_false(r[1].subscription.requires_subscription)
    assert.is_string(r[1].user.organization_id)
    assert.is_true(r[1].user.organization_is_active)
  end)

  it("shows the plan that makes a Deep Search a 402", function()
    session.mock:control("POST", "/_mock/account", { plan = "free" })
    local billing = assert(session.client:get_billing())
    assert.equal("free", billing.subscription.plan_tier)
    assert.is_true(billing.subscription.requires_subscription)
    local _, err = session.client:create_deep_search{ query = "anything" }
    assert.equal("plan_required", err.code)
  end)
end)
