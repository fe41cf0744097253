-- The OpenResty transport: one exchange over nginx cosockets
-- (ngx.socket.tcp), so the worker serves other requests while one waits
-- for the API.
--
-- The bytes are made and read in C (client:http_request builds the request
-- with the client's headers and token; core.http_response_parser frames the
-- response and decodes its JSON as the libcurl transport does); this file
-- only moves them. Redirects are extruct.redirect's, for both transports;
-- failures are reported with the words of core.failures, as the libcurl
-- transport reports them (extruct.failures makes kinds of both).

local core = require("extruct.core")

local M = {}

local KEEPALIVE_MS = 60000
local POOL_SIZE = 32
local READ_CHUNK = 65536

local CANCELLED = "the client was closed while the request was in flight"

local function milliseconds(seconds) return math.max(1, math.floor(seconds * 1000 + 0.5)) end

-- Time, for deadlines and for what a message says, is `now` (the core's
-- monotonic clock, read fresh). nginx counts a cosocket's timeouts from its
-- cached time, which stands still while the worker is busy (a blocking
-- call, such as the libcurl transport's, in another handler): a timeout
-- armed then would run out early, by as long as the worker was busy. So
-- each is armed for that much longer (the cached time's lag behind the
-- clock), which ends it when it should. (ngx.update_time() would end it
-- right too, but would also make nginx end other sockets' timeouts before
-- it looks at the bytes that came for them meanwhile, in the same turn of
-- its loop.) A timeout nginx still reports before the deadline on `now`
-- is waited out.
--
-- A request's `timeout` counts from when its connection is ready and its
-- send begins, as on libcurl (whose queue for a connection does not
-- count): a worker busy elsewhere while this one connects does not use up
-- the request's time, and it is still sent. What a timeout's message says
-- is the whole exchange's time, connecting included.
local function lag_ms(ngx)
  return math.max(math.floor((core.realtime() - ngx.now()) * 1000), 0)
end

local function arm(ngx, sock, ms)
  ms = ms + lag_ms(ngx)
  sock:settimeouts(ms, ms, ms)
end

-- The connection pool of a client to a host: nginx's pools are the
-- worker's, so each is named for one client (its connections are its own,
-- as on the libcurl transport), scheme, host, port and TLS verification.
local function pool_name(target, client)
  return ("extruct|%d|%s|%s|%d|%s"):format(client._pool_id, target.scheme, target.host, target.port,
    client._insecure and "insecure" or "verify")
end

local function tls_failure(err)
  if tostring(err):find("certificate", 1, true) or tostring(err):find("verify", 1, true) then return "tls_verify" end
  return "tls_handshake"
end

-- Connects (from the pool when it can) and, for https, shakes hands with
-- SNI and verification; returns the socket and whether it was reused, or
-- nil, failure, message.
--
-- A pooled connection holding bytes nobody asked for (a server that
-- answered twice, or wrote on the idle connection) would hand them to the
-- next request as its answer. nginx closes an idle pooled connection as
-- soon as its event loop sees bytes on it; but code that kept the worker
-- busy since (a blocking call, a long computation) gave the loop no turn
-- to. nginx's cached time tells: it moves at each turn of the loop, so a
-- cached time behind the clock means a busy worker. Then the loop gets a
-- turn first (a 1 ms sleep: ngx.sleep(0) resumes before looking at the
-- sockets), and the pool is clean of such connections when it is asked
-- for one. (A read with a short timeout would cost as much on every
-- request, and log an error each time.)
local BUSY_MS = 2

local function let_the_loop_turn(ngx)
  -- (a sleep's end can come in the same turn as another handler that kept
  -- the worker busy, before the loop looked at the sockets: then again)
  for _ = 1, 5 do
    if lag_ms(ngx) < BUSY_MS then return end
    ngx.sleep(0.001)
  end
end

local function connect(ngx, client, target, now)
  let_the_loop_turn(ngx)
  do
    local sock = ngx.socket.tcp()
    local started = now()
    local connect_ms = milliseconds(client.connect_timeout)
    arm(ngx, sock, connect_ms)
    local ok, err = sock:connect(target.host, target.port, { pool = pool_name(target, client) })
    if not ok then
      if err == "timeout" then
        return nil, "connect_timeout", ("Connection timed out after %d milliseconds"):format(
          milliseconds(now() - started))
      end
      if tostring(err):find("no resolver defined", 1, true) then
        return nil, "config", ("nginx cannot look up '%s': cosockets need a `resolver` directive in nginx.conf"
          .. " (for example `resolver 127.0.0.53 ipv6=off;`)"):format(target.host)
      end
      if tostring(err):find("could not be resolved", 1, true) then
        return nil, "resolve", ("Could not resolve host: %s (%s)"):format(target.host, tostring(err))
      end
      return nil, "connect", ("Failed to connect to %s port %d: %s"):format(target.host, target.port, tostring(err))
    end
    local reused = (sock:getreusedtimes() or 0) > 0
    if target.scheme == "https" and not reused then
      local session
      session, err = sock:sslhandshake(nil, target.host, not client._insecure)
      if not session then
        sock:close()
        if err == "timeout" then
          -- (not retried: as on libcurl, a handshake that does not finish is one that will not)
          return nil, "tls_handshake", ("the TLS handshake did not finish within %d milliseconds"):format(connect_ms)
        end
        local failure = tls_failure(err)
        return nil, failure, (failure == "tls_verify" and "TLS certificate verification failed: "
          or "TLS handshake failed: ") .. tostring(err)
      end
    end
    return sock, reused
  end
end

-- One exchange on a connection: the response table and whether the
-- connection may be kept alive; or nil, failure, message, and whether the
-- failure came before any byte of the answer (a stale kept-alive
-- connection, worth one more try on a new one). `times.started` is when
-- the exchange began, on `now`; `times.deadline` is set at the first send.
-- `reused`: the connection came from the pool.
local function exchange(ngx, client, sock, request, method, times, now, reused)
  if times.deadline == nil then
    times.sent_at = now()
    times.deadline = times.sent_at + client.timeout
  end
  local deadline = times.deadline
  -- (past the deadline, 1 ms: the bytes already here are still read, so an
  -- answer that came in time while the worker was busy is not thrown away)
  local function remaining_ms() return milliseconds(math.max(deadline - now(), 0.001)) end
  local function took()
    local connecting = times.sent_at - times.started
    return milliseconds(now() - times.started), connecting >= 0.05
      and (" (%d ms of it connecting, before the request was sent)"):format(milliseconds(connecting)) or ""
  end
  local function timed_out(received)
    local ms, note = took()
    return nil, "timeout", ("Operation timed out after %d milliseconds with %d bytes received%s"):format(ms,
      received, note)
  end
  arm(ngx, sock, remaining_ms())
  local sent, err = sock:send(request)
  if not sent then
    if err == "timeout" then
      local ms, note = took()
      return nil, "timeout", ("sending the request timed out after %d milliseconds%s"):format(ms, note)
    end
    return nil, "send", "sending the request failed: " .. tostring(err), true
  end
  local parser = core.http_response_parser{ max_body = client.max_response_size, head = method == "HEAD" }
  local received, looked_again = 0, false
  while true do
    arm(ngx, sock, remaining_ms())
    local data
    data, err = sock:receiveany(READ_CHUNK)
    if client._closed then return nil, "cancelled", CANCELLED end
    local state, failure, message
    if data then
      looked_again = false
      received = received + #data
      state, failure, message = parser:feed(data)
    elseif err ~= "timeout" and received == 0 and deadline - now() <= 0 and not reused then
      -- (no byte of an answer on a new connection, and the request's time
      -- is up: nginx could not tell sooner, its worker busy elsewhere; it is
      -- a timeout, and the request is not sent again. On a kept-alive one,
      -- the close may be the server's, for idleness, that came as the
      -- request went: it is sent again, as any stale connection's, for the
      -- server never read it.)
      return timed_out(received)
    elseif err == "closed" then
      if received == 0 then
        return nil, "closed", "the server closed the connection without answering", true
      end
      state, failure, message = parser:finish()
    elseif err == "timeout" then
      -- (nginx's timer may run out before `now` says so: then the rest is
      -- waited for; past the deadline, what came meanwhile is looked for once)
      if deadline - now() <= 0 then
        if looked_again then return timed_out(received) end
        looked_again = true
      end
      state = "more"
    else
      return nil, "receive", ("receiving the response failed: %s"):format(tostring(err)), received == 0
    end
    if state == "done" then
      return parser:response(), parser:keep_alive()
    elseif state == nil then
      return nil, failure, message
    end
  end
end

--- Whether a client can go over cosockets at all: nil, or the failure
--- ("config") and why not.
function M.unsupported(client)
  if client._proxy and client._proxy ~= "" then
    return "config", "the proxy option cannot be honoured by the cosocket transport, which connects"
      .. " directly (it uses no proxy from the environment either); pass transport = \"curl\""
  end
  if client._ca_file then
    return "config", "ca_file cannot be honoured by the cosocket transport: nginx verifies against"
      .. " lua_ssl_trusted_certificate; set that directive, or pass transport = \"curl\""
  end
  return nil
end

--- One exchange through cosockets with `ngx`, no redirect followed: the
--- response table, or nil, failure, message [, trace], as a libcurl
--- transfer's result. `target` is a parsed URL (extruct.redirect); `now`
--- reads the time deadlines count on.
function M.exchange(ngx, now, client, method, target, body, credentials)
  local trace = client._trace and {} or nil
  local function traced() return trace and table.concat(trace, "\n") end
  if client._closed then return nil, "cancelled", CANCELLED end
  local times = { started = now() }
  local request, request_trace = client._core:http_request(method, target.path, target.host_header, body, credentials)
  -- A kept-alive connection the server had closed fails before any byte of
  -- the answer: the request goes again, on the next connection the pool
  -- gives, until one that was not reused (each stale one is closed).
  for _ = 1, POOL_SIZE + 1 do
    local sock, reused, message = connect(ngx, client, target, now)
    if not sock then return nil, reused, message, traced() end -- (reused: the failure)
    if client._closed then
      sock:close()
      return nil, "cancelled", CANCELLED, traced()
    end
    -- (lines are formatted only for a trace: a request without one makes no strings for it)
    if trace then
      trace[#trace + 1] = ("* %s to %s port %d"):format(reused and "Re-using a connection" or "Connected",
        target.host, target.port)
      for line in request_trace:gmatch("[^\n]+") do trace[#trace + 1] = line end
    end
    local response, keep, failure_message, before_answer = exchange(ngx, client, sock, request, method, times, now,
      reused)
    if response then
      if keep then sock:setkeepalive(KEEPALIVE_MS, POOL_SIZE) else sock:close() end
      if trace then
        trace[#trace + 1] = ("< HTTP %d"):format(response.status)
        for name, value in pairs(response.headers) do trace[#trace + 1] = ("< %s: %s"):format(name, value) end
        response.trace = traced()
      end
      return response
    end
    sock:close()
    -- a kept-alive connection the server had closed: again on another,
    -- the request's time counted afresh from that send (the server never
    -- had this one; a worker kept busy elsewhere may have let it run out)
    if not (reused and before_answer) then
      return nil, keep, failure_message, traced() -- (keep: the failure)
    end
    times.deadline = nil
  end
  return nil, "closed", "the server closed every kept-alive connection without answering", traced()
end

return M
