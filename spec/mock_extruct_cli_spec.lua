-- Extruct's own command-line client (the public Python script `extruct-api`
-- of github.com/extruct-ai/skills) against the mock server. The first part
-- sends the requests that script sends, byte for byte as its urllib code
-- makes them (compact JSON bodies, `urlencode`d queries with `+` for
-- spaces, the same defaults: offset 0, limit 20 or 50, run mode "new"), in
-- the order of a session with it, and checks the fields it reads: search,
-- lookalikes of stripe.com, lookup, tables, rows, columns, run, poll, data
-- and Deep Search. It needs no Python and no copy of the script. The second
-- part runs the script itself where EXTRUCT_SKILLS_CLI names a copy of it
-- (it is not part of this project), and says why it is skipped otherwise.
local cjson = require("cjson")
local helpers = require("spec.helpers")

local SCRIPT = os.getenv("EXTRUCT_SKILLS_CLI")

-- application/x-www-form-urlencoded, as Python's urllib.parse.urlencode writes it.
local function urlencode(pairs_)
  local parts = {}
  for i, pair in ipairs(pairs_) do
    local function encode(s)
      return (tostring(s):gsub("[^%w%-%._~ ]", function(c) return ("%%%02X"):format(c:byte()) end):gsub(" ", "+"))
    end
    parts[i] = encode(pair[1]) .. "=" .. encode(pair[2])
  end
  return table.concat(parts, "&")
end

describe("the requests of Extruct's own command line, against the mock", function()
  local session = helpers.shared_mock{ reset = false }

  -- One request as the script's _make_request sends it: the decoded answer and the status.
  local function send(method, path, query, payload, no_token)
    local headers = { accept = "application/json" }
    if not no_token then headers.authorization = "Bearer " .. session.mock.token end
    local body
    if payload ~= nil then
      body = cjson.encode(payload)
      headers["content-type"], headers["content-length"] = "application/json", tostring(#body)
    end
    local target = path .. (query and #query > 0 and "?" .. urlencode(query) or "")
    local status, text = session.mock:http(method, target, headers, body)
    return cjson.decode(text), status
  end

  local function ok(method, path, query, payload, no_token)
    local answer, status = send(method, path, query, payload, no_token)
    assert.equal(200, status, method .. " " .. path .. ": " .. cjson.encode(answer))
    return answer
  end

  local t, row, task -- made by one test, read by the next

  it("healthcheck and auth user (GET /v1/billing)", function()
    assert.same({ status = "ok" }, ok("GET", "/v1/healthcheck", nil, nil, true))
    local billing = ok("GET", "/v1/billing")
    assert.equal("pro", billing.subscription.plan_tier)
    assert.is_false(billing.subscription.requires_subscription)
    assert.equal("org_mock_0001", billing.user.organization_id)
  end)

  it("companies search --query Q [--filters JSON]: GET with offset 0 and limit 20", function()
    local page = ok("GET", "/v1/companies/search", { { "q", "AI procurement startups" }, { "offset", 0 },
                                                     { "limit", 20 } })
    assert.equal(20, #page.results)
    for _, company in ipairs(page.results) do
      assert.is_string(company.domain)
      assert.is_true(company.relevance_score > 0)
    end
    local filters = '{"include":{"country":["United States"]},"range":{"founded":{"min":2015}}}'
    page = ok("GET", "/v1/companies/search", { { "q", "enterprise sales AI" }, { "offset", 0 }, { "limit", 20 },
                                               { "filters", filters } })
    assert.equal(20, #page.results)
    for _, company in ipairs(page.results) do
      assert.equal("United States", company.hq_country)
      assert.is_true(company.founding_year >= 2015)
    end
  end)

  it("companies similar --company-identifier stripe.com, and the lookup the script lacks", function()
    local page = ok("GET", "/v1/companies/stripe.com/similar", { { "offset", 0 }, { "limit", 20 } })
    assert.equal("stripe.com", page.reference_company.domain)
    assert.equal(20, #page.results)
    for _, company in ipairs(page.results) do assert.are_not.equal("stripe.com", company.domain) end
    local company = ok("GET", "/v1/companies/stripe.com")
    assert.same(page.reference_company, company)
    assert.same(company, ok("GET", "/v1/companies/" .. helpers.url_encode("https://www.stripe.com/")))
  end)

  it("tables list, create (a company table), get", function()
    assert.is_true(#ok("GET", "/v1/tables", { { "offset", 0 }, { "limit", 50 } }) >= 2)
    t = ok("POST", "/v1/tables", nil, { name = "Leads", kind = "company", column_configs = { { kind = "agent",
      name = "Pitch", key = "pitch", value = { agent_type = "research_pro", prompt = "One-line pitch for {input}",
      output_format = "text" } } } })
    assert.matches("^tbl_", t.id)
    assert.equal("Leads", ok("GET", "/v1/tables/" .. t.id).name)
  end)

  it("rows create, rows get", function()
    local rows = ok("POST", "/v1/tables/" .. t.id .. "/rows", nil,
      { rows = { { data = { input = "stripe.com" } }, { data = { input = "https://www.extruct.ai" } } } })
    assert.equal(2, #rows)
    row = rows[1]
    assert.equal("stripe.com", ok("GET", "/v1/tables/" .. t.id .. "/rows/" .. row.id).data.input)
  end)

  it("columns list (the table's columns), columns add", function()
    local keys = {}
    for _, column in ipairs(ok("GET", "/v1/tables/" .. t.id).columns) do keys[#keys + 1] = column.config.key end
    assert.same({ "input", "company_profile", "company_name", "company_website", "pitch" }, keys)
    local added = ok("POST", "/v1/tables/" .. t.id .. "/columns", nil, { column_configs = { { kind = "agent",
      name = "Founded", key = "founded", value = { agent_type = "research_pro", prompt = "When was {company_name}"
      .. " founded?", output_format = "number" } } } })
    assert.equal("founded", added[1].config.key)
  end)

  it("tables run (mode new by default), tables poll until idle, tables data --columns", function()
    local run = ok("POST", "/v1/tables/" .. t.id .. "/run", nil, { mode = "new" })
    assert.equal(10, run.num_requested_cells) -- 2 rows x 5 output columns
    local header
    for _ = 1, 20 do -- the script's loop: GET the table until idle and nothing in progress
      header = ok("GET", "/v1/tables/" .. t.id)
      if header.status.run_status == "idle" and header.status.num_cells_in_progress == 0 then break end
    end
    assert.equal("idle", header.status.run_status)
    local data = ok("GET", "/v1/tables/" .. t.id .. "/data", { { "offset", 0 }, { "limit", 50 } })
    local keys = {}
    for _, column in ipairs(data.columns) do keys[column.config.key] = true end
    for _, key in ipairs({ "input", "pitch", "founded" }) do assert.is_true(keys[key], key) end
    assert.equal(2, #data.rows)
    assert.equal("done", data.rows[1].data.pitch.status)
    assert.is_number(data.rows[1].data.founded.value.answer)
  end)

  it("deep-search create, get, poll, results, resume, list", function()
    task = ok("POST", "/v1/discovery_tasks", nil,
      { query = "vertical SaaS companies serving freight forwarding", desired_num_results = 5 })
    assert.equal("created", task.status)
    local got = ok("GET", "/v1/discovery_tasks/" .. task.id)
    assert.same({ task.id, "in_progress" }, { got.id, got.status })
    local polled
    for _ = 1, 20 do -- the script's poll: until done or failed, never on is_exhausted
      polled = ok("GET", "/v1/discovery_tasks/" .. task.id)
      if polled.status == "done" or polled.status == "failed" then break end
    end
    assert.equal("done", polled.status)
    local results = ok("GET", "/v1/discovery_tasks/" .. task.id .. "/results", { { "offset", 0 }, { "limit", 50 } })
    assert.equal(5, #results.results)
    assert.matches("^https://", results.results[1].company_website)
    assert.equal(10, ok("POST", "/v1/discovery_tasks/" .. task.id .. "/resume", nil,
      { desired_new_results = 5 }).desired_num_results)
    assert.equal(task.id, ok("GET", "/v1/discovery_tasks", { { "offset", 0 }, { "limit", 20 } })[1].id)
  end)

  it("rows delete, columns delete, tables delete (each with --yes)", function()
    assert.same({ row.id }, ok("DELETE", "/v1/tables/" .. t.id .. "/rows", nil, { rows = { row.id } }))
    local founded
    for _, column in ipairs(ok("GET", "/v1/tables/" .. t.id).columns) do
      if column.config.key == "founded" then founded = column.id end
    end
    assert.equal("founded", ok("DELETE", "/v1/tables/" .. t.id .. "/columns/" .. founded).config.key)
    assert.equal(t.id, ok("DELETE", "/v1/tables/" .. t.id).id)
  end)
end)

describe("Extruct's own command line, run against the mock", function()
  local session = helpers.shared_mock()

  local function python_and_script()
    if not SCRIPT or SCRIPT == "" then
      return nil, "EXTRUCT_SKILLS_CLI does not name a copy of extruct-api (skills/extruct-api/scripts/extruct-api of"
        .. " github.com/extruct-ai/skills, kept outside this project)"
    end
    if not io.open(SCRIPT, "rb") then return nil, "EXTRUCT_SKILLS_CLI names " .. SCRIPT .. ", which cannot be read" end
    local _, status = helpers.run("python3 -c 'import argparse, urllib.request' 2>&1")
    if status ~= 0 then return nil, "python3 with urllib is not installed" end
    return true
  end

  local available, why = python_and_script()
  if not available then
    pending("skipped: " .. why)
    return
  end

  -- One command of the script: its exit status and its stdout decoded.
  local function script(...)
    local words = { "python3", helpers.shell_quote(SCRIPT) }
    for _, word in ipairs({ ... }) do words[#words + 1] = helpers.shell_quote(word) end
    words[#words + 1] = "--base-url " .. helpers.shell_quote(session.mock.url)
    local out, status = helpers.run(("env EXTRUCT_API_TOKEN=%s %s 2>&1"):format(
      helpers.shell_quote(session.mock.token), table.concat(words, " ")))
    local okay, value = pcall(cjson.decode, out)
    return status, okay and value or out
  end

  it("completes search, lookalike, tables, rows, columns, run, poll, data and Deep Search with exit status 0",
    function()
    local function succeeds(...)
      local status, answer = script(...)
      assert.equal(0, status, table.concat({ ... }, " ") .. ": " .. tostring(type(answer) == "table"
        and cjson.encode(answer) or answer))
      return answer
    end
    assert.equal(20, #succeeds("companies", "search", "--query", "AI procurement startups").results)
    assert.equal("stripe.com", succeeds("companies", "similar", "--company-identifier", "stripe.com")
      .reference_company.domain)
    assert.is_true(#succeeds("tables", "list") >= 2)
    local t = succeeds("tables", "create", "--payload", '{"name":"Leads","kind":"company","column_configs":[{"kind":'
      .. '"agent","name":"Pitch","key":"pitch","value":{"prompt":"Pitch {input}","output_format":"text"}}]}')
    succeeds("tables", "get", t.id)
    local rows = succeeds("rows", "create", t.id, "--payload", '{"rows":[{"data":{"input":"stripe.com"}}]}')
    succeeds("rows", "get", t.id, rows[1].id)
    assert.equal(5, #succeeds("columns", "list", t.id))
    succeeds("columns", "add", t.id, "--payload", '{"column_configs":[{"kind":"input","name":"Note","key":"note"}]}')
    succeeds("tables", "run", t.id)
    assert.equal("idle", succeeds("tables", "poll", t.id, "--interval", "0.05").status.run_status)
    assert.equal(1, #succeeds("tables", "data", t.id, "--columns", "input,pitch").rows)
    local task = succeeds("deep-search", "create", "--payload", '{"query":"freight forwarding SaaS",'
      .. '"desired_num_results":3}')
    assert.equal("done", succeeds("deep-search", "poll", task.id, "--interval", "0.05").status)
    assert.equal(3, #succeeds("deep-search", "results", task.id).results)
  end)
end)
