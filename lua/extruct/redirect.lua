-- Redirects, by RFC 9110, for the requests no transport follows by itself
-- (libcurl follows those of GET and HEAD; the cosocket transport none):
--
--   303        the new place is fetched with GET (HEAD stays HEAD), no body
--   301, 302   followed by GET and HEAD only; any other method gets the
--              redirect as its answer (an `http` error carrying `location`)
--   307, 308   the same method and body again
--
-- and, whoever follows: http and https only, never from https to http, the
-- credentials only to the same scheme, host and port, at most MAX in a row.

local url = require("extruct.url")

local M = {}

M.MAX = 3

local REDIRECTS = { [301] = true, [302] = true, [303] = true, [307] = true, [308] = true }

-- Where `location` leads from the parsed URL `from`.
local function resolve(location, from)
  if location:find("^%a[%w+.-]*://") then return url.parse(location) end
  local target = { scheme = from.scheme, host = from.host, port = from.port, host_header = from.host_header }
  if location:sub(1, 1) == "/" then
    target.path = location
  else
    -- (the folder of the path: up to its last "/", found by a pattern that
    -- does not try every start of a long last segment)
    local folder = from.path:gsub("%?.*$", ""):match("^(.*/)") or ""
    target.path = folder .. location
  end
  return target
end

--- The parsed absolute URL of `path` (a path and query) on the base URL `base`.
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
--- kind, message when following it is refused. `credentials` says whether
--- `from` carried them.
function M.next(method, body, response, from, credentials)
  local location = response.headers and response.headers.location
  if not REDIRECTS[response.status] or type(location) ~= "string" then return nil end
  if (response.status == 301 or response.status == 302) and method ~= "GET" and method ~= "HEAD" then
    return nil
  end
  local target, scheme = resolve(location, from)
  if not target then
    return false, "http", ("refused to follow a redirect to a scheme other than http or https (%s)")
      :format(scheme or "a malformed URL")
  end
  if from.scheme == "https" and target.scheme ~= "https" then
    return false, "http", "refused to follow a redirect away from https (an https client follows https redirects only)"
  end
  if response.status == 303 then
    if method ~= "HEAD" then method = "GET" end
    body = nil
  end
  local same_origin = target.scheme == from.scheme and target.host == from.host and target.port == from.port
  return { method = method, body = body, target = target, credentials = credentials and same_origin }
end

return M
