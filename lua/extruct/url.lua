-- Building request targets: path segments and query strings, percent-encoded
-- so that no value can change the shape of the URL.

local errors = require("extruct.errors")

local M = {}

local function encode_byte(c)
  return string.format("%%%02X", c:byte())
end

--- One path segment: everything but RFC 3986 unreserved characters is
--- encoded, so "/", "?", "#" and spaces stay inside the segment. A segment of
--- only dots is encoded too: "." and ".." would otherwise mean "here" and "up".
---@param value string The segment's text, as it is
---@return string segment
function M.segment(value)
  if value:match("^%.+$") then
    return (value:gsub(".", encode_byte))
  end
  return (value:gsub("[^A-Za-z0-9%-%._~]", encode_byte))
end

local SCALAR = { string = true, number = true, boolean = true }

-- How a key appears in a message.
local function show_key(key)
  return "'" .. errors.show(key) .. "'"
end

-- Whether t's keys are exactly 1..#t.
local function is_list(t)
  local n = 0
  for key in pairs(t) do
    if type(key) ~= "number" or key < 1 or key ~= math.floor(key) then return false end
    n = n + 1
  end
  for i = 1, n do
    if t[i] == nil then return false end
  end
  return true
end

--- Whether params can be written as a query string: a table whose keys are
--- strings or numbers and whose values are strings, numbers, booleans, or
--- lists (keys 1..n) of them. Returns true, or false and what is wrong.
function M.check_query(params)
  if type(params) ~= "table" then
    return false, "must be a table, got " .. type(params)
  end
  for key, value in pairs(params) do
    if type(key) ~= "string" and type(key) ~= "number" then
      return false, ("the key %s is a %s: query keys are strings or numbers"):format(show_key(key), type(key))
    end
    if type(value) == "table" then
      if not is_list(value) then
        return false, ("the value of %s is a table that is not a list (keys 1..n without holes)")
          :format(show_key(key))
      end
      for i, item in ipairs(value) do
        if not SCALAR[type(item)] then
          return false, ("the value of %s holds a %s at [%d]: a list may hold only strings, numbers"
            .. " and booleans"):format(show_key(key), type(item), i)
        end
      end
    elseif not SCALAR[type(value)] then
      return false, ("the value of %s is a %s: query values are strings, numbers, booleans"
        .. " or lists of them"):format(show_key(key), type(value))
    end
  end
  return true
end

-- Orders keys of both kinds: by their text, numbers before strings on a tie.
local function key_order(a, b)
  local ta, tb = tostring(a), tostring(b)
  if ta ~= tb then return ta < tb end
  return type(a) < type(b)
end

--- A query string ("" or "?a=1&b=2") from a table that check_query accepts;
--- a list value repeats its key (tags=a&tags=b). Keys are sorted so URLs
--- are stable. Anything check_query refuses raises.
function M.query(params)
  if params == nil then return "" end
  local ok, why = M.check_query(params)
  if not ok then error("extruct.url.query: " .. why, 2) end
  local keys = {}
  for key in pairs(params) do keys[#keys + 1] = key end
  table.sort(keys, key_order)
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
  local port = host:match(":(%d+)$")
  if port and not (tonumber(port) >= 1 and tonumber(port) <= 65535) then
    return nil, "the port " .. port .. " is out of range (1 to 65535)"
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

--- The parts of an absolute http(s) URL: { scheme, host, port, path,
--- host_header } (host without brackets, port a number, path "" or
--- "/..."); nil for anything else.
function M.parse(value)
  local scheme, authority, rest = value:match("^(%a[%w+.-]*)://([^/?#]*)(.*)$")
  if not scheme then return nil end
  scheme = scheme:lower()
  if scheme ~= "http" and scheme ~= "https" then return nil, scheme end
  authority = authority:gsub("^.*@", "")
  -- (split at the first colon by hand: the pattern "^([^:]+):?(%d*)$"
  -- backtracks over a long run of digits, and a Location header is the
  -- server's text)
  local host, port = authority:match("^%[([%x:.]+)%]:?(%d*)$")
  if not host and authority:sub(1, 1) ~= "[" then
    local colon = authority:find(":", 1, true)
    host, port = authority:sub(1, (colon or 0) - 1), colon and authority:sub(colon + 1) or ""
    if not port:find("^%d*$") then host = nil end
  end
  if not host or host == "" then return nil end
  local default = scheme == "https" and 443 or 80
  port = tonumber(port ~= "" and port or nil) or default
  if port < 1 or port > 65535 then return nil end
  local host_header = authority:match("^%[") and ("[" .. host .. "]") or host
  if port ~= default then host_header = host_header .. ":" .. port end
  return { scheme = scheme, host = host:lower(), port = port, path = rest:gsub("#.*$", ""), host_header = host_header }
end

--- The URL as it may be shown: any user:password@ part is masked.
--- Whether a URL holds a user[:password]@ part.
function M.has_userinfo(value)
  local authority = value:match("^%a[%w+.-]*://([^/?#]*)")
  return authority ~= nil and authority:find("@", 1, true) ~= nil
end

--- The URL without its user[:password]@ part.
function M.strip_userinfo(value)
  return (value:gsub("^(%a[%w+.-]*://)[^/?#]*@", "%1"))
end

--- (A URL without a scheme, as a proxy may be given, too.)
function M.redact(base_url)
  if not base_url:find("^%a[%w+.-]*://") then
    return (base_url:gsub("^[^/?#]*@", "***@"))
  end
  return (base_url:gsub("^(%a[%w+.-]*://)[^/?#]*@", "%1***@"))
end

-- Whether host (lower case, no brackets) is excluded from proxying by a
-- no-proxy list, read as libcurl reads CURLOPT_NOPROXY and NO_PROXY:
-- entries separated by commas or spaces; "*" alone excludes every host; a
-- name matches itself and its subdomains (a leading dot is ignored); an
-- address matches itself, an IPv4 entry with /bits its network.
local function ipv4_number(text)
  local a, b, c, d = text:match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$")
  if not a then return nil end
  local n = 0
  for _, part in ipairs({ a, b, c, d }) do
    part = tonumber(part)
    if part > 255 then return nil end
    n = n * 256 + part
  end
  return n
end

function M.no_proxy_matches(host, list)
  host = host:lower():gsub("%.$", "")
  if list:match("^%s*%*%s*$") then return true end
  local host_ip = ipv4_number(host)
  for entry in list:lower():gmatch("[^,%s]+") do
    entry = entry:gsub("^%[(.*)%]$", "%1"):gsub("^%.", ""):gsub("%.$", "")
    local network, bits = entry:match("^([%d.]+)/(%d+)$")
    if network and host_ip and ipv4_number(network) and tonumber(bits) <= 32 then
      local size = 2 ^ (32 - tonumber(bits))
      if math.floor(host_ip / size) == math.floor(ipv4_number(network) / size) then return true end
    elseif entry ~= "" and (host == entry or (not host_ip and #host > #entry
        and host:sub(-#entry - 1) == "." .. entry)) then
      return true
    end
  end
  return false
end

--- The proxy libcurl will use for a request to target (an absolute http(s)
--- URL), or nil for none. proxy and noproxy are the client's options (nil:
--- not given); getenv reads the environment. As libcurl decides:
---   * a host matched by the no-proxy list (the noproxy option, else
---     no_proxy, else NO_PROXY) goes direct, whichever proxy is set;
---   * else the proxy option ("" means none, the environment ignored);
---   * else http_proxy (lower case only: HTTP_PROXY may come from a CGI
---     request's Proxy header) for an http URL, https_proxy or HTTPS_PROXY
---     for an https URL; when that is unset, all_proxy or ALL_PROXY.
--- A variable set to the empty string means no proxy.
function M.effective_proxy(target, proxy, noproxy, getenv)
  local parts = M.parse(target)
  if not parts then return nil end
  local no_proxy = noproxy
  if no_proxy == nil then no_proxy = getenv("no_proxy") or getenv("NO_PROXY") end
  if no_proxy and M.no_proxy_matches(parts.host, no_proxy) then return nil end
  if proxy == nil then
    proxy = getenv(parts.scheme .. "_proxy")
    if proxy == nil and parts.scheme ~= "http" then proxy = getenv(parts.scheme:upper() .. "_PROXY") end
    if proxy == nil then proxy = getenv("all_proxy") or getenv("ALL_PROXY") end
  end
  if proxy == nil or proxy == "" then return nil end
  return proxy
end

--- The scheme of a proxy URL, lower case; "http" when it names none (as
--- libcurl reads "host:port").
function M.proxy_scheme(proxy)
  local scheme = proxy:match("^(%a[%w+.-]*)://")
  return scheme and scheme:lower() or "http"
end

return M
