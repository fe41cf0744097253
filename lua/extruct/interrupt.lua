-- Ctrl-C: what SIGINT does while a program waits in extruct.
--
-- By default nothing changes: the host's handler stays (lua.c's raises
-- "interrupted!" once the blocking C call returns, which for a request may
-- be its timeout later). extruct.on_interrupt("cancel") installs the core's
-- handler (src/interrupt.c) instead: the first Ctrl-C ends every request,
-- retry pause, sleep and wait in progress at once, and any begun after it,
-- with a `cancelled` error whose `interrupted` field is true, until the
-- next on_interrupt("cancel"); a second Ctrl-C ends the process (the
-- signal's default action). The command line does this for its run.
--
-- Neovim and nginx handle SIGINT themselves: a library must never take it
-- from them, so "cancel" is refused there (extruct.host says which host
-- this is).

local core = require("extruct.core")
local errors = require("extruct.errors")
local host = require("extruct.host")

local M = {}

--- The words of every error that Ctrl-C caused.
M.WORDS = "interrupted (Ctrl-C)"

--- Whether Ctrl-C came since on_interrupt("cancel"): what is in flight is
--- being cancelled.
M.pending = core.interrupted

--- A `cancelled` error caused by Ctrl-C: `message` (which should say what
--- was interrupted), with err.interrupted = true and `fields`.
function M.error(message, fields)
  local err = errors.new("cancelled", message, fields)
  err.interrupted = true
  return err
end

--- extruct.on_interrupt(action): "cancel" installs the handler (or arms it
--- again after a Ctrl-C, forgetting that one); "default" puts back the one
--- there was before. Returns true; misuse and a host that handles SIGINT
--- itself raise at the caller's line, as does a system that refuses the
--- handler its pipe.
---@param action "cancel"|"default"
---@return true
function M.on_interrupt(action)
  if action ~= "cancel" and action ~= "default" then
    error(("extruct.on_interrupt: expected \"cancel\" or \"default\", got %s"):format(
      type(action) == "string" and ("\"" .. errors.show(action, 40) .. "\"") or type(action)), 2)
  end
  if action == "default" then
    core.interrupt_restore()
    return true
  end
  local owner = host.sigint_owner()
  if owner then
    error(("extruct.on_interrupt: %s handles Ctrl-C (SIGINT) itself, and extruct never takes it from its host;"
      .. " cancel a request there by closing its client"):format(owner), 2)
  end
  local ok, why = core.interrupt_arm()
  if not ok then error("extruct.on_interrupt: " .. why, 2) end
  return true
end

--- For a program that runs commands (the command line): installs the
--- handler for the run unless the host handles SIGINT itself, or the
--- handler is in force already. Returns a function that ends the run's
--- handling (puts back what was there), or nil when nothing was installed.
function M.for_a_run()
  if host.sigint_owner() or core.interrupt_armed() then return nil end
  if not core.interrupt_arm() then return nil end
  return core.interrupt_restore
end

return M
