-- Servers that break HTTP/1.1's framing, written for the purpose
-- (spec/support/broken_http_server.lua), against the libcurl transport.
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

  lazy_setup(function() url, stop = start_server("broken_http_server.lua") end)
  lazy_teardown(function() if stop then stop() end end)

  it("never hands a request the answer nobody asked for: the connection is not reused", function()
    local client = extruct.new{ base_url = url, token = "t", retries = 0, timeout = 5 }
    assert.equal("first", assert(client:get_table("first")).id)
    -- answered, and a moment later a second answer on the same connection
    assert.equal("x_unasked", assert(client:get_table("x_unasked")).id)
    extruct.sleep(0.1)
    for i = 1, 3 do
      assert.equal("t" .. i, assert(client:get_table("t" .. i)).id)
    end
    -- the same for a request of a task of extruct.gather (the server takes
    -- one connection at a time, so one task)
    assert.equal("y_unasked", assert(client:get_table("y_unasked")).id)
    extruct.sleep(0.1)
    local results = extruct.gather({ function() return client:get_table("g1") end })
    assert.equal("g1", assert(results[1][1], tostring(results[1][2])).id)
    client:close()
  end)
end)

describe("a server that breaks HTTP", function()
  local url, stop, client

  lazy_setup(function() url, stop = start_server("broken_http_server.lua") end)
  lazy_teardown(function() if stop then stop() end end)
  -- (retries pause on a fake clock: the specs count them, they do not wait them)
  before_each(function()
    local clock = helpers.fake_clock()
    client = extruct.new{ base_url = url, token = "t", timeout = 5, sleep = clock.sleep, now = clock.now }
  end)
  after_each(function() client:close() end)

  -- The failure of GET /raw/<case>: kind, message, attempts.
  local function failure(case)
    local t, err = client:request("GET", "/raw/" .. case)
    assert.is_nil(t)
    return err.kind, err.message, err.attempts
  end

  it("reports an HTTP/0.9 answer or a status code out of range as network errors naming the violation", function()
    for _, case in ipairs({ "http09", "status099", "status1000" }) do
      local kind, message, attempts = failure(case)
      assert.equal("network", kind, case)
      assert.matches("the server broke HTTP: ", message, 1, true)
      assert.equal(4, attempts, case) -- a network error: retried
    end
    assert.matches("HTTP/0.9", select(2, failure("http09")), 1, true)
  end)

  it("refuses two different Content-Length headers rather than picking one", function()
    local kind, message = failure("two_lengths")
    assert.equal("network", kind)
    assert.matches("the server broke HTTP: two Content-Length headers", message, 1, true)
  end)

  it("does not retry a header section too large to take", function()
    local kind, message, attempts = failure("big_header")
    assert.equal("decode", kind)
    assert.matches("the response's header section is larger than 98304 bytes", message, 1, true)
    assert.equal(1, attempts)
  end)

  it("says why a redirect from an http client to file:// was refused", function()
    local kind, message = failure("to_file")
    assert.equal("http", kind)
    assert.matches("a scheme other than http or https", message, 1, true)
    assert.is_nil(message:find("https base URL", 1, true))
  end)

  it("follows redirects of other methods than GET by RFC 9110", function()
    -- 303: GET, without the body
    assert.equal("GET ", assert(client:request("PATCH", "/redirect/303", { body = '{"a":1}' })).id)
    -- 307 and 308: the same method and body
    assert.equal("POST {'a':1}", assert(client:request("POST", "/redirect/307", { body = '{"a":1}' })).id)
    assert.equal("PATCH {'a':2}", assert(client:request("PATCH", "/redirect/308", { body = '{"a":2}' })).id)
    -- 301 and 302 after DELETE: the redirect is the answer
    local t, err = client:request("DELETE", "/redirect/302")
    assert.is_nil(t)
    assert.equal("http", err.kind)
    assert.equal(302, err.status)
    assert.equal("/echo", err.location)
    assert.matches("not followed", err.message, 1, true)
    -- GET follows anything, as it always did
    assert.equal("GET ", assert(client:request("GET", "/redirect/301")).id)
  end)
end)
