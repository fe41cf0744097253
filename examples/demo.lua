-- The demo: fetch an Extruct table and wait for its run to go idle.
--
--   make demo                          against the bundled mock server (no token needed)
--   EXTRUCT_API_TOKEN=... make demo TABLE=tbl_...   against the real API
--
-- Run directly: lua5.4 examples/demo.lua [TABLE_ID] (after `make`).

local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
local _, client, stop_mock, offline = dofile(here .. "/connect.lua")(here)

local function say(fmt, ...) io.stdout:write(fmt:format(...), "\n"); io.stdout:flush() end
local function fail(message, code) io.stderr:write("demo: ", tostring(message), "\n"); os.exit(code or 1) end

-- Against the real API when a token is set, else against the mock server.
local table_id = arg[1] ~= "" and arg[1] or os.getenv("EXTRUCT_TABLE_ID")
local interval
if not offline then
  if not table_id then
    fail("EXTRUCT_API_TOKEN is set, so the demo talks to the real API: name a table,"
      .. " e.g. `make demo TABLE=tbl_...` or `lua5.4 examples/demo.lua tbl_...`", 2)
  end
  interval = 5
  say("Extruct API at %s", client.base_url)
else
  table_id = table_id or "tbl_demo"
  interval = 1
  say("EXTRUCT_API_TOKEN is unset: using the bundled mock Extruct server at %s", client.base_url)
end

local t, err = client:get_table(table_id)
if not t then stop_mock(); fail(err) end
say("Table %s: %q (%s), %d rows, %d columns", t.id, t.name, t.kind, t.status.num_rows, t.status.num_columns)
for _, column in ipairs(t.columns) do
  say("  column %-24s %s", column.config.key, column.config.kind)
end

local started = os.time()
t, err = client:wait_until_idle(table_id, {
  interval = interval,
  timeout = 3600,
  on_progress = function(progress)
    local s = progress.status
    local total = s.num_cells_completed + s.num_cells_in_progress
    say("  %-8s %d/%d cells done (%d%%)", s.run_status, s.num_cells_completed, total,
      total > 0 and math.floor(100 * s.num_cells_completed / total) or 100)
  end,
})
stop_mock()
client:close()
if not t then fail(err) end
say("Idle after %d s: %d cells completed.", os.time() - started, t.status.num_cells_completed)
