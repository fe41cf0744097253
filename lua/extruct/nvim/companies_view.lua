-- extruct://search/{query} and extruct://similar/{domain}: companies, one
-- a line (name, domain, country, size, score), a page at a time from the
-- library's iterator, more as the cursor nears the end; <CR> shows the
-- company's profile.

local extruct = require("extruct")
local buffer = require("extruct.nvim.buffer")
local config = require("extruct.nvim.config")
local float = require("extruct.nvim.float")
local list = require("extruct.nvim.list")
local text = require("extruct.nvim.text")

local M = {}

local api = vim.api

M.KEYS = {
  { "<CR>", "the company's profile (gx opens a link)" },
  { "L", "load more companies (moving down near the end does too)" },
  { "q", "close the list" },
  { "?", "this list" },
}

local COLUMNS = {
  { title = "Name", get = function(c) return c.name end, width = 32 },
  { title = "Domain", get = function(c) return c.domain end, width = 32 },
  { title = "Country", get = function(c) return c.hq_country end, width = 20 },
  { title = "Size", get = function(c) return c.employee_count end, width = 12 },
  { title = "Score", get = function(c) return c.relevance_score end, width = 6, right = true },
}

local View = {}
View.__index = View

function View:render()
  if self.closed or not api.nvim_buf_is_valid(self.buf) then return end
  local lines, highlights = { self.title }, { { 0, 0, -1, "ExtructTitle" } }
  local state
  if self.error then
    state = "failed: " .. tostring(self.error)
    highlights[#highlights + 1] = { 1, 0, -1, "ExtructError" }
  elseif self.loading then
    state = ("%d shown · loading…"):format(#self.items)
  elseif self.finished then
    state = ("%d companies · <CR> shows a profile · ? keys"):format(#self.items)
  else
    state = ("%d shown, more below (L) · <CR> shows a profile · ? keys"):format(#self.items)
  end
  lines[2] = state
  lines[3] = ""
  self.first_line = list.render(lines, highlights, COLUMNS, self.items)
  buffer.draw(self.buf, lines, highlights)
end

--- Pulls the next page of companies from the iterator.
function View:load_more()
  if self.closed or self.loading or self.finished then return end
  self.loading = true
  self:render()
  buffer.async(function()
    local got = {}
    for _ = 1, config.settings.page_size do
      local company, err = self.next_company()
      if company == nil then return got, true end
      if company == false then return nil, err end
      got[#got + 1] = company
    end
    return got, false
  end, function(ok, got, finished_or_err)
    self.loading = false
    if self.closed then return end
    if not ok or not got then
      self.error = ok and finished_or_err or got
      vim.notify(tostring(self.error), vim.log.levels.ERROR, { title = "extruct" })
      self.finished = true
    else
      for _, company in ipairs(got) do self.items[#self.items + 1] = company end
      self.finished = finished_or_err
    end
    self:render()
  end)
end

--- <CR>: the profile of the company under the cursor.
function View:show_profile()
  local line = api.nvim_win_get_cursor(0)[1]
  local company = self.first_line and self.items[line - self.first_line + 1]
  if not company then return end
  local lines, highlights = {}, {}
  M.profile_lines(company, lines, highlights)
  return float.show(lines, highlights)
end

-- Fields shown apart (title, description, links) rather than as details.
local APART = {
  name = true, domain = true, short_description = true, full_description = true, social_profiles = true,
}

--- A company profile as lines: name and domain, its description, its
--- details, its links.
function M.profile_lines(company, lines, highlights)
  highlights[#highlights + 1] = { #lines, 0, -1, "ExtructTitle" }
  lines[#lines + 1] = ("%s — %s"):format(text.inline(company.name), text.inline(company.domain))
  local description = company.full_description ~= nil and company.full_description or company.short_description
  if description ~= nil and description ~= extruct.null then
    lines[#lines + 1] = ""
    for _, line in ipairs(text.lines(description)) do lines[#lines + 1] = line end
  end
  local details = {}
  for key, value in pairs(company) do
    if not APART[key] and value ~= extruct.null then details[key] = value end
  end
  float.section(lines, highlights, "Details", text.lines(details))
  local links = {}
  if type(company.domain) == "string" then links[#links + 1] = "https://" .. company.domain end
  if type(company.social_profiles) == "table" then
    for _, key in ipairs(text.keys_of(company.social_profiles)) do
      local url = company.social_profiles[key]
      if type(url) == "string" then links[#links + 1] = ("%s: %s"):format(key, url) end
    end
  end
  if #links > 0 then float.section(lines, highlights, "Links", links) end
end

function View:close()
  if self.closed then return end
  self.closed = true
  if self.client then self.client:close() end
end

-- Opens a list named `name` titled `title` over the iterator `iterate(client)`.
local function open(name, title, client, iterate)
  local existing = buffer.find(name)
  if existing then api.nvim_buf_delete(existing, { force = true }) end
  local view = setmetatable({ title = title, client = client, items = {} }, View)
  view.buf = buffer.create(name, "extruct")
  view.next_company = iterate(client)
  buffer.attach(view)
  local buf = view.buf
  buffer.map(buf, "<CR>", function() view:show_profile() end, "Extruct: show the profile")
  buffer.map(buf, "L", function() view:load_more() end, "Extruct: load more")
  buffer.map(buf, "q", function() api.nvim_buf_delete(buf, { force = true }) end, "Extruct: close")
  buffer.map(buf, "?", function() float.keys(M.KEYS) end, "Extruct: keys")
  api.nvim_create_autocmd("CursorMoved", {
    group = api.nvim_create_augroup("extruct_view_" .. buf, { clear = false }),
    buffer = buf,
    callback = function()
      if view.loading or view.finished or not view.first_line then return end
      local line = api.nvim_win_get_cursor(0)[1]
      if line >= view.first_line + #view.items - api.nvim_win_get_height(0) then view:load_more() end
    end,
  })
  view:load_more()
  return buf
end

--- extruct://search/{query}: the companies that best match query.
function M.search(query, client)
  local words = text.inline(query)
  return open("extruct://search/" .. words, ('Companies matching "%s"'):format(words), client, function(c)
    return c:iter_search_companies(query, { limit = math.min(config.settings.page_size, 250) })
  end)
end

--- extruct://similar/{domain}: lookalikes of a company.
function M.similar(domain, client)
  local words = text.inline(domain)
  return open("extruct://similar/" .. words, ("Companies like %s"):format(words), client, function(c)
    return c:iter_similar_companies(domain, { limit = math.min(config.settings.page_size, 250) })
  end)
end

return M
