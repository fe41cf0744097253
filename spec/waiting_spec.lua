-- wait_until_idle for long unattended runs: the deadline, cancellation,
-- growing intervals, outages. Most specs run on a clock that moves only when
-- slept on, so an hour of waiting takes no time and every pause is exact;
-- the requests are counted at the mock server.

local extruct = require("extruct")
local helpers = require("spec.helpers")

-- A running table whose status never changes, for `count` polls.
local function stuck(mock, id, count)
  mock:fault{
    path = "/v1/tables/" .. id, count = count,
    body = ('{"id":"%s","status":{"run_status":"running","num_cells_completed":3,'
      .. '"num_cells_in_progress":5,"num_cells_failed":0}}'):format(id),
  }
end

describe("wait_until_idle on long runs", function()
  local mock, fake, client
  local fixture = helpers.mock_and_client{ fake_clock = 1000, client = { backoff = { base = 0.5, cap = 10 } } }
  before_each(function() mock, client, fake = fixture.mock, fixture.client, fixture.clock end)

  local function count() return #mock:requests() end

  describe("the deadline", function()
    it("is kept on a real clock: the last pause is cut short and a last poll made at the deadline", function()
      local real = helpers.client(mock)
      mock:add_table{ id = "tbl_forever", polls = 100000 }
      local started = extruct.now()
      -- (pauses long beside a request, also under valgrind)
      local t, err = real:wait_until_idle("tbl_forever", { interval = 0.25, timeout = 0.6 })
      local elapsed = extruct.now() - started
      real:close()
      assert.is_nil(t)
      assert.equal("timeout", err.kind)
      assert.equal("tbl_forever", err.last.id)
      assert.is_nil(err.cause)
      assert.is_true(elapsed >= 0.6, tostring(elapsed))
      assert.is_true(elapsed < 0.6 + 0.25 + 3, tostring(elapsed)) -- within an interval, with slack for a loaded machine
      assert.equal(4, count()) -- at 0, 0.25, 0.5 and 0.6
    end)

    it("is kept exactly on an injected clock", function()
      mock:add_table{ id = "tbl_forever", polls = 100000 }
      local _, err = client:wait_until_idle("tbl_forever", { interval = 5, timeout = 12 })
      assert.equal("timeout", err.kind)
      assert.same({ 5, 5, 2 }, fake.slept)
      assert.equal(1012, fake.time)
      assert.equal(4, count())
      assert.matches("after 12 s", err.message, 1, true)
    end)
  end)

  describe("on_progress", function()
    it("returning false cancels the wait: kind cancelled, with the last table", function()
      mock:add_table{ id = "tbl_forever", polls = 100000 }
      local seen = {}
      local t, err = client:wait_until_idle("tbl_forever", {
        interval = 1,
        on_progress = function(table_seen)
          seen[#seen + 1] = table_seen
          return #seen < 2
        end,
      })
      assert.is_nil(t)
      assert.equal("cancelled", err.kind)
      assert.equal(seen[2], err.last)
      assert.matches("cancelled", tostring(err))
      assert.equal(2, count())
      assert.same({ 1 }, fake.slept)
    end)

    it("returning anything but false goes on", function()
      mock:add_table{ id = "tbl_run", polls = 5 }
      local answers = { true, nil, 0, "stop" }
      local calls = 0
      local t = assert(client:wait_until_idle("tbl_run", {
        interval = 1,
        on_progress = function() calls = calls + 1; return answers[calls] end,
      }))
      assert.is_true(extruct.is_idle(t))
      assert.equal(5, calls)
      assert.equal(5, count())
    end)

    it("returning false for the idle table still returns it: the wait is over anyway", function()
      local t = assert(client:wait_until_idle("tbl_idle", { on_progress = function() return false end }))
      assert.equal("tbl_idle", t.id)
    end)

    it("cancellation is in the errors' kinds", function()
      local kinds = {}
      for _, kind in ipairs(require("extruct.errors").KINDS) do kinds[kind] = true end
      assert.is_true(kinds.cancelled)
    end)
  end)

  describe("growing intervals", function()
    it("grow x1.5 per poll without progress, up to max_interval, and reset when progress moves", function()
      stuck(mock, "tbl_grow", 6)
      mock:add_table{ id = "tbl_grow", polls = 3 } -- after the stuck polls: running, running, idle
      local t = assert(client:wait_until_idle("tbl_grow", { interval = 1, max_interval = 4 }))
      assert.is_true(extruct.is_idle(t))
      assert.same({ 1, 1.5, 2.25, 3.375, 4, 4, 1, 1 }, fake.slept)
      assert.equal(9, count())
    end)

    it("do not grow unless max_interval is set", function()
      stuck(mock, "tbl_flat", 4)
      mock:add_table{ id = "tbl_flat", polls = 1 }
      assert(client:wait_until_idle("tbl_flat", { interval = 2 }))
      assert.same({ 2, 2, 2, 2 }, fake.slept)
      assert.equal(5, count())
    end)

    it("make an hour of a quiet run cost few requests", function()
      stuck(mock, "tbl_quiet", 100000)
      local _, err = client:wait_until_idle("tbl_quiet", { interval = 5, max_interval = 60, timeout = 3600 })
      assert.equal("timeout", err.kind)
      assert.equal(4600, fake.time)
      local polls = count()
      assert.equal(#fake.slept + 1, polls)
      assert.equal(66, polls) -- 721 at a fixed 5 s
      for i = 2, #fake.slept - 1 do
        assert.is_true(fake.slept[i] >= fake.slept[i - 1] and fake.slept[i] <= 60)
      end
    end)

    it("max_interval below interval is misuse", function()
      assert.error_matches(function() client:wait_until_idle("tbl_idle", { interval = 10, max_interval = 5 }) end,
        "extruct.wait_until_idle: max_interval (5) must be >= interval (10)", nil, true)
      assert.error_matches(function() client:wait_until_idle("tbl_idle", { max_interval = 1 }) end,
        "extruct.wait_until_idle: max_interval (1) must be >= interval (5)", nil, true) -- interval 5
      assert.error_matches(function() client:wait_until_idle("tbl_idle", { max_interval = "60" }) end,
        "extruct.wait_until_idle: option 'max_interval' must be a positive number of seconds", nil, true)
      local message = select(2, pcall(function()
        client:wait_until_idle("tbl_idle", { interval = 10, max_interval = 5 })
      end))
      assert.matches("waiting_spec%.lua:%d+: extruct%.wait_until_idle: max_interval %(5%) must be >= interval %(10%)",
        message)
      assert.equal(0, count())
    end)
  end)

  describe("failures during a wait", function()
    -- on_progress queues the fault after the second poll, in the middle of the run.
    local function fault_after_second_poll(fault)
      local polls = 0
      return function()
        polls = polls + 1
        if polls == 2 then mock:fault(fault) end
      end
    end

    it("a transient outage is retried within the poll", function()
      mock:add_table{ id = "tbl_run", polls = 5 }
      local t = assert(client:wait_until_idle("tbl_run", {
        interval = 1, on_progress = fault_after_second_poll{ status = 503, count = 2 },
      }))
      assert.is_true(extruct.is_idle(t))
      assert.equal(7, count())
    end)

    it("a poll that still fails is a missed poll, not the end of the wait", function()
      mock:add_table{ id = "tbl_run", polls = 5 }
      local t = assert(client:wait_until_idle("tbl_run", {
        interval = 1, max_interval = 4, retries = 0,
        on_progress = fault_after_second_poll{ status = 503, count = 2 },
      }))
      assert.is_true(extruct.is_idle(t))
      assert.equal(7, count())
      assert.same({ 1, 1, 1.5, 2.25, 1, 1 }, fake.slept) -- the missed polls lengthen the pause like no progress

      mock:reset()
      mock:add_table{ id = "tbl_run", polls = 3 }
      t = assert(client:wait_until_idle("tbl_run", {
        interval = 1, retries = 1, on_progress = fault_after_second_poll{ mode = "drop", count = 5 },
      }))
      assert.is_true(extruct.is_idle(t))
      assert.equal(3 + 5, count())
    end)

    it("a permanent error ends the wait at once", function()
      local _, err = client:wait_until_idle("tbl_missing", { interval = 1 })
      assert.equal("not_found", err.kind)
      assert.equal(1, count())

      mock:reset()
      mock:add_table{ id = "tbl_run", polls = 5 }
      _, err = client:wait_until_idle("tbl_run", {
        interval = 1, on_progress = fault_after_second_poll{ status = 403, count = 10 },
      })
      assert.equal("auth", err.kind)
      assert.equal(1, err.attempts)
      assert.equal(3, count())
    end)

    it("an outage past the deadline is a timeout carrying the last error and the last table", function()
      mock:add_table{ id = "tbl_run", polls = 100 }
      local polls = 0
      local _, err = client:wait_until_idle("tbl_run", {
        interval = 5, timeout = 20,
        on_progress = function()
          polls = polls + 1
          if polls == 1 then mock:fault{ status = 503, count = 100000 } end
        end,
      })
      assert.equal("timeout", err.kind)
      assert.equal("tbl_run", err.last.id)
      assert.equal("server", err.cause.kind)
      assert.equal(503, err.cause.status)
      assert.matches("the last poll failed: server:", err.message, 1, true)
      assert.equal(1020, fake.time)
      assert.equal(1, polls)
    end)

    it("an outage from the start: no table seen, the last error kept", function()
      mock:fault{ mode = "drop", count = 100000 }
      local _, err = client:wait_until_idle("tbl_idle", { interval = 5, timeout = 30, retries = 0 })
      assert.equal("timeout", err.kind)
      assert.is_nil(err.last)
      assert.equal("network", err.cause.kind)
      assert.matches("table 'tbl_idle': no answer within 30 s", err.message, 1, true)
      assert.equal(1030, fake.time)
    end)

    it("a Retry-After is honoured between polls, and one past the deadline ends the wait at once", function()
      mock:add_table{ id = "tbl_run", polls = 2 }
      mock:fault{ status = 503, retry_after = "8", count = 1 }
      assert(client:wait_until_idle("tbl_run", { interval = 1, retries = 0 }))
      assert.same({ 8, 1 }, fake.slept)

      mock:reset()
      fake.slept = {}
      mock:fault{ status = 429, retry_after = "100", count = 10 }
      local _, err = client:wait_until_idle("tbl_idle", { interval = 1, timeout = 20 })
      assert.equal("timeout", err.kind)
      assert.equal("rate_limit", err.cause.kind)
      assert.matches("the server asked to wait 100 s, past the deadline", err.message, 1, true)
      assert.same({}, fake.slept)
      assert.equal(1, count())
    end)
  end)
end)

-- One callback for every wait: on_progress(item, info), the table or task
-- just fetched first, then { id, polls, elapsed, done, total, fraction }.
-- Each wait runs on the same injected clock against the mock; what every
-- one must hand its callback is written once, below the cases.
describe("every wait's on_progress(item, info)", function()
  local fixture = helpers.mock_and_client{ fake_clock = 500 }

  local cases = {
    { wait = "wait_until_idle", id = "tbl_progress",
      start = function(mock) mock:add_table{ id = "tbl_progress", polls = 3, rows = 2 } end,
      run = function(client, opts) return client:wait_until_idle("tbl_progress", opts) end },
    { wait = "wait_all", id = "tbl_progress",
      start = function(mock) mock:add_table{ id = "tbl_progress", polls = 3, rows = 2 } end,
      run = function(client, opts) return client:wait_all({ "tbl_progress" }, opts) end },
    { wait = "wait_deep_search", id = "ds_progress",
      start = function(mock) mock:control("POST", "/_mock/discovery_tasks", { id = "ds_progress", polls = 3, desired = 4 }) end,
      run = function(client, opts) return client:wait_deep_search("ds_progress", opts) end },
    { wait = "wait_deep_research", id = "dr_progress",
      start = function(mock) mock:control("POST", "/_mock/deep_research_tasks", { id = "dr_progress", polls = 3 }) end,
      run = function(client, opts) return client:wait_deep_research("dr_progress", opts) end },
  }

  for _, case in ipairs(cases) do
    it(case.wait .. " calls it after every poll with the item fetched and the same info fields", function()
      local clock = fixture.clock
      case.start(fixture.mock)
      local started, calls = clock.now(), {}
      local done = assert(case.run(fixture.client, {
        interval = 2,
        on_progress = function(item, info)
          calls[#calls + 1] = { item = item, info = info, at = clock.now() }
        end,
      }))
      assert.is_true(#calls >= 2, case.wait)
      for i, call in ipairs(calls) do
        local info = call.info
        assert.equal(case.id, call.item.id)
        assert.equal(case.id, info.id)
        assert.equal(i, info.polls)
        assert.equal(call.at - started, info.elapsed)
        assert.is_number(info.done)
        assert.is_number(info.total)
        assert.is_true(info.fraction >= 0 and info.fraction <= 1, case.wait .. ": " .. tostring(info.fraction))
        if info.total > 0 then assert.equal(math.min(info.done / info.total, 1), info.fraction) end
      end
      local last = calls[#calls]
      assert.equal(1, last.info.fraction)
      assert.equal(last.info.total, last.info.done)
      assert.is_true(calls[1].info.fraction < 1)
      assert.is_true(last.info.elapsed > 0)
      -- the last item handed over is what the wait returns (wait_all: in its map)
      assert.equal(last.item, done[case.id] or done)
    end)
  end
end)
