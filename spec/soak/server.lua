-- The soak's server (spec/soak/run.lua): an echo server that answers each
-- attempt of a request with the fault its plan names, so every answer can
-- be traced back to the request it was for, and every failure to the fault
-- that caused it.
--
-- Usage: lua5.4 spec/soak/server.lua SEED (from the checkout's root).
-- Listens on a free port of 127.0.0.1 only, prints "listening <port>",
-- serves any number of connections at once (a coroutine each, driven by
-- socket.select), and exits on POST /_soak/shutdown or after IDLE_SECONDS
-- without a request. SEED seeds how long each kept-alive connection may
-- stay idle before the server closes it (so clients meet connections
-- closed under them, as a real server's keep-alive timeout makes them).
--
--   ANY /v1/soak/<id>?plan=<step>.<step>...
--        attempt n of request <id> (n counts the requests for <id>) gets
--        the plan's n-th step (spec/soak/soak.lua's STEPS), "ok" past the
--        end; an answer echoes { id, attempt, method } and says x-soak-id
--   ANY /v1/soak/<id>/moved    where the "redirect" step sends it: "ok"
--   GET /_soak/take?prefix=P   { id: attempts } of every id starting with
--                              P, forgotten once told
--   GET /_soak/stats           { requests, connections, most_connections }
--   POST /_soak/shutdown       200, then the server exits
package.path = "./?.lua;" .. package.path
local socket = require("socket")
local cjson = require("cjson")
local coserver = require("spec.support.coserver")
local soak = require("spec.soak.soak")

local IDLE_SECONDS = 600
local MAX_CONNECTIONS = 900 -- below select()'s FD_SETSIZE of 1024
-- (a stall outlasts any time a client's worker may be kept busy by the
-- blocking handlers of the nginx host, so the client's timeout always ends
-- it first: a close after it would look like a stale kept-alive connection)
local STALL_SECONDS = soak.TIMEOUT * 8

local seed = tonumber(arg[1]) or 1
-- (SOAK_SERVER_LOG=FILE: a line per attempt served, when it began and ended)
local debug_log = os.getenv("SOAK_SERVER_LOG") and assert(io.open(os.getenv("SOAK_SERVER_LOG"), "w"))
if debug_log then debug_log:setvbuf("line") end
math.randomseed(seed)

-- (a backlog for many connections at once: luasocket's default of 32 would
-- leave connections waiting a SYN retransmission, seconds, to be accepted)
local server = coserver.listen(1024)

local attempts_of = {} -- id -> requests seen (redirect hops aside)
local requests = 0
local send_all, sleep = coserver.send_all, coserver.sleep

local REASONS = { [200] = "OK", [307] = "Temporary Redirect", [401] = "Unauthorized", [404] = "Not Found",
                  [409] = "Conflict", [422] = "Unprocessable Entity", [429] = "Too Many Requests",
                  [500] = "Internal Server Error", [502] = "Bad Gateway", [503] = "Service Unavailable" }

local function head(status, headers, length)
  local lines = { ("HTTP/1.1 %d %s"):format(status, REASONS[status] or "Status") }
  for _, h in ipairs(headers) do lines[#lines + 1] = h end
  if length then lines[#lines + 1] = "Content-Length: " .. length end
  return table.concat(lines, "\r\n") .. "\r\n\r\n"
end

-- Serves one attempt of a soak request; returns whether the connection
-- stays open. `reused`: the connection served a request before.
local function serve_attempt(conn, method, id, query, moved, reused)
  local attempt = attempts_of[id] or 0
  if not moved then
    attempt = attempt + 1
    attempts_of[id] = attempt
  end
  local plan = soak.parse_plan(query.plan or "")
  local step = moved and "ok" or (plan[attempt] or "ok")
  local echo = cjson.encode({ id = id, attempt = attempt, method = method })
  local id_headers = { "Content-Type: application/json", "x-soak-id: " .. id, "x-soak-attempt: " .. attempt }
  local function answer(status, extra, body)
    local headers = { table.unpack(id_headers) }
    for _, h in ipairs(extra or {}) do headers[#headers + 1] = h end
    body = body or cjson.encode({ detail = "soak: " .. step })
    return send_all(conn, head(status, headers, #body) .. body)
  end
  local spec = soak.STEPS[step]
  if spec.delay then sleep(spec.delay) end
  if step == "ok" or step == "slow" or step == "late" then
    return answer(200, nil, echo)
  elseif step == "chunked" then
    local headers = { table.unpack(id_headers) }
    headers[#headers + 1] = "Transfer-Encoding: chunked"
    if not send_all(conn, head(200, headers)) then return false end
    local third = math.ceil(#echo / 3)
    for i = 1, #echo, third do
      local piece = echo:sub(i, i + third - 1)
      if not send_all(conn, ("%x\r\n%s\r\n"):format(#piece, piece)) then return false end
      sleep(0.02)
    end
    return send_all(conn, "0\r\n\r\n")
  elseif step == "trickle" then
    if not send_all(conn, head(200, id_headers, #echo)) then return false end
    local fifth = math.ceil(#echo / 5)
    for i = 1, #echo, fifth do
      if not send_all(conn, echo:sub(i, i + fifth - 1)) then return false end
      sleep(0.04)
    end
    return true
  elseif step == "redirect" then
    local location = ("/v1/soak/%s/moved?plan=%s"):format(id, query.plan or "")
    return answer(307, { "Location: " .. location }, "")
  elseif spec.status then
    local extra = spec.retry_after and { "Retry-After: " .. spec.retry_after } or nil
    return answer(spec.status, extra)
  elseif step == "truncate" then
    send_all(conn, head(200, id_headers, 200) .. echo:sub(1, 10))
    return false
  elseif step == "reset" then
    -- part of a status line, then a reset (RST): some bytes came, so no
    -- client takes it for a kept-alive connection closed before the request
    send_all(conn, "HTTP/1.1 200 OK\r\nContent-Le")
    conn:setoption("linger", { on = true, timeout = 0 })
    return false
  elseif step == "close" then
    -- closed without a byte on a new connection; on a reused one, after a
    -- status line (else a client rightly sends again what a stale kept-alive
    -- connection lost, and the server sees one attempt twice)
    if reused then send_all(conn, "HTTP/1.1 200 OK\r\n") end
    return false
  elseif step == "stall" then
    sleep(STALL_SECONDS)
    return false
  end
  error("soak server: no such step " .. tostring(step))
end

local function serve_connection(conn)
  local r = coserver.reader(conn)
  local served = 0
  -- how long this connection may stay idle between requests (seeded); a
  -- new one waits for its first request as long as a client may take
  local idle = 0.3 + math.random() * 2.7
  while coserver.running() do
    local request_line = r.line(socket.gettime() + (served > 0 and idle or 60))
    if not request_line then break end
    if request_line ~= "" then
      local method, target = request_line:match("^(%S+) (%S+)")
      local headers = r.headers()
      local length = tonumber(headers["content-length"] or "0") or 0
      if length > 0 and not r.bytes(length) then break end
      requests = requests + 1
      local path = (target or "/"):gsub("%?.*$", "")
      local query = coserver.query_of(target or "")
      local id, moved_id = path:match("^/v1/soak/([%w_.-]+)$"), path:match("^/v1/soak/([%w_.-]+)/moved$")
      local open
      if id or moved_id then
        local began = socket.gettime()
        open = serve_attempt(conn, method, id or moved_id, query, moved_id ~= nil, served > 0)
        if debug_log then
          debug_log:write(("%.3f %.3f %s %s %s\n"):format(began, socket.gettime(), id or moved_id, query.plan or "",
            tostring(open)))
        end
      elseif path == "/_soak/take" then
        local taken, prefix = {}, query.prefix or ""
        for known, n in pairs(attempts_of) do
          if known:sub(1, #prefix) == prefix then
            taken[known] = n
            attempts_of[known] = nil
          end
        end
        local body = next(taken) and cjson.encode(taken) or "{}"
        open = send_all(conn, head(200, { "Content-Type: application/json" }, #body) .. body)
      elseif path == "/_soak/stats" then
        local counts = coserver.counts
        local body = cjson.encode({ requests = requests, connections = counts.accepted,
                                    most_connections = counts.most_open })
        open = send_all(conn, head(200, { "Content-Type: application/json" }, #body) .. body)
      elseif path == "/_soak/shutdown" then
        send_all(conn, head(200, { "Connection: close" }, 2) .. "{}")
        coserver.stop()
        open = false
      else
        open = send_all(conn, head(404, { "Content-Type: application/json" }, 2) .. "{}")
      end
      served = served + 1
      if not open or (headers.connection or ""):lower() == "close" then break end
    end
  end
end

coserver.serve{ listeners = { server }, serve_connection = serve_connection, idle_seconds = IDLE_SECONDS,
                max_connections = MAX_CONNECTIONS, name = "soak server" }
