--- extruct.mock.fake.tables: the Tables API of the offline Extruct: tables,
--- their rows and columns, and runs.

local json = require("extruct.mock.json")
local http = require("extruct.mock.http")
local validation = require("extruct.mock.fake.validation")
local state = require("extruct.mock.fake.state")
local account = require("extruct.mock.fake.account")
local deep_search = require("extruct.mock.fake.deep_search")

local M = {}

local null, array, is_array = json.null, json.array, json.is_array
local floor, ceil = math.floor, math.ceil
local format, concat = string.format, table.concat
local respond, detail = http.respond, http.detail
local check, check_fields, check_config = validation.check, validation.check_fields, validation.check_config
local loc_of, add, invalid, read_body = validation.loc_of, validation.add, validation.invalid, validation.read_body
local query_integer, query_boolean = validation.query_integer, validation.query_boolean
local query_enum, set_of = validation.query_enum, validation.set_of
local is_output, find_by_id, column_by_key = state.is_output, state.find_by_id, state.column_by_key
local render_row, row_running, render_columns = state.render_row, state.row_running, state.render_columns
local render_table, advance, drop_cell = state.render_table, state.advance, state.drop_cell

M.LIST_LIMIT_MAX = 100   -- GET /v1/tables?limit above this: 400
M.DATA_LIMIT_MAX = 1000  -- GET /v1/tables/{id}/data?limit above this: 400
local DEFAULT_LIMIT = 50

local TABLE_KINDS = { "generic", "company", "people" }
local SORTS = { "-created_at", "created_at", "name", "-name", "num_rows", "-num_rows" }
local SCOPES = { "personal", "organization" }
local RUN_MODES = { "new", "all", "failed", "stuck_failed_new" }
local VIEWS = { "full", "minimal" }

-- The columns a company or people table is created with, before those asked for.
local BUILT_IN_COLUMNS = {
  company = {
    { kind = "input", name = "Input", key = "input" },
    { kind = "company_profile", name = "Company profile", key = "company_profile" },
    { kind = "company_name", name = "Company name", key = "company_name" },
    { kind = "company_website", name = "Company website", key = "company_website" },
  },
  people = {
    { kind = "input", name = "Input", key = "input" },
    { kind = "input", name = "Full name", key = "full_name" },
    { kind = "input", name = "Role", key = "role" },
    { kind = "input", name = "Profile URL", key = "profile_url" },
  },
}

-- The agent types a people table's agent columns take.
local PEOPLE_AGENT_TYPES = { "llm", "research_reasoning", "linkedin" }
local PEOPLE_AGENT_TYPE = set_of(PEOPLE_AGENT_TYPES)

local function sorted_keys(set)
  local list = {}
  for key in pairs(set) do list[#list + 1] = key end
  table.sort(list)
  return concat(list, ", ")
end

-- The rules the real API enforces across a table's columns (422
-- otherwise): a prompt's {key} names a column of the table, a json output
-- has an output_schema, an agent fits the table's kind, and email and
-- phone finders have a `company_website` column to work from. `keys`: every
-- key the table will have.
local function check_column_rules(configs, keys, kind, errs)
  for _, item in ipairs(configs) do
    local config, loc = item.config, item.loc
    if config.kind == "agent" then
      local value = config.value
      for ref in value.prompt:gmatch("{([%w_]+)}") do
        if not keys[ref] then
          add(errs, loc_of(loc, "value", "prompt"), format("Value error, the prompt refers to {%s}, but the table has"
            .. " no column with key '%s' (its keys: %s)", ref, ref, sorted_keys(keys)), "value_error")
        end
      end
      if value.output_format == "json" and (value.output_schema == nil or value.output_schema == null) then
        add(errs, loc_of(loc, "value", "output_schema"),
          "Value error, output_format 'json' needs an output_schema (a JSON Schema of the answer)", "value_error")
      end
      if kind == "people" and not PEOPLE_AGENT_TYPE[value.agent_type] then
        add(errs, loc_of(loc, "value", "agent_type"), format("Value error, agent_type '%s' does not fit a people"
          .. " table: its agent columns take %s (research_pro is the default when none is given)",
          tostring(value.agent_type), validation.quoted_choices(PEOPLE_AGENT_TYPES)), "value_error")
      end
    elseif (config.kind == "email_finder" or config.kind == "phone_finder") and not keys.company_website then
      add(errs, loc_of(loc, "kind"), format("Value error, a %s column needs a column with key 'company_website' in"
        .. " this table", config.kind), "value_error")
    end
  end
end

--- Checks column configs for a table: keys unique, email columns known,
--- and the API's rules across columns. how = { existing = the columns
--- kept, replaced = the column a config replaces, kind = the table's kind,
--- built_in = the built-in configs a new table starts with (their keys
--- count for references, and a config may take one's key) }. Returns the
--- checked configs ({ config, loc } each); problems go to errs.
local function check_configs(list, loc, errs, how)
  local configs = {}
  local keys = {}
  for _, col in ipairs(how.existing or {}) do
    if col ~= how.replaced then keys[col.config.key] = true end
  end
  for i, v in ipairs(list) do
    local item_loc = is_array(list) and loc_of(loc, i - 1) or loc
    local config = check_config(v, item_loc, errs)
    if config then
      if keys[config.key] then
        add(errs, loc_of(item_loc, "key"), format("Value error, column key '%s' is already used in this table",
          config.key), "value_error")
      end
      keys[config.key] = true
      configs[#configs + 1] = { config = config, loc = item_loc }
    end
  end
  for _, item in ipairs(configs) do
    local ref = item.config.email_column_key
    if ref and not keys[ref] then
      add(errs, loc_of(item.loc, "email_column_key"),
        format("Value error, no column with key '%s' in this table", ref), "value_error")
    end
  end
  for _, config in ipairs(how.built_in or {}) do keys[config.key] = true end
  check_column_rules(configs, keys, how.kind, errs)
  return configs
end

local function input_keys(t)
  local keys = {}
  for _, col in ipairs(t.columns) do
    if not is_output(col) then keys[#keys + 1] = col.config.key end
  end
  return keys
end

--- Checks the `data` of row inputs against the table's columns.
local function check_row_data(t, data, loc, errs)
  local names = {}
  for key in pairs(data) do names[#names + 1] = key end
  table.sort(names)
  for _, key in ipairs(names) do
    local col = column_by_key(t, key)
    if not col then
      local known = input_keys(t)
      add(errs, loc_of(loc, key), format("Value error, unknown column key '%s'; the table's input columns are: %s",
        key, #known > 0 and concat(known, ", ") or "(none)"), "value_error")
    elseif is_output(col) then
      add(errs, loc_of(loc, key), format("Value error, '%s' is an output column (%s): only input columns take values",
        key, col.config.kind), "value_error")
    end
  end
end

local ROW_FIELDS = { { "data", check.object }, { "metadata", check.nullable(check.object) } }
local ROW_UPDATE_FIELDS = { { "id", check.string }, { "data", check.object }, { "metadata", check.nullable(check.object) } }

local function check_rows_body(body, errs, fields)
  check_fields(body, array{ "body" }, {
    { "rows", function(v, loc)
      if not is_array(v) then return add(errs, loc, "Input should be a valid list", "list_type") end
      for i, item in ipairs(v) do check_fields(item, loc_of(loc, i - 1), fields, errs) end
    end, true },
    { "run", check.boolean },
  }, errs)
end

local function page_of(list, offset, limit)
  local page = array()
  for i = offset + 1, math.min(#list, offset + limit) do page[#page + 1] = list[i] end
  return page
end

local routes = {}

-- A table in a `view=minimal` listing: who it is, not what is in it.
local function minimal_header(t)
  return { id = t.id, created_at = t.created_at, name = t.name, description = t.description, tags = t.tags,
           kind = t.kind, owner = state.OWNER }
end

function routes.list_tables(self, _, _, params)
  local errs = {}
  local kind = query_enum(params, "kind", TABLE_KINDS, errs)
  query_enum(params, "scope", SCOPES, errs)
  local view = query_enum(params, "view", VIEWS, errs) or "full"
  local sort = query_enum(params, "sort", SORTS, errs) or "-created_at"
  local offset = query_integer(params, "offset", 0, 0, errs)
  local limit = query_integer(params, "limit", DEFAULT_LIMIT, 1, errs)
  if #errs > 0 then return invalid(errs) end
  if limit > M.LIST_LIMIT_MAX then
    return detail(400, format("limit must be at most %d", M.LIST_LIMIT_MAX))
  end
  local search = params.search and params.search:lower()
  local wanted_tags = params.tags or {}
  local found = {}
  for _, t in pairs(self.tables) do
    local ok = #t.parent_relationships == 0 -- root tables only
      and (kind == nil or t.kind == kind)
    if ok and search and search ~= "" then
      local text = (t.name .. "\n" .. (t.description ~= null and t.description or "")):lower()
      ok = text:find(search, 1, true) ~= nil
    end
    if ok and #wanted_tags > 0 then
      -- repeated tags match a table that carries any of them
      local have = set_of(t.tags ~= null and t.tags or {})
      ok = false
      for _, tag in ipairs(wanted_tags) do
        if have[tag] then ok = true end
      end
    end
    if ok then found[#found + 1] = t end
  end
  local field, descending = sort:gsub("^%-", ""), sort:sub(1, 1) == "-"
  local function key_of(t)
    if field == "num_rows" then return #t.rows end
    return t[field]
  end
  table.sort(found, function(a, b)
    local ka, kb = key_of(a), key_of(b)
    if ka ~= kb then
      if descending then return ka > kb end
      return ka < kb
    end
    return a.id < b.id
  end)
  local headers = {}
  for i, t in ipairs(found) do headers[i] = view == "minimal" and minimal_header(t) or render_table(t) end
  local total = #found
  return respond(200, page_of(headers, offset, limit), {
    ["x-extruct-pagination-total"] = tostring(total),
    ["x-extruct-pagination-total-pages"] = tostring(ceil(total / limit)),
    ["x-extruct-pagination-limit"] = tostring(limit),
    ["x-extruct-pagination-offset"] = tostring(offset),
    ["x-extruct-pagination-page"] = tostring(floor(offset / limit) + 1),
  })
end

M.DEFAULT_NAME = "Untitled Table"

local TABLE_FIELDS = {
  { "name", check.string },
  { "description", check.nullable(check.string) },
  { "tags", check.nullable(check.string_list) },
  { "kind", check.enum(TABLE_KINDS) },
  { "notify", check.boolean },
  { "settings", check.nullable(check.object) },
  { "column_configs", check.nullable(function(v, loc, errs)
    if not is_array(v) then add(errs, loc, "Input should be a valid list", "list_type") end
  end) },
}

function routes.create_table(self, request)
  local body, failure = read_body(request)
  if not body then return failure end
  local errs = {}
  check_fields(body, array{ "body" }, TABLE_FIELDS, errs)
  local configs = {}
  local kind = body.kind or "generic"
  if #errs == 0 and is_array(body.column_configs) then
    configs = check_configs(body.column_configs, array{ "body", "column_configs" }, errs,
      { kind = kind, built_in = BUILT_IN_COLUMNS[kind] })
  end
  if #errs > 0 then return invalid(errs) end
  local id
  repeat id = self:next_id("tbl") until not self.tables[id]
  local t = self:new_table{
    id = id, name = body.name or M.DEFAULT_NAME, description = body.description, tags = body.tags,
    kind = body.kind, notify = body.notify, settings = body.settings,
  }
  -- A built-in column is left out when a column asked for has its key.
  local asked = {}
  for _, item in ipairs(configs) do asked[item.config.key] = true end
  for _, config in ipairs(BUILT_IN_COLUMNS[t.kind] or {}) do
    if not asked[config.key] then t.columns[#t.columns + 1] = self:new_column(json.copy(config)) end
  end
  for _, item in ipairs(configs) do t.columns[#t.columns + 1] = self:new_column(item.config) end
  return respond(200, render_table(t))
end

-- One poll of a table: the Deep Search tasks that import into it move on
-- with it, then its queued cells.
local function poll(self, request, t)
  if request.count_poll == false then return end
  deep_search.poll_importers(self, t)
  advance(t, 1)
end

function routes.get_table(self, request, t)
  poll(self, request, t)
  return respond(200, render_table(t))
end

function routes.update_table(_, request, t)
  local body, failure = read_body(request)
  if not body then return failure end
  local errs = {}
  check_fields(body, array{ "body" }, {
    { "name", check.string },
    { "description", check.nullable(check.string) },
    { "tags", check.nullable(check.string_list) },
    { "columns_order", check.string_list },
  }, errs)
  local order = body.columns_order
  if #errs == 0 and order then
    local seen, ok = {}, #order == #t.columns
    for _, id in ipairs(order) do
      if seen[id] or not find_by_id(t.columns, id) then ok = false end
      seen[id] = true
    end
    if not ok then
      add(errs, array{ "body", "columns_order" },
        "Value error, columns_order must list every column id of the table exactly once", "value_error")
    end
  end
  if #errs > 0 then return invalid(errs) end
  if body.name ~= nil then t.name = body.name end
  if body.description ~= nil then t.description = body.description end
  if body.tags ~= nil then t.tags = body.tags end
  if order then
    local columns = {}
    for i, id in ipairs(order) do columns[i] = find_by_id(t.columns, id) end
    t.columns = columns
  end
  return respond(200, render_table(t))
end

function routes.delete_table(self, _, t)
  local header = render_table(t)
  for _, row in ipairs(t.rows) do
    for key in pairs(row.cells) do drop_cell(row, key) end
  end
  self.tables[t.id] = nil
  for _, other in pairs(self.tables) do
    for _, list in ipairs({ other.child_relationships, other.parent_relationships }) do
      for i = #list, 1, -1 do
        if list[i].table_id == t.id then table.remove(list, i) end
      end
    end
  end
  return respond(200, header)
end

function routes.clone_table(self, _, t, params)
  local errs = {}
  local schema_only = query_boolean(params, "schema_only", errs)
  if #errs > 0 then return invalid(errs) end
  local id
  repeat id = self:next_id("tbl") until not self.tables[id]
  local copy = self:new_table{
    id = id, name = t.name .. " (copy)", description = json.copy(t.description), tags = json.copy(t.tags),
    kind = t.kind, notify = t.notify, settings = json.copy(t.settings),
  }
  for i, col in ipairs(t.columns) do copy.columns[i] = self:new_column(json.copy(col.config)) end
  if not schema_only then
    for _, row in ipairs(t.rows) do
      local new = self:new_row(copy, json.copy(row.inputs), json.copy(row.metadata))
      for key, cell in pairs(row.cells) do
        -- finished cells come along; queued ones stay with the original's run
        if cell.status ~= "queued" then
          new.cells[key] = { status = cell.status, value = json.copy(cell.value), attempts = cell.attempts }
        end
      end
    end
  end
  return respond(200, render_table(copy))
end

function routes.get_data(self, request, t, params)
  local errs = {}
  local offset = query_integer(params, "offset", 0, 0, errs)
  local limit = query_integer(params, "limit", DEFAULT_LIMIT, 1, errs)
  if #errs > 0 then return invalid(errs) end
  if limit > M.DATA_LIMIT_MAX then
    return detail(400, format("limit must be at most %d", M.DATA_LIMIT_MAX))
  end
  poll(self, request, t)
  local answer = render_table(t)
  answer.rows = array()
  for i = offset + 1, math.min(#t.rows, offset + limit) do
    answer.rows[#answer.rows + 1] = render_row(t, t.rows[i])
  end
  answer.discovery_tasks = deep_search.of_table(self, t)
  return respond(200, answer)
end

--- Runs rows in mode new, for `run: true` on add and update.
local function run_rows(self, t, rows)
  return self:start_run(t, "new", rows, nil, nil)
end

--- The checked body of an add or update of rows, or nil and the 422.
local function read_rows_body(self, request, t, fields)
  local body, failure = read_body(request)
  if not body then return nil, failure end
  local errs = {}
  check_rows_body(body, errs, fields)
  if #errs == 0 then
    for i, item in ipairs(body.rows) do
      check_row_data(t, item.data or {}, array{ "body", "rows", i - 1, "data" }, errs)
    end
  end
  if #errs > 0 then return nil, invalid(errs) end
  -- rows that are to run need credits
  local broke = body.run and account.need_credits(self.account, 1)
  if broke then return nil, broke end
  return body
end

function routes.add_rows(self, request, t)
  local body, failure = read_rows_body(self, request, t, ROW_FIELDS)
  if not body then return failure end
  local created = {}
  for i, item in ipairs(body.rows) do
    created[i] = self:new_row(t, item.data or {}, item.metadata)
  end
  if body.run then run_rows(self, t, created) end
  local answer = array()
  for i, row in ipairs(created) do answer[i] = render_row(t, row) end
  return respond(200, answer)
end

function routes.update_rows(self, request, t)
  local body, failure = read_rows_body(self, request, t, ROW_UPDATE_FIELDS)
  if not body then return failure end
  for _, item in ipairs(body.rows) do
    if item.id ~= nil and not find_by_id(t.rows, item.id) then return detail(404, "Row not found") end
  end
  local touched = {}
  for i, item in ipairs(body.rows) do
    local row = item.id and find_by_id(t.rows, item.id)
    if row then
      local changed = false
      for key, value in pairs(item.data or {}) do
        if json.encode(row.inputs[key]) ~= json.encode(value) then changed = true end
        row.inputs[key] = value
      end
      -- New inputs make the answers stale: the output cells start over.
      if changed then
        for key in pairs(row.cells) do drop_cell(row, key) end
      end
      if item.metadata ~= nil then row.metadata = item.metadata end
    else
      row = self:new_row(t, item.data or {}, item.metadata)
    end
    touched[i] = row
  end
  if body.run then run_rows(self, t, touched) end
  local answer = array()
  for i, row in ipairs(touched) do answer[i] = render_row(t, row) end
  return respond(200, answer)
end

function routes.delete_rows(_, request, t)
  local body, failure = read_body(request)
  if not body then return failure end
  local errs = {}
  check_fields(body, array{ "body" }, { { "rows", check.string_list, true } }, errs)
  if #errs > 0 then return invalid(errs) end
  for _, id in ipairs(body.rows) do
    if not find_by_id(t.rows, id) then return detail(404, "Row not found") end
  end
  local deleted, seen = array(), {}
  for _, id in ipairs(body.rows) do
    if not seen[id] then
      seen[id] = true
      local row, index = find_by_id(t.rows, id)
      for key in pairs(row.cells) do drop_cell(row, key) end
      table.remove(t.rows, index)
      deleted[#deleted + 1] = id
    end
  end
  return respond(200, deleted)
end

function routes.get_row(self, request, t, _, row_id)
  local row = find_by_id(t.rows, row_id)
  if not row then return detail(404, "Row not found") end
  poll(self, request, t)
  local answer = render_row(t, row)
  answer.is_missing_inputs = nil
  answer.status = row_running(row) and "running" or "idle"
  answer.columns = render_columns(t)
  answer.company_profile_id = null
  return respond(200, answer)
end

local function insert_after_checker(v, loc, errs)
  if type(v) ~= "boolean" and type(v) ~= "string" then
    add(errs, loc, "Input should be a valid boolean or a column id (string)", "union_type")
  end
end

function routes.add_columns(self, request, t)
  local body, failure = read_body(request)
  if not body then return failure end
  local errs = {}
  check_fields(body, array{ "body" }, {
    { "column_configs", function(v, loc)
      if not is_array(v) then add(errs, loc, "Input should be a valid list", "list_type") end
    end, true },
    { "insert_after", insert_after_checker },
  }, errs)
  local configs, position = {}, #t.columns
  if #errs == 0 then
    configs = check_configs(body.column_configs, array{ "body", "column_configs" }, errs,
      { existing = t.columns, kind = t.kind })
    local after = body.insert_after
    if after == false then
      position = 0
    elseif type(after) == "string" then
      local _, index = find_by_id(t.columns, after)
      if not index then
        add(errs, array{ "body", "insert_after" }, format("Value error, no column '%s' in this table", after),
          "value_error")
      end
      position = index
    end
  end
  if #errs > 0 then return invalid(errs) end
  local added = array()
  for i, item in ipairs(configs) do
    local col = self:new_column(item.config)
    table.insert(t.columns, position + i, col)
    added[i] = { id = col.id, created_at = col.created_at, config = col.config }
  end
  return respond(200, added)
end

function routes.update_column(_, request, t, _, column_id)
  local col = find_by_id(t.columns, column_id)
  if not col then return detail(404, "Column not found") end
  local body, failure = read_body(request)
  if not body then return failure end
  local errs = {}
  local configs = check_configs({ body }, array{ "body" }, errs, { existing = t.columns, replaced = col, kind = t.kind })
  if #errs > 0 then return invalid(errs) end
  local config = configs[1].config
  local old_key, was_output = col.config.key, is_output(col)
  col.config = config
  for _, row in ipairs(t.rows) do
    if was_output ~= is_output(col) then
      -- an input became an output or the other way round: its values go
      drop_cell(row, old_key)
      row.inputs[old_key] = nil
    elseif config.key ~= old_key then
      row.inputs[config.key], row.inputs[old_key] = row.inputs[old_key], nil
      local cell = row.cells[old_key]
      row.cells[config.key], row.cells[old_key] = cell, nil
      if cell and cell.entry then cell.entry.key = config.key end
    end
  end
  return respond(200, { id = col.id, created_at = col.created_at, config = col.config })
end

function routes.delete_column(_, _, t, _, column_id)
  local col, index = find_by_id(t.columns, column_id)
  if not col then return detail(404, "Column not found") end
  table.remove(t.columns, index)
  for _, row in ipairs(t.rows) do
    drop_cell(row, col.config.key)
    row.inputs[col.config.key] = nil
  end
  return respond(200, { id = col.id, created_at = col.created_at, config = col.config })
end

function routes.run_table(self, request, t)
  local body, failure = read_body(request, {})
  if not body then return failure end
  local errs = {}
  check_fields(body, array{ "body" }, {
    { "mode", check.enum(RUN_MODES) },
    { "rows", check.nullable(check.string_list) },
    { "columns", check.nullable(check.string_list) },
  }, errs)
  if #errs > 0 then return invalid(errs) end
  local rows, columns
  if is_array(body.rows) then
    rows = {}
    for i, id in ipairs(body.rows) do
      rows[i] = find_by_id(t.rows, id)
      if not rows[i] then return detail(404, "Row not found") end
    end
  end
  if is_array(body.columns) then
    columns = {}
    for i, id in ipairs(body.columns) do
      columns[i] = find_by_id(t.columns, id)
      if not columns[i] then return detail(404, "Column not found") end
      if not is_output(columns[i]) then
        return invalid{ { loc = array{ "body", "columns", i - 1 }, type = "value_error",
          msg = format("Value error, column '%s' is an input column: a run computes output columns", id) } }
      end
    end
  end
  local broke = account.need_credits(self.account, 1)
  if broke then return broke end
  local run = self:start_run(t, body.mode or "new", rows, columns, nil,
    is_array(body.rows) and body.rows or nil, is_array(body.columns) and body.columns or nil)
  return respond(200, run)
end


local function table_not_found() return detail(404, "Table not found") end

-- A route on one table: the table named in the path, or 404.
local function on_table(name)
  return function(self, request, params, captured)
    local t = self.tables[captured.table]
    if not t then return table_not_found() end
    return routes[name](self, request, t, params, captured.id)
  end
end

-- path pattern (":table" and ":id" are parameters) -> method -> handler;
-- pro: every method but GET needs the Pro plan (extruct.mock.fake.account)
M.ROUTES = {
  { { "v1", "tables" }, { GET = function(self, request, params) return routes.list_tables(self, request, nil, params) end,
                          POST = function(self, request) return routes.create_table(self, request) end }, pro = true },
  { { "v1", "tables", ":table" }, { GET = on_table("get_table"), PATCH = on_table("update_table"),
                                    DELETE = on_table("delete_table") }, pro = true },
  { { "v1", "tables", ":table", "data" }, { GET = on_table("get_data") } },
  { { "v1", "tables", ":table", "clone" }, { POST = on_table("clone_table") }, pro = true },
  { { "v1", "tables", ":table", "run" }, { POST = on_table("run_table") }, pro = true },
  { { "v1", "tables", ":table", "rows" }, { POST = on_table("add_rows"), PATCH = on_table("update_rows"),
                                            DELETE = on_table("delete_rows") }, pro = true },
  { { "v1", "tables", ":table", "rows", ":id" }, { GET = on_table("get_row") } },
  { { "v1", "tables", ":table", "columns" }, { POST = on_table("add_columns") }, pro = true },
  { { "v1", "tables", ":table", "columns", ":id" }, { PATCH = on_table("update_column"),
                                                      DELETE = on_table("delete_column") }, pro = true },
}

return M
