-- The core's transfer machinery on its own: clients, engines and transfers
-- closed or collected in any order while requests are in flight, and the
-- event-driven engine's interface driven by a loop written here (as Neovim's
-- libuv drives it), against the mock server.
local helpers = require("spec.helpers")
local core = require("extruct.core")
local socket = require("socket")

describe("the core's engines and transfers", function()
  local fixture = helpers.shared_mock()
  before_each(function()
    fixture.mock:fault{ count = 1000, delay = 0.15, path = "/v1/tables/" }
  end)

  local function new_client() return core.new_client{ base_url = fixture.mock.url, token = fixture.mock.token, timeout = 5 } end

  -- Starts n slow GETs; runs the engine until the mock has them all.
  local function start_slow(client, engine, n)
    local before = fixture.mock:stats().requests
    local transfers = {}
    for i = 1, n do transfers[i] = client:start(engine, "GET", "/v1/tables/tbl_idle", nil, true) end
    assert.is_true(helpers.eventually(5, function()
      engine:step(0.05)
      return fixture.mock:stats().requests == before + n
    end), "the requests never reached the mock")
    return transfers
  end

  local function assert_cancelled(transfer)
    assert.is_true(transfer:done())
    local response, kind, message = transfer:result()
    assert.is_nil(response)
    assert.equal("cancelled", kind)
    assert.matches("closed while the request was in flight", message, 1, true)
  end

  it("runs several transfers at once and reports each as it ends", function()
    local client, engine = new_client(), core.new_engine()
    local transfers = start_slow(client, engine, 3)
    local ended = {}
    while #ended < 3 do
      engine:step(0.5)
      for id in engine.next_done, engine do ended[#ended + 1] = id end
    end
    table.sort(ended)
    assert.same({ transfers[1]:id(), transfers[2]:id(), transfers[3]:id() }, ended)
    for _, t in ipairs(transfers) do assert.equal("tbl_idle", t:result().body.id) end
    assert.equal(3, fixture.mock:stats().max_in_flight)
    client:close()
    engine:close()
  end)

  it("ends the transfers of a client closed mid-flight as cancelled, reported to the engine", function()
    local client, engine = new_client(), core.new_engine()
    local transfers = start_slow(client, engine, 2)
    client:close()
    local ids = {}
    for id in engine.next_done, engine do ids[#ids + 1] = id end
    assert.equal(2, #ids)
    for _, t in ipairs(transfers) do assert_cancelled(t) end
    assert.equal(0, engine:step(0))
    engine:close()
  end)

  it("cancels the transfers of a client that is collected mid-flight", function()
    local engine = core.new_engine()
    local transfers = start_slow(new_client(), engine, 2) -- the client is garbage from here on
    collectgarbage("collect")
    collectgarbage("collect")
    for _, t in ipairs(transfers) do assert_cancelled(t) end
    engine:close()
  end)

  it("cancels the transfers of an engine that is closed or collected mid-flight; the client goes on", function()
    local client = new_client()
    local engine = core.new_engine()
    local transfers = start_slow(client, engine, 2)
    engine:close()
    for _, t in ipairs(transfers) do assert_cancelled(t) end
    transfers = start_slow(client, core.new_engine(), 1) -- that engine is garbage from here on
    collectgarbage("collect")
    collectgarbage("collect")
    assert_cancelled(transfers[1])
    -- and the client still works on a new engine
    fixture.mock:reset()
    local fresh = core.new_engine()
    local t = client:start(fresh, "GET", "/v1/tables/tbl_idle")
    fresh:wait(t)
    assert.equal("tbl_idle", t:result().body.id)
    client:close()
    fresh:close()
  end)

  it("lets a transfer collected mid-flight go: the engine runs on and the mock sees the request end", function()
    local client, engine = new_client(), core.new_engine()
    start_slow(client, engine, 1)
    collectgarbage("collect")
    collectgarbage("collect")
    assert.equal(0, engine:step(0))
    assert.is_true(helpers.eventually(5, function() return fixture.mock:stats().in_flight == 0 end))
    client:close()
    engine:close()
  end)

  it("refuses misuse: a result before the end, twice, a transfer of another engine", function()
    local client, engine, other = new_client(), core.new_engine(), core.new_engine()
    local t = client:start(engine, "GET", "/v1/tables/tbl_idle")
    assert.has_error(function() t:result() end, "extruct.core: the transfer has not ended")
    assert.error_matches(function() other:wait(t) end, "bad argument #1 to 'wait' (not a transfer of this engine)", nil, true)
    engine:wait(t)
    assert.is_table(t:result())
    assert.error_matches(function() t:result() end, "calling 'result' on bad self (the result was read already)", nil, true)
    assert.error_matches(function() core.new_engine(true):wait(t) end,
      "bad argument #1 to 'wait' (not a transfer of this engine)", nil, true)
    client:close()
    assert.has_error(function() client:start(engine, "GET", "/") end, "extruct: the client is closed")
    engine:close()
    other:close()
  end)

  it("drives an event engine from a host loop: the sockets and timer it names, socket_action and timeout_action", function()
    local client, engine = new_client(), core.new_engine(true)
    local transfers = {}
    for i = 1, 3 do transfers[i] = client:start(engine, "GET", "/v1/tables/tbl_idle", nil, true) end
    local watched, wake_at, ended, changes = {}, nil, 0, 0
    local function take_requests()
      for fd, what in engine.next_change, engine do
        changes = changes + 1
        watched[fd] = what ~= "remove" and what or nil
      end
      local ms = engine:next_timer()
      if ms then wake_at = ms >= 0 and socket.gettime() + ms / 1000 or nil end
      for _ in engine.next_done, engine do ended = ended + 1 end
    end
    take_requests()
    local deadline = socket.gettime() + 10
    while ended < 3 and socket.gettime() < deadline do
      -- the loop: wait on the watched sockets, at most until the timer
      local readers, writers = {}, {}
      for fd, what in pairs(watched) do
        local s = socket.tcp()
        s:close()
        s:setfd(fd)
        if what == "in" or what == "inout" then readers[#readers + 1] = s end
        if what == "out" or what == "inout" then writers[#writers + 1] = s end
      end
      local wait = wake_at and math.max(0, wake_at - socket.gettime()) or 0.5
      local readable, writable = socket.select(readers, writers, math.min(wait, 0.5))
      local fired = false
      for _, s in ipairs(readers) do
        if readable[s] then engine:socket_action(s:getfd(), 1); fired = true end
      end
      for _, s in ipairs(writers) do
        if writable[s] then engine:socket_action(s:getfd(), 2); fired = true end
      end
      for _, s in ipairs(readers) do s:setfd(-1) end
      for _, s in ipairs(writers) do s:setfd(-1) end
      if not fired and wake_at and socket.gettime() >= wake_at then
        wake_at = nil
        engine:timeout_action()
      end
      take_requests()
    end
    assert.equal(3, ended)
    assert.is_true(changes >= 3, "curl named no sockets to watch")
    for _, t in ipairs(transfers) do assert.equal("tbl_idle", t:result().body.id) end
    assert.equal(3, fixture.mock:stats().max_in_flight)
    assert.error_matches(function() engine:wait(transfers[1]) end,
      "bad argument #1 to 'wait' (not a transfer of this engine)", nil, true)
    client:close()
    engine:close()
  end)

  -- Whether fd is an open socket of this process.
  local function is_socket(fd)
    local s = socket.tcp()
    s:close()
    s:setfd(fd)
    local ok = s:getsockname() ~= nil
    s:setfd(-1)
    return ok
  end

  it("keeps a socket curl closed open until the host loop has taken its removal (none closes under a poll handle)", function()
    fixture.mock:reset()
    -- each answer closes its connection (mode drop after the delay: no answer at all)
    fixture.mock:fault{ count = 3, delay = 0.05, path = "/v1/tables/", mode = "drop" }
    local client, engine = new_client(), core.new_engine(true)
    assert.is_nil(engine:events_fd()) -- (named one by one: not gathered)
    local transfers = {}
    for i = 1, 3 do transfers[i] = client:start(engine, "GET", "/v1/tables/tbl_idle", nil, true) end
    local watched, removed, open_at_removal, closed_after = {}, 0, 0, 0
    local ended, deadline = 0, socket.gettime() + 10
    local function take()
      local taken = {}
      for fd, what in engine.next_change, engine do
        if what == "remove" then
          removed = removed + 1
          if is_socket(fd) then open_at_removal = open_at_removal + 1 end
          taken[#taken + 1] = fd
          watched[fd] = nil
        else
          watched[fd] = what
        end
      end
      -- (every change taken: the sockets curl closed are closed now)
      for _, fd in ipairs(taken) do
        if not watched[fd] and not is_socket(fd) then closed_after = closed_after + 1 end
      end
      for _ in engine.next_done, engine do ended = ended + 1 end
    end
    take()
    while ended < 3 and socket.gettime() < deadline do
      for fd, what in pairs(watched) do engine:socket_action(fd, what == "out" and 2 or 1) end
      engine:timeout_action()
      take()
      socket.sleep(0.01)
    end
    assert.equal(3, ended)
    for _, t in ipairs(transfers) do
      local response, failure = t:result()
      assert.is_nil(response)
      assert.equal("closed", failure)
    end
    assert.is_true(removed >= 3, "curl removed no socket")
    assert.equal(removed, open_at_removal)
    assert.equal(removed, closed_after)
    client:close()
    engine:close()
  end)

  it("gathers an event engine's sockets behind one descriptor: events_fd, dispatch, and its queue's timer", function()
    local client = core.new_client{ base_url = fixture.mock.url, token = fixture.mock.token, timeout = 5,
                                    queue_timeout = 0.05 }
    local engine = core.new_engine(true, true)
    local fd = engine:events_fd()
    assert.is_number(fd)
    -- 17 at once: 16 go, the 17th waits in the queue for its host and runs out of queue_timeout
    local transfers = {}
    for i = 1, 17 do transfers[i] = client:start(engine, "GET", "/v1/tables/tbl_idle", nil, true) end
    local wake_at, ended, named = nil, 0, 0
    local function take()
      for _ in engine.next_change, engine do named = named + 1 end
      local ms = engine:next_timer()
      if ms then wake_at = ms >= 0 and socket.gettime() + ms / 1000 or nil end
      for _ in engine.next_done, engine do ended = ended + 1 end
    end
    take()
    local watcher = { getfd = function() return fd end, dirty = function() return false end }
    local deadline = socket.gettime() + 10
    while ended < 17 and socket.gettime() < deadline do
      local wait = wake_at and math.max(0, wake_at - socket.gettime()) or 0.5
      local readable = socket.select({ watcher }, nil, math.min(wait, 0.5))
      if readable[watcher] then engine:dispatch() end
      if wake_at and socket.gettime() >= wake_at then
        wake_at = nil
        engine:timeout_action()
      end
      take()
    end
    assert.equal(17, ended)
    assert.equal(0, named) -- (no socket named to the loop: they stay in the engine)
    for i = 1, 16 do assert.equal("tbl_idle", transfers[i]:result().body.id) end
    local response, failure, message = transfers[17]:result()
    assert.is_nil(response)
    assert.equal("queued", failure)
    assert.matches("^waited %d+ ms for a connection %(at most 16 requests of a client to one host at a time%) and"
      .. " queue_timeout %(0%.05 s%) ran out: the request was not sent$", message)
    assert.equal(16, fixture.mock:stats().max_in_flight)
    client:close()
    engine:close()
  end)
end)
