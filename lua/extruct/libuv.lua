-- A libcurl engine driven by a libuv loop (Neovim's vim.uv): the sockets
-- curl names are watched with poll handles, its timer is a libuv timer, and
-- curl is told when either fires (curl's multi-uv.c, with Lua as the glue).
-- A coroutine whose transfer ended is handed to `schedule` (vim.schedule),
-- so it goes on where the host's whole API is allowed.
--
-- This file is given the loop and the scheduling function by extruct.host;
-- it reads no global of the host itself.

local engines = require("extruct.engines")

local M = {}

local polls, waiting = {}, {} -- fd -> poll handle; transfer id -> coroutine
local timer

local POLL_EVENTS = { ["in"] = "r", out = "w", inout = "rw" }

-- Hands what curl asked for to libuv, and the coroutines whose transfers
-- ended to `resume` through `schedule`. Called after every action on the engine.
local function drive(uv, schedule, resume)
  local e = engines.get("events")
  while true do
    local fd, what = e:next_change()
    if fd == nil then break end
    local handle = polls[fd]
    if what == "remove" then
      if handle then
        polls[fd] = nil
        handle:stop()
        handle:close()
      end
    elseif POLL_EVENTS[what] then
      if not handle then
        handle = assert(uv.new_socket_poll(fd))
        polls[fd] = handle
      end
      handle:start(POLL_EVENTS[what], function(err, events)
        local flags = 0
        if err then
          flags = 4
        else
          if events:find("r", 1, true) then flags = flags + 1 end
          if events:find("w", 1, true) then flags = flags + 2 end
        end
        e:socket_action(fd, flags)
        drive(uv, schedule, resume)
      end)
    end
  end
  local ms = e:next_timer()
  if ms then
    if timer == nil or timer:is_closing() then timer = uv.new_timer() end
    timer:stop()
    if ms >= 0 then
      timer:start(ms, 0, function()
        e:timeout_action()
        drive(uv, schedule, resume)
      end)
    end
  end
  for id in e.next_done, e do
    local co = waiting[id]
    waiting[id] = nil
    -- the main loop, where the whole API is allowed, resumes it
    if co then schedule(function() resume(co) end) end
  end
end

--- One transfer of a core client, waited for by the running coroutine,
--- which yields until the loop has run it: transfer:result()'s values.
function M.transfer(uv, schedule, resume, core_client, method, target, body, credentials)
  local transfer = core_client:start(engines.get("events"), method, target, body, true, credentials)
  waiting[transfer:id()] = coroutine.running()
  drive(uv, schedule, resume)
  repeat coroutine.yield() until transfer:done()
  return transfer:result()
end

--- After a client was closed: its cancelled transfers are reported, so the
--- coroutines waiting for them go on.
function M.after_close(uv, schedule, resume)
  if engines.made("events") then drive(uv, schedule, resume) end
end

return M
