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
local socket = require("socket")
local cases = require("spec.support.conformance_cases")

local IDLE_SECONDS = 120
local MAX_CONNECTIONS = 200

local server = assert(socket.bind("127.0.0.1", 0))
server:settimeout(0)
local _, port = server:getsockname()
local origin = "http://127.0.0.1:" .. port
-- a second port: another origin, for redirects that must drop the token
local second = assert(socket.bind("127.0.0.1", 0))
second:settimeout(0)
local other = "http://127.0.0.1:" .. select(2, second:getsockname())
local quiet = assert(socket.bind("127.0.0.1", 0))
quiet:settimeout(0)
local silent = "http://127.0.0.1:" .. select(2, quiet:getsockname())

-- The coroutines, what each waits for, and their sockets.
local sessions = {} -- co -> { conn = , waits = "read" | "write" | "sleep", wake_at = }
local requests_of = {} -- "<run>|<name>" -> how many requests came

local function wait_for(what, wake_at)
  local session = sessions[coroutine.running()]
  session.waits, session.wake_at = what, wake_at
  coroutine.yield()
end

-- A buffered reader over a non-blocking socket: false when the peer closed.
local function reader(conn)
  local buffer = ""
  local function fill()
    while true do
      local data, err, partial = conn:receive(65536)
      data = data or partial
      if data and #data > 0 then
        buffer = buffer .. data
        return true
      end
      if err == "closed" then return false end
      wait_for("read")
    end
  end
  local r = {}
  -- The first byte waiting, or nil when the peer closed.
  function r.peek()
    if buffer == "" and not fill() then return nil end
    return buffer:sub(1, 1)
  end
  function r.line()
    while true do
      local eol = buffer:find("\n", 1, true)
      if eol then
        local line = buffer:sub(1, eol - 1):gsub("\r$", "")
        buffer = buffer:sub(eol + 1)
        return line
      end
      if not fill() then return nil end
    end
  end
  function r.bytes(n)
    while #buffer < n do
      if not fill() then return nil end
    end
    local data = buffer:sub(1, n)
    buffer = buffer:sub(n + 1)
    return data
  end
  return r
end

local function send_all(conn, data)
  local start = 1
  while start <= #data do
    local sent, err, partial = conn:send(data, start)
    local last = sent or partial
    if last and last >= start then start = last + 1 end
    if err == "closed" then return false end
    if start <= #data then wait_for("write") end
  end
  return true
end

local function query_of(target)
  local query = {}
  for name, value in (target:match("%?(.*)$") or ""):gmatch("([^&=]+)=([^&]*)") do query[name] = value end
  return query
end

local running = true

-- What a TLS handshake (a record of type 22) gets from a plain-HTTP server.
local TLS_HANDSHAKE_RECORD = "\22"
local PLAIN_HTTP_REFUSAL = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"

local function serve_connection(conn, is_silent)
  local r = reader(conn)
  if is_silent then
    while r.line() do end -- until the peer gives up
    conn:close()
    return
  end
  if r.peek() == TLS_HANDSHAKE_RECORD then
    send_all(conn, PLAIN_HTTP_REFUSAL)
    conn:close()
    return
  end
  local open = true
  while open and running do
    local request_line = r.line()
    if not request_line then break end
    if request_line ~= "" then
      local method, target = request_line:match("^(%S+) (%S+)")
      local headers = {}
      while true do
        local line = r.line()
        if not line or line == "" then break end
        local name, value = line:match("^([^:]+):%s*(.-)%s*$")
        if name then headers[name:lower()] = value end
      end
      local length = tonumber(headers["content-length"] or "0") or 0
      local body = length > 0 and r.bytes(length) or ""
      local path = (target or "/"):gsub("%?.*$", "")
      local query = query_of(target or "")
      local name = path:match("^/case/([%w_]+)")
      local case = name and cases.BY_NAME[name]
      if path == "/shutdown" then
        send_all(conn, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")
        running = false
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
      function api.sleep(seconds) wait_for("sleep", socket.gettime() + seconds) end
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
  conn:close()
end

io.stdout:write("listening ", port, "\n")
io.stdout:flush()

local last_request = socket.gettime()
while running and socket.gettime() - last_request < IDLE_SECONDS do
  -- new connections
  for _, listener in ipairs({ server, second, quiet }) do
    while true do
      local conn = listener:accept()
      if not conn then break end
      last_request = socket.gettime()
      conn:settimeout(0)
      local co = coroutine.create(serve_connection)
      sessions[co] = { conn = conn, waits = "start", silent = listener == quiet }
    end
  end
  -- who can go on
  local readers, writers, timeout = { server, second, quiet }, {}, 0.5
  local now = socket.gettime()
  local count = 0
  for _, session in pairs(sessions) do
    count = count + 1
    if session.waits == "read" then
      readers[#readers + 1] = session.conn
    elseif session.waits == "write" then
      writers[#writers + 1] = session.conn
    elseif session.waits == "sleep" then
      timeout = math.min(timeout, math.max(0, session.wake_at - now))
    else
      timeout = 0
    end
  end
  assert(count <= MAX_CONNECTIONS, "too many connections at once")
  local readable, writable = socket.select(readers, writers, timeout)
  now = socket.gettime()
  local go = {}
  for co, session in pairs(sessions) do
    if session.waits == "start" or (session.waits == "sleep" and now >= session.wake_at)
        or (session.waits == "read" and readable[session.conn])
        or (session.waits == "write" and writable[session.conn]) then
      go[#go + 1] = co
    end
  end
  for _, co in ipairs(go) do
    sessions[co].waits = nil
    local ok, err = coroutine.resume(co, sessions[co].conn, sessions[co].silent)
    if not ok then io.stderr:write("conformance server: ", tostring(err), "\n") end
    if coroutine.status(co) == "dead" then
      sessions[co].conn:close()
      sessions[co] = nil
    elseif sessions[co].waits == "read" then
      last_request = socket.gettime()
    end
  end
end
server:close()
second:close()
quiet:close()
