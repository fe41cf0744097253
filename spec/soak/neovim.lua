-- The soak's Neovim host (spec/soak/run.lua starts it): the plain host's
-- rounds (spec/soak/soak.lua) inside extruct.async in a headless Neovim,
-- every transfer on the editor's libuv loop, and a 10 ms timer that keeps
-- the longest gap between its ticks (the editor's longest stall). The
-- result goes to SOAK_OUT as JSON; anything Neovim prints is the runner's
-- to read.
--
-- Usage: SOAK_ROOT=. SOAK_URL=... SOAK_SECONDS=N SOAK_SEED=N SOAK_OUT=FILE
--        nvim --headless -u NONE -i NONE -n --cmd 'luafile spec/soak/neovim.lua'
local vim = rawget(_G, "vim")
local root = os.getenv("SOAK_ROOT")
package.path = root .. "/lua/?.lua;" .. root .. "/lua/?/init.lua;" .. root .. "/?.lua;" .. package.path
package.cpath = root .. "/build/luajit/?.so;" .. package.cpath

local extruct = require("extruct")
local soak = require("spec.soak.soak")
local uv = vim.loop

local longest_stall_ms, last_tick = 0, uv.hrtime()
local ticker = uv.new_timer()
ticker:start(10, 10, function()
  local now = uv.hrtime()
  longest_stall_ms = math.max(longest_stall_ms, (now - last_tick) / 1e6 - 10)
  last_tick = now
end)

local seed = tonumber(os.getenv("SOAK_SEED"))
extruct.async(function()
  return soak.run_host{ extruct = extruct, url = os.getenv("SOAK_URL"), seconds = tonumber(os.getenv("SOAK_SECONDS")),
                        seed = seed, tag = "n" .. seed .. "-", pid = vim.fn.getpid() }
end, function(ok, result)
  vim.schedule(function()
    ticker:stop()
    ticker:close()
    if ok then
      result.longest_stall_ms = math.floor(longest_stall_ms * 10 + 0.5) / 10
    else
      result = { error = tostring(result) }
    end
    local file = assert(io.open(os.getenv("SOAK_OUT"), "w"))
    file:write(assert(extruct.encode(result)))
    file:close()
    vim.cmd("qa!")
  end)
end)
