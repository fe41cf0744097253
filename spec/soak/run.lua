-- The soak (`make soak`): the three hosts, one after the other, against
-- the seeded faulty echo server (spec/soak/server.lua), each for SECONDS:
--
--   plain    Lua 5.4: extruct.gather at a concurrency of 8 to 64 over
--            three clients (spec/soak/plain.lua)
--   nginx    LuaJIT in nginx with 4 workers: batches over cosockets and
--            over libcurl at once, the libcurl ones blocking their worker
--            (spec/soak/nginx.lua)
--   neovim   the plain host's rounds in a headless Neovim, on its libuv
--            loop (spec/soak/neovim.lua)
--
-- Every call's outcome is judged against its plan and the server's count
-- of its attempts (spec/soak/soak.lua). The run fails on any answer given
-- to another request, any lost call, any wrong per-call response facts,
-- any timeout of a request still queued for a connection, any failure
-- without a server attempt, any error kind other than the injected
-- fault's, any attempt count other than the plan's, any reported elapsed
-- time off its real time by more than 100 ms (nginx), any descriptor left
-- after the clients are closed or memory grown after warm-up, anything a
-- host prints on stderr (Neovim) or an alert in its log (nginx). It prints
-- the totals table, one column a host.
--
-- Usage (from the checkout's root, the module built for lua5.4 and luajit):
--   lua5.4 spec/soak/run.lua [SECONDS [HOSTS [SEED]]]
-- SECONDS per host (default 60), HOSTS "plain,nginx,neovim" or some of
-- them, SEED (default: from the clock; printed, so a run can be repeated).
-- To look into a failure: SOAK_KEEP=1 keeps the work folder (nginx's
-- error.log, the batches' answers), SOAK_NGINX_LOG=debug sets nginx's log
-- level, SOAK_SERVER_LOG=FILE has the server write a line per attempt.
package.path = "./?.lua;" .. package.path
local socket = require("socket")
local http = require("socket.http")
local cjson = require("cjson")
local helpers = require("spec.helpers")
local soak = require("spec.soak.soak")
local nginx_host = require("spec.soak.nginx")

local SECONDS = tonumber(arg[1]) or 60
local HOSTS = {}
for name in (arg[2] or "plain,nginx,neovim"):gmatch("[^,%s]+") do HOSTS[#HOSTS + 1] = name end
local SEED = tonumber(arg[3]) or (os.time() % 100000)

-- A host's descriptors may exceed those it had before the soak by at most
-- its clients' connections (three clients, 16 each to the host, and the
-- log's one) and a few of its own; its memory may grow after warm-up by at
-- most these (the medians of the first and last thirds of its samples).
local FD_ROOM = 3 * 16 + 1 + 8
local LUA_KB_SLACK = 512
local RSS_KB_SLACK = 4096
-- nginx's workers: four, each with three clients on each transport (their
-- pools: 32 kept-alive connections each over cosockets, 16 over libcurl)
local NGINX_FD_ROOM = 4 * (3 * 32 + 3 * 16 + 16)
local NGINX_FD_SLACK = 32
local NGINX_RSS_KB_SLACK = 4 * 4096

local q = helpers.shell_quote
local eventually, write_file = helpers.eventually, helpers.write_file

-- (what a host prints on stderr is part of its output: the run fails on it)
local function run(command) return helpers.run(command .. " 2>&1") end

-- (nil for a file a failed host never wrote)
local read_file = helpers.file_text

local function listening(port) return not helpers.refuses_connections(port) end

local root = run("pwd"):gsub("%s+$", "")
local work = helpers.scratch_dir()

---------------------------------------------------------------------------
-- The server
---------------------------------------------------------------------------

local server = {}
do
  local pipe = assert(io.popen(("sh -c 'echo $$; exec lua5.4 spec/soak/server.lua %d'"):format(SEED), "r"))
  server.pipe, server.pid = pipe, tonumber(pipe:read("*l"))
  server.port = tonumber((pipe:read("*l") or ""):match("^listening (%d+)$"))
  assert(server.port, "the soak server did not start")
  server.url = "http://127.0.0.1:" .. server.port
end

local function server_get(path)
  local body, status = http.request(server.url .. path)
  assert(status == 200, ("the soak server answered %s to %s"):format(tostring(status), path))
  return cjson.decode(body)
end

local function stop_server()
  helpers.stop_server(server, function() http.request{ url = server.url .. "/_soak/shutdown", method = "POST" } end)
end

---------------------------------------------------------------------------
-- The hosts: each returns { totals, notes = { name = text }, failures = { text } }
---------------------------------------------------------------------------

-- The verdict on a run of run_host (plain and Neovim): its descriptors and memory.
local function judge_process(result, report)
  report.rounds = result.rounds
  local left = result.final_fds - result.base_fds
  report.notes.descriptors = ("%d at most (room %d), %d left after close"):format(
    result.most_fds - result.base_fds, FD_ROOM, left)
  if left ~= 0 then report.failures[#report.failures + 1] = ("%d descriptors left after the clients closed"):format(left) end
  if result.most_fds - result.base_fds > FD_ROOM then
    report.failures[#report.failures + 1] = ("%d descriptors open at once"):format(result.most_fds - result.base_fds)
  end
  local parts = {}
  for _, m in ipairs({ { "lua_kb", LUA_KB_SLACK, "Lua" }, { "rss_kb", RSS_KB_SLACK, "RSS" } }) do
    local warm, late, grew = soak.growth(result.samples, m[1], result.seconds, m[2])
    if warm then
      parts[#parts + 1] = ("%s %+d KB"):format(m[3], late - warm)
      if grew then report.failures[#report.failures + 1] = ("%s grew %d KB after warm-up"):format(m[3], late - warm) end
    end
  end
  report.notes.memory = #parts > 0 and table.concat(parts, ", ") or "too short to tell"
end

local function new_report(name)
  return { name = name, totals = soak.new_totals(), notes = {}, failures = {}, examples = {} }
end

local function plain()
  local report = new_report("plain")
  local out = work .. "/plain.json"
  local output, status = run(("timeout %d lua5.4 spec/soak/plain.lua %s %d %d %s"):format(
    SECONDS + 120, q(server.url), SECONDS, SEED * 3, q(out)))
  local result = status == 0 and cjson.decode(read_file(out) or "null")
  if not result then
    report.failures[#report.failures + 1] = "the plain host failed: " .. output
    return report
  end
  report.totals, report.examples = result.totals, result.examples
  judge_process(result, report)
  if output:find("%S") then report.failures[#report.failures + 1] = "it printed: " .. output end
  return report
end

local function neovim()
  local report = new_report("neovim")
  local out, err_file = work .. "/neovim.json", work .. "/neovim.stderr"
  local _, status = run(("cd %s && env -u LUA_PATH -u LUA_CPATH SOAK_ROOT=%s SOAK_URL=%s SOAK_SECONDS=%d"
    .. " SOAK_SEED=%d SOAK_OUT=%s timeout -k 5 %d nvim --headless -u NONE -i NONE -n --cmd %s </dev/null >%s 2>&1")
    :format(q(work), q(root), q(server.url), SECONDS, SEED * 3 + 1, q(out), SECONDS + 120,
      q("luafile " .. root .. "/spec/soak/neovim.lua"), q(err_file)))
  local printed = read_file(err_file) or ""
  local result = cjson.decode(read_file(out) or "null")
  if not result or result.error then
    report.failures[#report.failures + 1] = ("the Neovim host failed (exit status %s): %s %s"):format(
      tostring(status), result and result.error or "", printed)
    return report
  end
  report.totals, report.examples = result.totals, result.examples
  judge_process(result, report)
  local lines, ebadf = 0, 0
  for line in printed:gmatch("[^\n]+") do
    lines = lines + 1
    if line:find("EBADF", 1, true) then ebadf = ebadf + 1 end
  end
  report.notes.stderr = ("%d lines (%d EBADF)"):format(lines, ebadf)
  report.notes.stall = ("%.1f ms"):format(result.longest_stall_ms or -1)
  if lines > 0 then
    report.failures[#report.failures + 1] = ("Neovim printed %d lines (%d EBADF), first: %s"):format(
      lines, ebadf, printed:match("[^\n]+"))
  end
  return report
end

-- nginx's workers: their pids, descriptors and resident memory.
local function workers_of(master)
  local pids = {}
  for pid in (run("ps -o pid= --ppid " .. master)):gmatch("%d+") do pids[#pids + 1] = tonumber(pid) end
  table.sort(pids)
  return pids
end

local function nginx()
  local report = new_report("nginx")
  local dir = work .. "/nginx"
  assert(os.execute("mkdir -p " .. q(dir)))
  local port = helpers.closed_port()
  write_file(dir .. "/nginx.conf", nginx_host.config{ work = dir, root = root, url = server.url, port = tostring(port),
    log_level = os.getenv("SOAK_NGINX_LOG") or "warn" })
  local master = tonumber((run(("nginx -p %s -c %s -e %s >%s 2>&1 </dev/null & echo $!"):format(
    q(dir), q(dir .. "/nginx.conf"), q(dir .. "/error.log"), q(dir .. "/nginx.out")))))
  local function stop()
    os.execute("kill " .. master .. " 2>/dev/null")
    if not eventually(10, function() return not listening(port) end) then os.execute("kill -9 " .. master .. " 2>/dev/null") end
  end
  if not eventually(10, function() return listening(port) end) then
    stop()
    report.failures[#report.failures + 1] = "nginx did not start: " .. (read_file(dir .. "/error.log") or "")
    return report
  end
  local workers = workers_of(master)
  local rng = soak.rng(SEED * 3 + 2)
  local samples, started, round = {}, socket.gettime(), 0
  -- the workers' descriptors and resident memory, together
  local function sample()
    local fds, rss = 0, 0
    for _, pid in ipairs(workers) do
      fds, rss = fds + soak.fd_count(pid), rss + soak.rss_kb(pid)
    end
    samples[#samples + 1] = { t = socket.gettime() - started, fds = fds, rss_kb = rss }
  end
  while socket.gettime() - started < SECONDS do
    round = round + 1
    -- a round: 12 batches over cosockets and 6 over libcurl, 9 at a time
    local batches, lines = {}, {}
    for b = 1, 18 do
      local transport = b % 3 == 0 and "curl" or "cosocket"
      local n = transport == "curl" and 3 or 8 + rng() % 17
      local batch = { transport = transport, seed = rng(), prefix = ("x%d-%d-%d-"):format(SEED, round, b), n = n,
                      concurrency = transport == "curl" and 3 or 4 + rng() % 9 }
      batches[b] = batch
      lines[#lines + 1] = ('url = "http://127.0.0.1:%d/batch?transport=%s&seed=%d&prefix=%s&n=%d&concurrency=%d"\n'
        .. 'output = "%s/batch%d.json"'):format(port, batch.transport, batch.seed, batch.prefix, batch.n,
          batch.concurrency, dir, b)
    end
    write_file(dir .. "/batches.cfg", table.concat(lines, "\n") .. "\n")
    os.execute("rm -f " .. q(dir) .. "/batch*.json")
    run(("curl -s -Z --parallel-max 9 --max-time 300 -K %s"):format(q(dir .. "/batches.cfg")))
    sample() -- (between rounds: no request in flight, the pools as they are)
    for b, batch in ipairs(batches) do
      local calls = soak.calls(soak.rng(batch.seed), batch.prefix, batch.n)
      local ok, outcomes = pcall(cjson.decode, read_file(("%s/batch%d.json"):format(dir, b)) or "")
      if not ok or type(outcomes) ~= "table" then outcomes = {} end
      for i = 1, #calls do
        if outcomes[i] == cjson.null then outcomes[i] = false end
      end
      soak.judge(calls, outcomes, server_get("/_soak/take?prefix=" .. batch.prefix), report.totals, report.examples,
        { check_time = true })
    end
  end
  local seconds = socket.gettime() - started
  report.rounds = round
  local now_workers = workers_of(master)
  if table.concat(now_workers, ",") ~= table.concat(workers, ",") then
    report.failures[#report.failures + 1] = ("nginx's workers were replaced: %s, then %s"):format(
      table.concat(workers, " "), table.concat(now_workers, " "))
  end
  stop()
  local most = 0
  for _, s in ipairs(samples) do most = math.max(most, s.fds) end
  local warm_fds, late_fds, fds_grew = soak.growth(samples, "fds", seconds, NGINX_FD_SLACK)
  local warm_rss, late_rss, rss_grew = soak.growth(samples, "rss_kb", seconds, NGINX_RSS_KB_SLACK)
  report.notes.descriptors = warm_fds and ("%d at most in 4 workers (room %d), %+d after warm-up"):format(
    most, NGINX_FD_ROOM, late_fds - warm_fds) or "too short to tell"
  report.notes.memory = warm_rss and ("RSS %+d KB in 4 workers"):format(late_rss - warm_rss) or "too short to tell"
  if most > NGINX_FD_ROOM then report.failures[#report.failures + 1] = most .. " descriptors open in the workers" end
  if fds_grew then report.failures[#report.failures + 1] = ("descriptors grew by %d"):format(late_fds - warm_fds) end
  if rss_grew then report.failures[#report.failures + 1] = ("RSS grew by %d KB"):format(late_rss - warm_rss) end
  -- nginx's own word on anything gone wrong in a worker
  local alerts = 0
  for line in (read_file(dir .. "/error.log") or ""):gmatch("[^\n]+") do
    if line:find("%[alert%]") or line:find("%[crit%]") or line:find("%[emerg%]")
        or line:find("entry thread aborted", 1, true) or line:find("runtime error", 1, true) then
      alerts = alerts + 1
      if alerts == 1 then report.failures[#report.failures + 1] = "nginx's log: " .. line end
    end
  end
  report.notes.stderr = ("%d alerts in error.log"):format(alerts)
  return report
end

---------------------------------------------------------------------------
-- The run
---------------------------------------------------------------------------

local RUNNERS = { plain = plain, nginx = nginx, neovim = neovim }
print(("soak: seed %d, %d s per host (%s), against %s"):format(SEED, SECONDS, table.concat(HOSTS, ", "), server.url))
local reports = {}
local ok_run, err_run = pcall(function()
  for _, name in ipairs(HOSTS) do
    assert(RUNNERS[name], "no such host: " .. name)
    io.stdout:write("soak: ", name, " ...\n")
    io.stdout:flush()
    local started = socket.gettime()
    local report = RUNNERS[name]()
    report.seconds = socket.gettime() - started
    reports[#reports + 1] = report
  end
end)
local stats_ok, server_stats = pcall(server_get, "/_soak/stats")
if not stats_ok then server_stats = {} end
stop_server()
if not os.getenv("SOAK_KEEP") then helpers.remove_dir(work) else print("soak: kept " .. work) end
if not ok_run then
  io.stderr:write("soak: ", tostring(err_run), "\n")
  os.exit(1)
end

-- The totals table: a row per measure, a column per host.
local rows = { { "", } }
for _, r in ipairs(reports) do rows[1][#rows[1] + 1] = r.name end
local function row(label, fn)
  local cells = { label }
  for _, r in ipairs(reports) do cells[#cells + 1] = tostring(fn(r)) end
  rows[#rows + 1] = cells
end
row("seconds (rounds)", function(r) return ("%.0f (%d)"):format(r.seconds, r.rounds or 0) end)
row("calls", function(r) return ("%d"):format(r.totals.calls) end)
for _, counter in ipairs(soak.COUNTERS) do
  row(counter[2], function(r)
    if counter[1] == "time_misreported" and r.name ~= "nginx" then return "-" end
    return ("%d"):format(r.totals[counter[1]])
  end)
end
row("descriptors", function(r) return r.notes.descriptors or "-" end)
row("memory after warm-up", function(r) return r.notes.memory or "-" end)
row("stderr / log", function(r) return r.notes.stderr or "-" end)
row("longest editor stall", function(r) return r.notes.stall or "-" end)
local failed = false
for _, r in ipairs(reports) do
  local planned = r.totals.answered + r.totals.failed_as_planned
  if planned ~= r.totals.calls or r.totals.calls == 0 then
    if r.totals.calls == 0 then r.failures[#r.failures + 1] = "no calls made" end
  end
  r.ok = #r.failures == 0 and planned == r.totals.calls and r.totals.calls > 0
  failed = failed or not r.ok
end
row("verdict", function(r) return r.ok and "ok" or "FAILED" end)

local widths = {}
for _, cells in ipairs(rows) do
  for i, cell in ipairs(cells) do widths[i] = math.max(widths[i] or 0, #cell) end
end
print()
for _, cells in ipairs(rows) do
  local parts = {}
  for i, cell in ipairs(cells) do
    parts[i] = i == 1 and cell .. (" "):rep(widths[i] - #cell) or (" "):rep(widths[i] - #cell) .. cell
  end
  print(table.concat(parts, "  "))
end
print(("\nserver: %d requests, %d connections, %d at most at once"):format(server_stats.requests or 0,
  server_stats.connections or 0, server_stats.most_connections or 0))

for _, r in ipairs(reports) do
  for _, why in ipairs(r.failures) do print(("%s: %s"):format(r.name, why)) end
  for name, list in pairs(r.examples or {}) do
    for _, example in ipairs(list) do print(("%s: %s: %s"):format(r.name, name, example)) end
  end
end
print(failed and ("soak: FAILED (seed %d)"):format(SEED) or "soak: passed")
os.exit(failed and 1 or 0)
