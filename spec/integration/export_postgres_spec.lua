-- client:export_table into PostgreSQL: a server of the spec's own
-- (spec/support/postgres.lua: `initdb` and `pg_ctl` as `nobody` when run as
-- root, a socket in a temporary folder, no TCP port), read back with psql
-- and pg_dump, through Debian's LuaDBI driver, against the mock server.
-- Exported twice, a table leaves one row per Extruct row; hostile column
-- keys and table names stay inside their quotes; a connection dropped on
-- the third page leaves the database exactly as before; a server that
-- cannot be reached is a `database` error without the password. (SQLite
-- and the command line: spec/export_spec.lua.)
local helpers = require("spec.helpers")
local postgres = require("spec.support.postgres")
local support = require("spec.support.cli")
local fixtures = require("spec.support.export_fixtures")

local q = helpers.shell_quote
local hex, without_seconds, inputs_of = fixtures.hex, fixtures.without_seconds, fixtures.inputs_of
local FIXTURE_KEYS, HOSTILE_COLUMNS, HOSTILE_VALUES, HOSTILE_TABLE = fixtures.FIXTURE_KEYS, fixtures.HOSTILE_COLUMNS,
  fixtures.HOSTILE_VALUES, fixtures.HOSTILE_TABLE

local found = helpers.has_command

-- What it needs, and why it is pending when missing.
local MISSING_POSTGRES = (not pcall(require, "dbd.postgresql")) and "LuaDBI's PostgreSQL driver is not installed"
  .. " (Debian: lua-dbi-postgresql)" or (not found("psql")) and "psql is not installed (Debian: postgresql)"
  or postgres.missing()

local function lines(text)
  return support.lines_of(text)
end

describe("exports against the mock", function()
  -- one mock for them all, reset before each test
  local session = helpers.mock_and_client{ client = { timeout = 30, backoff = { base = 0.01, cap = 0.01 } } }

  describe("export_table into PostgreSQL", function()
    local server, why_not
    lazy_setup(function()
      if not MISSING_POSTGRES then server, why_not = postgres.start() end
    end)
    lazy_teardown(function()
      if server then server:stop() end
    end)
    before_each(function()
      if server then
        -- a fresh schema for each test
        local out, status = server:psql("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
        assert(status == 0, out)
      end
    end)

    local function pg_it(name, test)
      it(name, function()
        local missing = MISSING_POSTGRES or (not server and why_not)
        if missing then return pending(missing) end
        return test()
      end)
    end

    local function psql(sql)
      local out, status = server:psql(sql)
      assert(status == 0, out)
      return out
    end

    -- The whole database, schema and rows, as pg_dump writes it.
    local function pg_dump()
      local out, status = helpers.run(("pg_dump -h %s -U spec --no-owner postgres 2>&1"):format(q(server.dir)))
      assert(status == 0, out)
      -- (newer pg_dump brackets its output with a random key: not the data)
      return (out:gsub("\n\\u?n?restrict [^\n]*", ""))
    end

    pg_it("twice leaves one row per Extruct row, a column per table column", function()
      local mock, client = session.mock, session.client
      mock:add_table{ id = "tbl_sync", rows = 120, polls = 0 }
      local summary = assert(client:export_table("tbl_sync", server.uri))
      assert.same({ table = "tbl_sync", sql_table = "tbl_sync", target = server.uri, rows = 120, inserted = 120,
                    updated = 0, deleted = 0, columns_added = 11 }, without_seconds(summary))
      summary = assert(client:export_table("tbl_sync", server.uri))
      assert.same({ 120, 0, 0, 0 }, { summary.rows, summary.inserted, summary.updated, summary.deleted })
      assert.equal("120|120\n", psql("SELECT count(*), count(DISTINCT row_id) FROM tbl_sync"))
      local columns = { "row_id", "created_at" }
      for _, key in ipairs(FIXTURE_KEYS) do columns[#columns + 1] = key end
      assert.same(columns, lines(psql("SELECT column_name FROM information_schema.columns WHERE table_name ="
        .. " 'tbl_sync' ORDER BY ordinal_position")))
      local expected = {}
      for i, pair in ipairs(inputs_of(client, "tbl_sync", "input")) do expected[i] = pair[1] .. "|" .. pair[2] end
      assert.same(expected, lines(psql("SELECT row_id, input FROM tbl_sync ORDER BY row_id")))
      assert.equal("numeric\n", psql("SELECT data_type FROM information_schema.columns WHERE table_name = 'tbl_sync'"
        .. " AND column_name = 'enterprise_fit'"))
      assert.equal("1320\n", psql("SELECT count(*) FROM extruct_cells"))
      -- an update upstream, written as one
      local first = assert(client:get_table_data("tbl_sync", { limit = 1 })).rows[1]
      assert(client:update_rows("tbl_sync", { { id = first.id, data = { input = "https://changed.example" } } }))
      summary = assert(client:export_table("tbl_sync", server.uri))
      assert.same({ 120, 0, 1, 0 }, { summary.rows, summary.inserted, summary.updated, summary.deleted })
      assert.equal("https://changed.example|\n", psql(("SELECT input, summary FROM tbl_sync WHERE row_id = '%s'")
        :format(first.id)))
    end)

    pg_it("keeps hostile column keys and a hostile table name inside their quotes", function()
      local id = fixtures.hostile_table(session.mock)
      local client = session.client
      local summary = assert(client:export_table(id, server.uri, { sql_table = HOSTILE_TABLE }))
      assert.same({ 2, 2, #HOSTILE_COLUMNS }, { summary.rows, summary.inserted, summary.columns_added })
      assert.same({ "extruct_cells", "extruct_columns", "extruct_exports", "extruct_rows", HOSTILE_TABLE },
        lines(psql("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name"
          .. " COLLATE \"C\"")))
      local names = { "row_id", "created_at" }
      for _, column in ipairs(HOSTILE_COLUMNS) do names[#names + 1] = column.name end
      assert.same(names, lines(psql(("SELECT column_name FROM information_schema.columns WHERE table_name = '%s'"
        .. " ORDER BY ordinal_position"):format(HOSTILE_TABLE:gsub("'", "''")))))
      -- PostgreSQL's text holds no NUL byte: U+FFFD stands for it
      local first = assert(client:get_table_data(id, { limit = 1 })).rows[1].id
      local expressions, expected = {}, {}
      for i, column in ipairs(HOSTILE_COLUMNS) do
        expressions[i] = ("encode(convert_to(%s, 'UTF8'), 'hex')"):format('"' .. column.name:gsub('"', '""') .. '"')
        expected[i] = hex((HOSTILE_VALUES[i]:gsub("%z", "\239\191\189"))):lower()
      end
      assert.same(expected, lines(psql(('SELECT %s FROM "%s" WHERE row_id = \'%s\''):format(
        table.concat(expressions, " || E'\\n' || "), HOSTILE_TABLE:gsub('"', '""'), first))))
      summary = assert(client:export_table(id, server.uri, { sql_table = HOSTILE_TABLE }))
      assert.same({ 2, 0, 0 }, { summary.rows, summary.inserted, summary.columns_added })
    end)

    pg_it("a connection dropped on the third page leaves the database exactly as before", function()
      local mock, client = session.mock, session.client
      mock:add_table{ id = "tbl_big", rows = 200, polls = 0 }
      assert(client:export_table("tbl_big", server.uri))
      local ids = {}
      for row in client:iter_rows("tbl_big", { limit = 100 }) do ids[#ids + 1] = row.id end
      assert(client:update_rows("tbl_big", { { id = ids[1], data = { input = "https://changed.example" } } }))
      assert(client:delete_rows("tbl_big", { ids[2] }))
      local before = pg_dump()
      mock:fault{ path = "/v1/tables/tbl_big/data", status = 200, count = 2 }
      mock:fault{ path = "/v1/tables/tbl_big/data", mode = "drop", count = 20 }
      local summary, err = client:export_table("tbl_big", server.uri)
      assert.is_nil(summary)
      assert.equal("network", err.kind)
      assert.equal(before, pg_dump())
      -- and its connection is closed: the server serves only psql's
      assert.equal("0\n", psql("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'"
        .. " AND pid <> pg_backend_pid()"))
    end)

    pg_it("says what failed, without the password, when the server cannot be reached", function()
      local client = session.client
      local uri = ("postgresql://spec:hunter2@/postgres?host=%s/nowhere&password=hunter3"):format(server.dir)
      local summary, err = client:export_table("tbl_idle", uri)
      assert.is_nil(summary)
      assert.equal("database", err.kind)
      assert.truthy(err.message:find(("postgresql://spec:***@/postgres?host=%s/nowhere&password=***: cannot connect")
        :format(server.dir), 1, true), err.message)
      assert.falsy(err.message:find("hunter", 1, true), err.message)
      assert.same({}, session.mock:requests(), "nothing is asked of the API")
    end)
  end)
end)
