-- The machinery of the specs' HTTP test servers that serve many
-- connections at once (spec/support/conformance_server.lua,
-- spec/soak/server.lua): a coroutine per connection, driven by
-- socket.select over the listening sockets and the connections, so one
-- connection's pause or stall never holds up another's bytes. A server
-- keeps only what is its own (routes, cases, faults) in the function it
-- gives serve(). (spec/support/hostile_server.lua serves one connection at
-- a time on blocking sockets, on purpose, and takes query_of alone.) Plain
-- Lua 5.1 to 5.4 and LuaJIT, luasocket only: the servers run outside busted.
local socket = require("socket")

local M = {}

-- co -> { conn, listener, waits = "start" | "read" | "write" | "sleep", wake_at }
local sessions = {}
local running = true

--- How many connections were accepted, are open, and were open at most at once.
M.counts = { accepted = 0, open = 0, most_open = 0 }

--- Whether the server goes on; stop() has serve() return once the running
--- coroutines have yielded (each connection may check running() between
--- requests).
function M.running() return running end
function M.stop() running = false end

--- Yields the running connection's coroutine until the loop resumes it:
--- "read" or "write" when its socket is ready (or, for "read", at `wake_at`
--- if given), "sleep" at `wake_at`.
function M.wait_for(what, wake_at)
  local session = sessions[coroutine.running()]
  session.waits, session.wake_at = what, wake_at
  coroutine.yield()
end

function M.sleep(seconds) M.wait_for("sleep", socket.gettime() + seconds) end

--- A buffered reader over a non-blocking socket. line() and bytes() answer
--- nil when the peer closed first, peek() the first byte waiting or nil;
--- line(idle_until) also answers nil when no byte of the line came by the
--- time `idle_until` (a keep-alive timeout: the connection is done).
function M.reader(conn)
  local buffer = ""
  local function fill(idle_until)
    while true do
      local data, err, partial = conn:receive(65536)
      data = data or partial
      if data and #data > 0 then
        buffer = buffer .. data
        return true
      end
      if err == "closed" then return false end
      if idle_until and socket.gettime() >= idle_until then return false end
      -- (select wakes on a byte; the idle limit is checked at least every 100 ms)
      M.wait_for("read", idle_until and math.min(idle_until, socket.gettime() + 0.1))
    end
  end
  local r = {}
  function r.peek()
    if buffer == "" and not fill() then return nil end
    return buffer:sub(1, 1)
  end
  function r.line(idle_until)
    while true do
      local eol = buffer:find("\n", 1, true)
      if eol then
        local line = buffer:sub(1, eol - 1):gsub("\r$", "")
        buffer = buffer:sub(eol + 1)
        return line
      end
      if not fill(buffer == "" and idle_until or nil) then return nil end
    end
  end
  -- The header lines up to the blank one (or the peer's close), as
  -- { lower-case name = value }.
  function r.headers()
    local headers = {}
    while true do
      local line = r.line()
      if not line or line == "" then return headers end
      local name, value = line:match("^([^:]+):%s*(.-)%s*$")
      if name then headers[name:lower()] = value end
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

--- Sends all of `data`, waiting while the socket is full; false when the
--- peer closed first.
function M.send_all(conn, data)
  local start = 1
  while start <= #data do
    local sent, err, partial = conn:send(data, start)
    local last = sent or partial
    if last and last >= start then start = last + 1 end
    if err == "closed" then return false end
    if start <= #data then M.wait_for("write") end
  end
  return true
end

--- The query of a request target as { name = value }, values percent-decoded.
function M.query_of(target)
  local query = {}
  for name, value in (target:match("%?(.*)$") or ""):gmatch("([^&=]+)=([^&]*)") do
    query[name] = value:gsub("%%(%x%x)", function(hex) return string.char(tonumber(hex, 16)) end)
  end
  return query
end

--- A listening socket on a free port of 127.0.0.1, non-blocking, and its port.
function M.listen(backlog)
  local listener = assert(socket.bind("127.0.0.1", 0, backlog))
  listener:settimeout(0)
  return listener, select(2, listener:getsockname())
end

--- Prints "listening <port>" (the first listener's), then serves the
--- connections of `listeners` until stop() or `idle_seconds`
--- without a connection accepted or one going back to read, each in a
--- coroutine running serve_connection(conn, listener) (the connection is
--- closed when it returns). options:
---   listeners         the listening sockets (non-blocking)
---   serve_connection  function(conn, listener)
---   idle_seconds      when an abandoned server exits
---   max_connections   at most this many open at once: the others wait in
---                     the backlog, or with `fail_past_max` the server
---                     raises (for a suite that never opens so many, a
---                     client leaking connections)
---   name              what a connection's error on stderr begins with
function M.serve(options)
  local listeners, max = options.listeners, options.max_connections
  -- (what the spec that started the server waits for before it connects)
  io.stdout:write("listening ", select(2, listeners[1]:getsockname()), "\n")
  io.stdout:flush()
  local last_active = socket.gettime()
  while running and socket.gettime() - last_active < options.idle_seconds do
    for _, listener in ipairs(listeners) do
      while options.fail_past_max or M.counts.open < max do
        local conn = listener:accept()
        if not conn then break end
        last_active = socket.gettime()
        conn:settimeout(0)
        sessions[coroutine.create(options.serve_connection)] = { conn = conn, listener = listener, waits = "start" }
        M.counts.accepted = M.counts.accepted + 1
        M.counts.open = M.counts.open + 1
        M.counts.most_open = math.max(M.counts.most_open, M.counts.open)
      end
    end
    assert(M.counts.open <= max, "too many connections at once")
    local readers, writers, timeout = {}, {}, 0.5
    for i, listener in ipairs(listeners) do readers[i] = listener end
    local now = socket.gettime()
    for _, session in pairs(sessions) do
      if session.waits == "read" then
        readers[#readers + 1] = session.conn
        if session.wake_at then timeout = math.min(timeout, math.max(0, session.wake_at - now)) end
      elseif session.waits == "write" then
        writers[#writers + 1] = session.conn
      elseif session.waits == "sleep" then
        timeout = math.min(timeout, math.max(0, session.wake_at - now))
      else
        timeout = 0
      end
    end
    local readable, writable = socket.select(readers, writers, timeout)
    now = socket.gettime()
    local go = {}
    for co, session in pairs(sessions) do
      if session.waits == "start" or (session.waits == "sleep" and now >= session.wake_at)
          or (session.waits == "read" and (readable[session.conn] or (session.wake_at and now >= session.wake_at)))
          or (session.waits == "write" and writable[session.conn]) then
        go[#go + 1] = co
      end
    end
    for _, co in ipairs(go) do
      local session = sessions[co]
      session.waits, session.wake_at = nil, nil
      local ok, err = coroutine.resume(co, session.conn, session.listener)
      if not ok then io.stderr:write(options.name, ": ", tostring(err), "\n") end
      if coroutine.status(co) == "dead" then
        session.conn:close()
        sessions[co] = nil
        M.counts.open = M.counts.open - 1
      elseif session.waits == "read" then
        last_active = socket.gettime()
      end
    end
  end
  for _, listener in ipairs(listeners) do listener:close() end
end

return M
