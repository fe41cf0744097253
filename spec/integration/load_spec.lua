-- Requests above the per-host cap, in real time: 40 GETs to a server that
-- answers each in exactly 1.0 s, with timeout = 1.5. 16 go at once (at
-- most 16 requests of a client to one host), the others wait for a
-- connection without their timeout counting, and all 40 are answered in
-- three waves (about 3 s). Before, the wait counted: 16 answered, 24 timed
-- out, 8 of them never sent.
local helpers = require("spec.helpers")
local extruct = require("extruct")

describe("40 requests to one host, each answered in 1.0 s, timeout = 1.5", function()
  local fixture = helpers.shared_mock()

  it("are all answered: 16 at a time, the rest waiting for a connection off the clock", function()
    local client = helpers.client(fixture.mock, { retries = 0, timeout = 1.5 })
    fixture.mock:fault{ count = 40, delay = 1.0, path = "/v1/tables/" }
    local fns = {}
    for i = 1, 40 do fns[i] = function() return client:get_table("tbl_idle") end end
    local results = extruct.gather(fns, { concurrency = 40 })
    local answered, failures = 0, {}
    for _, r in ipairs(results) do
      if r[1] and r[1].id == "tbl_idle" then answered = answered + 1 else failures[#failures + 1] = tostring(r[2]) end
    end
    assert.same({}, failures)
    assert.equal(40, answered)
    assert.equal(40, #fixture.mock:requests()) -- each sent once
    assert.equal(16, fixture.mock:stats().max_in_flight)
    client:close()
  end)
end)
