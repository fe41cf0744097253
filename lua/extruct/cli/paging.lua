--- extruct.cli.paging: the commands that print the items of paged answers
--- (`companies search`, `deep-search results`): one page (--offset,
--- --limit) or, with --all, page after page; and listings, which page
--- through everything. Both print records as extruct.cli.records does
--- (--format table, jsonl, json or csv).

local args = require("extruct.cli.args")
local errors = require("extruct.errors")
local records = require("extruct.cli.records")

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
    (table.unpack or unpack)(records.options()),
  }
end

--- The check of those options: --page-size needs --all, and one request
--- takes at most MAX_PAGE.
function M.check(opts, fail, spelled)
  records.check(opts, fail, spelled)
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

--- Prints items as records (`columns`: see extruct.cli.records). source = {
---   page(offset, limit): one page's items (a list), or nil and an error;
---   iterate(offset, page_size): an iterator of items (false, err on failure) }.
--- Without --all one page (--offset, --limit); with it every item from
--- --offset on, at most --limit. Returns true, or nil and an error.
function M.print(ctx, opts, source, columns)
  if not opts.all then
    local items, err = source.page(opts.offset, opts.limit)
    if not items then return nil, err end
    return records.print(ctx, records.each(items), columns)
  end
  local page_size = opts.page_size or math.min(opts.limit or DEFAULT_PAGE, DEFAULT_PAGE)
  return records.print(ctx, source.iterate(opts.offset, page_size), columns, opts.limit, page_size)
end

--- Prints the items of `each` (an iterator as the client's: an item, or
--- false and an error), at most --limit of them, as records of `columns`.
--- Returns true, or nil and an error.
function M.print_listing(ctx, opts, each, columns)
  return records.print(ctx, each, columns, opts.limit)
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
