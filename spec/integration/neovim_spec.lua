-- extruct inside a real headless Neovim (its LuaJIT, the module built for
-- LuaJIT): a plugin-style script fetches a table from the mock server, then
-- waits for it inside extruct.async while an editor timer keeps ticking. The
-- wait must yield to Neovim's main loop: a wait that blocked the editor
-- would let no tick happen and no deferred function run until it ended.
--
-- The mock server runs as its own process, and Neovim starts without
-- LUA_PATH/LUA_CPATH (the script sets package.path/cpath itself): Neovim
-- 0.7 crashes with those set, and with luasocket loaded into it.
local helpers = require("spec.helpers")
local cjson = require("cjson")
local neovim = require("spec.support.neovim")
local q = helpers.shell_quote

local root = helpers.run("pwd"):gsub("%s+$", "")

-- The script Neovim runs (`luafile`). It writes what it saw as JSON to
-- RESULT and quits; any error is written there too.
local SCRIPT = [=[
local TABLE = ARG
local result = { loaded = false, events = {} }
local started = vim.loop.hrtime()
local function event(name)
  result.events[#result.events + 1] = { name = name, ms = (vim.loop.hrtime() - started) / 1e6 }
end

local ticker = vim.loop.new_timer()
local function finish(err)
  result.error = result.error or (err and tostring(err))
  ticker:stop()
  ticker:close()
  write_result(result)
end

local ok, problem = pcall(function()
  use_checkout()
  local extruct = require("extruct")
  result.loaded = true
  result.core_path = package.searchpath("extruct.core", package.cpath)

  local first = assert(extruct.get_table(TABLE))
  result.first_run_status = first.status.run_status

  -- The editor's own work while the table runs: a repeating libuv timer
  -- and a function deferred to 300 ms from now.
  result.ticks = 0
  ticker:start(50, 50, function() result.ticks = result.ticks + 1 end)
  local waiting = false
  vim.defer_fn(function()
    result.deferred_ran_while_waiting = waiting
    event("deferred")
  end, 300)

  extruct.async(function()
    result.strategy = require("extruct.clock").strategy()
    waiting = true
    local ticks_before = result.ticks
    event("wait starts")
    local t, err = extruct.wait_until_idle(TABLE, {
      interval = 0.2,
      on_progress = function() event("poll") end,
    })
    event("wait ends")
    waiting = false
    result.ticks_during_wait = result.ticks - ticks_before
    result.final_run_status = t and t.status.run_status
    result.wait_error = err and tostring(err)
  end, function(fine, err) finish(not fine and err or nil) end)
  event("async returned")
end)
if not ok then finish(problem) end
]=]

-- A plugin folder on 'runtimepath' is all Neovim needs: its loader finds
-- lua/extruct/*.lua, lua/extruct/api/*.lua and the C core as lua/extruct/core.so.
local PLUGIN_SCRIPT = [=[
local result = {}
local ok, problem = pcall(function()
  vim.opt.runtimepath:append(ARG)
  result.on_package_path = package.searchpath("extruct", package.path) ~= nil
  result.on_package_cpath = package.searchpath("extruct.core", package.cpath) ~= nil
  local extruct = require("extruct")
  result.version = extruct._VERSION
  result.decoded = extruct.decode('{"n": [1, 2]}').n[2]
end)
result.error = not ok and tostring(problem) or nil
write_result(result)
]=]

-- The editor must stay responsive while requests are in flight: a 10 ms
-- libuv timer records the longest gap between its ticks during each
-- scenario, while the mock answers late or not at all. A transfer that
-- blocked the main loop would show as a gap as long as the answer's delay.
local STALL_SCRIPT = neovim.TICKER .. [=[
result.outcomes, result.notes = {}, {}
-- Starts measuring a scenario. A pause on the main loop first lets the
-- ticker see the end of the previous one: a gap it is still in counts there.
local function measure(name)
  if scenario then require("extruct").sleep(0.05) end
  begin(name)
end

local ok, problem = pcall(function()
  use_checkout()
  local extruct = require("extruct")
  local client = extruct.new{ retries = 0 }
  local impatient = extruct.new{ retries = 0, timeout = 1 }

  -- on_progress notifies; extruct.async is started from a libuv timer, where
  -- most of vim.api is not allowed
  local function notifying_wait()
    local starter = uv.new_timer()
    starter:start(0, 0, function()
      starter:close()
      extruct.async(function()
        measure("notify")
        local t, err = client:wait_until_idle("tbl_notify", {
          interval = 0.1,
          on_progress = function(t)
            result.fast_in_progress = vim.in_fast_event()
            vim.notify("extruct: " .. t.status.run_status)
            result.notes[#result.notes + 1] = t.status.run_status
          end,
        })
        result.outcomes.notify = t and t.status.run_status or tostring(err)
        measure(nil)
      end, function(fine, err) finish(not fine and err or nil) end)
    end)
  end

  extruct.async(function()
    measure("get_table")
    local t, err = client:get_table("tbl_slow")
    result.outcomes.get_table = t and t.id or tostring(err)

    measure("fetch_then_wait")
    t, err = client:get_table("tbl_wait")
    if t then t, err = client:wait_until_idle("tbl_wait", { interval = 0.1 }) end
    result.outcomes.fetch_then_wait = t and t.status.run_status or tostring(err)

    measure("gather")
    local fns = {}
    for i = 1, 20 do fns[i] = function() return client:get_table("tbl_slow") end end
    local results = extruct.gather(fns, { concurrency = 20 })
    local fine = 0
    for _, r in ipairs(results) do if r[1] and r[1].id == "tbl_slow" then fine = fine + 1 end end
    result.outcomes.gather = fine

    measure("stalled")
    t, err = impatient:get_table("tbl_stall")
    result.outcomes.stalled = t and "answered" or err.kind
    measure(nil)
  end, function(fine, err)
    if not fine then return finish(err) end
    notifying_wait()
  end)
end)
if not ok then finish(problem) end
]=]

-- Connections that fail under the editor's loop: reset by the server, refused,
-- closed without an answer. Each is the request's network error; nothing is
-- printed on the editor's stderr (a poll handle on a socket in error would
-- make luv print "EBADF: bad file descriptor").
local BROKEN_SCRIPT = [=[
local result = { kinds = {}, messages = {} }
local ok, problem = pcall(function()
  use_checkout()
  local extruct = require("extruct")
  local client = extruct.new{ retries = 0 }
  local refused = extruct.new{ retries = 0, base_url = "http://127.0.0.1:" .. ARG }
  extruct.async(function()
    local fns = {}
    for i = 1, 10 do fns[i] = function() return client:get_table("tbl_reset") end end
    for i = 11, 15 do fns[i] = function() return client:get_table("tbl_drop") end end
    for i = 16, 20 do fns[i] = function() return refused:get_table("tbl_idle") end end
    for i, r in ipairs(extruct.gather(fns, { concurrency = 20 })) do
      result.kinds[i] = r[1] and "answered" or r[2].kind
      result.messages[i] = r[2] and r[2].message or ""
    end
    -- and the client goes on
    local t, err = client:get_table("tbl_idle")
    result.after = t and t.id or tostring(err)
  end, function(fine, err)
    result.error = not fine and tostring(err) or nil
    write_result(result)
  end)
end)
if not ok then
  result.error = tostring(problem)
  write_result(result)
end
]=]

describe("inside Neovim", function()
  local fixture = helpers.shared_mock()
  local work

  lazy_setup(function()
    helpers.build_luajit()
    work = helpers.scratch_dir()
  end)
  lazy_teardown(function() helpers.remove_dir(work) end)

  local function run_neovim(script, argument) return neovim.run(work, fixture.mock, script, argument) end

  it("loads the LuaJIT build, fetches a table and waits for it without freezing the editor", function()
    fixture.mock:add_table{ id = "tbl_nvim", polls = 4 }
    local result, out, status = run_neovim(SCRIPT, "tbl_nvim")
    local report = out .. "\n" .. cjson.encode(result)
    assert.equal(0, status, report)
    assert.is_nil(result.error, report)
    assert.is_true(result.loaded, report)
    assert.equal(root .. "/build/luajit/extruct/core.so", result.core_path)
    assert.equal("running", result.first_run_status, report)
    assert.equal("idle", result.final_run_status, report)
    assert.is_nil(result.wait_error, report)
    assert.equal("nvim", result.strategy, report)

    -- extruct.async handed control back at the first request, long before the end
    local order = {}
    for _, e in ipairs(result.events) do order[#order + 1] = e.name end
    local joined = table.concat(order, ",")
    assert.matches("^wait starts,async returned,poll,", joined)
    -- the deferred function ran between two polls, the timer kept ticking
    assert.is_true(result.deferred_ran_while_waiting, report)
    assert.matches("poll,deferred,.*poll,wait ends$", joined)
    -- 2 sleeps of 0.2 s: a 50 ms timer ticks at least a few times meanwhile
    assert.is_true(result.ticks_during_wait >= 2, report)

    -- the polls reached the mock server over HTTP
    local gets, polls = 0, select(2, joined:gsub("poll", ""))
    for _, r in ipairs(fixture.mock:requests()) do
      if r.path == "/v1/tables/tbl_nvim" then gets = gets + 1 end
    end
    assert.equal(3, polls, report) -- the fourth GET of the table finds it idle
    assert.equal(1 + polls, gets) -- the first get_table, then the polls
  end)

  it("stays responsive (no tick gap of 50 ms) while requests wait on a slow or stalled server", function()
    fixture.mock:add_table{ id = "tbl_wait", polls = 5 }
    fixture.mock:add_table{ id = "tbl_notify", polls = 3 }
    fixture.mock:fault{ count = 1000, delay = 0.5, path = "/v1/tables/tbl_slow" }
    fixture.mock:fault{ count = 1000, delay = 0.3, path = "/v1/tables/tbl_wait" }
    fixture.mock:fault{ count = 10, mode = "stall", path = "/v1/tables/tbl_stall" }
    fixture.mock:add_table{ id = "tbl_slow", polls = 0 }
    fixture.mock:add_table{ id = "tbl_stall", polls = 0 }
    local result, out, status = run_neovim(STALL_SCRIPT)
    local report = out .. "\n" .. cjson.encode(result)
    assert.equal(0, status, report)
    assert.is_nil(result.error, report)
    assert.same({ get_table = "tbl_slow", fetch_then_wait = "idle", gather = 20, stalled = "timeout",
                  notify = "idle" }, result.outcomes, report)
    -- (the longest gap less the time the kernel kept Neovim waiting for a
    -- CPU: spec/support/neovim.lua's TICKER, as the plugin's specs judge it)
    for _, name in ipairs({ "get_table", "fetch_then_wait", "gather", "stalled", "notify" }) do
      assert.is_number(result.stalls[name], name)
      assert.is_true(result.stalls[name] < 50, ("%s: the editor froze for %.0f ms (a tick gap of %.0f ms)")
        :format(name, result.stalls[name], result.gaps[name]))
    end
    -- the callbacks ran on the main loop, where vim.notify works
    assert.is_false(result.fast_in_progress, report)
    assert.same({ "running", "running", "idle" }, result.notes, report)
    -- the 20 requests of the gather were in flight together
    assert.is_true(fixture.mock:stats().max_in_flight >= 10, report)
    io.stdout:write(("\n    longest tick gaps (ms): get_table %.1f, fetch_then_wait %.1f, gather %.1f, stalled %.1f,"
      .. " notify %.1f\n"):format(result.gaps.get_table, result.gaps.fetch_then_wait, result.gaps.gather,
      result.gaps.stalled, result.gaps.notify))
  end)

  it("reports reset, refused and dropped connections as network errors and prints nothing (no EBADF)", function()
    fixture.mock:fault{ count = 10, mode = "reset", path = "/v1/tables/tbl_reset" }
    fixture.mock:fault{ count = 5, mode = "drop", path = "/v1/tables/tbl_drop" }
    local result, out, status = run_neovim(BROKEN_SCRIPT, tostring(helpers.closed_port()))
    local report = out .. "\n" .. cjson.encode(result)
    assert.equal(0, status, report)
    assert.is_nil(result.error, report)
    for i = 1, 20 do assert.equal("network", result.kinds[i], report) end
    for i = 16, 20 do assert.matches("Failed to connect to 127%.0%.0%.1 port %d+", result.messages[i], report) end
    assert.equal("tbl_idle", result.after, report)
    assert.equal("", out, "Neovim printed: " .. out)
  end)

  it("loads from a plugin folder on 'runtimepath' with lua/extruct/core.so", function()
    local plugin = work .. "/extruct.nvim"
    assert(os.execute(("mkdir -p %s/lua/extruct/api && cp lua/extruct/*.lua build/luajit/extruct/core.so %s/lua/extruct/"
      .. " && cp lua/extruct/api/*.lua %s/lua/extruct/api/"):format(q(plugin), q(plugin), q(plugin))))
    local result, out, status = run_neovim(PLUGIN_SCRIPT, plugin)
    local report = out .. "\n" .. cjson.encode(result)
    assert.equal(0, status, report)
    assert.is_nil(result.error, report)
    assert.is_false(result.on_package_path, report)
    assert.is_false(result.on_package_cpath, report)
    assert.equal(require("extruct")._VERSION, result.version)
    assert.equal(2, result.decoded)
  end)
end)
