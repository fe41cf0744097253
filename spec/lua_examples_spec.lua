-- The Lua examples of docs/api.md and docs/answers.md run as written:
-- each block marked <!-- spec: lua_examples_spec --> is loaded from the
-- page's text as it is and run, in the page's order, in one child
-- interpreter, in a scratch folder, against a fresh mock with
-- EXTRUCT_API_URL and EXTRUCT_API_TOKEN set as the README tells a reader.
-- The names a page's prose gives a block (`client`, `id`, `ids`: "for the
-- rows of a table `id`") are set first; reading any other unknown global
-- fails the block. The mock runs with --polls 1, so a wait's first poll
-- finds its table or task done: no example sleeps for its poll interval.
local helpers = require("spec.helpers")
local markdown = require("spec.support.markdown")

local SPEC = "lua_examples_spec"

-- What the pages' prose calls `extruct`, `client`, `id` and `ids`.
local PRELUDE = [[
extruct = require("extruct")
client = extruct.new()
id = "tbl_idle"
ids = { "tbl_demo", "tbl_idle", "tbl_nope" }
]]

describe("the Lua examples of the documents", function()
  local mock, dir
  lazy_setup(function()
    mock = helpers.start_mock{ polls = 1 }
    dir = helpers.scratch_dir()
  end)
  lazy_teardown(function()
    if mock then mock:stop() end
    helpers.remove_dir(dir)
  end)

  -- Runs the page's blocks; returns a function from a piece of a block's
  -- text to what that block printed.
  local function run(path)
    local blocks = markdown.claimed(path, SPEC)
    for _, block in ipairs(blocks) do assert.equal("lua", block.lang, markdown.where(block)) end
    local results, out = markdown.run_lua(blocks, { dir = dir, prelude = PRELUDE,
      env = { EXTRUCT_API_URL = mock.url, EXTRUCT_API_TOKEN = mock.token } })
    markdown.assert_ran(blocks, results, out)
    return function(piece)
      for i, block in ipairs(blocks) do
        if block.text:find(piece, 1, true) then return results[i].out end
      end
      error("no block of " .. path .. " marked for " .. SPEC .. " holds " .. piece)
    end
  end

  it("of docs/api.md run, and print what the page says they do", function()
    local printed = run("docs/api.md")
    -- extruct.gather: each table's status, or its error, in the ids' order
    assert.matches("^%s*tbl_demo\t%a+\ntbl_idle\tidle\ntbl_nope\textruct: not_found: table 'tbl_nope' ",
      printed("extruct.gather(fns)"))
    -- the whole round: create, add rows, run, wait, read the answers, delete
    assert.matches("acme.com\tdone\tSummary of Acme %(acme.com%)\nglobex.com\tdone\tSummary of Globex %(globex.com%)\n",
      printed("local client = extruct.new()"))
    assert.matches("tbl_demo: 250/250 cells after 1 polls\n", printed("on_progress = function(t, info)"))
    -- wait_all's failure: the first one, and why each table did not end idle
    local waited = printed("client:wait_all(ids")
    assert.matches("first failure:\ttbl_nope\textruct: not_found: table 'tbl_nope'", waited)
    assert.matches("\ntbl_nope\tnot_found\n", waited)
    local shown, total = printed("list_tables{ limit = 10 }"):match("(%d+)\tof\t(%d+)\n")
    assert.truthy(shown and tonumber(shown) >= 2 and tonumber(total) >= tonumber(shown))
    assert.matches("^%s*row_0026\nrow_0027\nrow_0028\n", printed("iter_rows(id, { limit = 100 })"))
    -- the deep search: its progress, then its results
    local searched = printed("create_deep_search{")
    assert.matches("50 of 50 results\n", searched)
    assert.matches("\n[^\n\t]+\thttps://[%w.]+\t%d+\n", searched)
    assert.matches("# Research report: Acme\n", printed("create_deep_research{"))
    assert.equal("# Report\n\nAll done.\n", helpers.read_file(dir .. "/report.md"))
    -- the filters example prints nothing: the mock saw its search, filters and all
    local search
    for _, request in ipairs(mock:requests()) do
      if request.path == "/v1/companies/search" and (request.body or ""):find("kyriba.com", 1, true) then
        search = request
      end
    end
    assert.truthy(search, "the filters example sent no search")
    local sent = require("cjson").decode(search.body)
    assert.same({ "51-200", "201-500" }, sent.filters.include.size)
    assert.same({ min = 2015, max = 2024 }, sent.filters.range.founded)
  end)

  it("of docs/answers.md run: the first line of a script, last_response's paging, each task's own", function()
    local printed = run("docs/answers.md")
    assert.equal("", (printed("extruct.get_table(id)"):gsub("^%s+", "")))
    assert.matches("^%s*%d+\tof\t%d+\n", printed("client.last_response.page.total"))
    assert.matches("^%s*tbl_demo: found, HTTP 200\ntbl_nope: not_found, HTTP 404\n", printed("this task's call"))
  end)
end)
