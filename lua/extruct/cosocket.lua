-- The OpenResty transport: requests over nginx cosockets (ngx.socket.tcp),
-- so the worker serves other requests while one waits for the API.
--
-- The bytes are made and read in C (client:http_request builds the request
-- with the client's headers and token; core.http_response_parser frames the
-- response and decodes its JSON as the libcurl transport does); this file
-- only moves them, and follows redirects (extruct.redirect's rules).

local core = require("extruct.core")
local redirect = require("extruct.redirect")
local url = require("extruct.url")

local M = {}

-- The phases of lua-nginx-module in which cosockets may be used.
local COSOCKET_PHASES = {
  rewrite = true, server_rewrite = true, access = true, content = true, timer = true,
  ssl_cert = true, ssl_session_fetch = true, ssl_client_hello = true, preread = true,
}

local KEEPALIVE_MS = 60000
local POOL_SIZE = 32
local READ_CHUNK = 65536

--- nginx's `ngx` when the running phase allows cosockets, else nil (and the
--- phase's name, when under nginx).
function M.available()
  local ngx = rawget(_G, "ngx")
  if type(ngx) ~= "table" or type(ngx.socket) ~= "table" or type(ngx.get_phase) ~= "function" then return nil end
  local phase = ngx.get_phase()
  if not COSOCKET_PHASES[phase] then return nil, phase end
  return ngx
end

local function milliseconds(seconds) return math.max(1, math.floor(seconds * 1000 + 0.5)) end

-- The connection pool of a host: one per scheme, host, port and TLS
-- verification, so a connection made without verification is never handed
-- to a client that verifies.
local function pool_name(target, insecure)
  return ("extruct|%s|%s|%d|%s"):format(target.scheme, target.host, target.port, insecure and "insecure" or "verify")
end

local function tls_kind(err)
  if tostring(err):find("certificate", 1, true) or tostring(err):find("verify", 1, true) then return "tls" end
  return "network"
end

-- Connects (from the pool when it can) and, for https, shakes hands with
-- SNI and verification; returns the socket and whether it was reused, or
-- nil, kind, message.
local function connect(ngx, client, target, deadline)
  local sock = ngx.socket.tcp()
  local connect_ms = milliseconds(math.min(client.connect_timeout, math.max(deadline - ngx.now(), 0.001)))
  sock:settimeouts(connect_ms, connect_ms, connect_ms)
  local ok, err = sock:connect(target.host, target.port, { pool = pool_name(target, client._insecure) })
  if not ok then
    if err == "timeout" then
      return nil, "timeout", ("Connection timed out after %d milliseconds"):format(connect_ms)
    end
    if tostring(err):find("no resolver defined", 1, true) then
      return nil, "config", ("nginx cannot look up '%s': cosockets need a `resolver` directive in nginx.conf"
        .. " (for example `resolver 127.0.0.53 ipv6=off;`)"):format(target.host)
    end
    return nil, "network", ("Failed to connect to %s port %d: %s"):format(target.host, target.port, tostring(err))
  end
  local reused = (sock:getreusedtimes() or 0) > 0
  if target.scheme == "https" and not reused then
    local session
    session, err = sock:sslhandshake(nil, target.host, not client._insecure)
    if not session then
      sock:close()
      if err == "timeout" then return nil, "timeout", "the TLS handshake timed out" end
      if tls_kind(err) == "tls" then
        return nil, "tls", "TLS certificate verification failed: " .. tostring(err)
      end
      return nil, "network", "TLS handshake failed: " .. tostring(err)
    end
  end
  return sock, reused
end

-- One exchange on a connection: the response table and whether the
-- connection may be kept alive; or nil, kind, message, and whether the
-- failure came before any byte of the answer (a stale kept-alive
-- connection, worth one more try on a new one).
local function exchange(ngx, client, sock, request, method, deadline)
  local function remaining_ms() return milliseconds(math.max(deadline - ngx.now(), 0.001)) end
  local ms = remaining_ms()
  sock:settimeouts(ms, ms, ms)
  local sent, err = sock:send(request)
  if not sent then
    if err == "timeout" then return nil, "timeout", "sending the request timed out" end
    return nil, "network", "sending the request failed: " .. tostring(err), true
  end
  local parser = core.http_response_parser{ max_body = client.max_response_size, head = method == "HEAD" }
  local received = 0
  while true do
    if deadline - ngx.now() <= 0 then
      return nil, "timeout", ("Operation timed out after %d milliseconds with %d bytes received")
        :format(milliseconds(client.timeout), received)
    end
    ms = remaining_ms()
    sock:settimeouts(ms, ms, ms)
    local data
    data, err = sock:receiveany(READ_CHUNK)
    local state, kind, message
    if data then
      received = received + #data
      state, kind, message = parser:feed(data)
    elseif err == "closed" then
      if received == 0 then
        return nil, "network", "the server closed the connection without answering", true
      end
      state, kind, message = parser:finish()
    elseif err == "timeout" then
      return nil, "timeout", ("Operation timed out after %d milliseconds with %d bytes received")
        :format(milliseconds(client.timeout), received)
    else
      return nil, "network", ("receiving the response failed: %s"):format(tostring(err)), received == 0
    end
    if state == "done" then
      local response = parser:response()
      return response, parser:keep_alive()
    elseif state == nil then
      return nil, kind, message
    end
  end
end

--- One request through cosockets: the response table, or nil, kind,
--- message [, trace], as the libcurl transport's transfer:result() gives.
function M.perform(ngx, client, method, target_path, body)
  local trace = client._trace and {} or nil
  local function note(line) if trace then trace[#trace + 1] = line end end
  if client._proxy and client._proxy ~= "" then
    return nil, "config", "the proxy option cannot be honoured by the cosocket transport, which connects"
      .. " directly (it uses no proxy from the environment either); pass transport = \"curl\""
  end
  if client._ca_file then
    return nil, "config", "ca_file cannot be honoured by the cosocket transport: nginx verifies against"
      .. " lua_ssl_trusted_certificate; set that directive, or pass transport = \"curl\""
  end
  local deadline = ngx.now() + client.timeout
  local target = redirect.on_base(client._url, target_path)
  local credentials = true
  for redirects = 0, redirect.MAX do
    local request, request_trace = client._core:http_request(method, target.path, target.host_header, body, credentials)
    local response, kind, message
    for attempt = 1, 2 do
      local sock, reused
      sock, reused, message = connect(ngx, client, target, deadline)
      if not sock then
        kind = reused -- (connect's second result is the kind of its failure)
        break
      end
      -- (lines are formatted only for a trace: a request without one makes no strings for it)
      if trace then
        note(("* %s to %s port %d"):format(reused and "Re-using a connection" or "Connected", target.host, target.port))
      end
      if request_trace then for line in request_trace:gmatch("[^\n]+") do note(line) end end
      local outcome, before_answer
      response, outcome, message, before_answer = exchange(ngx, client, sock, request, method, deadline)
      if response then
        if outcome then sock:setkeepalive(KEEPALIVE_MS, POOL_SIZE) else sock:close() end
        break
      end
      sock:close()
      kind = outcome
      -- a kept-alive connection the server had closed: once more on a new one
      if not (reused and before_answer and attempt == 1) then break end
    end
    if not response then
      return nil, kind, message, trace and table.concat(trace, "\n")
    end
    if trace then
      note(("< HTTP %d"):format(response.status))
      for name, value in pairs(response.headers) do note(("< %s: %s"):format(name, value)) end
    end
    local next_request, why_kind, why = redirect.next(method, body, response, target, credentials)
    if next_request == nil then
      response.trace = trace and table.concat(trace, "\n")
      return response
    elseif next_request == false then
      return nil, why_kind, why, trace and table.concat(trace, "\n")
    elseif redirects == redirect.MAX then
      return nil, "http", ("Maximum (%d) redirects followed"):format(redirect.MAX), trace and table.concat(trace, "\n")
    end
    method, body, target, credentials = next_request.method, next_request.body, next_request.target,
      next_request.credentials
    note("* following the redirect to " .. url.redact(redirect.url_of(target)))
  end
end

return M
