--- extruct.mock: a mock Extruct API server, for offline development and tests.
--
-- Pure Lua on luasocket (no other dependency, its own JSON); runs on Lua 5.1
-- to 5.4 and LuaJIT. One process, one thread: every connection is a
-- coroutine over a non-blocking socket and a scheduler loop waits on
-- socket.select, so a delayed answer to one client never holds up another.
--
--   extruct-mock [--host H] [--port N] [--token T] [--polls N] [--cells-per-poll N] [--quiet] [--help]
--
-- This file is the HTTP server; extruct.mock.api is the offline Extruct it
-- serves (the Tables API, GET /v1/user, GET /v1/healthcheck), and
-- extruct.mock.json its JSON. A control API under /_mock/ (no auth) adds
-- tables, moves their clocks, queues faults, reads the request log and shuts
-- down; see M.USAGE below.

local M = {}

M._VERSION = "0.1.0"

-- luasocket is loaded on first use, so that `--help` works even where the
-- module path is set but luasocket's C part is not on package.cpath.
local socket

local function load_socket()
  socket = socket or require("socket")
  return socket
end

local json = require("extruct.mock.json")
local api = require("extruct.mock.api")

local floor = math.floor
local format, concat = string.format, table.concat

local MAX_HEADER_BYTES = 64 * 1024         -- request line + headers
local MAX_BODY_BYTES = 16 * 1024 * 1024    -- one request body
local IDLE_TIMEOUT = 30                    -- seconds without traffic before a connection is closed
local SELECT_CAP = 0.5                     -- longest wait in one scheduler step
local MAX_CONNECTIONS = 256                -- stays well under select's FD_SETSIZE
local MAX_LOGGED_REQUESTS = 10000          -- the request log keeps the newest ones,
local MAX_LOGGED_BYTES = 64 * 1024 * 1024  -- and at most this much of their bodies
local MAX_FAULTS = 10000
local MAX_DELAY = 3600
local READ_CHUNK = 8192
local LINGER_SECONDS = 2                   -- see linger()
local LINGER_BYTES = 1024 * 1024
local STALL_SECONDS = 60                   -- longest a stalled answer holds its connection
local TRICKLE_INTERVAL = 1                 -- seconds between the bytes of a trickled answer
local CHUNK_BYTES = 1000                   -- chunk size of a chunked answer

M.USAGE = [[
usage: extruct-mock [--host H] [--port N] [--token T] [--polls N] [--cells-per-poll N] [--quiet] [--help]

An offline Extruct API: tables, columns, rows and runs in memory, no credits.

  --host H              address to bind (default 127.0.0.1)
  --port N              port to bind, 0 for a free one (default 8080)
  --token T             the bearer token clients must send (default mock-token)
  --polls N             GETs of tbl_demo until its run is idle (default 3)
  --cells-per-poll N    cells a run completes per poll of its table (default 10)
  --quiet               do not log requests to stderr
  --help                show this help

Prints "extruct-mock listening on http://HOST:PORT" once bound.

API (Authorization: Bearer T on all but the healthcheck):
  GET /v1/healthcheck, GET /v1/user
  GET /v1/tables (kind, scope, search, tags repeated, sort, offset, limit <= 100), POST /v1/tables
  GET|PATCH|DELETE /v1/tables/{id}, POST /v1/tables/{id}/clone[?schema_only=true]
  GET /v1/tables/{id}/data (offset, limit), GET /v1/tables/{id}/rows/{row_id}
  POST|PATCH|DELETE /v1/tables/{id}/rows, POST /v1/tables/{id}/columns,
  PATCH|DELETE /v1/tables/{id}/columns/{column_id}, POST /v1/tables/{id}/run (mode new, all, failed,
  stuck_failed_new; rows, columns)
Runs: a table's clock is its polls. Each GET of the table, of its /data or of one of its rows
completes the next --cells-per-poll queued cells. Answers are made up from the row's inputs, the
same every time. A row whose input values contain "fail" gets its output cells failed on their
first run; a run in mode failed completes them.
Fixtures: tbl_demo (25 rows, run in progress), tbl_idle (3 rows, done), tbl_people (10 rows).

Control API (no auth): POST /_mock/reset, POST /_mock/tables?id=X&polls=N[&kind=K&rows=R],
POST /_mock/advance?id=X[&polls=N] (N polls without GETs, default 1),
POST /_mock/faults?[count=N&path=P&status=S&detail=D&retry_after=R&delay=SEC&body=B&content_type=T&mode=M
                   &content_encoding=E&location=URL],
GET /_mock/requests, GET /_mock/stats (connections, requests, accepted, in_flight, max_in_flight:
the most API requests answered at once), POST /_mock/shutdown.
Fault modes: truncate, invalid_json, html, drop, empty, stall, reset, trickle, chunked.
]]

---------------------------------------------------------------------------
-- JSON (extruct.mock.json) and the offline Extruct (extruct.mock.api)
---------------------------------------------------------------------------

--- The JSON null: a unique sentinel.
M.null = json.null

--- Tables with this metatable encode as JSON arrays; all others as objects,
--- so an empty array ([]) and an empty object ({}) stay distinct.
M.array_mt = json.array_mt

--- Marks t (default: a new table) as a JSON array and returns it.
local array = json.array
M.array = array

--- Encodes a Lua value as JSON text. Arrays must carry M.array_mt (see
--- M.array); M.null encodes as null; object keys come out sorted.
M.encode_json = json.encode

--- Decodes JSON text: the value, or nil, a message and the byte position.
M.decode_json = json.decode

---------------------------------------------------------------------------
-- HTTP helpers
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

local percent_decode = api.percent_decode
local parse_query = api.parse_query

local TOKEN_PATTERN = "^[%w!#%$%%&'%*%+%-%.%^_`|~]+$"

local function json_response(status, value, headers)
  return { status = status, body = M.encode_json(value), headers = headers or {} }
end

local function detail_response(status, detail, headers)
  return json_response(status, { detail = detail }, headers)
end

--- The status line and headers of a response (Content-Length from `length`).
local function response_head(response, length, close)
  local lines = { format("HTTP/1.1 %d %s", response.status, reason_phrase(response.status)) }
  local headers = response.headers
  local function add(name, value) lines[#lines + 1] = name .. ": " .. value end
  add("Date", os.date("!%a, %d %b %Y %H:%M:%S GMT"))
  add("Server", "extruct-mock/" .. M._VERSION)
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

local function sleep_until(when)
  while socket.gettime() < when do coroutine.yield("sleep", when) end
end

--- Closes our side gracefully: FIN after the answer, then what the client
--- still sends is read and dropped for a moment. Closing with unread data
--- would make the kernel send a reset, and the client could lose the answer.
local function linger(conn)
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
local function refusal(status, detail)
  return { refused = true, response = detail_response(status, detail) }
end

--- Reads the request head and parses it; returns a request, a refusal, or
--- nil when the client closed the connection between requests.
local function read_request_head(conn)
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
local function read_request_body(conn, request)
  local headers = request.headers
  local te, cl = headers["transfer-encoding"], headers["content-length"]
  if te and cl then return refusal(400, "Both Transfer-Encoding and Content-Length") end

  local length
  if cl then
    for value in cl:gmatch("[^,]+") do
      value = value:match("^%s*(.-)%s*$")
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
local function wants_keep_alive(request)
  local tokens = {}
  for token in (request.headers.connection or ""):lower():gmatch("[^,%s]+") do tokens[token] = true end
  if tokens.close then return false end
  if request.version == "HTTP/1.0" then return tokens["keep-alive"] == true end
  return true
end

---------------------------------------------------------------------------
-- The server
---------------------------------------------------------------------------

local Server = {}
Server.__index = Server

--- Restores the fixtures and clears the poll counters, faults, request log
--- and counters.
function Server:reset()
  self.api:reset()
  self.faults = {}
  self.request_log = {}
  self.logged_bytes = 0
  self.api_connections = {} -- ids of connections that carried API requests
  -- in_flight: API requests being answered now; max_in_flight: the most at once
  self.stats = { connections = 0, requests = 0, accepted = 0, in_flight = 0, max_in_flight = 0 }
end

function Server:log(fmt, ...)
  if not self.quiet then self.log_file:write("extruct-mock: ", format(fmt, ...), "\n") end
end

--- Errors are worth seeing even with --quiet.
function Server:log_error(fmt, ...)
  self.log_file:write("extruct-mock: error: ", format(fmt, ...), "\n")
end

---------------------------------------------------------------------------
-- API routes (everything outside /_mock/)
---------------------------------------------------------------------------

local NOT_FOUND = "Not Found"

--- The API's answer (extruct.mock.api); `count_poll` false answers a GET
--- without moving the table's clock.
function Server:api_response(request, count_poll)
  request.count_poll = count_poll
  return self.api:handle(request)
end

--- A valid table body, for faults that mangle one. A request that changes
--- something is carried out first: the server did the work, the answer got
--- lost on the way.
function Server:sample_table_body(request)
  local answer = self:api_response(request, false)
  if answer.status == 200 and request.segments[2] == "tables" then return answer.body end
  local demo = self.api.tables.tbl_demo
  if demo then return M.encode_json(api.render_table(demo)) end
  return M.encode_json({ id = "tbl_demo", status = { run_status = "idle", num_cells_in_progress = 0 } })
end

--- The first queued fault whose path matches, consumed once.
function Server:take_fault(request)
  for i, fault in ipairs(self.faults) do
    if fault.path == nil or request.path:sub(1, #fault.path) == fault.path then
      fault.remaining = fault.remaining - 1
      if fault.remaining <= 0 then table.remove(self.faults, i) end
      return fault
    end
  end
end

local HTML_PAGE = [[
<html>
<head><title>%d %s</title></head>
<body>
<center><h1>%d %s</h1></center>
<hr><center>nginx</center>
</body>
</html>
]]

--- The answer a fault stands for (its delay has already passed).
function Server:fault_response(request, fault)
  local response
  local status = fault.status
  if fault.mode == "drop" then
    return { drop = true, status = 0, headers = {} }
  elseif fault.mode == "truncate" then
    response = { status = status or 200, headers = {}, truncate = true,
                 body = fault.body or self:sample_table_body(request) }
  elseif fault.mode == "invalid_json" then
    response = { status = status or 200, headers = {},
                 body = format('{"id": %s, "name": ', M.encode_json(request.segments[3] or "tbl_demo")) }
  elseif fault.mode == "html" then
    status = status or 200
    local reason = reason_phrase(status)
    response = { status = status, headers = {}, content_type = "text/html",
                 body = format(HTML_PAGE, status, reason, status, reason) }
  elseif fault.mode == "empty" then
    response = { status = status or 200, headers = {}, body = "" }
  elseif fault.mode == "stall" or fault.mode == "reset" or fault.mode == "trickle" or fault.mode == "chunked" then
    response = { status = status or 200, headers = {}, [fault.mode] = true,
                 body = fault.body or self:sample_table_body(request) }
  elseif fault.location then
    response = detail_response(status or 302, reason_phrase(status or 302))
  elseif fault.body then
    response = { status = status or 200, headers = {}, body = fault.body }
  elseif fault.detail then
    response = detail_response(status or 200, fault.detail)
  elseif status and status >= 400 then
    response = detail_response(status, reason_phrase(status))
  else
    -- Only a delay, a header or a success status: the real answer, adjusted.
    response = self:api_response(request, true)
    if status then response.status = status end
  end
  if fault.retry_after then response.headers["Retry-After"] = fault.retry_after end
  if fault.content_type then response.content_type = fault.content_type end
  if fault.content_encoding then response.headers["Content-Encoding"] = fault.content_encoding end
  if fault.location then response.headers.Location = fault.location end
  return response
end

---------------------------------------------------------------------------
-- Control routes (/_mock/...)
---------------------------------------------------------------------------

local function check_params(params, allowed)
  for name in pairs(params) do
    if not allowed[name] then return "unknown parameter '" .. name .. "'" end
  end
end

local function integer_param(params, name, default, min, max)
  local value = params[name]
  if value == nil then return default end
  if not value:find("^%d+$") or tonumber(value) < min or tonumber(value) > max then
    return nil, format("parameter '%s' must be an integer from %d to %d", name, min, max)
  end
  return tonumber(value)
end

local FAULT_MODES = {
  truncate = true, invalid_json = true, html = true, drop = true, empty = true,
  stall = true, reset = true, trickle = true, chunked = true,
}
local FAULT_PARAMS = {
  count = true, path = true, status = true, detail = true, retry_after = true,
  delay = true, body = true, content_type = true, mode = true, content_encoding = true, location = true,
}
local TABLE_PARAMS = { id = true, polls = true, kind = true, rows = true }
local ADVANCE_PARAMS = { id = true, polls = true }
local TABLE_KINDS = { generic = true, company = true, people = true }

--- A fault from the control call's parameters, or nil and a message.
local function parse_fault(params)
  local problem = check_params(params, FAULT_PARAMS)
  if problem then return nil, problem end
  local fault = {}
  local err
  fault.remaining, err = integer_param(params, "count", 1, 1, 1000000)
  if not fault.remaining then return nil, err end
  if params.status then
    -- no 1xx: a client would take it for an interim answer and wait on
    fault.status, err = integer_param(params, "status", nil, 200, 599)
    if not fault.status then return nil, err end
  end
  if params.delay then
    local delay = tonumber(params.delay)
    if not params.delay:find("^%d*%.?%d+$") or not delay or delay > MAX_DELAY then
      return nil, format("parameter 'delay' must be a number of seconds from 0 to %d", MAX_DELAY)
    end
    fault.delay = delay
  end
  if params.mode and not FAULT_MODES[params.mode] then
    return nil, "parameter 'mode' must be one of truncate, invalid_json, html, drop, empty,"
      .. " stall, reset, trickle, chunked"
  end
  if params.path and params.path:sub(1, 1) ~= "/" then
    return nil, "parameter 'path' must start with /"
  end
  for _, name in ipairs({ "retry_after", "content_type", "content_encoding", "location" }) do
    if params[name] and params[name]:find("%c") then
      return nil, "parameter '" .. name .. "' must not contain control characters"
    end
  end
  fault.mode, fault.path, fault.body, fault.detail = params.mode, params.path, params.body, params.detail
  fault.retry_after, fault.content_type = params.retry_after, params.content_type
  fault.content_encoding, fault.location = params.content_encoding, params.location
  return fault
end

--- Adds a table from the control call's parameters; its header, or nil
--- and a message.
function Server:add_table(params)
  local problem = check_params(params, TABLE_PARAMS)
  if problem then return nil, problem end
  if not params.id or params.id == "" then return nil, "parameter 'id' is required" end
  local polls, rows, err
  polls, err = integer_param(params, "polls", self.default_polls, 0, 1000000000)
  if not polls then return nil, err end
  rows, err = integer_param(params, "rows", api.DEFAULT_ROWS, 0, api.MAX_FIXTURE_ROWS)
  if not rows then return nil, err end
  if rows == 0 and polls > 0 then return nil, "a running table needs rows >= 1" end
  local kind = params.kind or "company"
  if not TABLE_KINDS[kind] then return nil, "parameter 'kind' must be generic, company or people" end
  local t = self.api:add_polled_table{ id = params.id, name = "Mock table " .. params.id, kind = kind,
                                       rows = rows, polls = polls }
  return api.render_table(t)
end

--- Moves a table's clock on by `polls` polls (default 1) as that many GETs
--- would; its header, or nil and a message.
function Server:advance_table(params)
  local problem = check_params(params, ADVANCE_PARAMS)
  if problem then return nil, problem end
  if not params.id or params.id == "" then return nil, "parameter 'id' is required" end
  local polls, err = integer_param(params, "polls", 1, 0, 1000000000)
  if not polls then return nil, err end
  local header = self.api:advance(params.id, polls)
  if not header then return nil, "no table '" .. params.id .. "'" end
  return header
end

local CONTROL_ROUTES = {
  ["/_mock/reset"] = "POST", ["/_mock/tables"] = "POST", ["/_mock/faults"] = "POST",
  ["/_mock/requests"] = "GET", ["/_mock/stats"] = "GET", ["/_mock/shutdown"] = "POST",
  ["/_mock/advance"] = "POST",
}

local OK = { ok = true }

function Server:control_response(request)
  local method = CONTROL_ROUTES[request.path]
  if not method then return detail_response(404, NOT_FOUND) end
  if request.method ~= method then
    return detail_response(405, "Method Not Allowed", { Allow = method })
  end
  local params, err = parse_query(request.query)
  if not params then return detail_response(400, err) end

  if request.path == "/_mock/reset" then
    self:reset()
    return json_response(200, OK)
  elseif request.path == "/_mock/tables" or request.path == "/_mock/advance" then
    local header
    if request.path == "/_mock/tables" then
      header, err = self:add_table(params)
    else
      header, err = self:advance_table(params)
    end
    if not header then return detail_response(400, err) end
    return json_response(200, header)
  elseif request.path == "/_mock/faults" then
    local fault
    fault, err = parse_fault(params)
    if not fault then return detail_response(400, err) end
    if #self.faults >= MAX_FAULTS then return detail_response(400, "too many queued faults") end
    self.faults[#self.faults + 1] = fault
    return json_response(200, OK)
  elseif request.path == "/_mock/requests" then
    return json_response(200, array(self.request_log))
  elseif request.path == "/_mock/stats" then
    return json_response(200, self.stats)
  end
  -- /_mock/shutdown: answered, then the connection closes and run() returns.
  local response = json_response(200, OK)
  response.shutdown = true
  return response
end

--- Records an API request in the log and the counters.
function Server:record(request)
  local headers = {}
  for name, value in pairs(request.headers) do headers[name] = value end
  local log = self.request_log
  self.logged_bytes = self.logged_bytes + #request.body
  while #log > 0 and (#log >= MAX_LOGGED_REQUESTS or self.logged_bytes > MAX_LOGGED_BYTES) do
    self.logged_bytes = self.logged_bytes - #table.remove(log, 1).body
  end
  log[#log + 1] = {
    method = request.method,
    target = request.target,
    path = request.path,
    query = request.query,
    headers = headers,
    connection = request.connection,
    body = request.body,
  }
  self.stats.requests = self.stats.requests + 1
  if not self.api_connections[request.connection] then
    self.api_connections[request.connection] = true
    self.stats.connections = self.stats.connections + 1
  end
end

---------------------------------------------------------------------------
-- Serving one connection (the body of its coroutine)
---------------------------------------------------------------------------

--- Computes an answer without yielding, turning a bug into a 500.
function Server:safely(fn, ...)
  local ok, response = pcall(fn, self, ...)
  if ok then return response end
  self:log_error("%s", tostring(response))
  return detail_response(500, "Internal Server Error")
end

--- Writes a response; returns whether the connection may stay open.
local function send_response(conn, request, response, keep_alive)
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
--- the connection, false when the client did.
function Server:serve(conn)
  while not self.stopping do
    local request = read_request_head(conn)
    if request == nil then return false end
    local started = socket.gettime() -- the log shows the time to answer, not the idle time before
    if request.refused then
      self:log("#%d - -> %d (refused)", conn.id, request.response.status)
      send_response(conn, nil, request.response, false)
      return true
    end
    local refused = read_request_body(conn, request)
    if refused then
      self:log("#%d %s %s -> %d (refused)", conn.id, request.method, request.target, refused.response.status)
      send_response(conn, request, refused.response, false)
      return true
    end

    local response, note
    local api_request = request.path:sub(1, 7) ~= "/_mock/"
    if not api_request then
      response = self:safely(self.control_response, request)
    else
      self:record(request)
      local stats = self.stats
      stats.in_flight = stats.in_flight + 1
      if stats.in_flight > stats.max_in_flight then stats.max_in_flight = stats.in_flight end
      local fault = self:take_fault(request)
      if fault then
        note = fault.mode or "fault"
        -- The other connections are served while this one waits.
        if fault.delay then sleep_until(socket.gettime() + fault.delay) end
        response = self:safely(self.fault_response, request, fault)
      else
        response = self:safely(self.api_response, request, true)
      end
    end

    local keep_open = send_response(conn, request, response, wants_keep_alive(request))
    if api_request and self.stats.in_flight > 0 then self.stats.in_flight = self.stats.in_flight - 1 end
    self:log("#%d %s %s -> %s%s %.1fms", conn.id, request.method, request.target,
      response.drop and "dropped" or tostring(response.status), note and " (fault: " .. note .. ")" or "",
      (socket.gettime() - started) * 1000)
    if response.shutdown then self.stopping = true end
    if not keep_open then return true end
  end
  return true
end

--- The body of a connection's coroutine.
local function connection_main(server, conn)
  if server:serve(conn) and not conn.reset then linger(conn) end
end

---------------------------------------------------------------------------
-- The scheduler
---------------------------------------------------------------------------

local function close_task(task)
  if not task.closed then
    task.closed = true
    task.conn.sock:close()
  end
end

--- Runs a task until it waits again; closes its socket once it is done.
function Server:resume(task)
  local ok, wait, wake = coroutine.resume(task.co, self, task.conn)
  if not ok then
    self:log_error("connection #%d: %s", task.conn.id, tostring(wait))
  end
  if not ok or coroutine.status(task.co) == "dead" then
    close_task(task)
  else
    task.wait, task.wake = wait, wake
  end
end

function Server:accept()
  -- A bounded number per step, so a flood of connections cannot starve the others.
  for _ = 1, 64 do
    if #self.tasks >= MAX_CONNECTIONS then return end
    local sock = self.listener:accept()
    if not sock then return end
    sock:settimeout(0)
    sock:setoption("tcp-nodelay", true)
    self.next_connection_id = self.next_connection_id + 1
    self.stats.accepted = self.stats.accepted + 1
    local conn = { sock = sock, id = self.next_connection_id, buffer = "", active = socket.gettime() }
    local task = { conn = conn, co = coroutine.create(connection_main) }
    self.tasks[#self.tasks + 1] = task
    self:resume(task)
  end
end

--- One scheduler iteration: waits at most `timeout` seconds (default and
--- cap 0.5 s; less when a sleeping connection is due) for sockets to get
--- ready, then runs every connection that can go on. Returns false once a
--- shutdown was requested.
function Server:step(timeout)
  if self.closed then return false end
  local now = socket.gettime()
  local deadline = now + math.max(0, math.min(timeout or SELECT_CAP, SELECT_CAP))
  local readers, writers = {}, {}
  if #self.tasks < MAX_CONNECTIONS and not self.stopping then readers[1] = self.listener end
  for _, task in ipairs(self.tasks) do
    if task.wait == "read" then
      readers[#readers + 1] = task.conn.sock
    elseif task.wait == "write" then
      writers[#writers + 1] = task.conn.sock
    end
    -- a read with a deadline wakes at it; every read and write at the idle limit
    if task.wake then deadline = math.min(deadline, task.wake) end
    if task.wait ~= "sleep" then deadline = math.min(deadline, task.conn.active + self.idle_timeout) end
  end

  local readable, writable = socket.select(readers, writers, math.max(0, deadline - now))
  readable, writable = readable or {}, writable or {}
  now = socket.gettime()
  if readable[self.listener] then self:accept() end

  local running = {}
  for _, task in ipairs(self.tasks) do
    -- (a task accepted in this step may already be done)
    if not task.closed then
      local sock = task.conn.sock
      if (task.wake and now >= task.wake) or (task.wait == "read" and readable[sock])
        or (task.wait == "write" and writable[sock]) then
        self:resume(task)
      elseif task.wait ~= "sleep" and now - task.conn.active > self.idle_timeout then
        close_task(task) -- an idle or stalled client
      end
      if not task.closed then running[#running + 1] = task end
    end
  end
  self.tasks = running
  return not self.stopping
end

--- Serves until POST /_mock/shutdown, then closes everything.
function Server:run()
  while self:step() do end
  self:close()
  return true
end

--- Closes the listening socket and every connection (idempotent).
function Server:close()
  if self.closed then return end
  self.closed = true
  self.stopping = true
  for _, task in ipairs(self.tasks) do close_task(task) end
  self.tasks = {}
  self.listener:close()
end

function Server:port()
  return self.bound_port
end

function Server:url()
  local host = self.host:find(":", 1, true) and "[" .. self.host .. "]" or self.host
  return format("http://%s:%d", host, self.bound_port)
end

local OPTION_TYPES = {
  host = "string", port = "number", token = "string", polls = "number", quiet = "boolean",
  log = "file", idle_timeout = "number", cells_per_poll = "number",
}

--- A bound server. opts: host ("127.0.0.1"), port (8080; 0 for a free one),
--- token ("mock-token"), polls (3), cells_per_poll (10), quiet (false), log
--- (a file for the request log, io.stderr), idle_timeout (30 s). Raises on a bad option;
--- returns nil and a message when the address cannot be bound.
function M.new(opts)
  opts = opts or {}
  for name, value in pairs(opts) do
    local expected = OPTION_TYPES[name]
    if not expected then error("extruct.mock.new: unknown option '" .. tostring(name) .. "'", 2) end
    local actual = type(value)
    if expected == "file" and (actual == "userdata" or actual == "table") then
      actual = "file" -- anything with a :write method
    end
    if actual ~= expected then
      error(format("extruct.mock.new: option '%s' must be a %s", name, expected), 2)
    end
  end
  local port = opts.port or 8080
  if port ~= floor(port) or port < 0 or port > 65535 then error("extruct.mock.new: bad port", 2) end
  local polls = opts.polls or 3
  if polls ~= floor(polls) or polls < 0 then error("extruct.mock.new: bad polls", 2) end
  local token = opts.token or "mock-token"
  if token == "" or token:find("%c") then error("extruct.mock.new: bad token", 2) end
  local cells_per_poll = opts.cells_per_poll or api.DEFAULT_CELLS_PER_POLL
  if cells_per_poll ~= floor(cells_per_poll) or cells_per_poll < 1 or cells_per_poll > 1e9 then
    error("extruct.mock.new: bad cells_per_poll (a whole number >= 1)", 2)
  end

  load_socket()
  local host = opts.host or "127.0.0.1"
  local listener, err = socket.bind(host, port, 64)
  if not listener then return nil, format("cannot listen on %s port %d: %s", host, port, tostring(err)) end
  listener:settimeout(0)
  local _, bound_port = listener:getsockname()

  local server = setmetatable({
    host = host,
    bound_port = tonumber(bound_port),
    default_polls = polls,
    api = api.new{ token = token, polls = polls, cells_per_poll = cells_per_poll },
    quiet = opts.quiet or false,
    log_file = opts.log or io.stderr,
    idle_timeout = opts.idle_timeout or IDLE_TIMEOUT,
    listener = listener,
    tasks = {},
    next_connection_id = 0,
    stopping = false,
    closed = false,
  }, Server)
  server:reset()
  return server
end

---------------------------------------------------------------------------
-- Command line
---------------------------------------------------------------------------

local function usage_error(message)
  io.stderr:write("extruct-mock: ", message, "\n", M.USAGE)
  return 2
end

--- Runs the server from command-line arguments; returns the exit code.
function M.main(argv)
  argv = argv or {}
  local opts = {}
  local i = 1
  while argv[i] ~= nil do
    local option = argv[i]
    local name, inline = option:match("^(%-%-[%w-]+)=(.*)$")
    name = name or option
    local function value()
      if inline then return inline end
      i = i + 1
      return argv[i]
    end
    if name == "--help" or name == "-h" then
      io.stdout:write(M.USAGE)
      return 0
    elseif name == "--quiet" and not inline then
      opts.quiet = true
    elseif name == "--host" then
      opts.host = value()
      if not opts.host or opts.host == "" then return usage_error("--host needs an address") end
    elseif name == "--token" then
      opts.token = value()
      if not opts.token or opts.token == "" or opts.token:find("%c") then
        return usage_error("--token needs a non-empty value")
      end
    elseif name == "--port" or name == "--polls" or name == "--cells-per-poll" then
      local v = value()
      local n = v and v:find("^%d+$") and #v <= 9 and tonumber(v)
      if not n or (name == "--port" and n > 65535) or (name == "--cells-per-poll" and n < 1) then
        return usage_error(name .. ({ ["--port"] = " needs an integer from 0 to 65535",
          ["--polls"] = " needs a non-negative integer", ["--cells-per-poll"] = " needs a positive integer" })[name])
      end
      opts[name:sub(3):gsub("-", "_")] = n
    else
      return usage_error("unknown option '" .. option .. "'")
    end
    i = i + 1
  end

  local loaded, problem = pcall(load_socket)
  if not loaded then
    io.stderr:write("extruct-mock: luasocket is needed: ", tostring(problem):match("^[^\n]*"), "\n")
    return 1
  end
  local server, err = M.new(opts)
  if not server then
    io.stderr:write("extruct-mock: ", err, "\n")
    return 1
  end
  io.stdout:write("extruct-mock listening on ", server:url(), "\n")
  io.stdout:flush()
  server:run()
  return 0
end

return M
