-- A keep-alive HTTP server that, after answering a request for a path
-- holding "unasked", writes a second, unasked response on the same
-- connection a moment later. A client that reuses that connection without
-- noticing the waiting bytes takes them for the answer to its next request.
-- Usage: lua unasked_server.lua; prints "listening <port>", serves
-- connections one at a time, each answer {"id": "<last path segment>"},
-- and exits on GET /shutdown or after 60 s without a connection.
local socket = require("socket")

local server = assert(socket.bind("127.0.0.1", 0))
server:settimeout(60)
io.stdout:write("listening ", select(2, server:getsockname()), "\n")
io.stdout:flush()

local function respond(conn, id)
  local body = ('{"id":"%s","status":{"run_status":"idle"}}'):format(id)
  return conn:send(("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s")
    :format(#body, body))
end

local running = true
for _ = 1, 1000 do
  if not running then break end
  local conn = server:accept()
  if not conn then break end
  conn:settimeout(10)
  for _ = 1, 1000 do
    local line = conn:receive("*l")
    if not line then break end
    local target = line:match("^%u+ (%S+)") or "/"
    local length = 0
    repeat
      local header = conn:receive("*l")
      local value = header and header:match("^[Cc]ontent%-[Ll]ength:%s*(%d+)")
      if value then length = tonumber(value) end
    until not header or header == ""
    if length > 0 then conn:receive(length) end
    if target == "/shutdown" then
      respond(conn, "bye")
      running = false
      break
    end
    respond(conn, target:match("([^/?]+)[^/]*$") or "root")
    if target:find("unasked", 1, true) then
      socket.sleep(0.05)
      respond(conn, "unasked")
    end
  end
  conn:close()
end
server:close()
