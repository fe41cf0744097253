-- A whole workflow through the Lua API: create a table, add rows, run it,
-- wait, rerun what failed, read the answers, export them as CSV, delete it.
--
--   lua5.4 examples/workflow.lua [OUT.csv]   (after `make`)
--
-- Without EXTRUCT_API_TOKEN it runs against a mock Extruct server started
-- for it (no token, no credits); with a token, against the real API, where
-- it spends credits on five cells.

local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
local extruct, client, stop_mock, offline = dofile(here .. "/connect.lua")(here)
local csv = require("extruct.csv")

local function say(fmt, ...) io.stderr:write(fmt:format(...), "\n") end
local function check(value, err)
  if value == nil or value == false then
    stop_mock()
    io.stderr:write("workflow: ", tostring(err), "\n")
    os.exit(1)
  end
  return value
end

say("Extruct API at %s%s", client.base_url, offline and " (the mock server)" or "")

local t = check(client:create_table{
  name = "Workflow example",
  kind = "generic",
  column_configs = {
    { kind = "input", name = "Website", key = "website" },
    { kind = "agent", name = "What they sell", key = "offering", value = {
      agent_type = "research_pro", prompt = "In one sentence, what does {website} sell?", output_format = "text",
    } },
  },
})
say("created table %s", t.id)

local websites = { "acme.com", "globex.com", "initech.com", "umbrella.com", "fail.example" }
local rows = {}
for i, website in ipairs(websites) do rows[i] = { website = website } end
check(client:add_rows(t.id, rows))
local run = check(client:run_table(t.id, { mode = "new" }))
say("run %s: %d cells requested", run.id, run.num_requested_cells)

local wait_options = {
  interval = offline and 0.2 or 5,
  timeout = 1800,
  on_progress = function(progress)
    local fraction, counts = extruct.progress(progress)
    say("  %s, %d/%d cells, %d%%", progress.status.run_status, counts.done, counts.total, math.floor(fraction * 100))
  end,
}
t = check(client:wait_until_idle(t.id, wait_options))
if (t.status.num_cells_failed or 0) > 0 then
  run = check(client:run_table(t.id, { mode = "failed" }))
  say("rerunning %d failed cells", run.num_requested_cells)
  t = check(client:wait_until_idle(t.id, wait_options))
end

-- The answers as CSV: one column per column key, in the table's order.
local keys = {}
for i, column in ipairs(t.columns) do keys[i] = column.config.key end
local out = arg[1] and check(io.open(arg[1], "wb")) or io.stdout
out:write(csv.format_record(keys))
local count = 0
for row, err in client:iter_rows(t.id) do
  check(row, err)
  local fields = {}
  for i, key in ipairs(keys) do
    local answer = extruct.cell(row, key)
    fields[i] = answer ~= nil and tostring(answer) or ""
  end
  out:write(csv.format_record(fields, #keys))
  count = count + 1
end
if out ~= io.stdout then out:close() end
say("exported %d rows", count)

check(client:delete_table(t.id))
say("deleted table %s", t.id)
stop_mock()
client:close()
