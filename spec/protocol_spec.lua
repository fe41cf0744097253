-- Servers that break HTTP/1.1's framing, written for the purpose
-- (spec/support/unasked_server.lua), against the libcurl transport.
local helpers = require("spec.helpers")
local extruct = require("extruct")
local q = helpers.shell_quote

-- Starts a server script of spec/support/ that prints "listening PORT";
-- returns its URL and a function that stops it.
local function start_server(script)
  local pipe = assert(io.popen(("%s %s"):format(q(helpers.LUA), q("spec/support/" .. script))))
  local port = tonumber((pipe:read("*l") or ""):match("^listening (%d+)$"))
  assert(port, script .. " did not start")
  local url = "http://127.0.0.1:" .. port
  return url, function()
    local c = extruct.new{ base_url = url, token = "t", retries = 0, timeout = 2 }
    c:request("GET", "/shutdown")
    c:close()
    pipe:close()
  end
end

describe("a server that answers twice", function()
  local url, stop

  lazy_setup(function() url, stop = start_server("unasked_server.lua") end)
  lazy_teardown(function() if stop then stop() end end)

  it("never hands a request the answer nobody asked for: the connection is not reused", function()
    local client = extruct.new{ base_url = url, token = "t", retries = 0, timeout = 5 }
    assert.equal("first", assert(client:get_table("first")).id)
    -- answered, and a moment later a second answer on the same connection
    assert.equal("x_unasked", assert(client:get_table("x_unasked")).id)
    extruct.sleep(0.2)
    for i = 1, 3 do
      assert.equal("t" .. i, assert(client:get_table("t" .. i)).id)
    end
    -- the same for a request of a task of extruct.gather (the server takes
    -- one connection at a time, so one task)
    assert.equal("y_unasked", assert(client:get_table("y_unasked")).id)
    extruct.sleep(0.2)
    local results = extruct.gather({ function() return client:get_table("g1") end })
    assert.equal("g1", assert(results[1][1], tostring(results[1][2])).id)
    client:close()
  end)
end)
