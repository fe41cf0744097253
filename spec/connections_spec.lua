-- Connections belong to the client that made them (docs/api.md#clientclose):
-- closing or collecting a client closes its sockets, another client (with
-- another token) never gets one of them, and a request queued behind the
-- connections of its host waits there without its timeout counting, at
-- most queue_timeout, and says so when that runs out. Sockets are
-- counted in the kernel's own tables (/proc/self/fd, /proc/net/tcp*).
local helpers = require("spec.helpers")
local extruct = require("extruct")

-- The inodes of this process's sockets.
local function my_socket_inodes()
  local inodes = {}
  local stat = assert(io.open("/proc/self/stat"))
  local pid = stat:read("*l"):match("^(%d+)")
  stat:close()
  local pipe = assert(io.popen("ls -l /proc/" .. pid .. "/fd 2>/dev/null"))
  for inode in pipe:read("*a"):gmatch("socket:%[(%d+)%]") do inodes[inode] = true end
  pipe:close()
  return inodes
end

-- How many of this process's TCP sockets are connected to `port`.
local function sockets_to(port)
  local mine, count = my_socket_inodes(), 0
  for _, table_file in ipairs({ "/proc/net/tcp", "/proc/net/tcp6" }) do
    local f = io.open(table_file)
    if f then
      for line in f:lines() do
        -- sl local_address rem_address st ... inode
        local remote_port, state, inode = line:match("^%s*%d+: %x+:%x+%s+%x+:(%x+)%s+(%x+)%s+%S+%s+%S+%s+%S+%s+%S+%s+%S+%s+(%d+)")
        -- (state 01: established; a socket closed by this side is gone from fd/)
        if remote_port and tonumber(remote_port, 16) == port and state == "01" and mine[inode] then
          count = count + 1
        end
      end
      f:close()
    end
  end
  return count
end

describe("connections", function()
  local fixture = helpers.shared_mock()

  local function collect()
    collectgarbage("collect")
    collectgarbage("collect")
  end

  it("are closed with their client: none stays open after close()", function()
    local client = helpers.client(fixture.mock, { retries = 0 })
    local fns = {}
    for i = 1, 3 do fns[i] = function() return client:get_table("tbl_idle") end end
    fixture.mock:fault{ count = 3, delay = 0.1, path = "/v1/tables/" }
    for _, r in ipairs(extruct.gather(fns)) do assert.equal("tbl_idle", assert(r[1], tostring(r[2])).id) end
    assert.equal(3, sockets_to(fixture.mock.port)) -- kept alive for the next request
    client:close()
    collect()
    assert.equal(0, sockets_to(fixture.mock.port))
  end)

  it("are closed when their client is collected without close()", function()
    local client = helpers.client(fixture.mock, { retries = 0 })
    assert.equal("tbl_idle", assert(client:get_table("tbl_idle")).id)
    assert.equal(1, sockets_to(fixture.mock.port))
    client = nil -- luacheck: ignore 311
    collect()
    assert.equal(0, sockets_to(fixture.mock.port))
  end)

  it("are never lent to another client, with another token", function()
    local first = helpers.client(fixture.mock, { retries = 0 })
    local second = helpers.client(fixture.mock, { retries = 0, token = "another-token" })
    assert(first:get_table("tbl_idle"))
    assert.is_nil((second:get_table("tbl_idle"))) -- the mock refuses the other token
    assert(first:get_table("tbl_idle"))
    local log = fixture.mock:requests()
    assert.equal(3, #log)
    assert.equal(log[1].connection, log[3].connection) -- the first client kept its connection
    assert.are_not.equal(log[1].connection, log[2].connection)
    assert.equal("Bearer another-token", log[2].headers.authorization)
    assert.equal(2, fixture.mock:stats().connections)
    first:close()
    assert.equal(1, sockets_to(fixture.mock.port))
    second:close()
    assert.equal(0, sockets_to(fixture.mock.port))
  end)

  it("of a client closed inside a gather leave the other clients' tasks running", function()
    local doomed = helpers.client(fixture.mock, { retries = 0 })
    local other = helpers.client(fixture.mock, { retries = 0 })
    fixture.mock:fault{ count = 2, delay = 0.2, path = "/v1/tables/" }
    local results = extruct.gather({
      function() return doomed:get_table("tbl_idle") end,
      function() return other:get_table("tbl_idle") end,
      function() extruct.sleep(0.05); doomed:close() end,
    })
    assert.is_nil(results[1][1])
    assert.equal("cancelled", results[1][2].kind)
    assert.matches("the client was closed while the request was in flight", results[1][2].message, 1, true)
    assert.equal("tbl_idle", assert(results[2][1]).id)
    other:close()
  end)

  it("to one host are 16 at a time; the others wait for one without their timeout counting", function()
    -- each answer takes 0.3 s and a request may take 0.5 s of its own: the
    -- last 4 wait 0.3 s for a connection first, and still have their time
    local client = helpers.client(fixture.mock, { retries = 0, timeout = 0.5 })
    fixture.mock:fault{ count = 100, delay = 0.3, path = "/v1/tables/" }
    local fns = {}
    for i = 1, 20 do fns[i] = function() return client:get_table("tbl_idle") end end
    for _, r in ipairs(extruct.gather(fns, { concurrency = 20 })) do
      assert.equal("tbl_idle", assert(r[1], tostring(r[2])).id)
    end
    assert.equal(20, #fixture.mock:requests())
    assert.equal(16, fixture.mock:stats().max_in_flight)
    client:close()
  end)

  it("to one host wait at most queue_timeout; then the error says the request was not sent", function()
    local client = helpers.client(fixture.mock, { retries = 0, timeout = 5, queue_timeout = 0.1 })
    fixture.mock:fault{ count = 100, delay = 0.4, path = "/v1/tables/" }
    local fns = {}
    for i = 1, 20 do fns[i] = function() return client:get_table("tbl_idle") end end
    local answered, unsent = 0, 0
    for _, r in ipairs(extruct.gather(fns, { concurrency = 20 })) do
      if r[1] then
        answered = answered + 1
      else
        local err = r[2]
        assert.equal("timeout", err.kind)
        assert.is_false(err.sent)
        local ms = err.message:match("^GET http://127%.0%.0%.1:%d+/v1/tables/tbl_idle: waited (%d+) ms for a"
          .. " connection %(at most 16 requests of a client to one host at a time%) and queue_timeout %(0%.1 s%)"
          .. " ran out: the request was not sent$")
        assert.is_truthy(ms, err.message)
        assert.is_true(tonumber(ms) >= 95, err.message)
        unsent = unsent + 1
      end
    end
    assert.equal(16, answered)
    assert.equal(4, unsent)
    assert.equal(16, #fixture.mock:requests()) -- the 4 never reached the server
    client:close()
  end)

  it("a POST that never left the queue goes again, though a POST is not retried once sent", function()
    local clock = helpers.fake_clock()
    local client = helpers.client(fixture.mock, { retries = 3, timeout = 5, queue_timeout = 0.15,
                                                  sleep = clock.sleep, now = clock.now })
    fixture.mock:fault{ count = 16, delay = 0.4, path = "/v1/tables/" }
    local fns = {}
    for i = 1, 16 do fns[i] = function() return client:get_table("tbl_idle") end end
    fns[17] = function()
      return client:request("POST", "/v1/tables", { body = '{"name":"queued"}', expect = "object" })
    end
    local results = extruct.gather(fns, { concurrency = 17 })
    for i = 1, 16 do assert.equal("tbl_idle", assert(results[i][1], tostring(results[i][2])).id) end
    assert.equal("queued", assert(results[17][1], tostring(results[17][2])).name)
    assert.is_true(#clock.slept >= 1) -- it waited, paused, and went again
    local posts = 0
    for _, request in ipairs(fixture.mock:requests()) do
      if request.method == "POST" then posts = posts + 1 end
    end
    assert.equal(1, posts)
    client:close()
  end)
end)
