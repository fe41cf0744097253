-- Round trip and memory, against the nginx that bench/run.sh started.
--
--   LUA bench/roundtrip.lua PORT CURL_LOOP [--smoke]
--
-- Round trip: client:get_table, a raw C loop over one reused libcurl handle
-- (CURL_LOOP) that decodes each body with lua-cjson in this interpreter, the
-- same loop without decoding, socket.http + lua-cjson (a new connection per
-- request, as socket.http does) and the curl binary spawned per request,
-- taking turns for several rounds; each keeps its best microseconds per call
-- (wall time).
-- Memory: RSS after 1,000 and 100,000 get_table calls and after failing
-- calls (a 404, and a refused connection).
local extruct = require("extruct")
local cjson = require("cjson")
local http = require("socket.http")
local ltn12 = require("ltn12")
local socket = require("socket")

local port, curl_loop = assert(tonumber(arg[1]), "usage: roundtrip.lua PORT CURL_LOOP [--smoke]"), assert(arg[2])
local smoke = arg[3] == "--smoke"
local base = "http://127.0.0.1:" .. port
local TOKEN = "bench-token"
local ID = "tbl_bench"
local now = socket.gettime

-- Many short rounds rather than a few long ones: on a shared machine a
-- burst of other work then spoils a round of each contender, not its best.
local ROUNDS = smoke and 1 or 60
local CALLS = { client = smoke and 20 or 250, curl_loop = smoke and 20 or 250, luasocket = smoke and 10 or 50,
  curl_binary = smoke and 3 or 10 }
local RAW_DECODING, RAW = "raw libcurl + lua-cjson (C)", "raw libcurl loop (C)"

local client = extruct.new{ token = TOKEN, base_url = base }
local url = base .. "/v1/tables/" .. ID

-- The User-Agent the client sends, which the C loop sends too: read from
-- the request head a traced call shows.
local user_agent
assert(extruct.new{ token = TOKEN, base_url = base, trace = function(line)
  user_agent = user_agent or line:match("^> User%-Agent: (.*)$")
end }:get_table(ID))
assert(user_agent, "no User-Agent in the trace")

local function shell_quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

-- The C loop's best seconds per call, wall and CPU; decode: "cjson" or nil.
local function curl_loop_time(n, decode)
  local pipe = assert(io.popen(("%s %s %s %s %d 1 %s"):format(shell_quote(curl_loop), shell_quote(url), TOKEN,
    shell_quote(user_agent), n, decode or "")))
  local wall, cpu = pipe:read("*a"):match("^(%S+) (%S+)")
  pipe:close()
  return assert(tonumber(wall), "curl_loop failed") / 1e6, tonumber(cpu) / 1e6
end

-- Seconds per call of fn run n times, wall and this process's CPU
-- (os.clock: user and system).
local function timed(n, fn)
  local start, start_cpu = now(), os.clock()
  for _ = 1, n do fn() end
  return (now() - start) / n, (os.clock() - start_cpu) / n
end

local contenders = {
  { name = "client:get_table", key = "client", run = function(n)
    return timed(n, function() assert(client:get_table(ID)) end)
  end },
  { name = RAW_DECODING, key = "curl_loop", run = function(n) return curl_loop_time(n, "cjson") end },
  { name = RAW, key = "curl_loop", run = function(n) return curl_loop_time(n) end },
  { name = "socket.http + lua-cjson", key = "luasocket", run = function(n)
    return timed(n, function()
      local chunks = {}
      local _, status = http.request{ url = url, sink = ltn12.sink.table(chunks),
        headers = { accept = "application/json", authorization = "Bearer " .. TOKEN } }
      assert(status == 200 and cjson.decode(table.concat(chunks)).id)
    end)
  end },
  -- (its CPU time is the curl processes', which os.clock does not see)
  { name = "curl binary per request", key = "curl_binary", run = function(n)
    local command = ("curl -sS -H 'Accept: application/json' -H 'Authorization: Bearer %s' %s"):format(TOKEN,
      shell_quote(url))
    local wall = timed(n, function()
      local pipe = assert(io.popen(command))
      local body = pipe:read("*a")
      pipe:close()
      assert(cjson.decode(body).id)
    end)
    return wall, nil
  end },
}

local lua_name = rawget(_G, "jit") and jit.version or _VERSION
local best, best_cpu = {}, {}
for _ = 1, ROUNDS do
  for _, c in ipairs(contenders) do
    local wall, cpu = c.run(CALLS[c.key])
    if not best[c.name] or wall < best[c.name] then best[c.name] = wall end
    if cpu and (not best_cpu[c.name] or cpu < best_cpu[c.name]) then best_cpu[c.name] = cpu end
  end
end
print(("== round trip on %s, GET /v1/tables/{id} (%d-byte header) from nginx on loopback, best of %d rounds")
  :format(lua_name, #io.open("spec/support/table.json"):read("*a"), ROUNDS))
print(("%-28s %9s %9s %9s | %8s %9s %9s"):format("", "wall us", "/ +cjson", "/ raw", "CPU us", "/ +cjson", "/ raw"))
for _, c in ipairs(contenders) do
  local wall, cpu = best[c.name], best_cpu[c.name]
  local cpu_part = cpu and ("%8.1f %8.2fx %8.2fx"):format(cpu * 1e6, cpu / best_cpu[RAW_DECODING], cpu / best_cpu[RAW])
    or ("%8s %9s %9s"):format("-", "-", "-")
  print(("%-28s %9.1f %8.2fx %8.2fx | %s"):format(c.name, wall * 1e6, wall / best[RAW_DECODING], wall / best[RAW],
    cpu_part))
end

-- Memory -----------------------------------------------------------------
local PAGE = 4096
local function rss_kb()
  collectgarbage("collect")
  collectgarbage("collect")
  local f = assert(io.open("/proc/self/statm"))
  local pages = tonumber(f:read("*a"):match("^%d+%s+(%d+)"))
  f:close()
  return pages * PAGE / 1024
end

local function calls(n, fn)
  for _ = 1, n do fn() end
end

local N1, N2, NFAIL = smoke and 100 or 1000, smoke and 1000 or 100000, smoke and 100 or 1000
local mem = {}
local mclient = extruct.new{ token = TOKEN, base_url = base }
mem[#mem + 1] = { "before any call", rss_kb() }
calls(N1, function() assert(mclient:get_table(ID)) end)
mem[#mem + 1] = { ("after %d get_table"):format(N1), rss_kb() }
calls(N2 - N1, function() assert(mclient:get_table(ID)) end)
mem[#mem + 1] = { ("after %d get_table"):format(N2), rss_kb() }
calls(NFAIL, function()
  local t, err = mclient:get_table("tbl_missing")
  assert(t == nil and err.kind == "not_found", err and err.kind)
end)
mem[#mem + 1] = { ("after %d more failing (404)"):format(NFAIL), rss_kb() }
local closed = socket.bind("127.0.0.1", 0)
local _, closed_port = closed:getsockname()
closed:close()
-- One transfer a call: retries would only add backoff sleeps to the count.
local refused = extruct.new{ token = TOKEN, base_url = "http://127.0.0.1:" .. closed_port, retries = 0 }
calls(NFAIL, function()
  local t, err = refused:get_table(ID)
  assert(t == nil and err, "a closed port answered")
end)
mem[#mem + 1] = { ("after %d more failing (refused)"):format(NFAIL), rss_kb() }
print(("== memory on %s (RSS after a full collection)"):format(lua_name))
for i, m in ipairs(mem) do
  print(("%-34s %8d kB %+8d kB"):format(m[1], m[2], i > 1 and m[2] - mem[i - 1][2] or 0))
end
print(("growth from %d to %d calls, failing ones included: %+d kB"):format(N1, N2, mem[#mem][2] - mem[2][2]))
