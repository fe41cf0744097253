--- extruct.mock.http: the mock server's HTTP/1.1 on the wire, with no
--- policy: reading a request (head, body by Content-Length or chunked,
--- 100-continue), writing a response (plain, or mangled as a fault asks),
--- and the small shared pieces: status reasons, query strings, JSON answers.
--
-- Everything that reads or writes runs inside a connection's coroutine;
-- waiting is a yield to the scheduler (extruct.mock.server): "read" or
-- "write" (on this connection's socket) or "sleep" (until a time).

local socket = require("socket")
local json = require("extruct.mock.json")
local server_text = require("extruct.text")

local M = {}

local floor = math.floor
local format, concat = string.format, table.concat

M.MAX_HEADER_BYTES = 64 * 1024         -- request line + headers
M.MAX_BODY_BYTES = 16 * 1024 * 1024    -- one request body
local MAX_HEADER_BYTES, MAX_BODY_BYTES = M.MAX_HEADER_BYTES, M.MAX_BODY_BYTES
local READ_CHUNK = 8192
local LINGER_SECONDS = 2                   -- see linger()
local LINGER_BYTES = 1024 * 1024
local STALL_SECONDS = 60                   -- longest a stalled answer holds its connection
local TRICKLE_INTERVAL = 1                 -- seconds between the bytes of a trickled answer
local CHUNK_BYTES = 1000                   -- chunk size of a chunked answer

---------------------------------------------------------------------------
-- Shared pieces
---------------------------------------------------------------------------

local REASONS = {
  [100] = "Continue", [200] = "OK", [201] = "Created", [202] = "Accepted", [204] = "No Content",
  [301] = "Moved Permanently", [302] = "Found", [304] = "Not Modified", [307] = "Temporary Redirect",
  [400] = "Bad Request", [401] = "Unauthorized", [402] = "Payment Required", [403] = "Forbidden",
  [404] = "Not Found", [405] = "Method Not Allowed", [408] = "Request Timeout", [409] = "Conflict",
  [410] = "Gone", [411] = "Length Required", [413] = "Payload Too Large", [415] = "Unsupported Media Type",
  [418] = "I'm a teapot", [422] = "Unprocessable Entity", [425] = "Too Early", [429] = "Too Many Requests",
  [431] = "Request Header Fields Too Large",
  [500] = "Internal Server Error", [501] = "Not Implemented", [502] = "Bad Gateway",
  [503] = "Service Unavailable", [504] = "Gateway Timeout", [505] = "HTTP Version Not Supported",
}

local function reason_phrase(status)
  return REASONS[status] or (status < 400 and "Unknown" or "Error")
end
M.reason_phrase = reason_phrase

local function percent_decode(s)
  -- Invalid escapes stay as they are (as uvicorn does).
  return (s:gsub("%%(%x%x)", function(hex) return string.char(tonumber(hex, 16)) end))
end
M.percent_decode = percent_decode

--- Splits a query string into a map. A name in `repeatable` collects a list
--- of its values; any other name given twice gives nil, a message and the name.
function M.parse_query(query, repeatable)
  local params = {}
  for pair in query:gmatch("[^&]+") do
    local name, value = pair:match("^([^=]*)=(.*)$")
    name = percent_decode(((name or pair):gsub("%+", " ")))
    value = percent_decode(((value or ""):gsub("%+", " ")))
    if repeatable and repeatable[name] then
      params[name] = params[name] or {}
      table.insert(params[name], value)
    elseif params[name] ~= nil then
      return nil, "parameter '" .. name .. "' given twice", name
    else
      params[name] = value
    end
  end
  return params
end

--- A JSON answer: { status, body, headers }.
local function respond(status, value, headers)
  return { status = status, body = json.encode(value), headers = headers or {} }
end
M.respond = respond

--- A FastAPI-style error answer: {"detail": detail}.
local function detail(status, text, headers)
  return respond(status, { detail = text }, headers)
end
M.detail = detail

local TOKEN_PATTERN = "^[%w!#%$%%&'%*%+%-%.%^_`|~]+$"

-- What the Server header says; extruct.mock.server sets it with the version.
M.server_name = "extruct-mock"

--- The status line and headers of a response (Content-Length from `length`).
local function response_head(response, length, close)
  local lines = { format("HTTP/1.1 %d %s", response.status, reason_phrase(response.status)) }
  local headers = response.headers
  local function add(name, value) lines[#lines + 1] = name .. ": " .. value end
  add("Date", os.date("!%a, %d %b %Y %H:%M:%S GMT"))
  add("Server", M.server_name)
  add("Content-Type", response.content_type or "application/json")
  if response.chunked then
    add("Transfer-Encoding", "chunked")
  else
    add("Content-Length", tostring(length))
  end
  local names = {}
  for name in pairs(headers) do names[#names + 1] = name end
  table.sort(names)
  for _, name in ipairs(names) do add(name, headers[name]) end
  if close then add("Connection", "close") end
  return concat(lines, "\r\n") .. "\r\n\r\n"
end

---------------------------------------------------------------------------
-- Connection I/O, inside a connection's coroutine. Waiting is a yield to
-- the scheduler: "read" or "write" (on this socket) or "sleep" (until a time).
---------------------------------------------------------------------------

--- Up to `limit` bytes, waiting for at least one; nil and an error at EOF
--- (or at `deadline`, if given).
local function receive_some(conn, limit, deadline)
  while true do
    local data, err, partial = conn.sock:receive(limit)
    local got = data or partial
    if got and got ~= "" then
      conn.active = socket.gettime()
      return got
    end
    if err ~= "timeout" then return nil, err or "closed" end
    if deadline and socket.gettime() >= deadline then return nil, "timeout" end
    coroutine.yield("read", deadline)
  end
end

--- Appends what arrives to conn.buffer; nil and an error at EOF.
local function fill(conn)
  local data, err = receive_some(conn, READ_CHUNK)
  if not data then return nil, err end
  conn.buffer = conn.buffer .. data
  return true
end

--- Exactly n bytes (the buffer first), or nil and an error.
local function read_exact(conn, n)
  local parts, have = {}, 0
  if conn.buffer ~= "" then
    local take = conn.buffer:sub(1, n)
    parts[1], have = take, #take
    conn.buffer = conn.buffer:sub(#take + 1)
  end
  while have < n do
    local data, err = receive_some(conn, n - have > READ_CHUNK and READ_CHUNK or n - have)
    if not data then return nil, err end
    parts[#parts + 1] = data
    have = have + #data
  end
  return concat(parts)
end

--- One line (CRLF or LF ending, removed), at most `limit` bytes long.
local function read_line(conn, limit)
  while true do
    local eol = conn.buffer:find("\n", 1, true)
    if eol then
      local line = conn.buffer:sub(1, eol - 1):gsub("\r$", "")
      conn.buffer = conn.buffer:sub(eol + 1)
      return line
    end
    if #conn.buffer > limit then return nil, "too_long" end
    local ok, err = fill(conn)
    if not ok then return nil, err end
  end
end

--- Sends all of data; false when the peer is gone.
local function send_all(conn, data)
  local i = 1
  while i <= #data do
    local last, err, partial_last = conn.sock:send(data, i)
    if last then
      i = last + 1
    elseif err == "timeout" then
      i = partial_last + 1
      if i <= #data then coroutine.yield("write") end
    else
      return false
    end
  end
  conn.active = socket.gettime()
  return true
end

--- Waits (other connections are served meanwhile) until `when`.
local function sleep_until(when)
  while socket.gettime() < when do coroutine.yield("sleep", when) end
end
M.sleep_until = sleep_until

--- Closes our side gracefully: FIN after the answer, then what the client
--- still sends is read and dropped for a moment. Closing with unread data
--- would make the kernel send a reset, and the client could lose the answer.
function M.linger(conn)
  conn.sock:shutdown("send")
  local deadline, drained = socket.gettime() + LINGER_SECONDS, 0
  while drained < LINGER_BYTES do
    local data = receive_some(conn, READ_CHUNK, deadline)
    if not data then return end
    drained = drained + #data
  end
end

---------------------------------------------------------------------------
-- Request parsing
---------------------------------------------------------------------------

-- A request that cannot be served: answer `status` and close the connection.
local function refusal(status, text)
  return { refused = true, response = detail(status, text) }
end

--- Reads the request head and parses it; returns a request, a refusal, or
--- nil when the client closed the connection between requests.
function M.read_request_head(conn)
  local head_end
  while true do
    -- Empty lines before a request line are allowed (RFC 9112, 2.2).
    conn.buffer = conn.buffer:gsub("^[\r\n]+", "")
    local _, e = conn.buffer:find("\r?\n\r?\n")
    if e then
      head_end = e
      break
    end
    if #conn.buffer > MAX_HEADER_BYTES then
      return refusal(431, "Request Header Fields Too Large")
    end
    -- A request line starts with a method, a token: bytes that cannot
    -- begin one (a TLS handshake sent to this plain-HTTP port) are refused
    -- at once, as nginx does, not waited on for a line end that may never come.
    local method_so_far = conn.buffer:match("^[^ \r\n]+")
    if method_so_far and not method_so_far:find(TOKEN_PATTERN) then
      return refusal(400, "Malformed request line")
    end
    local ok = fill(conn)
    if not ok then
      if conn.buffer:find("%S") then return refusal(400, "Incomplete request") end
      return nil
    end
  end
  if head_end > MAX_HEADER_BYTES then return refusal(431, "Request Header Fields Too Large") end
  local head = conn.buffer:sub(1, head_end)
  conn.buffer = conn.buffer:sub(head_end + 1)

  local lines = {}
  for line in head:gmatch("([^\n]*)\n") do
    lines[#lines + 1] = line:gsub("\r$", "")
  end
  while lines[#lines] == "" do lines[#lines] = nil end

  local method, target, version = (lines[1] or ""):match("^(%S+) (%S+) (HTTP/%d%.%d)$")
  if not method or not method:find(TOKEN_PATTERN) or target:find("%c") then
    return refusal(400, "Malformed request line")
  end
  if version ~= "HTTP/1.1" and version ~= "HTTP/1.0" then
    return refusal(505, "HTTP Version Not Supported")
  end

  local headers = {}
  for i = 2, #lines do
    local name, value = lines[i]:match("^([^:]+):[ \t]*(.-)[ \t]*$")
    if not name or not name:find(TOKEN_PATTERN) or value:gsub("\t", ""):find("%c") then
      return refusal(400, "Malformed header line")
    end
    name = name:lower()
    if headers[name] then
      headers[name] = headers[name] .. ", " .. value
    else
      headers[name] = value
    end
  end

  -- origin-form "/path?query", or absolute-form "http://host/path?query"
  local raw_path = target:match("^https?://[^/?]*(/?[^?]*)") or target:match("^(/[^?]*)")
  if not raw_path then return refusal(400, "Malformed request target") end
  if raw_path == "" then raw_path = "/" end
  local query = target:match("%?(.*)$") or ""

  -- The path is decoded per segment, so an encoded "/" stays inside its segment.
  local segments = {}
  for segment in (raw_path:sub(2) .. "/"):gmatch("([^/]*)/") do
    segments[#segments + 1] = percent_decode(segment)
  end

  return {
    method = method,
    target = target,
    version = version,
    path = "/" .. concat(segments, "/"),
    segments = segments,
    query = query,
    headers = headers,
    connection = conn.id,
  }
end

--- Reads the body the headers announce into request.body; returns nil, or
--- a refusal.
function M.read_request_body(conn, request)
  local headers = request.headers
  local te, cl = headers["transfer-encoding"], headers["content-length"]
  if te and cl then return refusal(400, "Both Transfer-Encoding and Content-Length") end

  local length
  if cl then
    for value in cl:gmatch("[^,]+") do
      value = server_text.trim(value)
      if not value:find("^%d+$") or (length and tonumber(value) ~= length) then
        return refusal(400, "Invalid Content-Length")
      end
      length = tonumber(value)
    end
    if length > MAX_BODY_BYTES then return refusal(413, "Payload Too Large") end
  elseif te and te:lower() ~= "chunked" then
    return refusal(501, "Unsupported Transfer-Encoding")
  end

  -- A client waiting for permission before sending its body gets it.
  local expect = headers.expect
  local has_body = (length and length > 0) or te ~= nil
  if expect and request.version == "HTTP/1.1" and has_body then
    if expect:lower() ~= "100-continue" then return refusal(417, "Expectation Failed") end
    if not send_all(conn, "HTTP/1.1 100 Continue\r\n\r\n") then return refusal(400, "Connection lost") end
  end

  if length then
    local body = read_exact(conn, length)
    if not body then return refusal(400, "Incomplete body") end
    request.body = body
    return nil
  end
  if not te then
    request.body = ""
    return nil
  end

  -- chunked: size line, data, CRLF ... a zero size, trailers, an empty line
  local parts, total = {}, 0
  while true do
    local line = read_line(conn, 1024)
    local size = line and line:match("^(%x+)[ \t]*;?") -- chunk extensions are ignored
    if not size or #size > 8 then return refusal(400, "Malformed chunk") end
    size = tonumber(size, 16)
    if size == 0 then break end
    total = total + size
    if total > MAX_BODY_BYTES then return refusal(413, "Payload Too Large") end
    local data = read_exact(conn, size)
    if not data or read_line(conn, 2) ~= "" then return refusal(400, "Malformed chunk") end
    parts[#parts + 1] = data
  end
  local trailer_bytes = 0
  repeat
    local trailer = read_line(conn, MAX_HEADER_BYTES)
    if not trailer then return refusal(400, "Malformed chunk trailer") end
    trailer_bytes = trailer_bytes + #trailer
    if trailer_bytes > MAX_HEADER_BYTES then return refusal(431, "Request Header Fields Too Large") end
  until trailer == ""
  request.body = concat(parts)
  return nil
end

--- Whether the connection stays open after answering this request.
function M.wants_keep_alive(request)
  local tokens = {}
  for token in (request.headers.connection or ""):lower():gmatch("[^,%s]+") do tokens[token] = true end
  if tokens.close then return false end
  if request.version == "HTTP/1.0" then return tokens["keep-alive"] == true end
  return true
end

---------------------------------------------------------------------------
-- Writing a response
---------------------------------------------------------------------------

--- Writes a response; returns whether the connection may stay open.
function M.send_response(conn, request, response, keep_alive)
  if response.drop then return false end
  local body = response.body or ""
  local close = not keep_alive or response.truncate or response.shutdown
  if response.truncate or response.stall or response.reset then
    -- The full length is announced, half the body sent, then the connection
    -- closed (truncate), held open without a byte more until the client
    -- gives up (stall), or reset (reset: no FIN, an RST).
    if not send_all(conn, response_head(response, #body, false) .. body:sub(1, floor(#body / 2))) then
      return false
    end
    if response.stall then
      local deadline = socket.gettime() + STALL_SECONDS
      repeat until not receive_some(conn, READ_CHUNK, deadline)
    elseif response.reset then
      conn.sock:setoption("linger", { on = true, timeout = 0 }) -- close() now sends an RST
      conn.reset = true
    end
    return false
  end
  if response.trickle then
    -- One byte a second, until the whole body is sent or the client is gone.
    if not send_all(conn, response_head(response, #body, false)) then return false end
    for i = 1, #body do
      sleep_until(socket.gettime() + TRICKLE_INTERVAL)
      if not send_all(conn, body:sub(i, i)) then return false end
    end
    return false
  end
  if response.chunked then
    local parts = { response_head(response, nil, close) }
    for i = 1, #body, CHUNK_BYTES do
      local chunk = body:sub(i, i + CHUNK_BYTES - 1)
      parts[#parts + 1] = format("%x\r\n%s\r\n", #chunk, chunk)
    end
    parts[#parts + 1] = "0\r\n\r\n"
    return send_all(conn, concat(parts)) and not close
  end
  local head = response_head(response, #body, close)
  local sent = send_all(conn, request and request.method == "HEAD" and head or head .. body)
  return sent and not close
end

--- Serves requests on one connection; returns true when the server ends

return M
