--- extruct.cli.paging: the commands that print the items of paged answers
--- as JSON lines (`companies search`, `deep-search results`): one page
--- (--offset, --limit) or, with --all, page after page; and listings,
--- which page through everything and print a text table or JSON lines.

local args = require("extruct.cli.args")
local errors = require("extruct.errors")
local output = require("extruct.cli.output")

local M = {}

--- The API's largest page of companies and of Deep Search results.
M.MAX_PAGE = 250
-- Items a request with --all, unless --page-size or --limit says less.
local DEFAULT_PAGE = 50

--- The options of a command that prints `noun` (plural) page by page.
function M.options(noun)
  return {
    args.option{ name = "--limit", value = "N", type = args.COUNT,
                 help = ("at most N %s: one request of N (up to %d; without --limit the API's page size), or with"
                   .. " --all the most in all (default: no limit)"):format(noun, M.MAX_PAGE) },
    args.option{ name = "--offset", value = "N", type = args.OFFSET,
                 help = ("skip the first N %s (default 0)"):format(noun) },
    args.option{ name = "--all", help = ("all the %s from --offset on, page after page until they run out"):format(noun) },
    args.option{ name = "--page-size", value = "N", type = args.whole(1, M.MAX_PAGE),
                 help = ("with --all: %s a request, 1..%d (default %d, or N of --limit when that is"
                   .. " smaller)"):format(noun, M.MAX_PAGE, DEFAULT_PAGE) },
    output.PRETTY_LINES, output.COMPACT_LINES,
  }
end

--- The check of those options: --page-size needs --all, and one request
--- takes at most MAX_PAGE.
function M.check(opts, fail)
  if opts.page_size and not opts.all then fail("option --page-size needs --all") end
  if opts.limit and opts.limit > M.MAX_PAGE and not opts.all then
    fail(("--limit is at most %d for one request: add --all to page through more"):format(M.MAX_PAGE))
  end
end

--- The `results` list of a page, or nil and a `decode` error.
function M.results_of(page, what)
  local results = type(page) == "table" and page.results or nil
  if type(results) ~= "table" then
    return nil, errors.new("decode", ("the API's answer for %s has no results list"):format(what))
  end
  return results
end

--- Prints items as JSON lines. source = {
---   page(offset, limit): one page's items (a list), or nil and an error;
---   iterate(offset, page_size): an iterator of items (false, err on failure) }.
--- Without --all one page (--offset, --limit); with it every item from
--- --offset on, at most --limit. Returns true, or nil and an error.
function M.print(ctx, opts, source)
  if not opts.all then
    local items, err = source.page(opts.offset, opts.limit)
    if not items then return nil, err end
    for _, item in ipairs(items) do
      local ok, why = ctx:json_line(item)
      if not ok then return nil, why end
    end
    return ctx:flush()
  end
  local page_size = opts.page_size or math.min(opts.limit or DEFAULT_PAGE, DEFAULT_PAGE)
  local count = 0
  for item, err in source.iterate(opts.offset, page_size) do
    if item == false then
      ctx:flush()
      return nil, err
    end
    local ok, why = ctx:json_line(item)
    if not ok then return nil, why end
    count = count + 1
    if count == opts.limit then break end
    if count % page_size == 0 then
      ok, why = ctx:flush() -- a page at a time, for readers downstream
      if not ok then return nil, why end
    end
  end
  return ctx:flush()
end

--- Prints the items of `each` (an iterator as the client's: an item, or
--- false and an error), at most --limit of them: with --json one JSON
--- object a line as they come, else an aligned text table of `columns` =
--- { { "HEADER", function(item) -> text }, ... } with a header line.
--- Returns true, or nil and an error.
function M.print_listing(ctx, opts, each, columns)
  local header = {}
  for i, column in ipairs(columns) do header[i] = column[1] end
  local lines, count = { header }, 0
  for item, err in each do
    if item == false then
      ctx:flush()
      return nil, err
    end
    if opts.json then
      local ok, why = ctx:json_line(item)
      if not ok then return nil, why end
    else
      item = type(item) == "table" and item or {}
      local line = {}
      for i, column in ipairs(columns) do line[i] = column[2](item) end
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

--- An iterator over every item of a listing that pages by offset and
--- limit (a bare array a page), as the client's iterators are: each step
--- an item, or false and an error. fetch(offset, page_size) answers one
--- page.
function M.listing(fetch, page_size)
  -- (required here: it loads the C core, which the help pages do without)
  local endpoint = require("extruct.endpoint")
  return endpoint.pages(function(offset)
    local page, err = fetch(offset, page_size)
    if not page then return nil, err end
    return page, #page < page_size
  end, 0)
end

return M
