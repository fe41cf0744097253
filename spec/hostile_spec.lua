-- Hostile servers and hostile values: what a server written to misbehave
-- (spec/support/hostile_server.lua, on 127.0.0.1) and values at the edges
-- of what Lua can hold do to the client.

local helpers = require("spec.helpers")
local socket = require("socket")
local extruct = require("extruct")
local errors = require("extruct.errors")

local Hostile = {}
Hostile.__index = Hostile

-- Starts the hostile server on a free loopback port.
local function start_hostile()
  local pipe = assert(io.popen(("sh -c 'echo $$; exec \"$0\" spec/support/hostile_server.lua' %s")
    :format(helpers.shell_quote(helpers.LUA)), "r"))
  local pid = pipe:read("*l")
  local banner = pipe:read("*l")
  local port = banner and banner:match("^listening (%d+)$")
  if not port then
    pipe:close()
    error(("the hostile server did not start (pid %s, said %s)"):format(tostring(pid), tostring(banner)))
  end
  return setmetatable({ pipe = pipe, pid = tonumber(pid), port = tonumber(port),
    url = "http://127.0.0.1:" .. port }, Hostile)
end

function Hostile:stop()
  if not self.pipe then return end
  local conn = socket.connect("127.0.0.1", self.port)
  if conn then
    conn:settimeout(2)
    conn:send("GET /shutdown HTTP/1.1\r\nHost: x\r\n\r\n")
    conn:receive("*a")
    conn:close()
  end
  if not helpers.eventually(3, function() return helpers.refuses_connections(self.port) end) then
    os.execute("kill " .. self.pid .. " 2>/dev/null")
  end
  self.pipe:close()
  self.pipe = nil
end

-- A client of the hostile server; extra options override.
local function client_of(server, opts)
  local options = { token = helpers.TOKEN, base_url = server.url, timeout = 10, connect_timeout = 2, retries = 0 }
  for k, v in pairs(opts or {}) do options[k] = v end
  return extruct.new(options)
end

-- What fn raised, asserting that it did and that the position is the line
-- where fn was defined (the caller's, not the library's).
local function raised_at_caller(fn)
  local ok, message = pcall(fn)
  assert.is_false(ok, "expected an error")
  assert.matches("hostile_spec%.lua:" .. debug.getinfo(fn, "S").linedefined .. ":", message)
  return message
end

describe("a hostile server", function()
  local server, client

  setup(function()
    server = start_hostile()
    client = client_of(server)
  end)

  teardown(function()
    if client then client:close() end
    if server then server:stop() end
  end)

  describe("repeated headers (issue 15, item 7)", function()
    -- With the collector stopped, what a request allocates is what it
    -- costs: joining at every repeat would copy the joined value so far
    -- each time, about 1.5 * n^2 bytes (54 MB for 6000 repeats of "v").
    local function allocated_by(fn)
      collectgarbage("collect")
      collectgarbage("stop")
      local before = collectgarbage("count")
      local ok, a, b = pcall(fn)
      local after = collectgarbage("count")
      collectgarbage("restart")
      assert(ok, a)
      return (after - before) * 1024, a, b
    end

    it("joins 6000 repeats with ', ' in one pass: the memory allocated grows linearly", function()
      local n = 6000
      local bytes, body, response = allocated_by(function()
        return client:request("GET", "/headers", { query = { n = n, value = "v" } })
      end)
      assert.same({}, body)
      local expected = {}
      for i = 1, n do expected[i] = "v" end
      assert.equal(table.concat(expected, ", "), response.headers["x-repeated"])
      -- linear: the list of values and the joined string, well under 1 MB
      assert.is_true(bytes < 4 * 1024 * 1024, ("%d bytes allocated for %d repeats"):format(bytes, n))
    end)

    it("keeps names lower-cased and empty repeats joined", function()
      local _, response = client:request("GET", "/headers", { query = { n = 3, value = "" } })
      assert.equal(", , ", response.headers["x-repeated"])
      assert.is_nil(response.headers["X-Repeated"])
      assert.equal("application/json", response.headers["content-type"])
    end)
  end)
end)
describe("encode of proxy tables (issue 15, item 12)", function()
  -- Whether this Lua's pairs calls __pairs (5.2+; not 5.1 or LuaJIT).
  local honours_pairs = (function()
    for _ in pairs(setmetatable({}, { __pairs = function() return next, { x = 1 }, nil end })) do return true end
    return false
  end)()

  local data = { name = "Acme", tags = extruct.array{ "a", "b" } }
  local function proxy() return setmetatable({}, { __index = data, __pairs = function() return next, data, nil end }) end

  it("writes what pairs gives where __pairs is honoured, and refuses it elsewhere", function()
    local text, err = extruct.encode({ company = proxy() })
    if honours_pairs then
      assert.is_nil(err)
      assert.same({ company = { name = "Acme", tags = { "a", "b" } } }, extruct.decode(text))
    else
      assert.is_nil(text)
      assert.equal("encode", err.kind)
      assert.matches("__pairs metamethod", err.message, 1, true)
      assert.matches("at $.company", err.message, 1, true)
    end
  end)

  it("turns an error raised by __pairs into an encode error", function()
    local broken = setmetatable({}, { __pairs = function() error("no pairs today") end })
    local text, err = extruct.encode({ list = extruct.array{ broken } })
    assert.is_nil(text)
    assert.equal("encode", err.kind)
    assert.matches("at $.list[1]", err.message, 1, true)
    if honours_pairs then assert.matches("no pairs today", err.message, 1, true) end
  end)

  it("refuses a table whose only contents come from __index, naming the path", function()
    local text, err = extruct.encode({ rows = extruct.array{ setmetatable({}, { __index = data }) } })
    assert.is_nil(text)
    assert.equal("encode", err.kind)
    assert.matches("__index (a proxy)", err.message, 1, true)
    assert.matches("at $.rows[1]", err.message, 1, true)
    _, err = extruct.encode(setmetatable({}, { __index = function() return 1 end }))
    assert.equal("encode", err.kind)
  end)

  it("still writes array-marked empty tables and tables with keys of their own", function()
    assert.equal("[]", extruct.encode(setmetatable({}, { __index = data, __jsontype = "array" })))
    assert.equal('{"own":1}', extruct.encode(setmetatable({ own = 1 }, { __index = data })))
    local err = errors.new("http", "m")
    assert.same({ kind = "http", message = "m" }, extruct.decode(extruct.encode(err)))
  end)
end)
