-- The client: a connection to the API and the request loop (retries,
-- errors) on top of extruct.core's transfer. The endpoints are methods of
-- the client too: each group of them is a file of lua/extruct/api/ that
-- returns its methods, installed below when the client is defined.

local core = require("extruct.core")
local endpoint = require("extruct.endpoint")
local errors = require("extruct.errors")
local failures = require("extruct.failures")
local host = require("extruct.host")
local interrupt = require("extruct.interrupt")
local retry = require("extruct.retry")
local transport = require("extruct.transport")
local url = require("extruct.url")

local M = {}

local DEFAULT_BASE_URL = "https://api.extruct.ai"
M.DEFAULT_BASE_URL = DEFAULT_BASE_URL

local check_options, misuse = endpoint.check_options, endpoint.misuse
local is_string, is_boolean, is_function = endpoint.is_string, endpoint.is_boolean, endpoint.is_function
local positive_number = endpoint.positive_number

-- The largest response the core may be asked to hold: a size_t and a
-- double both count that far exactly.
local MAX_RESPONSE_SIZE = 2 ^ 40
local function response_size(v)
  return type(v) == "number" and v >= 1 and v <= MAX_RESPONSE_SIZE and v == math.floor(v)
end

--- The options of extruct.new; every one may be left out (docs/api.md#extructnew).
---@class extruct.ClientOptions: extruct.Options
---@field token? string The API token (default: EXTRUCT_API_TOKEN)
---@field base_url? string Default: EXTRUCT_API_URL, else https://api.extruct.ai
---@field timeout? number Seconds for a whole request (default 30)
---@field connect_timeout? number Seconds to connect (default 10)
---@field queue_timeout? number Seconds a request may wait for one of the 16 connections of the client to its host (default 60)
---@field max_response_size? number The largest answer accepted, in whole bytes (default 64 MiB; up to 2^40)
---@field user_agent? string Default: extruct-lua/<version> (<Lua>; libcurl/<version>)
---@field insecure? boolean true turns TLS certificate verification off: for tests only
---@field allow_http? boolean true allows plaintext http:// to a host that is not loopback
---@field ca_file? string A PEM file of CA certificates to trust instead of the system's
---@field trace? fun(line: string) Called with each line of every exchange, credentials redacted
---@field keep_text? boolean true keeps each answer's body as received in client.last_response.text (libcurl transport)
---@field proxy? string A proxy URL; "" for none (default: the environment's)
---@field noproxy? string Hosts that bypass the proxy: "localhost,127.0.0.1", ".example.com", "*"
---@field transport? "auto"|"curl"|"cosocket" How requests go: by libcurl, by nginx's cosockets, or either

local CLIENT_OPTIONS = endpoint.with_retry_options{
  token = { check = is_string, want = "a string" },
  base_url = { check = is_string, want = "a string" },
  timeout = { check = positive_number, want = "a positive number of seconds" },
  connect_timeout = { check = positive_number, want = "a positive number of seconds" },
  queue_timeout = { check = positive_number, want = "a positive number of seconds" },
  max_response_size = { check = response_size, want = "a whole number of bytes from 1 to 2^40" },
  user_agent = { check = is_string, want = "a string" },
  insecure = { check = is_boolean, want = "a boolean" },
  allow_http = { check = is_boolean, want = "a boolean" },
  ca_file = { check = is_string, want = "a string (the path of a PEM file)" },
  trace = { check = is_function, want = "a function(line)" },
  keep_text = { check = is_boolean, want = "a boolean" },
  proxy = { check = is_string, want = 'a string (a proxy URL such as "http://host:3128", or "" for none)' },
  noproxy = { check = is_string, want = 'a string (hosts that bypass the proxy, such as "localhost,127.0.0.1", or "*")' },
  transport = { check = function(v) return v == "auto" or v == "curl" or v == "cosocket" end,
                want = '"auto", "curl" or "cosocket"' },
}

--- The options of client:request.
---@class extruct.RequestOptions: extruct.Options
---@field query? table<string|number, string|number|boolean|(string|number|boolean)[]> The query string's parameters
---@field body? string The request body: JSON text
---@field subject? string What a 404 is about, e.g. "table 'x'"
---@field expect? extruct.Shape Any other answer (no body included) is a "decode" error
---@field idempotent? boolean Whether the request may be sent again after a failure
---@field retry_if? fun(err: extruct.Error): boolean Which failures to retry, instead of the usual rule
---@field deadline? number A time on `now`'s clock after which no retry pause may end

local REQUEST_OPTIONS = endpoint.with_retry_options{
  query = { check = url.check_query, want = "a table" },
  body = { check = is_string, want = "a string of JSON text" },
  subject = { check = is_string, want = "a string" },
  expect = { check = endpoint.is_shape, want = '"object", "array" or "object or array"' },
  idempotent = { check = is_boolean, want = "a boolean" },
  retry_if = { check = is_function, want = "a function(err) returning whether to retry" },
  deadline = { check = endpoint.is_finite_number, want = "a number (a time on the clock of now)" },
}

local DEFAULTS = { timeout = 30, connect_timeout = 10, queue_timeout = 60, max_response_size = 64 * 1024 * 1024 }

-- Clients made in this process: each one's number names its pools of
-- nginx connections (extruct.cosocket).
local clients_made = 0

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

--- client.last_response: the final response of the last call that the
--- running coroutine (a task, a light thread, the main program) made
--- through the client.
---@class extruct.LastResponse
---@field status integer The HTTP status
---@field headers table<string, string> The response headers, names lower-cased
---@field page? extruct.Page After list_tables and each page of iter_tables
---@field text? string With the keep_text option: the body exactly as received (libcurl transport)
---@field body? any With the keep_text option: what that body decoded to (the answer, or the page an iterator read)

--- Paging facts from the x-extruct-pagination-* headers; a field is nil when
--- its header is missing.
---@class extruct.Page
---@field total? integer
---@field total_pages? integer
---@field limit? integer
---@field offset? integer
---@field page? integer

--- A client of the Extruct API: what extruct.new returns. Its methods are the
--- endpoints (lua/extruct/api/*.lua), the generic request, and close.
---@class extruct.Client
---@field base_url string The base URL, without trailing slashes or credentials
---@field timeout number Seconds for a whole request
---@field connect_timeout number Seconds to connect
---@field queue_timeout number Seconds a request may wait for a connection to its host
---@field max_response_size number The largest answer accepted, in bytes
---@field retries integer Retries of a failed idempotent request
---@field backoff extruct.Backoff The pauses between retries
---@field last_response? extruct.LastResponse The final response of the running coroutine's last call (docs/answers.md)
local Client = {}
M.Client = Client

-- client.last_response is kept for each coroutine apart: calls of one
-- client overlap (tasks of extruct.gather, nginx's light threads, Neovim's
-- coroutines), and each must read the answer of its own last call, never
-- another's. The main thread is one more key (Lua 5.1 has no coroutine
-- object for it); the others are weak, so a finished coroutine's entry goes.
local MAIN = {}
local function running_key()
  return coroutine.running() or MAIN
end

local function last_response_of(client)
  local last = rawget(client, "_last")
  return last and last[running_key()]
end

local function set_last_response(client, response)
  local last = rawget(client, "_last")
  if last == nil then
    if response == nil then return end
    last = setmetatable({}, { __mode = "k" })
    rawset(client, "_last", last)
  end
  last[running_key()] = response
end

Client.__index = function(client, key)
  if key == "last_response" then return last_response_of(client) end
  return Client[key]
end
Client.__newindex = function(client, key, value)
  if key == "last_response" then return set_last_response(client, value) end
  rawset(client, key, value)
end

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
---@param base_url string
---@param opts { proxy?: string, noproxy?: string, allow_http?: boolean, transport?: string }
---@param getenv? fun(name: string): string? Reads the environment (default: os.getenv)
---@return string? why Why the token would cross the network unencrypted; nil when it would not
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

-- The message of a missing token.
local function no_token_problem()
  if host.clears_environment() then
    -- nginx clears its workers' environment unless told otherwise
    return "no API token: pass token= to extruct.new or set EXTRUCT_API_TOKEN, and let nginx pass it"
      .. " to its workers with the directive `env EXTRUCT_API_TOKEN;` in nginx.conf's main context"
  end
  return "no API token: pass token= to extruct.new or set EXTRUCT_API_TOKEN"
end

-- Why a token that is there cannot work, or nil.
local function token_problem(token)
  if token:find("^[Bb][Ee][Aa][Rr][Ee][Rr]%s") then
    return "the API token starts with 'Bearer ': give the token alone (the client sends the header"
      .. " 'Authorization: Bearer <token>' itself); check EXTRUCT_API_TOKEN"
  end
  if token:find("[%c ]") then
    return "the API token holds spaces or control characters (CR, LF, NUL...); check EXTRUCT_API_TOKEN"
  end
  return nil
end

-- Why a configuration cannot work, the token aside, or nil. Checked when
-- the client is made, reported by every request: a token or URL from the
-- environment is not the caller's misuse, so it is an error value, not a
-- raised error.
local function config_problem(base_url, opts)
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

--- extruct.new{ token, base_url, timeout, connect_timeout, queue_timeout, max_response_size, user_agent,
---              insecure, allow_http, ca_file, trace, keep_text, proxy, noproxy, transport,
---              retries, backoff, sleep, now }
--- Unset token and base_url come from EXTRUCT_API_TOKEN and EXTRUCT_API_URL.
---@param opts? extruct.ClientOptions
---@return extruct.Client client
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
    queue_timeout = opts.queue_timeout or DEFAULTS.queue_timeout,
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
  clients_made = clients_made + 1
  self._pool_id = clients_made

  local missing_token = token == nil or token == ""
  local problem = (not missing_token and token_problem(token)) or config_problem(base_url, opts)
  if problem then
    self._config_error = errors.new("config", problem, { attempts = 0 })
  else
    if missing_token then
      -- Only the requests that need no token can be sent (the healthcheck).
      self._token_error = errors.new("config", no_token_problem(), { attempts = 0 })
    end
    -- The token goes to the core and stays there: the Lua object never holds it.
    self._core = core.new_client{
      base_url = self.base_url,
      token = token or "",
      timeout = core_timeout(self.timeout),
      connect_timeout = core_timeout(self.connect_timeout),
      queue_timeout = core_timeout(self.queue_timeout),
      max_response_size = self.max_response_size,
      user_agent = opts.user_agent or user_agent(),
      insecure = opts.insecure or false,
      ca_file = opts.ca_file,
      trace = opts.trace ~= nil,
      keep_text = opts.keep_text or false,
      proxy = opts.proxy,
      noproxy = opts.noproxy,
    }
  end
  return self
end

--- Closes the client's connections (no socket of it stays open, and none
--- is ever lent to another client); safe to call more than once. Requests
--- of it in flight end as `cancelled`. Returns true.
---@return true
function Client:close()
  self._closed = true
  if self._core then
    self._core:close()
    self._core = nil
    -- requests of this client that were in flight end as cancelled
    host.after_close()
  end
  return true
end
Client.__close = Client.close

-- What client.last_response keeps of a response: its status and headers.
-- The core's responses make their headers table when it is first read, and a
-- table given the same metatable does the same; most calls never read it.
local function response_head(response)
  local mt = getmetatable(response)
  if mt == nil then return { status = response.status, headers = response.headers } end
  return setmetatable({ status = response.status }, mt)
end

-- Where a request went, as its errors say: the base URL and the path, never
-- the query (its values are the caller's) nor the token (a header).
local function request_url(client, target)
  return client.base_url .. target:match("^[^?]*")
end

-- Whether a 404 is no answer about a thing but a path the server has no
-- route for: FastAPI's bare "Not Found", or a body that is not the API's
-- JSON (another server's page). A wrong base URL is then the likely cause.
local function no_such_route(response)
  if response.status ~= 404 then return false end
  local body = response.body
  if type(body) ~= "table" then return true end
  return body.detail == nil or body.detail == "Not Found"
end

-- The error of a non-2xx response, carrying err.url. A 404 from a path
-- that is not an API route names the URL asked for and the base URL it
-- came from; one ending in /v1 (every path starts with /v1 already) is
-- named as the mistake.
local function status_error(client, response, method, target, subject)
  local url_asked = request_url(client, target)
  local missing = no_such_route(response)
  local err = errors.from_status(response, not missing and subject or nil)
  err.url = url_asked
  local doubled = client.base_url:match("^(.-)/v1$")
  if missing or (doubled and (response.status == 404 or response.status == 405)) then
    local why = ("%s %s is not a route of the API: "):format(method, errors.show(url_asked, 200))
    local check = ("; check the base URL '%s' (base_url, EXTRUCT_API_URL or --base-url)"):format(
      errors.show(url.redact(client.base_url), 200))
    if doubled then
      check = check .. (": it ends in /v1, which every path starts with already; use '%s'"):format(
        errors.show(url.redact(doubled), 200))
    end
    err.message = why .. err.message .. check
  end
  return err
end

-- What a failed TLS handshake most often means: an https URL to a port
-- that serves plain HTTP (whose answer, or silence, is no handshake).
local TLS_HANDSHAKE_HINT = "; no TLS handshake with this server: if the port serves plain HTTP, the URL should"
  .. " start with http://"

-- One transfer: the response, or false and an error. Every response that
-- came is recorded as the running coroutine's last_response of the client,
-- whatever its status; a transfer that got none leaves nil there.
local function send(client, method, target, opts)
  -- (a sleep, trace or on_progress callback may have closed the client)
  if client._closed then misuse("extruct: the client is closed") end
  set_last_response(client, nil)
  local started = client._trace and core.monotime()
  local response, failure, message, trace = transport.perform(client, method, target, opts.body)
  if client._trace then
    -- The core redacted the credentials before the text reached Lua.
    for line in (response and response.trace or trace or ""):gmatch("[^\n]+") do client._trace(line) end
    -- and the exchange's outcome and time, in a line of its own
    client._trace(("* extruct: %s in %.3f s"):format(response and ("HTTP " .. response.status) or failures.kind(failure),
      core.monotime() - started))
  end
  if not response then
    -- (the URL is percent-encoded, so one line, but an id can make it long;
    -- the transport's words may quote the server: a certificate's name)
    local url_asked = request_url(client, target)
    message = errors.show(message, 1000)
    if failure == "tls_handshake" then message = message .. TLS_HANDSHAKE_HINT end
    -- (a request that never left the queue for a connection was not sent:
    -- err.sent = false, and any method may be sent again)
    local err = errors.new(failures.kind(failure), ("%s %s: %s"):format(method, errors.show(url_asked, 200),
      message), { url = url_asked, interrupted = failure == "interrupted" or nil })
    if failure == "queued" then err.sent = false end
    return false, err
  end
  response.trace = nil
  local head = response_head(response)
  if response.text then
    -- (keep_text: the body as the server sent it, for tools that show it so)
    head.text, head.body = response.text, response.body
  end
  set_last_response(client, head)
  local status = response.status
  if status < 200 or status > 299 then
    return false, status_error(client, response, method, target, opts.subject)
  end
  if response.body_error then
    return false, errors.from_bad_body(response, response.body_error)
  end
  if opts.expect then
    local why = endpoint.shape_problem(response.body, opts.expect)
    if why then return false, errors.from_bad_body(response, why) end
  end
  return response
end

-- The request loop behind Client:request and every endpoint: the response
-- { status, headers, body (nil when there was none), attempts }, or nil
-- and an error (err.attempts: how many requests were sent). Transient
-- failures of an idempotent request are retried; see extruct.retry.
function Client:_request(method, path, opts)
  if self._closed then misuse("extruct: the client is closed") end
  set_last_response(self, nil)
  if self._config_error then
    return nil, self._config_error
  end
  if self._token_error and not opts.anonymous then
    return nil, self._token_error
  end
  local target = path .. url.query(opts.query)
  -- retry_if: the call knows which failures left nothing done on the server
  local may_repeat = opts.retry_if ~= nil or retry.may_repeat(method, opts.idempotent)
  local retries = opts.retries or self.retries
  local attempts = 0
  while true do
    attempts = attempts + 1
    local response, err = send(self, method, target, opts)
    if response then
      response.attempts = attempts
      return response
    end
    -- (a request that was never sent may go again whatever its method or
    -- retry_if: nothing of it reached the server)
    local unsent = err.sent == false
    if attempts > retries or not (unsent or (may_repeat and retry.retriable(err, opts.retry_if))) then
      return nil, retry.tally(err, attempts)
    end
    -- (looked up only now: most calls never retry)
    local sleep, now = endpoint.sleep_and_now(self, opts)
    local pause, why_not = retry.pause(attempts, err, retry.backoff(opts.backoff, self.backoff), now, opts.deadline)
    if not pause then
      return nil, retry.tally(err, attempts, why_not)
    end
    sleep(pause)
    if interrupt.pending() then
      return nil, retry.tally(interrupt.error(("%s in the pause before attempt %d; the last attempt: %s: %s")
        :format(interrupt.WORDS, attempts + 1, err.kind, err.message), { url = err.url }), attempts)
    end
  end
end

--- The generic request: method, path (already encoded), options
--- { query = {...}, body = "json text", subject = "table 'x'", expect = "object",
---   retries, backoff, idempotent, retry_if, deadline, sleep, now }.
--- Returns the decoded body (true when the answer had none), or nil, err.
--- The status and headers are in client.last_response.
---@param method string An HTTP method name such as "GET"
---@param path string Starting with "/", percent-encoded (extruct.url.segment)
---@param opts? extruct.RequestOptions
---@return any value The decoded body, or true when the response had none; nil on failure
---@return extruct.Error? err
function Client:request(method, path, opts)
  if self._closed then misuse("extruct: the client is closed") end
  -- Both go into the request line verbatim: anything else could start a header of its own.
  if type(method) ~= "string" or not method:find("^[%w!#%$%%&'%*%+%-%.%^_`|~]+$") then
    misuse("extruct.request: the method must be an HTTP method name such as \"GET\", got "
      .. (type(method) == "string" and ("%q"):format(method) or type(method)))
  end
  if type(path) ~= "string" or not path:find("^/") or path:find("[%c ]") then
    misuse("extruct.request: the path must be a string starting with '/', percent-encoded"
      .. " (no spaces or control characters)")
  end
  opts = check_options(opts, REQUEST_OPTIONS, "extruct.request")
  local response, err = self:_request(method, path, opts)
  if response == nil then return nil, err end
  if response.body == nil then return true end
  return response.body
end

---------------------------------------------------------------------------
-- The endpoints: one file of lua/extruct/api/ per group, each returning a
-- table of methods built on extruct.endpoint and Client:_request. A new
-- group is a new file and a line here; the module-level shortcuts
-- (extruct.get_table, ...) are made from the same list.
---------------------------------------------------------------------------

local GROUPS = {
  "tables",
  "account",
  "waiting",
  "companies",
  "deep_search",
  "deep_research",
  "export",
}

--- The names of the endpoint methods, sorted: what extruct makes shortcuts of.
M.METHODS = {}

for _, group in ipairs(GROUPS) do
  local module = "extruct.api." .. group
  for name, method in pairs(require(module)) do
    if Client[name] ~= nil then
      error(("%s: the method '%s' is defined twice"):format(module, name))
    end
    Client[name] = method
    M.METHODS[#M.METHODS + 1] = name
  end
end
table.sort(M.METHODS)

return M
