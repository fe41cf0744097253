-- Encode throughput: extruct.encode against lua-cjson and dkjson on the
-- values of the generated /v1/tables/{id}/data payloads (decode.lua's
-- texts, decoded once by extruct.decode, as a program holds them). Every
-- encoder takes the same value; the encoders take turns inside one process
-- and each keeps its best time of N rounds (CPU time, os.clock).
--
--   LUA bench/encode.lua [--smoke]
local payload = require("payload")
local extruct = require("extruct")
local cjson = require("cjson")
local dkjson = require("dkjson")

local smoke = arg[1] == "--smoke"

-- rows appended to the header; 4000 rows is about 10 MB of JSON
local SIZES = smoke and { 0, 10 } or { 0, 10, 100, 1000, 4000 }
local ROUNDS = smoke and 1 or 7
local DKJSON_ROUNDS = smoke and 1 or 3

local function dkjson_null(_, value, _, message)
  if value == extruct.null then return "null" end
  return nil, message
end

local encoders = {
  { name = "extruct", encode = extruct.encode },
  { name = "lua-cjson", encode = cjson.encode },
  -- dkjson's null is a table of its own: extruct.null goes through its exception hook
  { name = "dkjson", encode = function(v) return dkjson.encode(v, { exception = dkjson_null }) end },
}

-- Repeats fn until it has run for at least min_time seconds (50 ms below
-- 1 MB, one call above); time per call. The clock is read after batches of
-- calls that double up to 1024: os.clock asks the kernel (about as long as
-- encoding a small value), and that cost is no encoder's.
local function time_of(fn, value, min_time)
  local batch, calls, start = 1, 0, os.clock()
  local elapsed
  repeat
    for _ = 1, batch do fn(value) end
    calls = calls + batch
    elapsed = os.clock() - start
    if batch < 1024 then batch = batch * 2 end
  until elapsed >= min_time
  return elapsed / calls
end

-- Whether two decoded values are equal, tables compared in depth.
local function same(a, b)
  if type(a) ~= "table" or type(b) ~= "table" then return a == b end
  for k, v in pairs(a) do
    if not same(v, b[k]) then return false end
  end
  for k in pairs(b) do
    if a[k] == nil then return false end
  end
  return true
end

local lua_name = rawget(_G, "jit") and jit.version or _VERSION
print(("== encode on %s (best of %d rounds, CPU time)"):format(lua_name, ROUNDS))
print(("%8s %10s | %12s %12s %12s | %8s %8s"):format("rows", "bytes", "extruct MB/s", "cjson MB/s", "dkjson MB/s",
  "extruct/cjson", "dkjson/cjson"))
for _, rows in ipairs(SIZES) do
  local text = payload.table_data(rows)
  local value = assert(extruct.decode(text))
  -- every encoder must write the value it was given before its speed means
  -- anything: lua-cjson reads each output back to what it reads the payload as
  local expected = cjson.decode(text)
  for _, e in ipairs(encoders) do
    assert(same(cjson.decode(assert(e.encode(value))), expected), e.name .. " wrote another value")
  end
  local best = {}
  local min_time = smoke and 0 or (#text > 1e6 and 0 or 0.05)
  -- the order turns each round: whoever runs after dkjson finds the caches cold
  for round = 1, math.max(ROUNDS, DKJSON_ROUNDS) do
    for turn = 0, #encoders - 1 do
      local e = encoders[(round + turn) % #encoders + 1]
      if round <= (e.name == "dkjson" and DKJSON_ROUNDS or ROUNDS) then
        collectgarbage("collect")
        local t = time_of(e.encode, value, min_time)
        if not best[e.name] or t < best[e.name] then best[e.name] = t end
      end
    end
  end
  -- MB/s of the compact JSON each wrote (lua-cjson's length: all write the same value)
  local mb = #cjson.encode(value) / 1e6
  print(("%8d %10d | %12.1f %12.1f %12.1f | %8.2fx %8.2fx"):format(rows, #text,
    mb / best.extruct, mb / best["lua-cjson"], mb / best.dkjson,
    best.extruct / best["lua-cjson"], best.dkjson / best["lua-cjson"]))
end
