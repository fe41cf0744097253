-- Editor stalls: a real headless Neovim runs a 10 ms libuv timer and
-- records the longest gap between its ticks while requests wait on the
-- mock server, whose answers come late. Side by side: the same calls made
-- directly from Neovim's main thread (they block it) and inside
-- extruct.async (they yield to the editor's loop).
--
--   LUA bench/editor.lua [--smoke]      (needs nvim and the LuaJIT build)
local helpers = require("spec.helpers")
local neovim = require("spec.support.neovim")
local q = helpers.shell_quote

local smoke = arg[1] == "--smoke"
local DELAY = smoke and 0.1 or 0.5
local GATHER = smoke and 4 or 20

local SCRIPT = neovim.TICKER .. [=[
local MODE, GATHER = ARG:match("^(%a+) (%d+)$")
GATHER = tonumber(GATHER)
use_checkout()
local extruct = require("extruct")
local client = extruct.new{ retries = 0 }

local steps = {
  function()
    begin("get_table")
    assert(client:get_table("tbl_slow"))
  end,
  function()
    begin("fetch_then_wait")
    assert(client:get_table("tbl_wait"))
    assert(client:wait_until_idle("tbl_wait", { interval = 0.1 }))
  end,
  function()
    begin("gather")
    local fns = {}
    for i = 1, GATHER do fns[i] = function() return assert(client:get_table("tbl_slow")) end end
    extruct.gather(fns, { concurrency = GATHER })
  end,
}

-- Between two steps the editor's loop runs for 50 ms, so the ticker closes
-- the previous step's gap.
if MODE == "async" then
  extruct.async(function()
    for _, step in ipairs(steps) do
      step()
      extruct.sleep(0.05)
    end
  end, function(fine, err) finish(not fine and err or nil) end)
else
  -- each step straight from a timer callback on the main thread
  local i = 0
  local function next_step()
    i = i + 1
    if i > #steps then return finish() end
    local ok, err = pcall(steps[i])
    if not ok then return finish(err) end
    vim.defer_fn(next_step, 50)
  end
  vim.defer_fn(next_step, 0)
end
]=]

local work = os.tmpname()
os.remove(work)
assert(os.execute("mkdir -p " .. q(work)))
local mock = helpers.start_mock()

local function run(mode)
  mock:reset()
  mock:add_table{ id = "tbl_slow", polls = 0 }
  mock:add_table{ id = "tbl_wait", polls = 4 }
  mock:fault{ count = 100000, delay = DELAY, path = "/v1/tables/" }
  local result, out = neovim.run(work, mock, SCRIPT, ("%s %d"):format(mode, GATHER))
  assert(result.error == nil, tostring(result.error) .. "\n" .. out)
  return result.gaps
end

local ok, err = pcall(function()
  local blocking, async = run("main"), run("async")
  print(("== editor stalls in Neovim (LuaJIT): longest gap between 10 ms timer ticks, answers %g s late"):format(DELAY))
  print(("%-34s %18s %18s"):format("scenario", "main thread", "extruct.async"))
  for _, row in ipairs({
    { "get_table", "get_table" },
    { "fetch_then_wait", "get_table + wait_until_idle (4 polls)" },
    { "gather", ("gather of %d get_table"):format(GATHER) },
  }) do
    print(("%-34s %16.0fms %16.0fms"):format(row[2], blocking[row[1]], async[row[1]]))
  end
end)
mock:stop()
os.execute("rm -rf " .. q(work))
assert(ok, err)
