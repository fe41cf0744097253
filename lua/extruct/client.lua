-- The client: policy on top of extruct.core's transfer. Endpoints are a few
-- lines each on top of Client:request.

local core = require("extruct.core")
local clock = require("extruct.clock")
local errors = require("extruct.errors")
local gather = require("extruct.gather")
local loop = require("extruct.loop")
local retry = require("extruct.retry")
local url = require("extruct.url")

local M = {}

local DEFAULT_BASE_URL = "https://api.extruct.ai"
M.DEFAULT_BASE_URL = DEFAULT_BASE_URL

-- Option tables: each name maps to a check of its value and the words for
-- what it wants. An unknown name or a bad value is the caller's mistake, so
-- it raises, pointing at the caller's line.
local function positive_number(v) return type(v) == "number" and v > 0 and v < math.huge end
local function non_negative_number(v) return type(v) == "number" and v >= 0 and v < math.huge end
local function is_string(v) return type(v) == "string" end
local function is_function(v) return type(v) == "function" end
local function is_boolean(v) return type(v) == "boolean" end
local function is_finite_number(v) return type(v) == "number" and v > -math.huge and v < math.huge end
local function retry_count(v) return type(v) == "number" and v >= 0 and v < math.huge and v == math.floor(v) end
local function is_object_expectation(v) return v == "object" end
-- The largest response the core may be asked to hold: a size_t and a
-- double both count that far exactly.
local MAX_RESPONSE_SIZE = 2 ^ 40
local function response_size(v)
  return type(v) == "number" and v >= 1 and v <= MAX_RESPONSE_SIZE and v == math.floor(v)
end

-- The folder of this module's Lua files: frames running code from it are
-- the library's own, whatever path led the caller in (a method, a
-- module-level shortcut, an iterator).
local OWN_FOLDER = debug.getinfo(1, "S").source:match("^@(.*[/\\])")

--- Raises message as the caller's mistake: the position shown is that of the
--- first frame outside this library (and outside C functions such as pcall).
local function misuse(message)
  local level = 2 -- the function that called misuse
  while true do
    local info = debug.getinfo(level, "S")
    if info == nil then break end
    local own = OWN_FOLDER ~= nil and info.source:sub(1, #OWN_FOLDER + 1) == "@" .. OWN_FOLDER
    -- (Lua 5.1 leaves a "tail" frame where a tail call replaced one)
    if not own and info.what ~= "C" and info.what ~= "tail" then break end
    level = level + 1
  end
  error(message, level)
end
M.misuse = misuse

local function check_options(opts, spec, where)
  if opts == nil then return {} end
  if type(opts) ~= "table" then
    misuse(("%s: options must be a table, got %s"):format(where, type(opts)))
  end
  for name, value in pairs(opts) do
    local option = spec[name]
    if option == nil then
      misuse(("%s: unknown option '%s'"):format(where, errors.show(name)))
    end
    local ok, why = option.check(value)
    if not ok then
      misuse(why and ("%s: option '%s': %s"):format(where, name, why)
        or ("%s: option '%s' must be %s"):format(where, name, option.want))
    end
  end
  return opts
end
M.check_options = check_options

-- Options shared by everything that sends requests: clients, calls, waits.
local RETRY_OPTIONS = {
  retries = { check = retry_count, want = "a whole number >= 0 (retries after the first attempt)" },
  backoff = { check = retry.valid_backoff, want = "a table { base = seconds, cap = seconds } of positive numbers" },
  sleep = { check = is_function, want = "a function(seconds)" },
  now = { check = is_function, want = "a function returning monotonic seconds" },
}
local function with_retry_options(spec)
  for name, option in pairs(RETRY_OPTIONS) do spec[name] = option end
  return spec
end
M.with_retry_options = with_retry_options

--- Adds the caller's retry options (retries, backoff, sleep, now) to the
--- options of a request it makes on the caller's behalf; returns them.
local function pass_retry_options(opts, request)
  for name in pairs(RETRY_OPTIONS) do request[name] = opts[name] end
  return request
end
M.pass_retry_options = pass_retry_options

-- The checks other option tables reuse.
M.is_string, M.is_boolean = is_string, is_boolean

local CLIENT_OPTIONS = with_retry_options{
  token = { check = is_string, want = "a string" },
  base_url = { check = is_string, want = "a string" },
  timeout = { check = positive_number, want = "a positive number of seconds" },
  connect_timeout = { check = positive_number, want = "a positive number of seconds" },
  max_response_size = { check = response_size, want = "a whole number of bytes from 1 to 2^40" },
  user_agent = { check = is_string, want = "a string" },
  insecure = { check = is_boolean, want = "a boolean" },
  allow_http = { check = is_boolean, want = "a boolean" },
  ca_file = { check = is_string, want = "a string (the path of a PEM file)" },
  trace = { check = is_function, want = "a function(line)" },
  proxy = { check = is_string, want = 'a string (a proxy URL such as "http://host:3128", or "" for none)' },
  noproxy = { check = is_string, want = 'a string (hosts that bypass the proxy, such as "localhost,127.0.0.1", or "*")' },
  transport = { check = function(v) return v == "auto" or v == "curl" or v == "cosocket" end,
                want = '"auto", "curl" or "cosocket"' },
}

local REQUEST_OPTIONS = with_retry_options{
  query = { check = url.check_query, want = "a table" },
  body = { check = is_string, want = "a string of JSON text" },
  subject = { check = is_string, want = "a string" },
  expect = { check = is_object_expectation, want = '"object"' },
  idempotent = { check = is_boolean, want = "a boolean" },
  retry_if = { check = is_function, want = "a function(err) returning whether to retry" },
  deadline = { check = is_finite_number, want = "a number (a time on the clock of now)" },
}

local GET_OPTIONS = with_retry_options{}

local DEFAULTS = { timeout = 30, connect_timeout = 10, max_response_size = 64 * 1024 * 1024 }

-- A timeout as the core takes it: the core counts whole milliseconds, and
-- libcurl reads 0 as "no timeout", so less than 1 ms is 1 ms; above about
-- 24 days (2^31 - 1 ms, what a 32-bit long holds) it is that.
local function core_timeout(seconds)
  return math.min(math.max(seconds, 0.001), 2147483.647)
end

local function user_agent()
  local lua = rawget(_G, "jit") and jit.version or _VERSION
  return ("extruct-lua/%s (%s; %s)"):format(core._VERSION, lua, core.curl_version:match("^%S+"))
end

local Client = {}
Client.__index = Client
M.Client = Client

Client.__tostring = function(self)
  return ("extruct.client(%s%s)"):format(url.redact(self.base_url), self._closed and ", closed" or "")
end

--- Why a plaintext request to base_url would leave the machine through a
--- proxy, or nil. An http:// base URL is allowed only to loopback, but
--- through a proxy the request (and its Authorization header) goes to the
--- proxy first: over an http:// or socks proxy in plaintext. An https://
--- proxy is reached over TLS, and an https base URL goes through any proxy
--- in a CONNECT tunnel, its TLS end to end. The proxy is the one libcurl
--- would pick (url.effective_proxy: the proxy and noproxy options, else
--- http_proxy, ALL_PROXY and NO_PROXY); allow_http = true lets it through.
--- The cosocket transport uses no proxy from the environment.
local function plaintext_proxy(base_url, opts, getenv)
  if opts.allow_http or url.scheme(base_url) ~= "http" then return nil end
  getenv = getenv or os.getenv
  if opts.transport == "cosocket" then
    getenv = function() return nil end
  end
  local proxy = url.effective_proxy(base_url, opts.proxy, opts.noproxy, getenv)
  if proxy == nil or url.proxy_scheme(proxy) == "https" then return nil end
  return ("the base URL '%s' is plaintext http and requests would go through the proxy '%s'%s: the token"
    .. " would reach it unencrypted; use https, exclude the host with noproxy (or NO_PROXY), or pass"
    .. " allow_http = true"):format(url.redact(base_url), url.redact(proxy),
      opts.proxy and "" or " (from the environment: http_proxy or ALL_PROXY)")
end
M.plaintext_proxy = plaintext_proxy

-- Why a configuration cannot work, or nil. Checked when the client is made,
-- reported by every request: a token from the environment is not the
-- caller's misuse, so it is an error value, not a raised error.
local function config_problem(token, base_url, opts)
  if token == nil or token == "" then
    local ngx = rawget(_G, "ngx")
    if type(ngx) == "table" and type(ngx.get_phase) == "function" then
      -- nginx clears its workers' environment unless told otherwise
      return "no API token: pass token= to extruct.new or set EXTRUCT_API_TOKEN, and let nginx pass it"
        .. " to its workers with the directive `env EXTRUCT_API_TOKEN;` in nginx.conf's main context"
    end
    return "no API token: pass token= to extruct.new or set EXTRUCT_API_TOKEN"
  end
  if token:find("[%c ]") then
    return "the API token holds spaces or control characters (CR, LF, NUL...); check EXTRUCT_API_TOKEN"
  end
  if base_url:find("%c") then
    return "the base URL holds control characters (CR, LF, NUL...)"
  end
  if opts.user_agent and opts.user_agent:find("%c") then
    return "the user_agent option holds control characters (CR, LF, NUL...)"
  end
  for _, name in ipairs({ "ca_file", "proxy", "noproxy" }) do
    if opts[name] and opts[name]:find("%c") then
      return ("the %s option holds control characters (CR, LF, NUL...)"):format(name)
    end
  end
  local _, why = url.check_base(base_url)
  if why then
    return ("malformed base URL '%s': %s"):format(url.redact(base_url), why)
  end
  if not opts.allow_http and url.scheme(base_url) == "http" and not url.is_loopback(base_url) then
    return ("the base URL '%s' is plaintext http to a host that is not loopback: the token would"
      .. " cross the network unencrypted; use https, or pass allow_http = true"):format(url.redact(base_url))
  end
  if url.has_userinfo(base_url) then
    return ("the base URL '%s' holds credentials (user:password@): libcurl would send them as basic"
      .. " authentication; pass the API token as token= (or EXTRUCT_API_TOKEN) and drop them from the URL")
      :format(url.redact(base_url))
  end
  local why_proxy = plaintext_proxy(base_url, opts)
  if why_proxy then return why_proxy end
  return nil
end

--- extruct.new{ token, base_url, timeout, connect_timeout, max_response_size, user_agent,
---              insecure, allow_http, ca_file, trace, proxy, noproxy, transport,
---              retries, backoff, sleep, now }
--- Unset token and base_url come from EXTRUCT_API_TOKEN and EXTRUCT_API_URL.
function M.new(opts)
  opts = check_options(opts, CLIENT_OPTIONS, "extruct.new")
  local token = opts.token or os.getenv("EXTRUCT_API_TOKEN")
  local base_url = opts.base_url or os.getenv("EXTRUCT_API_URL")
  if base_url == nil or base_url == "" then base_url = DEFAULT_BASE_URL end

  local self = setmetatable({
    -- (credentials in the URL are refused below, and not kept here)
    base_url = url.strip_userinfo(base_url):gsub("/+$", ""),
    timeout = opts.timeout or DEFAULTS.timeout,
    connect_timeout = opts.connect_timeout or DEFAULTS.connect_timeout,
    max_response_size = opts.max_response_size or DEFAULTS.max_response_size,
    _trace = opts.trace,
    retries = opts.retries or retry.DEFAULT_RETRIES,
    backoff = retry.backoff(opts.backoff),
    -- nil: extruct.clock's, whose sleep picks how to sleep at each call
    _sleep = opts.sleep,
    _now = opts.now,
    -- what the cosocket transport needs to make its own connections
    _transport = opts.transport or "auto",
    _insecure = opts.insecure or false,
    _ca_file = opts.ca_file,
    _proxy = opts.proxy,
  }, Client)
  self._url = url.parse(self.base_url)

  local problem = config_problem(token, base_url, opts)
  if problem then
    self._config_error = errors.new("config", problem, { attempts = 0 })
  else
    -- The token goes to the core and stays there: the Lua object never holds it.
    self._core = core.new_client{
      base_url = self.base_url,
      token = token,
      timeout = core_timeout(self.timeout),
      connect_timeout = core_timeout(self.connect_timeout),
      max_response_size = self.max_response_size,
      user_agent = opts.user_agent or user_agent(),
      insecure = opts.insecure or false,
      ca_file = opts.ca_file,
      trace = opts.trace ~= nil,
      proxy = opts.proxy,
      noproxy = opts.noproxy,
    }
  end
  return self
end

--- Releases the connection; safe to call more than once.
function Client:close()
  self._closed = true
  if self._core then
    self._core:close()
    self._core = nil
    -- requests of this client that were in flight end as cancelled
    loop.cancelled()
  end
end
Client.__close = Client.close

-- The sleep and now a call uses: its own options', else the client's, else
-- extruct.clock's.
local function sleep_and_now(client, opts)
  return opts and opts.sleep or client._sleep or clock.sleep,
         opts and opts.now or client._now or clock.now
end

-- One transfer: true, body, response; or false, err.
local function send(client, method, target, opts)
  -- (a sleep, trace or on_progress callback may have closed the client)
  if client._closed then misuse("extruct: the client is closed") end
  local response, kind, message, trace = loop.perform(client, method, target, opts.body)
  if client._trace then
    -- The core redacted the credentials before the text reached Lua.
    for line in (response and response.trace or trace or ""):gmatch("[^\n]+") do client._trace(line) end
  end
  if response then response.trace = nil end
  if not response then
    -- (the target is percent-encoded, so one line, but an id can make it long)
    return false, errors.new(kind, ("%s %s: %s"):format(method, errors.show(target, 200), message))
  end
  local status = response.status
  if status < 200 or status > 299 then
    return false, errors.from_status(response, opts.subject)
  end
  if response.body_error then
    return false, errors.from_bad_body(response, response.body_error)
  end
  if opts.expect == "object" and type(response.body) ~= "table" then
    return false, errors.from_bad_body(response, "expected a JSON object, got " .. type(response.body))
  end
  return true, response.body, response
end

--- The generic request: method, path (already encoded), options
--- { query = {...}, body = "json text", subject = "table 'x'", expect = "object",
---   retries, backoff, idempotent, retry_if, deadline, sleep, now }.
--- Returns the decoded body and the response { status, headers }, or nil, err
--- (err.attempts: how many requests were sent). Transient failures of an
--- idempotent request are retried; see extruct.retry.
function Client:request(method, path, opts)
  if self._closed then
    misuse("extruct: the client is closed")
  end
  -- Both go into the request line verbatim: anything else could start a header of its own.
  if type(method) ~= "string" or not method:find("^[%w!#%$%%&'%*%+%-%.%^_`|~]+$") then
    error("extruct.request: the method must be an HTTP method name such as \"GET\", got "
      .. (type(method) == "string" and ("%q"):format(method) or type(method)), 2)
  end
  if type(path) ~= "string" or not path:find("^/") or path:find("[%c ]") then
    error("extruct.request: the path must be a string starting with '/', percent-encoded"
      .. " (no spaces or control characters)", 2)
  end
  opts = check_options(opts, REQUEST_OPTIONS, "extruct.request")
  if self._config_error then
    return nil, self._config_error
  end
  local target = path .. url.query(opts.query)
  -- retry_if: the call knows which failures left nothing done on the server
  local retriable = opts.retry_if or retry.is_transient
  local may_repeat = opts.retry_if ~= nil or retry.may_repeat(method, opts.idempotent)
  local retries = may_repeat and (opts.retries or self.retries) or 0
  local backoff = retry.backoff(opts.backoff, self.backoff)
  local sleep, now = sleep_and_now(self, opts)
  local attempts = 0
  while true do
    attempts = attempts + 1
    local ok, body, response = send(self, method, target, opts)
    if ok then return body, response end
    local err = body
    if attempts > retries or not retriable(err) then
      return nil, retry.tally(err, attempts)
    end
    local pause, why_not = retry.pause(attempts, err, backoff, now, opts.deadline)
    if not pause then
      return nil, retry.tally(err, attempts, why_not)
    end
    sleep(pause)
  end
end

--- Raises unless id is a non-empty string; `what` names the id in the message.
local function check_id(id, where, what)
  if type(id) ~= "string" or id == "" then
    misuse(("extruct.%s: the %s must be a non-empty string, got %s"):format(
      where, what or "table id", type(id) == "string" and "an empty string" or type(id)))
  end
end
M.check_id = check_id

-- GET /v1/tables/{id}, with the caller's retry options and any deadline.
local function fetch_table(client, id, opts, deadline)
  return client:request("GET", "/v1/tables/" .. url.segment(id), pass_retry_options(opts, {
    subject = ("table '%s'"):format(errors.show(id)),
    expect = "object",
    deadline = deadline,
  }))
end

--- GET /v1/tables/{id}: the table's header and run status.
--- opts: retries, backoff, sleep, now (default: the client's).
function Client:get_table(id, opts)
  check_id(id, "get_table")
  opts = check_options(opts, GET_OPTIONS, "extruct.get_table")
  return fetch_table(self, id, opts)
end

--- True when the table's run is over: run_status "idle" and no cell in
--- progress (the schema's default for a missing count is 0).
function M.is_idle(t)
  if type(t) ~= "table" then
    error("extruct.is_idle: expected a table as returned by get_table, got " .. type(t), 2)
  end
  local status = t.status
  if type(status) ~= "table" then return false end
  local in_progress = status.num_cells_in_progress
  return status.run_status == "idle" and (in_progress == nil or in_progress == 0)
end

--- How far the table's run has got: the fraction (0..1) of non-input cells
--- done, and the counts it came from { done, in_progress, total, failed }.
--- Missing or non-numeric counts read as 0; with no cells at all the
--- fraction is 1 when the table is idle and 0 while it is not.
function M.progress(t)
  if type(t) ~= "table" then
    error("extruct.progress: expected a table as returned by get_table, got " .. type(t), 2)
  end
  local status = type(t.status) == "table" and t.status or {}
  local function count(v)
    return (type(v) == "number" and v >= 0 and v < math.huge) and v or 0
  end
  local done = count(status.num_cells_completed)
  local in_progress = count(status.num_cells_in_progress)
  local counts = {
    done = done,
    in_progress = in_progress,
    total = done + in_progress,
    failed = count(status.num_cells_failed),
  }
  if counts.total == 0 then
    return M.is_idle(t) and 1 or 0, counts
  end
  return done / counts.total, counts
end

local WAIT_OPTIONS = with_retry_options{
  interval = { check = positive_number, want = "a positive number of seconds" },
  max_interval = { check = positive_number, want = "a positive number of seconds" },
  timeout = { check = non_negative_number, want = "a number of seconds >= 0" },
  on_progress = { check = is_function, want = "a function" },
}
local WAIT_DEFAULTS = { interval = 5, timeout = 900 }

-- How much longer the pause gets after each poll that shows no progress.
local INTERVAL_GROWTH = 1.5

-- What a poll can tell apart from the previous one: any change resets the
-- pause to `interval`.
local function progress_mark(t)
  local _, counts = M.progress(t)
  local status = type(t.status) == "table" and t.status or {}
  return ("%s %s %s %s"):format(tostring(status.run_status), counts.done, counts.in_progress, counts.failed)
end

-- Built from whatever the server sent: a missing or non-numeric count must
-- not turn a timeout into a raised error. `cause` is the transient error of
-- the last poll, when it failed.
local function timeout_error(id, timeout, t, cause, why)
  local message
  if t then
    local status = type(t.status) == "table" and t.status or {}
    local function count(v) return type(v) == "number" and v or 0 end
    local in_progress = count(status.num_cells_in_progress)
    message = ("table '%s' was still %s after %g s (%s of %s cells in progress)"):format(
      errors.show(id), errors.show(status.run_status), timeout, in_progress, in_progress + count(status.num_cells_completed))
  else
    message = ("table '%s': no answer within %g s"):format(errors.show(id), timeout)
  end
  if why then message = message .. "; " .. why end
  if cause then message = message .. "; the last poll failed: " .. cause.kind .. ": " .. cause.message end
  return errors.new("timeout", message, { last = t, cause = cause })
end

--- Polls the table until it is idle. opts: interval (s, default 5),
--- max_interval (s, default interval), timeout (s, default 900),
--- on_progress(t) after every poll (returning false cancels), retries,
--- backoff, sleep, now.
--- Returns the idle table, or nil and an error: "timeout" (err.last, the
--- last table seen; err.cause, the last poll's error if it failed),
--- "cancelled" (err.last), or the permanent error of a poll.
function Client:wait_until_idle(id, opts)
  check_id(id, "wait_until_idle")
  opts = check_options(opts, WAIT_OPTIONS, "extruct.wait_until_idle")
  local interval = opts.interval or WAIT_DEFAULTS.interval
  local max_interval = opts.max_interval or interval
  if max_interval < interval then
    error(("extruct.wait_until_idle: max_interval (%g) must be >= interval (%g)"):format(max_interval, interval), 2)
  end
  local timeout = opts.timeout or WAIT_DEFAULTS.timeout
  local sleep, now = sleep_and_now(self, opts)
  local deadline = now() + timeout
  local pause = interval
  local last, last_mark, cause
  while true do
    -- A poll retries transient failures as any GET does, but never past the
    -- deadline; one that still fails is a missed poll, not the end.
    local t, err = fetch_table(self, id, opts, deadline)
    if t then
      last, cause = t, nil
      local verdict = opts.on_progress and opts.on_progress(t)
      if M.is_idle(t) then return t end
      if verdict == false then
        return nil, errors.new("cancelled", ("waiting for table '%s' was cancelled by on_progress"):format(errors.show(id)),
          { last = t })
      end
      local mark = progress_mark(t)
      if mark ~= last_mark then
        pause = interval
      else
        pause = math.min(pause * INTERVAL_GROWTH, max_interval)
      end
      last_mark = mark
    elseif retry.is_transient(err) then
      cause = err
      pause = math.min(pause * INTERVAL_GROWTH, max_interval)
    else
      return nil, err
    end
    local remaining = deadline - now()
    if remaining <= 0 then return nil, timeout_error(id, timeout, last, cause) end
    local next_pause = pause
    if cause and cause.retry_after then
      if cause.retry_after > remaining then
        return nil, timeout_error(id, timeout, last, cause,
          ("the server asked to wait %g s, past the deadline"):format(cause.retry_after))
      end
      next_pause = math.max(pause, cause.retry_after)
    end
    sleep(math.min(next_pause, remaining))
  end
end

local WAIT_ALL_OPTIONS = with_retry_options{
  interval = WAIT_OPTIONS.interval,
  max_interval = WAIT_OPTIONS.max_interval,
  timeout = WAIT_OPTIONS.timeout,
  on_progress = { check = is_function, want = "a function(id, t)" },
  concurrency = { check = retry_count, want = "a whole number >= 1" },
}

--- Waits until every table of the list `ids` is idle, polling several at
--- once (extruct.gather). opts: interval, max_interval, timeout (for the
--- whole wait), on_progress(id, t) after every poll (returning false
--- cancels), concurrency (tables polled at once, default 8), and the retry
--- options. Returns a map id -> idle table; or nil and the first failure,
--- whose err.tables (id -> the last table seen) and err.errors (id -> why
--- that table's wait did not end idle) hold what was learned of every table.
function Client:wait_all(ids, opts)
  if type(ids) ~= "table" then
    misuse("extruct.wait_all: expected a list of table ids, got " .. type(ids))
  end
  local list, seen = {}, {}
  for i = 1, #ids do
    check_id(ids[i], "wait_all", ("table id at position %d"):format(i))
    if not seen[ids[i]] then
      seen[ids[i]] = true
      list[#list + 1] = ids[i]
    end
  end
  opts = check_options(opts, WAIT_ALL_OPTIONS, "extruct.wait_all")
  if opts.concurrency == 0 then misuse("extruct.wait_all: option 'concurrency' must be a whole number >= 1") end
  local interval = opts.interval or WAIT_DEFAULTS.interval
  if (opts.max_interval or interval) < interval then
    misuse(("extruct.wait_all: max_interval (%g) must be >= interval (%g)"):format(opts.max_interval, interval))
  end
  local _, now = sleep_and_now(self, opts)
  local timeout = opts.timeout or WAIT_DEFAULTS.timeout
  local deadline = now() + timeout

  local tables, errs, first, first_id = {}, {}, nil, nil
  local function wait_one(id)
    if first then
      return nil, errors.new("cancelled", ("not waited for: table '%s' failed first"):format(first_id))
    end
    local wait_opts = pass_retry_options(opts, {
      interval = opts.interval,
      max_interval = opts.max_interval,
      timeout = math.max(0, deadline - now()),
      on_progress = function(t)
        tables[id] = t
        if first then return false end
        if opts.on_progress then return opts.on_progress(id, t) end
      end,
    })
    local t, err = self:wait_until_idle(id, wait_opts)
    if t then
      tables[id] = t
    elseif err.kind == "cancelled" and first then
      err = errors.new("cancelled", ("stopped waiting for table '%s': table '%s' failed first"):format(id, first_id),
        { last = err.last })
    end
    return t, err
  end
  local fns = {}
  for i, id in ipairs(list) do
    fns[i] = function()
      local t, err = wait_one(id)
      if err then
        errs[id] = err
        if first == nil then first, first_id = err, id end
      end
      return t, err
    end
  end
  local _, raised = gather.run(fns, { concurrency = opts.concurrency or gather.DEFAULT_CONCURRENCY })
  -- A callback that closed the client ends the wait as any use after close
  -- does, at the caller's line (the tasks' own stacks lead nowhere), whether
  -- the other polls then raised or came back cancelled.
  if self._closed then misuse("extruct: the client is closed") end
  if raised ~= nil then error(raised, 0) end
  if first then
    -- the first failure, as it came, with what was learned of every table
    local fields = {}
    for key, value in pairs(first) do fields[key] = value end
    fields.id, fields.tables, fields.errors = first_id, tables, errs
    return nil, errors.new(first.kind, first.message, fields)
  end
  return tables
end

return M
