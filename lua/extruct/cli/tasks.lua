--- extruct.cli.tasks: what the `deep-search` and `deep-research` commands
--- share: the listing of tasks (a text table or JSON lines), and the id
--- of a task just started.

local args = require("extruct.cli.args")
local errors = require("extruct.errors")
local output = require("extruct.cli.output")
local paging = require("extruct.cli.paging")
local records = require("extruct.cli.records")

local M = {}

-- Tasks a request when listing: the most the API allows.
local LIST_PAGE_SIZE = 100

--- The options of a listing.
M.LIST_OPTIONS = {
  args.option{ name = "--limit", value = "N", type = args.COUNT, help = "at most N tasks in all (default: every one)" },
  (table.unpack or unpack)(records.options()),
}

--- Text for one cell of a listing: on one line, at most `most` characters
--- (cut with "...").
function M.cut(value, most)
  return records.cut(output.field_text(value), most)
end

--- Lists every task with client[method] (list_deep_searches,
--- list_deep_research: a page by offset and limit) as records (see
--- extruct.cli.records) of the columns ID, STATUS, those of `own` (records'
--- columns), CREATED and `last` ({ "HEADER", field }: the field's text, cut
--- to 60 characters in the aligned table).
function M.list(ctx, opts, method, own, last)
  local client = ctx:client()
  local page_size = math.min(opts.limit or LIST_PAGE_SIZE, LIST_PAGE_SIZE)
  local each = paging.listing(function(offset, limit)
    return client[method](client, { offset = offset, limit = limit })
  end, page_size)
  local columns = { { "ID", "id" }, { "STATUS", "status" } }
  for _, column in ipairs(own) do columns[#columns + 1] = column end
  columns[#columns + 1] = { "CREATED", "created_at", text = function(task) return output.created_text(task.created_at) end }
  columns[#columns + 1] = { last[1], last[2] }
  return paging.print_listing(ctx, opts, each, columns)
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
