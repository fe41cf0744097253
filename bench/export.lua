-- Export: a table of the mock's (10,000 rows of its fixture columns: an
-- input and ten answers, every cell done) into SQLite, side by side with
-- what a user would reach for without it: `extruct tables data --format
-- csv` into a file, then the sqlite3 shell's `.import --csv` of it. Both
-- are the command line, run as a user runs them (same client, same pages
-- of 50 rows), the contenders taking turns; wall time, best of the rounds.
--
-- Then the database side alone, the rows already fetched and decoded (the
-- export's engine fed the same pages from memory): the export into an
-- empty file, the export again with nothing changed, and `.import` of the
-- CSV file on its own.
--
--   LUA bench/export.lua [--smoke]
local helpers = require("spec.helpers")
local export = require("extruct.export")
local extruct = require("extruct")
local socket = require("socket")

local smoke = arg[1] == "--smoke"
local ROWS = smoke and 200 or 10000
local ROUNDS = smoke and 1 or 3
local PAGE = 50

local lua_name = rawget(_G, "jit") and jit.version or _VERSION
local q = helpers.shell_quote

local function missing()
  if not pcall(require, "dbd.sqlite3") then return "LuaDBI's SQLite driver (Debian: lua-dbi-sqlite3)" end
  if not helpers.run("command -v sqlite3"):find("sqlite3") then return "the sqlite3 shell (Debian: sqlite3)" end
end
local why = missing()
if why then
  print(("== export on %s: skipped, it needs %s"):format(lua_name, why))
  return
end

local dir = helpers.scratch_dir()
local mock = helpers.start_mock{ polls = 0 }

-- Runs a shell command, which must succeed; returns its wall time.
local function timed(command)
  local started = socket.gettime()
  local out, status = helpers.run(command)
  local wall = socket.gettime() - started
  assert(status == 0, command .. ": " .. out)
  return wall
end

local function extruct_command(args)
  return ("env EXTRUCT_API_TOKEN=%s EXTRUCT_API_URL=%s %s bin/extruct %s"):format(q(mock.token), q(mock.url),
    q(helpers.LUA), args)
end

local function fresh(path)
  os.remove(path)
  os.remove(path .. "-journal")
  return path
end

local best = {}
local function keep(name, seconds)
  if best[name] == nil or seconds < best[name] then best[name] = seconds end
end

local ok, err = pcall(function()
  mock:add_table{ id = "tbl_bench", rows = ROWS, polls = 0 }
  local csv, imported, exported = dir .. "/rows.csv", dir .. "/import.db", dir .. "/export.db"

  -- the command lines, taking turns
  for _ = 1, ROUNDS do
    keep("csv", timed(extruct_command(("tables data tbl_bench --format csv > %s"):format(q(csv)))))
    keep("import", timed(("sqlite3 %s %s"):format(q(fresh(imported)), q(".import --csv " .. csv .. " tbl_bench"))))
    keep("first", timed(extruct_command(("tables export tbl_bench --to %s"):format(q("sqlite:" .. fresh(exported))))))
    keep("second", timed(extruct_command(("tables export tbl_bench --to %s"):format(q("sqlite:" .. exported)))))
  end
  local lines = helpers.run(("sqlite3 %s 'SELECT count(*) FROM tbl_bench'"):format(q(exported)))
  assert(tonumber(lines) == ROWS, "the export holds " .. lines .. " rows")
  lines = helpers.run(("sqlite3 %s 'SELECT count(*) FROM tbl_bench'"):format(q(imported)))
  assert(tonumber(lines) == ROWS, "the import holds " .. lines .. " rows")

  -- the database side alone: the same pages, from memory, as JSON text
  -- decoded when asked for as the client does (all of them decoded at
  -- once would make the collector's work many times what an export has)
  local client = helpers.client(mock, { timeout = 60 })
  local pages = {}
  for offset = 0, ROWS - 1, PAGE do
    pages[#pages + 1] = assert(extruct.encode(assert(client:get_table_data("tbl_bench", { offset = offset,
      limit = PAGE }))))
  end
  client:close()
  local from_memory = {}
  function from_memory.get_table_data(_, _, opts)
    local text = pages[math.floor(opts.offset / PAGE) + 1]
    if text then return assert(extruct.decode(text)) end
    local past_the_end = assert(extruct.decode(pages[1]))
    past_the_end.rows = extruct.array()
    return past_the_end
  end
  local function decoding()
    collectgarbage()
    local started, cpu = socket.gettime(), os.clock()
    for i = 1, #pages do assert(extruct.decode(pages[i])) end
    return socket.gettime() - started, os.clock() - cpu
  end
  local function engine(path)
    collectgarbage()
    local started, cpu = socket.gettime(), os.clock()
    assert(export.run(from_memory, "tbl_bench", "sqlite:" .. path, { page_size = PAGE }))
    return socket.gettime() - started, os.clock() - cpu
  end
  for _ = 1, ROUNDS do
    keep("import alone", timed(("sqlite3 %s %s"):format(q(fresh(imported)), q(".import --csv " .. csv .. " tbl_bench"))))
    local wall, cpu = decoding()
    keep("decoding", wall)
    keep("decoding cpu", cpu)
    wall, cpu = engine(fresh(exported))
    keep("engine first", wall)
    keep("engine first cpu", cpu)
    wall, cpu = engine(exported)
    keep("engine second", wall)
    keep("engine second cpu", cpu)
  end
end)
mock:stop()
helpers.remove_dir(dir)
assert(ok, err)

local anchor = best.csv + best.import
print(("== export on %s: %d rows x 11 columns from the mock into SQLite, pages of %d (best of %d rounds, wall time)")
  :format(lua_name, ROWS, PAGE, ROUNDS))
print(("%-58s %9s %9s"):format("", "wall s", "/ anchor"))
print(("%-58s %9.3f %8.2fx"):format("tables data --format csv, then sqlite3 .import (anchor)", anchor, 1))
print(("%-58s %9.3f %8.2fx"):format("  of which tables data --format csv", best.csv, best.csv / anchor))
print(("%-58s %9.3f %8.2fx"):format("  of which sqlite3 .import", best.import, best.import / anchor))
print(("%-58s %9.3f %8.2fx"):format("tables export, into an empty file", best.first, best.first / anchor))
print(("%-58s %9.3f %8.2fx   (%.2fx the first)"):format("tables export again, nothing changed", best.second,
  best.second / anchor, best.second / best.first))
print(("-- the database side alone: the pages from memory, decoded as the client does"))
print(("%-58s %9s %9s %9s"):format("", "wall s", "/ import", "CPU s"))
print(("%-58s %9.3f %8.2fx %9s"):format("sqlite3 .import of the CSV (anchor)", best["import alone"], 1, "-"))
print(("%-58s %9.3f %8.2fx %9.3f"):format("decoding the pages alone (in both rows below)", best.decoding,
  best.decoding / best["import alone"], best["decoding cpu"]))
print(("%-58s %9.3f %8.2fx %9.3f"):format("export, into an empty file", best["engine first"],
  best["engine first"] / best["import alone"], best["engine first cpu"]))
print(("%-58s %9.3f %8.2fx %9.3f   (%.2fx the first)"):format("export again, nothing changed", best["engine second"],
  best["engine second"] / best["import alone"], best["engine second cpu"], best["engine second"] / best["engine first"]))
