local extruct = require("extruct")
local core = require("extruct.core")
local helpers = require("spec.helpers")

describe("extruct.is_idle", function()
  it("needs run_status idle and no cell in progress", function()
    assert.is_true(extruct.is_idle({ status = { run_status = "idle", num_cells_in_progress = 0 } }))
    assert.is_true(extruct.is_idle({ status = { run_status = "idle" } })) -- the schema's default is 0
    assert.is_false(extruct.is_idle({ status = { run_status = "idle", num_cells_in_progress = 2 } }))
    assert.is_false(extruct.is_idle({ status = { run_status = "running", num_cells_in_progress = 0 } }))
    assert.is_false(extruct.is_idle({}))
    assert.error_matches(function() extruct.is_idle(nil) end,
      "extruct.is_idle: expected a table as returned by get_table, got nil", nil, true)
  end)
end)

describe("extruct.progress", function()
  it("is the fraction of non-input cells done, with its counts", function()
    local fraction, counts = extruct.progress({ status = {
      run_status = "running", num_cells_completed = 30, num_cells_in_progress = 10, num_cells_failed = 2 } })
    assert.are.equal(0.75, fraction)
    assert.are.same({ done = 30, in_progress = 10, total = 40, failed = 2 }, counts)
  end)

  it("survives zero cells, missing counts and junk in them", function()
    assert.are.equal(1, (extruct.progress({ status = { run_status = "idle" } })))
    assert.are.equal(0, (extruct.progress({ status = { run_status = "running" } })))
    assert.are.equal(0, (extruct.progress({})))
    local fraction, counts = extruct.progress({ status = {
      run_status = "running", num_cells_completed = "7", num_cells_in_progress = extruct.null } })
    assert.are.equal(0, fraction)
    assert.are.same({ done = 0, in_progress = 0, total = 0, failed = 0 }, counts)
    assert.error_matches(function() extruct.progress("tbl") end,
      "extruct.progress: expected a table as returned by get_table, got string", nil, true)
  end)

  it("reads a table fetched from the server", function()
    local mock = helpers.start_mock({ polls = 2 })
    local client = helpers.client(mock)
    local t = assert(client:get_table("tbl_demo"))
    local fraction, counts = extruct.progress(t)
    client:close()
    mock:stop()
    assert.are.equal(t.status.num_cells_completed, counts.done)
    assert.are.equal(t.status.num_cells_completed + t.status.num_cells_in_progress, counts.total)
    assert.is_true(fraction >= 0 and fraction < 1, tostring(fraction))
  end)
end)

describe("core clock", function()
  it("sleeps without spinning, on a monotonic clock", function()
    local wall, cpu = core.monotime(), os.clock()
    core.sleep(0.1)
    local slept = core.monotime() - wall
    assert.is_true(slept >= 0.1, tostring(slept))
    assert.is_true(os.clock() - cpu < 0.1, "the sleep used CPU")
    assert.error_matches(function() core.sleep(-1) end,
      "bad argument #1 to 'sleep' (seconds must be between 0 and 1e9)", nil, true)
    assert.error_matches(function() core.sleep("x") end, "bad argument #1 to 'sleep' (number expected, got string)", nil, true)
  end)
end)

describe("client:wait_until_idle", function()
  local mock, client
  lazy_setup(function() mock = helpers.start_mock() end)
  lazy_teardown(function()
    client:close()
    mock:stop()
  end)
  before_each(function()
    mock:reset()
    client = client or helpers.client(mock)
  end)

  it("polls until the run is idle, reporting each poll", function()
    mock:add_table{ id = "tbl_run", polls = 4 }
    local seen = {}
    local t = assert(client:wait_until_idle("tbl_run", {
      interval = 0.05,
      on_progress = function(progress) seen[#seen + 1] = progress.status end,
    }))
    assert.is_true(extruct.is_idle(t))
    assert.equal(4, #seen)
    assert.equal(4, #mock:requests())
    for i = 1, 3 do
      assert.equal("running", seen[i].run_status)
      assert.is_true(seen[i].num_cells_in_progress > 0)
      assert.is_true(seen[i].num_cells_completed <= seen[i + 1].num_cells_completed)
    end
    assert.equal("idle", seen[4].run_status)
    assert.equal(0, seen[4].num_cells_in_progress)
  end)

  it("returns at once for a table that is already idle", function()
    local t = assert(client:wait_until_idle("tbl_idle", { interval = 10 }))
    assert.equal("tbl_idle", t.id)
    assert.equal(1, #mock:requests())
  end)

  it("sleeps the interval between polls without burning CPU", function()
    mock:add_table{ id = "tbl_slow", polls = 3 }
    local wall, cpu = core.monotime(), os.clock()
    assert(client:wait_until_idle("tbl_slow", { interval = 0.1 }))
    local elapsed = core.monotime() - wall
    assert.is_true(elapsed >= 0.2, "returned after " .. elapsed .. " s")
    assert.is_true(os.clock() - cpu < 0.2, "busy-waited")
  end)

  it("gives up after the timeout with kind timeout and the last table seen", function()
    mock:add_table{ id = "tbl_forever", polls = 100000 }
    local polls = 0
    local started = core.monotime()
    local t, err = client:wait_until_idle("tbl_forever", {
      interval = 0.05, timeout = 0.2,
      on_progress = function() polls = polls + 1 end,
    })
    local elapsed = core.monotime() - started
    assert.is_nil(t)
    assert.equal("timeout", err.kind)
    assert.equal("tbl_forever", err.last.id)
    assert.equal("running", err.last.status.run_status)
    assert.matches("tbl_forever", tostring(err))
    assert.is_true(elapsed >= 0.2 and elapsed < 1.2, tostring(elapsed))
    assert.is_true(polls >= 4 and polls <= 8, tostring(polls))
  end)

  it("a timeout of 0 polls exactly once", function()
    mock:add_table{ id = "tbl_once", polls = 5 }
    local _, err = client:wait_until_idle("tbl_once", { timeout = 0 })
    assert.equal("timeout", err.kind)
    assert.equal(1, #mock:requests())
  end)

  it("times out cleanly on a status with odd counts", function()
    mock:fault{ body = '{"id":"tbl_odd","status":{"run_status":"running","num_cells_in_progress":2.5,'
      .. '"num_cells_completed":null}}' }
    local t, err = client:wait_until_idle("tbl_odd", { timeout = 0 })
    assert.is_nil(t)
    assert.equal("timeout", err.kind)
    assert.matches("2.5 of 2.5 cells in progress", err.message, 1, true)
    assert.equal(extruct.null, err.last.status.num_cells_completed)
  end)

  it("returns the error of a failed poll", function()
    local _, err = client:wait_until_idle("tbl_missing", { interval = 0.05 })
    assert.equal("not_found", err.kind)
    mock:fault{ status = 401 }
    _, err = client:wait_until_idle("tbl_idle", { interval = 0.05 })
    assert.equal("auth", err.kind)
  end)

  it("raises on misuse", function()
    assert.error_matches(function() client:wait_until_idle("t", { interval = 0 }) end,
      "extruct.wait_until_idle: option 'interval' must be a positive number of seconds", nil, true)
    assert.error_matches(function() client:wait_until_idle("t", { timeout = "9" }) end,
      "extruct.wait_until_idle: option 'timeout' must be a number of seconds >= 0", nil, true)
    assert.error_matches(function() client:wait_until_idle("t", { on_progres = print }) end,
      "extruct.wait_until_idle: unknown option 'on_progres'", nil, true)
    assert.error_matches(function() client:wait_until_idle("", {}) end,
      "extruct.wait_until_idle: the table id must be a non-empty string, got an empty string", nil, true)
    assert.error_matches(function() client:wait_until_idle("t", 5) end,
      "extruct.wait_until_idle: options must be a table, got number", nil, true)
    assert.equal(0, #mock:requests())
  end)

  it("defaults to a 5 s interval", function()
    -- a table that is idle on its third poll comes back after two default
    -- intervals, slept on a clock that only moves when slept on
    mock:add_table{ id = "tbl_defaults", polls = 3 }
    local clock = helpers.fake_clock(100)
    local t = assert(client:wait_until_idle("tbl_defaults", { sleep = clock.sleep, now = clock.now }))
    assert.is_true(extruct.is_idle(t))
    assert.same({ 5, 5 }, clock.slept)
    assert.equal(3, #mock:requests())
  end)
end)
