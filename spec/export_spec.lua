-- client:export_table and `extruct tables export`: an Extruct table into a
-- real SQLite file (read back with the sqlite3 shell) through Debian's
-- LuaDBI driver, against the mock server. An export writes one row per
-- Extruct row, again and again; a second export writes only what changed;
-- a connection dropped on the third page, a cancel, a killed process leave
-- the database exactly as before; hostile column keys and table names come
-- back byte for byte and break nothing. (PostgreSQL, a server of the
-- spec's own: spec/integration/export_postgres_spec.lua.)
local extruct = require("extruct")
local database = require("extruct.database")
local export = require("extruct.export")
local helpers = require("spec.helpers")
local support = require("spec.support.cli")
local fixtures = require("spec.support.export_fixtures")

local q = helpers.shell_quote
local run_extruct = support.run_extruct
local hex, without_seconds, inputs_of = fixtures.hex, fixtures.without_seconds, fixtures.inputs_of
local FIXTURE_KEYS, HOSTILE_COLUMNS, HOSTILE_VALUES, HOSTILE_TABLE = fixtures.FIXTURE_KEYS, fixtures.HOSTILE_COLUMNS,
  fixtures.HOSTILE_VALUES, fixtures.HOSTILE_TABLE
local hostile_table = fixtures.hostile_table

local found = helpers.has_command

-- What each part needs, and why it is pending when missing.
local MISSING_SQLITE = (not pcall(require, "dbd.sqlite3")) and "LuaDBI's SQLite driver is not installed (Debian:"
  .. " lua-dbi-sqlite3)" or (not found("sqlite3")) and "the sqlite3 shell is not installed (Debian: sqlite3)" or nil

local function needs(missing, name, test)
  it(name, function()
    if missing then return pending(missing) end
    return test()
  end)
end

-- The sqlite3 shell's answer to sql (or dot-commands), lines separated by "\n".
local function sqlite(path, sql, mode)
  local out, status = helpers.run(("sqlite3 -batch %s %s %s 2>&1"):format(mode or "", q(path), q(sql)))
  assert(status == 0, out)
  return out
end

-- The rows sql selects, as the sqlite3 shell writes them in JSON: a list of
-- objects (NULL is extruct.null).
local function sqlite_rows(path, sql)
  local out = sqlite(path, sql, "-json")
  if out == "" then return {} end
  return assert(extruct.decode(out))
end

local function lines(text)
  return support.lines_of(text)
end

-- Everything the file holds, as the sqlite3 shell writes it out.
local function dump(path)
  return sqlite(path, ".dump")
end

-- The files (not sockets: the client's connection pool is shared) this
-- process has open; nil where /proc does not say.
local PID = (function()
  local stat = io.open("/proc/self/stat", "rb") -- (read by this process: /proc/self is its own)
  if not stat then return "none" end
  local pid = stat:read("*l"):match("^%d+")
  stat:close()
  return pid
end)()
local function open_files()
  collectgarbage()
  collectgarbage()
  local out = helpers.run(("ls -l /proc/%s/fd 2>/dev/null | grep -v socket: | grep -c -- '->'"):format(PID))
  local count = tonumber(out:match("%d+"))
  return count and count > 0 and count or nil
end

---------------------------------------------------------------------------
-- The pieces
---------------------------------------------------------------------------

describe("extruct.database", function()
  it("reads a target: sqlite:PATH, a bare path, a PostgreSQL URI; anything else is a config error", function()
    local cases = {
      { "sqlite:leads.db", { kind = "sqlite", path = "leads.db", shown = "sqlite:leads.db" } },
      { "sqlite:/tmp/a b.db", { kind = "sqlite", path = "/tmp/a b.db", shown = "sqlite:/tmp/a b.db" } },
      { "leads.db", { kind = "sqlite", path = "leads.db", shown = "sqlite:leads.db" } },
      { "postgresql://me@db:5432/crm", { kind = "postgresql", uri = "postgresql://me@db:5432/crm",
                                        shown = "postgresql://me@db:5432/crm" } },
      { "postgres:///crm?host=/run/postgresql", { kind = "postgresql", uri = "postgres:///crm?host=/run/postgresql",
                                                  shown = "postgres:///crm?host=/run/postgresql" } },
      { "postgresql://me:s3cret@db/crm?password=other&sslmode=require", { kind = "postgresql",
        uri = "postgresql://me:s3cret@db/crm?password=other&sslmode=require",
        shown = "postgresql://me:***@db/crm?password=***&sslmode=require" } },
      { "", "the export's target is empty" },
      { "sqlite:", "names no file" },
      { "mysql://me@db/crm", "is neither sqlite:PATH nor postgresql://" },
      { "postgresql:crm", "is not a PostgreSQL URI" },
      { "a\0b", "holds a NUL byte" },
    }
    for _, case in ipairs(cases) do
      local target, err = database.parse_target(case[1])
      if type(case[2]) == "table" then
        assert.same(case[2], target, case[1])
      else
        assert.is_nil(target, case[1])
        assert.equal("config", err.kind)
        assert.truthy(err.message:find(case[2], 1, true), err.message)
      end
    end
    local _, err = database.parse_target("mysql://me:s3cret@db/crm")
    assert.falsy(err.message:find("s3cret", 1, true), err.message)
  end)

  it("replaces NUL bytes and invalid UTF-8 for PostgreSQL, and leaves valid text as it is", function()
    local R = "\239\191\189"
    local cases = {
      { "plain", "plain" }, { "émoji 😀", "émoji 😀" }, { "a\0b", "a" .. R .. "b" }, { "\255", R },
      { "\192\128", R .. R }, { "\237\160\128", R .. R .. R }, { "\244\144\128\128", R .. R .. R .. R },
      { "ab\226\130", "ab" .. R .. R }, { "\240\159\152\128x", "\240\159\152\128x" },
    }
    for _, case in ipairs(cases) do assert.equal(hex(case[2]), hex(database.valid_utf8(case[1])), hex(case[1])) end
  end)

  it("names SQL columns: NUL made _, cut to 63 bytes on a character boundary", function()
    assert.equal("a_b", export.sql_name("a\0b", "x"))
    assert.equal("x", export.sql_name("", "x"))
    assert.equal(("k"):rep(63), export.sql_name(fixtures.LONG_KEY, "x"))
    assert.equal(("é"):rep(31), export.sql_name(("é"):rep(40), "x"), "62 bytes: a 2-byte character is not cut")
  end)

  it("puts in a SQL column what the cell's answer is, by the column's type", function()
    local null = extruct.null
    local cases = {
      { "text", "Acme", "done", "Acme" }, { "text", 12, "done", "12" }, { "text", 0.5, "done", "0.5" },
      { "text", true, "done", "true" }, { "text", extruct.array{ "a", 1 }, "done", '["a",1]' },
      { "text", { k = "v" }, "done", '{"k":"v"}' }, { "text", "stale", "failed", nil }, { "text", null, "done", nil },
      { "number", 4, "done", 4 }, { "number", "4.5", "done", 4.5 }, { "number", "-1e3", "done", -1000 },
      { "number", "N/A", "done", nil }, { "number", "0x10", "done", nil }, { "number", false, "done", 0 },
      { "number", { 1 }, "done", nil },
    }
    for i, case in ipairs(cases) do assert.equal(case[4], export.column_value(case[1], case[2], case[3]), i) end
    assert.equal("number", export.column_type{ kind = "criterion_grade" })
    assert.equal("number", export.column_type{ kind = "agent", value = { output_format = "money" } })
    assert.equal("text", export.column_type{ kind = "agent", value = { output_format = "json" } })
    assert.equal("text", export.column_type{ kind = "input" })
  end)
end)

-- A new SQLite file's path for each test of the enclosing describe, handed
-- to set_path before the test; all of them removed after the last.
local function a_file_per_test(set_path)
  local scratch, remove = support.scratch()
  local n = 0
  before_each(function()
    n = n + 1
    set_path(("%s-%d.db"):format(scratch, n))
  end)
  lazy_teardown(function()
    for i = 1, n do os.remove(("%s-%d.db"):format(scratch, i)) end
    remove()
  end)
end

describe("exports against the mock", function()
  -- one mock for them all, reset before each test
  local session = helpers.mock_and_client{ client = { timeout = 30, backoff = { base = 0.01, cap = 0.01 } } }

  ---------------------------------------------------------------------------
  -- SQLite
  ---------------------------------------------------------------------------

  describe("export_table into SQLite", function()
    local path
    a_file_per_test(function(file) path = file end)

    needs(MISSING_SQLITE, "writes 120 rows, a column per table column, and again 120: the second export writes nothing",
      function()
      local mock, client = session.mock, session.client
      mock:add_table{ id = "tbl_sync", rows = 120, polls = 0 }
      local target = "sqlite:" .. path
      local summary, err = client:export_table("tbl_sync", target)
      assert.is_nil(err)
      assert.same({ table = "tbl_sync", sql_table = "tbl_sync", target = target, rows = 120, inserted = 120,
                    updated = 0, deleted = 0, columns_added = 11 }, without_seconds(summary))
      local columns = { "row_id", "created_at" }
      for _, key in ipairs(FIXTURE_KEYS) do columns[#columns + 1] = key end
      assert.same(columns, lines(sqlite(path, "SELECT name FROM pragma_table_info('tbl_sync')")))
      assert.equal("120\n", sqlite(path, "SELECT count(*) FROM tbl_sync"))
      -- an input column's values, by plain SQL
      local expected = {}
      for i, pair in ipairs(inputs_of(client, "tbl_sync", "input")) do expected[i] = pair[1] .. "|" .. pair[2] end
      assert.same(expected, lines(sqlite(path, "SELECT row_id, input FROM tbl_sync ORDER BY row_id")))
      -- a grade is a number; an object answer is JSON text; every cell is in extruct_cells
      local rows = assert(client:get_table_data("tbl_sync", { limit = 1 })).rows
      local first = rows[1]
      assert.equal(("integer|%d\n"):format(extruct.cell(first, "enterprise_fit")),
        sqlite(path, ("SELECT typeof(enterprise_fit), enterprise_fit FROM tbl_sync WHERE row_id = '%s'"):format(first.id)))
      local summary_json = sqlite(path, ("SELECT summary FROM tbl_sync WHERE row_id = '%s'"):format(first.id))
      assert.same(extruct.cell(first, "summary"), assert(extruct.decode(summary_json)))
      assert.equal(tostring(120 * 11) .. "\n", sqlite(path, "SELECT count(*) FROM extruct_cells WHERE table_id = 'tbl_sync'"))
      local _, status, sources, explanation = extruct.cell(first, "phone")
      local cell = sqlite_rows(path, ("SELECT * FROM extruct_cells WHERE row_id = '%s' AND column_key = 'phone'")
        :format(first.id))
      assert.same({ { table_id = "tbl_sync", row_id = first.id, column_key = "phone", status = status,
                      answer_json = extruct.encode((extruct.cell(first, "phone"))), explanation = explanation,
                      sources_json = extruct.encode(sources) } }, cell)
      local rest = {}
      for key, value in pairs(first) do
        if key ~= "data" then rest[key] = value end
      end
      assert.same(rest, assert(extruct.decode(sqlite(path, ("SELECT row_json FROM extruct_rows WHERE row_id = '%s'")
        :format(first.id)))))

      local data_before = sqlite(path, ".dump tbl_sync extruct_cells extruct_rows extruct_columns")
      summary = assert(client:export_table("tbl_sync", target))
      assert.same({ table = "tbl_sync", sql_table = "tbl_sync", target = target, rows = 120, inserted = 0,
                    updated = 0, deleted = 0, columns_added = 0 }, without_seconds(summary))
      assert.equal("120|120\n", sqlite(path, "SELECT count(*), count(DISTINCT row_id) FROM tbl_sync"))
      assert.equal(data_before, sqlite(path, ".dump tbl_sync extruct_cells extruct_rows extruct_columns"),
        "nothing was rewritten")
      assert.same({ "tbl_sync|tbl_sync|Mock table tbl_sync|company|120|120|0|0|11",
                    "tbl_sync|tbl_sync|Mock table tbl_sync|company|120|0|0|0|0" },
        lines(sqlite(path, "SELECT table_id, sql_table, name, kind, rows, inserted, updated, deleted, columns_added"
          .. " FROM extruct_exports ORDER BY rowid")))
    end)
  end)

  describe("export_table into SQLite, as the table changes", function()
    local path
    a_file_per_test(function(file) path = file end)

    -- A table of support.COLUMNS with three rows, run until idle.
    local function small_table(client, mock)
      local t = support.new_table(client, "Sync", {
        { company = "acme.example", employees = "10" },
        { company = "globex.example", employees = "20" },
        { company = "initech.example", employees = "30" },
      })
      assert(client:run_table(t.id))
      mock:control("POST", "/_mock/advance", { id = t.id, polls = 5 })
      local ids = {}
      for row in client:iter_rows(t.id) do ids[#ids + 1] = row.id end
      return t.id, ids
    end

    needs(MISSING_SQLITE, "updates the rows that changed, inserts new ones, deletes those gone, adds new columns",
      function()
      local mock, client = session.mock, session.client
      local id, ids = small_table(client, mock)
      local target = "sqlite:" .. path
      assert.same({ table = id, sql_table = id, target = target, rows = 3, inserted = 3, updated = 0, deleted = 0,
                    columns_added = 3 }, without_seconds(assert(client:export_table(id, target))))
      assert.equal("Summary of Acme (acme.example)\n",
        sqlite(path, ("SELECT summary FROM %q WHERE row_id = '%s'"):format(id, ids[1])))

      assert(client:update_rows(id, { { id = ids[1], data = { company = "hooli.example" } } }))
      assert(client:delete_rows(id, { ids[3] }))
      assert(client:add_rows(id, { { company = "wonka.example" }, { company = "stark.example" } }))
      assert(client:add_columns(id, { kind = "input", name = "Region", key = "region" }))
      -- (the new input column leaves every old row missing an input: they change too)
      local summary = assert(client:export_table(id, target))
      assert.same({ table = id, sql_table = id, target = target, rows = 4, inserted = 2, updated = 2, deleted = 1,
                    columns_added = 1 }, without_seconds(summary))
      assert.same({ "row_id", "created_at", "company", "employees", "summary", "region" },
        lines(sqlite(path, ("SELECT name FROM pragma_table_info('%s')"):format(id))))
      local rows = sqlite_rows(path, ("SELECT row_id, company, employees, summary FROM %q ORDER BY row_id"):format(id))
      assert.equal(4, #rows)
      -- the changed row: its new input, its answer gone with the old input
      assert.same({ row_id = ids[1], company = "hooli.example", employees = "10", summary = extruct.null }, rows[1])
      assert.same({ row_id = ids[2], company = "globex.example", employees = "20",
                    summary = "Summary of Globex (globex.example)" }, rows[2])
      assert.same({ "wonka.example", "stark.example" }, { rows[3].company, rows[4].company })
      assert.same({}, sqlite_rows(path, ("SELECT * FROM extruct_rows WHERE row_id = '%s'"):format(ids[3])))
      assert.same({}, sqlite_rows(path, ("SELECT * FROM extruct_cells WHERE row_id = '%s'"):format(ids[3])))
      assert.same({ { column_key = "company" }, { column_key = "employees" } }, sqlite_rows(path,
        ("SELECT column_key FROM extruct_cells WHERE row_id = '%s' ORDER BY column_key"):format(ids[1])))
      assert.same({ { column_key = "region", column_name = "region", name = "Region", kind = "input", type = "text",
                      position = 4 } }, sqlite_rows(path, "SELECT column_key, column_name, name, kind, type, position"
        .. " FROM extruct_columns WHERE column_key = 'region'"))

      -- keep_deleted: a row deleted upstream stays
      assert(client:delete_rows(id, { ids[2] }))
      summary = assert(client:export_table(id, target, { keep_deleted = true }))
      assert.same({ 3, 0, 0, 0 }, { summary.rows, summary.inserted, summary.updated, summary.deleted })
      assert.equal("4\n", sqlite(path, ("SELECT count(*) FROM %q"):format(id)))
      -- and goes on the next export that does not keep it
      summary = assert(client:export_table(id, target))
      assert.same({ 3, 0, 0, 1 }, { summary.rows, summary.inserted, summary.updated, summary.deleted })
      assert.equal("3\n", sqlite(path, ("SELECT count(*) FROM %q"):format(id)))
    end)

    needs(MISSING_SQLITE, "takes an empty table, a table name of its own, and a table dropped by hand since", function()
      local mock, client = session.mock, session.client
      local t = support.new_table(client, "Empty", {})
      local target = "sqlite:" .. path
      assert.same({ table = t.id, sql_table = "leads", target = target, rows = 0, inserted = 0, updated = 0, deleted = 0,
                    columns_added = 3 }, without_seconds(assert(client:export_table(t.id, target, { sql_table = "leads" }))))
      assert.equal("0\n", sqlite(path, "SELECT count(*) FROM leads"))
      mock:add_table{ id = "tbl_sync", rows = 3, polls = 0 }
      assert.equal(3, assert(client:export_table("tbl_sync", target)).inserted)
      sqlite(path, "DROP TABLE tbl_sync")
      local summary = assert(client:export_table("tbl_sync", target))
      assert.same({ 3, 3, 0, 11 }, { summary.rows, summary.inserted, summary.updated, summary.columns_added })
      assert.equal("3\n", sqlite(path, "SELECT count(*) FROM tbl_sync"))
      assert.equal("33\n", sqlite(path, "SELECT count(*) FROM extruct_cells WHERE table_id = 'tbl_sync'"))
    end)

    needs(MISSING_SQLITE, "refuses a target or a SQL table it cannot use, as a config error, the database untouched",
      function()
      local mock, client = session.mock, session.client
      mock:add_table{ id = "tbl_a", rows = 2, polls = 0 }
      mock:add_table{ id = "tbl_b", rows = 2, polls = 0 }
      local target = "sqlite:" .. path
      assert(client:export_table("tbl_a", target, { sql_table = "leads" }))
      sqlite(path, "CREATE TABLE mine (x TEXT)")
      local before = dump(path)
      local requests_before = #mock:requests()
      local cases = {
        { "tbl_a", "mysql://x/y", nil, "is neither sqlite:PATH nor postgresql://" },
        { "tbl_a", target, { sql_table = "" }, "the SQL table name '' is empty" },
        { "tbl_a", target, { sql_table = "a\0b" }, "holds a NUL byte" },
        { "tbl_a", target, { sql_table = ("t"):rep(64) }, "is longer than 63 bytes" },
        { "tbl_a", target, { sql_table = "bad\255" }, "is not valid UTF-8" },
        { "tbl_a", target, { sql_table = "Extruct_Cells" }, "a table every export keeps for itself" },
        { "tbl_a", target, { sql_table = "sqlite_stuff" }, "starts with sqlite_" },
        { "tbl_a", target, { sql_table = "other" }, "table 'tbl_a' is exported to the SQL table 'leads'" },
        { "tbl_b", target, { sql_table = "LEADS" }, "the SQL table 'leads' holds the export of table 'tbl_a'" },
        { "tbl_b", target, { sql_table = "mine" }, "already has a table 'mine' that no export made" },
      }
      for _, case in ipairs(cases) do
        local summary, err = client:export_table(case[1], case[2], case[3])
        assert.is_nil(summary, case[4])
        assert.equal("config", err.kind, case[4])
        assert.truthy(err.message:find(case[4], 1, true), err.message)
      end
      assert.equal(before, dump(path))
      assert.equal(requests_before, #mock:requests(), "all of it is checked before any request")
    end)

    it("raises at the caller's line for arguments that are not what it takes", function()
      local client = session.client
      local cases = {
        { function() client:export_table(nil, "sqlite:x.db") end, "the table id must be a non-empty string" },
        { function() client:export_table("tbl_a", 42) end, "the target must be a string" },
        { function() client:export_table("tbl_a", "sqlite:x.db", { sqltable = "x" }) end, "unknown option 'sqltable'" },
        { function() client:export_table("tbl_a", "sqlite:x.db", { page_size = 0 }) end, "from 1 to 1000" },
        { function() client:export_table("tbl_a", "sqlite:x.db", { page_size = 1001 }) end, "from 1 to 1000" },
        { function() client:export_table("tbl_a", "sqlite:x.db", { page_size = 2.5 }) end, "from 1 to 1000" },
        { function() client:export_table("tbl_a", "sqlite:x.db", { keep_deleted = "yes" }) end, "must be a boolean" },
        { function() client:export_table("tbl_a", "sqlite:x.db", { on_progress = 1 }) end, "a function(progress)" },
      }
      for _, case in ipairs(cases) do
        local ok, message = pcall(case[1])
        assert.is_false(ok)
        assert.truthy(message:find(case[2], 1, true), message)
        assert.truthy(message:find("export_spec.lua:%d+:"), message)
      end
    end)

    needs(MISSING_SQLITE, "keeps hostile column keys and a hostile table name inside their quotes, byte for byte",
      function()
      local client = session.client
      local id = hostile_table(session.mock)
      local target = "sqlite:" .. path
      local summary = assert(client:export_table(id, target, { sql_table = HOSTILE_TABLE }))
      assert.same({ 2, 2, #HOSTILE_COLUMNS }, { summary.rows, summary.inserted, summary.columns_added })
      assert.same({ "extruct_cells", "extruct_columns", "extruct_exports", "extruct_rows", HOSTILE_TABLE },
        lines(sqlite(path, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")))
      local names = { "row_id", "created_at" }
      for _, column in ipairs(HOSTILE_COLUMNS) do names[#names + 1] = column.name end
      assert.same(names, lines(sqlite(path, ("SELECT name FROM pragma_table_info('%s')")
        :format(HOSTILE_TABLE:gsub("'", "''")))))
      -- every key as it came, in the mapping and in the cells
      local mapping = sqlite_rows(path, "SELECT hex(column_key) AS key, column_name FROM extruct_columns ORDER BY position")
      for i, column in ipairs(HOSTILE_COLUMNS) do
        assert.same({ key = hex(column.key), column_name = column.name }, mapping[i])
      end
      -- every value as it came, NUL bytes and all, in the first row (the insertion order)
      local first = assert(client:get_table_data(id, { limit = 1 })).rows[1].id
      for i, column in ipairs(HOSTILE_COLUMNS) do
        local quoted = '"' .. column.name:gsub('"', '""') .. '"'
        assert.equal(hex(HOSTILE_VALUES[i]) .. "\n", sqlite(path, ("SELECT hex(%s) FROM \"%s\" WHERE row_id = '%s'")
          :format(quoted, HOSTILE_TABLE:gsub('"', '""'), first)), column.name)
      end
      assert.equal(2 * #HOSTILE_COLUMNS .. "\n", sqlite(path, "SELECT count(*) FROM extruct_cells"))
      summary = assert(client:export_table(id, target, { sql_table = HOSTILE_TABLE }))
      assert.same({ 2, 0, 0, 0 }, { summary.rows, summary.inserted, summary.updated, summary.columns_added })
    end)

    needs(MISSING_SQLITE, "a hostile table id makes a SQL table of that name, quoted, a NUL byte made _", function()
      local mock, client = session.mock, session.client
      local id = "tbl'\";--\0x"
      mock:add_table{ id = id, rows = 2, polls = 0 }
      local summary = assert(client:export_table(id, "sqlite:" .. path))
      assert.equal("tbl'\";--_x", summary.sql_table)
      assert.equal("2\n", sqlite(path, ('SELECT count(*) FROM "%s"'):format(summary.sql_table:gsub('"', '""'))))
      assert.equal(hex(id) .. "\n", sqlite(path, "SELECT DISTINCT hex(table_id) FROM extruct_rows"))
      summary = assert(client:export_table(id, "sqlite:" .. path))
      assert.same({ 2, 0, 0, 0 }, { summary.rows, summary.inserted, summary.updated, summary.deleted })
    end)
  end)

  describe("export_table is all or nothing", function()
    local scratch, remove = support.scratch()
    local path = scratch .. ".db"
    after_each(function() os.remove(path) end)
    lazy_teardown(remove)

    -- A first export of a 200-row table, then upstream changes that a second
    -- export would write: a row changed, one deleted, one added.
    local function exported_then_changed(client, mock, target)
      mock:add_table{ id = "tbl_big", rows = 200, polls = 0 }
      assert.equal(200, assert(client:export_table("tbl_big", target, { page_size = 50 })).inserted)
      local ids = {}
      for row in client:iter_rows("tbl_big", { limit = 100 }) do ids[#ids + 1] = row.id end
      assert(client:update_rows("tbl_big", { { id = ids[1], data = { input = "https://changed.example" } } }))
      assert(client:delete_rows("tbl_big", { ids[2] }))
      assert(client:add_rows("tbl_big", { { input = "https://new.example" } }))
    end

    -- The next two /data requests answered, the next 20 dropped: the
    -- connection closes on the third page, and on each of its retries (and
    -- on libcurl's own second try of a reused connection that closed).
    local DROPS = 20
    local function drop_third_page(mock)
      mock:fault{ path = "/v1/tables/tbl_big/data", status = 200, count = 2 }
      mock:fault{ path = "/v1/tables/tbl_big/data", mode = "drop", count = DROPS }
    end

    -- Requests until the drops left over are spent (each takes at least one).
    local function spend_drops(client)
      for _ = 1, DROPS do
        if client:get_table_data("tbl_big", { limit = 1, retries = 0 }) then return end
      end
      error("the dropped connections never ended")
    end

    needs(MISSING_SQLITE, "a connection dropped on the third page leaves the file exactly as before", function()
      local mock, client = session.mock, session.client
      local target = "sqlite:" .. path
      exported_then_changed(client, mock, target)
      local before = dump(path)
      drop_third_page(mock)
      local summary, err = client:export_table("tbl_big", target, { page_size = 50 })
      assert.is_nil(summary)
      assert.equal("network", err.kind)
      assert.equal(4, err.attempts)
      assert.equal(mock.url .. "/v1/tables/tbl_big/data", err.url)
      assert.truthy(err.message:find("GET " .. mock.url .. "/v1/tables/tbl_big/data: ", 1, true), err.message)
      assert.equal(before, dump(path))
      -- and the next export, the network back, writes the changes
      spend_drops(client)
      summary = assert(client:export_table("tbl_big", target, { page_size = 50 }))
      assert.same({ 200, 1, 1, 1 }, { summary.rows, summary.inserted, summary.updated, summary.deleted })
    end)

    needs(MISSING_SQLITE, "cancelled by on_progress after the second page, it leaves the file as before", function()
      local mock, client = session.mock, session.client
      local target = "sqlite:" .. path
      exported_then_changed(client, mock, target)
      local before = dump(path)
      local seen = {}
      local summary, err = client:export_table("tbl_big", target, { page_size = 50, on_progress = function(p)
        seen[#seen + 1] = p
        return #seen < 2
      end })
      assert.is_nil(summary)
      assert.equal("cancelled", err.kind)
      assert.truthy(err.message:find("cancelled by on_progress after 100 rows; the database is as it was", 1, true),
        err.message)
      assert.equal(before, dump(path))
      assert.equal(2, #seen)
      assert.same({ table = "tbl_big", fetched = 100, read = 100, written = 1, total = 200 },
        { table = seen[2].table, fetched = seen[2].fetched, read = seen[2].read, written = seen[2].written,
          total = seen[2].total })
    end)

    needs(MISSING_SQLITE, "an error raised inside on_progress goes up, the file as before", function()
      local mock, client = session.mock, session.client
      local target = "sqlite:" .. path
      exported_then_changed(client, mock, target)
      local before = dump(path)
      local ok, message = pcall(client.export_table, client, "tbl_big", target, { on_progress = function()
        error("boom in the callback")
      end })
      assert.is_false(ok)
      assert.truthy(tostring(message):find("boom in the callback", 1, true), message)
      assert.equal(before, dump(path))
    end)

    needs(MISSING_SQLITE, "leaves no file open, whether it succeeds, is cancelled or refused", function()
      local mock = session.mock
      local target = "sqlite:" .. path
      exported_then_changed(session.client, mock, target)
      session:new_client():close()
      local before = open_files()
      if not before then return pending("/proc/PID/fd is not there to count this process's open files") end
      local client = session:new_client()
      assert.equal(1, assert(client:export_table("tbl_big", target)).updated)
      assert.equal("cancelled", select(2, client:export_table("tbl_big", target, { on_progress = function()
        return false
      end })).kind)
      assert.equal("config", select(2, client:export_table("tbl_big", target, { sql_table = "other" })).kind)
      client:close()
      assert.equal(before, open_files())
    end)

    needs(MISSING_SQLITE, "a table whose pages hold fewer rows than it says it has deletes nothing", function()
      local mock, client = session.mock, session.client
      local target = "sqlite:" .. path
      exported_then_changed(client, mock, target)
      local before = dump(path)
      -- the second page comes back empty: as if the API cut pages short
      local page = assert(client:get_table_data("tbl_big", { offset = 1000, limit = 50 }))
      page.status.num_rows = 200
      mock:fault{ path = "/v1/tables/tbl_big/data", status = 200, count = 1 }
      mock:fault{ path = "/v1/tables/tbl_big/data", body = extruct.encode(page) }
      local summary, err = client:export_table("tbl_big", target, { page_size = 50 })
      assert.is_nil(summary)
      assert.equal("decode", err.kind)
      assert.truthy(err.message:find("table 'tbl_big' has 200 rows but its pages held 50", 1, true), err.message)
      assert.equal(before, dump(path))
    end)
  end)

  ---------------------------------------------------------------------------
  -- The command line, and a machine without the drivers
  ---------------------------------------------------------------------------

  describe("extruct tables export", function()
    local scratch, remove = support.scratch()
    local path = scratch .. ".db"
    after_each(function() os.remove(path) end)
    lazy_teardown(function() remove(".out") end)

    needs(MISSING_SQLITE, "writes 120 rows with --to sqlite:FILE, and again 120; --json prints the summary", function()
      local mock = session.mock
      mock:add_table{ id = "tbl_sync", rows = 120, polls = 0 }
      local out, err, status = run_extruct(mock, { "tables", "export", "tbl_sync", "--to", "sqlite:" .. path })
      assert.equal(0, status, err)
      assert.equal("", err)
      assert.equal(("exported tbl_sync to sqlite:%s, SQL table tbl_sync: 120 rows, 120 inserted, 0 updated,"
        .. " 0 deleted, 11 columns added\n"):format(path), out)
      out, err, status = run_extruct(mock, { "tables", "export", "tbl_sync", "--to=sqlite:" .. path, "--json" })
      assert.equal(0, status, err)
      local summary = assert(extruct.decode(out))
      assert.same({ table = "tbl_sync", sql_table = "tbl_sync", target = "sqlite:" .. path, rows = 120, inserted = 0,
                    updated = 0, deleted = 0, columns_added = 0 }, without_seconds(summary))
      assert.equal("120\n", sqlite(path, "SELECT count(*) FROM tbl_sync"))
      out, err, status = run_extruct(mock, { "tables", "export", "tbl_sync", "--to", "sqlite:" .. path,
                                             "--sql-table", "Leads", "--keep-deleted", "--page-size", "7" })
      assert.equal(2, status, out)
      assert.equal("extruct: config: table 'tbl_sync' is exported to the SQL table 'tbl_sync' of this database: export"
        .. " it there again (--sql-table / sql_table), or into another database\n", err)
    end)

    it("refuses a command line it cannot run, sending nothing", function()
      local cases = {
        { { "tables", "export", "tbl_sync" }, "missing --to TARGET (sqlite:PATH or postgresql://user@host:port/db)" },
        { { "tables", "export", "--to", "sqlite:x.db" }, "missing table ID" },
        { { "tables", "export", "tbl_sync", "--to", "x.db", "--page-size", "0" }, "--page-size" },
        { { "tables", "export", "tbl_sync", "--to", "x.db", "--page-size", "1001" }, "a whole number from 1 to 1000" },
        { { "tables", "export", "tbl_sync", "--to", "x.db", "--pretty" }, "option --pretty needs --json" },
      }
      for _, case in ipairs(cases) do
        local out, err, status = run_extruct(session.mock, case[1])
        support.assert_usage_error(out, err, status, "tables export")
        assert.truthy(err:find(case[2], 1, true), err)
      end
      assert.same({}, session.mock:requests())
    end)

    needs(MISSING_SQLITE, "a target it cannot use exits 2, a database that fails exits 1, both before any request",
      function()
      local out, err, status = run_extruct(session.mock, { "tables", "export", "tbl_idle", "--to", "mysql://db/x" })
      assert.same({ "", "extruct: config: the target 'mysql://db/x' is neither sqlite:PATH nor postgresql://...\n", 2 },
        { out, err, status })
      out, err, status = run_extruct(session.mock, { "tables", "export", "tbl_idle", "--to", "sqlite:" .. scratch
        .. "/no/such/folder.db" })
      assert.same({ "", ("extruct: database: sqlite:%s/no/such/folder.db: cannot connect: unable to open database file\n")
        :format(scratch), 1 }, { out, err, status })
      assert.same({}, session.mock:requests())
    end)

    needs(MISSING_SQLITE, "killed on the third page, it leaves the file exactly as before", function()
      local mock, client = session.mock, session.client
      mock:add_table{ id = "tbl_big", rows = 200, polls = 0 }
      assert(client:export_table("tbl_big", "sqlite:" .. path))
      local first = assert(client:get_table_data("tbl_big", { limit = 1 })).rows[1]
      assert(client:update_rows("tbl_big", { { id = first.id, data = { input = "https://changed.example" } } }))
      local before = dump(path)
      -- the third page never comes
      mock:fault{ path = "/v1/tables/tbl_big/data", status = 200, count = 2 }
      mock:fault{ path = "/v1/tables/tbl_big/data", delay = 30 }
      local command = ("sh -c 'echo $$; exec env EXTRUCT_API_TOKEN=\"$1\" EXTRUCT_API_URL=\"$2\" \"$3\" bin/extruct"
        .. " tables export tbl_big --to \"$4\" >/dev/null 2>&1' sh %s %s %s %s 2>/dev/null"):format(q(mock.token), q(mock.url),
        q(helpers.LUA), q("sqlite:" .. path))
      local pipe = assert(io.popen(command, "r"))
      local pid = assert(tonumber(pipe:read("*l")))
      local third = helpers.eventually(20, function()
        return #support.api_requests(mock, "GET", "/v1/tables/tbl_big/data") >= 3
      end)
      os.execute("kill -KILL " .. pid)
      pipe:close()
      assert.is_true(third, "the export never asked for the third page")
      assert.equal(before, dump(path))
    end)

    support.script_it("shows the rows fetched and written on a terminal, then clears the line", function()
      if MISSING_SQLITE then return pending(MISSING_SQLITE) end
      local mock = session.mock
      mock:add_table{ id = "tbl_sync", rows = 120, polls = 0 }
      local typescript, status = support.on_pty(mock, 100, { "tables", "export", "tbl_sync", "--to", "sqlite:" .. path,
                                                              "--page-size", "40" }, scratch .. ".out")
      assert.equal(0, status, typescript)
      local frames = support.frames(typescript)
      assert.equal(3, #frames, typescript)
      for i, frame in ipairs(frames) do
        assert.matches(("^tbl_sync: %d/120 rows fetched, %d written, elapsed 0:%%d%%d, last change 0:%%d%%d ago *$")
          :format(40 * i, 40 * i), frame)
      end
      assert.truthy(typescript:find("\r +\r$"), "the line is cleared at the end")
      assert.equal(("exported tbl_sync to sqlite:%s, SQL table tbl_sync: 120 rows, 120 inserted, 0 updated, 0 deleted,"
        .. " 11 columns added\n"):format(path), helpers.read_file(scratch .. ".out"))
      -- --quiet: nothing on the terminal
      typescript = support.on_pty(mock, 100, { "tables", "export", "tbl_sync", "--to", "sqlite:" .. path, "--quiet" },
        scratch .. ".out")
      assert.same({}, support.frames(typescript))
    end)
  end)

  describe("an export without LuaDBI's drivers", function()

    -- Lua with the module and nothing else on its paths: no driver to find.
    local PATHS = ("package.path = 'lua/?.lua;lua/?/init.lua'; package.cpath = 'build/%s/?.so';")
      :format(os.getenv("LUA") or "lua5.4")

    for _, case in ipairs({ { "sqlite:leads.db", "SQLite", "lua-dbi-sqlite3", "luadbi-sqlite3", "dbd.sqlite3" },
                            { "postgresql://me@db/crm", "PostgreSQL", "lua-dbi-postgresql", "luadbi-postgresql",
                              "dbd.postgresql" } }) do
      it("fails as a config error naming the package to install: " .. case[2], function()
        local out = helpers.run_lua("", PATHS .. ([[
          local client = require("extruct").new{ token = "t", base_url = %q }
          local summary, err = client:export_table("tbl_idle", %q)
          print(summary, err.kind, err.message, package.loaded["]] .. case[5] .. [["])
        ]]):format(session.mock.url, case[1]))
        assert.equal(("nil\tconfig\texporting to %s needs LuaDBI's %s driver (the Lua module '%s'), which is not"
          .. " installed: install the Debian package %s (or the LuaRocks rock %s)\tnil\n"):format(case[2], case[2],
            case[5], case[3], case[4]), out)
        assert.same({}, session.mock:requests())
      end)
    end

    it("and the command line exits 2 with that message", function()
      local nowhere = "./no-such-folder/?.so"
      local out, err, status = run_extruct(session.mock, { "tables", "export", "tbl_idle", "--to", "sqlite:x.db" }, {
        env = { LUA_CPATH = nowhere, LUA_CPATH_5_2 = nowhere, LUA_CPATH_5_3 = nowhere, LUA_CPATH_5_4 = nowhere },
        process = true })
      assert.same({ "", "extruct: config: exporting to SQLite needs LuaDBI's SQLite driver (the Lua module"
        .. " 'dbd.sqlite3'), which is not installed: install the Debian package lua-dbi-sqlite3 (or the LuaRocks rock"
        .. " luadbi-sqlite3)\n", 2 }, { out, err, status })
    end)
  end)

  describe("docs/export.md", function()
    local dir
    before_each(function()
      dir = helpers.scratch_dir()
      -- `extruct` on the PATH: this checkout's, on this interpreter
      local cwd = helpers.run("pwd"):match("^%s*(.-)%s*$")
      helpers.run(("mkdir -p %s/bin"):format(q(dir)))
      helpers.write_file(dir .. "/bin/extruct", ("#!/bin/sh\nexec %s %s \"$@\"\n"):format(q(helpers.LUA),
        q(cwd .. "/bin/extruct")))
      helpers.run(("chmod +x %s/bin/extruct"):format(q(dir)))
    end)
    after_each(function() helpers.remove_dir(dir) end)

    -- The fenced blocks of the page, in order: { lang, text }.
    local function blocks()
      local list = {}
      for lang, text in helpers.read_file("docs/export.md"):gmatch("\n```(%w*)\n(.-)\n```") do
        list[#list + 1] = { lang = lang, text = text .. "\n" }
      end
      return list
    end

    -- Runs a shell command in the scratch folder against the mock.
    local function in_dir(command)
      local cwd = helpers.run("pwd"):match("^%s*(.-)%s*$")
      return helpers.run(("cd %s && env PATH=%s EXTRUCT_API_TOKEN=%s EXTRUCT_API_URL=%s LUA_PATH=%s LUA_CPATH=%s %s 2>&1")
        :format(q(dir), q(dir .. "/bin:" .. os.getenv("PATH")), q(session.mock.token), q(session.mock.url),
          q(cwd .. "/lua/?.lua;" .. cwd .. "/lua/?/init.lua;;"), q(cwd .. "/build/" .. (os.getenv("LUA") or "lua5.4")
          .. "/?.so;;"), command))
    end

    needs(MISSING_SQLITE, "its shell commands, Lua and SQL run as written and print what it shows", function()
      local list = blocks()
      local kinds = {}
      for i, block in ipairs(list) do kinds[i] = block.lang end
      assert.same({ "sh", "text", "lua", "text", "sql" }, kinds)
      local out, status = in_dir("sh -e -c " .. q(list[1].text))
      assert.equal(0, status, out)
      assert.equal(list[2].text, out)
      helpers.write_file(dir .. "/example.lua", list[3].text)
      out, status = in_dir(q(helpers.LUA) .. " example.lua")
      assert.equal(0, status, out)
      assert.equal(list[4].text, out)
      -- the SQL, on the fixtures' parent and child tables
      assert(session.client:export_table("tbl_demo", "sqlite:" .. dir .. "/leads.db"))
      assert(session.client:export_table("tbl_people", "sqlite:" .. dir .. "/leads.db"))
      helpers.write_file(dir .. "/queries.sql", list[5].text)
      out, status = in_dir("sqlite3 -batch leads.db < queries.sql")
      assert.equal(0, status, out)
      local joined = lines(out)
      assert.equal(10, #joined, out)
      assert.equal("https://acme.example|https://acme.example", joined[1])
    end)
  end)
end)
