-- Specs for the Tables API of the mock's offline Extruct
-- (lua/extruct/mock/fake/tables.lua and the state behind it): every
-- endpoint over real HTTP, through the client's generic request path.

local extruct = require("extruct")
local cjson = require("cjson")
local helpers = require("spec.helpers")

local null = extruct.null
local CELLS_PER_POLL = 4

local session = helpers.mock_and_client{ mock = { cells_per_poll = CELLS_PER_POLL }, single_attempt = true }
local api = require("spec.support.fake_requests")(session)
local call, ok, fails, find_problem = api.call, api.ok, api.fails, api.find_problem

local mock, client
before_each(function() mock, client = session.mock, session.client end)

local function encode(value)
  return assert(extruct.encode(value))
end

local function create(spec)
  return (ok("POST", "/v1/tables", spec))
end

local WEBSITE = { kind = "input", name = "Website", key = "website" }
local SUMMARY = { kind = "agent", name = "Summary", key = "summary",
                  value = { prompt = "What does {website} sell?", output_format = "text" } }
local GRADE = { kind = "criterion_grade", name = "Fit", key = "fit", value = { criterion = "Sells to enterprises." } }

--- A table with one input and two output columns, and `n` rows.
local function research_table(n, name)
  local t = create{ name = name or "Research", column_configs = { WEBSITE, SUMMARY, GRADE } }
  local rows = {}
  for i = 1, n do rows[i] = { data = { website = ("https://company%d.example"):format(i) } } end
  if n > 0 then ok("POST", "/v1/tables/" .. t.id .. "/rows", { rows = rows, run = false }) end
  return t
end

local function status_of(id)
  return ok("GET", "/v1/tables/" .. id).status
end

local function data_of(id, query)
  return ok("GET", "/v1/tables/" .. id .. "/data", nil, query)
end

describe("the offline Extruct's Tables API", function()

  describe("auth and routing", function()
    local ROUTES = {
      { "GET", "/v1/user" }, { "GET", "/v1/tables" }, { "POST", "/v1/tables" },
      { "GET", "/v1/tables/tbl_idle" }, { "PATCH", "/v1/tables/tbl_idle" }, { "DELETE", "/v1/tables/tbl_idle" },
      { "POST", "/v1/tables/tbl_idle/clone" }, { "GET", "/v1/tables/tbl_idle/data" },
      { "POST", "/v1/tables/tbl_idle/rows" }, { "PATCH", "/v1/tables/tbl_idle/rows" },
      { "DELETE", "/v1/tables/tbl_idle/rows" }, { "GET", "/v1/tables/tbl_idle/rows/row_0001" },
      { "POST", "/v1/tables/tbl_idle/columns" }, { "PATCH", "/v1/tables/tbl_idle/columns/col_0001" },
      { "DELETE", "/v1/tables/tbl_idle/columns/col_0001" }, { "POST", "/v1/tables/tbl_idle/run" },
    }

    it("answers 401 with WWW-Authenticate on every route but the healthcheck", function()
      for _, route in ipairs(ROUTES) do
        local status, body, headers = mock:http(route[1], route[2], { authorization = "Bearer wrong" }, "{}")
        assert.equal(401, status, route[2])
        assert.equal("Bearer", headers["www-authenticate"])
        assert.same({ detail = "Could not validate credentials" }, cjson.decode(body))
      end
      assert.same({ status = "ok" }, cjson.decode((select(2, mock:http("GET", "/v1/healthcheck")))))
      -- nothing was deleted or changed by the refused requests
      assert.equal("Idle table", ok("GET", "/v1/tables/tbl_idle").name)
    end)

    it("answers 405 with Allow for a wrong method, 404 for unknown paths and tables", function()
      local _, err = call("PUT", "/v1/tables")
      assert.equal(405, err.status)
      local status, _, headers = mock:http("PUT", "/v1/tables/tbl_idle/rows", { authorization = "Bearer " .. mock.token })
      assert.equal(405, status)
      assert.equal("DELETE, PATCH, POST", headers.allow)
      assert.equal("Not Found", fails(404, "GET", "/v1/tables/tbl_idle/nothing"))
      for _, route in ipairs(ROUTES) do
        local path = route[2]:gsub("tbl_idle", "tbl_gone")
        if path ~= route[2] then
          assert.equal("Table not found", fails(404, route[1], path, {}), path)
        end
      end
    end)

    it("GET /v1/user: the mock's user", function()
      local user = ok("GET", "/v1/user")
      assert.equal("usr_mock_0001", user.user_id)
      assert.equal("owner@example.com", user.email)
      assert.is_number(user.available_credits)
      assert.is_string(user.organization_id)
    end)

    it("a repeated parameter other than tags is refused with 422", function()
      local detail = fails(422, "GET", "/v1/tables/tbl_idle/data", nil, { limit = { 1, 2 } })
      assert.same({ "query", "limit" }, detail[1].loc)
    end)
  end)

  describe("creating, reading, updating and deleting tables", function()
    it("creates a table with its columns, defaults filled in; company and people tables get built-in ones", function()
      local function kinds_and_keys(t)
        local out = {}
        for i, col in ipairs(t.columns) do out[i] = col.config.kind .. ":" .. col.config.key end
        return out
      end
      assert.same({}, create{ name = "Bare generic" }.columns)
      local company = create{ name = "Bare company", kind = "company" }
      assert.same({ "input:input", "company_profile:company_profile", "company_name:company_name",
                    "company_website:company_website" }, kinds_and_keys(company))
      local people = create{ name = "Bare people", kind = "people" }
      assert.same({ "input:input", "input:full_name", "input:role", "input:profile_url" }, kinds_and_keys(people))
      -- rows with the built-in input go in, and a run fills the company columns
      local rows = ok("POST", "/v1/tables/" .. company.id .. "/rows", { rows = { { data = { input = "acme.com" } } },
                                                                         run = true })
      assert.equal("acme.com", rows[1].data.input)
      ok("POST", "/v1/tables/" .. people.id .. "/rows", { rows = { { data = { input = "acme.com",
        full_name = "Ada Lovelace", role = "CEO", profile_url = "https://www.linkedin.com/in/ada" } } } })
      local filled = data_of(company.id).rows[1].data
      assert.equal("Acme", filled.company_name.value.answer)
      assert.equal("https://acme.com", filled.company_website.value.answer)
      assert.equal("Acme", filled.company_profile.value.answer.name)
      -- columns asked for come after the built-in ones; one with a built-in key replaces it
      local mixed = create{ name = "Mixed", kind = "company", column_configs = { WEBSITE,
        { kind = "input", name = "Domain", key = "input" } } }
      assert.same({ "company_profile:company_profile", "company_name:company_name", "company_website:company_website",
                    "input:website", "input:input" }, kinds_and_keys(mixed))
      assert.equal("Domain", mixed.columns[5].config.name)
      local t = create{ name = "Leads", description = "Q3 leads", tags = { "q3", "sales" }, notify = true,
                        settings = { exclude_from_search = false },
                        column_configs = { WEBSITE, SUMMARY,
                          { kind = "company_people_finder", name = "People", key = "people", value = { roles = { "CEO" } } } } }
      assert.matches("^tbl_", t.id)
      assert.matches("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d%.%d+Z$", t.created_at)
      assert.equal("Leads", t.name)
      assert.equal("Q3 leads", t.description)
      assert.same({ "q3", "sales" }, t.tags)
      assert.equal("generic", t.kind)
      assert.same({ id = "usr_mock_0001", email = "owner@example.com" }, t.owner)
      assert.equal(3, #t.columns)
      assert.matches("^col_", t.columns[1].id)
      assert.same(WEBSITE, t.columns[1].config)
      local agent = t.columns[2].config.value
      assert.equal("research_pro", agent.agent_type)
      assert.equal("text", agent.output_format)
      assert.equal(null, agent.labels)
      assert.same({ roles = { "CEO" }, provider = "research_pro", max_results = 5 }, t.columns[3].config.value)
      assert.same({ num_rows = 0, num_columns = 3, num_input_columns = 1, num_output_columns = 2,
                    num_cells_completed = 0, num_cells_in_progress = 0, num_cells_failed = 0, run_status = "idle" },
                  t.status)
      assert.same(t, ok("GET", "/v1/tables/" .. t.id))
      assert.equal(null, create{ name = "No description" }.description)
    end)

    it("names a table made from {} \"Untitled Table\"; the header carries notify and settings", function()
      local t = create{}
      assert.equal("Untitled Table", t.name)
      assert.equal("generic", t.kind)
      assert.is_false(t.notify)
      assert.same({ exclude_from_search = false }, t.settings)
      local quiet = create{ name = "Quiet", notify = true, settings = { exclude_from_search = true } }
      assert.is_true(quiet.notify)
      assert.same({ exclude_from_search = true }, quiet.settings)
      assert.same(quiet, ok("GET", "/v1/tables/" .. quiet.id))
    end)

    it("refuses bodies that are not JSON, miss fields or hold wrong types, FastAPI style", function()
      local _, err = client:request("POST", "/v1/tables", { body = '{"name": "x",' })
      assert.equal(422, err.status)
      assert.equal("json_invalid", err.detail[1].type)
      assert.equal("body", err.detail[1].loc[1])
      assert.is_number(err.detail[1].loc[2])

      local detail = fails(422, "POST", "/v1/tables", { name = 5, tags = "one", notify = "yes", kind = "person",
                                                  colour = "red" })
      assert.equal("string_type", find_problem(detail, "body", "name").type)
      assert.equal("list_type", find_problem(detail, "body", "tags").type)
      assert.equal("bool_type", find_problem(detail, "body", "notify").type)
      local kind = find_problem(detail, "body", "kind")
      assert.equal("enum", kind.type)
      assert.equal("Input should be 'generic', 'company' or 'people'", kind.msg)
      assert.equal("extra_forbidden", find_problem(detail, "body", "colour").type)
      assert.equal(5, #detail)
      assert.equal("missing", fails(422, "POST", "/v1/tables")[1].type) -- no body at all
      assert.equal(2, #ok("GET", "/v1/tables")) -- nothing was created
    end)

    it("enforces the API's rules across columns, on create, add and replace (422 naming the rule)", function()
      local function agent(key, value) return { kind = "agent", name = key, key = key, value = value } end
      local function problem(status_path, method, body, ...)
        local item = find_problem(fails(422, method, status_path, body), ...)
        assert.equal("value_error", item.type)
        return item.msg
      end
      -- a prompt's {key} names a column of the table (built-in columns count)
      assert.matches("the prompt refers to {webiste}, but the table has no column with key 'webiste' (its keys:"
        .. " summary, website)", problem("/v1/tables", "POST", { name = "x", column_configs = {
          WEBSITE, agent("summary", { prompt = "What does {webiste} sell?" }) } }, "1", "value", "prompt"), 1, true)
      local company = create{ name = "c", kind = "company", column_configs = {
        agent("pitch", { prompt = "Pitch {company_name} at {input}" }) } }
      -- a json output needs an output_schema
      assert.matches("output_format 'json' needs an output_schema", problem("/v1/tables/" .. company.id .. "/columns",
        "POST", { column_configs = { agent("facts", { prompt = "x", output_format = "json" }) } },
        "0", "value", "output_schema"), 1, true)
      ok("POST", "/v1/tables/" .. company.id .. "/columns", { column_configs = { agent("facts",
        { prompt = "x", output_format = "json", output_schema = { type = "object" } }) } })
      -- a people table's agents are llm, research_reasoning or linkedin; research_pro is the default
      local people = create{ name = "p", kind = "people" }
      local path = "/v1/tables/" .. people.id .. "/columns"
      for _, value in ipairs({ { prompt = "About {full_name}", agent_type = "research_pro" },
                               { prompt = "About {full_name}" } }) do
        assert.matches("agent_type 'research_pro' does not fit a people table: its agent columns take 'llm',"
          .. " 'research_reasoning' or 'linkedin'", problem(path, "POST", { column_configs = { agent("bio", value) } },
            "0", "value", "agent_type"), 1, true)
      end
      local bio = ok("POST", path, { column_configs = { agent("bio", { prompt = "About {full_name}", agent_type = "llm" }) } })
      assert.matches("does not fit a people table", problem("/v1/tables/" .. people.id .. "/columns/" .. bio[1].id,
        "PATCH", agent("bio", { prompt = "About {full_name}", agent_type = "research_pro" }), "value", "agent_type"),
        1, true)
      -- email and phone finders work from a company_website column
      for _, kind in ipairs({ "email_finder", "phone_finder" }) do
        assert.matches(("a %s column needs a column with key 'company_website' in this table"):format(kind),
          problem(path, "POST", { column_configs = { { kind = kind, name = "Contact", key = "contact" } } },
            "0", "kind"), 1, true)
      end
      ok("POST", path, { column_configs = { { kind = "input", name = "Website", key = "company_website" },
                                            { kind = "email_finder", name = "Email", key = "email" } } })
      ok("POST", "/v1/tables/" .. company.id .. "/columns", -- a company table has one built in
        { column_configs = { { kind = "phone_finder", name = "Phone", key = "phone" } } })
    end)

    it("checks column configs: kinds, required fields, unique keys, known email columns", function()
      local function problems(configs)
        return fails(422, "POST", "/v1/tables", { name = "x", column_configs = configs })
      end
      local detail = problems{ { kind = "oracle", name = "O", key = "o" } }
      local item = find_problem(detail, "column_configs", "0", "kind")
      assert.equal("union_tag_invalid", item.type)
      for _, kind in ipairs({ "input", "agent", "criterion_grade", "company_people_finder", "discovery_scores",
                              "company_name", "company_website", "company_profile", "email_finder",
                              "phone_finder", "reverse_email_lookup" }) do
        assert.matches("'" .. kind .. "'", item.msg, 1, true)
      end
      detail = problems{ { kind = "input", name = "Website" } }
      assert.equal("missing", find_problem(detail, "column_configs", "0", "key").type)
      detail = problems{ { kind = "agent", name = "A", key = "a" } }
      assert.equal("missing", find_problem(detail, "column_configs", "0", "value").type)
      detail = problems{ { kind = "agent", name = "A", key = "a", value = { output_format = "poem" } } }
      assert.equal("enum", find_problem(detail, "value", "output_format").type)
      detail = problems{ { kind = "company_people_finder", name = "P", key = "p", value = { roles = extruct.array() } } }
      assert.equal("too_short", find_problem(detail, "value", "roles").type)
      detail = problems{ WEBSITE, { kind = "input", name = "Again", key = "website" } }
      item = find_problem(detail, "column_configs", "1", "key")
      assert.equal("value_error", item.type)
      assert.matches("website", item.msg, 1, true)
      detail = problems{ { kind = "reverse_email_lookup", name = "L", key = "l", email_column_key = "mail" } }
      assert.matches("'mail'", find_problem(detail, "email_column_key").msg, 1, true)
      detail = problems{ { kind = "discovery_scores", name = "D", key = "d",
                           criteria = { ai = { key = "1ai", name = "AI", criterion = "short" } } } }
      assert.equal("string_pattern_mismatch", find_problem(detail, "criteria", "ai", "key").type)
      assert.equal("string_too_short", find_problem(detail, "criteria", "ai", "criterion").type)
    end)

    it("updates name, description, tags and the column order", function()
      local t = research_table(0)
      local ids = { t.columns[1].id, t.columns[2].id, t.columns[3].id }
      local updated = ok("PATCH", "/v1/tables/" .. t.id, { name = "Renamed", description = null, tags = { "x" },
                                                          columns_order = { ids[3], ids[1], ids[2] } })
      assert.equal("Renamed", updated.name)
      assert.equal(null, updated.description)
      assert.same({ "x" }, updated.tags)
      assert.same({ ids[3], ids[1], ids[2] }, { updated.columns[1].id, updated.columns[2].id, updated.columns[3].id })
      local detail = fails(422, "PATCH", "/v1/tables/" .. t.id, { columns_order = { ids[1], ids[1], ids[2] } })
      assert.equal("value_error", find_problem(detail, "body", "columns_order").type)
      assert.equal("extra_forbidden", fails(422, "PATCH", "/v1/tables/" .. t.id, { kind = "people" })[1].type)
      assert.equal("Renamed", ok("GET", "/v1/tables/" .. t.id).name)
    end)

    it("deletes a table, answering its header, and forgets relationships to it", function()
      local deleted = ok("DELETE", "/v1/tables/tbl_people")
      assert.equal("tbl_people", deleted.id)
      assert.equal(10, deleted.status.num_rows)
      assert.equal("Table not found", fails(404, "GET", "/v1/tables/tbl_people"))
      assert.same({}, ok("GET", "/v1/tables/tbl_demo").child_relationships)
      assert.equal("Table not found", fails(404, "DELETE", "/v1/tables/tbl_people"))
    end)
  end)

  describe("listing tables", function()
    local function names(list)
      local out = {}
      for i, t in ipairs(list) do out[i] = t.name end
      return out
    end

    it("lists root tables, newest first, with the pagination headers", function()
      local list, response = ok("GET", "/v1/tables")
      -- tbl_people has a parent: it is not a root table
      assert.same({ "tbl_demo", "tbl_idle" }, { list[1].id, list[2].id })
      assert.equal("2", response.headers["x-extruct-pagination-total"])
      assert.equal("1", response.headers["x-extruct-pagination-total-pages"])
      assert.equal("50", response.headers["x-extruct-pagination-limit"])
      assert.equal("0", response.headers["x-extruct-pagination-offset"])
      assert.equal("1", response.headers["x-extruct-pagination-page"])
      assert.is_table(list[1].status)

      for i = 1, 5 do create{ name = "T" .. i } end
      list, response = ok("GET", "/v1/tables", nil, { limit = 2, offset = 2 })
      assert.same({ "T3", "T2" }, names(list))
      assert.equal("7", response.headers["x-extruct-pagination-total"])
      assert.equal("4", response.headers["x-extruct-pagination-total-pages"])
      assert.equal("2", response.headers["x-extruct-pagination-page"])
      list = ok("GET", "/v1/tables", nil, { limit = 2, offset = 6 })
      assert.equal(1, #list)
      assert.same({}, ok("GET", "/v1/tables", nil, { offset = 100 }))
    end)

    it("filters by kind, search and any of the tags; sorts", function()
      create{ name = "Alpha people", kind = "people", tags = { "eu", "hot" } }
      create{ name = "beta", description = "ALPHA in the description", tags = { "eu" } }
      create{ name = "Gamma", kind = "company", tags = { "us", "hot" } }
      assert.same({ "Alpha people" }, names(ok("GET", "/v1/tables", nil, { kind = "people" })))
      assert.same({ "beta", "Alpha people" }, names(ok("GET", "/v1/tables", nil, { search = "alpha" })))
      assert.same({ "beta", "Alpha people" }, names(ok("GET", "/v1/tables", nil, { tags = { "eu" } })))
      assert.same({ "Gamma", "beta", "Alpha people" }, names(ok("GET", "/v1/tables", nil, { tags = { "eu", "hot" } })))
      assert.same({ "Gamma" }, names(ok("GET", "/v1/tables", nil, { tags = { "us", "nope" } })))
      assert.same({}, names(ok("GET", "/v1/tables", nil, { tags = { "nope" } })))
      assert.equal(5, #ok("GET", "/v1/tables", nil, { scope = "organization" }))
      assert.same({ "Alpha people", "Démo — B2B companies", "Gamma", "Idle table", "beta" },
                  names(ok("GET", "/v1/tables", nil, { sort = "name" })))
      assert.same({ "beta", "Idle table", "Gamma", "Démo — B2B companies", "Alpha people" },
                  names(ok("GET", "/v1/tables", nil, { sort = "-name" })))
      local by_rows = ok("GET", "/v1/tables", nil, { sort = "-num_rows" })
      assert.same({ "tbl_demo", "tbl_idle" }, { by_rows[1].id, by_rows[2].id })
      local oldest = ok("GET", "/v1/tables", nil, { sort = "created_at" })
      assert.same({ "tbl_demo", "tbl_idle", "Alpha people" }, { oldest[1].id, oldest[2].id, oldest[3].name })
    end)

    it("view=minimal answers who the tables are, not what is in them", function()
      local full = ok("GET", "/v1/tables", nil, { view = "full" })
      local minimal = ok("GET", "/v1/tables", nil, { view = "minimal" })
      assert.equal(#full, #minimal)
      assert.same(ok("GET", "/v1/tables"), full)
      for i, t in ipairs(minimal) do
        assert.same({ id = full[i].id, created_at = full[i].created_at, name = full[i].name,
                      description = full[i].description, tags = full[i].tags, kind = full[i].kind,
                      owner = full[i].owner }, t)
      end
      local bad = fails(422, "GET", "/v1/tables", nil, { view = "compact" })[1]
      assert.same({ "query", "view" }, bad.loc)
      assert.equal("Input should be 'full' or 'minimal'", bad.msg)
    end)

    it("400 above limit 100; 422 for a limit below 1, a negative offset or a bad value", function()
      assert.equal(2, #ok("GET", "/v1/tables", nil, { limit = 100 }))
      local detail = fails(400, "GET", "/v1/tables", nil, { limit = 101 })
      assert.is_string(detail)
      assert.equal("greater_than_equal", fails(422, "GET", "/v1/tables", nil, { limit = 0 })[1].type)
      assert.equal("greater_than_equal", fails(422, "GET", "/v1/tables", nil, { offset = -1 })[1].type)
      assert.equal("int_parsing", fails(422, "GET", "/v1/tables", nil, { limit = "ten" })[1].type)
      local sort = fails(422, "GET", "/v1/tables", nil, { sort = "size" })[1]
      assert.equal("enum", sort.type)
      assert.matches("'-num_rows'", sort.msg, 1, true)
      assert.matches("'organization'", fails(422, "GET", "/v1/tables", nil, { scope = "world" })[1].msg, 1, true)
      assert.matches("'people'", fails(422, "GET", "/v1/tables", nil, { kind = "robots" })[1].msg, 1, true)
    end)
  end)

  describe("rows", function()
    it("adds rows: ids, inputs as given, metadata, missing inputs flagged", function()
      local t = create{ name = "R", column_configs = { WEBSITE, { kind = "input", name = "Name", key = "name" }, SUMMARY } }
      local rows = ok("POST", "/v1/tables/" .. t.id .. "/rows", { rows = {
        { data = { website = "https://acme.example", name = "Acme" }, metadata = { source = "crm" } },
        { data = { website = "https://globex.example" } },
      } })
      assert.equal(2, #rows)
      assert.matches("^row_", rows[1].id)
      assert.is_true(rows[1].id ~= rows[2].id)
      assert.same({ website = "https://acme.example", name = "Acme" }, rows[1].data)
      assert.same({ source = "crm" }, rows[1].metadata)
      assert.same({}, rows[2].metadata)
      assert.is_false(rows[1].is_missing_inputs)
      assert.is_true(rows[2].is_missing_inputs)
      assert.equal(null, rows[1].parent_row_id)
      assert.equal(null, rows[1].parent_data)
      local status = status_of(t.id)
      assert.equal(2, status.num_rows)
      assert.equal("idle", status.run_status) -- run defaults to false
      assert.equal(0, status.num_cells_in_progress)
    end)

    it("refuses unknown column keys and output columns in row data, naming them", function()
      local t = research_table(0)
      local detail = fails(422, "POST", "/v1/tables/" .. t.id .. "/rows", { rows = { { data = { websit = "x" } } } })
      local item = find_problem(detail, "rows", "0", "data", "websit")
      assert.matches("'websit'", item.msg, 1, true)
      assert.matches("website", item.msg:gsub("'websit'", ""), 1, true) -- the keys it could have meant
      detail = fails(422, "POST", "/v1/tables/" .. t.id .. "/rows", { rows = { { data = { summary = "x" } } } })
      assert.matches("output column", find_problem(detail, "data", "summary").msg, 1, true)
      detail = fails(422, "POST", "/v1/tables/" .. t.id .. "/rows", { rows = { { website = "x" } } })
      assert.equal("extra_forbidden", find_problem(detail, "rows", "0", "website").type)
      assert.equal("missing", fails(422, "POST", "/v1/tables/" .. t.id .. "/rows", { run = true })[1].type)
      assert.equal(0, status_of(t.id).num_rows)
    end)

    it("updates rows by id and creates those without; new inputs make the answers stale", function()
      local t = research_table(2)
      local rows = data_of(t.id).rows
      ok("POST", "/v1/tables/" .. t.id .. "/run", { mode = "all" })
      ok("POST", "/_mock/advance", nil, { id = t.id, polls = 10 })
      local updated = ok("PATCH", "/v1/tables/" .. t.id .. "/rows", { rows = {
        { id = rows[1].id, data = { website = "https://initech.example" } },
        { id = rows[2].id, metadata = { checked = true } },
        { data = { website = "https://new.example" } },
      } })
      assert.equal(3, #updated)
      assert.equal(rows[1].id, updated[1].id)
      assert.same({ website = "https://initech.example" }, updated[1].data) -- outputs dropped
      assert.equal("done", updated[2].data.summary.status) -- inputs unchanged: outputs kept
      assert.same({ checked = true }, updated[2].metadata)
      assert.matches("^row_", updated[3].id)
      assert.equal(3, status_of(t.id).num_rows)
      assert.equal("Row not found", fails(404, "PATCH", "/v1/tables/" .. t.id .. "/rows",
        { rows = { { id = "row_nope", data = {} } } }))
      -- run = true runs the touched rows' cells that never ran
      local again = ok("PATCH", "/v1/tables/" .. t.id .. "/rows",
        { rows = { { id = rows[1].id, data = { website = "https://hooli.example" } } }, run = true })
      assert.equal("in_progress", again[1].data.summary.status)
      local header = select(2, mock:call("POST", "/_mock/advance", { id = t.id, polls = 0 }))
      assert.equal("running", header.status.run_status)
      assert.equal(2, header.status.num_cells_in_progress)
      assert.equal("done", data_of(t.id).rows[1].data.summary.status)
    end)

    it("deletes rows named in a JSON body, answering their ids", function()
      local t = research_table(3)
      local rows = data_of(t.id).rows
      local deleted = ok("DELETE", "/v1/tables/" .. t.id .. "/rows", { rows = { rows[1].id, rows[3].id } })
      assert.same({ rows[1].id, rows[3].id }, deleted)
      local left = data_of(t.id).rows
      assert.equal(1, #left)
      assert.equal(rows[2].id, left[1].id)
      assert.equal("Row not found", fails(404, "DELETE", "/v1/tables/" .. t.id .. "/rows", { rows = { rows[1].id } }))
      assert.equal("missing", fails(422, "DELETE", "/v1/tables/" .. t.id .. "/rows", {})[1].type)
      assert.equal(1, status_of(t.id).num_rows)
    end)

    it("GET one row: its cells, status and the table's columns", function()
      local t = research_table(1)
      local id = data_of(t.id).rows[1].id
      local row = ok("GET", "/v1/tables/" .. t.id .. "/rows/" .. id)
      assert.equal(id, row.id)
      assert.equal("idle", row.status)
      assert.equal(3, #row.columns)
      assert.equal(null, row.company_profile_id)
      ok("POST", "/v1/tables/" .. t.id .. "/run", {})
      row = ok("GET", "/v1/tables/" .. t.id .. "/rows/" .. id)
      assert.equal("idle", row.status) -- that GET was a poll: 2 cells, 4 a poll
      assert.equal("done", row.data.summary.status)
      assert.equal("Row not found", fails(404, "GET", "/v1/tables/" .. t.id .. "/rows/row_nope"))
    end)

    it("GET /data pages the rows in insertion order", function()
      local t = research_table(7)
      local all = data_of(t.id)
      assert.equal(t.id, all.id)
      assert.same({}, all.discovery_tasks)
      assert.equal(7, #all.rows)
      assert.equal("https://company1.example", all.rows[1].data.website)
      local page = data_of(t.id, { offset = 5, limit = 5 })
      assert.equal(2, #page.rows)
      assert.equal(all.rows[6].id, page.rows[1].id)
      assert.equal(3, #data_of(t.id, { limit = 3 }).rows)
      assert.is_string(fails(400, "GET", "/v1/tables/" .. t.id .. "/data", nil, { limit = 1001 }))
      assert.equal("greater_than_equal", fails(422, "GET", "/v1/tables/" .. t.id .. "/data", nil, { offset = -2 })[1].type)
    end)
  end)

  describe("columns", function()
    it("adds columns at the end, at the start or after a column", function()
      local t = research_table(1)
      local ids = { t.columns[1].id, t.columns[2].id, t.columns[3].id }
      local added = ok("POST", "/v1/tables/" .. t.id .. "/columns",
        { column_configs = { { kind = "company_name", name = "Name", key = "company" } } })
      assert.equal(1, #added)
      assert.matches("^col_", added[1].id)
      assert.same({ kind = "company_name", name = "Name", key = "company" }, added[1].config)
      local first = ok("POST", "/v1/tables/" .. t.id .. "/columns",
        { column_configs = { { name = "Country", key = "country" } }, insert_after = false })
      assert.equal("input", first[1].config.kind) -- the default kind
      local middle = ok("POST", "/v1/tables/" .. t.id .. "/columns",
        { column_configs = { { kind = "company_website", name = "Website", key = "company_website" },
                             { kind = "email_finder", name = "Email", key = "email" } }, insert_after = ids[1] })
      local order = {}
      for i, col in ipairs(ok("GET", "/v1/tables/" .. t.id).columns) do order[i] = col.id end
      assert.same({ first[1].id, ids[1], middle[1].id, middle[2].id, ids[2], ids[3], added[1].id }, order)
      local status = status_of(t.id)
      assert.equal(2, status.num_input_columns)
      assert.equal(5, status.num_output_columns)
      -- a new column's cells never ran: absent from the rows
      assert.is_nil(data_of(t.id).rows[1].data.phone)

      local detail = fails(422, "POST", "/v1/tables/" .. t.id .. "/columns",
        { column_configs = { { name = "W", key = "website" } } })
      assert.equal("value_error", find_problem(detail, "column_configs", "0", "key").type)
      detail = fails(422, "POST", "/v1/tables/" .. t.id .. "/columns",
        { column_configs = { { name = "Z", key = "z" } }, insert_after = "col_nope" })
      assert.matches("col_nope", find_problem(detail, "insert_after").msg, 1, true)
      assert.equal(7, #ok("GET", "/v1/tables/" .. t.id).columns)
    end)

    it("replaces a column's config; a new key carries the values along", function()
      local t = research_table(1)
      local col = ok("PATCH", "/v1/tables/" .. t.id .. "/columns/" .. t.columns[1].id,
        { kind = "input", name = "Domain", key = "domain" })
      assert.same({ id = t.columns[1].id, created_at = t.columns[1].created_at,
                    config = { kind = "input", name = "Domain", key = "domain" } }, col)
      assert.same({ domain = "https://company1.example" }, data_of(t.id).rows[1].data)
      assert.equal("Column not found", fails(404, "PATCH", "/v1/tables/" .. t.id .. "/columns/col_nope", WEBSITE))
      local detail = fails(422, "PATCH", "/v1/tables/" .. t.id .. "/columns/" .. t.columns[1].id,
        { kind = "input", name = "S", key = "summary" })
      assert.equal("value_error", find_problem(detail, "body", "key").type)
    end)

    it("deletes a column and its cells", function()
      local t = research_table(2)
      ok("POST", "/v1/tables/" .. t.id .. "/run", { mode = "all" })
      local deleted = ok("DELETE", "/v1/tables/" .. t.id .. "/columns/" .. t.columns[2].id)
      assert.equal(t.columns[2].id, deleted.id)
      assert.equal("summary", deleted.config.key)
      local status = status_of(t.id)
      assert.equal(1, status.num_output_columns)
      -- only the grade column's cells are left: 2, done in the poll above
      assert.equal(2, status.num_cells_completed)
      assert.equal(0, status.num_cells_in_progress)
      assert.is_nil(data_of(t.id).rows[1].data.summary)
      assert.equal("Column not found", fails(404, "DELETE", "/v1/tables/" .. t.id .. "/columns/" .. t.columns[2].id))
    end)
  end)

  describe("cloning", function()
    it("copies columns and rows, with new ids; schema_only copies the columns only", function()
      local t = research_table(3)
      ok("POST", "/v1/tables/" .. t.id .. "/run", { mode = "all" })
      ok("POST", "/_mock/advance", nil, { id = t.id, polls = 2 })
      local source = data_of(t.id)
      local copy = ok("POST", "/v1/tables/" .. t.id .. "/clone")
      assert.is_true(copy.id ~= t.id)
      assert.equal("Research (copy)", copy.name)
      assert.equal(3, #copy.columns)
      for i, col in ipairs(copy.columns) do
        assert.is_true(col.id ~= t.columns[i].id)
        assert.same(t.columns[i].config, col.config)
      end
      local rows = data_of(copy.id).rows
      assert.equal(3, #rows)
      for i, row in ipairs(rows) do
        assert.is_true(row.id ~= source.rows[i].id)
        assert.same(source.rows[i].data, row.data)
      end
      assert.equal("idle", copy.status.run_status)

      local schema = ok("POST", "/v1/tables/" .. t.id .. "/clone", nil, { schema_only = "true" })
      assert.equal(0, schema.status.num_rows)
      assert.equal(3, #schema.columns)
      assert.same(t.columns[2].config, schema.columns[2].config)
      assert.equal("bool_parsing", fails(422, "POST", "/v1/tables/" .. t.id .. "/clone", nil,
        { schema_only = "maybe" })[1].type)
      assert.equal("Table not found", fails(404, "POST", "/v1/tables/tbl_nope/clone"))
    end)
  end)

  describe("runs", function()
    it("queue cells that complete cells_per_poll a poll, the counters consistent throughout", function()
      local t = research_table(5) -- 10 output cells
      local run = ok("POST", "/v1/tables/" .. t.id .. "/run", { mode = "new" })
      assert.matches("^run_", run.id)
      assert.is_string(run.created_at)
      assert.equal("created", run.status)
      assert.equal("new", run.mode)
      assert.equal(10, run.num_requested_cells)
      assert.equal(null, run.rows)
      local seen = {}
      for poll = 1, 4 do
        local status = status_of(t.id)
        seen[poll] = status.num_cells_completed
        assert.equal(10, status.num_cells_completed + status.num_cells_in_progress)
        assert.equal(status.num_cells_in_progress > 0 and "running" or "idle", status.run_status)
      end
      assert.same({ 4, 8, 10, 10 }, seen)
      -- mode new finds nothing left to do
      local again = ok("POST", "/v1/tables/" .. t.id .. "/run", {})
      assert.equal(0, again.num_requested_cells)
      assert.equal("new", again.mode)
      assert.equal("idle", status_of(t.id).run_status)
    end)

    it("shows queued cells as in_progress (due next poll) or requested, value null until done", function()
      local t = research_table(5)
      ok("POST", "/v1/tables/" .. t.id .. "/run", {})
      local rows = data_of(t.id).rows -- this GET completed 4 cells
      local counts = {}
      for _, row in ipairs(rows) do
        for _, key in ipairs({ "summary", "fit" }) do
          local cell = row.data[key]
          counts[cell.status] = (counts[cell.status] or 0) + 1
          if cell.status ~= "done" then assert.equal(null, cell.value) end
        end
      end
      assert.same({ done = 4, in_progress = 4, requested = 2 }, counts)
      local cell = rows[1].data.summary
      assert.matches("Company1", cell.value.answer, 1, true)
      assert.is_string(cell.value.explanation)
      assert.equal("https://company1.example/", cell.value.sources[1])
      assert.is_number(rows[1].data.fit.value.answer)
    end)

    it("modes all, failed and stuck_failed_new; rows and columns narrow a run", function()
      local t = research_table(3)
      local rows = data_of(t.id).rows
      local run = ok("POST", "/v1/tables/" .. t.id .. "/run",
        { mode = "new", rows = { rows[1].id }, columns = { t.columns[3].id } })
      assert.equal(1, run.num_requested_cells)
      assert.same({ rows[1].id }, run.rows)
      assert.same({ t.columns[3].id }, run.columns)
      status_of(t.id)
      assert.equal(5, ok("POST", "/v1/tables/" .. t.id .. "/run", { mode = "stuck_failed_new" }).num_requested_cells)
      status_of(t.id)
      status_of(t.id)
      assert.equal(0, ok("POST", "/v1/tables/" .. t.id .. "/run", { mode = "failed" }).num_requested_cells)
      local all = ok("POST", "/v1/tables/" .. t.id .. "/run", { mode = "all" })
      assert.equal(6, all.num_requested_cells)
      -- cells already queued are not queued twice
      assert.equal(0, ok("POST", "/v1/tables/" .. t.id .. "/run", { mode = "all" }).num_requested_cells)
      assert.equal(2, status_of(t.id).num_cells_in_progress) -- 4 of the 6 done in that poll

      assert.equal("Row not found", fails(404, "POST", "/v1/tables/" .. t.id .. "/run", { rows = { "row_nope" } }))
      assert.equal("Column not found", fails(404, "POST", "/v1/tables/" .. t.id .. "/run", { columns = { "col_nope" } }))
      local detail = fails(422, "POST", "/v1/tables/" .. t.id .. "/run", { columns = { t.columns[1].id } })
      assert.matches("input column", detail[1].msg, 1, true)
      local mode = fails(422, "POST", "/v1/tables/" .. t.id .. "/run", { mode = "everything" })[1]
      assert.equal("enum", mode.type)
      assert.equal("Input should be 'new', 'all', 'failed' or 'stuck_failed_new'", mode.msg)
    end)

    it("fails the cells of a row whose inputs say 'fail' on their first run; mode failed completes them", function()
      local t = research_table(2)
      ok("POST", "/v1/tables/" .. t.id .. "/rows", { rows = { { data = { website = "https://will-FAIL.example" } } } })
      ok("POST", "/v1/tables/" .. t.id .. "/run", {})
      ok("POST", "/_mock/advance", nil, { id = t.id, polls = 2 })
      local status = status_of(t.id)
      assert.same({ 6, 0, 2, "idle" }, { status.num_cells_completed, status.num_cells_in_progress,
                                         status.num_cells_failed, status.run_status })
      local failing = data_of(t.id).rows[3]
      assert.same({ status = "failed", value = null }, failing.data.summary)
      local rerun = ok("POST", "/v1/tables/" .. t.id .. "/run", { mode = "failed" })
      assert.equal(2, rerun.num_requested_cells)
      status = status_of(t.id)
      assert.same({ 6, 0, 0, "idle" }, { status.num_cells_completed, status.num_cells_in_progress,
                                         status.num_cells_failed, status.run_status })
      assert.equal("done", data_of(t.id).rows[3].data.summary.status)
    end)

    it("add_rows with run = true runs the new rows", function()
      local t = research_table(1)
      local rows = ok("POST", "/v1/tables/" .. t.id .. "/rows",
        { rows = { { data = { website = "https://a.example" } }, { data = { website = "https://b.example" } } },
          run = true })
      assert.equal("in_progress", rows[1].data.summary.status)
      local status = status_of(t.id)
      assert.equal(4, status.num_cells_completed) -- the new rows' 4 cells, the old row's never ran
      assert.equal("idle", status.run_status)
      assert.is_nil(data_of(t.id).rows[1].data.summary)
    end)
  end)

  describe("fixtures and the control API", function()
    it("tbl_demo has 25 rows whose run goes idle after --polls GETs; tbl_idle 3 rows all done", function()
      local demo = data_of("tbl_demo") -- the first poll
      assert.equal(25, #demo.rows)
      assert.same({ 83, 167 }, { demo.status.num_cells_completed, demo.status.num_cells_in_progress })
      assert.equal("https://acme.example", demo.rows[1].data.input)
      local row = ok("GET", "/v1/tables/tbl_demo/rows/" .. demo.rows[25].id) -- the second
      assert.equal("running", row.status)
      assert.equal("idle", status_of("tbl_demo").run_status) -- the third
      local idle = data_of("tbl_idle")
      assert.equal(3, #idle.rows)
      for _, r in ipairs(idle.rows) do
        for key, cell in pairs(r.data) do
          if key ~= "input" then assert.equal("done", cell.status, key) end
        end
      end
      local people = data_of("tbl_people")
      assert.equal(demo.rows[1].id, people.rows[1].parent_row_id)
      assert.same({ input = "https://acme.example" }, people.rows[1].parent_data)
    end)

    it("/_mock/advance moves a table's clock without GETs", function()
      local status, header = mock:call("POST", "/_mock/advance", { id = "tbl_demo", polls = 2 })
      assert.equal(200, status)
      assert.equal(166, header.status.num_cells_completed)
      assert.equal("idle", select(2, mock:call("POST", "/_mock/advance", { id = "tbl_demo" })).status.run_status)
      assert.equal(400, (mock:call("POST", "/_mock/advance", { id = "tbl_nope" })))
      assert.equal(400, (mock:call("POST", "/_mock/advance", { id = "tbl_demo", polls = "x" })))
      assert.equal(400, (mock:call("POST", "/_mock/advance", {})))
    end)
  end)

  it("gives the same answers on two fresh servers (ids, times, cells)", function()
    local function play(server)
      local c = helpers.single_attempt_client(server)
      local function post(path, body) return assert(c:request("POST", path, { body = encode(body) })) end
      local t = post("/v1/tables", { name = "Same", column_configs = { WEBSITE, SUMMARY, GRADE,
        { kind = "company_website", name = "Site", key = "company_website" },
        { kind = "email_finder", name = "Email", key = "email" },
        { kind = "reverse_email_lookup", name = "LinkedIn", key = "linkedin", email_column_key = "email" } } })
      post("/v1/tables/" .. t.id .. "/rows", { rows = { { data = { website = "https://acme.example" } },
                                                        { data = { website = "stark.example" } } }, run = true })
      local texts = {}
      for i = 1, 3 do
        local status, body = server:http("GET", "/v1/tables/" .. t.id .. "/data",
          { authorization = "Bearer " .. server.token })
        assert.equal(200, status)
        texts[i] = body
      end
      c:close()
      return table.concat(texts, "\n")
    end
    local other = helpers.start_mock{ cells_per_poll = CELLS_PER_POLL }
    local ok_run, first, second = pcall(function() return play(other), play(mock) end)
    other:stop()
    assert(ok_run, first)
    assert.equal(first, second)
    local done = cjson.decode(second:match("[^\n]+$"))
    local email = done.rows[1].data.email.value.answer
    assert.equal("contact@acme.example", email)
    assert.equal(email, done.rows[1].data.linkedin.value.answer.email)
  end)
end)


