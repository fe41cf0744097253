-- The progress bars of `extruct tables wait` on a real terminal: bin/extruct
-- runs on a pty of script(1) or in a tmux pane against the mock server, and
-- what the terminal showed is read back. (Moved here from cli_wait_spec:
-- each runs the program for a second or more, in real time.)
local helpers = require("spec.helpers")
local support = require("spec.support.cli")
local extruct = require("extruct")

local q = helpers.shell_quote

describe("extruct tables wait", function()
  local mock, client, work
  support.against_mock({ ".done" }, function(s) mock, client, work = s.mock, s.client, s.work end)

  describe("on a terminal", function()
    local on_pty, frames = support.on_pty, support.frames
    local script_it = support.script_it

    script_it("draws a bar in place on stderr while stdout holds only the JSON (script)", function()
      mock:add_table{ id = "tbl_bar", polls = 6 }
      local typescript = on_pty(mock, 100, { "tables", "wait", "tbl_bar", "--interval", "0.1" }, work)
      assert.is_true(extruct.is_idle(assert(extruct.decode(helpers.read_file(work)))))
      assert.truthy(typescript:find("\r", 1, true))

      local bars = 0
      for _, frame in ipairs(frames(typescript)) do
        local trimmed = frame:gsub("%s+$", "")
        assert.is_true(#trimmed <= 99, "fits in 100 columns: " .. frame)
        local done, total, percent = trimmed:match("^tbl_bar %[[#.]+%] +(%d+)/(%d+) cells +(%d+)%%  elapsed %d:%d%d, "
          .. "last change %d:%d%d ago$")
        if done then
          bars = bars + 1
          assert.equal(math.floor(done * 100 / total), tonumber(percent))
        end
      end
      assert.is_true(bars >= 3, typescript)
      -- cleared at the end: the last thing on the terminal is the summary line
      assert.matches("\r +\rtbl_bar: idle, 250/250 cells, 100%%, elapsed %d:%d%d\r?\n$", typescript)
    end)

    script_it("keeps the bar's clocks moving between polls (script)", function()
      mock:add_table{ id = "tbl_tick", polls = 2 }
      local typescript = on_pty(mock, 100, { "tables", "wait", "tbl_tick", "--interval", "1.5" }, work)
      assert.is_true(extruct.is_idle(assert(extruct.decode(helpers.read_file(work)))))
      -- two polls, 1.5 s apart, yet the bar was redrawn with the time moving
      -- while the counts of the first poll stayed
      local first, later
      for _, frame in ipairs(frames(typescript)) do
        local counts, elapsed, since = frame:match("(%d+/250 cells +%d+%%)  elapsed 0:(%d%d), last change 0:(%d%d) ago")
        if counts then
          first = first or counts
          if counts == first and elapsed == "01" and since == "01" then later = frame end
        end
      end
      assert.truthy(later, typescript)
    end)

    script_it("narrows the bar to the terminal's width (script, 50 columns)", function()
      mock:add_table{ id = "tbl_bar", polls = 3 }
      local typescript = on_pty(mock, 50, { "tables", "wait", "tbl_bar", "--interval", "0.05" }, work)
      assert.is_true(extruct.is_idle(assert(extruct.decode(helpers.read_file(work)))))
      local bars = 0
      for _, frame in ipairs(frames(typescript)) do
        local trimmed = frame:gsub("%s+$", "")
        assert.is_true(#trimmed <= 49, "fits in 50 columns: " .. frame)
        if trimmed:find("^%[[#.]+%] +%d+/%d+ cells +%d+%%  elapsed %d:%d%d$") then bars = bars + 1 end
      end
      assert.is_true(bars >= 1, typescript)
    end)

    it("shows done/total, percent and elapsed on a real terminal screen, then clears the bar (tmux)", function()
      if not helpers.has_command("tmux") then
        pending("tmux not found")
        return
      end
      mock:add_table{ id = "tbl_tmux", polls = 16 }
      local socket_name = "extruct-cli-spec-" .. mock.port
      local tmux = "tmux -f /dev/null -L " .. socket_name
      local done_flag = work .. ".done"
      os.remove(done_flag)
      local inner = ("EXTRUCT_API_TOKEN=%s EXTRUCT_API_URL=%s %s bin/extruct tables wait tbl_tmux --interval 0.05 >%s;"
        .. " echo $? >%s; sleep 30"):format(q(mock.token), q(mock.url), q(helpers.LUA), q(work), q(done_flag))
      local here = helpers.run("pwd"):gsub("\n$", "")
      local ok = os.execute(("%s new-session -d -x 100 -y 20 -s cli %s"):format(tmux, q("cd " .. q(here) .. " && " .. inner)))
      assert.is_true(ok == true or ok == 0, "tmux did not start")
      local screen = ""
      local function capture()
        screen = helpers.run(tmux .. " capture-pane -p -t cli") or ""
        return screen
      end
      local saw_bar = helpers.eventually(20, function()
        return capture():find("%d+/250 cells +%d+%%  elapsed %d:%d%d") ~= nil
      end)
      local bar_screen = screen
      local finished = helpers.eventually(30, function()
        local f = io.open(done_flag, "rb")
        if f then f:close() end
        return f ~= nil
      end)
      capture()
      os.execute(tmux .. " kill-server 2>/dev/null")

      assert.is_true(saw_bar, bar_screen)
      assert.matches("tbl_tmux %[[#.]+%]", bar_screen)
      assert.is_true(finished, "the wait did not end")
      assert.equal("0\n", helpers.read_file(done_flag))
      os.remove(done_flag)
      -- the bar gave way to the summary; the JSON went to the file only
      assert.is_nil(screen:find("[", 1, true), screen)
      assert.matches("tbl_tmux: idle, 250/250 cells, 100%%, elapsed %d:%d%d", screen)
      assert.is_nil(screen:find("{", 1, true), screen)
      assert.same(assert(client:get_table("tbl_tmux")), assert(extruct.decode(helpers.read_file(work))))
    end)
  end)
end)
