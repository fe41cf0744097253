-- The hostile HTTP server of the conformance suite (spec/integration/conformance_spec.lua):
-- it serves each case of spec/support/conformance_cases.lua as the case
-- says, byte for byte, with the pauses and closes it asks for.
--
-- Usage: lua spec/support/conformance_server.lua (from the checkout's root).
-- Listens on a free port of 127.0.0.1 only, prints "listening <port>",
-- serves any number of connections at once (a coroutine each, driven by
-- socket.select), and exits on GET /shutdown or after IDLE_SECONDS without
-- a request.
--
--   ANY /case/<name>?run=<id>   the case's serve (a string of bytes, or a
--                               function given the request and a little API)
--   GET /shutdown               200, then the server exits
--   a TLS handshake             a plain-HTTP 400 at once, as nginx answers one
--   anything else               404
--
-- A third port ("{silent}") accepts connections and never says a word, as
-- a plain-HTTP server waiting for a request line does to a TLS handshake.
package.path = "./?.lua;" .. package.path
local coserver = require("spec.support.coserver")
local cases = require("spec.support.conformance_cases")

local IDLE_SECONDS = 120
-- (far more than the suite ever opens at once: past it, a client leaks
-- connections, and the server fails rather than wait)
local MAX_CONNECTIONS = 200

local server, port = coserver.listen()
local origin = "http://127.0.0.1:" .. port
-- a second port: another origin, for redirects that must drop the token
local second, second_port = coserver.listen()
local other = "http://127.0.0.1:" .. second_port
local quiet, quiet_port = coserver.listen()
local silent = "http://127.0.0.1:" .. quiet_port

local requests_of = {} -- "<run>|<name>" -> how many requests came
local send_all = coserver.send_all

-- What a TLS handshake (a record of type 22) gets from a plain-HTTP server.
local TLS_HANDSHAKE_RECORD = "\22"
local PLAIN_HTTP_REFUSAL = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"

local function serve_connection(conn, listener)
  local r = coserver.reader(conn)
  if listener == quiet then
    while r.line() do end -- until the peer gives up
    return
  end
  if r.peek() == TLS_HANDSHAKE_RECORD then
    send_all(conn, PLAIN_HTTP_REFUSAL)
    return
  end
  local open = true
  while open and coserver.running() do
    local request_line = r.line()
    if not request_line then break end
    if request_line ~= "" then
      local method, target = request_line:match("^(%S+) (%S+)")
      local headers = r.headers()
      local length = tonumber(headers["content-length"] or "0") or 0
      local body = length > 0 and r.bytes(length) or ""
      local path = (target or "/"):gsub("%?.*$", "")
      local query = coserver.query_of(target or "")
      local name = path:match("^/case/([%w_]+)")
      local case = name and cases.BY_NAME[name]
      if path == "/shutdown" then
        send_all(conn, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")
        coserver.stop()
        break
      elseif not case then
        send_all(conn, "HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")
        break
      end
      local key = (query.run or "") .. "|" .. name
      requests_of[key] = (requests_of[key] or 0) + 1
      local api = {
        request = { method = method, target = target, path = path, query = query, headers = headers, body = body },
        n = requests_of[key], origin = origin, run = query.run or "",
      }
      function api.fill(text)
        return (text:gsub("{origin}", origin):gsub("{other}", other):gsub("{silent}", silent):gsub("{run}", api.run))
      end
      function api.send(bytes)
        if open then open = send_all(conn, api.fill(bytes)) end
        return open
      end
      api.sleep = coserver.sleep
      function api.close()
        open = false
      end
      if type(case.serve) == "function" then
        case.serve(api)
      else
        api.send(case.serve)
        if case.close then api.close() end
      end
    end
  end
end

coserver.serve{ listeners = { server, second, quiet }, serve_connection = serve_connection,
                idle_seconds = IDLE_SECONDS, max_connections = MAX_CONNECTIONS, fail_past_max = true,
                name = "conformance server" }
