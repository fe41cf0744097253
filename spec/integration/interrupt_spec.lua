-- Ctrl-C ends a real process at once: `bin/extruct` and the script of
-- docs/hosts.md ("Ctrl-C") run as processes of their own against the mock,
-- which holds a request back (a delay fault) or keeps a table running; a
-- real SIGINT comes while the request is in flight, in a retry's pause, in
-- a wait or in an export. The process exits 130 with no traceback, long
-- before the request or the pause would have ended; an export's database
-- is as it was. On a real terminal (tmux), Ctrl-C typed at the keyboard
-- leaves the screen clean: the progress bar cleared, the cursor shown.
-- (In-process cases, one request or task at a time: spec/interrupt_spec.)
local helpers = require("spec.helpers")
local markdown = require("spec.support.markdown")

local q = helpers.shell_quote

local found = helpers.has_command

local function lua_env()
  return ("LUA_PATH=%s LUA_CPATH=%s"):format(q(package.path), q(package.cpath))
end

-- Starts `command` (a shell command line) in the background with the mock's
-- token and URL; returns { pid, dir (its stdout, stderr and status files
-- are there) }.
local function start(mock, command)
  local dir = helpers.scratch_dir()
  local inner = ("echo $$ >%s/pid; exec env EXTRUCT_API_TOKEN=%s EXTRUCT_API_URL=%s %s"):format(q(dir),
    q(mock.token), q(mock.url), command)
  assert(os.execute(("(env -u LD_PRELOAD sh -c %s >%s/out 2>%s/err </dev/null; echo $? >%s/status) &"):format(
    q(inner), q(dir), q(dir), q(dir))))
  local process = { dir = dir }
  assert(helpers.eventually(10, function()
    local pid = io.open(dir .. "/pid", "rb")
    if pid then
      process.pid = tonumber(pid:read("*a"))
      pid:close()
    end
    return process.pid ~= nil
  end), "the process did not start")
  return process
end

-- Sends SIGINT to the process, and waits (at most `seconds`) for its end:
-- its exit status (nil if it did not end), stdout and stderr.
local function interrupt(process, seconds)
  os.execute("kill -INT " .. process.pid)
  local status
  helpers.eventually(seconds, function()
    local f = io.open(process.dir .. "/status", "rb")
    if f then
      status = tonumber(f:read("*a"))
      f:close()
    end
    return status ~= nil
  end)
  if status == nil then os.execute("kill -KILL " .. process.pid .. " 2>/dev/null") end
  local out, err = helpers.read_file(process.dir .. "/out"), helpers.read_file(process.dir .. "/err")
  helpers.remove_dir(process.dir)
  return status, out, err
end

-- Waits until the mock's counters say the moment has come.
local function when(mock, test)
  assert(helpers.eventually(15, function() return test(mock:stats()) end), "the mock never got there")
end
local function in_flight(stats) return stats.in_flight >= 1 end

-- What must never be on stderr after Ctrl-C.
local function assert_no_traceback(err)
  assert.is_nil(err:find("traceback", 1, true), err)
  assert.is_nil(err:find("interrupted!", 1, true), err)
  assert.is_nil(err:find("%.lua:%d+:"), err)
end

-- Each case holds the mock back for a minute: ending within 15 s is ending
-- at the interrupt, not at the request's end.
local SOON = 15

local extruct_command = q(helpers.LUA) .. " bin/extruct "

describe("Ctrl-C in a process", function()
  local mock
  lazy_setup(function() mock = helpers.start_mock({ polls = 1000 }) end)
  lazy_teardown(function() if mock then mock:stop() end end)
  before_each(function() mock:reset() end)

  it("ends `extruct tables get` of a slow table: exit 130, nothing said", function()
    mock:fault{ path = "/v1/tables/tbl_demo", delay = 60 }
    local process = start(mock, extruct_command .. "tables get tbl_demo")
    when(mock, in_flight)
    local status, out, err = interrupt(process, SOON)
    assert.equal(130, status, err)
    assert.equal("", out)
    assert.equal("", err)
  end)

  it("leaves an --output FILE as it was, and no file beside it", function()
    local dir = helpers.scratch_dir()
    helpers.write_file(dir .. "/t.json", "as it was\n")
    mock:fault{ path = "/v1/tables/tbl_demo", delay = 60 }
    local process = start(mock, extruct_command .. "tables get tbl_demo -o " .. q(dir .. "/t.json"))
    when(mock, in_flight)
    local status, out, err = interrupt(process, SOON)
    local listing = helpers.run("ls -A " .. q(dir))
    local kept = helpers.read_file(dir .. "/t.json")
    helpers.remove_dir(dir)
    assert.equal(130, status, err)
    assert.equal("", out .. err)
    assert.equal("as it was\n", kept)
    assert.equal("t.json\n", listing)
  end)

  it("ends `extruct tables wait` between polls: the last state on stderr, no traceback", function()
    local process = start(mock, extruct_command .. "tables wait tbl_demo --interval 30")
    when(mock, function(stats) return stats.requests >= 1 end)
    local status, out, err = interrupt(process, SOON)
    assert.equal(130, status, err)
    assert.equal("", out)
    assert.matches("^tbl_demo: running, %d+/250 cells, %d+%%, elapsed 0:%d%d\n$", err)
    assert_no_traceback(err)
  end)

  it("ends `extruct user` in a retry's pause", function()
    mock:fault{ path = "/v1/user", status = 503, retry_after = 25, count = 4 }
    local process = start(mock, extruct_command .. "user")
    when(mock, function(stats) return stats.requests >= 1 end)
    local status, out, err = interrupt(process, SOON)
    assert.equal(130, status, err)
    assert.equal("", out)
    assert.equal("", err)
    assert.equal(1, mock:stats().requests, "no second attempt")
  end)

  it("rolls `extruct tables export` back: the database is as the last export left it", function()
    if not found("sqlite3") or not pcall(require, "DBI") then
      return pending("needs LuaDBI's SQLite driver and the sqlite3 shell (Debian: lua-dbi-sqlite3, sqlite3)")
    end
    local dir = helpers.scratch_dir()
    local db = dir .. "/leads.db"
    local export = extruct_command .. "tables export %s --page-size 1 --to " .. q("sqlite:" .. db)
    local first = start(mock, export:format("tbl_idle"))
    assert(helpers.eventually(SOON, function() return io.open(first.dir .. "/status", "rb") ~= nil end))
    assert.equal("0\n", helpers.read_file(first.dir .. "/status"), helpers.read_file(first.dir .. "/err"))
    helpers.remove_dir(first.dir)
    local before = helpers.run("sqlite3 " .. q(db) .. " .dump")
    assert.truthy(before:find("extruct_exports", 1, true))

    -- another table into the same database: its first page comes (its SQL
    -- table is made, the page's rows written), the second is held back
    mock:fault{ path = "/v1/tables/tbl_demo/data", status = 200 }
    mock:fault{ path = "/v1/tables/tbl_demo/data", delay = 60 }
    local second = start(mock, export:format("tbl_demo"))
    when(mock, in_flight)
    local status, out, err = interrupt(second, SOON)
    local after = helpers.run("sqlite3 " .. q(db) .. " .dump")
    helpers.remove_dir(dir)
    assert.equal(130, status, err)
    assert.equal("", out)
    assert.equal("", err)
    assert.equal(before, after)
  end)

  describe("docs/hosts.md's script", function()
    local blocks = markdown.claimed("docs/hosts.md", "integration/interrupt_spec")

    it("stops its wait with a `cancelled` error it handles, and exits 130", function()
      assert.equal(1, #blocks)
      local dir = helpers.scratch_dir()
      helpers.write_file(dir .. "/wait.lua", blocks[1].text)
      local process = start(mock, lua_env() .. " " .. q(helpers.LUA) .. " " .. q(dir .. "/wait.lua"))
      when(mock, function(stats) return stats.requests >= 1 end)
      local status, out, err = interrupt(process, SOON)
      helpers.remove_dir(dir)
      assert.equal(130, status, err)
      assert.equal("", out)
      assert.equal("stopped by Ctrl-C; the table was running\n", err)
    end)
  end)

  it("a second Ctrl-C ends the process at once, whatever it does", function()
    -- a script that handles the first and goes on computing
    local script = [[
      local extruct = require("extruct")
      extruct.on_interrupt("cancel")
      io.stdout:write("armed\n"); io.stdout:flush()
      while not extruct.interrupted() do end
      io.stdout:write("first\n"); io.stdout:flush()
      while true do end]]
    local process = start(mock, lua_env() .. " " .. q(helpers.LUA) .. " -e " .. q(script))
    assert(helpers.eventually(SOON, function() return helpers.read_file(process.dir .. "/out") == "armed\n" end))
    os.execute("kill -INT " .. process.pid)
    assert(helpers.eventually(SOON, function() return helpers.read_file(process.dir .. "/out") == "armed\nfirst\n" end))
    local status, _, err = interrupt(process, SOON)
    assert.equal(130, status, err) -- 128 + SIGINT: the signal's default action
    assert.equal("", err)
  end)
end)

describe("Ctrl-C on a terminal (tmux)", function()
  local mock, work
  lazy_setup(function()
    mock = helpers.start_mock({ polls = 1000 })
    work = helpers.scratch_dir()
  end)
  lazy_teardown(function()
    if mock then mock:stop() end
    helpers.remove_dir(work)
  end)
  before_each(function() mock:reset() end)

  -- Runs `bin/extruct ARGS` in a tmux pane of its own; once ready(stats)
  -- says so, types Ctrl-C. Returns the exit status, the screen and whether
  -- the cursor was shown at the end.
  local function ctrl_c(name, args, ready)
    local socket = work .. "/tmux-" .. name
    local tmux = "tmux -S " .. q(socket) .. " -f /dev/null "
    local done = work .. "/" .. name .. ".status"
    -- (the shell catches SIGINT, so it lives on to write the status; the
    -- command, which it starts, meets it as a command run from a prompt does)
    local inner = ("trap : INT; EXTRUCT_API_TOKEN=%s EXTRUCT_API_URL=%s %s bin/extruct %s; echo $? >%s; sleep 30"):format(
      q(mock.token), q(mock.url), q(helpers.LUA), args, q(done))
    local here = helpers.run("pwd"):gsub("\n$", "")
    local out, code = helpers.run(("%s new-session -d -x 100 -y 20 -s cli %s 2>&1"):format(tmux,
      q("cd " .. q(here) .. " && " .. inner)))
    assert(code == 0, "tmux did not start: " .. tostring(out))
    local function screen() return helpers.run(tmux .. "capture-pane -p -t cli") or "" end
    local shown
    local ok, err = pcall(function()
      when(mock, ready)
      if args:find("wait", 1, true) then
        assert(helpers.eventually(SOON, function() return screen():find("%[[#.]+%]") ~= nil end), screen())
      end
      helpers.run(tmux .. "send-keys -t cli C-c")
      assert(helpers.eventually(SOON, function() return io.open(done, "rb") ~= nil end), "no end: " .. screen())
      shown = helpers.run(tmux .. "display-message -p -t cli '#{cursor_flag}'")
    end)
    local last = screen()
    os.execute(tmux .. "kill-server 2>/dev/null")
    assert(ok, err)
    return tonumber(helpers.read_file(done)), last, shown
  end

  it("clears the progress bar of `extruct tables wait`, and shows the cursor", function()
    if not found("tmux") then return pending("tmux not found") end
    local status, screen, cursor = ctrl_c("wait", "tables wait tbl_demo --interval 30 >/dev/null",
      function(stats) return stats.requests >= 1 end)
    assert.equal(130, status, screen)
    assert.equal("1\n", cursor)
    assert.is_nil(screen:find("[", 1, true), screen) -- no bar left
    assert.matches("tbl_demo: running, %d+/250 cells, %d+%%, elapsed 0:%d%d", screen)
    assert_no_traceback(screen)
  end)

  it("ends `extruct tables get` of a slow table", function()
    if not found("tmux") then return pending("tmux not found") end
    mock:fault{ path = "/v1/tables/tbl_demo", delay = 60 }
    local status, screen, cursor = ctrl_c("get", "tables get tbl_demo", in_flight)
    assert.equal(130, status, screen)
    assert.equal("1\n", cursor)
    assert.is_nil(screen:find("{", 1, true), screen)
    assert_no_traceback(screen)
  end)
end)
