-- The engines (libcurl multi handles) of this process: one driven by
-- polling (plain Lua, and every call that blocks), one by a host's event
-- loop (Neovim's libuv). Each is made on first use, and made anew in a
-- forked child: the parent's multi handle is not the child's to drive, and
-- a client's connections on it (its pool for that engine) are left behind
-- with it, so a child never reads an answer meant for its parent.

local core = require("extruct.core")

local M = {}

local engines = {}

--- The engine of `kind`: "blocking" or "events" (its sockets gathered
--- behind one descriptor where the system allows: extruct.libuv).
---@param kind "blocking"|"events"
function M.get(kind)
  local e = engines[kind]
  if e == nil or e:forked() then
    e = core.new_engine(kind == "events", true)
    engines[kind] = e
  end
  return e
end

--- The engine of `kind` if one was made, else nil.
function M.made(kind)
  return engines[kind]
end

return M
