-- A libcurl engine driven by a libuv loop (Neovim's vim.uv): where the
-- engine gathers its sockets behind one descriptor (Linux's epoll, kept in
-- step with curl inside the core), one poll handle watches that and the
-- engine dispatches what happened; elsewhere the sockets curl names are
-- watched with a poll handle each. Its timer is a libuv timer, and curl is
-- told when either fires (curl's multi-uv.c, with Lua as the glue). A
-- coroutine whose transfer ended is handed to `schedule` (vim.schedule), so
-- it goes on where the host's whole API is allowed.
--
-- Why gathered: a poll handle on a socket of curl's meets that socket's
-- errors (a reset makes libuv stop the handle with EBADF, which luv prints
-- on the editor's stderr) and its closing (curl closes it, and the number
-- may come back as another socket, before the loop hears of it). The one
-- descriptor has neither.
--
-- This file is given the loop and the scheduling function by extruct.host;
-- it reads no global of the host itself.

local engines = require("extruct.engines")

local M = {}

local polls, waiting = {}, {} -- fd -> { handle, events }; transfer id -> coroutine
local timer
local gathered -- { handle, engine }: the poll handle on the engine's events_fd

local POLL_EVENTS = { ["in"] = "r", out = "w", inout = "rw" }
-- curl's CURL_CSELECT_* bits
local READABLE, WRITABLE, ERROR = 1, 2, 4
local WANTED = { r = READABLE, w = WRITABLE, rw = READABLE + WRITABLE }

local drive

-- A poll handle's callback: what libuv saw on fd goes to curl. A poll error
-- (libuv stops the handle and says EBADF for POLLERR: a reset, a refused
-- connection) is an error event for that socket alone, with the events it
-- was watched for, so curl reads or writes it and meets the socket's own
-- error; the handle watches again if curl still wants it. Nothing is
-- printed: what happened is the transfer's failure to report.
local function on_poll(uv, schedule, resume, e, fd, watch, err, events)
  if polls[fd] ~= watch then return end -- (removed meanwhile)
  local flags = 0
  if err then
    flags = ERROR + WANTED[watch.events]
  else
    if events:find("r", 1, true) then flags = flags + READABLE end
    if events:find("w", 1, true) then flags = flags + WRITABLE end
  end
  e:socket_action(fd, flags)
  if err and polls[fd] == watch then
    watch.handle:start(watch.events, watch.callback)
  end
  drive(uv, schedule, resume)
end

-- Hands what curl asked for to libuv, and the coroutines whose transfers
-- ended to `resume` through `schedule`. Called after every action on the
-- engine. Every change is taken (next_change until nil): the core keeps a
-- socket curl closed open until then, so a poll handle is always stopped
-- and closed before its descriptor is (engine.c).
function drive(uv, schedule, resume)
  local e = engines.get("events")
  if gathered == nil or gathered.engine ~= e then
    if gathered then
      gathered.handle:stop()
      gathered.handle:close()
      gathered = nil
    end
    local fd = e:events_fd()
    local handle = fd and uv.new_poll(fd)
    if handle then
      gathered = { handle = handle, engine = e }
      -- (an epoll descriptor is readable or not: it has no error to report)
      handle:start("r", function()
        e:dispatch()
        drive(uv, schedule, resume)
      end)
    end
  end
  while true do
    local fd, what = e:next_change()
    if fd == nil then break end
    local watch = polls[fd]
    if what == "remove" then
      if watch then
        polls[fd] = nil
        watch.handle:stop()
        watch.handle:close()
      end
    elseif POLL_EVENTS[what] then
      if not watch then
        local handle = uv.new_socket_poll(fd)
        if handle then
          watch = { handle = handle }
          watch.callback = function(err, events) on_poll(uv, schedule, resume, e, fd, watch, err, events) end
          polls[fd] = watch
        end
      end
      if watch then
        watch.events = POLL_EVENTS[what]
        watch.handle:start(watch.events, watch.callback)
      else
        -- (a socket libuv will not watch: curl hears of it as an error on it)
        e:socket_action(fd, ERROR + WANTED[POLL_EVENTS[what]])
      end
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
