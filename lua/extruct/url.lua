-- Building request targets: path segments and query strings, percent-encoded
-- so that no value can change the shape of the URL.

local M = {}

local function encode_byte(c)
  return string.format("%%%02X", c:byte())
end

--- One path segment: everything but RFC 3986 unreserved characters is
--- encoded, so "/", "?", "#" and spaces stay inside the segment. A segment of
--- only dots is encoded too: "." and ".." would otherwise mean "here" and "up".
function M.segment(value)
  if value:match("^%.+$") then
    return (value:gsub(".", encode_byte))
  end
  return (value:gsub("[^A-Za-z0-9%-%._~]", encode_byte))
end

--- A query string ("" or "?a=1&b=2") from a table; a list value repeats its
--- key (tags=a&tags=b). Keys are sorted so URLs are stable.
function M.query(params)
  if params == nil then return "" end
  local keys = {}
  for key in pairs(params) do keys[#keys + 1] = key end
  table.sort(keys)
  local parts = {}
  for _, key in ipairs(keys) do
    local value = params[key]
    local values = type(value) == "table" and value or { value }
    for _, v in ipairs(values) do
      parts[#parts + 1] = M.segment(tostring(key)) .. "=" .. M.segment(tostring(v))
    end
  end
  if #parts == 0 then return "" end
  return "?" .. table.concat(parts, "&")
end

--- Checks a base URL's form; returns it without trailing slashes, or nil and
--- the reason.
function M.check_base(base_url)
  local scheme, authority, path = base_url:match("^(%a[%w+.-]*)://([^/?#]*)(.*)$")
  if not scheme then
    return nil, "expected http(s)://host[:port][/path]"
  end
  scheme = scheme:lower()
  if scheme ~= "http" and scheme ~= "https" then
    return nil, "the scheme must be http or https, not '" .. scheme .. "'"
  end
  local host = authority:gsub("^.*@", "")
  if host == "" or host:match("^:") then
    return nil, "the host is missing"
  end
  if not host:match("^[%w%.%-]+$") and not host:match("^[%w%.%-]+:%d+$")
      and not host:match("^%[[%x:%.]+%](:?%d*)$") then
    return nil, "the host '" .. host .. "' is not a valid host[:port]"
  end
  if path:find("[?#]") then
    return nil, "a base URL takes no query or fragment"
  end
  if path:find("[%c ]") then
    return nil, "the path holds spaces or control characters"
  end
  return (base_url:gsub("/+$", ""))
end

--- The lower-cased scheme of a URL checked by check_base.
function M.scheme(base_url)
  return base_url:match("^(%a[%w+.-]*)://"):lower()
end

--- Whether a checked base URL's host is a loopback address: localhost,
--- 127.0.0.0/8 or [::1] (traffic to it never leaves the machine).
function M.is_loopback(base_url)
  local authority = base_url:match("^%a[%w+.-]*://([^/?#]*)"):gsub("^.*@", ""):lower()
  local host = authority:match("^(%[.-%])") or authority:gsub(":%d*$", "")
  if host == "localhost" or host == "localhost." or host == "[::1]" then return true end
  local a, b, c, d = host:match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$")
  if not a then return false end
  for _, part in ipairs({ a, b, c, d }) do
    if tonumber(part) > 255 then return false end
  end
  return tonumber(a) == 127
end

--- The URL as it may be shown: any user:password@ part is masked.
function M.redact(base_url)
  return (base_url:gsub("^(%a[%w+.-]*://)[^/?#]*@", "%1***@"))
end

return M
