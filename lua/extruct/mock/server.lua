--- extruct.mock.server: the mock's HTTP/1.1 server: a listening socket,
--- its connections and the scheduler that runs them. One process, one
--- thread: every connection is a coroutine over a non-blocking socket and
--- the scheduler waits on socket.select, so a delayed answer to one client
--- never holds up another.
--
-- A request under /_mock/ goes to the control API (extruct.mock.control);
-- every other one is logged, may be caught by a queued fault
-- (extruct.mock.faults), and is otherwise answered by the offline Extruct
-- (extruct.mock.fake). The wire format is extruct.mock.http.

local socket = require("socket")
local http = require("extruct.mock.http")
local control = require("extruct.mock.control")
local faults = require("extruct.mock.faults")
local fake = require("extruct.mock.fake")

local M = {}

local format = string.format

http.server_name = "extruct-mock/" .. require("extruct.mock")._VERSION

local IDLE_TIMEOUT = 30                    -- seconds without traffic before a connection is closed
local SELECT_CAP = 0.5                     -- longest wait in one scheduler step
local MAX_CONNECTIONS = 256                -- stays well under select's FD_SETSIZE
local MAX_LOGGED_REQUESTS = 10000          -- the request log keeps the newest ones,
local MAX_LOGGED_BYTES = 64 * 1024 * 1024  -- and at most this much of their bodies

local Server = {}
Server.__index = Server

--- Restores the fixtures and clears the poll counters, faults, request log
--- and counters.
function Server:reset()
  self.fake:reset()
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
  local ok, response = pcall(fn, ...)
  if ok then return response end
  self:log_error("%s", tostring(response))
  return http.detail(500, "Internal Server Error")
end

local function api_response(fake_extruct, request)
  request.count_poll = true
  return fake_extruct:handle(request)
end

--- Serves requests on one connection; returns true when the server ends
--- the connection, false when the client did.
function Server:serve(conn)
  while not self.stopping do
    local request = http.read_request_head(conn)
    if request == nil then return false end
    local started = socket.gettime() -- the log shows the time to answer, not the idle time before
    if request.refused then
      self:log("#%d - -> %d (refused)", conn.id, request.response.status)
      http.send_response(conn, nil, request.response, false)
      return true
    end
    local refused = http.read_request_body(conn, request)
    if refused then
      self:log("#%d %s %s -> %d (refused)", conn.id, request.method, request.target, refused.response.status)
      http.send_response(conn, request, refused.response, false)
      return true
    end

    local response, note
    local api_request = request.path:sub(1, 7) ~= "/_mock/"
    if not api_request then
      response = self:safely(control.handle, self, request)
    else
      self:record(request)
      local stats = self.stats
      stats.in_flight = stats.in_flight + 1
      if stats.in_flight > stats.max_in_flight then stats.max_in_flight = stats.in_flight end
      local fault = faults.take(self.faults, request)
      if fault then
        note = fault.mode or "fault"
        -- The other connections are served while this one waits.
        if fault.delay then http.sleep_until(socket.gettime() + fault.delay) end
        response = self:safely(faults.response, self.fake, request, fault)
      else
        response = self:safely(api_response, self.fake, request)
      end
    end

    local keep_open = http.send_response(conn, request, response, http.wants_keep_alive(request))
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
  if server:serve(conn) and not conn.reset then http.linger(conn) end
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

--- A bound server, from complete settings (extruct.mock.new checks the
--- options and fills in the defaults): host, port, token, polls,
--- cells_per_poll, plan, quiet, log, idle_timeout. Returns nil and a message when
--- the address cannot be bound.
function M.new(settings)
  local listener, err = socket.bind(settings.host, settings.port, 64)
  if not listener then
    return nil, format("cannot listen on %s port %d: %s", settings.host, settings.port, tostring(err))
  end
  listener:settimeout(0)
  local _, bound_port = listener:getsockname()

  local server = setmetatable({
    host = settings.host,
    bound_port = tonumber(bound_port),
    default_polls = settings.polls,
    fake = fake.new{ token = settings.token, polls = settings.polls, cells_per_poll = settings.cells_per_poll,
                     plan = settings.plan },
    quiet = settings.quiet,
    log_file = settings.log,
    idle_timeout = settings.idle_timeout or IDLE_TIMEOUT,
    listener = listener,
    tasks = {},
    next_connection_id = 0,
    stopping = false,
    closed = false,
  }, Server)
  server:reset()
  return server
end

return M
