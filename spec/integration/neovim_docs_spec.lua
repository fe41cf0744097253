-- docs/hosts.md's Neovim examples run as written in a real headless Neovim
-- against the mock: every Lua block of its Neovim section is loaded, in
-- order, into one editor, then their commands are used as a reader would:
-- :ExtructRun starts a run and notifies when it is done, :ExtructWait is
-- stopped by :ExtructCancel with a `cancelled` error, and :ExtructRows
-- fills a buffer with a table's rows, one line each.
local helpers = require("spec.helpers")
local markdown = require("spec.support.markdown")
local neovim = require("spec.support.neovim")

local PAGE = "docs/hosts.md"

-- The Lua blocks between "## Neovim" and the next section of the page.
local function neovim_blocks()
  local text = helpers.read_file(PAGE)
  local first = select(2, text:find("\n## Neovim\n", 1, true))
  local last = text:find("\n## ", first, true)
  local lines_before = function(at) return select(2, text:sub(1, at):gsub("\n", "")) end
  local found = {}
  for _, block in ipairs(markdown.blocks_of(PAGE, "lua")) do
    if block.line > lines_before(first) and block.line < lines_before(last) then found[#found + 1] = block.text end
  end
  return found
end

-- What Neovim runs: the blocks (ARG: their file), then the three commands.
local SCRIPT = [=[
local result = { notes = {} }
local ok, problem = pcall(function()
  use_checkout()
  vim.notify = function(message, level) table.insert(result.notes, { message = message, level = level }) end
  for _, chunk in ipairs(dofile(ARG)) do assert(loadstring(chunk, "=hosts.md"))() end
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
    local blocks = neovim_blocks()
    assert.equal(3, #blocks)
    local parts = {}
    for i, block in ipairs(blocks) do parts[i] = ("%q"):format(block) end
    helpers.write_file(work .. "/blocks.lua", "return { " .. table.concat(parts, ", ") .. " }\n")
    mock:add_table{ id = "tbl_run", polls = 2 }
    mock:add_table{ id = "tbl_forever", polls = 100000 }
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
  end)
end)
