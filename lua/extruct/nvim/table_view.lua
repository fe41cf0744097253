-- extruct://table/{id}: a table's run, live. A header (name, kind, run
-- status, cell counts and a progress bar, when it was last refreshed), then
-- a grid: one line per row, one aligned column per table column. While the
-- run is not idle the view refreshes by itself (extruct.nvim.refresher);
-- rows come a page at a time, more as the cursor nears the end.

local extruct = require("extruct")
local buffer = require("extruct.nvim.buffer")
local config = require("extruct.nvim.config")
local float = require("extruct.nvim.float")
local refresher = require("extruct.nvim.refresher")
local text = require("extruct.nvim.text")

local M = {}

local api = vim.api
local uv = vim.uv or vim.loop

-- The header takes the first lines; the grid's titles, its rule, then the rows.
local HEADER_LINES = 4
local TITLE_LINE = HEADER_LINES + 1 -- 1-based
local FIRST_ROW_LINE = TITLE_LINE + 2
local SEPARATOR = " │ "
local BAR_WIDTH = 20

--- The keys of a table view, in the order `?` lists them.
M.KEYS = {
  { "<CR>", "the cell under the cursor: its whole answer, explanation and sources (gx opens a link)" },
  { "r", "refresh now" },
  { "R", "run the table (mode new: the cells never run) and follow it" },
  { "L", "load the next page of rows (moving down near the end does too)" },
  { "q", "close the view" },
  { "?", "this list" },
}

local View = {}
View.__index = View

-- Says err through vim.notify: its kind and message, one line.
local function report(err)
  vim.notify(tostring(err), vim.log.levels.ERROR, { title = "extruct" })
end

--- A cell as the grid shows it: its text and highlight group.
local STATE_WORDS = { in_progress = "in progress", requested = "requested", failed = "failed" }
local STATE_GROUPS = {
  in_progress = "ExtructCellInProgress", requested = "ExtructCellRequested", failed = "ExtructCellFailed",
}
local function cell_view(row, key, limit)
  local answer, status = extruct.cell(row, key)
  if status == nil or status == "done" then return text.inline(answer, limit), nil end
  return STATE_WORDS[status] or text.inline(status:gsub("_", " ")), STATE_GROUPS[status] or "ExtructCellRequested"
end
M.cell_view = cell_view

-- The table's columns as the grid shows them: { key, name, kind, config }.
local function columns_of(t)
  local columns = {}
  for _, column in ipairs(type(t.columns) == "table" and t.columns or {}) do
    local c = type(column) == "table" and type(column.config) == "table" and column.config or nil
    if c and type(c.key) == "string" then
      columns[#columns + 1] = {
        key = c.key, name = text.inline(c.name ~= nil and c.name or c.key), kind = c.kind, config = c, id = column.id,
      }
    end
  end
  return columns
end

function View:num_rows()
  local status = self.table and self.table.status
  local n = type(status) == "table" and status.num_rows
  if type(n) == "number" then return math.max(n, #self.rows) end
  return #self.rows
end

function View:refresh_words()
  return self.refresher:words(self.last_error, "idle: refreshes stopped")
end

-- The header lines and their highlights.
function View:header(lines, highlights)
  local t = self.table
  if not t then
    lines[1] = ("extruct://table/%s"):format(self.id)
    highlights[#highlights + 1] = { 0, 0, -1, "ExtructTitle" }
    lines[2] = ""
    local words, group = self:refresh_words()
    lines[3] = "loading… " .. words
    if group then highlights[#highlights + 1] = { 2, #"loading… ", -1, group } end
    lines[4] = ""
    return
  end
  local name = text.inline(t.name ~= nil and t.name or self.id)
  lines[1] = ("%s  ·  %s table %s"):format(name, text.inline(t.kind ~= nil and t.kind or "a"), self.id)
  highlights[#highlights + 1] = { 0, 0, #name, "ExtructTitle" }

  local fraction, counts = extruct.progress(t)
  local run_status = text.inline(type(t.status) == "table" and t.status.run_status or "unknown")
  local filled, empty = text.bar(fraction, BAR_WIDTH)
  local line = ("%s %s%s %3d%%  %d of %d done · %d in progress · %d failed"):format(run_status, filled, empty,
    math.floor(fraction * 100), counts.done, counts.total, counts.in_progress, counts.failed)
  lines[2] = line
  local idle = extruct.is_idle(t)
  highlights[#highlights + 1] = { 1, 0, #run_status, idle and "ExtructIdle" or "ExtructRunning" }
  local at = #run_status + 1
  highlights[#highlights + 1] = { 1, at, at + #filled, "ExtructProgressDone" }
  highlights[#highlights + 1] = { 1, at + #filled, at + #filled + #empty, "ExtructProgressTodo" }
  if counts.failed > 0 then
    local s, e = line:find(("%d failed"):format(counts.failed), 1, true)
    highlights[#highlights + 1] = { 1, s - 1, e, "ExtructCellFailed" }
  end

  local words, group = self:refresh_words()
  local prefix = ("%d of %d rows · refreshed %s · "):format(#self.rows, self:num_rows(), self.refreshed_at or "never")
  lines[3] = prefix .. words .. (words ~= "" and " · " or "") .. "? keys"
  if group then highlights[#highlights + 1] = { 2, #prefix, #prefix + #words, group } end
  lines[4] = ""
end

-- The most a render works before it lets the editor run (inside a refresh).
local SLICE_NS = 4e6

-- Inside a coroutine: a function to call between pieces of long work; it
-- yields to the editor (extruct.sleep) whenever a slice's time is up.
local function pacer()
  local started = uv.hrtime()
  return function()
    if uv.hrtime() - started > SLICE_NS then
      extruct.sleep(0.001)
      started = uv.hrtime()
    end
  end
end

-- A row as the grid shows it: { cells = { { text, group, width } by
-- column } }; once laid out at the widths of `layout`, also its line and
-- highlights (spans).
local function row_view(row, columns)
  local bytes = config.settings.column_width * 4 + 8 -- text enough for a cell, whatever the characters
  local cells = {}
  for j, column in ipairs(columns) do
    local value, group = cell_view(row, column.key, bytes)
    cells[j] = { value, group, text.width(value) }
  end
  return { cells = cells }
end

-- The width of each column: its title's or its widest cell's, at most
-- column_width; never narrower than before, so the grid does not jump.
-- Returns the layout (a string that changes whenever a width does) and
-- the widths by column.
function View:measure(views, columns, num_rows)
  local limit = config.settings.column_width
  self.widths = self.widths or {}
  self.number_width = math.max(self.number_width or 1, #tostring(num_rows))
  local layout, widths = { self.number_width }, {}
  for j, column in ipairs(columns) do
    local w = math.max(self.widths[column.key] or 0, text.width(column.name))
    for _, view in ipairs(views) do
      if w >= limit then break end
      w = math.max(w, view.cells[j][3])
    end
    w = math.max(3, math.min(w, limit))
    self.widths[column.key] = w
    widths[j] = w
    layout[#layout + 1] = w
  end
  return table.concat(layout, ","), widths
end

-- Lays a row out: its line at `widths`, and its highlights (byte spans
-- { from, to, group }).
local function lay_out(view, index, layout, widths, number_width)
  local number = text.right(tostring(index), number_width)
  local out, spans, at = { number }, { { 0, #number, "ExtructDim" } }, #number
  for j, cell in ipairs(view.cells) do
    local width = widths[j]
    local shown = cell[3] <= width and cell[1] .. (" "):rep(width - cell[3]) or text.fit(cell[1], width)
    at = at + #SEPARATOR
    if cell[2] then spans[#spans + 1] = { at, at + #(shown:gsub("%s+$", "")), cell[2] } end
    out[j + 1] = shown
    at = at + #shown
  end
  view.line, view.spans = (table.concat(out, SEPARATOR):gsub("%s+$", "")), spans
  view.layout, view.index = layout, index
end

-- The grid's lines (titles, rule, rows, a line about rows not loaded yet).
-- Rows a refresh already laid out at the same widths are not redone.
function View:grid(lines, highlights)
  local views = self.views
  for i, row in ipairs(self.rows) do views[i] = views[i] or row_view(row, self.columns) end
  for i = #views, #self.rows + 1, -1 do views[i] = nil end
  local layout, widths = self:measure(views, self.columns, self:num_rows())
  local first = #lines
  local parts = { text.right("#", self.number_width) }
  local rule = { ("─"):rep(self.number_width) }
  for j, column in ipairs(self.columns) do
    parts[#parts + 1] = text.fit(column.name, widths[j])
    rule[#rule + 1] = ("─"):rep(widths[j])
  end
  lines[#lines + 1] = table.concat(parts, SEPARATOR)
  highlights[#highlights + 1] = { first, 0, -1, "ExtructColumnTitle" }
  lines[#lines + 1] = table.concat(rule, "─┼─")
  highlights[#highlights + 1] = { first + 1, 0, -1, "ExtructDim" }
  for i, view in ipairs(views) do
    if view.layout ~= layout or view.index ~= i then lay_out(view, i, layout, widths, self.number_width) end
    local line_index = #lines
    lines[line_index + 1] = view.line
    for _, span in ipairs(view.spans) do
      highlights[#highlights + 1] = { line_index, span[1], span[2], span[3] }
    end
  end
  local more = self:num_rows() - #self.rows
  if more > 0 then
    highlights[#highlights + 1] = { #lines, 0, -1, "ExtructDim" }
    lines[#lines + 1] = ("… %d more rows: move down or press L"):format(more)
  elseif #self.rows == 0 and self.table then
    highlights[#highlights + 1] = { #lines, 0, -1, "ExtructDim" }
    lines[#lines + 1] = "(no rows)"
  end
end

--- Draws the view from what it knows.
function View:render()
  if self.closed or not api.nvim_buf_is_valid(self.buf) then return end
  local lines, highlights = {}, {}
  self:header(lines, highlights)
  if self.table then
    self:grid(lines, highlights)
  end
  buffer.draw(self.buf, lines, highlights)
end

-- A refresh, inside a coroutine: the table, then the rows loaded so far
-- (at least a page), the pages side by side; then the rows made into grid
-- lines a slice at a time, the editor running in between.
function View:fetch()
  local client, id, size = self.client, self.id, config.settings.page_size
  local t, err = client:get_table(id, { retries = 0 })
  if not t or self.closed then return nil, err end
  local want = math.max(#self.rows, size)
  local offsets = {}
  for offset = 0, want - 1, size do offsets[#offsets + 1] = offset end
  local pages = {}
  if #offsets == 1 then
    local page
    page, err = client:get_table_data(id, { offset = 0, limit = size, retries = 0 })
    if not page then return nil, err end
    pages[1] = page
  else
    local fns = {}
    for i, offset in ipairs(offsets) do
      fns[i] = function() return client:get_table_data(id, { offset = offset, limit = size, retries = 0 }) end
    end
    for i, result in ipairs(extruct.gather(fns, { concurrency = 4 })) do
      if not result[1] then return nil, result[2] end
      pages[i] = result[1]
    end
  end
  local rows = {}
  for _, page in ipairs(pages) do
    for _, row in ipairs(type(page.rows) == "table" and page.rows or {}) do rows[#rows + 1] = row end
  end
  if self.closed then return nil end
  local columns, views, pace = columns_of(t), {}, pacer()
  for i, row in ipairs(rows) do
    views[i] = row_view(row, columns)
    pace()
  end
  local status = type(t.status) == "table" and t.status or {}
  local layout, widths = self:measure(views, columns, math.max(tonumber(status.num_rows) or 0, #rows))
  for i, view in ipairs(views) do
    lay_out(view, i, layout, widths, self.number_width)
    pace()
  end
  return { table = t, rows = rows, columns = columns, views = views }
end

-- Shows a refresh's answer; returns its mark and whether the run is over.
function View:apply(fresh)
  local t = fresh.table
  self.table = t
  self.columns = fresh.columns
  local rows, views = fresh.rows, fresh.views
  local num_rows = type(t.status) == "table" and t.status.num_rows
  -- rows loaded past those refreshed stay, as far as the table still has them
  for i = #rows + 1, math.min(#self.rows, type(num_rows) == "number" and num_rows or #self.rows) do
    rows[i], views[i] = self.rows[i], self.views[i]
  end
  self.rows, self.views = rows, views
  self.refreshed_at = text.clock()
  self.last_error = nil
  local _, counts = extruct.progress(t)
  local status = type(t.status) == "table" and t.status.run_status
  return ("%s/%d/%d/%d/%d"):format(tostring(status), counts.done, counts.in_progress, counts.failed, #rows),
    extruct.is_idle(t)
end

--- Loads the next page of rows, unless one is on its way or all are here.
function View:load_more()
  if self.closed or self.loading or not self.table or #self.rows >= self:num_rows() then return end
  self.loading = true
  local offset, size = #self.rows, config.settings.page_size
  buffer.async(function()
    return self.client:get_table_data(self.id, { offset = offset, limit = size })
  end, function(ok, page, err)
    self.loading = false
    if self.closed then return end
    if not ok or not page then return report(ok and err or page) end
    if #self.rows == offset then
      for _, row in ipairs(type(page.rows) == "table" and page.rows or {}) do self.rows[#self.rows + 1] = row end
    end
    self:render()
  end)
end

-- The row and column under the cursor: row index (nil on the titles) and
-- column, or nil when the cursor is elsewhere.
function View:cell_at_cursor()
  if not self.table then return nil end
  local line = api.nvim_win_get_cursor(0)[1]
  local row
  if line >= FIRST_ROW_LINE and line < FIRST_ROW_LINE + #self.rows then
    row = line - FIRST_ROW_LINE + 1
  elseif line ~= TITLE_LINE then
    return nil
  end
  local virtcol = vim.fn.virtcol(".")
  local gap = text.width(SEPARATOR)
  local right = self.number_width + gap
  local chosen = self.columns[1]
  for _, column in ipairs(self.columns) do
    chosen = column
    right = right + self.widths[column.key] + gap
    if virtcol <= right then break end
  end
  return row, chosen
end

--- <CR>: a floating window with the whole cell (or, on the titles, the column).
function View:show_cell()
  local index, column = self:cell_at_cursor()
  if not column then return end
  local lines, highlights = {}, {}
  if not index then
    highlights[#highlights + 1] = { 0, 0, -1, "ExtructTitle" }
    lines[1] = ("%s (%s, key %s)"):format(column.name, text.inline(column.kind), text.inline(column.key))
    local details = {}
    for _, key in ipairs(text.keys_of(column.config)) do
      if key ~= "name" and key ~= "key" and key ~= "kind" then details[key] = column.config[key] end
    end
    if next(details) then
      for _, line in ipairs(text.lines(details)) do lines[#lines + 1] = line end
    end
    return float.show(lines, highlights)
  end
  local row = self.rows[index]
  local answer, status, sources, explanation = extruct.cell(row, column.key)
  highlights[#highlights + 1] = { 0, 0, -1, "ExtructTitle" }
  lines[1] = ("%s · row %d"):format(column.name, index)
  lines[2] = "status: " .. (status and status:gsub("_", " ") or "input")
  float.section(lines, highlights, "Answer", status and status ~= "done" and answer == nil
    and { "(" .. (STATE_WORDS[status] or status) .. ")" } or text.lines(answer))
  if explanation then float.section(lines, highlights, "Explanation", text.lines(explanation)) end
  if status then float.section(lines, highlights, "Sources", float.sources(sources)) end
  return float.show(lines, highlights)
end

--- R: runs the table (mode new) and follows it.
function View:run()
  buffer.async(function()
    return self.client:run_table(self.id, { mode = "new" })
  end, function(ok, run, err)
    if self.closed then return end
    if not ok or not run then return report(ok and err or run) end
    vim.notify(("extruct: %s: run %s started, %s cells requested"):format(self.id, text.inline(run.id),
      text.inline(run.num_requested_cells)), vim.log.levels.INFO, { title = "extruct" })
    self.refresher:start()
  end)
end

function View:on_hidden(hidden)
  self.refresher:set_hidden(hidden)
end

--- Stops the view for good: no more refreshes, its client closed (a
--- request under way ends cancelled).
function View:close()
  if self.closed then return end
  self.closed = true
  self.refresher:close()
  if self.client then self.client:close() end
end

local function setup_keys(view)
  local buf = view.buf
  buffer.map(buf, "<CR>", function() view:show_cell() end, "Extruct: show the cell")
  buffer.map(buf, "r", function() view.refresher:refresh() end, "Extruct: refresh")
  buffer.map(buf, "R", function() view:run() end, "Extruct: run the table and follow it")
  buffer.map(buf, "L", function() view:load_more() end, "Extruct: load more rows")
  buffer.map(buf, "q", function()
    if api.nvim_buf_is_valid(buf) then api.nvim_buf_delete(buf, { force = true }) end
  end, "Extruct: close")
  buffer.map(buf, "?", function() float.keys(M.KEYS) end, "Extruct: keys")
  api.nvim_create_autocmd("CursorMoved", {
    group = api.nvim_create_augroup("extruct_view_" .. buf, { clear = false }),
    buffer = buf,
    callback = function()
      if view.loading or not view.table or #view.rows >= view:num_rows() then return end
      local line = api.nvim_win_get_cursor(0)[1]
      if line >= FIRST_ROW_LINE + #view.rows - api.nvim_win_get_height(0) then view:load_more() end
    end,
  })
end

--- Opens (or shows again) the view of table `id`; returns its buffer.
function M.open(id, client)
  local name = "extruct://table/" .. id
  local existing = buffer.find(name)
  if existing and buffer.views[existing] then
    api.nvim_set_current_buf(existing)
    if client then client:close() end
    buffer.views[existing].refresher:start()
    return existing
  elseif existing then
    api.nvim_buf_delete(existing, { force = true })
  end
  local view = setmetatable({ id = id, client = client, rows = {}, views = {}, columns = {} }, View)
  view.buf = buffer.create(name, "extruct")
  view.refresher = refresher.new{
    fetch = function() return view:fetch() end,
    apply = function(fresh) return view:apply(fresh) end,
    failed = function(err, first)
      view.last_error = err
      if first or refresher.is_permanent(err) then report(err) end
    end,
    late = function() view:render() end,
    changed = function() view:render() end,
    settings = function() return config.settings end,
  }
  buffer.attach(view)
  setup_keys(view)
  view:render()
  view.refresher:start()
  return view.buf
end

return M
