-- Error objects: what every failing call returns as its second value.
--
-- An error is a table { kind, status, message, detail, retry_after, ... }
-- whose __tostring reads as one line, so `print(err)` and `error(err)` both
-- work. Messages are built only from the server's answer and the request's
-- path, never from the client's configuration, so the token cannot leak.

local linear = require("extruct.text")

local M = {}

--- What went wrong, in one word: `err.kind`. The C core holds the list
--- (core.error_kinds); docs/errors.md says when each one happens.
---@alias extruct.ErrorKind
---| "auth" # 401 or 403: the token is missing, wrong or not allowed to do this
---| "payment" # 402: the plan or the credits do not cover the request
---| "not_found" # 404: unknown, or not in this workspace
---| "validation" # 422: the API rejected the request's parameters
---| "rate_limit" # 429
---| "server" # 5xx
---| "http" # any other non-2xx status, or a redirect not followed
---| "network" # DNS, refused or reset connection, a body cut short
---| "tls" # the server's certificate failed verification, or no TLS handshake (an https URL to plain HTTP)
---| "timeout" # connect_timeout or timeout ran out, or a wait's deadline passed
---| "decode" # a 2xx body that is not the JSON promised, or too big
---| "encode" # a value JSON cannot hold
---| "config" # a configuration that cannot work (no token, a bad base URL...)
---| "cancelled" # on_progress returned false, the client was closed during the request, or Ctrl-C (err.interrupted)
---| "failed" # a Deep Search or Deep Research task waited for ended with status "failed"
---| "output" # the command line could not write its output
---| "database" # an export's database could not be opened, or refused or lost a statement

--- An error object: the second value of every call that failed (`nil, err`).
--- `tostring(err)` reads "extruct: <kind>: <message>"; which fields are set
--- depends on the kind and the call (docs/errors.md).
---@class extruct.Error
---@field kind extruct.ErrorKind What went wrong
---@field message string What happened and what to do, in words
---@field status? integer The HTTP status; nil when no response came
---@field detail? any The decoded `detail` of a FastAPI error body: a string, an object (402) or a list (422)
---@field body? any An HTTP error's body: the decoded JSON, or the first 200 bytes as sent when it is not JSON
---@field code? string The API's reason as a word a script can branch on (402: plan_required, insufficient_credits...)
---@field retry_after? number Seconds to wait, when the server sent Retry-After
---@field attempts? integer How many requests were sent (0 for "config")
---@field sent? boolean false when the request was never sent (it waited past queue_timeout for a connection)
---@field location? string Where a redirect that was not followed pointed
---@field url? string Where the failed request went: the base URL and the path, without the query string
---@field last? table A wait's "timeout", "cancelled" and "failed": the last table or task seen
---@field cause? extruct.Error A wait's "timeout": the error of the last poll, when it failed
---@field task? table The waits of Deep Search and Deep Research: the last task seen (as `last`)
---@field failure_reason? string wait_deep_research's "failed": the task's failure_reason
---@field id? string wait_all: the id of the first table that failed
---@field tables? table<string, table> wait_all: the last table seen of each table polled
---@field errors? table<string, extruct.Error> wait_all: why each table that did not end idle did not
---@field interrupted? boolean A "cancelled" error that Ctrl-C caused (extruct.on_interrupt)
---@field valid_columns? string[] The `columns` option named unknown keys: the table's column keys
local Error = {}
Error.__index = Error
Error.__tostring = function(err)
  return "extruct: " .. err.kind .. ": " .. err.message
end
M.Error = Error

-- The kinds of error, in docs/errors.md's order: the C core holds the list
-- (its own failures name their kinds from it), and M.KINDS is a copy. It is
-- read when first needed, so that code wanting only this file's helpers
-- (the command line's help pages and docs) loads it without the core.
local kinds, is_kind
local function known_kinds()
  if kinds == nil then
    local list, set = {}, {}
    for i, kind in ipairs(require("extruct.core").error_kinds) do
      list[i] = kind
      set[kind] = true
    end
    kinds, is_kind = list, set
  end
  return kinds, is_kind
end
setmetatable(M, { __index = function(_, key)
  if key == "KINDS" then return (known_kinds()) end
end })

--- The kind of a non-2xx HTTP status (extruct.failures classifies both
--- statuses and transport failures).
M.kind_for_status = require("extruct.failures").kind

--- A new error of `kind` (one of M.KINDS: any other is a bug of the
--- caller, so it raises) saying `message`, with any other `fields`.
---@param kind extruct.ErrorKind
---@param message string
---@param fields? table Any other fields of the error (status, detail, attempts...)
---@return extruct.Error err
function M.new(kind, message, fields)
  local list, set = known_kinds()
  if not set[kind] then
    error(("extruct.errors.new: '%s' is not an error kind (%s)"):format(tostring(kind), table.concat(list, ", ")), 2)
  end
  local err = { kind = kind, message = message }
  if fields then
    for k, v in pairs(fields) do err[k] = v end
  end
  return setmetatable(err, Error)
end

--- Whether value is an error object of this module.
---@param value any
---@return boolean
function M.is_error(value)
  return getmetatable(value) == Error
end

-- HTTP-date (RFC 9110: IMF-fixdate) to a POSIX timestamp, without os.time's
-- local-time interpretation.
local MONTHS = { Jan = 1, Feb = 2, Mar = 3, Apr = 4, May = 5, Jun = 6,
                 Jul = 7, Aug = 8, Sep = 9, Oct = 10, Nov = 11, Dec = 12 }

local function days_from_civil(y, m, d)
  y = m <= 2 and y - 1 or y
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local mp = (m + 9) % 12
  local doy = math.floor((153 * mp + 2) / 5) + d - 1
  local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
end

function M.parse_http_date(text)
  local d, mon, y, hh, mm, ss = text:match("^%a%a%a, (%d%d) (%a%a%a) (%d%d%d%d) (%d%d):(%d%d):(%d%d) GMT$")
  if not d or not MONTHS[mon] then return nil end
  return days_from_civil(tonumber(y), MONTHS[mon], tonumber(d)) * 86400
    + tonumber(hh) * 3600 + tonumber(mm) * 60 + tonumber(ss)
end

--- Seconds to wait from a Retry-After value: delta-seconds or an HTTP-date.
--- (The value comes from the server: it is read in time linear in its length.)
function M.parse_retry_after(value, now)
  if type(value) ~= "string" then return nil end
  local seconds = linear.whole_number(value)
  if seconds then return seconds end
  local at = M.parse_http_date(linear.trim(value))
  if not at then return nil end
  return math.max(0, at - (now or os.time()))
end

-- How a control character is written in a message: \n, \r, \t or \xHH.
local ESCAPES = { ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t", ["\\"] = "\\\\" }
local function escape_byte(c)
  return ESCAPES[c] or ("\\x%02X"):format(c:byte())
end

--- How a caller's value (an id, a key) appears inside a message: on one
--- line, with control characters and backslashes escaped, and at most
--- `limit` bytes of it (100 by default) followed by "..." when it is longer.
function M.show(value, limit)
  local text = tostring(value)
  limit = limit or 100
  local cut = #text > limit
  if cut then
    -- not in the middle of a UTF-8 character: back off over continuation bytes
    local stop = limit
    while stop > 0 and text:byte(stop + 1) >= 0x80 and text:byte(stop + 1) < 0xC0 do stop = stop - 1 end
    text = text:sub(1, stop)
  end
  text = text:gsub("[%c\\]", escape_byte)
  return cut and text .. "..." or text
end

-- A FastAPI `detail` in words: a string as is, a 422 list as "loc: msg; ...",
-- a 402 object by its `error` code.
local function describe_detail(detail)
  local kind = type(detail)
  if kind == "string" then return detail end
  if kind ~= "table" then return nil end
  if detail.error ~= nil then
    local text = tostring(detail.error)
    if type(detail.message) == "string" then text = text .. ": " .. detail.message end
    return text
  end
  local parts = {}
  for _, item in ipairs(detail) do
    if type(item) == "table" and type(item.msg) == "string" then
      local loc = {}
      if type(item.loc) == "table" then
        for _, part in ipairs(item.loc) do loc[#loc + 1] = tostring(part) end
      end
      parts[#parts + 1] = (#loc > 0 and table.concat(loc, ".") .. ": " or "") .. item.msg
    end
  end
  if #parts > 0 then return table.concat(parts, "; ") end
  return nil
end

-- Text from the server as it appears inside a message: on one line (each
-- run of white space one space), its control characters escaped as show
-- escapes them (an ESC, BEL or NUL printed raw could retitle or clear the
-- terminal that shows the error), at most `limit` bytes of it. The text as
-- sent stays in the error's other fields (err.body, err.detail).
local function server_text(said, limit)
  return M.show(linear.trim((said:gsub("%s+", " "))), limit)
end

local STATUS_MESSAGES = {
  auth = "the API rejected the credentials; check that the request carries the header"
    .. " 'Authorization: Bearer <token>' and that EXTRUCT_API_TOKEN (or extruct.new's token option) holds a valid API token",
  payment = "payment required: the workspace's plan or credits do not cover this request",
  not_found = "not found",
  validation = "the API rejected the request as invalid",
  rate_limit = "too many requests: the API is rate limiting or out of quota",
  server = "the API failed to answer (server error)",
  http = "unexpected HTTP status",
}

--- The error for a non-2xx response. `subject` names what was asked for
--- (e.g. "table 'tbl_1'") so a 404 can say which thing is missing.
function M.from_status(response, subject)
  local status = response.status
  local kind = M.kind_for_status(status)
  local body = response.body
  local detail = type(body) == "table" and body.detail or nil
  local message
  local location = status >= 300 and status < 400 and response.headers and response.headers.location or nil
  if kind == "not_found" and subject then
    message = subject .. " is unknown or not in this workspace"
  elseif location then
    -- a redirect that was not followed (RFC 9110: only GET and HEAD follow
    -- 301 and 302), or one past the limit
    message = ("the API redirected to %s; not followed (only GET and HEAD follow 301 and 302)")
      :format(server_text(location, 200))
  elseif status == 403 then
    message = "the API refused access (forbidden); check that the request carries the header"
      .. " 'Authorization: Bearer <token>' and that EXTRUCT_API_TOKEN holds a token allowed to do this"
  else
    message = STATUS_MESSAGES[kind]
  end
  local said = describe_detail(detail)
  if said then
    message = message .. " (server said: " .. server_text(said, 300) .. ")"
  elseif response.body_text then
    message = message .. " (body: " .. server_text(response.body_text, 120) .. ")"
  end
  local retry_after = M.parse_retry_after(response.headers and response.headers["retry-after"])
  if retry_after then
    message = message .. "; retry after " .. retry_after .. " s"
  end
  message = message .. " [HTTP " .. status .. "]"
  -- the API's reason as a word a script can branch on: a 402 says
  -- plan_required, payment_failed or insufficient_credits
  local code = type(detail) == "table" and type(detail.error) == "string" and detail.error or nil
  -- (the body as sent, for programs: the message shows it escaped)
  if body == nil then body = response.body_text end
  return M.new(kind, message, {
    status = status, detail = detail, code = code, retry_after = retry_after, location = location, body = body,
  })
end

--- The error for a 2xx response whose body is not the JSON promised.
function M.from_bad_body(response, why)
  local content_type = response.headers and response.headers["content-type"]
  local message = "the response is not the JSON expected: " .. why
  if content_type then message = message .. " (content-type " .. server_text(content_type, 100) .. ")" end
  if response.body_text then
    message = message .. " (body: " .. server_text(response.body_text, 120) .. ")"
  end
  message = message .. " [HTTP " .. response.status .. "]"
  return M.new("decode", message, { status = response.status, body = response.body_text })
end

return M
