-- Connections belong to the client that made them (docs/api.md#clientclose):
-- closing or collecting a client closes its sockets, another client (with
-- another token) never gets one of them, and a request queued behind the
-- connections of its host says so when its time runs out there. Sockets are
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

  it("to one host are 16 at a time; a request whose time runs out in the queue says it waited, and how long", function()
    local client = helpers.client(fixture.mock, { retries = 0, timeout = 0.2 })
    fixture.mock:fault{ count = 100, delay = 0.4, path = "/v1/tables/" }
    local fns = {}
    for i = 1, 20 do fns[i] = function() return client:get_table("tbl_idle") end end
    -- (a request that left the queue with a moment left may still have been
    -- sent: then it is a timeout that says how long it waited; one of the
    -- first 16 may say it waited a moment too, on a slow machine)
    local queued, waited_then_sent, timed_out = 0, 0, 0
    for _, r in ipairs(extruct.gather(fns, { concurrency = 20 })) do
      local err = r[2]
      assert.equal("timeout", err.kind)
      local ms = err.message:match("waited (%d+) ms for a connection %(at most 16 to one host at a time%)"
        .. " and ran out of time before the request was sent")
      local spent = err.message:match("Operation timed out after %d+ milliseconds with 0 bytes received %((%d+) ms of"
        .. " it spent waiting for a connection: at most 16 to one host at a time%)")
      if ms then
        queued = queued + 1
        assert.is_true(tonumber(ms) >= 190, err.message)
      elseif spent and tonumber(spent) >= 150 then
        waited_then_sent = waited_then_sent + 1
      else
        timed_out = timed_out + 1
        assert.matches("^GET http://127%.0%.0%.1:%d+/v1/tables/tbl_idle: Operation timed out after %d+ milliseconds"
          .. " with 0 bytes received", err.message)
      end
    end
    assert.equal(16, timed_out)
    assert.equal(4, queued + waited_then_sent)
    -- those said to be unsent never reached the server
    assert.equal(16 + waited_then_sent, #fixture.mock:requests())
    client:close()
  end)
end)
