-- Sleeping and clocks. The `ngx` and `vim` globals set up here are minimal
-- stand-ins for the hosts' own APIs (ngx.sleep, ngx.get_phase,
-- vim.defer_fn, vim.notify), enough to show which one extruct picks and how
-- it drives it; the real hosts are tested by their own specs.

local extruct = require("extruct")
local core = require("extruct.core")
local helpers = require("spec.helpers")

local function pack(...) return { n = select("#", ...), ... } end

-- Runs fn inside a fresh coroutine (busted runs specs on the main thread)
-- and returns what it returned; raises what it raised.
local function in_coroutine(fn)
  local co = coroutine.create(fn)
  local results = pack(coroutine.resume(co))
  assert(results[1], results[2])
  assert.equal("dead", coroutine.status(co))
  return (table.unpack or unpack)(results, 2, results.n)
end

-- A fake ngx: ngx.sleep records what it was asked, and sleeps. `early`
-- (seconds) makes its first sleep that much shorter, as nginx's timers are
-- when its cached time is stale.
local function fake_ngx(phase, early)
  local slept = {}
  _G.ngx = {
    get_phase = function() return phase end,
    sleep = function(seconds)
      slept[#slept + 1] = seconds
      core.sleep(math.max(0, seconds - (early or 0)))
      early = nil
    end,
  }
  return slept
end

-- A fake Neovim: vim.defer_fn queues its callbacks, `run_timers` plays the
-- main loop, waiting (really) for each timer to be due and running them one
-- at a time in the order they fire. `early` (seconds) makes the first timer
-- fire that much before its time, as libuv's do when the loop's cached time
-- is stale.
local function fake_vim(early)
  local fake = { timers = {}, notes = {} }
  _G.vim = {
    defer_fn = function(fn, ms)
      fake.timers[#fake.timers + 1] = { fn = fn, ms = ms, at = core.monotime() + ms / 1000 - (early or 0) }
      early = nil
    end,
    notify = function(message, level) fake.notes[#fake.notes + 1] = { message = message, level = level } end,
    log = { levels = { ERROR = 4 } },
  }
  function fake.run_timers(limit)
    local ran = 0
    while #fake.timers > 0 and ran < (limit or 1000) do
      table.sort(fake.timers, function(a, b) return a.at < b.at end)
      local timer = table.remove(fake.timers, 1)
      core.sleep(math.max(0, timer.at - core.monotime()))
      timer.fn()
      ran = ran + 1
    end
    return ran
  end
  return fake
end

local function delays(timers)
  local ms = {}
  for i, timer in ipairs(timers) do ms[i] = timer.ms end
  return ms
end

describe("extruct.sleep", function()
  local fixture = helpers.mock_and_client()
  after_each(function()
    _G.ngx = nil
    _G.vim = nil
  end)

  it("sleeps in C on a plain interpreter, without spinning", function()
    assert.equal("blocking", require("extruct.clock").strategy())
    local wall, cpu = extruct.now(), os.clock()
    extruct.sleep(0.1)
    local slept = extruct.now() - wall
    assert.is_true(slept >= 0.1, tostring(slept))
    assert.is_true(os.clock() - cpu < 0.1, "the sleep used CPU")
    extruct.sleep(0) -- nothing to do
    extruct.sleep(-1)
    assert.error_matches(function() extruct.sleep("1") end, "extruct.sleep: seconds must be a number, got string", nil, true)
    assert.error_matches(function() extruct.sleep(0 / 0) end, "extruct.sleep: seconds must be a number, got number", nil, true)
  end)

  it("extruct.now is the core's monotonic clock", function()
    local a = extruct.now()
    local b = core.monotime()
    local c = extruct.now()
    assert.is_true(a <= b and b <= c)
  end)

  describe("under OpenResty", function()
    local clock = require("extruct.clock")

    it("uses ngx.sleep in a phase that can yield", function()
      for _, phase in ipairs({ "rewrite", "access", "content", "timer", "ssl_cert", "ssl_session_fetch" }) do
        local slept = fake_ngx(phase)
        in_coroutine(function()
          assert.equal("ngx", clock.strategy(), phase)
          extruct.sleep(0.05)
          extruct.sleep(0.02)
        end)
        assert.equal(2, #slept, phase)
        assert.is_true(slept[1] > 0.04 and slept[1] <= 0.05, phase)
      end
    end)

    it("sleeps the rest when nginx wakes it early", function()
      local slept = fake_ngx("content", 0.03)
      local started = extruct.now()
      in_coroutine(function() extruct.sleep(0.08) end)
      assert.is_true(extruct.now() - started >= 0.08)
      assert.equal(2, #slept)
      assert.is_true(slept[2] > 0.01 and slept[2] <= 0.03, tostring(slept[2]))
    end)

    it("sleeps in C where ngx.sleep is not allowed", function()
      for _, phase in ipairs({ "init", "init_worker", "set", "header_filter", "body_filter", "log", "balancer" }) do
        local slept = fake_ngx(phase)
        in_coroutine(function()
          assert.equal("blocking", clock.strategy(), phase)
          extruct.sleep(0.01)
        end)
        assert.same({}, slept, phase)
      end
    end)

    it("sleeps in C where the code cannot yield (the main thread)", function()
      local slept = fake_ngx("content")
      assert.equal("blocking", clock.strategy())
      extruct.sleep(0.01)
      assert.same({}, slept)
    end)

    it("is what a wait sleeps with", function()
      fixture.mock:add_table{ id = "tbl_ngx", polls = 3 }
      local slept = fake_ngx("content")
      local t = in_coroutine(function() return fixture.client:wait_until_idle("tbl_ngx", { interval = 0.05 }) end)
      assert.is_true(extruct.is_idle(t))
      assert.equal(2, #slept)
      assert.is_true(slept[1] > 0.03 and slept[1] <= 0.05 and slept[2] > 0.03 and slept[2] <= 0.05)
      assert.equal(3, #fixture.mock:requests())
    end)
  end)

  describe("inside Neovim", function()
    local clock = require("extruct.clock")

    it("yields a coroutine to the main loop and resumes it from a timer", function()
      local fake = fake_vim()
      local steps = {}
      local started = extruct.now()
      local co = extruct.async(function()
        steps[#steps + 1] = "start"
        assert.equal("nvim", clock.strategy())
        extruct.sleep(0.05)
        steps[#steps + 1] = "after 0.05"
        extruct.sleep(0.08)
        steps[#steps + 1] = "after 0.08"
      end)
      -- extruct.async returned at the first sleep, with a timer pending
      assert.same({ "start" }, steps)
      assert.equal("suspended", coroutine.status(co))
      assert.same({ 50 }, delays(fake.timers))
      assert.equal(2, fake.run_timers())
      assert.same({ "start", "after 0.05", "after 0.08" }, steps)
      assert.equal("dead", coroutine.status(co))
      assert.is_true(extruct.now() - started >= 0.13)
      assert.same({}, fake.notes)
    end)

    it("sleeps the rest when a timer fires early", function()
      local fake = fake_vim(0.04)
      local started, slept = extruct.now(), nil
      extruct.async(function()
        extruct.sleep(0.1)
        slept = extruct.now() - started
      end)
      assert.equal(2, fake.run_timers())
      assert.is_true(slept >= 0.1, tostring(slept))
    end)

    it("blocks in C on the main thread, which cannot yield", function()
      local fake = fake_vim()
      assert.equal("blocking", clock.strategy())
      local started = extruct.now()
      extruct.sleep(0.05)
      assert.is_true(extruct.now() - started >= 0.05)
      assert.same({}, fake.timers)
    end)

    it("keeps sleeping when something else resumes the coroutine early", function()
      local fake = fake_vim()
      local woke = false
      local co = extruct.async(function()
        extruct.sleep(0.03)
        woke = true
      end)
      coroutine.resume(co)
      coroutine.resume(co)
      assert.is_false(woke)
      assert.equal(1, #fake.timers)
      fake.run_timers()
      assert.is_true(woke)
    end)

    it("a wait in extruct.async polls from timers, leaving the editor free between polls", function()
      fixture.mock:add_table{ id = "tbl_nvim", polls = 3 }
      local fake = fake_vim()
      local outcome
      extruct.async(function()
        return fixture.client:wait_until_idle("tbl_nvim", { interval = 0.05 })
      end, function(...) outcome = pack(...) end)
      -- one poll made, then control came back to the "editor"
      local polls_before_loop = #fixture.mock:requests()
      assert.is_nil(outcome)
      assert.same({ 50 }, delays(fake.timers))
      assert.equal(2, fake.run_timers())
      assert.equal(1, polls_before_loop)
      assert.equal(3, #fixture.mock:requests())
      assert.is_true(outcome[1])
      assert.is_true(extruct.is_idle(outcome[2]))
    end)

    it("an error in a coroutine nobody awaits goes to vim.notify, with a traceback", function()
      local fake = fake_vim()
      extruct.async(function()
        extruct.sleep(0.03)
        error("boom after sleeping")
      end)
      fake.run_timers()
      assert.equal(1, #fake.notes)
      assert.equal(4, fake.notes[1].level)
      assert.matches("extruct.async: .*boom after sleeping", fake.notes[1].message)
      assert.matches("traceback", fake.notes[1].message)
    end)

    it("an error reaches on_done when there is one", function()
      local fake = fake_vim()
      local outcome
      extruct.async(function()
        extruct.sleep(0.03)
        error({ code = 7 })
      end, function(...) outcome = pack(...) end)
      fake.run_timers()
      assert.same({}, fake.notes)
      assert.is_false(outcome[1])
      assert.same({ code = 7 }, outcome[2])
    end)
  end)
end)

describe("extruct.async without a host", function()
  it("runs fn to its end at once and hands on_done its results", function()
    local outcome
    local co = extruct.async(function()
      extruct.sleep(0.01)
      return 1, nil, "three"
    end, function(...) outcome = pack(...) end)
    assert.equal("dead", coroutine.status(co))
    assert.same({ n = 4, true, 1, nil, "three" }, outcome)
  end)

  it("runs fn inside a coroutine that can yield", function()
    local inside
    local co = extruct.async(function()
      inside = coroutine.running()
      coroutine.yield("paused")
    end)
    assert.equal(co, inside)
    assert.equal("suspended", coroutine.status(co))
  end)

  it("raises an error nobody awaits, from where the coroutine was resumed", function()
    local ok, message = pcall(extruct.async, function() error("lost?") end)
    assert.is_false(ok)
    assert.matches("extruct.async: .*lost%?", message)
    local outcome
    extruct.async(function() error("kept") end, function(...) outcome = pack(...) end)
    assert.is_false(outcome[1])
    assert.matches("kept", outcome[2])
  end)

  it("raises on misuse", function()
    assert.error_matches(function() extruct.async() end, "extruct.async: expected a function, got nil", nil, true)
    assert.error_matches(function() extruct.async(print, "not a function") end,
      "extruct.async: on_done must be a function, got string", nil, true)
  end)
end)

describe("injected clocks", function()
  local fixture = helpers.mock_and_client()

  it("a wait polls on the injected clock: exact polls, exact sleeps", function()
    fixture.mock:add_table{ id = "tbl_long", polls = 100000 }
    local fake = helpers.fake_clock(1000)
    local t, err = fixture.client:wait_until_idle("tbl_long", {
      interval = 5, timeout = 20, sleep = fake.sleep, now = fake.now,
    })
    assert.is_nil(t)
    assert.equal("timeout", err.kind)
    assert.same({ 5, 5, 5, 5 }, fake.slept)
    assert.equal(1020, fake.time)
    assert.equal(5, #fixture.mock:requests()) -- at 0, 5, 10, 15 and the deadline, 20
  end)

  it("the client's sleep and now serve every wait; a call's own override them", function()
    fixture.mock:add_table{ id = "tbl_long", polls = 100000 }
    local client_clock, call_clock = helpers.fake_clock(1000), helpers.fake_clock(1000)
    local client = fixture:new_client{ sleep = client_clock.sleep, now = client_clock.now }
    local _, err = client:wait_until_idle("tbl_long", { interval = 60, timeout = 150 })
    assert.equal("timeout", err.kind)
    assert.same({ 60, 60, 30 }, client_clock.slept)
    _, err = client:wait_until_idle("tbl_long", {
      interval = 1, timeout = 2, sleep = call_clock.sleep, now = call_clock.now })
    assert.equal("timeout", err.kind)
    assert.same({ 1, 1 }, call_clock.slept)
    assert.same({ 60, 60, 30 }, client_clock.slept)
    assert.equal(4 + 3, #fixture.mock:requests())
  end)

  it("raises on a sleep or now that is not a function", function()
    assert.error_matches(function() extruct.new{ sleep = 1 } end,
      "extruct.new: option 'sleep' must be a function(seconds)", nil, true)
    assert.error_matches(function() extruct.new{ now = "monotonic" } end,
      "extruct.new: option 'now' must be a function returning monotonic seconds", nil, true)
    assert.error_matches(function() fixture.client:wait_until_idle("tbl_idle", { sleep = true }) end,
      "extruct.wait_until_idle: option 'sleep' must be a function(seconds)", nil, true)
  end)
end)
