-- Decode throughput: extruct.decode against lua-cjson and dkjson on the
-- generated /v1/tables/{id}/data payloads. The decoders take turns inside
-- one process and each keeps its best time of N rounds (CPU time, os.clock),
-- which is what survives a shared, noisy machine.
--
--   LUA bench/decode.lua [--smoke]
local payload = require("payload")
local extruct = require("extruct")
local cjson = require("cjson")
local dkjson = require("dkjson")

local smoke = arg[1] == "--smoke"

-- rows appended to the header; 4000 rows is about 10 MB
local SIZES = smoke and { 0, 10 } or { 0, 10, 100, 1000, 4000 }
local ROUNDS = smoke and 1 or 7
local DKJSON_ROUNDS = smoke and 1 or 3 -- dkjson takes about a second on the big payload

local decoders = {
  { name = "extruct", decode = extruct.decode },
  { name = "lua-cjson", decode = cjson.decode },
  { name = "dkjson", decode = function(s) return dkjson.decode(s, 1, extruct.null) end },
}

-- Repeats fn until it has run for at least min_time seconds (50 ms below
-- 1 MB, one call above); time per call.
local function time_of(fn, text, min_time)
  local calls, start = 0, os.clock()
  local elapsed
  repeat
    fn(text)
    calls = calls + 1
    elapsed = os.clock() - start
  until elapsed >= min_time
  return elapsed / calls
end

local lua_name = rawget(_G, "jit") and jit.version or _VERSION
print(("== decode on %s (best of %d rounds, CPU time)"):format(lua_name, ROUNDS))
print(("%8s %10s | %12s %12s %12s | %8s %8s"):format("rows", "bytes", "extruct MB/s", "cjson MB/s", "dkjson MB/s",
  "extruct/cjson", "dkjson/cjson"))
for _, rows in ipairs(SIZES) do
  local text = payload.table_data(rows)
  -- every decoder must agree on the value before its speed means anything
  for _, d in ipairs(decoders) do
    local value = d.decode(text)
    assert(#value.columns == #cjson.decode(text).columns and #(value.rows or {}) == rows, d.name)
    assert(rows == 0 or value.rows[rows].id == ("row_%06d"):format(rows), d.name)
  end
  local best = {}
  local min_time = smoke and 0 or (#text > 1e6 and 0 or 0.05)
  for round = 1, math.max(ROUNDS, DKJSON_ROUNDS) do
    for _, d in ipairs(decoders) do
      if round <= (d.name == "dkjson" and DKJSON_ROUNDS or ROUNDS) then
        collectgarbage("collect")
        local t = time_of(d.decode, text, min_time)
        if not best[d.name] or t < best[d.name] then best[d.name] = t end
      end
    end
  end
  local mb = #text / 1e6
  print(("%8d %10d | %12.1f %12.1f %12.1f | %8.2fx %8.2fx"):format(rows, #text,
    mb / best.extruct, mb / best["lua-cjson"], mb / best.dkjson,
    best.extruct / best["lua-cjson"], best.dkjson / best["lua-cjson"]))
end
