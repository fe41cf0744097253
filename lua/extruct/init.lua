-- extruct: the Lua client for the Extruct API.
--
--   local extruct = require("extruct")
--   local t, err = extruct.get_table("tbl_123")
--
-- The C core (extruct.core) does the HTTP transfer and the JSON decoding;
-- this layer adds the endpoints, the error objects and waiting.

local core = require("extruct.core")
local errors = require("extruct.errors")
local client = require("extruct.client")

local extruct = {
  _VERSION = core._VERSION,
  --- What JSON null decodes to: a NULL light userdata (equal to cjson.null).
  null = core.null,
  Error = errors.Error,
  is_error = errors.is_error,
}

--- A client of its own: extruct.new{ token=, base_url=, timeout=, connect_timeout=, ... }
function extruct.new(opts)
  return client.new(opts)
end

--- Decodes JSON text with the core's converter: value, or nil and a decode error.
function extruct.decode(text)
  if type(text) ~= "string" then
    error("extruct.decode: expected a string, got " .. type(text), 2)
  end
  local value, why = core.decode(text)
  if value == nil then
    return nil, errors.new("decode", why)
  end
  return value
end

--- True when the table's run is over: run_status "idle" and no cell in progress.
function extruct.is_idle(t)
  if type(t) ~= "table" then
    error("extruct.is_idle: expected a table as returned by get_table, got " .. type(t), 2)
  end
  local status = t.status
  if type(status) ~= "table" then return false end
  local in_progress = status.num_cells_in_progress
  return status.run_status == "idle" and (in_progress == nil or in_progress == 0)
end

local WAIT_OPTIONS = {
  interval = function(v) return type(v) == "number" and v > 0 and v < math.huge end,
  timeout = function(v) return type(v) == "number" and v >= 0 and v < math.huge end,
  on_progress = function(v) return type(v) == "function" end,
}
local WAIT_DEFAULTS = { interval = 5, timeout = 900 }

--- Polls the table until it is idle. opts: interval (s, default 5),
--- timeout (s, default 900), on_progress(t) called after every poll.
--- Returns the idle table, or nil and an error (kind "timeout" with
--- err.last, the last table seen, when the time runs out).
function client.Client:wait_until_idle(id, opts)
  client.check_id(id, "wait_until_idle", 2)
  opts = opts or {}
  if type(opts) ~= "table" then
    error("extruct.wait_until_idle: options must be a table, got " .. type(opts), 2)
  end
  for name, value in pairs(opts) do
    local valid = WAIT_OPTIONS[name]
    if valid == nil then
      error(("extruct.wait_until_idle: unknown option '%s'"):format(tostring(name)), 2)
    elseif not valid(value) then
      error(("extruct.wait_until_idle: invalid value for option '%s'"):format(name), 2)
    end
  end
  local interval = opts.interval or WAIT_DEFAULTS.interval
  local timeout = opts.timeout or WAIT_DEFAULTS.timeout
  local started = core.monotime()
  local deadline = started + timeout
  while true do
    local t, err = self:get_table(id)
    if not t then return nil, err end
    if opts.on_progress then opts.on_progress(t) end
    if extruct.is_idle(t) then return t end
    local remaining = deadline - core.monotime()
    if remaining <= 0 then
      local status = type(t.status) == "table" and t.status or {}
      return nil, errors.new("timeout", ("table '%s' was still %s after %g s (%s of %s cells in progress)"):format(
        id, tostring(status.run_status), timeout, tostring(status.num_cells_in_progress),
        tostring((status.num_cells_in_progress or 0) + (status.num_cells_completed or 0))), { last = t })
    end
    core.sleep(math.min(interval, remaining))
  end
end

-- The module-level functions share one client built from the environment
-- (EXTRUCT_API_TOKEN, EXTRUCT_API_URL) on first use.
local default_client
function extruct.default_client()
  if default_client == nil then default_client = client.new() end
  return default_client
end

function extruct.get_table(id)
  client.check_id(id, "get_table", 2)
  return extruct.default_client():get_table(id)
end

function extruct.wait_until_idle(id, opts)
  client.check_id(id, "wait_until_idle", 2)
  return extruct.default_client():wait_until_idle(id, opts)
end

return extruct
