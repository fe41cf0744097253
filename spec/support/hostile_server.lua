-- A small HTTP server that misbehaves on purpose, for spec/hostile_spec.lua.
-- Usage: lua hostile_server.lua [port]. Listens on 127.0.0.1 only, prints
-- "listening <port>" once ready, serves one connection at a time (each
-- answer closes its connection) and exits on GET /shutdown, after
-- MAX_REQUESTS requests, or after IDLE_SECONDS without a connection.
--
-- Routes:
--   GET /headers?n=N&value=V   200 {} with N header lines "X-Repeated: V"
--   GET /v1/tables/<id>/data   a page of rows without ids that ignores the
--                              offset: every page holds the same `limit` rows
--   GET /v1/tables/paged/data  rows without ids that honour offset and limit,
--                              7 in all, each different
--   GET /big?size=N&status=S&length=L
--                              a JSON body of N bytes ({"detail":"xxx..."})
--                              with status S (default 200); L = "none"
--                              sends no Content-Length (the body ends when
--                              the connection closes), "short" announces N
--                              and sends half
--   GET /whoami                200 {"via":"direct"}
--   GET /_proxied              200 {"count":N,"authorization":"...","target":"..."}:
--                              the requests received as a proxy, and the last
--                              one's Authorization header and target
--   GET http://...             (a request for a proxy: an absolute URL) recorded
--                              and answered 200 {"via":"proxy"}
--   GET /v1/tables/ID          404 {"detail":"Table not found"}, as the API says
--   anything else              404 {"detail":"Not Found"}, FastAPI's missing route

package.path = "./?.lua;" .. package.path
local socket = require("socket")
local query_of = require("spec.support.coserver").query_of

local MAX_REQUESTS = 10000
local IDLE_SECONDS = 60
local PAGED_ROWS = 7

local function answer(conn, status, headers, body)
  local head = { ("HTTP/1.1 %d %s"):format(status, status == 200 and "OK" or "Not Found") }
  for _, line in ipairs(headers) do head[#head + 1] = line end
  head[#head + 1] = "Content-Type: application/json"
  head[#head + 1] = "Content-Length: " .. #body
  head[#head + 1] = "Connection: close"
  conn:send(table.concat(head, "\r\n") .. "\r\n\r\n" .. body)
end

-- A big body, sent in pieces so the server never holds two copies.
local function answer_big(conn, params)
  local size = math.max(16, math.min(tonumber(params.size) or 0, 256 * 1024 * 1024))
  local status = tonumber(params.status) or 200
  local head = { ("HTTP/1.1 %d %s"):format(status, status == 200 and "OK" or "Not Found"),
    "Content-Type: application/json", "Connection: close" }
  if params.length ~= "none" then head[#head + 1] = "Content-Length: " .. size end
  if not conn:send(table.concat(head, "\r\n") .. "\r\n\r\n") then return end
  local sent = params.length == "short" and math.floor(size / 2) or size
  local filler = ("x"):rep(64 * 1024)
  local body_left = sent - 11
  if not conn:send('{"detail":"') then return end
  while body_left > 2 do
    local n = math.min(#filler, body_left - 2)
    if not conn:send(filler, 1, n) then return end
    body_left = body_left - n
  end
  if params.length ~= "short" then conn:send('"}') end
end

local function rows_json(first, count)
  local rows = {}
  for i = first, first + count - 1 do
    rows[#rows + 1] = ('{"data":{"n":{"value":{"answer":%d}}}}'):format(i)
  end
  return '{"rows":[' .. table.concat(rows, ",") .. "]}"
end

-- What came as a proxy's request.
local proxied = { count = 0, authorization = "", target = "" }

local function json_string(value)
  return '"' .. value:gsub('[%c"\\]', function(c) return ("\\u%04x"):format(c:byte()) end) .. '"'
end

-- Returns false when the server should stop.
local function serve(conn)
  conn:settimeout(5)
  local request_line = conn:receive("*l")
  if not request_line then return true end
  local length, authorization = 0, ""
  while true do
    local line = conn:receive("*l")
    if not line or line == "" then break end
    local value = line:match("^[Cc]ontent%-[Ll]ength:%s*(%d+)")
    if value then length = tonumber(value) end
    authorization = line:match("^[Aa]uthorization:%s*(.-)%s*$") or authorization
  end
  if length > 0 then conn:receive(length) end
  local target = request_line:match("^%u+ (%S+)") or "/"
  if target:match("^http://") then
    proxied = { count = proxied.count + 1, authorization = authorization, target = target }
    answer(conn, 200, {}, '{"via":"proxy"}')
    return true
  end
  local path = target:gsub("%?.*$", "")
  local params = query_of(target)
  if path == "/shutdown" then
    answer(conn, 200, {}, "{}")
    return false
  elseif path == "/headers" then
    local headers = {}
    for i = 1, math.min(tonumber(params.n) or 1, 100000) do
      headers[i] = "X-Repeated: " .. (params.value or "")
    end
    answer(conn, 200, headers, "{}")
  elseif path == "/whoami" then
    answer(conn, 200, {}, '{"via":"direct"}')
  elseif path == "/_proxied" then
    answer(conn, 200, {}, ('{"count":%d,"authorization":%s,"target":%s}'):format(proxied.count,
      json_string(proxied.authorization), json_string(proxied.target)))
  elseif path == "/big" then
    answer_big(conn, params)
  elseif path == "/v1/tables/paged/data" then
    local offset, limit = tonumber(params.offset) or 0, tonumber(params.limit) or 50
    local count = math.max(0, math.min(limit, PAGED_ROWS - offset))
    answer(conn, 200, {}, rows_json(offset + 1, count))
  elseif path:match("^/v1/tables/[^/]+/data$") then
    answer(conn, 200, {}, rows_json(1, math.min(tonumber(params.limit) or 50, 1000)))
  elseif path:match("^/v1/tables/[^/]+$") then
    -- (the API's own 404 for a table, not FastAPI's for a missing route)
    answer(conn, 404, {}, '{"detail":"Table not found"}')
  else
    answer(conn, 404, {}, '{"detail":"Not Found"}')
  end
  return true
end

local server = assert(socket.bind("127.0.0.1", tonumber(arg[1]) or 0))
server:settimeout(IDLE_SECONDS)
local _, port = server:getsockname()
io.stdout:write("listening ", port, "\n")
io.stdout:flush()

for _ = 1, MAX_REQUESTS do
  local conn = server:accept()
  if not conn then break end
  local ok, go_on = pcall(serve, conn)
  conn:close()
  if ok and not go_on then break end
end
server:close()
