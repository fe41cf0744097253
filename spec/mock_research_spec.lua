-- Specs for Deep Research tasks of the mock's offline Extruct
-- (lua/extruct/mock/fake/deep_research.lua), over HTTP. The mock echoes a
-- brief with raw newlines inside the JSON string, as the real server does,
-- so these specs read the answers as bytes and decode them with lua-cjson,
-- which takes control characters in strings.

local cjson = require("cjson")
local helpers = require("spec.helpers")

local POLLS = 3 -- the mock's --polls: a task is done after that many polls
local BRIEF = "We sell cloud cost tools to large enterprises.\nResearch Globex (globex.example):\n"
  .. "- who owns cloud infrastructure\n- recent initiatives"

local session = helpers.mock_and_client{ mock = { polls = POLLS } }

--- A request over HTTP; the status, the decoded body and the raw body.
local function request(method, path, body)
  local headers = { authorization = "Bearer " .. session.mock.token }
  local text = body and cjson.encode(body) or nil
  if text then headers["content-type"], headers["content-length"] = "application/json", tostring(#text) end
  local status, raw = session.mock:http(method, path, headers, text)
  local ok, decoded = pcall(cjson.decode, raw)
  return status, ok and decoded or raw, raw
end

local function create(body)
  local status, task, raw = request("POST", "/v1/deep_research_tasks", body)
  assert.equal(200, status, raw)
  return task, raw
end

local function poll(id)
  local status, task, raw = request("GET", "/v1/deep_research_tasks/" .. id)
  assert.equal(200, status, raw)
  return task, raw
end

local function failure(expected_status, method, path, body)
  local status, answer, raw = request(method, path, body)
  assert.equal(expected_status, status, raw)
  return answer.detail
end

local TASK_FIELDS = { "id", "created_at", "updated_at", "status", "brief", "depth", "iterations", "agents",
                      "sources", "owner", "output_schema", "failure_reason", "report" }

describe("the offline Extruct's Deep Research", function()
  it("creates a task: created, no progress, no report, the brief echoed", function()
    local task = create{ brief = BRIEF, depth = "high" }
    for _, field in ipairs(TASK_FIELDS) do assert.is_not_nil(task[field], field) end
    assert.matches("^dr_", task.id)
    assert.same({ "created", 0, 0, 0 }, { task.status, task.iterations, task.agents, task.sources })
    assert.same({ BRIEF, "high" }, { task.brief, task.depth })
    assert.same({ cjson.null, cjson.null, cjson.null }, { task.output_schema, task.failure_reason, task.report })
    assert.same({ id = "usr_mock_0001", email = "owner@example.com" }, task.owner)
    assert.equal("medium", create{ brief = "Research Acme." }.depth) -- the default
  end)

  it("echoes the brief with raw newline bytes inside the JSON string, as the real server does", function()
    local task, raw = create{ brief = BRIEF }
    assert.matches("Research Globex (globex.example):\n- who owns", raw, 1, true)
    assert.is_nil(raw:find("\\n", 1, true)) -- not one escaped newline
    local _, got = poll(task.id)
    assert.matches('"brief":"We sell cloud cost tools to large enterprises.\nResearch', got, 1, true)
    local status, list = request("GET", "/v1/deep_research_tasks")
    assert.equal(200, status)
    assert.equal(BRIEF, list[1].brief)

    -- /_mock/quirks turns it off: the newlines escaped, valid JSON
    assert.same({ raw_newlines = false }, session.mock:control("POST", "/_mock/quirks", { raw_newlines = "false" }))
    local _, strict = poll(task.id)
    assert.matches("enterprises.\\nResearch", strict, 1, true)
    assert.is_nil(strict:find("\n", 1, true))
    assert.equal(BRIEF, assert(require("extruct").decode(strict)).brief)
    assert.equal(400, (session.mock:call("POST", "/_mock/quirks", { raw_newlines = "maybe" })))
    session.mock:reset()
    assert.matches("enterprises.\nResearch", select(2, create{ brief = BRIEF }), 1, true)
  end)

  it("progresses over polls (iterations, agents, sources) and ends done with a cited Markdown report", function()
    local task = create{ brief = BRIEF, depth = "high" }
    local seen = {}
    for i = 1, POLLS do
      local t = poll(task.id)
      seen[i] = { t.status, t.iterations, t.agents, t.sources }
      if i > 1 then
        assert.is_true(t.agents > seen[i - 1][3] and t.sources > seen[i - 1][4] and t.iterations > seen[i - 1][2])
        assert.is_true(t.updated_at > task.updated_at)
      end
    end
    assert.same({ "in_progress", "in_progress", "done" }, { seen[1][1], seen[2][1], seen[3][1] })
    local done = poll(task.id)
    assert.same({ "done", POLLS, 50 }, { done.status, done.iterations, done.agents }) -- high: 50 agents
    assert.equal(cjson.null, done.failure_reason)
    local report = done.report
    assert.equal("markdown", report.kind)
    assert.same({}, report.degradation_reasons)
    assert.matches("^# Research report: Globex\n", report.markdown)
    -- every [n] in the text resolves to a source, numbered 1..k
    for i, source in ipairs(report.sources) do
      assert.equal(i, source.id)
      assert.matches("^https://", source.url)
    end
    local cited = 0
    for n in report.markdown:gmatch("%[(%d+)%]") do
      assert.is_table(report.sources[tonumber(n)], "citation [" .. n .. "]")
      cited = cited + 1
    end
    assert.is_true(cited >= #report.sources)
    assert.equal("https://globex.example/", report.sources[1].url)
    assert.same(done, poll(task.id)) -- later polls change nothing
  end)

  it("with an output_schema, the report holds fields that fit it and their basis", function()
    local schema = { type = "object", properties = {
      ceo = { type = "string" }, founded = { type = "integer" }, public = { type = "boolean" },
      stage = { type = "string", enum = { "seed", "growth" } },
      risks = { type = "array", items = { type = "string" } },
      hq = { type = "object", properties = { city = { type = "string" } } },
    } }
    local task = create{ brief = "Research Acme (acme.example).", output_schema = schema }
    assert.same(schema, task.output_schema)
    session.mock:control("POST", "/_mock/advance", { id = task.id, polls = POLLS })
    local report = poll(task.id).report
    assert.equal("schema", report.kind)
    assert.is_nil(report.markdown)
    local fields = report.fields
    assert.is_string(fields.ceo)
    assert.equal(math.floor(fields.founded), fields.founded)
    assert.is_boolean(fields.public)
    assert.equal("seed", fields.stage)
    assert.is_string(fields.risks[1])
    assert.is_string(fields.hq.city)
    for key in pairs(schema.properties) do
      assert.is_table(report.basis[key], key)
      for _, id in ipairs(report.basis[key]) do assert.is_table(report.sources[id]) end
    end
  end)

  it("a brief that says 'fail' ends failed half way, with a failure_reason and no report", function()
    local task = create{ brief = "Please fail this one." }
    assert.equal("in_progress", poll(task.id).status)
    local failed = poll(task.id)
    assert.same({ "failed", cjson.null, 0 }, { failed.status, failed.report, failed.agents })
    assert.matches("Suggestions", failed.failure_reason, 1, true)
    assert.equal(2, failed.iterations) -- ceil(3 / 2) polls
  end)

  it("a brief that says 'degrade' ends done with degradation reasons and fewer agents", function()
    local task = create{ brief = "Research Acme; expect a degraded run.", depth = "xhigh" }
    local done = session.mock:control("POST", "/_mock/advance", { id = task.id, polls = POLLS })
    assert.equal("done", done.status)
    assert.equal(60, done.agents) -- 80% of xhigh's 75
    assert.is_true(#done.report.degradation_reasons > 0)
    assert.is_string(done.report.degradation_reasons[1])
  end)

  it("lists tasks newest first, paged, without polling them", function()
    local first = create{ brief = "Research Acme." }
    local second = create{ brief = "Research Globex." }
    local status, list = request("GET", "/v1/deep_research_tasks")
    assert.equal(200, status)
    assert.same({ second.id, first.id }, { list[1].id, list[2].id })
    assert.equal("created", list[1].status)
    local _, page = request("GET", "/v1/deep_research_tasks?offset=1&limit=1")
    assert.same({ first.id }, { page[1].id })
    assert.equal(1, #page)
    assert.equal("less_than_equal", failure(422, "GET", "/v1/deep_research_tasks?limit=101")[1].type)
  end)

  it("422 for a bad brief, depth or output_schema; 404 for an unknown task", function()
    local detail = failure(422, "POST", "/v1/deep_research_tasks", { depth = "max", colour = "red" })
    local types = {}
    for _, item in ipairs(detail) do types[table.concat(item.loc, ".")] = item.type end
    assert.same({ ["body.brief"] = "missing", ["body.depth"] = "enum", ["body.colour"] = "extra_forbidden" }, types)
    assert.equal("string_too_short", failure(422, "POST", "/v1/deep_research_tasks", { brief = "" })[1].type)
    assert.equal("string_too_long",
      failure(422, "POST", "/v1/deep_research_tasks", { brief = ("é"):rep(20001) })[1].type)
    create{ brief = ("é"):rep(20000) } -- characters, not bytes
    local item = failure(422, "POST", "/v1/deep_research_tasks", { brief = "x", output_schema = { type = "array" } })[1]
    assert.same({ "body", "output_schema" }, item.loc)
    assert.equal("value_error", item.type)
    local deep = { type = "string" }
    for _ = 1, 6 do deep = { type = "object", properties = { inner = deep } } end
    assert.matches("nests 6 levels",
      failure(422, "POST", "/v1/deep_research_tasks", { brief = "x", output_schema = deep })[1].msg, 1, true)
    local wide = { type = "object", properties = {} }
    for i = 1, 51 do wide.properties["p" .. i] = { type = "string" } end
    assert.matches("51 properties",
      failure(422, "POST", "/v1/deep_research_tasks", { brief = "x", output_schema = wide })[1].msg, 1, true)
    assert.equal("Task not found", failure(404, "GET", "/v1/deep_research_tasks/dr_nope"))
    assert.equal(405, (request("DELETE", "/v1/deep_research_tasks/dr_nope")))
  end)

  it("a task of another organization is 403 and left out of the list", function()
    local mine = create{ brief = "Research Acme (acme.example)." }
    local theirs = session.mock:control("POST", "/_mock/deep_research_tasks", { id = "dr_theirs", foreign = "true" })
    assert.equal("This task belongs to another organization",
      failure(403, "GET", "/v1/deep_research_tasks/" .. theirs.id))
    local status, list = request("GET", "/v1/deep_research_tasks")
    assert.equal(200, status)
    assert.same({ mine.id }, { list[1].id, list[2] and list[2].id })
    local err = select(2, session.client:get_deep_research("dr_theirs"))
    assert.equal("auth", err.kind)
    assert.equal(403, err.status)
    assert.equal(400, (session.mock:call("POST", "/_mock/deep_research_tasks", { foreign = "yes" })))
  end)

  it("the control API adds a task whose outcome it chooses, and moves its clock", function()
    local mock = session.mock
    local task = mock:control("POST", "/_mock/deep_research_tasks",
      { id = "dr_ctl", outcome = "failed", polls = 4, depth = "xhigh", brief = "Line one\nline two" })
    assert.same({ "dr_ctl", "created", "xhigh", "Line one\nline two" }, { task.id, task.status, task.depth, task.brief })
    assert.equal("in_progress", mock:control("POST", "/_mock/advance", { id = "dr_ctl", polls = 1 }).status)
    assert.equal("failed", mock:control("POST", "/_mock/advance", { id = "dr_ctl", polls = 1 }).status)
    local done = mock:control("POST", "/_mock/deep_research_tasks", { outcome = "done", brief = "Please fail" })
    assert.equal("done", mock:control("POST", "/_mock/advance", { id = done.id, polls = POLLS }).status)
    for _, params in ipairs({ { outcome = "lost" }, { depth = "max" }, { brief = "" }, { polls = "-1" },
                              { colour = "red" } }) do
      local status, answer = mock:call("POST", "/_mock/deep_research_tasks", params)
      assert.equal(400, status)
      assert.is_string(answer.detail)
    end
    assert.equal(400, (mock:call("POST", "/_mock/advance", { id = "dr_nope" })))
    mock:reset()
    assert.equal("Task not found", failure(404, "GET", "/v1/deep_research_tasks/dr_ctl"))
  end)
end)
