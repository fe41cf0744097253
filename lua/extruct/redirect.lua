-- Redirects, for both transports alike: neither follows one by itself (the
-- libcurl transport runs with CURLOPT_FOLLOWLOCATION off), and follow()
-- below is the one loop, with one limit, that both go through. By RFC 9110:
--
--   303        the new place is fetched with GET (HEAD stays HEAD), no body
--   301, 302   followed by GET and HEAD only; any other method gets the
--              redirect as its answer (an `http` error carrying `location`)
--   307, 308   the same method and body again
--
-- and, whoever asked: http and https only, never from https to http, the
-- credentials only to the same scheme, host and port, at most MAX in a row.
--
-- Every form of Location resolves as libcurl resolves it (an absolute URL
-- with or without a path, "//host/path", an absolute or relative path, a
-- query alone; spaces and bytes above 127 percent-encoded) or is refused
-- with an error value; none raises.

local url = require("extruct.url")

local M = {}

M.MAX = 3

local REDIRECTS = { [301] = true, [302] = true, [303] = true, [307] = true, [308] = true }

local function encode_byte(c) return ("%%%02X"):format(c:byte()) end

-- A path and query as the request line carries them: spaces and bytes
-- above 127 percent-encoded (as libcurl encodes a redirect's target), the
-- fragment dropped. Control characters are refused: nil.
local function request_target(text)
  text = text:gsub("#.*$", "")
  if text:find("%c") then return nil end
  return (text:gsub("[ \128-\255]", encode_byte))
end

-- RFC 3986, 5.2.4: the "." and ".." segments of an absolute path, removed.
local function remove_dot_segments(path)
  if not path:find(".", 1, true) then return path end
  local segments, start = {}, 2
  while true do
    local slash = path:find("/", start, true)
    segments[#segments + 1] = path:sub(start, (slash or 0) - 1)
    if not slash then break end
    start = slash + 1
  end
  local out = {}
  for i, segment in ipairs(segments) do
    if segment == ".." then
      out[#out] = nil
    elseif segment ~= "." then
      out[#out + 1] = segment
    end
    -- a path ending in "." or ".." names a folder: it keeps its final "/"
    if (segment == "." or segment == "..") and i == #segments then out[#out + 1] = "" end
  end
  return "/" .. table.concat(out, "/")
end

-- The parts of an absolute http(s) URL: { scheme, host, port, path,
-- host_header } (path: path and query, "/" at least). nil and why for a URL
-- that cannot be followed.
local function parse_absolute(location)
  local scheme, authority, rest = location:match("^(%a[%w+.-]*)://([^/?#]*)(.*)$")
  if not scheme then return nil, "a malformed URL" end
  scheme = scheme:lower()
  if scheme ~= "http" and scheme ~= "https" then
    return nil, ("a scheme other than http or https (%s)"):format(scheme)
  end
  if authority:find("@", 1, true) then
    -- libcurl would send them as basic authentication
    return nil, "a URL holding credentials (user:password@)"
  end
  local host, port = authority:match("^%[([%x:.]+)%]:?(%d*)$")
  local bracketed = host ~= nil
  if not host then
    -- host[:port], split at the last colon (a pattern that tries each split
    -- of a long run of digits would take time quadratic in its length)
    local colon = authority:match("^.*():")
    host, port = authority, ""
    if colon then host, port = authority:sub(1, colon - 1), authority:sub(colon + 1) end
    if not host:find("^[%w.-]+$") or not port:find("^%d*$") then host = nil end
  end
  if not host or host == "" then return nil, "a malformed URL (no valid host)" end
  local default = scheme == "https" and 443 or 80
  local number = port ~= "" and tonumber(port) or default
  if number < 1 or number > 65535 then return nil, "a malformed URL (port " .. port .. ")" end
  host = host:lower()
  local host_header = bracketed and ("[" .. host .. "]") or host
  if number ~= default then host_header = host_header .. ":" .. number end
  local path = request_target(rest)
  if not path then return nil, "a URL holding control characters" end
  if path:sub(1, 1) ~= "/" then path = "/" .. path end
  return { scheme = scheme, host = host, port = number, host_header = host_header, path = path }
end

--- Where `location` leads from the parsed URL `from`: a parsed target, or
--- nil and why it cannot be followed.
function M.resolve(location, from)
  if location:find("^%a[%w+.-]*:") and not location:find("^%a[%w+.-]*://") then
    return nil, ("a scheme other than http or https (%s)"):format(location:match("^(%a[%w+.-]*):"):lower())
  end
  if location:find("^%a[%w+.-]*://") then return parse_absolute(location) end
  if location:sub(1, 2) == "//" then return parse_absolute(from.scheme .. ":" .. location) end
  local reference = request_target(location)
  if not reference then return nil, "a URL holding control characters" end
  local base_path = from.path:match("^[^?]*")
  local path
  if reference == "" then
    path = from.path
  elseif reference:sub(1, 1) == "?" then
    path = base_path .. reference
  elseif reference:sub(1, 1) == "/" then
    local only_path, query = reference:match("^([^?]*)(.*)$")
    path = remove_dot_segments(only_path) .. query
  else
    local only_path, query = reference:match("^([^?]*)(.*)$")
    -- (the folder of the path: up to its last "/", found by a pattern that
    -- does not try every start of a long last segment)
    path = remove_dot_segments((base_path:match("^(.*/)") or "/") .. only_path) .. query
  end
  return { scheme = from.scheme, host = from.host, port = from.port, host_header = from.host_header, path = path }
end

--- The parsed absolute URL of `path` (a path and query) on the parsed base
--- URL `base`.
function M.on_base(base, path)
  return { scheme = base.scheme, host = base.host, port = base.port, host_header = base.host_header,
           path = base.path .. path }
end

--- The URL of a parsed target as a string.
function M.url_of(target)
  return ("%s://%s%s"):format(target.scheme, target.host_header, target.path)
end

--- What the answer `response` to `method` (with `body`) on the parsed URL
--- `from` asks for: nil when it is no redirect to follow (its status is not
--- a redirect, it has no Location, or it must come back as the answer), the
--- next request { method, body, target (parsed), credentials }, or false,
--- failure, message when following it is refused. `credentials` says
--- whether `from` carried them.
function M.next(method, body, response, from, credentials)
  local location = response.headers and response.headers.location
  if not REDIRECTS[response.status] or type(location) ~= "string" or location == "" then return nil end
  if (response.status == 301 or response.status == 302) and method ~= "GET" and method ~= "HEAD" then
    return nil
  end
  local target, why = M.resolve(location, from)
  if not target then
    return false, "redirect_refused", "refused to follow a redirect to " .. why
  end
  if from.scheme == "https" and target.scheme ~= "https" then
    return false, "redirect_refused",
      "refused to follow a redirect away from https (an https client follows https redirects only)"
  end
  if response.status == 303 then
    if method ~= "HEAD" then method = "GET" end
    body = nil
  end
  local same_origin = target.scheme == from.scheme and target.host == from.host and target.port == from.port
  return { method = method, body = body, target = target, credentials = credentials and same_origin }
end

--- Runs a request and the redirects it meets: exchange(ctx, method,
--- target, path, body, credentials) makes one exchange on a transport (the
--- first to `path` on the base URL, target nil; each next to `target`, a
--- parsed URL) and returns its response, or nil, failure, message [,
--- trace]. `client` is the client (its base URL, whether it was closed
--- meanwhile, whether it traces). Returns the final response (its trace,
--- when tracing, covering every hop), or nil, failure, message [, trace].
-- The traces of the hops so far, with `last` added, as one text; nil
-- without tracing.
local function joined(traces, last)
  if not traces then return nil end
  if last then traces[#traces + 1] = last end
  return table.concat(traces, "\n")
end

function M.follow(exchange, ctx, client, method, path, body)
  local credentials, target = true, nil
  local traces = client._trace and {} or nil
  for hop = 0, M.MAX do
    if hop > 0 and client._closed then
      return nil, "cancelled", "the client was closed while the request was in flight", joined(traces)
    end
    local response, failure, message, trace = exchange(ctx, method, target, path, body, credentials)
    if not response then return nil, failure, message, joined(traces, trace) end
    -- (the parsed URL is made only for a redirect: most answers are none)
    local next_request, refusal, why
    if REDIRECTS[response.status] then
      next_request, refusal, why = M.next(method, body, response, target or M.on_base(client._url, path), credentials)
    end
    if next_request == nil then
      if traces and #traces > 0 then response.trace = joined(traces, response.trace) end
      return response
    end
    joined(traces, response.trace)
    if next_request == false then return nil, refusal, why, joined(traces) end
    if hop == M.MAX then
      return nil, "too_many_redirects", ("Maximum (%d) redirects followed"):format(M.MAX), joined(traces)
    end
    method, body, target, credentials = next_request.method, next_request.body, next_request.target,
      next_request.credentials
    if traces then traces[#traces + 1] = "* following the redirect to " .. url.redact(M.url_of(target)) end
  end
end

return M
