-- Editor stalls: a real headless Neovim runs a 10 ms libuv timer and
-- records the longest gap between its ticks while requests wait on the
-- mock server, whose answers come late. Side by side: the same calls made
-- directly from Neovim's main thread (they block it) and inside
-- extruct.async (they yield to the editor's loop).
--
--   LUA bench/editor.lua [--smoke]      (needs nvim and the LuaJIT build)
local helpers = require("spec.helpers")
local cjson = require("cjson")
local q = helpers.shell_quote

local smoke = arg[1] == "--smoke"
local DELAY = smoke and 0.1 or 0.5
local GATHER = smoke and 4 or 20

local SCRIPT = [=[
local ROOT, RESULT, MODE, GATHER = %q, %q, %q, %d
local uv = vim.loop
local result = { gaps = {} }
local scenario, last_tick
local ticker = uv.new_timer()
ticker:start(10, 10, function()
  local now = uv.hrtime()
  if scenario and last_tick then
    local gap = (now - last_tick) / 1e6
    if gap > (result.gaps[scenario] or 0) then result.gaps[scenario] = gap end
  end
  last_tick = now
end)
package.path = ROOT .. "/lua/?.lua;" .. ROOT .. "/lua/?/init.lua;" .. package.path
package.cpath = ROOT .. "/build/luajit/?.so;" .. package.cpath
local extruct = require("extruct")
local client = extruct.new{ retries = 0 }

local function finish(err)
  result.error = err and tostring(err)
  ticker:stop()
  ticker:close()
  local f = assert(io.open(RESULT, "w"))
  f:write(vim.fn.json_encode(result))
  f:close()
  vim.cmd("qa!")
end

local function begin(name) scenario, last_tick = name, uv.hrtime() end
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
local root = helpers.run("pwd"):gsub("%s+$", "")

local function run(mode)
  mock:reset()
  mock:add_table{ id = "tbl_slow", polls = 0 }
  mock:add_table{ id = "tbl_wait", polls = 4 }
  mock:fault{ count = 100000, delay = DELAY, path = "/v1/tables/" }
  local script, result = work .. "/script.lua", work .. "/result.json"
  os.remove(result)
  local f = assert(io.open(script, "w"))
  f:write(SCRIPT:format(root, result, mode, GATHER))
  f:close()
  local out = helpers.run(("cd %s && env -u LUA_PATH -u LUA_CPATH -u LUA_PATH_5_1 -u LUA_CPATH_5_1"
    .. " XDG_STATE_HOME=%s XDG_DATA_HOME=%s EXTRUCT_API_TOKEN=%s EXTRUCT_API_URL=%s"
    .. " timeout -k 5 120 nvim --headless -u NONE -i NONE -n --cmd %s </dev/null 2>&1")
    :format(q(work), q(work), q(work), q(mock.token), q(mock.url), q("luafile " .. script)))
  local file = assert(io.open(result, "rb"), "Neovim wrote no result: " .. out)
  local decoded = cjson.decode(file:read("*a"))
  file:close()
  assert(decoded.error == nil, decoded.error)
  return decoded.gaps
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
