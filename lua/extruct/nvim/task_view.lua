-- extruct://research/{id} and extruct://deep-search/{id}: a Deep Research
-- task (a Markdown buffer: its progress while it runs, then the report
-- with its numbered sources) and a Deep Search (its counters, and the
-- results as they are found). Both refresh by themselves until the task
-- ends (extruct.nvim.refresher).

local extruct = require("extruct")
local buffer = require("extruct.nvim.buffer")
local config = require("extruct.nvim.config")
local float = require("extruct.nvim.float")
local list = require("extruct.nvim.list")
local refresher = require("extruct.nvim.refresher")
local research_report = require("extruct.cli.research_report")
local text = require("extruct.nvim.text")

local M = {}

local api = vim.api

M.KEYS = {
  { "<CR>", "a result's scores, explanations and sources (Deep Search)" },
  { "r", "refresh now" },
  { "q", "close the view" },
  { "?", "this list" },
}

local View = {}
View.__index = View

local function is_over(task)
  return type(task) == "table" and (task.status == "done" or task.status == "failed")
end

local function number(v) return type(v) == "number" and v or 0 end

local function pretty_json(value) return extruct.encode(value, { pretty = true }) end

-- Deep Research: the lines of the buffer, Markdown.
local function research_lines(view, lines, highlights)
  local task = view.task
  lines[#lines + 1] = "# Deep Research " .. view.id
  lines[#lines + 1] = ""
  local brief = task and task.brief
  if type(brief) == "string" then
    for line in (brief .. "\n"):gmatch("(.-)\r?\n") do lines[#lines + 1] = "> " .. line:gsub("%c", " ") end
    lines[#lines + 1] = ""
  end
  local words, group = view.refresher:words(view.last_error)
  local status = task and ("**%s** · %d iterations · %d agents · %d sources · refreshed %s"):format(
    text.inline(task.status), number(task.iterations), number(task.agents), number(task.sources),
    view.refreshed_at) or "loading…"
  local line = status .. (words ~= "" and " · " .. words or "")
  if group then highlights[#highlights + 1] = { #lines, #status + 4, -1, group } end
  lines[#lines + 1] = line
  if not task then return end
  lines[#lines + 1] = ""
  local report, why = research_report.markdown(task, pretty_json)
  if report then
    for report_line in report:gmatch("(.-)\n") do lines[#lines + 1] = (report_line:gsub("%c", " ")) end
  elseif task.status == "failed" then
    highlights[#highlights + 1] = { #lines, 0, -1, "ExtructError" }
    lines[#lines + 1] = "The task failed: " .. text.inline(task.failure_reason)
  else
    lines[#lines + 1] = "_" .. why .. "; it appears here when the task is done._"
  end
end

local RESULT_COLUMNS = {
  { title = "Company", get = function(r) return r.company_name end, width = 32 },
  { title = "Website", get = function(r) return r.company_website end, width = 36 },
  { title = "Country", get = function(r) return r.hq_country end, width = 20 },
  { title = "Relevance", get = function(r) return r.relevance end, width = 9, right = true },
}

-- Deep Search: a header, then the results found so far.
local function deep_search_lines(view, lines, highlights)
  local task = view.task
  local query = task and task.query
  lines[#lines + 1] = ("Deep Search %s%s"):format(view.id, type(query) == "string" and (": " .. text.inline(query)) or "")
  highlights[#highlights + 1] = { 0, 0, -1, "ExtructTitle" }
  local words, group = view.refresher:words(view.last_error)
  local status = task and ("%s · %d discovered · %d enriched · %d evaluated · %d of %d results%s · refreshed %s"):format(
    text.inline(task.status), number(task.num_results_discovered), number(task.num_results_enriched),
    number(task.num_results_evaluated), number(task.num_results), number(task.desired_num_results),
    task.is_exhausted == true and " · exhausted" or "", view.refreshed_at) or "loading…"
  if group then highlights[#highlights + 1] = { #lines, #status + #" · ", -1, group } end
  lines[#lines + 1] = status .. (words ~= "" and " · " .. words or "")
  if task and task.status == "failed" then
    highlights[#highlights + 1] = { #lines, 0, -1, "ExtructError" }
    lines[#lines + 1] = "The task failed." .. (task.failure_reason and " " .. text.inline(task.failure_reason) or "")
  end
  lines[#lines + 1] = ""
  view.first_line = list.render(lines, highlights, RESULT_COLUMNS, view.results or {})
end

function View:render()
  if self.closed or not api.nvim_buf_is_valid(self.buf) then return end
  local lines, highlights = {}, {}
  self.draw(self, lines, highlights)
  buffer.draw(self.buf, lines, highlights)
end

--- <CR> in a Deep Search: the scores of the result under the cursor.
function View:show_result()
  if not self.first_line then return end
  local line = api.nvim_win_get_cursor(0)[1]
  local result = self.results and self.results[line - self.first_line + 1]
  if not result then return end
  local lines, highlights = {}, {}
  highlights[1] = { 0, 0, -1, "ExtructTitle" }
  lines[1] = ("%s — %s · relevance %s"):format(text.inline(result.company_name), text.inline(result.company_website),
    text.inline(result.relevance))
  if type(result.company_description) == "string" then
    lines[#lines + 1] = ""
    for _, l in ipairs(text.lines(result.company_description)) do lines[#lines + 1] = l end
  end
  local scores = type(result.scores) == "table" and result.scores or {}
  for _, key in ipairs(text.keys_of(scores)) do
    local score = scores[key]
    local body = {}
    if type(score) == "table" then
      body[#body + 1] = "grade: " .. text.inline(score.grade)
      if score.explanation ~= nil then body[#body + 1] = text.inline(score.explanation) end
      for _, source in ipairs(float.sources(score.sources)) do body[#body + 1] = source end
    else
      body[1] = text.inline(score)
    end
    float.section(lines, highlights, key, body)
  end
  if type(result.company_website) == "string" then
    float.section(lines, highlights, "Links", { result.company_website })
  end
  return float.show(lines, highlights)
end

function View:close()
  if self.closed then return end
  self.closed = true
  self.refresher:close()
  if self.client then self.client:close() end
end

function View:on_hidden(hidden)
  self.refresher:set_hidden(hidden)
end

local function open(kind, id, client)
  local name = ("extruct://%s/%s"):format(kind, id)
  local existing = buffer.find(name)
  if existing then api.nvim_buf_delete(existing, { force = true }) end
  local view = setmetatable({ id = id, client = client, kind = kind }, View)
  local research = kind == "research"
  view.buf = buffer.create(name, research and "markdown" or "extruct")
  view.draw = research and research_lines or deep_search_lines
  view.refresher = refresher.new{
    fetch = function()
      if research then return client:get_deep_research(id, { retries = 0 }) end
      return client:get_deep_search_results(id, { limit = math.min(config.settings.page_size, 250), retries = 0 })
    end,
    apply = function(task)
      view.task = task
      if not research then view.results = type(task.results) == "table" and task.results or {} end
      view.refreshed_at = text.clock()
      view.last_error = nil
      local mark = research
        and ("%s/%s/%s/%s"):format(tostring(task.status), tostring(task.iterations), tostring(task.agents),
          tostring(task.sources))
        or ("%s/%s/%s/%s/%s/%s"):format(tostring(task.status), tostring(task.num_results_discovered),
          tostring(task.num_results_enriched), tostring(task.num_results_evaluated), tostring(task.num_results),
          tostring(task.is_exhausted))
      return mark, is_over(task)
    end,
    failed = function(err, first)
      view.last_error = err
      if first or refresher.is_permanent(err) then
        vim.notify(tostring(err), vim.log.levels.ERROR, { title = "extruct" })
      end
    end,
    late = function() view:render() end,
    changed = function() view:render() end,
    settings = function() return config.settings end,
  }
  buffer.attach(view)
  local buf = view.buf
  if not research then buffer.map(buf, "<CR>", function() view:show_result() end, "Extruct: show the result") end
  buffer.map(buf, "r", function() view.refresher:refresh() end, "Extruct: refresh")
  buffer.map(buf, "q", function() api.nvim_buf_delete(buf, { force = true }) end, "Extruct: close")
  buffer.map(buf, "?", function() float.keys(M.KEYS) end, "Extruct: keys")
  view:render()
  view.refresher:start()
  return buf
end

--- extruct://research/{id}: a Deep Research task that exists.
function M.open_research(id, client) return open("research", id, client) end

--- extruct://deep-search/{id}: a Deep Search that exists.
function M.open_deep_search(id, client) return open("deep-search", id, client) end

return M
