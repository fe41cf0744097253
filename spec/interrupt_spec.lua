-- Ctrl-C in a script: after extruct.on_interrupt("cancel"), a real SIGINT
-- sent to this process (by a shell of the spec's own, once the mock shows
-- the moment has come) ends what is in flight: a request the mock holds
-- back, a retry's pause, a wait between polls, the tasks of a gather. The
-- command line, a second Ctrl-C and a real terminal are in
-- integration/interrupt_spec.
local core = require("extruct.core")
local extruct = require("extruct")
local helpers = require("spec.helpers")

local q = helpers.shell_quote

-- Sends SIGINT to this process once the mock's /_mock/stats matches the
-- extended regular expression `pattern` (bounded: after about 10 s it is
-- sent anyway, and the test then fails on what it sees). Returns a
-- function that waits until it was sent.
local function interrupt_when(mock, pattern)
  local flag = os.tmpname()
  os.remove(flag)
  local agent = [[
i=0
while [ $i -lt 200 ]; do
  curl -s -m 1 "$1/_mock/stats" | grep -Eq "$2" && break
  i=$((i + 1))
  sleep 0.05
done
kill -INT "$0"
: >"$3"]]
  -- ($PPID, expanded by the shell os.execute starts: this process)
  assert(os.execute(("env -u LD_PRELOAD sh -c %s \"$PPID\" %s %s %s &"):format(q(agent), q(mock.url), q(pattern),
    q(flag))))
  return function()
    assert(helpers.eventually(15, function() return io.open(flag, "rb") ~= nil end), "the interrupt was not sent")
    os.remove(flag)
  end
end

local IN_FLIGHT = '"in_flight":1,'
local function requests(n) return ('"requests":%d}'):format(n) end

describe("extruct.on_interrupt", function()
  it("takes \"cancel\" or \"default\", and raises at the caller's line otherwise", function()
    local ok, message = pcall(function() extruct.on_interrupt("stop") end)
    assert.is_false(ok)
    assert.matches("^spec/interrupt_spec.lua:%d+: extruct.on_interrupt: expected \"cancel\" or \"default\","
      .. " got \"stop\"$", message)
    assert.error_matches(function() extruct.on_interrupt() end,
      "extruct.on_interrupt: expected \"cancel\" or \"default\", got nil", nil, true)
    assert.is_false(core.interrupt_armed())
    assert.is_true(extruct.on_interrupt("default")) -- nothing installed: nothing to put back
    assert.is_true(extruct.on_interrupt("cancel"))
    assert.is_true(core.interrupt_armed())
    assert.is_false(extruct.interrupted())
    assert.is_true(extruct.on_interrupt("default"))
    assert.is_false(core.interrupt_armed())
  end)

  it("never takes SIGINT from Neovim or nginx", function()
    for _, case in ipairs({ { "vim", { api = {} }, "Neovim" }, { "ngx", { get_phase = function() return "content" end },
                                                                   "nginx" } }) do
      rawset(_G, case[1], case[2])
      local ok, err = pcall(extruct.on_interrupt, "cancel")
      rawset(_G, case[1], nil)
      assert.is_false(ok)
      assert.matches("extruct.on_interrupt: " .. case[3] .. " handles Ctrl%-C %(SIGINT%) itself", err)
      assert.is_false(core.interrupt_armed())
    end
  end)
end)

describe("the core's SIGINT handler in a host with one of its own", function()
  it("takes Ctrl-C only while armed, and gives it back on restore and when the last state closes", function()
    local host, why = helpers.built_host("signal_host")
    assert(host, why)
    local out, status = helpers.run(q(host))
    assert.equal(0, status, out)
    assert.equal(table.concat({
      "ok armed",
      "ok Ctrl-C goes to extruct, not to the host",
      "ok restored: no interrupt recorded",
      "ok the host's handler is back",
      "ok armed again in a",
      "ok armed in b too",
      "ok a closed, b still holds it: extruct's",
      "ok armed afresh in b",
      "ok the last state closed: the host's handler is back",
    }, "\n") .. "\n", out)
  end)
end)

describe("Ctrl-C after extruct.on_interrupt(\"cancel\")", function()
  local mock, client, sent
  local fixture = helpers.mock_and_client{ client = { timeout = 20, retries = 3 } }

  before_each(function()
    mock, client = fixture.mock, fixture.client
    assert(extruct.on_interrupt("cancel"))
  end)

  after_each(function()
    if sent then sent() end
    sent = nil
    extruct.on_interrupt("default")
  end)

  it("ends a request in flight, not retried, and the next begun before arming again fails at once", function()
    mock:fault{ path = "/v1/tables/tbl_demo", delay = 60 }
    sent = interrupt_when(mock, IN_FLIGHT)
    local t, err = client:get_table("tbl_demo")
    assert.is_nil(t)
    assert.equal("cancelled", err.kind)
    assert.is_true(err.interrupted)
    assert.equal(1, err.attempts)
    assert.equal(mock.url .. "/v1/tables/tbl_demo", err.url)
    assert.equal("GET " .. mock.url .. "/v1/tables/tbl_demo: interrupted (Ctrl-C) while the request was in flight",
      err.message)
    assert.is_true(extruct.interrupted())

    sent()
    sent = nil
    local before = #mock:requests()
    t, err = client:get_table("tbl_idle")
    assert.is_nil(t)
    assert.equal("cancelled", err.kind)
    assert.is_true(err.interrupted)
    assert.matches("interrupted %(Ctrl%-C%) before the request was sent$", err.message)
    assert.equal(before, #mock:requests(), "nothing was sent")

    -- armed again, the same client goes on
    assert(extruct.on_interrupt("cancel"))
    assert.is_false(extruct.interrupted())
    assert.equal("tbl_idle", assert(client:get_table("tbl_idle")).id)
  end)

  it("ends a retry's pause", function()
    mock:fault{ path = "/v1/user", status = 503, retry_after = 25, count = 4 }
    sent = interrupt_when(mock, requests(1))
    local user, err = client:get_user()
    assert.is_nil(user)
    assert.equal("cancelled", err.kind)
    assert.is_true(err.interrupted)
    assert.equal(1, err.attempts)
    assert.matches("^interrupted %(Ctrl%-C%) in the pause before attempt 2; the last attempt: server: ", err.message)
    assert.equal(1, #mock:requests())
  end)

  it("ends a wait between polls, with the last table seen", function()
    mock:add_table{ id = "tbl_long", polls = 1000 }
    sent = interrupt_when(mock, requests(1))
    local started = extruct.now()
    local t, err = client:wait_until_idle("tbl_long", { interval = 30 })
    assert.is_true(extruct.now() - started < 20, "the 30 s pause was cut short")
    assert.is_nil(t)
    assert.equal("cancelled", err.kind)
    assert.is_true(err.interrupted)
    assert.equal("waiting for table 'tbl_long' was interrupted (Ctrl-C)", err.message)
    assert.equal("tbl_long", err.last.id)
    assert.equal("running", err.last.status.run_status)
  end)

  it("ends every task of a gather: the requests, the sleeps, the waits of wait_all", function()
    mock:add_table{ id = "tbl_a", polls = 1000 }
    mock:add_table{ id = "tbl_b", polls = 1000 }
    mock:fault{ path = "/v1/tables/tbl_demo", delay = 60 }
    -- (once both tables were polled, the slow request still in flight)
    sent = interrupt_when(mock, IN_FLIGHT .. '.*' .. requests(3))
    local started = extruct.now()
    local results = extruct.gather{
      function() return client:get_table("tbl_demo") end,
      function()
        extruct.sleep(30)
        return extruct.interrupted()
      end,
      function() return client:wait_all({ "tbl_a", "tbl_b" }, { interval = 30 }) end,
    }
    assert.is_true(extruct.now() - started < 20, "the 30 s pauses were cut short")
    assert.is_nil(results[1][1])
    assert.equal("cancelled", results[1][2].kind)
    assert.is_true(results[1][2].interrupted)
    assert.is_true(results[2][1])
    local err = results[3][2]
    assert.equal("cancelled", err.kind)
    assert.is_true(err.interrupted)
    assert.matches("^waiting for table 'tbl_[ab]' was interrupted %(Ctrl%-C%)$", err.message)
    assert.equal("running", err.tables.tbl_a.status.run_status)
  end)

  it("ends a sleep outside any task", function()
    sent = interrupt_when(mock, "in_flight")
    local started = extruct.now()
    extruct.sleep(30)
    assert.is_true(extruct.now() - started < 20, "the 30 s sleep was cut short")
    assert.is_true(extruct.interrupted())
  end)
end)
