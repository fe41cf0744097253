-- busted --helper for `make gc-stress`: sets the garbage collector to its
-- most aggressive setting before any spec runs, then proves it took effect.
-- Userdata (clients, parse-tree guards) are then collected, and their __gc
-- run, soon after they become garbage, in the middle of whatever the specs
-- and the core are doing.
--
-- pause 0: a new cycle starts as soon as one ends; stepmul 1000: the most
-- collector work per byte allocated; on 5.4 a step every 2^1 bytes. The
-- setpause/setstepmul forms set the values as given, where
-- collectgarbage("incremental", 0, ...) would read 0 as "unchanged".
collectgarbage("setpause", 0)
collectgarbage("setstepmul", 1000)
if _VERSION == "Lua 5.4" then collectgarbage("incremental", 0, 0, 1) end
collectgarbage("restart")

-- luacheck: ignore 241 (ballast and keep exist only to be allocated)

-- Proof. With a live heap of about a megabyte, a cycle at the default pause
-- (200) starts only after another megabyte has been allocated (some 27000
-- small tables). A dropped object must here be collected within 5000.
local function allocations_until_collected()
  local ballast = {}
  for i = 1, 20000 do ballast[i] = { i } end
  collectgarbage("collect") -- the pause applies from the end of a cycle on
  local collected = false
  do
    local sentinel = newproxy and newproxy(true) or setmetatable({}, {})
    getmetatable(sentinel).__gc = function() collected = true end
    if not newproxy then setmetatable(sentinel, getmetatable(sentinel)) end
  end
  local allocations, keep = 0, {}
  while not collected and allocations < 5000 do
    allocations = allocations + 1
    keep[allocations % 16 + 1] = { allocations }
  end
  return collected, allocations
end
local collected, allocations = allocations_until_collected()
if not collected then
  error("gc-stress: the collector is not aggressive: a dropped object survived 5000 allocations")
end
print(("# gc-stress: %s: pause 0, stepmul 1000; a dropped object collected after %d small allocations")
  :format(rawget(_G, "jit") and jit.version or _VERSION, allocations))
