--- extruct.cli.progress: a run's or a task's progress in words, and the
--- reports of a wait on stderr: a bar (for a task, its summary line)
--- redrawn in place on a terminal, plain lines otherwise; one bar per table
--- when several are waited for.

local output = require("extruct.cli.output")

local one_line, count_text = output.one_line, output.count_text

local M = {}

--- m:ss, or h:mm:ss from an hour on.
function M.duration(s)
  s = math.floor(math.max(0, s))
  if s >= 3600 then
    return ("%d:%02d:%02d"):format(math.floor(s / 3600), math.floor(s % 3600 / 60), s % 60)
  end
  return ("%d:%02d"):format(math.floor(s / 60), s % 60)
end

--- The run of t in words: "running, 18/25 cells, 72%" (", N failed" when
--- some did), then the counts and the percent.
function M.run_summary(extruct, t)
  local fraction, counts = extruct.progress(t)
  local status = type(t.status) == "table" and t.status or {}
  local run_status = status.run_status
  run_status = type(run_status) == "string" and run_status ~= "" and one_line(run_status) or "unknown status"
  local percent
  if counts.total > 0 then
    percent = math.floor(counts.done * 100 / counts.total)
  else
    percent = math.floor(fraction * 100)
  end
  local text = ("%s, %s/%s cells, %d%%"):format(run_status, count_text(counts.done), count_text(counts.total), percent)
  if counts.failed > 0 then
    text = text .. (", %s failed"):format(count_text(counts.failed))
  end
  return text, counts, percent
end

--- "Acme leads (tbl_demo): running, 18/25 cells, 72%"
function M.status_line(extruct, id, t)
  return output.label(t.name, id) .. ": " .. (M.run_summary(extruct, t))
end

-- The columns a line redrawn in place leaves free: the last would wrap on
-- some terminals, and two hold the "^C" a terminal echoes after the line on
-- Ctrl-C (wrapped to the next line, it would leave the line where no
-- redraw reaches it).
local ROOM_LEFT = 3

--- The progress bar for a terminal `width` columns wide, without a newline.
--- Parts are dropped as the terminal narrows: the id, then the time since
--- the last change, then the bar itself.
function M.bar_line(id, counts, percent, elapsed, since_change, width)
  -- done is padded to the width of total, so the bar keeps its length as counts grow
  local total = count_text(counts.total)
  local numbers = ("%" .. #total .. "s/%s cells %3d%%"):format(count_text(counts.done), total, percent)
  local times = "elapsed " .. M.duration(elapsed)
  local change = "last change " .. M.duration(since_change) .. " ago"
  local room = width - ROOM_LEFT
  local function with_bar(prefix, suffix)
    local bar_width = math.min(60, room - #prefix - #suffix - 3)
    if bar_width < 10 then return nil end
    local filled = math.floor(bar_width * percent / 100)
    return prefix .. "[" .. ("#"):rep(filled) .. ("."):rep(bar_width - filled) .. "] " .. suffix
  end
  local full = numbers .. "  " .. times .. ", " .. change
  return with_bar(one_line(id) .. " ", full)
    or with_bar("", full)
    or with_bar("", numbers .. "  " .. times)
    or (numbers .. "  " .. times):sub(1, math.max(room, 1))
end

--- The line of a task on a terminal `width` columns wide, without a
--- newline: its summary and the times, the time since the last change
--- dropped first as the terminal narrows, then cut to fit.
function M.task_line(id, summary, elapsed, since_change, width)
  local room = math.max(width - ROOM_LEFT, 1)
  local lead = one_line(id) .. ": " .. summary .. ", elapsed " .. M.duration(elapsed)
  local full = lead .. ", last change " .. M.duration(since_change) .. " ago"
  if #full <= room then return full end
  return lead:sub(1, room)
end

local function plural(n, word)
  return ("%s %s%s"):format(count_text(n), word, n == 1 and "" or "s")
end

local function count_of(value)
  return (type(value) == "number" and value >= 0 and value < math.huge) and value or 0
end

local function status_of(task)
  local status = type(task) == "table" and task.status or nil
  return type(status) == "string" and status ~= "" and one_line(status) or "unknown status"
end

--- A Deep Search task in words: "in_progress, 2/3 results, 3 discovered,
--- 3 enriched, 2 evaluated" (", exhausted" once no more candidates come).
function M.deep_search_summary(task)
  task = type(task) == "table" and task or {}
  local text = ("%s, %s/%s results, %s discovered, %s enriched, %s evaluated"):format(status_of(task),
    count_text(count_of(task.num_results)), count_text(count_of(task.desired_num_results)),
    count_text(count_of(task.num_results_discovered)), count_text(count_of(task.num_results_enriched)),
    count_text(count_of(task.num_results_evaluated)))
  if task.is_exhausted == true then text = text .. ", exhausted" end
  return text
end

--- A Deep Research task in words: "in_progress, 3 iterations, 25 agents,
--- 75 sources".
function M.deep_research_summary(task)
  task = type(task) == "table" and task or {}
  return ("%s, %s, %s, %s"):format(status_of(task), plural(count_of(task.iterations), "iteration"),
    plural(count_of(task.agents), "agent"), plural(count_of(task.sources), "source"))
end

--- An export's progress in words: "1200/10000 rows fetched, 300 written".
function M.export_summary(p)
  p = type(p) == "table" and p or {}
  local fetched = count_of(p.fetched)
  local total = type(p.total) == "number" and p.total >= 0 and "/" .. count_text(p.total) or ""
  return ("%s%s rows fetched, %s written"):format(count_text(fetched), total, count_text(count_of(p.written)))
end

-- One table's or task's report. Redraws pad over the previous line instead
-- of using escape sequences, so TERM=dumb terminals work too.
local Reporter = {}
Reporter.__index = Reporter

local PLAIN_LINE_AT_LEAST_EVERY = 60

--- The report of waiting for table `id`, on ctx's stderr; or for a task,
--- when `summarize(task)` gives its summary (then a terminal shows the
--- summary line redrawn in place instead of a bar).
function M.reporter(ctx, id, summarize)
  local started = ctx.extruct.now()
  return setmetatable({
    extruct = ctx.extruct, sys = ctx.sys, id = id, now = ctx.extruct.now, summarize = summarize,
    tty = ctx.sys.isatty(2), started = started, printed_at = started, drawn = 0,
  }, Reporter)
end

function Reporter:width()
  local width = self.sys.terminal_width(2) or tonumber(self.sys.getenv("COLUMNS") or "")
  return (width and width >= 2) and width or 80
end

--- The bar for the last table seen, or nil before the first poll.
function Reporter:line(width)
  if not self.last_table then return nil end
  local now = self.now()
  if self.summarize then
    return M.task_line(self.id, self.summary, now - self.started, now - self.changed_at, width or self:width())
  end
  return M.bar_line(self.id, self.counts, self.percent, now - self.started, now - self.changed_at, width or self:width())
end

function Reporter:draw()
  local line = self:line()
  if not line then return end
  local pad = math.max(0, self.drawn - #line)
  self.sys.stderr:write("\r", line, (" "):rep(pad))
  self.sys.stderr:flush()
  self.drawn = #line
end

function Reporter:clear()
  if self.drawn > 0 then
    -- (and the "^C" a terminal may have echoed after the line)
    self.sys.stderr:write("\r", (" "):rep(self.drawn + ROOM_LEFT - 1), "\r")
    self.sys.stderr:flush()
    self.drawn = 0
  end
end

function Reporter:plain_line()
  return ("%s: %s, elapsed %s\n"):format(one_line(self.id), self.summary, M.duration(self.now() - self.started))
end

--- Takes in the table (or task) a poll saw; returns whether the summary changed.
function Reporter:record(t)
  local summary, counts, percent
  if self.summarize then
    summary = self.summarize(t)
  else
    summary, counts, percent = M.run_summary(self.extruct, t)
  end
  local changed = summary ~= self.summary
  if changed then self.changed_at = self.now() end
  self.last_table, self.summary, self.counts, self.percent = t, summary, counts, percent
  return changed
end

--- Called after every poll with the table seen.
function Reporter:update(t)
  local now = self.now()
  local changed = self:record(t)
  if self.tty then
    self:draw()
  elseif changed or now - self.printed_at >= PLAIN_LINE_AT_LEAST_EVERY then
    self.sys.stderr:write(self:plain_line())
    self.sys.stderr:flush()
    self.printed_at = now
  end
end

--- Between polls: keeps the clocks of the bar moving.
function Reporter:tick()
  if self.tty then self:draw() end
end

--- At the end: the bar gives way to a summary line of the last table seen.
function Reporter:finish()
  if not self.tty then return end
  self:clear()
  if self.last_table then
    self.sys.stderr:write(self:plain_line())
    self.sys.stderr:flush()
  end
end

-- The report of several waits: on a terminal (other than TERM=dumb) one bar
-- per table, the block redrawn in place with ANSI cursor moves; otherwise
-- each table's plain lines, as for one table.
local MultiReporter = {}
MultiReporter.__index = MultiReporter

function M.multi_reporter(ctx, ids)
  local self = setmetatable({ sys = ctx.sys, ids = ids, reporters = {}, drawn = 0 }, MultiReporter)
  self.tty = ctx.sys.isatty(2) and ctx.sys.getenv("TERM") ~= "dumb"
  for _, id in ipairs(ids) do
    if not self.reporters[id] then
      local reporter = M.reporter(ctx, id)
      reporter.tty = false
      self.reporters[id] = reporter
    end
  end
  return self
end

-- Moves back over the lines drawn last time, then writes `lines`.
function MultiReporter:redraw(lines)
  local parts = {}
  if self.drawn > 0 then parts[1] = ("\r\27[%dA"):format(self.drawn) end
  for _, line in ipairs(lines) do parts[#parts + 1] = "\r" .. line .. "\27[K\n" end
  self.sys.stderr:write(table.concat(parts))
  self.sys.stderr:flush()
  self.drawn = #lines
end

function MultiReporter:update(id, t)
  local reporter = self.reporters[id]
  if not self.tty then return reporter:update(t) end
  reporter:record(t)
  local width = reporter:width()
  local lines = {}
  for i, each in ipairs(self.ids) do
    lines[i] = self.reporters[each]:line(width) or (one_line(each) .. ": waiting for the first poll")
  end
  self:redraw(lines)
end

--- At the end, on a terminal: each bar gives way to its summary line.
function MultiReporter:finish()
  if not self.tty then return end
  local lines = {}
  for i, id in ipairs(self.ids) do
    local reporter = self.reporters[id]
    lines[i] = reporter.last_table and reporter:plain_line():sub(1, -2) or (one_line(id) .. ": not polled")
  end
  self:redraw(lines)
  -- (the line below the block, where a terminal may have echoed "^C")
  self.sys.stderr:write("\27[K")
  self.sys.stderr:flush()
end

return M
