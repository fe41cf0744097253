-- `extruct tables wait` and `extruct tables run --wait` against the mock
-- server: what they print, their exit statuses, and the progress report on
-- stderr in plain lines (the bars on a real terminal are
-- spec/integration/terminal_spec.lua's: they run bin/extruct on a pty).
local support = require("spec.support.cli")
local extruct = require("extruct")
local cjson = require("cjson")
local progress = require("extruct.cli.progress")

local run_extruct, lines_of = support.run_extruct, support.lines_of

describe("extruct tables wait and tables run --wait", function()
  local mock, client
  support.against_mock({}, function(s) mock, client = s.mock, s.client end)

  describe("tables wait", function()
    it("prints plain progress lines on a non-terminal stderr, then the idle table on stdout", function()
      mock:add_table{ id = "tbl_w", polls = 4 }
      local out, err, status = run_extruct(mock, { "tables", "wait", "tbl_w", "--interval", "0.05" })
      assert.equal(0, status, err)
      local t = assert(extruct.decode(out))
      assert.is_true(extruct.is_idle(t))
      assert.same(assert(client:get_table("tbl_w")), t)

      assert.is_nil(err:find("\r", 1, true), "no redraws when stderr is not a terminal")
      local seen, last_done = lines_of(err), -1
      assert.is_true(#seen >= 2, err)
      for _, line in ipairs(seen) do
        local done, total, percent = line:match("^tbl_w: %a+, (%d+)/(%d+) cells, (%d+)%%, elapsed %d+:%d%d$")
        assert.truthy(done, line)
        assert.is_true(tonumber(done) > last_done, "a line only when something changed: " .. err)
        assert.equal(math.floor(done * 100 / total), tonumber(percent))
        last_done = tonumber(done)
      end
      assert.matches("^tbl_w: idle, 250/250 cells, 100%%, elapsed ", seen[#seen])
    end)

    it("--quiet reports nothing", function()
      mock:add_table{ id = "tbl_w", polls = 2 }
      local out, err, status = run_extruct(mock, { "tables", "wait", "tbl_w", "--interval", "0.05", "--quiet" })
      assert.equal(0, status, err)
      assert.equal("", err)
      assert.is_true(extruct.is_idle(assert(extruct.decode(out))))
    end)

    it("exits 3 when the table is still running at --timeout, with nothing on stdout", function()
      mock:add_table{ id = "tbl_slow", polls = 100000 }
      local out, err, status = run_extruct(mock, { "tables", "wait", "tbl_slow", "--interval=0.05", "--timeout=0.3" })
      assert.equal(3, status, err)
      assert.equal("", out)
      local seen = lines_of(err)
      assert.matches("^extruct: timeout: table 'tbl_slow' was still running after 0.3 s", seen[#seen])
      assert.is_true(#mock:requests() >= 2)
    end)

    it("passes --max-interval on: polls of a table that does not move grow apart", function()
      -- every poll sees the same running table
      mock:fault{ path = "/v1/tables/", status = 200, count = 1000, body = cjson.encode{
        id = "tbl_still", name = "Still",
        status = { run_status = "running", num_cells_completed = 1, num_cells_in_progress = 9 } } }
      local out, err, status = run_extruct(mock, { "tables", "wait", "tbl_still",
        "--interval", "0.05", "--max-interval", "0.2", "--timeout", "0.6" })
      assert.equal(3, status, err)
      assert.equal("", out)
      -- pauses of at least 0.05, 0.075, 0.11, 0.17, 0.2 s: at most 5 of
      -- them fit in 0.6 s, so at most 6 polls and one at the deadline (a
      -- steady 0.05 s interval would poll about 12 times)
      local polls = #mock:requests()
      assert.is_true(polls >= 2 and polls <= 7, "polls: " .. polls)
      -- no change, so one progress line
      assert.equal(2, #lines_of(err), err)
    end)

    it("waits for several tables at once and prints each idle table as a JSON line, in the order given", function()
      mock:add_table{ id = "tbl_a", polls = 3 }
      mock:add_table{ id = "tbl_b", polls = 5 }
      mock:fault{ count = 1000, delay = 0.1, path = "/v1/tables/" }
      local out, err, status = run_extruct(mock, { "tables", "wait", "tbl_b", "tbl_a", "--interval", "0.05" })
      assert.equal(0, status, err)
      local printed = lines_of(out)
      assert.equal(2, #printed, out)
      assert.equal("tbl_b", assert(extruct.decode(printed[1])).id)
      assert.equal("tbl_a", assert(extruct.decode(printed[2])).id)
      assert.is_true(extruct.is_idle(extruct.decode(printed[1])))
      -- a progress line per change of each table, both polled side by side
      assert.matches("tbl_a: idle, 250/250 cells", err)
      assert.matches("tbl_b: idle, 250/250 cells", err)
      assert.equal(2, mock:stats().max_in_flight)
    end)

    it("with several tables, prints those that went idle, then the first failure, with its exit status", function()
      mock:add_table{ id = "tbl_a", polls = 2 }
      mock:add_table{ id = "tbl_slow", polls = 100000 }
      local out, err, status = run_extruct(mock, { "tables", "wait", "tbl_a", "tbl_slow", "--interval", "0.05",
        "--timeout", "0.5", "--quiet" })
      assert.equal(3, status, err)
      assert.equal("tbl_a", assert(extruct.decode(out)).id)
      assert.matches("^extruct: timeout: table 'tbl_slow' was still running", err)
      out, err, status = run_extruct(mock, { "tables", "wait", "tbl_a", "tbl_gone", "--quiet", "--concurrency", "1" })
      assert.equal("tbl_a", assert(extruct.decode(out)).id)
      assert.equal(1, status)
      assert.matches("^extruct: not_found: table 'tbl_gone'", err)
      out, err, status = run_extruct(mock, { "tables", "wait", "tbl_a", "tbl_b", "--concurrency", "0" })
      assert.equal(2, status)
      assert.equal("", out)
      assert.matches("--concurrency", err)
    end)

    it("exits 1 when a poll fails", function()
      local out, err, status = run_extruct(mock, { "tables", "wait", "tbl_gone", "--interval", "0.05" })
      assert.equal(1, status)
      assert.equal("", out)
      assert.matches("^extruct: not_found: ", err)
    end)
  end)

  describe("tables run --wait", function()
    it("--wait waits like tables wait: the run and progress on stderr, the idle table on stdout", function()
      local t = support.new_table(client, "To wait for", { { company = "acme.com" }, { company = "globex.com" } })
      local out, err, status = run_extruct(mock, { "tables", "run", t.id, "--wait", "--interval", "0.05" })
      assert.equal(0, status, err)
      local idle = assert(extruct.decode(out))
      assert.is_true(extruct.is_idle(idle))
      assert.equal(t.id, idle.id)
      local err_lines = lines_of(err)
      assert.matches("^[%w_-]+: 2 cells requested %(mode new%)$", err_lines[1])
      assert.matches("^" .. t.id .. ": idle, %d+/%d+ cells, 100%%, elapsed ", err_lines[#err_lines])
    end)

    it("--wait exits 3 when the run outlasts --timeout", function()
      local rows = {}
      for i = 1, 60 do rows[i] = { company = ("c%d.com"):format(i) } end
      local t = support.new_table(client, "Slow", rows)
      local out, err, status = run_extruct(mock, { "tables", "run", t.id, "--wait", "--interval", "0.05",
        "--timeout", "0", "--quiet" })
      assert.equal(3, status, err)
      assert.equal("", out)
      assert.matches("^extruct: timeout: table '" .. t.id .. "' was still running", err)
    end)
  end)
end)

describe("the progress report's pieces", function()
  it("formats durations as m:ss and h:mm:ss", function()
    assert.equal("0:00", progress.duration(0))
    assert.equal("0:59", progress.duration(59.9))
    assert.equal("2:05", progress.duration(125))
    assert.equal("1:00:01", progress.duration(3601))
  end)

  it("drops the id, then the last change, then the bar as the terminal narrows", function()
    local counts = { done = 5, total = 250 }
    local wide = progress.bar_line("tbl_a", counts, 2, 65, 3, 120)
    assert.matches("^tbl_a %[#?%.+%]   5/250 cells   2%%  elapsed 1:05, last change 0:03 ago$", wide)
    assert.is_true(#wide <= 119)
    for width = 10, 120 do
      local line = progress.bar_line("tbl_a", counts, 2, 65, 3, width)
      assert.is_true(#line <= width - 1, width .. ": " .. line)
    end
    assert.matches("^%[", progress.bar_line("tbl_a", counts, 2, 65, 3, 66))
    assert.equal("  5/250 cells   2%  elapsed 1:05", progress.bar_line("tbl_a", counts, 2, 65, 3, 40))
  end)
end)

