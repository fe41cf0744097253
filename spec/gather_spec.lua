-- Many requests at once in a plain script: extruct.gather and
-- client:wait_all against the mock server over HTTP. Overlap is shown by
-- the mock's count of requests in flight at once, never by wall-clock time.
local helpers = require("spec.helpers")
local extruct = require("extruct")

describe("extruct.gather", function()
  local mock, client

  lazy_setup(function() mock = helpers.start_mock() end)
  lazy_teardown(function() if mock then mock:stop() end end)
  before_each(function()
    mock:reset()
    client = helpers.single_attempt_client(mock)
  end)
  after_each(function() client:close() end)

  -- Every answer of the API under `path` comes `seconds` late.
  local function delay_answers(seconds, path)
    mock:fault{ count = 1000, delay = seconds, path = path or "/v1/tables/" }
  end

  local function gets(n, id)
    local fns = {}
    for i = 1, n do fns[i] = function() return client:get_table(id or "tbl_idle") end end
    return fns
  end

  it("overlaps 20 get_table calls: the mock answers many at once", function()
    delay_answers(0.15)
    local results = extruct.gather(gets(20), { concurrency = 20 })
    assert.equal(20, #results)
    for i = 1, 20 do
      assert.is_table(results[i][1], "result " .. i)
      assert.equal("tbl_idle", results[i][1].id)
    end
    local stats = mock:stats()
    assert.equal(20, stats.requests)
    -- one after another would never have more than one in flight
    assert.is_true(stats.max_in_flight >= 10, "at most " .. stats.max_in_flight .. " requests were in flight at once")
  end)

  it("runs at most `concurrency` functions at once, 8 by default", function()
    delay_answers(0.05)
    extruct.gather(gets(20))
    assert.equal(8, mock:stats().max_in_flight)
    mock:reset()
    delay_answers(0.05)
    extruct.gather(gets(9), { concurrency = 3 })
    assert.equal(3, mock:stats().max_in_flight)
  end)

  it("packs what each function returned, in the order of the list", function()
    local results = extruct.gather({
      function() return client:get_table("tbl_idle") end,
      function() return client:get_table("tbl_missing") end,
      function() return "a", nil, "c" end,
      function() end,
    })
    assert.equal(4, #results)
    assert.equal("tbl_idle", results[1][1].id)
    assert.equal(1, results[1].n) -- a call's one value on success
    assert.is_nil(results[2][1])
    assert.equal(2, results[2].n)
    assert.equal("not_found", results[2][2].kind)
    assert.same({ n = 3, "a", nil, "c" }, results[3])
    assert.same({ n = 0 }, results[4])
    assert.same({}, extruct.gather({}))
  end)

  it("lets sleeping functions overlap: a sleep in one lets the others run", function()
    local order = {}
    extruct.gather({
      function()
        order[#order + 1] = "a sleeps"
        extruct.sleep(0.2)
        order[#order + 1] = "a wakes"
      end,
      function()
        order[#order + 1] = "b sleeps"
        extruct.sleep(0.05)
        order[#order + 1] = "b wakes"
      end,
    })
    assert.same({ "a sleeps", "b sleeps", "b wakes", "a wakes" }, order)
  end)

  it("nests: a gather inside a gathered function shares the same engine", function()
    delay_answers(0.2)
    local results = extruct.gather({
      function() return extruct.gather(gets(4), { concurrency = 4 }) end,
      function() return extruct.gather(gets(4), { concurrency = 4 }) end,
    })
    assert.equal(4, #results[1][1])
    assert.equal("tbl_idle", results[2][1][4][1].id)
    assert.equal(8, mock:stats().max_in_flight)
  end)

  it("raises the error of a function that raised, once the running ones have ended", function()
    delay_answers(0.1)
    local finished = 0
    local ok, err = pcall(extruct.gather, {
      function() client:get_table("tbl_idle"); finished = finished + 1 end,
      function() error("boom in a task") end,
      function() client:get_table("tbl_idle"); finished = finished + 1 end,
    }, { concurrency = 2 })
    assert.is_false(ok)
    assert.matches("boom in a task", tostring(err))
    -- the first was running and ended; the third was never started
    assert.equal(1, finished)
    -- the engine is left clean: the next gather works
    assert.equal("tbl_idle", extruct.gather(gets(1))[1][1].id)
  end)

  it("runs a request made where the task cannot yield (sort, gsub, pcall) to its end, as it would outside", function()
    delay_answers(0.1)
    local function sorted_by_request()
      local got
      table.sort({ 2, 1 }, function(a, b)
        got = got or assert(client:get_table("tbl_idle"))
        return a < b
      end)
      return got
    end
    local function from_gsub()
      local got
      local _ = ("x"):gsub("x", function() got = assert(client:get_table("tbl_idle")) end)
      return got
    end
    local function sleep_in_sort()
      table.sort({ 2, 1 }, function(a, b) extruct.sleep(0.01); return a < b end)
      return "slept"
    end
    local results = extruct.gather({
      sorted_by_request,
      from_gsub,
      function() return select(2, assert(pcall(client.get_table, client, "tbl_idle"))) end,
      sleep_in_sort,
      function() return client:get_table("tbl_idle") end,
    }, { concurrency = 5 })
    for _, i in ipairs({ 1, 2, 3, 5 }) do
      assert.equal("tbl_idle", assert(results[i][1], tostring(results[i][2])).id, "function " .. i)
    end
    assert.equal("slept", results[4][1])
    assert.equal(4, mock:stats().requests)
  end)

  it("runs 10,000 sleeping functions at once, each to its own result", function()
    local fns = {}
    for i = 1, 10000 do fns[i] = function() extruct.sleep(0.001 * (i % 7)) return i end end
    local results = extruct.gather(fns, { concurrency = 10000 })
    assert.equal(10000, #results)
    for i = 1, 10000 do
      if results[i][1] ~= i then assert.equal(i, results[i][1]) end
    end
  end)

  it("refuses a function that yields by itself rather than hanging", function()
    local ok, err = pcall(extruct.gather, { function() coroutine.yield() end })
    assert.is_false(ok)
    assert.matches("yielded outside extruct", tostring(err))
  end)

  it("ends a request in flight with a cancelled error when its client is closed", function()
    delay_answers(0.5)
    local results = extruct.gather({
      function() return client:get_table("tbl_idle") end,
      function()
        extruct.sleep(0.1)
        client:close()
        return true
      end,
    })
    assert.is_nil(results[1][1])
    assert.equal("cancelled", results[1][2].kind)
    assert.is_true(results[2][1])
  end)

  it("raises misuse at the caller's line", function()
    local line = debug.getinfo(1, "l").currentline + 1
    local ok, err = pcall(extruct.gather, "not a list")
    assert.is_false(ok)
    assert.matches("expected a list of functions", err)
    ok, err = pcall(function() extruct.gather({ function() end, 42 }) end)
    assert.is_false(ok)
    assert.matches(":" .. (line + 3) .. ": extruct.gather: element 2 of the list is a number", err)
    ok, err = pcall(function() extruct.gather({}, { concurrency = 0 }) end)
    assert.is_false(ok)
    assert.matches("concurrency", err)
    ok, err = pcall(function() extruct.gather({}, { workers = 2 }) end)
    assert.is_false(ok)
    assert.matches("unknown option 'workers'", err)
  end)
end)

describe("client:wait_all", function()
  local mock, client

  lazy_setup(function() mock = helpers.start_mock() end)
  lazy_teardown(function() if mock then mock:stop() end end)
  before_each(function()
    mock:reset()
    client = helpers.client(mock)
  end)
  after_each(function() client:close() end)

  local function running_tables(n, polls)
    local ids = {}
    for i = 1, n do
      ids[i] = ("tbl_run%02d"):format(i)
      mock:add_table{ id = ids[i], polls = polls + (i % 3) }
    end
    return ids
  end

  it("returns every one of 20 running tables idle, polling them side by side", function()
    local ids = running_tables(20, 2)
    mock:fault{ count = 1000, delay = 0.02, path = "/v1/tables/" }
    local polled = {}
    local all, err = client:wait_all(ids, {
      interval = 0.02,
      on_progress = function(t, info)
        assert.equal(info.id, t.id)
        polled[info.id] = (polled[info.id] or 0) + 1
      end,
    })
    assert.is_nil(err)
    local count = 0
    for id, t in pairs(all) do
      count = count + 1
      assert.equal(id, t.id)
      assert.is_true(extruct.is_idle(t), id)
      assert.is_true(polled[id] >= 2, id)
    end
    assert.equal(20, count)
    local stats = mock:stats()
    assert.is_true(stats.max_in_flight > 1 and stats.max_in_flight <= 8, tostring(stats.max_in_flight))
  end)

  it("on a failure returns nil and the first error, with what was learned of every table", function()
    local ids = running_tables(5, 2)
    table.insert(ids, 3, "tbl_missing")
    local all, err = client:wait_all(ids, { interval = 0.05, concurrency = 2 })
    assert.is_nil(all)
    assert.equal("not_found", err.kind)
    assert.equal("tbl_missing", err.id)
    assert.matches("tbl_missing", err.message)
    assert.equal("not_found", err.errors.tbl_missing.kind)
    -- every other table is in err.tables (idle) or err.errors (why not)
    for _, id in ipairs(ids) do
      if id ~= "tbl_missing" then
        local t, why = err.tables[id], err.errors[id]
        assert.is_true((t ~= nil and extruct.is_idle(t)) or why ~= nil, id)
        if why then assert.equal("cancelled", why.kind, id) end
      end
    end
    assert.is_true(extruct.is_idle(err.tables.tbl_run01))
  end)

  it("times out as a whole, keeping the last table seen of each", function()
    local ids = running_tables(3, 1000)
    local all, err = client:wait_all(ids, { interval = 0.05, timeout = 0.3 })
    assert.is_nil(all)
    assert.equal("timeout", err.kind)
    for _, id in ipairs(ids) do
      assert.equal("running", err.tables[id].status.run_status)
    end
  end)

  it("stops when on_progress returns false", function()
    local ids = running_tables(3, 1000)
    local all, err = client:wait_all(ids, { interval = 0.05, on_progress = function(_, info) return info.id ~= "tbl_run02" end })
    assert.is_nil(all)
    assert.equal("cancelled", err.kind)
    assert.equal("tbl_run02", err.id)
  end)

  it("exists at module level and refuses misuse at the caller's line", function()
    assert.is_function(extruct.wait_all)
    local line = debug.getinfo(1, "l").currentline + 1
    local ok, err = pcall(function() client:wait_all({ "tbl_a", 7 }) end)
    assert.is_false(ok)
    assert.matches(":" .. line .. ": extruct.wait_all: the table id at position 2 must be a non%-empty string", err)
    ok, err = pcall(function() client:wait_all("tbl_a") end)
    assert.is_false(ok)
    assert.matches("expected a list of table ids", err)
    ok, err = pcall(function() client:wait_all({ "tbl_a" }, { concurrency = 0 }) end)
    assert.is_false(ok)
    assert.matches("concurrency", err)
  end)
end)
