-- The table view as a person sees it: a real terminal Neovim under tmux
-- (a tmux server of this spec's own), driven with send-keys and read back
-- with capture-pane, at 80 and at 200 columns: the header, the grid's
-- titles and rows cut at the window's edge, idle at the end, and a
-- floating window on <CR>.
local helpers = require("spec.helpers")
local q = helpers.shell_quote

local root = helpers.run("pwd"):gsub("%s+$", "")

-- `tmux` on the spec's own server socket; returns its output, status.
local function tmux(socket, args)
  return helpers.run(("tmux -S %s -f /dev/null %s 2>&1"):format(q(socket), args))
end

-- The screen of the session's pane, one string per line.
local function screen(socket)
  local out = tmux(socket, "capture-pane -p -t extruct")
  local lines = {}
  for line in (out .. "\n"):gmatch("(.-)\n") do lines[#lines + 1] = line end
  return lines
end

-- Reads the screen until want(lines) is true (at most `seconds`).
local function await(socket, seconds, want, what)
  local lines
  local found = helpers.eventually(seconds, function()
    lines = screen(socket)
    return want(lines)
  end)
  assert(found, ("the screen never showed %s:\n%s"):format(what, table.concat(lines or {}, "\n")))
  return lines
end

local function find_line(lines, text)
  for i, line in ipairs(lines) do
    if line:find(text, 1, true) then return i, line end
  end
  return nil
end

describe("the table view in a terminal (tmux)", function()
  local fixture = helpers.shared_mock()
  local work

  lazy_setup(function()
    helpers.build_luajit()
    work = helpers.scratch_dir()
  end)
  lazy_teardown(function() helpers.remove_dir(work) end)

  for _, columns in ipairs({ 80, 200 }) do
    it(("shows the grid at %d columns, follows the run to idle and opens a cell on <CR>"):format(columns), function()
      local id = "tbl_tmux" .. columns
      fixture.mock:add_table{ id = id, polls = 6, rows = 8 }
      local socket = work .. "/tmux-" .. columns
      local init = work .. "/init-" .. columns .. ".lua"
      helpers.write_file(init, ([[
package.cpath = %q .. "/build/luajit/?.so;" .. package.cpath
vim.opt.runtimepath:prepend(%q)
]]):format(root, root))
      local command = ("cd %s && env -u LUA_PATH -u LUA_CPATH -u LUA_PATH_5_1 -u LUA_CPATH_5_1"
        .. " XDG_STATE_HOME=%s XDG_DATA_HOME=%s EXTRUCT_API_TOKEN=%s EXTRUCT_API_URL=%s"
        .. " nvim -u NONE -i NONE -n --cmd %s --cmd 'set loadplugins'"
        .. " -c %s -c %s"):format(q(work), q(work), q(work), q(fixture.mock.token), q(fixture.mock.url),
        q("luafile " .. init), q("lua require('extruct.nvim').setup{ interval = 0.1, max_interval = 0.2 }"),
        q("Extruct open " .. id))
      local out, status = tmux(socket, ("new-session -d -s extruct -x %d -y 30 %s"):format(columns, q(command)))
      assert.equal(0, status, out)
      local ok, err = pcall(function()
        -- the header and the titles come first, the run goes on, then idle
        local lines = await(socket, 10, function(l)
          return find_line(l, "Company website") ~= nil
        end, "the grid's titles")
        local header = lines[1]
        assert.matches("^Mock table " .. id .. "  ·  company table " .. id, header)
        lines = await(socket, 10, function(l) return (l[2] or ""):find("^idle ") ~= nil end, "idle")
        io.stdout:write(("\n    the screen at %d columns:\n%s\n"):format(columns, table.concat(lines, "\n")))
        assert.matches("^idle " .. ("█"):rep(20) .. " 100%%  80 of 80 done · 0 in progress · 0 failed$", lines[2])
        assert.matches("^8 of 8 rows · refreshed %d%d:%d%d:%d%d · idle: refreshes stopped", lines[3])
        -- every line fits the terminal: the grid is cut at the window's edge, not wrapped
        for _, line in ipairs(lines) do
          local characters = select(2, line:gsub("[^\128-\191]", ""))
          assert.truthy(characters <= columns, line)
        end
        local titles = lines[5]
        assert.matches("^# │ Company website +│ Summary +│ ", titles)
        local client = helpers.client(fixture.mock)
        local data = assert(client:get_table_data(id))
        client:close()
        local extruct = require("extruct")
        for i, row in ipairs(data.rows) do
          local line = lines[6 + i]
          assert.matches("^" .. i .. " │ " .. extruct.cell(row, "input"):gsub("%p", "%%%0") .. " +│ summary of ", line)
          if columns == 200 then
            -- wide enough for the columns up to the company's name
            assert.truthy(line:find("│ " .. extruct.cell(row, "company_name") .. " ", 1, true), line)
          end
        end
        if columns == 200 then
          assert.truthy(titles:find("│ Company name", 1, true), titles)
        else
          assert.is_nil(titles:find("Company name", 1, true), titles)
        end

        -- <CR> on row 2's Summary cell: a floating window with the whole answer
        tmux(socket, "send-keys -t extruct 8G 35'|' Enter")
        lines = await(socket, 5, function(l) return find_line(l, "Summary · row 2") ~= nil end, "the float")
        io.stdout:write(("\n    <CR> at %d columns:\n%s\n"):format(columns, table.concat(lines, "\n")))
        -- the whole window, its borders included, inside the terminal
        local top = find_line(lines, "╭")
        assert.truthy(top and lines[top]:find("╮", 1, true), lines[top or 1])
        assert.truthy(find_line(lines, "╰"), "no bottom border")
        local summary = extruct.cell(data.rows[2], "summary").summary
        assert.truthy(find_line(lines, "summary: " .. summary), summary)
        assert.truthy(find_line(lines, "[1] https://"))
        tmux(socket, "send-keys -t extruct q")
        await(socket, 5, function(l) return find_line(l, "Summary · row 2") == nil end, "the float closed")
        -- q closes the view; the editor stays
        tmux(socket, "send-keys -t extruct q")
        await(socket, 5, function(l) return find_line(l, "Company website") == nil end, "the view closed")
      end)
      tmux(socket, "kill-server")
      assert(ok, err)
    end)
  end
end)
