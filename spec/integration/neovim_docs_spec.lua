-- docs/hosts.md's Neovim examples run as written in a real headless Neovim
-- against the mock: every Lua block of its Neovim section is loaded, in
-- order, into one editor, then their commands are used as a reader would:
-- :ExtructRun starts a run and notifies when it is done, :ExtructWait is
-- stopped by :ExtructCancel with a `cancelled` error, and :ExtructRows
-- fills a buffer with a table's rows, one line each. docs/api.md's Neovim
-- example of extruct.async runs there too (with the `extruct` and `client`
-- its section speaks of) and notifies that its table is done.
local helpers = require("spec.helpers")
local markdown = require("spec.support.markdown")
local neovim = require("spec.support.neovim")

local PAGE = "docs/hosts.md"
local API = "docs/api.md"
local SPEC = "integration/neovim_docs_spec"

-- What Neovim runs: the blocks (ARG: their file), then the three commands,
-- then api.md's block with the names its section gives.
local SCRIPT = [=[
local result = { notes = {} }
local ok, problem = pcall(function()
  use_checkout()
  vim.notify = function(message, level) table.insert(result.notes, { message = message, level = level }) end
  local blocks = dofile(ARG)
  for _, chunk in ipairs(blocks.hosts) do assert(loadstring(chunk, "=hosts.md"))() end
  local function noted(pattern)
    return vim.wait(20000, function()
      for _, note in ipairs(result.notes) do
        if note.message:find(pattern) then return true end
      end
      return false
    end, 20)
  end
  local clock = vim.loop.hrtime

  vim.cmd("ExtructRun tbl_run")
  result.run_done = noted("is done$")

  local started = clock()
  vim.cmd("ExtructWait tbl_forever")
  vim.defer_fn(function() vim.cmd("ExtructCancel") end, 1500)
  result.cancelled = noted("^extruct: cancelled: ")
  result.cancel_seconds = (clock() - started) / 1e9

  vim.cmd("ExtructRows tbl_idle")
  result.buffer_name = vim.api.nvim_buf_get_name(0)
  vim.wait(20000, function() return #vim.api.nvim_buf_get_lines(0, 0, -1, false) >= 4 end, 20)
  vim.wait(200)
  result.lines = vim.api.nvim_buf_get_lines(0, 0, -1, false)

  -- docs/api.md: `extruct` the module, `client` a client
  local env = setmetatable({ extruct = require("extruct"), client = require("extruct").new() }, { __index = _G })
  local chunk = assert(loadstring(blocks.api, "=api.md"))
  setfenv(chunk, env)()
  result.api_done = noted("^done: ")
end)
if not ok then result.error = tostring(problem) end
write_result(result)
]=]

describe(PAGE .. "'s Neovim examples", function()
  local mock, work
  lazy_setup(function()
    helpers.build_luajit()
    mock = helpers.start_mock()
    work = helpers.scratch_dir()
  end)
  lazy_teardown(function()
    if mock then mock:stop() end
    if work then os.execute("rm -rf " .. helpers.shell_quote(work)) end
  end)

  it("run in a headless Neovim: a run waited for, a wait cancelled, a buffer filled with rows", function()
    local blocks = markdown.claimed(PAGE, SPEC)
    assert.equal(3, #blocks)
    local api = markdown.claimed(API, SPEC)
    assert.equal(1, #api)
    local parts = {}
    for i, block in ipairs(blocks) do parts[i] = ("%q"):format(block.text) end
    helpers.write_file(work .. "/blocks.lua", ("return { hosts = { %s }, api = %q }\n"):format(table.concat(parts, ", "),
      api[1].text))
    mock:add_table{ id = "tbl_run", polls = 2 }
    mock:add_table{ id = "tbl_forever", polls = 100000 }
    -- tbl_demo idle before api.md's wait (interval 5) polls it: no sleep
    mock:control("POST", "/_mock/advance", { id = "tbl_demo", polls = 3 })
    local result, out = neovim.run(work, mock, SCRIPT, work .. "/blocks.lua")
    assert.is_nil(result.error, out)
    assert.is_true(result.run_done, out)
    assert.is_true(result.cancelled, out)
    local cancel_note
    for _, note in ipairs(result.notes) do
      if note.message:find("^extruct: cancelled: ") then cancel_note = note end
    end
    assert.equal("extruct: cancelled: waiting for table 'tbl_forever' was cancelled by on_progress", cancel_note.message)
    -- cancelled 1.5 s in, at the next poll (interval 1)
    assert.is_true(result.cancel_seconds >= 1.5 and result.cancel_seconds < 6, tostring(result.cancel_seconds))
    assert.matches("extruct://tbl_idle$", result.buffer_name)
    assert.equal(4, #result.lines, table.concat(result.lines, "\n"))
    assert.matches("^input | summary | enterprise_fit | ", result.lines[1])
    assert.matches("^https://acme%.example | {", result.lines[2])
    for _, line in ipairs(result.lines) do assert.is_nil(line:find("\n", 1, true)) end
    assert.is_true(result.api_done, out)
    local done
    for _, note in ipairs(result.notes) do
      if note.message:find("^done: ") then done = note.message end
    end
    assert.equal("done: Démo — B2B companies", done)
  end)
end)
