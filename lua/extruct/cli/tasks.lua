--- extruct.cli.tasks: what the `deep-search` and `deep-research` commands
--- share: the listing of tasks (a text table or JSON lines), and the id
--- of a task just started.

local args = require("extruct.cli.args")
local errors = require("extruct.errors")
local output = require("extruct.cli.output")
local paging = require("extruct.cli.paging")

local M = {}

-- Tasks a request when listing: the most the API allows.
local LIST_PAGE_SIZE = 100

--- The options of a listing.
M.LIST_OPTIONS = {
  args.option{ name = "--limit", value = "N", type = args.COUNT, help = "at most N tasks in all (default: every one)" },
  args.option{ name = "--json", help = "one JSON object per line instead of the text table" },
  output.PRETTY_LINES, output.COMPACT_LINES,
}

M.json_style_needs_json = output.json_style_needs("--json", function(opts) return opts.json end)

--- Text for one cell of a listing: on one line, at most `most` characters
--- (cut with "...").
function M.cut(value, most)
  local text = output.field_text(value)
  if output.text_width(text) <= most then return text end
  -- (cut between characters, not inside one)
  local kept, width = {}, 0
  for char in text:gmatch("[\1-\127\194-\244][\128-\191]*") do
    if width == most - 3 then break end
    kept[#kept + 1], width = char, width + 1
  end
  return table.concat(kept) .. "..."
end

--- Lists every task: fetch(client, offset, limit) answers a page (a bare
--- array); `columns` = { { "HEADER", function(task) -> text }, ... }.
--- Prints an aligned text table, or with --json one task a line.
function M.list(ctx, opts, fetch, columns)
  local client = ctx:client()
  local page_size = math.min(opts.limit or LIST_PAGE_SIZE, LIST_PAGE_SIZE)
  local header = {}
  for i, column in ipairs(columns) do header[i] = column[1] end
  local lines, count = { header }, 0
  local each = paging.listing(function(offset, limit) return fetch(client, offset, limit) end, page_size)
  for task, err in each do
    if task == false then
      ctx:flush()
      return nil, err
    end
    if opts.json then
      local ok, why = ctx:json_line(task)
      if not ok then return nil, why end
    else
      task = type(task) == "table" and task or {}
      local line = {}
      for i, column in ipairs(columns) do line[i] = column[2](task) end
      lines[#lines + 1] = line
    end
    count = count + 1
    if count == opts.limit then break end
  end
  if not opts.json then
    local ok, err = ctx:write(output.aligned(lines))
    if not ok then return nil, err end
  end
  return ctx:flush()
end

--- The id of a task the API answered for a start, or nil and a `decode`
--- error.
function M.id_of(task, what)
  if type(task) ~= "table" or type(task.id) ~= "string" or task.id == "" then
    return nil, errors.new("decode", ("the API started %s but sent no id for it"):format(what))
  end
  return task.id
end

return M
