-- extruct inside Neovim: a live view of a table's run, companies, Deep
-- Search and Deep Research in buffers, and the :Extruct command.
--
--   require("extruct.nvim").setup{ interval = 2 }   -- optional
--   :Extruct open tbl_123
--
-- Every request runs inside extruct.async, where it yields to the editor;
-- nothing here waits on the main loop. docs/neovim.md is the guide.

local config = require("extruct.nvim.config")

local M = {}

local api = vim.api

local SUBCOMMANDS = { "open", "tables", "stop", "search", "similar", "research", "deep-search" }

local USAGE = [[
:Extruct open {table_id}     a live view of the table (no id: pick one)
:Extruct tables              pick a table, open it
:Extruct stop                stop refreshing this view (elsewhere: every view)
:Extruct search {query}      companies that match the words
:Extruct similar {domain}    companies like this one
:Extruct research {brief}    start a Deep Research task and follow it
:Extruct deep-search {query} start a Deep Search and watch its results come]]

-- Table ids seen (listed, opened): id -> name, for completion.
local known_tables = {}
local listed_at

local HIGHLIGHTS = {
  ExtructTitle = "Title",
  ExtructColumnTitle = "Title",
  ExtructDim = "Comment",
  ExtructKey = "Special",
  ExtructCellRequested = "Comment",
  ExtructCellInProgress = "WarningMsg",
  ExtructCellFailed = "ErrorMsg",
  ExtructRunning = "WarningMsg",
  ExtructIdle = "String",
  ExtructProgressDone = "String",
  ExtructProgressTodo = "Comment",
  ExtructLate = "WarningMsg",
  ExtructError = "ErrorMsg",
}
M.HIGHLIGHTS = HIGHLIGHTS

local function define_highlights()
  for group, target in pairs(HIGHLIGHTS) do
    vim.cmd(("highlight default link %s %s"):format(group, target))
  end
end

local function notify(message, level)
  vim.notify(message, level or vim.log.levels.ERROR, { title = "extruct" })
end

-- A misuse raised inside the plugin, as a message without its location.
local function without_location(err)
  return (tostring(err):gsub("^[^\n:]+:%d+: ", ""))
end

-- The library, or nil after saying why it does not load.
local function library()
  local ok, extruct = pcall(require, "extruct")
  if ok then return extruct end
  notify("extruct: the module does not load (see :checkhealth extruct): " .. without_location(extruct))
  return nil
end

-- A client from the settings, or nil after saying why not.
local function client_or_report()
  local extruct = library()
  if not extruct then return nil end
  local client, err = config.client(extruct)
  if not client then notify(tostring(err)) end
  return client, err
end

local function check_text(value, what, where)
  if type(value) ~= "string" or not value:find("%S") then
    error(("extruct.nvim.%s: expected %s (a non-empty string), got %s"):format(where, what,
      type(value) == "string" and "an empty string" or type(value)), 3)
  end
  return (value:gsub("^%s+", ""):gsub("%s+$", ""))
end

-- Opens a window for a new view first when `split` asks (a command
-- modifier: "vertical", "tab", "botright"...).
local function make_room(split)
  if split and split ~= "" then vim.cmd(split .. " split") end
end

-- Opens a view, `require(module)[name](argument, client)`, on a client of
-- its own made from the settings; returns what that returns (the buffer),
-- or nil and why there is no client.
local function open_view(module, name, argument, opts)
  local client, err = client_or_report()
  if not client then return nil, err end
  define_highlights()
  make_room(opts and opts.split)
  return require(module)[name](argument, client)
end

--- Sets the plugin's options (see docs/neovim.md): token, token_file,
--- base_url, interval, max_interval, page_size, column_width, timeout,
--- late_after, open_url. Unknown options and wrong types raise.
---@param opts? extruct.nvim.Options
---@return true
function M.setup(opts)
  config.setup(opts, 2)
  define_highlights()
  M.create_command()
  return true
end

--- Opens a live view of table `id` in the current window (opts.split: a
--- modifier such as "vertical" or "tab" opens it in a new one); returns
--- its buffer number, or nil and an error (also told through vim.notify).
---@param id string A table id
---@param opts? { split?: string }
---@return integer? buf
---@return extruct.Error? err
function M.open(id, opts)
  id = check_text(id, "a table id", "open")
  if opts ~= nil and type(opts) ~= "table" then
    error("extruct.nvim.open: options must be a table, got " .. type(opts), 2)
  end
  known_tables[id] = known_tables[id] or id
  return open_view("extruct.nvim.table_view", "open", id, opts)
end

--- Stops the refreshes of the view in buffer `buf` (default: the current
--- one); when that is not a view, of every view. Returns how many stopped.
---@param buf? integer
---@return integer stopped
function M.stop(buf)
  local buffer = require("extruct.nvim.buffer")
  local view = buffer.view(buf)
  local stopped = 0
  local views = view and { view } or buffer.views
  for _, v in pairs(views) do
    if v.refresher then
      v.refresher:stop()
      stopped = stopped + 1
    end
  end
  return stopped
end

--- Lists the tables with vim.ui.select (a picker that replaces it takes
--- over) and opens the one chosen. Returns true; the list comes later.
---@param opts? { split?: string }
---@return true?
function M.tables(opts)
  local client = client_or_report()
  if not client then return nil end
  require("extruct.nvim.buffer").async(function()
    local found = {}
    for t, err in client:iter_tables{ limit = 100 } do
      if not t then return nil, err end
      found[#found + 1] = t
      if #found >= 1000 then break end
    end
    return found
  end, function(ok, found, err)
    client:close()
    if not ok or not found then return notify(ok and tostring(err) or without_location(found)) end
    listed_at = os.time()
    for _, t in ipairs(found) do known_tables[t.id] = t.name end
    if #found == 0 then return notify("extruct: no tables", vim.log.levels.INFO) end
    local text = require("extruct.nvim.text")
    vim.ui.select(found, {
      prompt = "Extruct table:",
      kind = "extruct_table",
      format_item = function(t)
        local rows = type(t.status) == "table" and t.status.num_rows
        return ("%s  (%s · %s%s)"):format(text.inline(t.name), text.inline(t.kind), t.id,
          type(rows) == "number" and (" · %d rows"):format(rows) or "")
      end,
    }, function(choice)
      if choice then M.open(choice.id, opts) end
    end)
  end)
  return true
end

--- extruct://search/{query}: the companies that match the words.
---@param query string
---@param opts? { split?: string }
---@return integer? buf
---@return extruct.Error? err
function M.search(query, opts)
  query = check_text(query, "a query", "search")
  return open_view("extruct.nvim.companies_view", "search", query, opts)
end

--- extruct://similar/{domain}: companies like the one at domain.
---@param domain string
---@param opts? { split?: string }
---@return integer? buf
---@return extruct.Error? err
function M.similar(domain, opts)
  domain = check_text(domain, "a domain", "similar")
  return open_view("extruct.nvim.companies_view", "similar", domain, opts)
end

-- Creates a task (create(client) inside a coroutine), then opens its view
-- with open(id, client).
local function start_task(what, create, open, opts)
  local client, err = client_or_report()
  if not client then return nil, err end
  define_highlights()
  notify(("extruct: starting a %s…"):format(what), vim.log.levels.INFO)
  require("extruct.nvim.buffer").async(function() return create(client) end, function(ok, task, failure)
    if not ok or not task then
      client:close()
      return notify(ok and tostring(failure) or without_location(task))
    end
    make_room(opts and opts.split)
    open(task.id, client)
  end)
  return true
end

--- Starts a Deep Research task on `brief` and opens extruct://research/{id}
--- once it is created. Returns true (the buffer comes later).
---@param brief string
---@param opts? { split?: string }
---@return true?
---@return extruct.Error? err
function M.research(brief, opts)
  brief = check_text(brief, "a brief", "research")
  return start_task("Deep Research", function(client) return client:create_deep_research{ brief = brief } end,
    function(id, client) require("extruct.nvim.task_view").open_research(id, client) end, opts)
end

--- Starts a Deep Search for `query` and opens extruct://deep-search/{id}.
---@param query string
---@param opts? { split?: string }
---@return true?
---@return extruct.Error? err
function M.deep_search(query, opts)
  query = check_text(query, "a query", "deep_search")
  return start_task("Deep Search", function(client) return client:create_deep_search{ query = query } end,
    function(id, client) require("extruct.nvim.task_view").open_deep_search(id, client) end, opts)
end

--- Opens extruct://research/{id} for a Deep Research task that exists.
---@param id string
---@param opts? { split?: string }
---@return integer? buf
---@return extruct.Error? err
function M.open_research(id, opts)
  id = check_text(id, "a task id", "open_research")
  return open_view("extruct.nvim.task_view", "open_research", id, opts)
end

--- Opens extruct://deep-search/{id} for a Deep Search that exists.
---@param id string
---@param opts? { split?: string }
---@return integer? buf
---@return extruct.Error? err
function M.open_deep_search(id, opts)
  id = check_text(id, "a task id", "open_deep_search")
  return open_view("extruct.nvim.task_view", "open_deep_search", id, opts)
end

-- Fills the table ids for completion in the background, at most every 30 s.
local function learn_tables()
  if listed_at and os.time() - listed_at < 30 then return end
  listed_at = os.time()
  local ok, extruct = pcall(require, "extruct")
  if not ok then return end
  local client = config.client(extruct)
  if not client then return end
  require("extruct.nvim.buffer").async(function()
    return client:list_tables{ limit = 100, view = "minimal" }
  end, function(fine, tables)
    client:close()
    if fine and type(tables) == "table" then
      for _, t in ipairs(tables) do
        if type(t) == "table" and type(t.id) == "string" then known_tables[t.id] = t.name or t.id end
      end
    end
  end)
end

--- Completion of :Extruct: its subcommands, then table ids after `open`
--- (those seen so far; the first completion also starts listing them).
---@param arglead string
---@param cmdline string
---@param cursorpos? integer
---@return string[] matches
function M.complete(arglead, cmdline, cursorpos)
  local before = cmdline:sub(1, cursorpos or #cmdline)
  local words = {}
  for word in before:gmatch("%S+") do words[#words + 1] = word end
  if before:match("%s$") then words[#words + 1] = "" end
  local matches = {}
  if #words <= 2 then
    for _, name in ipairs(SUBCOMMANDS) do
      if name:sub(1, #arglead) == arglead then matches[#matches + 1] = name end
    end
  elseif #words == 3 and words[2] == "open" then
    learn_tables()
    for id in pairs(known_tables) do
      if id:sub(1, #arglead) == arglead then matches[#matches + 1] = id end
    end
    table.sort(matches)
  end
  return matches
end

--- Runs `:Extruct {args}` (args: the command's argument table).
function M.command(args)
  local line = args.args or ""
  local sub, rest = line:match("^%s*(%S*)%s*(.-)%s*$")
  local opts = { split = args.mods ~= "" and args.mods or nil }
  local handlers = {
    open = function()
      if rest == "" then return M.tables(opts) end
      return M.open(rest, opts)
    end,
    tables = function() return M.tables(opts) end,
    stop = function()
      local n = M.stop()
      notify(("extruct: %d view%s stopped"):format(n, n == 1 and "" or "s"), vim.log.levels.INFO)
    end,
    search = function() return M.search(rest, opts) end,
    similar = function() return M.similar(rest, opts) end,
    research = function() return M.research(rest, opts) end,
    ["deep-search"] = function() return M.deep_search(rest, opts) end,
  }
  local handler = handlers[sub]
  if not handler then
    if sub ~= "" then notify(("extruct: unknown subcommand '%s'"):format(sub)) end
    return notify(USAGE, sub == "" and vim.log.levels.INFO or vim.log.levels.ERROR)
  end
  local ok, err = pcall(handler)
  if not ok then notify("extruct: " .. without_location(err):gsub("^extruct%.nvim%.[%w_]+: ", "")) end
end

--- Defines :Extruct (plugin/extruct.lua does it at start; setup too).
function M.create_command()
  api.nvim_create_user_command("Extruct", M.command, {
    nargs = "*",
    complete = M.complete,
    desc = "Extruct: tables, companies, Deep Search and Deep Research",
  })
  local group = api.nvim_create_augroup("extruct_highlights", { clear = true })
  api.nvim_create_autocmd("ColorScheme", { group = group, callback = define_highlights })
  return true
end

M.USAGE = USAGE
M.SUBCOMMANDS = SUBCOMMANDS

return M
