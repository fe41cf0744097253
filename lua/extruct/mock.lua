--- extruct.mock: a mock Extruct API server, for offline development and tests.
--
-- Pure Lua on luasocket (no other dependency, its own JSON encoder); runs on
-- Lua 5.1 to 5.4 and LuaJIT. One process, one thread: every connection is a
-- coroutine over a non-blocking socket and a scheduler loop waits on
-- socket.select, so a delayed answer to one client never holds up another.
--
--   extruct-mock [--host H] [--port N] [--token T] [--polls N] [--quiet] [--help]
--
-- Serves GET /v1/tables/{id} and GET /v1/healthcheck like the real API, plus
-- a control API under /_mock/ (no auth) to add tables, queue faults, read the
-- request log and shut down; see M.USAGE below.

local M = {}

M._VERSION = "0.1.0"

-- luasocket is loaded on first use, so that `--help` works even where the
-- module path is set but luasocket's C part is not on package.cpath.
local socket

local function load_socket()
  socket = socket or require("socket")
  return socket
end

local floor, huge = math.floor, math.huge
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
usage: extruct-mock [--host H] [--port N] [--token T] [--polls N] [--quiet] [--help]

A mock Extruct API server (GET /v1/tables/{id}, GET /v1/healthcheck).

  --host H    address to bind (default 127.0.0.1)
  --port N    port to bind, 0 for a free one (default 8080)
  --token T   the bearer token clients must send (default mock-token)
  --polls N   GETs of tbl_demo until its run is idle (default 3)
  --quiet     do not log requests to stderr
  --help      show this help

Prints "extruct-mock listening on http://HOST:PORT" once bound.
Control API (no auth): POST /_mock/reset, POST /_mock/tables?id=X&polls=N[&kind=K&rows=R],
POST /_mock/faults?[count=N&path=P&status=S&detail=D&retry_after=R&delay=SEC&body=B&content_type=T&mode=M
                   &content_encoding=E&location=URL],
GET /_mock/requests, GET /_mock/stats, POST /_mock/shutdown.
Fault modes: truncate, invalid_json, html, drop, empty, stall, reset, trickle, chunked.
]]

---------------------------------------------------------------------------
-- JSON encoder
---------------------------------------------------------------------------

--- The JSON null: a unique sentinel.
M.null = setmetatable({}, {
  __tostring = function() return "extruct.mock.null" end,
  __newindex = function() error("extruct.mock.null is read-only", 2) end,
})

--- Tables with this metatable encode as JSON arrays; all others as objects,
--- so an empty array ([]) and an empty object ({}) stay distinct.
local array_mt = { __name = "extruct.mock.array" }
M.array_mt = array_mt

--- Marks t (default: a new table) as a JSON array and returns it.
local function array(t)
  return setmetatable(t or {}, array_mt)
end
M.array = array

local string_escapes = {
  ['"'] = '\\"', ['\\'] = '\\\\', ['\b'] = '\\b', ['\f'] = '\\f',
  ['\n'] = '\\n', ['\r'] = '\\r', ['\t'] = '\\t',
}

local function escape_char(c)
  return string_escapes[c] or format("\\u%04x", c:byte())
end

-- RFC 8259 string: quote, backslash and control characters escaped; all
-- other bytes (UTF-8 included) pass through unchanged.
local function encode_string(s)
  return '"' .. s:gsub('[%c"\\]', escape_char) .. '"'
end

local MAX_EXACT_INTEGER = 2 ^ 53

local function encode_number(n)
  if n ~= n or n == huge or n == -huge then
    error("cannot encode " .. tostring(n) .. " as JSON", 0)
  end
  if math.type and math.type(n) == "integer" then
    return format("%d", n)
  end
  -- Integral floats (every number on Lua 5.1) must not grow a ".0".
  if n == floor(n) and n > -MAX_EXACT_INTEGER and n < MAX_EXACT_INTEGER then
    return format("%d", n)
  end
  -- The shortest form that reads back as the same double.
  for precision = 15, 16 do
    local s = format("%." .. precision .. "g", n)
    if tonumber(s) == n then return s end
  end
  return format("%.17g", n)
end

local encode_value

local function encode_table(t, out, depth)
  if depth > 200 then error("cannot encode JSON nested deeper than 200 levels (a cycle?)", 0) end
  if getmetatable(t) == array_mt then
    out[#out + 1] = "["
    for i = 1, #t do
      if i > 1 then out[#out + 1] = "," end
      encode_value(t[i], out, depth + 1)
    end
    out[#out + 1] = "]"
    return
  end
  local keys = {}
  for key in pairs(t) do
    if type(key) ~= "string" then
      error("cannot encode a table with a " .. type(key) .. " key as a JSON object"
        .. " (mark arrays with extruct.mock.array)", 0)
    end
    keys[#keys + 1] = key
  end
  table.sort(keys) -- deterministic output
  out[#out + 1] = "{"
  for i, key in ipairs(keys) do
    if i > 1 then out[#out + 1] = "," end
    out[#out + 1] = encode_string(key)
    out[#out + 1] = ":"
    encode_value(t[key], out, depth + 1)
  end
  out[#out + 1] = "}"
end

function encode_value(v, out, depth)
  local kind = type(v)
  if v == nil or v == M.null then
    out[#out + 1] = "null"
  elseif kind == "boolean" then
    out[#out + 1] = v and "true" or "false"
  elseif kind == "number" then
    out[#out + 1] = encode_number(v)
  elseif kind == "string" then
    out[#out + 1] = encode_string(v)
  elseif kind == "table" then
    encode_table(v, out, depth)
  else
    error("cannot encode a " .. kind .. " as JSON", 0)
  end
end

--- Encodes a Lua value as JSON text. Arrays must carry M.array_mt (see
--- M.array); M.null encodes as null; object keys come out sorted.
function M.encode_json(value)
  local out = {}
  encode_value(value, out, 0)
  return concat(out)
end

---------------------------------------------------------------------------
-- Fixtures: the template table and the starting tables
---------------------------------------------------------------------------

local FIXTURE_TIME = "2025-01-15T09:30:00.000000Z"
local OWNER = { id = "usr_mock_0001", email = "owner@example.com" }
local TABLE_KINDS = { generic = true, company = true, people = true }
local DEFAULT_ROWS = 25

local function column(n, config)
  return { id = format("col_%04d", n), created_at = FIXTURE_TIME, config = config }
end

-- One column of every config kind in the OpenAPI schema (ColumnOutputSchema).
-- Never mutated, so every table shares it.
local TEMPLATE_COLUMNS = array{
  column(1, { kind = "input", name = "Company website", key = "input" }),
  column(2, { kind = "agent", name = "Summary", key = "summary", value = {
    agent_type = "research_pro",
    prompt = "Summarise what {input} sells, in one sentence.",
    output_format = "json",
    labels = array(),
    output_schema = {
      type = "object",
      properties = { summary = { type = "string" }, founded = { type = "integer" } },
      required = array{ "summary" },
    },
    extra_dependencies = array{ "company_name" },
  } }),
  column(3, { kind = "criterion_grade", name = "Enterprise fit", key = "enterprise_fit", value = {
    criterion = "Sells mainly to enterprises with more than 1000 employees.",
  } }),
  column(4, { kind = "company_people_finder", name = "Decision makers", key = "decision_makers", value = {
    roles = array{ "CEO", "Head of Sales" },
    provider = "research_pro",
    max_results = 5,
  } }),
  column(5, { kind = "discovery_scores", name = "Discovery scores", key = "discovery_scores", criteria = {
    is_ai_company = {
      key = "is_ai_company", name = "AI company",
      criterion = "The company builds products based on machine learning.",
    },
    sells_b2b = {
      key = "sells_b2b", name = "Sells B2B",
      criterion = "Most of the company's revenue comes from other businesses.",
    },
  } }),
  column(6, { kind = "company_name", name = "Company name", key = "company_name" }),
  column(7, { kind = "company_website", name = "Website", key = "company_website" }),
  column(8, { kind = "company_profile", name = "Company profile", key = "company_profile" }),
  column(9, { kind = "email_finder", name = "Work email", key = "work_email" }),
  column(10, { kind = "phone_finder", name = "Phone", key = "phone" }),
  column(11, { kind = "reverse_email_lookup", name = "LinkedIn from email", key = "linkedin_from_email",
    email_column_key = "work_email" }),
}

local NUM_INPUT_COLUMNS, NUM_OUTPUT_COLUMNS = 0, 0
for _, col in ipairs(TEMPLATE_COLUMNS) do
  if col.config.kind == "input" then
    NUM_INPUT_COLUMNS = NUM_INPUT_COLUMNS + 1
  else
    NUM_OUTPUT_COLUMNS = NUM_OUTPUT_COLUMNS + 1
  end
end

local function relationship(table_id)
  return { table_id = table_id, relationship_type = "company_people" }
end

--- A table's state: what GET renders, plus its poll counter.
local function new_table(settings)
  return {
    id = settings.id,
    created_at = settings.created_at or FIXTURE_TIME,
    name = settings.name or settings.id,
    description = settings.description or M.null,
    tags = settings.tags or M.null,
    kind = settings.kind or "company",
    rows = settings.rows or DEFAULT_ROWS,
    polls = settings.polls or 0,
    gets = 0, -- successful GETs so far
    child_relationships = settings.child_relationships or array(),
    parent_relationships = settings.parent_relationships or array(),
  }
end

local function fixture_tables(polls)
  return {
    tbl_demo = new_table{
      id = "tbl_demo",
      name = "Démo — B2B companies",
      -- Characters a JSON encoder must escape, somewhere harmless.
      description = 'Companies to research.\nSay "hi" to C:\\extruct\\mock.\tThanks!',
      tags = array{ "demo", "café" },
      kind = "company",
      rows = DEFAULT_ROWS,
      polls = polls,
      child_relationships = array{ relationship("tbl_people") },
    },
    tbl_idle = new_table{
      id = "tbl_idle",
      name = "Idle table",
      kind = "generic",
      rows = 3,
      polls = 0,
    },
    tbl_people = new_table{
      id = "tbl_people",
      name = "People — décideurs",
      description = "Decision makers found for the companies of tbl_demo.",
      tags = array{ "people" },
      kind = "people",
      rows = 10,
      polls = 0,
      parent_relationships = array{ relationship("tbl_demo") },
    },
  }
end

-- Progress after `gets` polls: running with cells in progress until the
-- poll number `polls`, then idle with every cell completed.
local function table_status(t)
  local total = t.rows * NUM_OUTPUT_COLUMNS
  local completed, in_progress, run_status
  if t.gets >= t.polls then
    completed, in_progress, run_status = total, 0, "idle"
  else
    completed = floor(total * t.gets / t.polls)
    in_progress = total - completed
    run_status = "running"
  end
  return {
    num_rows = t.rows,
    num_output_columns = NUM_OUTPUT_COLUMNS,
    num_input_columns = NUM_INPUT_COLUMNS,
    num_columns = NUM_INPUT_COLUMNS + NUM_OUTPUT_COLUMNS,
    num_cells_completed = completed,
    num_cells_in_progress = in_progress,
    num_cells_failed = 0, -- not in the schema: clients must keep unknown fields
    run_status = run_status,
  }
end

--- The table as GET /v1/tables/{id} answers it (TableHeaderWithStatusOutput).
local function render_table(t)
  return {
    id = t.id,
    created_at = t.created_at,
    name = t.name,
    description = t.description,
    tags = t.tags,
    kind = t.kind,
    columns = TEMPLATE_COLUMNS,
    owner = OWNER,
    child_relationships = t.child_relationships,
    parent_relationships = t.parent_relationships,
    status = table_status(t),
    -- not in the schema: clients must keep unknown fields
    x_future_field = { nested = array{ 1, 2.5, M.null, true, "s" } },
  }
end

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

local function percent_decode(s)
  -- Invalid escapes stay as they are (as uvicorn does).
  return (s:gsub("%%(%x%x)", function(hex) return string.char(tonumber(hex, 16)) end))
end

local function form_decode(s)
  return percent_decode((s:gsub("%+", " ")))
end

--- Splits a query string into a map; nil and a message on a repeated name.
local function parse_query(query)
  local params = {}
  for pair in query:gmatch("[^&]+") do
    local name, value = pair:match("^([^=]*)=(.*)$")
    name, value = form_decode(name or pair), form_decode(value or "")
    if params[name] ~= nil then return nil, "parameter '" .. name .. "' given twice" end
    params[name] = value
  end
  return params
end

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
  self.tables = fixture_tables(self.default_polls)
  self.faults = {}
  self.request_log = {}
  self.logged_bytes = 0
  self.api_connections = {} -- ids of connections that carried API requests
  self.stats = { connections = 0, requests = 0, accepted = 0 }
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

function Server:authorized(request)
  -- Like FastAPI's HTTPBearer: scheme case-insensitive, then one space.
  local scheme, credentials = (request.headers.authorization or ""):match("^(%S+) (.*)$")
  return scheme ~= nil and scheme:lower() == "bearer" and credentials == self.token
end

--- The API's answer; `count_poll` false renders a table without counting a poll.
function Server:api_response(request, count_poll)
  local segments = request.segments
  if request.path == "/v1/healthcheck" then
    if request.method ~= "GET" then
      return detail_response(405, "Method Not Allowed", { Allow = "GET" })
    end
    return json_response(200, { status = "ok" })
  end
  if #segments == 3 and segments[1] == "v1" and segments[2] == "tables" and segments[3] ~= "" then
    if request.method ~= "GET" then
      return detail_response(405, "Method Not Allowed", { Allow = "GET" })
    end
    if not self:authorized(request) then
      return detail_response(401, "Could not validate credentials", { ["WWW-Authenticate"] = "Bearer" })
    end
    local t = self.tables[segments[3]]
    if not t then return detail_response(404, "Table not found") end
    if count_poll then t.gets = t.gets + 1 end
    return json_response(200, render_table(t))
  end
  return detail_response(404, NOT_FOUND)
end

--- A valid table body, for faults that mangle one.
function Server:sample_table_body(request)
  local answer = self:api_response(request, false)
  if answer.status == 200 and request.segments[2] == "tables" then return answer.body end
  local t = self.tables.tbl_demo or new_table{ id = "tbl_demo", polls = 0 }
  return M.encode_json(render_table(t))
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

--- A table from the control call's parameters, or nil and a message.
function Server:parse_table(params)
  local problem = check_params(params, TABLE_PARAMS)
  if problem then return nil, problem end
  if not params.id or params.id == "" then return nil, "parameter 'id' is required" end
  local polls, rows, err
  polls, err = integer_param(params, "polls", self.default_polls, 0, 1000000000)
  if not polls then return nil, err end
  rows, err = integer_param(params, "rows", DEFAULT_ROWS, 0, 1000000)
  if not rows then return nil, err end
  if rows == 0 and polls > 0 then return nil, "a running table needs rows >= 1" end
  local kind = params.kind or "company"
  if not TABLE_KINDS[kind] then return nil, "parameter 'kind' must be generic, company or people" end
  return new_table{
    id = params.id, name = "Mock table " .. params.id, kind = kind, rows = rows, polls = polls,
    created_at = os.date("!%Y-%m-%dT%H:%M:%SZ"),
  }
end

local CONTROL_ROUTES = {
  ["/_mock/reset"] = "POST", ["/_mock/tables"] = "POST", ["/_mock/faults"] = "POST",
  ["/_mock/requests"] = "GET", ["/_mock/stats"] = "GET", ["/_mock/shutdown"] = "POST",
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
  elseif request.path == "/_mock/tables" then
    local t
    t, err = self:parse_table(params)
    if not t then return detail_response(400, err) end
    self.tables[t.id] = t
    return json_response(200, render_table(t))
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
    if request.path:sub(1, 7) == "/_mock/" then
      response = self:safely(self.control_response, request)
    else
      self:record(request)
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
  log = "file", idle_timeout = "number",
}

--- A bound server. opts: host ("127.0.0.1"), port (8080; 0 for a free one),
--- token ("mock-token"), polls (3), quiet (false), log (a file for the
--- request log, io.stderr), idle_timeout (30 s). Raises on a bad option;
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

  load_socket()
  local host = opts.host or "127.0.0.1"
  local listener, err = socket.bind(host, port, 64)
  if not listener then return nil, format("cannot listen on %s port %d: %s", host, port, tostring(err)) end
  listener:settimeout(0)
  local _, bound_port = listener:getsockname()

  local server = setmetatable({
    host = host,
    bound_port = tonumber(bound_port),
    token = token,
    default_polls = polls,
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
    elseif name == "--port" or name == "--polls" then
      local v = value()
      local n = v and v:find("^%d+$") and tonumber(v)
      if not n or (name == "--port" and n > 65535) then
        return usage_error(name .. " needs a non-negative integer" .. (name == "--port" and " up to 65535" or ""))
      end
      opts[name:sub(3)] = n
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
