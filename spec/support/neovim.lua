-- A real headless Neovim for the specs and the bench: runs a Lua script in
-- `nvim --headless` against the mock server and returns what the script
-- wrote to RESULT as JSON.
--
-- A script starts with ROOT (this checkout), RESULT (the file to write), ARG
-- (its argument), use_checkout() (points package.path/cpath at lua/ and
-- the LuaJIT build) and write_result(result) (writes RESULT and quits)
-- defined. Neovim starts without LUA_PATH/LUA_CPATH (Neovim 0.7
-- crashes with those set, and with luasocket loaded into it).
local helpers = require("spec.helpers")
local cjson = require("cjson")
local q = helpers.shell_quote

local M = {}

local root = helpers.run("pwd"):gsub("%s+$", "")

local PRELUDE = [=[
local ROOT, RESULT, ARG = %q, %q, %q
-- Loads extruct from this checkout: lua/ and the LuaJIT build.
local function use_checkout()
  package.path = ROOT .. "/lua/?.lua;" .. ROOT .. "/lua/?/init.lua;" .. package.path
  package.cpath = ROOT .. "/build/luajit/?.so;" .. package.cpath
end
-- Writes `result` to RESULT as JSON and quits.
local function write_result(result)
  local f = assert(io.open(RESULT, "w"))
  f:write(vim.fn.json_encode(result))
  f:close()
  vim.cmd("qa!")
end
]=]

--- Chunk for a script that measures the editor: a 10 ms libuv timer keeps
--- in result.gaps[name] the longest gap between its ticks while scenario
--- `name` runs (begin(name) starts one, begin(nil) ends measuring); a
--- transfer that blocked the main loop shows as a gap as long as itself.
--- result.stalls[name] is the longest gap less the time the kernel kept
--- the editor's thread waiting for a CPU meanwhile (run-queue time, from
--- /proc/thread-self/schedstat; the whole gap where that file is missing):
--- on a machine whose cores other work saturates, a gap can be the
--- scheduler's doing, while the editor's own work, and any wait of it for
--- the network (a sleep, not run-queue time), still count.
M.TICKER = [=[
local uv = vim.loop
local result = { gaps = {}, stalls = {} }
local scenario, last_tick, last_queued
-- Milliseconds this thread has spent runnable but waiting for a CPU.
local function queued_ms()
  local file = io.open("/proc/thread-self/schedstat", "r")
  if not file then return 0 end
  local waited = (file:read("*l") or ""):match("^%d+ (%d+)")
  file:close()
  return (tonumber(waited) or 0) / 1e6
end
local ticker = uv.new_timer()
ticker:start(10, 10, function()
  local now, queued = uv.hrtime(), queued_ms()
  if scenario and last_tick then
    local gap = (now - last_tick) / 1e6
    if gap > (result.gaps[scenario] or 0) then result.gaps[scenario] = gap end
    local stall = gap - (queued - last_queued)
    if stall > (result.stalls[scenario] or 0) then result.stalls[scenario] = stall end
  end
  last_tick, last_queued = now, queued
end)
local function begin(name)
  scenario, last_tick, last_queued = name, uv.hrtime(), queued_ms()
  if name then result.gaps[name], result.stalls[name] = 0, 0 end
end
-- Writes the result (and any error) and quits.
local function finish(err)
  scenario = nil
  result.error = result.error or (err and tostring(err))
  ticker:stop()
  ticker:close()
  write_result(result)
end
]=]

--- Chunk for a script that drives the plugin (after M.TICKER): start_plugin
--- (settings) puts this checkout on 'runtimepath', sources plugin/extruct.lua
--- as Neovim does at start, and calls setup(settings) when given;
--- scenario(fn) runs fn in a coroutine in which wait(ms) lets the editor run
--- and wait_for(cond, ms, what) waits until cond() is true (an error when
--- it does not become so), then finishes; vim.notify is recorded in
--- result.notes ({ message, level }); lines(buf) is a buffer's lines.
M.PLUGIN = [=[
result.notes = {}
vim.notify = function(message, level)
  result.notes[#result.notes + 1] = { message = tostring(message), level = level }
end
local function start_plugin(settings)
  use_checkout()
  vim.opt.runtimepath:prepend(ROOT)
  vim.cmd("runtime! plugin/extruct.lua")
  if settings then require("extruct.nvim").setup(settings) end
  -- The first use of the plugin loads the module, the C core (libcurl and
  -- its libraries) and the plugin's files: reads from the disk, once a
  -- session, measured here apart from what the plugin does after.
  local started = uv.hrtime()
  require("extruct").new():close()
  for _, name in ipairs({ "table_view", "companies_view", "task_view", "health" }) do
    require("extruct.nvim." .. name)
  end
  result.load_ms = (uv.hrtime() - started) / 1e6
end
local scenario_co
local function resume_scenario()
  local ok, err = coroutine.resume(scenario_co)
  if not ok then finish(err) end
end
local function scenario(fn)
  scenario_co = coroutine.create(function()
    local ok, err = xpcall(fn, debug.traceback)
    finish(not ok and err or nil)
  end)
  resume_scenario()
end
local function wait(ms)
  vim.defer_fn(resume_scenario, ms)
  coroutine.yield()
end
local function wait_for(cond, ms, what)
  local deadline = uv.now() + ms
  while not cond() do
    if uv.now() > deadline then error("timed out waiting for " .. what, 2) end
    wait(10)
  end
end
local function lines(buf)
  return vim.api.nvim_buf_get_lines(buf or 0, 0, -1, false)
end
]=]

--- Runs `script` in Neovim (at most 90 s) in the folder `work`, with the
--- mock's token and URL in its environment (and `env`, "NAME=value ...",
--- when given); returns the decoded result, Neovim's output and its exit
--- status.
function M.run(work, mock, script, argument, env)
  local path, result = work .. "/script.lua", work .. "/result.json"
  os.remove(result)
  helpers.write_file(path, PRELUDE:format(root, result, argument or "") .. script)
  local command = ("cd %s && env -u LUA_PATH -u LUA_CPATH -u LUA_PATH_5_1 -u LUA_CPATH_5_1"
    .. " XDG_STATE_HOME=%s XDG_DATA_HOME=%s EXTRUCT_API_TOKEN=%s EXTRUCT_API_URL=%s %s"
    .. " timeout -k 5 90 nvim --headless -u NONE -i NONE -n --cmd %s </dev/null 2>&1")
    :format(q(work), q(work), q(work), q(mock.token), q(mock.url), env or "", q("luafile " .. path))
  local out, status = helpers.run(command)
  local file = io.open(result, "rb")
  assert(file, ("Neovim wrote no result (exit status %s): %s"):format(tostring(status), out))
  local decoded = cjson.decode(file:read("*a"))
  file:close()
  return decoded, out, status
end

return M
