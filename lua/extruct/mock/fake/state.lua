--- extruct.mock.fake.state: what the offline Extruct holds in memory:
--- tables, their columns, rows and cells, and the run queues that complete
--- cells as the table is polled; ids from counters and times from a fake
--- clock.
--
-- The mock's clock is a table's polls: every authorized GET of a table, its
-- /data or one of its rows moves its queue on (cells_per_poll cells a poll,
-- or, for the fixture tables and /_mock/tables, a schedule that ends after
-- a given number of polls).

local json = require("extruct.mock.json")
local answers = require("extruct.mock.fake.answers")

local M = {}

local null, array = json.null, json.array
local ceil, huge = math.ceil, math.huge
local format = string.format

-- The fake clock: 2025-01-15T09:30:00Z, plus one second per thing created.
local EPOCH = 1736933400
local function timestamp(seconds)
  return os.date("!%Y-%m-%dT%H:%M:%S", EPOCH + seconds) .. ".000000Z"
end

M.timestamp = timestamp

-- The owner of everything: the mock's one user.
M.OWNER = { id = "usr_mock_0001", email = "owner@example.com" }
local OWNER = M.OWNER

--- The methods of the offline Extruct that change its state (extruct.mock.fake
--- adds the API on top).
local State = {}
State.__index = State
M.State = State

function State:next_id(prefix)
  self.counters[prefix] = (self.counters[prefix] or 0) + 1
  return format("%s_%04d", prefix, self.counters[prefix])
end

--- The fake clock's next time.
function State:now()
  self.ticks = self.ticks + 1
  return timestamp(self.ticks)
end

local function is_output(col) return col.config.kind ~= "input" end

local function find_by_id(list, id)
  for i, item in ipairs(list) do
    if item.id == id then return item, i end
  end
end

local function column_by_key(t, key)
  for _, col in ipairs(t.columns) do
    if col.config.key == key then return col end
  end
end

function State:new_table(fields)
  local t = {
    id = fields.id,
    created_at = fields.created_at or self:now(),
    name = fields.name,
    description = fields.description == nil and null or fields.description,
    tags = fields.tags == nil and null or fields.tags,
    kind = fields.kind or "generic",
    notify = fields.notify or false,
    settings = (fields.settings == nil or fields.settings == null) and { exclude_from_search = false } or fields.settings,
    columns = {},
    rows = {},
    child_relationships = array(),
    parent_relationships = array(),
    discovery_task_ids = {},  -- the Deep Search tasks made for it
    clock = 0,        -- polls so far
    queue = {},       -- queued cells, in the order they complete: queue[head..tail]
    queue_head = 1,
    queue_tail = 0,
  }
  self.tables[t.id] = t
  return t
end

function State:new_column(config, created_at)
  return { id = self:next_id("col"), created_at = created_at or self:now(), config = config }
end

function State:new_row(t, data, metadata, created_at)
  local row = {
    id = self:next_id("row"), created_at = created_at or self:now(),
    parent_row_id = null, parent_data = null,
    metadata = metadata == nil and {} or metadata,
    inputs = data or {}, cells = {},
  }
  t.rows[#t.rows + 1] = row
  return row
end

-- A queued cell's status as the API shows it: the cells due at the next
-- poll are in progress, the later ones requested.
local function render_cell(t, cell)
  if cell.status == "queued" then
    return { status = cell.entry.due <= t.clock + 1 and "in_progress" or "requested", value = null }
  end
  return { status = cell.status, value = cell.value }
end

local function row_data(t, row)
  local data = {}
  for _, col in ipairs(t.columns) do
    local key = col.config.key
    if is_output(col) then
      local cell = row.cells[key]
      if cell then data[key] = render_cell(t, cell) end
    elseif row.inputs[key] ~= nil then
      data[key] = row.inputs[key]
    end
  end
  return data
end

local function missing_inputs(t, row)
  for _, col in ipairs(t.columns) do
    if not is_output(col) then
      local v = row.inputs[col.config.key]
      if v == nil or v == null or v == "" then return true end
    end
  end
  return false
end

local function render_row(t, row)
  return {
    id = row.id, created_at = row.created_at, is_missing_inputs = missing_inputs(t, row),
    parent_row_id = row.parent_row_id, data = row_data(t, row), metadata = row.metadata,
    parent_data = row.parent_data,
  }
end

local function row_running(row)
  for _, cell in pairs(row.cells) do
    if cell.status == "queued" then return true end
  end
  return false
end

local function render_columns(t)
  local columns = array()
  for i, col in ipairs(t.columns) do columns[i] = { id = col.id, created_at = col.created_at, config = col.config } end
  return columns
end

local function table_status(t)
  local inputs, outputs = 0, 0
  local completed, in_progress, failed = 0, 0, 0
  for _, col in ipairs(t.columns) do
    if is_output(col) then outputs = outputs + 1 else inputs = inputs + 1 end
  end
  for _, row in ipairs(t.rows) do
    for _, col in ipairs(t.columns) do
      local cell = is_output(col) and row.cells[col.config.key]
      if cell then
        if cell.status == "queued" then
          in_progress = in_progress + 1
        else
          completed = completed + 1
          if cell.status == "failed" then failed = failed + 1 end
        end
      end
    end
  end
  return {
    num_rows = #t.rows,
    num_output_columns = outputs,
    num_input_columns = inputs,
    num_columns = inputs + outputs,
    num_cells_completed = completed,
    num_cells_in_progress = in_progress,
    num_cells_failed = failed, -- not in the schema: clients must keep unknown fields
    run_status = in_progress > 0 and "running" or "idle",
  }
end

--- The table header with its status (TableHeaderWithStatusOutput).
local function render_table(t)
  return {
    id = t.id,
    created_at = t.created_at,
    name = t.name,
    description = t.description,
    tags = t.tags,
    kind = t.kind,
    notify = t.notify,
    settings = t.settings,
    columns = render_columns(t),
    owner = OWNER,
    child_relationships = t.child_relationships,
    parent_relationships = t.parent_relationships,
    status = table_status(t),
    -- not in the schema: clients must keep unknown fields
    x_future_field = { nested = array{ 1, 2.5, null, true, "s" } },
  }
end

--- Completes the queued cells that are due by the table's clock.
local function settle(t)
  local queue = t.queue
  while t.queue_head <= t.queue_tail do
    local entry = queue[t.queue_head]
    if not entry.cancelled then
      if entry.due > t.clock then break end
      local cell = entry.row.cells[entry.key]
      local col = column_by_key(t, entry.key)
      cell.attempts = cell.attempts + 1
      cell.entry = nil
      if cell.attempts == 1 and answers.row_fails(entry.row) then
        cell.status, cell.value = "failed", null
      else
        cell.status, cell.value = "done", answers.answer_for(t, entry.row, col.config)
      end
    end
    queue[t.queue_head] = nil
    t.queue_head = t.queue_head + 1
  end
  if t.queue_head > t.queue_tail then
    t.queue, t.queue_head, t.queue_tail = {}, 1, 0
  end
end

--- Moves the table's clock on by `polls` polls.
local function advance(t, polls)
  for _ = 1, polls do
    if t.queue_head > t.queue_tail then break end -- nothing queued: later polls change nothing
    t.clock = t.clock + 1
    settle(t)
  end
end

-- Drops a cell (and its place in the queue, if queued).
local function drop_cell(row, key)
  local cell = row.cells[key]
  if cell and cell.entry then cell.entry.cancelled = true end
  row.cells[key] = nil
end

--- Queues cells ({ row, key } pairs); returns how many. With `polls`, the
--- last of n cells is due after that many polls, cell i after
--- ceil(i * polls / n); otherwise cells_per_poll cells a poll, after those
--- already queued.
function State:enqueue(t, targets, polls)
  local entries = {}
  for _, target in ipairs(targets) do
    local row, key = target[1], target[2]
    local old = row.cells[key]
    local entry = { row = row, key = key }
    row.cells[key] = { status = "queued", value = null, attempts = old and old.attempts or 0, entry = entry }
    entries[#entries + 1] = entry
  end
  local n = #entries
  if polls then
    for i, entry in ipairs(entries) do entry.due = t.clock + ceil(i * polls / n) end
    if n > 0 then t.tail_slot, t.tail_used = t.clock + polls, huge end
  else
    local slot, used = t.tail_slot, t.tail_used
    if not slot or slot <= t.clock then slot, used = t.clock + 1, 0 end
    for _, entry in ipairs(entries) do
      if used >= self.cells_per_poll then slot, used = slot + 1, 0 end
      used = used + 1
      entry.due = slot
    end
    t.tail_slot, t.tail_used = slot, used
  end
  for _, entry in ipairs(entries) do
    t.queue_tail = t.queue_tail + 1
    t.queue[t.queue_tail] = entry
  end
  settle(t) -- a schedule of 0 polls completes at once
  return n
end

--- The output cells of `rows` x `columns` that a run in `mode` queues.
local function run_targets(rows, columns, mode)
  local targets = {}
  for _, row in ipairs(rows) do
    for _, col in ipairs(columns) do
      local cell = row.cells[col.config.key]
      local status = cell and cell.status
      local wanted
      if mode == "new" then
        wanted = cell == nil
      elseif mode == "all" then
        wanted = status ~= "queued"
      elseif mode == "failed" then
        wanted = status == "failed"
      else -- stuck_failed_new: nothing gets stuck in the mock
        wanted = cell == nil or status == "failed"
      end
      if wanted then targets[#targets + 1] = { row, col.config.key } end
    end
  end
  return targets
end

local function output_columns(t)
  local list = {}
  for _, col in ipairs(t.columns) do
    if is_output(col) then list[#list + 1] = col end
  end
  return list
end

--- Starts a run; returns the run object the API answers.
function State:start_run(t, mode, rows, columns, polls, requested_rows, requested_columns)
  local n = self:enqueue(t, run_targets(rows or t.rows, columns or output_columns(t), mode), polls)
  return {
    id = self:next_id("run"),
    created_at = self:now(),
    status = n > 0 and "created" or "done",
    rows = requested_rows or null,
    columns = requested_columns or null,
    num_requested_cells = n,
    mode = mode,
  }
end

M.is_output, M.find_by_id, M.column_by_key = is_output, find_by_id, column_by_key
M.render_row, M.row_running, M.render_columns, M.render_table = render_row, row_running, render_columns, render_table
M.advance, M.drop_cell, M.output_columns = advance, drop_cell, output_columns

return M
