-- Retries of idempotent requests, counted at the mock server.

local extruct = require("extruct")
local helpers = require("spec.helpers")

describe("retries", function()
  local mock, fake, client
  local fixture = helpers.mock_and_client{ fake_clock = 0 }
  before_each(function() mock, client, fake = fixture.mock, fixture.client, fixture.clock end)

  local function count() return #mock:requests() end

  it("a GET that meets transient failures is retried until it succeeds", function()
    mock:fault{ status = 503, count = 2 }
    local t = assert(client:get_table("tbl_demo"))
    assert.equal("tbl_demo", t.id)
    assert.equal(3, count())
    assert.equal(2, #fake.slept)
  end)

  it("stops after `retries` retries: retries + 1 requests, and err.attempts says so", function()
    mock:fault{ status = 500, count = 100 }
    local t, err = client:get_table("tbl_demo")
    assert.is_nil(t)
    assert.equal("server", err.kind)
    assert.equal(4, err.attempts) -- the default: 3 retries
    assert.equal(4, count())
    assert.matches("[HTTP 500] (after 4 attempts)", err.message, 1, true)
    assert.matches("after 4 attempts", tostring(err), 1, true)

    mock:reset()
    mock:fault{ status = 500, count = 100 }
    t, err = client:get_table("tbl_demo", { retries = 1 })
    assert.is_nil(t)
    assert.equal(2, err.attempts)
    assert.equal(2, count())

    mock:reset()
    mock:fault{ status = 500, count = 100 }
    local patient = helpers.client(mock, { retries = 6, sleep = fake.sleep, now = fake.now })
    t, err = patient:get_table("tbl_demo")
    assert.is_nil(t)
    patient:close()
    assert.equal(7, err.attempts)
    assert.equal(7, count())
  end)

  it("retries = 0 sends one request and says nothing of attempts in the message", function()
    mock:fault{ status = 502, count = 5 }
    local _, err = client:get_table("tbl_demo", { retries = 0 })
    assert.equal(1, err.attempts)
    assert.equal(1, count())
    assert.is_nil(err.message:find("attempts", 1, true))
    assert.same({}, fake.slept)
  end)

  it("never retries an answer that will not change: 400, 401, 402, 403, 404, 409, 422", function()
    for _, status in ipairs({ 400, 401, 402, 403, 404, 409, 422 }) do
      mock:reset()
      mock:fault{ status = status, count = 10 }
      local _, err = client:get_table("tbl_demo")
      assert.equal(status, err.status)
      assert.equal(1, err.attempts, status)
      assert.equal(1, count(), status)
    end
    mock:reset()
    local _, err = client:get_table("tbl_nope") -- a real 404
    assert.equal("not_found", err.kind)
    assert.equal(1, count())
    assert.same({}, fake.slept)
  end)

  it("never retries a 402, whatever the call says: not when idempotent, not when its retry_if would", function()
    local body = '{"detail":{"error":"insufficient_credits","required_credits":5,"available_credits":0}}'
    mock:fault{ status = 402, body = body, count = 10 }
    local _, err = client:request("POST", "/v1/tables", { body = "{}", idempotent = true, retries = 5 })
    assert.equal("payment", err.kind)
    assert.equal("insufficient_credits", err.code)
    assert.equal(1, err.attempts)
    local asked = 0
    _, err = client:request("GET", "/v1/tables/tbl_demo", {
      retry_if = function() asked = asked + 1; return true end, retries = 5,
    })
    assert.equal(1, err.attempts)
    assert.equal(0, asked)
    _, err = client:get_table("tbl_demo", { retries = 5 })
    assert.equal(1, err.attempts)
    assert.equal(3, count())
    assert.same({}, fake.slept)
  end)

  it("does not retry a 2xx body that is not JSON: it is what the server sent", function()
    for _, mode in ipairs({ "invalid_json", "html", "empty" }) do
      mock:reset()
      mock:fault{ mode = mode, count = 10 }
      local _, err = client:get_table("tbl_demo")
      assert.equal("decode", err.kind, mode)
      assert.equal(1, count(), mode)
    end
  end)

  it("retries a body cut short and a dropped connection (network errors)", function()
    mock:fault{ mode = "truncate", count = 1 }
    mock:fault{ mode = "drop", count = 2 }
    assert.equal("tbl_demo", assert(client:get_table("tbl_demo")).id)
    assert.equal(4, count())
  end)

  it("retries a refused connection, then reports how often it tried", function()
    local port = helpers.closed_port()
    local nobody = extruct.new{ token = "x", base_url = "http://127.0.0.1:" .. port,
                                retries = 2, sleep = fake.sleep, now = fake.now }
    local _, err = nobody:get_table("tbl_demo")
    nobody:close()
    assert.equal("network", err.kind)
    assert.equal(3, err.attempts)
    assert.equal(2, #fake.slept)
    assert.matches("after 3 attempts", err.message, 1, true)
  end)

  it("retries a request that timed out", function()
    local impatient = helpers.client(mock, { timeout = 0.3, sleep = fake.sleep, now = fake.now })
    mock:fault{ delay = 2, count = 1 }
    local t = assert(impatient:get_table("tbl_demo"))
    impatient:close()
    assert.equal("tbl_demo", t.id)
    assert.equal(2, count())
  end)

  it("retries 429 (rate_limit)", function()
    mock:fault{ status = 429, count = 3 }
    assert(client:get_table("tbl_demo"))
    assert.equal(4, count())
  end)

  describe("methods", function()
    it("does not retry a POST unless the call says it is idempotent", function()
      mock:fault{ status = 503, count = 100, path = "/v1/tables" }
      local _, err = client:request("POST", "/v1/tables", { body = "{}" })
      assert.equal("server", err.kind)
      assert.equal(1, err.attempts)
      assert.equal(1, count())

      _, err = client:request("POST", "/v1/tables", { body = "{}", idempotent = true, retries = 2 })
      assert.equal(3, err.attempts)
      assert.equal(4, count())
      for _, request in ipairs(mock:requests()) do
        assert.equal("POST", request.method)
        assert.equal("{}", request.body)
      end
    end)

    it("a GET can opt out", function()
      mock:fault{ status = 503, count = 100 }
      local _, err = client:request("GET", "/v1/tables/tbl_demo", { idempotent = false })
      assert.equal(1, err.attempts)
      assert.equal(1, count())
    end)

    it("counts GET, HEAD and OPTIONS as idempotent, nothing else unless told", function()
      local retry = require("extruct.retry")
      for _, method in ipairs({ "GET", "HEAD", "OPTIONS" }) do assert.is_true(retry.may_repeat(method), method) end
      for _, method in ipairs({ "POST", "PUT", "PATCH", "DELETE" }) do
        assert.is_false(retry.may_repeat(method), method)
        assert.is_true(retry.may_repeat(method, true), method)
      end
      assert.is_false(retry.may_repeat("GET", false))
    end)
  end)

  describe("Retry-After", function()
    it("waits what the server asks, really", function()
      local real = helpers.client(mock, { backoff = { base = 0.01 } })
      mock:fault{ status = 429, retry_after = "1", count = 1 }
      local started = extruct.now()
      local t = assert(real:get_table("tbl_demo"))
      local elapsed = extruct.now() - started
      real:close()
      assert.equal("tbl_demo", t.id)
      assert.equal(2, count())
      assert.is_true(elapsed >= 1, "retried after " .. elapsed .. " s")
    end)

    it("asks the sleep for exactly the server's seconds", function()
      mock:fault{ status = 503, retry_after = "7", count = 2 }
      assert(client:get_table("tbl_demo"))
      assert.same({ 7, 7 }, fake.slept)
      assert.equal(3, count())
    end)

    it("reads an HTTP date", function()
      local when = os.date("!%a, %d %b %Y %H:%M:%S GMT", os.time() + 4)
      mock:fault{ status = 503, retry_after = when, count = 1 }
      assert(client:get_table("tbl_demo"))
      assert.equal(1, #fake.slept)
      -- whole seconds from the wall clock, read a moment after the date was made
      assert.is_true(fake.slept[1] >= 2 and fake.slept[1] <= 4, tostring(fake.slept[1]))
    end)

    it("gives up at once when the server asks for longer than the backoff cap", function()
      mock:fault{ status = 503, retry_after = "120", count = 10 }
      local _, err = client:get_table("tbl_demo")
      assert.equal("server", err.kind)
      assert.equal(120, err.retry_after)
      assert.equal(1, err.attempts)
      assert.equal(1, count())
      assert.same({}, fake.slept)
      assert.matches("not retried: the server asked to wait 120 s, more than the backoff cap of 30 s",
        err.message, 1, true)
      -- a cap that allows it: the wait happens
      mock:reset()
      mock:fault{ status = 503, retry_after = "120", count = 1 }
      assert(client:get_table("tbl_demo", { backoff = { cap = 300 } }))
      assert.same({ 120 }, fake.slept)
    end)

    it("is not waited past a request's deadline", function()
      mock:fault{ status = 503, retry_after = "5", count = 10 }
      local _, err = client:request("GET", "/v1/tables/tbl_demo", { deadline = fake.now() + 4 })
      assert.equal(1, err.attempts)
      assert.matches("not retried: the deadline comes first", err.message, 1, true)
      assert.same({}, fake.slept)
    end)
  end)

  describe("backoff", function()
    it("grows exponentially with full jitter, never past the cap", function()
      mock:fault{ status = 500, count = 1000 }
      local base, cap, retries = 0.25, 4, 40
      local _, err = client:get_table("tbl_demo", { retries = retries, backoff = { base = base, cap = cap } })
      assert.equal(retries + 1, err.attempts)
      assert.equal(retries, #fake.slept)
      local low, high = 0, 0
      for n, delay in ipairs(fake.slept) do
        local bound = math.min(cap, base * 2 ^ (n - 1))
        assert.is_true(delay >= 0 and delay <= bound, ("delay %d: %g > %g"):format(n, delay, bound))
        if n > 5 then -- capped: uniform in 0 .. cap
          if delay < cap / 2 then low = low + 1 else high = high + 1 end
        end
      end
      -- jittered, not a fixed schedule (35 fair coin flips all alike: 2^-34)
      assert.is_true(low > 0 and high > 0, ("%d low, %d high"):format(low, high))
    end)

    it("defaults to base 0.5 s and cap 30 s", function()
      assert.same({ base = 0.5, cap = 30 }, client.backoff)
      assert.equal(3, client.retries)
      mock:fault{ status = 500, count = 1000 }
      client:get_table("tbl_demo", { retries = 12 })
      for n, delay in ipairs(fake.slept) do
        assert.is_true(delay <= math.min(30, 0.5 * 2 ^ (n - 1)), tostring(delay))
      end
      local partial = helpers.client(mock, { backoff = { cap = 2 } })
      assert.same({ base = 0.5, cap = 2 }, partial.backoff)
      partial:close()
    end)
  end)

  it("raises on bad retry options", function()
    assert.error_matches(function() extruct.new{ retries = -1 } end,
      "extruct.new: option 'retries' must be a whole number >= 0 (retries after the first attempt)", nil, true)
    assert.error_matches(function() extruct.new{ retries = 1.5 } end,
      "extruct.new: option 'retries' must be a whole number >= 0 (retries after the first attempt)", nil, true)
    assert.error_matches(function() extruct.new{ retries = "3" } end,
      "extruct.new: option 'retries' must be a whole number >= 0 (retries after the first attempt)", nil, true)
    assert.error_matches(function() extruct.new{ backoff = 1 } end,
      "extruct.new: option 'backoff' must be a table { base = seconds, cap = seconds } of positive numbers", nil, true)
    assert.error_matches(function() extruct.new{ backoff = { base = 0 } } end,
      "extruct.new: option 'backoff' must be a table { base = seconds, cap = seconds } of positive numbers", nil, true)
    assert.error_matches(function() extruct.new{ backoff = { bsae = 1 } } end,
      "extruct.new: option 'backoff' must be a table { base = seconds, cap = seconds } of positive numbers", nil, true)
    assert.error_matches(function() client:get_table("tbl_demo", { retry = 1 }) end,
      "extruct.get_table: unknown option 'retry'", nil, true)
    assert.error_matches(function() client:get_table("tbl_demo", 3) end,
      "extruct.get_table: options must be a table, got number", nil, true)
    assert.error_matches(function() client:request("GET", "/v1/tables/tbl_demo", { idempotent = "yes" }) end,
      "extruct.request: option 'idempotent' must be a boolean", nil, true)
    assert.error_matches(function() client:request("GET", "/v1/tables/tbl_demo", { bogus = 1 }) end,
      "extruct.request: unknown option 'bogus'", nil, true)
    local message = select(2, pcall(function() client:get_table("tbl_demo", { retry = 1 }) end))
    assert.matches("retry_spec%.lua:%d+: extruct%.get_table: unknown option 'retry'", message)
    assert.equal(0, count())
  end)
end)
