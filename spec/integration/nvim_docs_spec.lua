-- docs/neovim.md runs: its code blocks are run as written, in order, in one
-- headless Neovim against the mock (```lua blocks as Lua, ```vim blocks one
-- Ex command a line), HOME a scratch folder where ~/src/extruct is this
-- checkout and ~/.config/extruct/token holds the mock's token. Its screens
-- (```text blocks after <!-- screen: NAME -->) are what that Neovim drew,
-- at 80 columns: the spec fails when they differ, and rewrites them when
-- run with EXTRUCT_UPDATE_DOCS=1.
local helpers = require("spec.helpers")
local cjson = require("cjson")
local neovim = require("spec.support.neovim")
local q = helpers.shell_quote

local DOC = "docs/neovim.md"

-- The fenced blocks of a Markdown text: { lang, code, screen (the name of
-- a <!-- screen: NAME --> line just before), first, last (byte offsets of
-- the code) }.
local function blocks(text)
  local found = {}
  local at = 1
  while true do
    local s, e, lang = text:find("\n```(%w*)\n", at)
    if not s then break end
    local before = text:sub(1, s):match("<!%-%- screen: ([%w_]+) %-%->%s*$")
    local close_s, close_e = text:find("\n```\n", e, true)
    assert(close_s, "an unclosed code block in " .. DOC)
    local code = text:sub(e + 1, close_s)
    if code == "\n" then code = "" end
    found[#found + 1] = { lang = lang, code = code, screen = before, first = e + 1, last = close_s }
    at = close_e
  end
  return found
end

local SCRIPT = neovim.TICKER .. neovim.PLUGIN .. [=[
local f = assert(io.open(ARG, "rb"))
local blocks = vim.fn.json_decode(f:read("*a"))
f:close()
vim.o.loadplugins = true -- as an init.lua would: plugin/ is sourced after it
result.ran, result.screens, result.buffers = {}, {}, {}

-- The window as it shows: each line cut at the window's width.
local function window_screen(buf, first, last)
  local width = vim.api.nvim_win_get_width(0)
  local out = {}
  for _, line in ipairs(vim.api.nvim_buf_get_lines(buf, first - 1, last, false)) do
    local kept, used = {}, 0
    for char in line:gmatch("[%z\1-\127\194-\244][\128-\191]*") do
      local w = vim.fn.strdisplaywidth(char)
      if used + w > width then break end
      kept[#kept + 1] = char
      used = used + w
    end
    out[#out + 1] = (table.concat(kept):gsub("%s+$", ""))
  end
  return table.concat(out, "\n")
end

-- A floating window as it shows: its lines in its rounded border.
local function float_screen(win)
  local width = vim.api.nvim_win_get_width(win)
  local out = { "╭" .. ("─"):rep(width) .. "╮" }
  for _, line in ipairs(vim.api.nvim_buf_get_lines(vim.api.nvim_win_get_buf(win), 0, -1, false)) do
    assert(vim.fn.strdisplaywidth(line) <= width, "a line of the float wraps: " .. line)
    out[#out + 1] = "│" .. line .. (" "):rep(width - vim.fn.strdisplaywidth(line)) .. "│"
  end
  out[#out + 1] = "╰" .. ("─"):rep(width) .. "╯"
  return table.concat(out, "\n")
end

local function run_lua(i, code)
  local chunk = assert(loadstring(code, "=docs/neovim.md block " .. i))
  chunk()
end

local function name() return vim.api.nvim_buf_get_name(0) end

-- After each Ex command of a ```vim block: wait for what it opens.
local function after_command(command, before)
  local sub = command:match("^:Extruct (%S+)")
  if sub == "stop" then return end
  wait_for(function() return name() ~= before and name():find("^extruct://") end, 5000, "a view after " .. command)
  result.buffers[#result.buffers + 1] = name()
  local buf = vim.api.nvim_get_current_buf()
  if sub == "open" then
    local function screen()
      return (window_screen(buf, 1, #lines(buf)):gsub("refreshed %d%d:%d%d:%d%d", "refreshed 09:30:12"))
    end
    wait_for(function() return (lines(buf)[2] or ""):find("^running") end, 10000, "the first refresh")
    result.screens.running = screen()
    wait_for(function() return (lines(buf)[2] or ""):find("^idle") end, 10000, "idle")
    result.screens.table = screen()
    -- <CR> on row 1's Summary
    local title = lines(buf)[5]
    vim.api.nvim_win_set_cursor(0, { 7, 0 })
    vim.cmd("normal! " .. (vim.fn.strdisplaywidth(title:sub(1, title:find("Summary", 1, true) - 1)) + 1) .. "|")
    vim.api.nvim_feedkeys(vim.api.nvim_replace_termcodes("<CR>", true, false, true), "x", false)
    result.screens.cell = float_screen(vim.api.nvim_get_current_win())
    vim.api.nvim_feedkeys("q", "x", false)
  elseif sub == "search" or sub == "similar" then
    wait_for(function() return (lines(buf)[2] or ""):find("shows a profile", 1, true) end, 5000, "companies")
  end
end

-- :Extruct tables hands its list to vim.ui.select, as a picker would take it
vim.ui.select = function(items, opts, on_choice)
  for _, item in ipairs(items) do
    if item.id == "tbl_idle" then return on_choice(item) end
  end
  on_choice(nil)
end

-- The first block is the init.lua of the install: it runs now, before
-- plugins load; the rest once Neovim has started.
local ok, why = pcall(run_lua, 1, blocks[1].code)
result.ran[1] = ok or tostring(why)
vim.api.nvim_create_autocmd("VimEnter", { once = true, callback = function()
  result.command_defined = vim.fn.exists(":Extruct") == 2
  scenario(function()
    -- (loading the module, the C core and the plugin's files is a stall of
    -- its own, once: neovim.PLUGIN)
    require("extruct").new():close()
    for _, module in ipairs({ "table_view", "companies_view", "task_view", "health" }) do
      require("extruct.nvim." .. module)
    end
    begin("docs")
    for i = 2, #blocks do
      local block = blocks[i]
      if block.lang == "lua" then
        run_lua(i, block.code)
      elseif block.lang == "vim" then
        for command in block.code:gmatch("[^\n]+") do
          local before = name()
          vim.cmd((command:gsub("^:", "")))
          after_command(command, before)
        end
      end
      result.ran[i] = true
    end
    result.windows = #vim.api.nvim_tabpage_list_wins(0)
    result.failed_group = vim.api.nvim_get_hl_by_name("ExtructCellFailed", true)
    result.settings = require("extruct.nvim.config").settings
    result.token_source = require("extruct.nvim.config").token_source()
    begin(nil)
  end)
end })
]=]

describe("docs/neovim.md", function()
  local fixture = helpers.shared_mock()
  local work

  lazy_setup(function()
    helpers.build_luajit()
    work = helpers.scratch_dir()
  end)
  lazy_teardown(function() helpers.remove_dir(work) end)

  it("runs every code block as written, and shows the screens Neovim draws", function()
    local text = helpers.read_file(DOC)
    local list = blocks(text)
    local code = {}
    for _, block in ipairs(list) do
      if block.lang == "lua" or block.lang == "vim" then code[#code + 1] = block end
    end
    -- every block is code that runs here, or a screen this spec draws
    for _, block in ipairs(list) do
      assert.truthy(block.lang == "lua" or block.lang == "vim" or (block.lang == "text" and block.screen),
        "a block this spec does not run or draw: ```" .. block.lang .. "\n" .. block.code)
    end
    assert.equal("lua", code[1].lang)
    assert.matches("runtimepath", code[1].code)

    local home = work .. "/home"
    assert(os.execute(("mkdir -p %s/src %s/.config/extruct && ln -sfn %s %s/src/extruct"):format(q(home), q(home),
      q(helpers.run("pwd"):gsub("%s+$", "")), q(home))))
    helpers.write_file(home .. "/.config/extruct/token", fixture.mock.token .. "\n")
    local blocks_file = work .. "/blocks.json"
    helpers.write_file(blocks_file, cjson.encode(code))

    local result, out, status = neovim.run(work, fixture.mock, SCRIPT, blocks_file, "HOME=" .. q(home))
    if result.stalls and result.stalls.docs and result.stalls.docs >= 50 then
      -- once more, to tell a pause of the virtual machine from the editor's
      -- (as nvim_plugin_spec does)
      fixture.mock:reset()
      result, out, status = neovim.run(work, fixture.mock, SCRIPT, blocks_file, "HOME=" .. q(home))
    end
    local report = out .. "\n" .. cjson.encode(result)
    assert.equal(0, status, report)
    assert.is_nil(result.error, report)
    for i = 1, #code do assert.equal(true, result.ran[i], report) end
    assert.is_true(result.command_defined, report)
    assert.equal(2, result.settings.interval)
    assert.equal("token_file " .. home .. "/.config/extruct/token", result.token_source)
    assert.same({ "extruct://table/tbl_demo", "extruct://table/tbl_idle",
      "extruct://search/treasury automation for mid-size banks", "extruct://similar/acme.example" },
      { (table.unpack or unpack)(result.buffers, 1, 4) })
    assert.matches("^extruct://research/dr_%d+$", result.buffers[5])
    assert.matches("^extruct://deep%-search/ds_%d+$", result.buffers[6])
    assert.equal(2, result.windows) -- the vertical split of the last block
    assert.equal(0xff5f5f, result.failed_group.foreground)
    assert.is_true(result.failed_group.bold)
    local said = {}
    for _, note in ipairs(result.notes) do
      assert.is_true(note.level == nil or note.level < 4, "an error was told: " .. note.message)
      said[#said + 1] = note.message
    end
    assert.matches("\nthe view is buffer %d+", "\n" .. table.concat(said, "\n"))
    assert.is_true(result.stalls.docs < 50, ("the editor froze for %.0f ms (a tick gap of %.0f ms)")
      :format(result.stalls.docs, result.gaps.docs))

    -- the screens
    local updated, stale = text, {}
    for i = #list, 1, -1 do
      local block = list[i]
      if block.screen then
        local drawn = result.screens[block.screen]
        assert.is_string(drawn, "no screen named " .. block.screen)
        drawn = drawn .. "\n"
        if block.code ~= drawn then
          stale[#stale + 1] = block.screen
          updated = updated:sub(1, block.first - 1) .. drawn .. updated:sub(block.last + 1)
        end
      end
    end
    if #stale > 0 and os.getenv("EXTRUCT_UPDATE_DOCS") == "1" then
      helpers.write_file(DOC, updated)
      stale = {}
    end
    assert.same({}, stale, DOC .. " shows old screens: run this spec with EXTRUCT_UPDATE_DOCS=1")
  end)
end)
