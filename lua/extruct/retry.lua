-- Retry policy: which failures deserve another attempt, and how long to
-- pause before it. Client:request runs the loop; this file only decides.

local core = require("extruct.core")

local M = {}

M.DEFAULT_RETRIES = 3
M.DEFAULT_BACKOFF = { base = 0.5, cap = 30 }

-- Failures that another attempt may well not meet: the network, a slow or
-- failing server, a rate limit. Everything else is an answer that will not
-- change (auth, payment, not_found, validation, other 4xx), a problem on
-- this side (config), or a complete 2xx body that is not the JSON promised
-- (decode): a body cut short arrives as "network", since libcurl checks the
-- response's framing, so a decode error is what the server really sent.
local TRANSIENT = { network = true, timeout = true, server = true, rate_limit = true }

function M.is_transient(err)
  return TRANSIENT[err.kind] == true
end

-- Failures no rule may retry, a call's retry_if included: Extruct's word is
-- that a 402 (plan_required, payment_failed, insufficient_credits) is never
-- retried; the same request would be refused the same way, and a paid
-- operation must not run twice.
local NEVER = { payment = true }

--- Whether a failed attempt may be made again: never for NEVER's kinds;
--- otherwise as the call's retry_if says, else when the failure is transient.
function M.retriable(err, retry_if)
  if NEVER[err.kind] then return false end
  return (retry_if or M.is_transient)(err) and true or false
end

-- Methods that HTTP defines as safe to repeat and that the API uses to read.
local IDEMPOTENT = { GET = true, HEAD = true, OPTIONS = true }

--- Whether a request may be sent again: its method is idempotent, or the
--- caller says so (`idempotent = true` for a POST the API allows to repeat,
--- `false` to forbid retries of a GET).
function M.may_repeat(method, idempotent)
  if idempotent ~= nil then return idempotent end
  return IDEMPOTENT[method] == true
end

--- The backoff of a call: its own fields, else the client's, else the defaults.
function M.backoff(call, client)
  call, client = call or {}, client or {}
  return {
    base = call.base or client.base or M.DEFAULT_BACKOFF.base,
    cap = call.cap or client.cap or M.DEFAULT_BACKOFF.cap,
  }
end

--- Checks a backoff option: a table with `base` and/or `cap`, positive
--- numbers of seconds, and nothing else.
function M.valid_backoff(value)
  if type(value) ~= "table" then return false end
  for key, seconds in pairs(value) do
    if (key ~= "base" and key ~= "cap") or type(seconds) ~= "number"
      or not (seconds > 0 and seconds < math.huge) then
      return false
    end
  end
  return true
end

-- Jitter needs randomness that differs from process to process: clients
-- started together after an outage must not retry in step. math.random is
-- the same sequence in every unseeded LuaJIT process, and reseeding it would
-- meddle with the application's own, so this is a Park-Miller generator
-- (exact in doubles) of our own, seeded from the clock and an address.
local state
local function random()
  if state == nil then
    local address = tonumber(tostring({}):match("0x(%x+)") or "0", 16) or 0
    state = (math.floor(core.monotime() * 1e6) + address) % 2147483646 + 1
  end
  state = state * 16807 % 2147483647
  return state / 2147483647
end

--- The pause before the attempt that follows failed attempt number
--- `attempt`: the server's Retry-After when it sent one, else exponential
--- backoff with full jitter (uniform in 0 .. min(cap, base * 2^(attempt-1))).
--- Returns nil and the reason when waiting is not worth it: a Retry-After
--- beyond the backoff cap (a server asking for minutes is not having a
--- blip), or a pause that would end past `deadline` (a time on `now`).
function M.pause(attempt, err, backoff, now, deadline)
  local seconds
  if err.retry_after then
    if err.retry_after > backoff.cap then
      return nil, ("the server asked to wait %g s, more than the backoff cap of %g s"):format(
        err.retry_after, backoff.cap)
    end
    seconds = err.retry_after
  else
    seconds = random() * math.min(backoff.cap, backoff.base * 2 ^ (attempt - 1))
  end
  if deadline and now() + seconds > deadline then
    return nil, "the deadline comes first"
  end
  return seconds
end

--- Records on the error how many attempts were made (and why retrying
--- stopped early, if it did).
function M.tally(err, attempts, why_not)
  err.attempts = attempts
  local notes = {}
  if attempts > 1 then notes[#notes + 1] = ("after %d attempts"):format(attempts) end
  if why_not then notes[#notes + 1] = "not retried: " .. why_not end
  if #notes > 0 then
    err.message = err.message .. " (" .. table.concat(notes, "; ") .. ")"
  end
  return err
end

return M
