-- extruct.gather: several functions run side by side, their requests
-- overlapping (extruct.host says how each host runs them).

local endpoint = require("extruct.endpoint")
local host = require("extruct.host")

local M = {}

--- Functions running at once when the caller does not say.
M.DEFAULT_CONCURRENCY = 8

--- Options of extruct.gather.
---@class extruct.GatherOptions
---@field concurrency? integer How many functions run at once (default 8)

--- What one function of extruct.gather returned: `{ n = 1, t }` or
--- `{ n = 2, nil, err }`; `table.unpack(r, 1, r.n)` gives the values back.
---@class extruct.Packed
---@field n integer How many values
---@field [integer] any The values

local misuse = endpoint.misuse

local function check(fns, opts)
  if type(fns) ~= "table" then
    misuse("extruct.gather: expected a list of functions, got " .. type(fns))
  end
  local count = 0
  for key in pairs(fns) do
    if type(key) ~= "number" or key < 1 or key ~= math.floor(key) then
      misuse("extruct.gather: expected a list of functions, found the key " .. tostring(key))
    end
    count = count + 1
  end
  for i = 1, count do
    if type(fns[i]) ~= "function" then
      misuse(("extruct.gather: element %d of the list is a %s, not a function"):format(i, type(fns[i])))
    end
  end
  if opts ~= nil and type(opts) ~= "table" then
    misuse("extruct.gather: options must be a table, got " .. type(opts))
  end
  opts = opts or {}
  for name, value in pairs(opts) do
    if name ~= "concurrency" then
      misuse(("extruct.gather: unknown option '%s'"):format(tostring(name)))
    end
    if type(value) ~= "number" or value < 1 or value ~= math.floor(value) or value == math.huge then
      misuse("extruct.gather: option 'concurrency' must be a whole number >= 1")
    end
  end
  return count, opts.concurrency or M.DEFAULT_CONCURRENCY
end

--- What gather does, without raising what a function raised: returns the
--- results and that error (nil when none raised), so a caller can say
--- where the error belongs. In plain Lua it blocks until all have ended;
--- in a coroutine under Neovim (extruct.async) it yields to the editor
--- meanwhile; under nginx, where cosockets are allowed, each function runs
--- in an ngx.thread. A function that raises an error stops new ones from
--- starting.
function M.run(fns, opts)
  local n, concurrency = check(fns, opts)
  if n == 0 then return {} end
  return host.side_by_side(fns, n, concurrency)
end

--- Runs the functions of fns side by side, their requests and sleeps
--- overlapping, at most opts.concurrency (default 8) at a time; returns what
--- each returned, packed: results[i] is { n = 1, t } or { n = 2, nil, err }.
--- A function that raises stops new ones from starting; once the running
--- ones end, gather raises that error.
---@param fns (fun(): any)[] The functions, a list
---@param opts? extruct.GatherOptions
---@return extruct.Packed[] results results[i] holds what fns[i] returned
function M.gather(fns, opts)
  local results, failure = M.run(fns, opts)
  if failure ~= nil then error(failure, 0) end
  return results
end

return M
