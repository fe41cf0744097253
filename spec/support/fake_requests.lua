-- Requests to the mock's offline Extruct for the mock specs, through the
-- client's generic request path (client:request), so every call is real
-- HTTP to the mock server.
--
--   local session = helpers.mock_and_client{ single_attempt = true }
--   local api = require("spec.support.fake_requests")(session)
--   local t = api.ok("POST", "/v1/tables", { name = "x" })
local extruct = require("extruct")
local cjson = require("cjson")
local assert = require("luassert") -- a module does not see the assert busted gives spec files

--- The request functions bound to a session with a `client` field (read
--- at each call, so a fresh client per test is used).
return function(session)
  local api = {}

  --- One request: the decoded body, or nil and the error.
  function api.call(method, path, body, query)
    local text = body ~= nil and assert(extruct.encode(body)) or nil
    return session.client:request(method, path, { body = text, query = query })
  end

  --- A request that must succeed; returns the decoded body and the response.
  function api.ok(method, path, body, query)
    local value, err = api.call(method, path, body, query)
    assert(value ~= nil, ("%s %s failed: %s"):format(method, path, tostring(err)))
    return value, session.client.last_response
  end

  --- A request that must fail with `status`; returns the error's detail and the error.
  function api.fails(status, method, path, body, query)
    local value, err = api.call(method, path, body, query)
    assert(value == nil, ("%s %s answered %s, expected HTTP %d"):format(method, path, cjson.encode(value), status))
    assert.equal(status, err.status, tostring(err))
    return err.detail, err
  end

  --- The 422 item of a detail list whose loc ends as given.
  function api.find_problem(detail, ...)
    local want = table.concat({ ... }, ".")
    for _, item in ipairs(detail) do
      local loc = {}
      for i, part in ipairs(item.loc) do loc[i] = tostring(part) end
      if table.concat(loc, "."):sub(-#want) == want then return item end
    end
    error("no problem at " .. want .. " in " .. cjson.encode(detail))
  end

  return api
end
