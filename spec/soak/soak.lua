-- What the soak's hosts share (spec/soak/run.lua runs them): the faults a
-- plan may hold and what each must come to, the seeded plans, one round of
-- calls through extruct.gather, and the judge of every call against its
-- plan and the server's count of the attempts it received.
--
-- A call is a request for /v1/soak/<id> whose plan names the fault of each
-- attempt (spec/soak/server.lua carries them out): the outcome the client
-- must report follows from the plan and the retry rules alone, so any
-- other outcome is a bug, whatever the load.
local M = {}

-- The clients' settings: each request's own time, retries of a GET, and
-- pauses short enough that a minute holds many rounds.
M.TIMEOUT = 2
M.RETRIES = 2
M.BACKOFF = { base = 0.05, cap = 1.5 }

-- The faults, with how often a plan picks each (weight), what the server
-- does (delay, status, retry_after: spec/soak/server.lua), the error kind
-- the client must report when it is the last attempt's (nil: an answer),
-- and the status of the response the call ends with (nil: none came).
M.STEPS = {
  ok = { weight = 45, status = 200 },
  slow = { weight = 10, delay = 0.3, status = 200 },
  late = { weight = 10, delay = 1.5, status = 200 }, -- (within TIMEOUT, holding a connection long)
  chunked = { weight = 5, status = 200 },
  trickle = { weight = 5, status = 200 },
  redirect = { weight = 4, status = 200 },
  ["500"] = { weight = 3, status = 500, kind = "server" },
  ["502"] = { weight = 2, status = 502, kind = "server" },
  ["503"] = { weight = 2, status = 503, kind = "server" },
  ["503ra"] = { weight = 2, status = 503, retry_after = 1, kind = "server" },
  ["429"] = { weight = 2, status = 429, retry_after = 1, kind = "rate_limit" },
  ["404"] = { weight = 3, status = 404, kind = "not_found" },
  ["409"] = { weight = 2, status = 409, kind = "http" },
  ["422"] = { weight = 2, status = 422, kind = "validation" },
  ["401"] = { weight = 2, status = 401, kind = "auth" },
  truncate = { weight = 3, kind = "network" },
  reset = { weight = 3, kind = "network" },
  close = { weight = 3, kind = "network" },
  stall = { weight = 2, kind = "timeout" },
}
local STEP_NAMES = {}
for name in pairs(M.STEPS) do STEP_NAMES[#STEP_NAMES + 1] = name end
table.sort(STEP_NAMES)

local TRANSIENT = { network = true, timeout = true, server = true, rate_limit = true }

--- A seeded generator of whole numbers (Park-Miller: the same sequence on
--- every interpreter); rng() -> 1 .. 2^31 - 2.
function M.rng(seed)
  local state = math.floor(seed) % 2147483646 + 1
  return function()
    state = state * 16807 % 2147483647
    return state
  end
end

local function pick_step(rng)
  local total = 0
  for _, name in ipairs(STEP_NAMES) do total = total + M.STEPS[name].weight end
  local n = rng() % total
  for _, name in ipairs(STEP_NAMES) do
    n = n - M.STEPS[name].weight
    if n < 0 then return name end
  end
end

--- The steps of a plan's text ("503.ok" -> { "503", "ok" }).
function M.parse_plan(text)
  local plan = {}
  for step in text:gmatch("[^.]+") do
    if M.STEPS[step] then plan[#plan + 1] = step end
  end
  return plan
end

--- `n` calls named prefix..i: a GET (a plan of one to RETRIES + 1 steps)
--- or, one in four, a POST (one step: a POST is not sent again).
function M.calls(rng, prefix, n)
  local calls = {}
  for i = 1, n do
    local method = rng() % 4 == 0 and "POST" or "GET"
    local plan = {}
    for j = 1, method == "GET" and rng() % (M.RETRIES + 1) + 1 or 1 do plan[j] = pick_step(rng) end
    local id = prefix .. i
    calls[i] = { id = id, method = method, plan = plan, plan_text = table.concat(plan, "."),
                 body = method == "POST" and ('{"id":"%s"}'):format(id) or nil }
  end
  return calls
end

--- What a call must come to: { ok, kind, attempts, status } — its answer
--- (ok) or the error kind of the fault that ended it, after how many
--- attempts, and the status of the response it ended with (nil: none).
function M.expect(call)
  local may_repeat = call.method == "GET"
  local attempt = 0
  while true do
    attempt = attempt + 1
    local step = M.STEPS[call.plan[attempt] or "ok"]
    if not step.kind then return { ok = true, attempts = attempt, status = 200 } end
    if not may_repeat or attempt > M.RETRIES or not TRANSIENT[step.kind] then
      return { ok = false, kind = step.kind, attempts = attempt, status = step.status }
    end
  end
end

--- A client for the soak server: its timeout, retries and pauses.
function M.client(extruct, url, extra)
  local opts = { token = "soak-token", base_url = url, timeout = M.TIMEOUT, connect_timeout = M.TIMEOUT,
                 retries = M.RETRIES, backoff = M.BACKOFF }
  for k, v in pairs(extra or {}) do opts[k] = v end
  return extruct.new(opts)
end

--- Makes one call and reads, right after it, the facts of its response
--- (client.last_response); returns the outcome.
function M.perform(client, call, now)
  local started = now()
  -- (a GET's failed attempts before its last are kept, for the examples:
  -- retry_if decides as the usual rule does; a POST is not retried)
  local earlier
  local retry_if = call.method == "GET" and function(err)
    earlier = (earlier and earlier .. "; " or "") .. ("%s at %.3f s: %s"):format(err.kind, now() - started, err.message)
    return TRANSIENT[err.kind] == true
  end or nil
  local value, err = client:request(call.method, "/v1/soak/" .. call.id,
    { query = { plan = call.plan_text }, body = call.body, expect = "object", retry_if = retry_if })
  local elapsed = now() - started
  local last = client.last_response
  return {
    id = call.id, ok = value ~= nil, answer_id = value and value.id or nil,
    kind = err and err.kind or nil, message = err and err.message or nil, attempts = err and err.attempts or nil,
    unsent = err and err.sent == false or nil,
    last_status = last and last.status or false, last_id = last and last.headers["x-soak-id"] or false,
    elapsed = elapsed, earlier = earlier,
  }
end

-- Which client makes the i-th call: four in seven the first, two the
-- second, one the third, so the first often has more than 16 requests to
-- the host in flight and the rest wait for a connection.
local CLIENT_OF = { 1, 2, 1, 3, 1, 2, 1 }

--- The calls through extruct.gather at `concurrency`, spread over three
--- clients (CLIENT_OF); the outcomes in the calls' order (false: none came).
function M.round(extruct, clients, calls, concurrency)
  local fns = {}
  for i, call in ipairs(calls) do
    local client = clients[CLIENT_OF[(i - 1) % #CLIENT_OF + 1]]
    fns[i] = function() return M.perform(client, call, extruct.now) end
  end
  local results = extruct.gather(fns, { concurrency = concurrency })
  local outcomes = {}
  for i = 1, #calls do outcomes[i] = results[i] and results[i][1] or false end
  return outcomes
end

-- The counters of the totals table, in its order, with their labels; the
-- first two count calls that went as planned, the others are failures.
M.COUNTERS = {
  { "answered", "answered (as planned)" },
  { "failed_as_planned", "failed with the injected fault's kind" },
  { "wrong_answer", "answers for another request" },
  { "lost", "lost (no outcome)" },
  { "wrong_facts", "wrong per-call response facts" },
  { "queued", "timeouts while queued" },
  { "unsent", "failures without a server attempt" },
  { "kind_differs", "kind differs from the fault" },
  { "attempts_differ", "attempts differ from the plan" },
  { "time_misreported", "elapsed misreported (>100 ms)" },
}

function M.new_totals()
  local totals = { calls = 0 }
  for _, counter in ipairs(M.COUNTERS) do totals[counter[1]] = 0 end
  return totals
end

local MAX_EXAMPLES = 5

local function count(totals, examples, name, call, outcome, why)
  totals[name] = totals[name] + 1
  examples[name] = examples[name] or {}
  if #examples[name] < MAX_EXAMPLES then
    examples[name][#examples[name] + 1] = ("%s %s plan %s: %s (outcome: %s)"):format(call.method, call.id,
      call.plan_text, why, outcome and (outcome.ok and "answered" or (tostring(outcome.kind) .. ": "
      .. tostring(outcome.message))) or "none")
      .. (outcome and outcome.earlier and (" (earlier attempts: " .. outcome.earlier .. ")") or "")
  end
end

--- Judges each call's outcome against its plan and `seen`, the server's
--- count of its attempts (id -> n), adding to totals (and a few examples
--- of each failure to examples). opts.check_time: a timeout's reported
--- elapsed time must be its real time within 100 ms (one attempt, no
--- queue before it).
function M.judge(calls, outcomes, seen, totals, examples, opts)
  opts = opts or {}
  for i, call in ipairs(calls) do
    totals.calls = totals.calls + 1
    local o, want, attempts_seen = outcomes[i], M.expect(call), seen[call.id] or 0
    local fine = true
    local function fail(name, why)
      fine = false
      count(totals, examples, name, call, o, why)
    end
    if not o then
      fail("lost", "no outcome")
    else
      if o.ok and o.answer_id ~= call.id then fail("wrong_answer", "the answer is " .. tostring(o.answer_id)) end
      if o.ok ~= want.ok or (not o.ok and o.kind ~= want.kind) then
        fail("kind_differs", "planned " .. (want.ok and "an answer" or want.kind))
      end
      local want_id = want.status and call.id or false
      if o.last_status ~= (want.status or false) or o.last_id ~= want_id then
        fail("wrong_facts", ("last_response %s %s, planned %s %s"):format(tostring(o.last_status),
          tostring(o.last_id), tostring(want.status or false), tostring(want_id)))
      end
      if not o.ok and (o.unsent or tostring(o.message):find("for a connection", 1, true)) then
        fail("queued", "waited for a connection")
      end
      if attempts_seen < (o.ok and 1 or (o.attempts or 1)) then
        fail("unsent", ("the server saw %d attempts"):format(attempts_seen))
      elseif attempts_seen ~= want.attempts then
        fail("attempts_differ", ("the server saw %d attempts, planned %d"):format(attempts_seen, want.attempts))
      end
      if opts.check_time and o.kind == "timeout" and o.attempts == 1 then
        local reported = tonumber(tostring(o.message):match("after (%d+) milliseconds"))
        if not reported or math.abs(reported - o.elapsed * 1000) > 100 then
          fail("time_misreported", ("took %d ms"):format(math.floor(o.elapsed * 1000 + 0.5)))
        end
      end
    end
    if fine then
      local name = o.ok and "answered" or "failed_as_planned"
      totals[name] = totals[name] + 1
    end
  end
end

--- Adds totals b into a.
function M.add(a, b)
  for name, n in pairs(b) do a[name] = (a[name] or 0) + n end
  return a
end

---------------------------------------------------------------------------
-- Descriptors and memory
---------------------------------------------------------------------------

--- This process's id.
function M.self_pid()
  local stat = assert(io.open("/proc/self/stat"))
  local pid = stat:read("*l"):match("^(%d+)")
  stat:close()
  return tonumber(pid)
end

--- How many descriptors process `pid` has open.
function M.fd_count(pid)
  local pipe = assert(io.popen("ls /proc/" .. pid .. "/fd 2>/dev/null | wc -l"))
  local n = tonumber(pipe:read("*a"):match("%d+"))
  pipe:close()
  return n
end

--- Process `pid`'s resident memory, in KB (0 if it is gone).
function M.rss_kb(pid)
  local f = io.open("/proc/" .. pid .. "/statm")
  if not f then return 0 end
  local pages = tonumber((f:read("*l") or ""):match("^%d+%s+(%d+)")) or 0
  f:close()
  return pages * 4
end

local function median(values)
  if #values == 0 then return nil end
  table.sort(values)
  return values[math.floor((#values + 1) / 2)]
end

--- Whether a measure grew after warm-up: the samples ({ t, [field] }) of
--- the first third of `seconds` against those of the last third, by their
--- medians; growth beyond `slack` fails. Returns warm, late, grew (or nil
--- when a third holds no sample).
function M.growth(samples, field, seconds, slack)
  local warm, late = {}, {}
  for _, s in ipairs(samples) do
    if s.t <= seconds / 3 then warm[#warm + 1] = s[field] end
    if s.t >= seconds * 2 / 3 then late[#late + 1] = s[field] end
  end
  local w, l = median(warm), median(late)
  if w == nil or l == nil then return w, l, nil end
  return w, l, l - w > slack
end

--- One host's run (plain Lua, or a coroutine in Neovim): rounds of calls
--- for `seconds` at a concurrency of 8 to 64, over three clients; each
--- round judged against the server's count, then the process's
--- descriptors and memory sampled. At the end the clients are closed: the
--- descriptors must be those before they were made.
--- opts: extruct, url, seconds, seed, tag (the ids' prefix), pid.
function M.run_host(opts)
  local extruct = opts.extruct
  local now = extruct.now
  -- (the engine's own descriptors, made with its first request, stay: the
  -- base is counted after one)
  local first = M.client(extruct, opts.url, { retries = 0 })
  first:request("GET", "/_soak/stats")
  first:close()
  collectgarbage("collect")
  local base_fds = M.fd_count(opts.pid)
  local clients = { M.client(extruct, opts.url), M.client(extruct, opts.url), M.client(extruct, opts.url) }
  local log = M.client(extruct, opts.url, { retries = 0 })
  local rng = M.rng(opts.seed)
  local totals, examples, samples = M.new_totals(), {}, {}
  local started, rounds = now(), 0
  local most_fds = 0
  while now() - started < opts.seconds do
    rounds = rounds + 1
    local concurrency = 8 + rng() % 57
    local prefix = ("%s%d-"):format(opts.tag, rounds)
    local calls = M.calls(rng, prefix, concurrency * 4)
    local outcomes = M.round(extruct, clients, calls, concurrency)
    local seen = assert(log:request("GET", "/_soak/take", { query = { prefix = prefix }, expect = "object" }))
    M.judge(calls, outcomes, seen, totals, examples)
    collectgarbage("collect")
    local sample = { t = now() - started, fds = M.fd_count(opts.pid), lua_kb = math.floor(collectgarbage("count")),
                     rss_kb = M.rss_kb(opts.pid) }
    most_fds = math.max(most_fds, sample.fds)
    samples[#samples + 1] = sample
  end
  local seconds = now() - started
  for _, client in ipairs(clients) do client:close() end
  log:close()
  clients, log = nil, nil -- luacheck: ignore 311
  collectgarbage("collect")
  collectgarbage("collect")
  return { totals = totals, examples = examples, samples = samples, seconds = seconds, rounds = rounds,
           base_fds = base_fds, most_fds = most_fds, final_fds = M.fd_count(opts.pid) }
end

return M
