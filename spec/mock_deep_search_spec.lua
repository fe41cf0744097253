-- Specs for Deep Search (discovery tasks) of the mock's offline Extruct
-- (lua/extruct/mock/fake/deep_search.lua), over HTTP: the lifecycle over
-- polls, its three endings, results, resume, the list, validation, the
-- companies and tasks it leaves out, results imported into a table, and
-- the control API's tasks.

local extruct = require("extruct")
local helpers = require("spec.helpers")

local POLLS = 3 -- the mock's --polls: a task is done after that many polls

local session = helpers.mock_and_client{ single_attempt = true, mock = { polls = POLLS } }
local api = require("spec.support.fake_requests")(session)
local ok, fails, find_problem = api.ok, api.fails, api.find_problem

local TASK_FIELDS = {
  "id", "created_at", "status", "query", "desired_num_results", "is_exhausted", "num_results_discovered",
  "num_results_enriched", "num_results_evaluated", "num_results", "table_id", "auto_data_sources", "data_sources",
  "criteria", "exclude_domains", "exclude_task_ids",
}

local function create(body)
  return (ok("POST", "/v1/discovery_tasks", body))
end

local function poll(id)
  return (ok("GET", "/v1/discovery_tasks/" .. id))
end

--- status, is_exhausted and the four counters of a task.
local function progress(task)
  return { task.status, task.is_exhausted, task.num_results_discovered, task.num_results_enriched,
           task.num_results_evaluated, task.num_results }
end

--- Polls a task until it ends; the progress of every poll.
local function poll_to_end(id, most)
  local seen = {}
  for i = 1, most or 20 do
    local task = poll(id)
    seen[i] = progress(task)
    if task.status == "done" or task.status == "failed" then return seen, task end
  end
  error("task " .. id .. " did not end")
end

--- The counters never go down and stay ordered: discovered >= enriched >= evaluated >= results.
local function assert_consistent(seen)
  for i, p in ipairs(seen) do
    assert.is_true(p[3] >= p[4] and p[4] >= p[5] and p[5] >= p[6], "poll " .. i)
    if i > 1 then
      for k = 3, 6 do assert.is_true(p[k] >= seen[i - 1][k], "poll " .. i) end
    end
  end
end

describe("the offline Extruct's Deep Search", function()
  it("creates a task: status created, counters zero, criteria made from the query", function()
    local task = create{ query = "logistics software companies", desired_num_results = 5 }
    for _, field in ipairs(TASK_FIELDS) do assert.is_not_nil(task[field], field) end
    assert.matches("^ds_", task.id)
    assert.same({ "created", false, 0, 0, 0, 0 }, progress(task))
    assert.equal(5, task.desired_num_results)
    assert.equal("logistics software companies", task.query)
    assert.equal(extruct.null, task.table_id)
    assert.is_true(task.auto_data_sources)
    assert.equal(2, #task.criteria)
    for _, criterion in ipairs(task.criteria) do
      assert.matches("^[%a][%w_]*$", criterion.key)
      assert.is_true(#criterion.criterion >= 10)
    end
    assert.equal(100, create{ query = "robots" }.desired_num_results) -- the default
    local given = { { key = "has_api", name = "API", criterion = "Offers a public API." } }
    assert.same(given, create{ query = "robots", criteria = given }.criteria)
  end)

  it("progresses over polls, in_progress then done with the desired results", function()
    local task = create{ query = "logistics software companies", desired_num_results = 8 }
    local seen, done = poll_to_end(task.id)
    assert.equal(POLLS, #seen)
    assert.equal("in_progress", seen[1][1])
    assert.is_true(seen[1][3] > 0)
    assert_consistent(seen)
    assert.same({ "done", false }, { done.status, done.is_exhausted })
    assert.equal(8, done.num_results)
    assert.is_true(done.num_results_discovered >= 8)
    assert.same(progress(done), progress(poll(task.id))) -- later polls change nothing
  end)

  it("results: readable while running, high-fit only, best first, paged", function()
    local task = create{ query = "logistics software companies", desired_num_results = 12 }
    poll(task.id)
    local running = ok("GET", "/v1/discovery_tasks/" .. task.id .. "/results") -- a poll too
    assert.equal("in_progress", running.status)
    assert.equal(running.num_results, #running.results)
    assert.is_true(#running.results > 0)
    local done = ok("GET", "/v1/discovery_tasks/" .. task.id .. "/results", nil, { limit = 250 })
    assert.equal("done", done.status)
    assert.equal(12, #done.results)
    local ids = {}
    for i, result in ipairs(done.results) do
      assert.is_nil(ids[result.id])
      ids[result.id] = true
      assert.equal(task.id, result.task_id)
      assert.is_string(result.company_name)
      assert.matches("^https://.+%.example$", result.company_website)
      assert.is_string(result.company_description)
      assert.is_number(result.relevance)
      if i > 1 then assert.is_true(done.results[i - 1].relevance >= result.relevance) end
      -- high fit: at least 75% of the criteria graded 4 or 5
      local high, count = 0, 0
      for _, criterion in ipairs(done.criteria) do
        local score = result.scores[criterion.key]
        count = count + 1
        if score.grade >= 4 then high = high + 1 end
        assert.is_string(score.explanation)
        assert.is_table(score.sources)
      end
      assert.is_true(high / count >= 0.75)
    end
    -- the index's logistics companies come first among the candidates, with their profile id
    local globex = ok("GET", "/v1/companies/globex.example")
    local found
    for _, result in ipairs(done.results) do
      if result.company_name == "Globex" then found = result end
    end
    assert.is_table(found)
    assert.equal(globex.id, found.company_profile_id)
    local page = ok("GET", "/v1/discovery_tasks/" .. task.id .. "/results", nil, { offset = 10, limit = 5 })
    assert.equal(2, #page.results)
    assert.equal(done.results[11].id, page.results[1].id)
    assert.equal(5, #ok("GET", "/v1/discovery_tasks/" .. task.id .. "/results", nil, { limit = 5 }).results)
  end)

  it("a query that says 'fail' fails half way; its counters stop there", function()
    local task = create{ query = "companies that will FAIL to load", desired_num_results = 10 }
    local seen, failed = poll_to_end(task.id)
    assert.equal(2, #seen) -- ceil(3 / 2)
    assert.equal("failed", failed.status)
    assert.is_true(failed.num_results < 10)
    assert_consistent(seen)
    assert.same(progress(failed), progress(poll(task.id)))
    assert.equal("The task failed: a failed task cannot be resumed",
      fails(400, "POST", "/v1/discovery_tasks/" .. task.id .. "/resume", { desired_new_results = 5 }))
  end)

  it("a query that says 'exhaust' is exhausted at once and stays in_progress while candidates are scored", function()
    local task = create{ query = "exhausted niche: underwater basket weavers", desired_num_results = 10 }
    local seen, done = poll_to_end(task.id)
    assert.equal(POLLS + 2, #seen)
    for i = 1, #seen - 1 do
      assert.same({ "in_progress", true }, { seen[i][1], seen[i][2] }, "poll " .. i)
      assert.equal(seen[1][3], seen[i][3]) -- nothing more is discovered
    end
    assert_consistent(seen)
    assert.same({ "done", true }, { done.status, done.is_exhausted })
    assert.is_true(done.num_results < 10)
    assert.equal("The task is exhausted: its sources have no more candidates",
      fails(400, "POST", "/v1/discovery_tasks/" .. task.id .. "/resume", { desired_new_results = 5 }))
  end)

  it("resume asks for more results: the task runs again and ends with them", function()
    local task = create{ query = "logistics software companies", desired_num_results = 4 }
    poll_to_end(task.id)
    local resumed = ok("POST", "/v1/discovery_tasks/" .. task.id .. "/resume", { desired_new_results = 3 })
    assert.equal(7, resumed.desired_num_results)
    assert.equal(4, resumed.num_results)
    local seen, done = poll_to_end(task.id)
    assert.equal("in_progress", seen[1][1])
    assert.equal(7, done.num_results)
    assert.equal(7, #ok("GET", "/v1/discovery_tasks/" .. task.id .. "/results").results)
    local same = ok("POST", "/v1/discovery_tasks/" .. task.id .. "/resume", { desired_new_results = 0 })
    assert.same(progress(done), progress(same))
    local detail = fails(422, "POST", "/v1/discovery_tasks/" .. task.id .. "/resume", { desired_new_results = 251 })
    assert.equal("less_than_equal", detail[1].type)
    assert.equal("extra_forbidden",
      fails(422, "POST", "/v1/discovery_tasks/" .. task.id .. "/resume", { desired_results = 1 })[1].type)
    assert.equal("Task not found", fails(404, "POST", "/v1/discovery_tasks/ds_nope/resume", {}))
  end)

  it("a result is the company a lookup of its domain answers, made-up ones too", function()
    local task = create{ query = "logistics software companies", desired_num_results = 30 }
    poll_to_end(task.id)
    local made_up = 0
    for _, result in ipairs(ok("GET", "/v1/discovery_tasks/" .. task.id .. "/results", nil, { limit = 50 }).results) do
      local company = ok("GET", "/v1/companies/" .. helpers.url_encode(result.company_website))
      assert.same({ result.company_name, result.company_description, result.hq_city, result.founding_year },
        { company.name, company.short_description, company.hq_city, company.founding_year })
      if result.source == "web_search" then
        made_up = made_up + 1
        assert.equal(extruct.null, result.company_profile_id)
      else
        assert.equal(company.id, result.company_profile_id)
      end
    end
    assert.is_true(made_up > 0)
  end)

  it("resume without a count asks for 25 more", function()
    local task = create{ query = "logistics software companies", desired_num_results = 4 }
    poll_to_end(task.id)
    assert.equal(29, ok("POST", "/v1/discovery_tasks/" .. task.id .. "/resume").desired_num_results)
    local _, done = poll_to_end(task.id)
    assert.equal(29, done.num_results)
  end)

  it("exclude_domains: read as registered domains, each once, at most 1,000; no result at them", function()
    local first = ok("GET", "/v1/discovery_tasks/" .. select(2, poll_to_end(create{
      query = "logistics software companies", desired_num_results = 6 }.id)).id .. "/results").results
    local excluded = { first[1].company_website .. "/about", "www." .. first[2].company_website:match("//(.*)$"),
                       first[1].company_website }
    local task = create{ query = "logistics software companies", desired_num_results = 6, exclude_domains = excluded }
    local domain1, domain2 = first[1].company_website:match("//(.*)$"), first[2].company_website:match("//(.*)$")
    assert.same({ domain1, domain2 }, task.exclude_domains)
    poll_to_end(task.id)
    local results = ok("GET", "/v1/discovery_tasks/" .. task.id .. "/results").results
    assert.equal(6, #results)
    for _, result in ipairs(results) do
      assert.is_true(result.company_website ~= "https://" .. domain1 and result.company_website ~= "https://" .. domain2)
    end
    local many = {}
    for i = 1, 1001 do many[i] = ("c%d.com"):format(i) end
    local item = fails(422, "POST", "/v1/discovery_tasks", { query = "x", exclude_domains = many })[1]
    assert.same({ "body", "exclude_domains" }, item.loc)
    assert.matches("1001 distinct domains once each is read as its registered domain; at most 1000", item.msg, 1, true)
    item = fails(422, "POST", "/v1/discovery_tasks", { query = "x", exclude_domains = { "acme.example", "localhost" } })[1]
    assert.same({ "body", "exclude_domains", 1 }, item.loc)
  end)

  it("exclude_task_ids: finished tasks of this organization, at most 100; their results are left out", function()
    local before = create{ query = "logistics software companies", desired_num_results = 5 }
    local running = create{ query = "robots" }
    local detail = fails(422, "POST", "/v1/discovery_tasks", { query = "logistics software companies",
      exclude_task_ids = { before.id, "ds_nope" } })
    assert.equal("Value error, '" .. before.id .. "' is not a finished Deep Search task of this organization (it is"
      .. " created)", find_problem(detail, "exclude_task_ids", "0").msg)
    assert.matches("'ds_nope' is not a finished Deep Search task", find_problem(detail, "exclude_task_ids", "1").msg,
      1, true)
    local ids = {}
    for i = 1, 101 do ids[i] = running.id end
    assert.equal("too_long", fails(422, "POST", "/v1/discovery_tasks", { query = "x", exclude_task_ids = ids })[1].type)
    poll_to_end(before.id)
    local earlier = {}
    for _, result in ipairs(ok("GET", "/v1/discovery_tasks/" .. before.id .. "/results").results) do
      earlier[result.company_website] = true
    end
    local task = create{ query = "logistics software companies", desired_num_results = 5,
                         exclude_task_ids = { before.id } }
    assert.same({ before.id }, task.exclude_task_ids)
    poll_to_end(task.id)
    local results = ok("GET", "/v1/discovery_tasks/" .. task.id .. "/results").results
    assert.equal(5, #results)
    for _, result in ipairs(results) do assert.is_nil(earlier[result.company_website], result.company_website) end
  end)

  it("table with auto_import: results become rows as they are evaluated, run when asked; /data lists the task",
    function()
    local t = ok("POST", "/v1/tables", { name = "Found", kind = "company", column_configs = {
      { kind = "agent", name = "Pitch", key = "pitch", value = { prompt = "Pitch {input}", output_format = "text" } } } })
    local pitch = t.columns[5].id
    local task = create{ query = "logistics software companies", desired_num_results = 6,
                         table = { id = t.id, auto_import = true, run = true, columns = { pitch } } }
    assert.equal(t.id, task.table_id)
    local data = ok("GET", "/v1/tables/" .. t.id .. "/data") -- a poll of the table is one of the task
    assert.same({ task.id }, { data.discovery_tasks[1].id })
    local imported = #data.rows
    assert.is_true(imported >= 1 and imported < 6, tostring(imported))
    local _, done = poll_to_end(task.id)
    local results = ok("GET", "/v1/discovery_tasks/" .. task.id .. "/results").results
    for _ = 1, 5 do data = ok("GET", "/v1/tables/" .. t.id .. "/data") end
    assert.equal(done.num_results, #data.rows)
    local websites = {}
    for _, result in ipairs(results) do websites[result.company_website:match("//(.*)$")] = true end
    for _, row in ipairs(data.rows) do
      assert.is_true(websites[row.data.input], row.data.input)
      assert.equal(task.id, row.metadata.discovery_task_id)
      assert.equal("done", row.data.pitch.status)
      assert.is_nil(row.data.company_name) -- only the columns asked for ran
    end
    assert.equal("done", data.discovery_tasks[1].status)
    -- without auto_import nothing is imported, though the table lists the task
    local quiet = create{ query = "robots", desired_num_results = 2, table = { id = t.id } }
    poll_to_end(quiet.id)
    data = ok("GET", "/v1/tables/" .. t.id .. "/data")
    assert.equal(done.num_results, #data.rows)
    assert.equal(2, #data.discovery_tasks)
  end)

  it("table: 404 for an unknown table or column; 422 for a people table or an input column to run", function()
    assert.equal("Table not found", fails(404, "POST", "/v1/discovery_tasks",
      { query = "robots", table = { id = "tbl_nope", auto_import = true } }))
    assert.equal("Column not found", fails(404, "POST", "/v1/discovery_tasks",
      { query = "robots", table = { id = "tbl_demo", auto_import = true, run = true, columns = { "col_nope" } } }))
    local item = fails(422, "POST", "/v1/discovery_tasks",
      { query = "robots", table = { id = "tbl_people", auto_import = true } })[1]
    assert.same({ "body", "table", "id" }, item.loc)
    assert.matches("a Deep Search finds companies: table 'tbl_people' is a people table", item.msg, 1, true)
    local demo = ok("GET", "/v1/tables/tbl_demo")
    item = fails(422, "POST", "/v1/discovery_tasks",
      { query = "robots", table = { id = "tbl_demo", auto_import = true, columns = { demo.columns[1].id } } })[1]
    assert.matches("is an input column", item.msg, 1, true)
    assert.same({}, ok("GET", "/v1/discovery_tasks"))
  end)

  it("lists tasks newest first, paged, without polling them", function()
    local first = create{ query = "first" }
    local second = create{ query = "second" }
    local third = create{ query = "third" }
    local list = ok("GET", "/v1/discovery_tasks")
    assert.same({ third.id, second.id, first.id }, { list[1].id, list[2].id, list[3].id })
    assert.equal("created", list[1].status)
    local page = ok("GET", "/v1/discovery_tasks", nil, { offset = 1, limit = 1 })
    assert.same({ second.id }, { page[1].id })
    assert.equal(1, #page)
    assert.same({}, ok("GET", "/v1/discovery_tasks", nil, { offset = 3 }))
    assert.equal("less_than_equal", fails(422, "GET", "/v1/discovery_tasks", nil, { limit = 101 })[1].type)
  end)

  it("422 for bad bodies, FastAPI style; 404 for an unknown task", function()
    local detail = fails(422, "POST", "/v1/discovery_tasks", { desired_num_results = 0 })
    assert.equal("missing", find_problem(detail, "body", "query").type)
    assert.equal("greater_than_equal", find_problem(detail, "body", "desired_num_results").type)
    detail = fails(422, "POST", "/v1/discovery_tasks", { query = "x", desired_num_results = 251,
      criteria = { { key = "1bad", name = "", criterion = "short" }, { key = "ok", name = "Ok", criterion = "long enough text" },
                   { key = "ok", name = "Again", criterion = "long enough text" } },
      auto_data_sources = false, data_sources = { "telepathy" }, colour = "red" })
    assert.equal("less_than_equal", find_problem(detail, "desired_num_results").type)
    assert.equal("string_pattern_mismatch", find_problem(detail, "criteria", "0", "key").type)
    assert.equal("string_too_short", find_problem(detail, "criteria", "0", "name").type)
    assert.equal("string_too_short", find_problem(detail, "criteria", "0", "criterion").type)
    assert.equal("value_error", find_problem(detail, "criteria", "2", "key").type)
    assert.equal("enum", find_problem(detail, "data_sources", "0").type)
    assert.equal("extra_forbidden", find_problem(detail, "body", "colour").type)
    assert.equal("value_error", fails(422, "POST", "/v1/discovery_tasks", { query = "x", auto_data_sources = false })[1]
      .type)
    assert.equal("missing", fails(422, "POST", "/v1/discovery_tasks")[1].type) -- no body
    local _, err = session.client:request("POST", "/v1/discovery_tasks", { body = '{"query": ' })
    assert.equal(422, err.status)
    assert.equal("json_invalid", err.detail[1].type)
    assert.same({}, ok("GET", "/v1/discovery_tasks"))
    assert.equal("Task not found", fails(404, "GET", "/v1/discovery_tasks/ds_nope"))
    assert.equal("Task not found", fails(404, "GET", "/v1/discovery_tasks/ds_nope/results"))
    local task = create{ query = "robots" }
    assert.equal("less_than_equal", fails(422, "GET", "/v1/discovery_tasks/" .. task.id .. "/results", nil,
      { limit = 251 })[1].type)
  end)

  it("the control API adds a task whose outcome it chooses, and moves its clock", function()
    local mock = session.mock
    local task = mock:control("POST", "/_mock/discovery_tasks",
      { id = "ds_ctl", outcome = "exhausted", polls = 1, desired = 5, query = "robots" })
    assert.same({ "ds_ctl", "created", "robots", 5 }, { task.id, task.status, task.query, task.desired_num_results })
    local moved = mock:control("POST", "/_mock/advance", { id = "ds_ctl", polls = 1 })
    assert.same({ "in_progress", true }, { moved.status, moved.is_exhausted })
    moved = mock:control("POST", "/_mock/advance", { id = "ds_ctl", polls = 10 })
    assert.equal("done", moved.status)
    assert.same(progress(moved), progress(poll("ds_ctl")))
    local failing = mock:control("POST", "/_mock/discovery_tasks", { outcome = "failed" })
    assert.matches("^ds_", failing.id)
    assert.equal("failed", mock:control("POST", "/_mock/advance", { id = failing.id, polls = 5 }).status)
    for _, params in ipairs({ { outcome = "lost" }, { desired = "0" }, { desired = "251" }, { polls = "x" },
                              { id = "" }, { colour = "red" } }) do
      local status, answer = mock:call("POST", "/_mock/discovery_tasks", params)
      assert.equal(400, status)
      assert.is_string(answer.detail)
    end
    mock:reset()
    assert.equal("Task not found", fails(404, "GET", "/v1/discovery_tasks/ds_ctl"))
  end)
end)
