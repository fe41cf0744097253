-- Runs the conformance cases (spec/support/conformance_cases.lua) through
-- one transport, wherever this runs: in the busted process (libcurl in
-- plain Lua) or in a content handler of nginx (libcurl, or cosockets). Each
-- case gets a client of its own; its outcome is a table the spec judges
-- against the case's expectation (M.judge), the same for every transport.
local extruct = require("extruct")
local cases = require("spec.support.conformance_cases")

local M = {}

-- ctx: origin (the server's URL), transport ("curl" or "cosocket"), run (a
-- word that keeps this run's requests apart from another's on the
-- server), blocking (true where a request blocks the whole process: a
-- concurrent case cannot happen there).
function M.run(case, ctx)
  if case.concurrent and ctx.blocking then
    return { skipped = "libcurl blocks nginx's worker for a request: no other code can run meanwhile to close"
      .. " the client" }
  end
  local function new_client(options)
    local all = { base_url = ctx.origin, token = "conformance-token", retries = 0, timeout = case.timeout or 3,
                  connect_timeout = 2, transport = ctx.transport, max_response_size = case.max_response_size }
    for name, value in pairs(options or {}) do all[name] = value end
    return extruct.new(all)
  end
  local client = new_client()
  local path = "/case/" .. case.name .. "?run=" .. ctx.run
  local outcome
  if case.run then
    outcome = case.run(client, path, { sleep = extruct.sleep, gather = extruct.gather,
                                       busy = require("extruct.core").sleep, client = new_client })
  else
    local v, err = client:request(case.method or "GET", path, { body = case.body })
    if v ~= nil then
      outcome = { value = v }
    else
      outcome = { kind = err.kind, message = err.message, status = err.status }
    end
  end
  if case.expect.headers then
    outcome.headers = {}
    local headers = client.last_response and client.last_response.headers or {}
    for name in pairs(case.expect.headers) do outcome.headers[name] = headers[name] or false end
  end
  client:close()
  return outcome
end

--- Every case through one transport: name -> outcome (an error a case
--- raised is its outcome too).
function M.run_all(ctx)
  local outcomes = {}
  for _, case in ipairs(cases.CASES) do
    local ok, outcome = pcall(M.run, case, ctx)
    outcomes[case.name] = ok and outcome or { raised = tostring(outcome) }
  end
  return outcomes
end

-- Whether a and b hold the same data (metatables aside: a value may have
-- crossed JSON on its way here).
local function same(a, b)
  if type(a) ~= "table" or type(b) ~= "table" then return a == b end
  for k, v in pairs(a) do if not same(v, b[k]) then return false end end
  for k in pairs(b) do if a[k] == nil then return false end end
  return true
end

local function show(v)
  if type(v) ~= "table" then return tostring(v) end
  local keys, parts = {}, {}
  for k in pairs(v) do keys[#keys + 1] = k end
  table.sort(keys, function(x, y) return tostring(x) < tostring(y) end)
  for _, k in ipairs(keys) do parts[#parts + 1] = tostring(k) .. "=" .. show(v[k]) end
  return "{" .. table.concat(parts, ", ") .. "}"
end
M.show = show

--- nil when the outcome is what the case expects, else what differs.
function M.judge(case, outcome)
  local expect = case.expect
  if outcome.raised then return "raised: " .. outcome.raised end
  if expect.value ~= nil then
    if outcome.value == nil then
      return ("expected the value %s, got %s: %s"):format(show(expect.value), tostring(outcome.kind),
        tostring(outcome.message))
    end
    if not same(expect.value, outcome.value) then
      return ("expected the value %s, got %s"):format(show(expect.value), show(outcome.value))
    end
  else
    if outcome.kind ~= expect.kind then
      return ("expected a %s error, got %s"):format(expect.kind,
        outcome.kind and (outcome.kind .. ": " .. tostring(outcome.message)) or ("the value " .. show(outcome.value)))
    end
    if expect.words and not tostring(outcome.message):find(expect.words, 1, true) then
      return ("expected the words %q in %q"):format(expect.words, tostring(outcome.message))
    end
    if expect.status and outcome.status ~= expect.status then
      return ("expected status %d, got %s"):format(expect.status, tostring(outcome.status))
    end
  end
  for name, want in pairs(expect.headers or {}) do
    local got = outcome.headers and outcome.headers[name]
    if got ~= want then
      return ("expected the header %s to be %s, got %s"):format(name, tostring(want), tostring(got))
    end
  end
  return nil
end

return M
