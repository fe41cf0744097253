-- What every endpoint is built from: argument and option checks that raise
-- at the caller's line, the call itself (body encoded, answer checked
-- against the shape the endpoint promises), paths, and paging iterators.
--
-- The endpoint groups (lua/extruct/api/*.lua) are written on this and on
-- Client:request alone; extruct.client installs them. Nothing here requires
-- extruct.client, so no group needs to either.

local clock = require("extruct.clock")
local core = require("extruct.core")
local errors = require("extruct.errors")
local retry = require("extruct.retry")
local url = require("extruct.url")

local null, array_mt = core.null, core.array_mt

local M = {}

---------------------------------------------------------------------------
-- Misuse: raised at the caller's line
---------------------------------------------------------------------------

-- The folder of this module's Lua files (lua/extruct/, api/ included):
-- frames running code from it are the library's own, whatever path led the
-- caller in (a method, a module-level shortcut, an iterator).
local OWN_FOLDER = debug.getinfo(1, "S").source:match("^@(.*[/\\])")

--- Raises message as the caller's mistake: the position shown is that of the
--- first frame outside this library (and outside C functions such as pcall).
function M.misuse(message)
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
local misuse = M.misuse

---------------------------------------------------------------------------
-- Option tables: each name maps to a check of its value and the words for
-- what it wants. An unknown name or a bad value is the caller's mistake.
---------------------------------------------------------------------------

function M.positive_number(v) return type(v) == "number" and v > 0 and v < math.huge end
function M.non_negative_number(v) return type(v) == "number" and v >= 0 and v < math.huge end
function M.is_string(v) return type(v) == "string" end
function M.is_function(v) return type(v) == "function" end
function M.is_boolean(v) return type(v) == "boolean" end
function M.is_finite_number(v) return type(v) == "number" and v > -math.huge and v < math.huge end
function M.retry_count(v) return type(v) == "number" and v >= 0 and v < math.huge and v == math.floor(v) end

--- A check for whole numbers from min to max.
function M.whole(min, max)
  return function(v) return type(v) == "number" and v == math.floor(v) and v >= min and v <= max end
end

--- A string, or a list of strings with keys 1..n (a hole would drop the
--- strings after it).
function M.string_list(v)
  if type(v) == "string" then return true end
  if type(v) ~= "table" then return false end
  local n = 0
  for _, item in pairs(v) do
    if type(item) ~= "string" then return false end
    n = n + 1
  end
  for i = 1, n do
    if v[i] == nil then return false end
  end
  return true
end

--- A list (not a single string) of strings.
function M.list_of_strings(v)
  return type(v) == "table" and M.string_list(v)
end

--- Checks opts against spec; returns opts (or {} for nil).
function M.check_options(opts, spec, where)
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

--- The options every call takes (and a client, as its defaults): how
--- failures are retried and how time passes. See docs/errors.md#retries.
---@class extruct.Options
---@field retries? integer Retries after the first attempt of an idempotent request (client default 3)
---@field backoff? extruct.Backoff The pauses between retries
---@field sleep? fun(seconds: number) How to pause (default: extruct.sleep)
---@field now? fun(): number Monotonic seconds (default: extruct.now)

--- Exponential backoff with full jitter: before retry n, a random pause of
--- up to min(cap, base * 2^(n-1)) seconds. A call may give only one of them.
---@class extruct.Backoff
---@field base? number Seconds: the first step (default 0.5)
---@field cap? number Seconds: the longest pause (default 30)

--- The shape an answer must have: a JSON object, a JSON array, or either.
---@alias extruct.Shape "object"|"array"|"object or array"

--- What iter_tables and iter_rows return, for a generic `for`: each step
--- gives one item; a page that failed gives false and the error, once, and
--- then the loop ends.
---@alias extruct.Iterator fun(): table|false|nil, extruct.Error?

-- Options shared by everything that sends requests: clients, calls, waits.
local RETRY_OPTIONS = {
  retries = { check = M.retry_count, want = "a whole number >= 0 (retries after the first attempt)" },
  backoff = { check = retry.valid_backoff, want = "a table { base = seconds, cap = seconds } of positive numbers" },
  sleep = { check = M.is_function, want = "a function(seconds)" },
  now = { check = M.is_function, want = "a function returning monotonic seconds" },
}

-- Their names as a list: every request copies them, and a numeric loop is
-- cheaper than pairs (which LuaJIT does not compile).
local RETRY_OPTION_NAMES = {}
for name in pairs(RETRY_OPTIONS) do RETRY_OPTION_NAMES[#RETRY_OPTION_NAMES + 1] = name end

--- Adds the retry options (retries, backoff, sleep, now) to an option spec.
function M.with_retry_options(spec)
  for name, option in pairs(RETRY_OPTIONS) do spec[name] = option end
  return spec
end

--- Adds the caller's retry options to the options of a request it makes
--- on the caller's behalf; returns them.
function M.pass_retry_options(opts, request)
  for i = 1, #RETRY_OPTION_NAMES do
    local name = RETRY_OPTION_NAMES[i]
    request[name] = opts[name]
  end
  return request
end

--- The sleep and now a call uses: its own options', else the client's,
--- else extruct.clock's.
function M.sleep_and_now(client, opts)
  return opts and opts.sleep or client._sleep or clock.sleep,
         opts and opts.now or client._now or clock.now
end

---------------------------------------------------------------------------
-- Arguments
---------------------------------------------------------------------------

--- Raises unless id is a non-empty string; `what` names the id in the message.
function M.check_id(id, where, what)
  if type(id) ~= "string" or id == "" then
    misuse(("extruct.%s: the %s must be a non-empty string, got %s"):format(
      where, what or "table id", type(id) == "string" and "an empty string" or type(id)))
  end
end

--- Raises unless value is a table; `what` names it in the message.
function M.check_table_arg(value, where, what)
  if type(value) ~= "table" then
    misuse(("extruct.%s: %s must be a table, got %s"):format(where, what, type(value)))
  end
end

--- t (or a new table) marked as a JSON array.
function M.list(t)
  return setmetatable(t or {}, array_mt)
end

--- A path from its fixed prefix and segments, each percent-encoded as one
--- segment: path("/v1/tables", id, "rows", row_id).
function M.path(prefix, ...)
  local path = prefix
  for i = 1, select("#", ...) do
    path = path .. "/" .. url.segment((select(i, ...)))
  end
  return path
end

--- A create's retry_if: Extruct documents that a 503 from a create means
--- nothing was created, so that one failure, unlike others of a POST, is
--- safe to send again.
---@param err extruct.Error
---@return boolean
function M.nothing_created(err)
  return err.status == 503
end

--- "table 'x'": what a 404 about table x is about.
function M.subject_table(id)
  return ("table '%s'"):format(errors.show(id))
end

---------------------------------------------------------------------------
-- Answers: each endpoint promises an object, an array or either; anything
-- else is a decode error saying what came instead.
---------------------------------------------------------------------------

--- A decoded JSON value in words: "a JSON object", "a JSON array of 3
--- items", "JSON null", "no body" ...
function M.describe(value)
  if value == nil then return "no body" end
  if value == null then return "JSON null" end
  local kind = type(value)
  if kind == "table" then
    if getmetatable(value) == array_mt then
      return ("a JSON array of %d item%s"):format(#value, #value == 1 and "" or "s")
    end
    return "a JSON object"
  elseif kind == "boolean" then
    return "JSON " .. tostring(value)
  elseif kind == "string" or kind == "number" then
    return "a JSON " .. kind
  end
  return "a " .. kind
end

local SHAPES = {
  object = function(v) return type(v) == "table" and getmetatable(v) ~= array_mt end,
  array = function(v) return type(v) == "table" and getmetatable(v) == array_mt end,
  ["object or array"] = function(v) return type(v) == "table" end,
}
local ARTICLE = { object = "a JSON object", array = "a JSON array", ["object or array"] = "a JSON object or array" }

--- Whether `shape` names an answer's shape: "object", "array" or "object or array".
function M.is_shape(shape)
  return SHAPES[shape] ~= nil
end

--- Why value is not of `shape`, or nil when it is.
function M.shape_problem(value, shape)
  if SHAPES[shape](value) then return nil end
  return ("wanted %s, got %s"):format(ARTICLE[shape], M.describe(value))
end

--- One call of an endpoint. how = { body (a Lua value, encoded here, so a
--- value JSON cannot hold is an "encode" error before anything is sent),
--- query, subject, retry_if, idempotent (true: a POST that only reads, retried
--- as a GET is), deadline, anonymous (true: the endpoint needs no token, so
--- a client without one sends it), answer (required: "object",
--- "array" or "object or array"), optional (true: no body, or JSON null,
--- is an answer too, and gives true) }. Returns the decoded answer (or true), or nil and
--- an error.
function M.call(client, method, path, opts, how)
  local value, err = M.exchange(client, method, path, opts, how)
  if value == nil then return nil, err end
  return value
end

--- M.call, and on success the response too (its status and headers): the
--- facts of this call, whoever else uses the client meanwhile.
function M.exchange(client, method, path, opts, how)
  local text
  if how.body ~= nil then
    local why
    text, why = core.encode(how.body)
    if text == nil then
      return nil, errors.new("encode", ("%s %s: the request body: %s"):format(method, path, why), { attempts = 0 })
    end
  end
  local response, err = client:_request(method, path, M.pass_retry_options(opts, {
    query = how.query, body = text, subject = how.subject, retry_if = how.retry_if, deadline = how.deadline,
    idempotent = how.idempotent, anonymous = how.anonymous,
  }))
  if response == nil then return nil, err end
  local body = response.body
  if how.optional and (body == nil or body == null) then return true, nil, response end
  local why = M.shape_problem(body, how.answer)
  if why then
    return nil, retry.tally(errors.from_bad_body(response, why), response.attempts)
  end
  return body, nil, response
end

-- The path and subject of the table fetched last: a wait fetches the same
-- table again and again, and both take pattern matching to make.
local last_table_id, last_table_path, last_table_subject

--- GET /v1/tables/{id}: the header and run status, for get_table and the
--- waits (which pass a deadline for its retries).
function M.fetch_table(client, id, opts, deadline)
  if id ~= last_table_id then
    last_table_path, last_table_subject = M.path("/v1/tables", id), M.subject_table(id)
    last_table_id = id
  end
  return M.call(client, "GET", last_table_path, opts, {
    subject = last_table_subject, answer = "object", deadline = deadline,
  })
end

---------------------------------------------------------------------------
-- Paging
---------------------------------------------------------------------------

-- Whether two decoded JSON values are the same, key for key.
local function same_value(a, b)
  if a == b then return true end
  if type(a) ~= "table" or type(b) ~= "table" or getmetatable(a) ~= getmetatable(b) then return false end
  local n = 0
  for key, value in pairs(a) do
    local other = rawget(b, key)
    if other == nil or not same_value(value, other) then return false end
    n = n + 1
  end
  for _ in pairs(b) do
    n = n - 1
    if n < 0 then return false end
  end
  return n == 0
end

--- A generic-for iterator over the items of successive pages. fetch(offset)
--- returns the page's items and whether it was the last, or nil and an
--- error. A failure is handed to the loop once as false, err; then it ends.
--- A server that ignores the offset would send the same page forever: a
--- page whose first item has the id of the previous page's first, or that
--- is the previous page over again (items without ids), ends the loop with
--- a "decode" error.
function M.pages(fetch, first_offset)
  local items, i, offset, finished = nil, 0, first_offset, false
  local previous, previous_first
  return function()
    while true do
      if items and i < #items then
        i = i + 1
        return items[i]
      end
      if finished then return nil end
      local page, last_or_err = fetch(offset)
      if page == nil then
        finished = true
        return false, last_or_err
      end
      local first = type(page[1]) == "table" and page[1].id or nil
      local same_first = first ~= nil and first == previous_first
      if same_first or (#page > 0 and previous ~= nil and same_value(page, previous)) then
        finished = true
        return false, errors.new("decode", ("the page at offset %d repeats the previous page%s:"
          .. " the server ignores the offset"):format(offset,
            same_first and (" (item '%s')"):format(errors.show(first)) or ""))
      end
      previous, previous_first = page, first
      items, i, offset, finished = page, 0, offset + #page, last_or_err
    end
  end
end

return M
