--- extruct.mock.fake.fixtures: the tables the offline Extruct starts with
--- (tbl_demo, tbl_idle, tbl_people), and the template the control API's
--- tables are made from.

local json = require("extruct.mock.json")
local state = require("extruct.mock.fake.state")

local M = {}

local array = json.array
local ceil = math.ceil
local format = string.format

M.DEFAULT_POLLS = 3     -- polls until tbl_demo's run is idle, unless told
M.DEFAULT_ROWS = 25     -- rows of tbl_demo and of a control API table
M.MAX_ROWS = 10000      -- rows of a control API table at most

local FIXTURE_TIME = state.timestamp(0)

-- One column of every config kind in the OpenAPI schema (ColumnOutputSchema),
-- as the API takes them on a table of `kind` (a people table's agents are
-- not research_pro).
local function template_configs(kind)
  return {
    { kind = "input", name = "Company website", key = "input" },
    { kind = "agent", name = "Summary", key = "summary", value = {
      agent_type = kind == "people" and "llm" or "research_pro",
      prompt = "Summarise what {input} sells, in one sentence.",
      output_format = "json",
      labels = array(),
      output_schema = {
        type = "object",
        properties = { summary = { type = "string" }, founded = { type = "integer" } },
        required = array{ "summary" },
      },
      extra_dependencies = array{ "company_name" },
    } },
    { kind = "criterion_grade", name = "Enterprise fit", key = "enterprise_fit", value = {
      criterion = "Sells mainly to enterprises with more than 1000 employees.",
    } },
    { kind = "company_people_finder", name = "Decision makers", key = "decision_makers", value = {
      roles = array{ "CEO", "Head of Sales" },
      provider = "research_pro",
      max_results = 5,
    } },
    { kind = "discovery_scores", name = "Discovery scores", key = "discovery_scores", criteria = {
      is_ai_company = {
        key = "is_ai_company", name = "AI company",
        criterion = "The company builds products based on machine learning.",
      },
      sells_b2b = {
        key = "sells_b2b", name = "Sells B2B",
        criterion = "Most of the company's revenue comes from other businesses.",
      },
    } },
    { kind = "company_name", name = "Company name", key = "company_name" },
    { kind = "company_website", name = "Website", key = "company_website" },
    { kind = "company_profile", name = "Company profile", key = "company_profile" },
    { kind = "email_finder", name = "Work email", key = "work_email" },
    { kind = "phone_finder", name = "Phone", key = "phone" },
    { kind = "reverse_email_lookup", name = "LinkedIn from email", key = "linkedin_from_email",
      email_column_key = "work_email" },
  }
end

local COMPANIES = { "acme", "globex", "initech", "umbrella", "hooli", "stark", "wayne", "wonka", "tyrell",
                    "cyberdyne", "soylent", "aperture" }

local function fixture_website(i)
  local name = COMPANIES[(i - 1) % #COMPANIES + 1]
  local round = ceil(i / #COMPANIES)
  return format("https://%s%s.example", name, round > 1 and tostring(round) or "")
end

--- A table of the template's columns with `rows` rows whose run (every
--- output cell) goes idle after `polls` polls. fields: id, name, kind,
--- rows, polls, description, tags, created_at. Returns the table.
function M.add_polled_table(extruct, fields)
  local created_at = fields.created_at or extruct:now()
  local t = extruct:new_table{
    id = fields.id, name = fields.name, kind = fields.kind, created_at = created_at,
    description = fields.description, tags = fields.tags,
  }
  for i, config in ipairs(template_configs(fields.kind)) do
    t.columns[i] = extruct:new_column(config, created_at)
  end
  for i = 1, fields.rows do
    extruct:new_row(t, { input = fixture_website(i) }, {}, created_at)
  end
  extruct:start_run(t, "all", nil, nil, fields.polls)
  return t
end

--- Adds the fixture tables to an empty offline Extruct; tbl_demo's run goes
--- idle after `demo_polls` polls.
function M.seed(extruct, demo_polls)
  local demo = M.add_polled_table(extruct, {
    id = "tbl_demo",
    name = "Démo — B2B companies",
    -- Characters a JSON encoder must escape, somewhere harmless.
    description = 'Companies to research.\nSay "hi" to C:\\extruct\\mock.\tThanks!',
    tags = array{ "demo", "café" },
    kind = "company", rows = M.DEFAULT_ROWS, polls = demo_polls, created_at = FIXTURE_TIME,
  })
  M.add_polled_table(extruct, { id = "tbl_idle", name = "Idle table", kind = "generic", rows = 3, polls = 0,
                                created_at = FIXTURE_TIME })
  local people = M.add_polled_table(extruct, {
    id = "tbl_people",
    name = "People — décideurs",
    description = "Decision makers found for the companies of tbl_demo.",
    tags = array{ "people" },
    kind = "people", rows = 10, polls = 0, created_at = FIXTURE_TIME,
  })
  demo.child_relationships[1] = { table_id = "tbl_people", relationship_type = "company_people" }
  people.parent_relationships[1] = { table_id = "tbl_demo", relationship_type = "company_people" }
  for i, row in ipairs(people.rows) do
    local parent = demo.rows[i]
    row.parent_row_id = parent.id
    row.parent_data = { input = parent.inputs.input }
  end
end

return M
