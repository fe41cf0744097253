-- The mock's request log, read the way the specs compare it: each request
-- with its query string decoded into a map (a repeated name collects a
-- list) and its JSON body decoded.
local cjson = require("cjson")

local log = {}

local function percent_decode(s)
  return (s:gsub("%+", " "):gsub("%%(%x%x)", function(hex) return string.char(tonumber(hex, 16)) end))
end

--- A raw query string as a map of decoded names and values.
function log.parse_query(query)
  local params = {}
  for pair in (query or ""):gmatch("[^&]+") do
    local name, value = pair:match("^([^=]*)=(.*)$")
    name, value = percent_decode(name or pair), percent_decode(value or "")
    if params[name] == nil then
      params[name] = value
    elseif type(params[name]) == "table" then
      table.insert(params[name], value)
    else
      params[name] = { params[name], value }
    end
  end
  return params
end

--- Every request the mock logged since its reset: { method, target, path,
--- query (a map), body (decoded JSON, or nil when there was none) }.
function log.requests(mock)
  local out = {}
  for i, request in ipairs(mock:requests()) do
    out[i] = {
      method = request.method,
      target = request.target,
      path = request.path,
      query = log.parse_query(request.query),
      body = (request.body ~= nil and request.body ~= "") and cjson.decode(request.body) or nil,
      raw_body = request.body,
    }
  end
  return out
end

--- The one request the mock logged; fails unless there was exactly one.
function log.only(mock)
  local requests = log.requests(mock)
  assert(#requests == 1, ("expected one request, the mock logged %d"):format(#requests))
  return requests[1]
end

return log
