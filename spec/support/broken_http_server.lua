-- An HTTP server that breaks HTTP/1.1 on purpose, for spec/protocol_spec.lua.
-- Usage: lua broken_http_server.lua; prints "listening <port>", serves
-- connections one at a time (127.0.0.1 only), and exits on GET /shutdown or
-- after 60 s without a connection.
--
--   GET /raw/<case>        the bytes of RAW[case], then the connection closes
--   GET /.../<x>unasked    answers {"id": "<x>unasked"} and keeps the
--                          connection, then writes a second, unasked answer
--                          on it a moment later: a client that reuses the
--                          connection without noticing the waiting bytes
--                          takes them for the answer to its next request
--   ANY /redirect/<status>  that status, Location: /echo
--   ANY /echo              {"id": "<method> <body>"}
--   GET /.../<id>          {"id": "<id>"}, the connection kept alive
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

local BIG = ("a"):rep(1024 * 1024)
local RAW = {
  http09 = '{"id":"x"}\n',
  status099 = "HTTP/1.1 099 Odd\r\nContent-Length: 2\r\n\r\n{}",
  status1000 = "HTTP/1.1 1000 Odd\r\nContent-Length: 2\r\n\r\n{}",
  big_header = "HTTP/1.1 200 OK\r\nX-Big: " .. BIG .. "\r\nContent-Length: 2\r\n\r\n{}",
  two_lengths = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}x",
  to_file = "HTTP/1.1 302 Found\r\nLocation: file:///etc/passwd\r\nContent-Length: 0\r\n\r\n",
}

local running = true
for _ = 1, 1000 do
  if not running then break end
  local conn = server:accept()
  if not conn then break end
  conn:settimeout(10)
  for _ = 1, 1000 do
    local line = conn:receive("*l")
    if not line then break end
    local method, target = line:match("^(%u+) (%S+)")
    target = target or "/"
    local length = 0
    repeat
      local header = conn:receive("*l")
      local value = header and header:match("^[Cc]ontent%-[Ll]ength:%s*(%d+)")
      if value then length = tonumber(value) end
    until not header or header == ""
    local body = length > 0 and conn:receive(length) or ""
    local case = target:match("^/raw/([%w_]+)")
    local status = tonumber(target:match("^/redirect/(%d+)$"))
    if case then
      conn:send(RAW[case] or "")
      break
    elseif target == "/shutdown" then
      respond(conn, "bye")
      running = false
      break
    elseif status then
      conn:send(("HTTP/1.1 %d Moved\r\nLocation: /echo\r\nContent-Length: 0\r\n\r\n"):format(status))
    elseif target == "/echo" then
      respond(conn, method .. " " .. body:gsub('"', "'"))
    else
      respond(conn, target:match("([^/?]+)[^/]*$") or "root")
      if target:find("unasked", 1, true) then
        socket.sleep(0.05)
        respond(conn, "unasked")
      end
    end
  end
  conn:close()
end
server:close()
