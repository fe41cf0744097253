-- Waiting for runs to end: polling a table's header until its run is idle,
-- one table (wait_until_idle) or many side by side (wait_all).
-- extruct.client installs these methods on every client.

local endpoint = require("extruct.endpoint")
local errors = require("extruct.errors")
local gather = require("extruct.gather")
local poller = require("extruct.poller")
local table_status = require("extruct.status")

local check_id, check_options, misuse = endpoint.check_id, endpoint.check_options, endpoint.misuse
local is_function, with_retry_options = endpoint.is_function, endpoint.with_retry_options
local pass_retry_options, sleep_and_now = endpoint.pass_retry_options, endpoint.sleep_and_now

-- The module-level shortcuts of these methods, on the default client.
---@class extruct
---@field wait_until_idle fun(id: string, opts?: extruct.WaitOptions): extruct.Table?, extruct.Error?
---@field wait_all fun(ids: string[], opts?: extruct.WaitAllOptions): table<string, extruct.Table>?, extruct.Error?

--- The options of wait_until_idle (docs/api.md#clientwait_until_idle).
---@class extruct.WaitOptions: extruct.Options
---@field interval? number Seconds between polls (default 5); the pause after a poll that shows progress
---@field max_interval? number The longest pause (default interval); pauses grow up to it while nothing moves
---@field timeout? number Seconds before giving up (default 900)
---@field on_progress? fun(t: extruct.Table, info: extruct.WaitInfo): boolean? After every poll, the table seen; false cancels

--- The options of wait_all: those of wait_until_idle, timeout for the whole wait.
---@class extruct.WaitAllOptions: extruct.Options
---@field interval? number Seconds between polls of a table (default 5)
---@field max_interval? number The longest pause (default interval)
---@field timeout? number Seconds before giving up, for the whole wait (default 900)
---@field on_progress? fun(t: extruct.Table, info: extruct.WaitInfo): boolean? After every poll of a table (info.id); false stops
---@field concurrency? integer Tables polled at once (default 8)

---@class extruct.Client
local methods = {}

local WAIT_OPTIONS = poller.OPTIONS
local WAIT_DEFAULTS = poller.DEFAULTS.table

-- What a poll can tell apart from the previous one: any change resets the
-- pause to `interval`.
local function progress_mark(t)
  local _, counts = table_status.progress(t)
  local status = type(t.status) == "table" and t.status or {}
  return ("%s %s %s %s"):format(tostring(status.run_status), counts.done, counts.in_progress, counts.failed)
end

-- on_progress's info about a table: its cells done of those of the run.
local function progress_info(t)
  local fraction, counts = table_status.progress(t)
  return { done = counts.done, total = counts.total, fraction = fraction, in_progress = counts.in_progress,
           failed = counts.failed }
end

-- Built from whatever the server sent: a missing or non-numeric count must
-- not turn a timeout into a raised error. `cause` is the transient error of
-- the last poll, when it failed.
local function timeout_error(id, timeout, t, cause, why)
  local message
  if t then
    local status = type(t.status) == "table" and t.status or {}
    local count = poller.count
    local in_progress = count(status.num_cells_in_progress)
    message = ("table '%s' was still %s after %g s (%s of %s cells in progress)"):format(
      errors.show(id), errors.show(status.run_status), timeout, in_progress, in_progress + count(status.num_cells_completed))
  else
    message = ("table '%s': no answer within %g s"):format(errors.show(id), timeout)
  end
  return errors.new("timeout", poller.explain(message, cause, why), { last = t, cause = cause })
end

--- Polls the table until it is idle. opts: interval (s, default 5),
--- max_interval (s, default interval), timeout (s, default 900),
--- on_progress(t, info) after every poll (info: extruct.WaitInfo; returning
--- false cancels), retries, backoff, sleep, now.
--- Returns the idle table, or nil and an error: "timeout" (err.last, the
--- last table seen; err.cause, the last poll's error if it failed),
--- "cancelled" (err.last), or the permanent error of a poll.
---@param id string The table's id
---@param opts? extruct.WaitOptions
---@return extruct.Table? t The idle table
---@return extruct.Error? err Of kind "timeout" or "cancelled", or the permanent error of a poll
function methods:wait_until_idle(id, opts)
  check_id(id, "wait_until_idle")
  opts = check_options(opts, WAIT_OPTIONS, "extruct.wait_until_idle")
  local settings = poller.settings(opts, WAIT_DEFAULTS, "extruct.wait_until_idle")
  return poller.poll(self, opts, settings, {
    id = id,
    fetch = function(deadline) return endpoint.fetch_table(self, id, opts, deadline) end,
    is_done = table_status.is_idle,
    mark = progress_mark,
    progress = progress_info,
    timeout_error = function(t, cause, why) return timeout_error(id, settings.timeout, t, cause, why) end,
    cancelled_error = function(t, interrupted)
      return poller.cancelled_error(("waiting for table '%s'"):format(errors.show(id)), interrupted, { last = t })
    end,
  })
end

local WAIT_ALL_OPTIONS = with_retry_options{
  interval = WAIT_OPTIONS.interval,
  max_interval = WAIT_OPTIONS.max_interval,
  timeout = WAIT_OPTIONS.timeout,
  on_progress = { check = is_function, want = "a function(t, info)" },
  concurrency = { check = endpoint.retry_count, want = "a whole number >= 1" },
}

--- Waits until every table of the list `ids` is idle, polling several at
--- once (extruct.gather). opts: interval, max_interval, timeout (for the
--- whole wait), on_progress(t, info) after every poll of any table
--- (info.id names it; returning false cancels), concurrency (tables polled at once, default 8), and the retry
--- options. Returns a map id -> idle table; or nil and the first failure,
--- whose err.tables (id -> the last table seen) and err.errors (id -> why
--- that table's wait did not end idle) hold what was learned of every table.
---@param ids string[] The tables' ids
---@param opts? extruct.WaitAllOptions
---@return table<string, extruct.Table>? tables id -> the idle table
---@return extruct.Error? err The first failure, with err.id, err.tables and err.errors
function methods:wait_all(ids, opts)
  if type(ids) ~= "table" then
    misuse("extruct.wait_all: expected a list of table ids, got " .. type(ids))
  end
  local list, seen = {}, {}
  for i = 1, #ids do
    check_id(ids[i], "wait_all", ("table id at position %d"):format(i))
    if not seen[ids[i]] then
      seen[ids[i]] = true
      list[#list + 1] = ids[i]
    end
  end
  opts = check_options(opts, WAIT_ALL_OPTIONS, "extruct.wait_all")
  if opts.concurrency == 0 then misuse("extruct.wait_all: option 'concurrency' must be a whole number >= 1") end
  local timeout = poller.settings(opts, WAIT_DEFAULTS, "extruct.wait_all").timeout
  local _, now = sleep_and_now(self, opts)
  local deadline = now() + timeout

  local tables, errs, first, first_id = {}, {}, nil, nil
  local function wait_one(id)
    if first then
      return nil, errors.new("cancelled", ("not waited for: table '%s' failed first"):format(first_id))
    end
    local wait_opts = pass_retry_options(opts, {
      interval = opts.interval,
      max_interval = opts.max_interval,
      timeout = math.max(0, deadline - now()),
      on_progress = function(t, info)
        tables[id] = t
        if first then return false end
        if opts.on_progress then return opts.on_progress(t, info) end
      end,
    })
    local t, err = self:wait_until_idle(id, wait_opts)
    if t then
      tables[id] = t
    elseif err.kind == "cancelled" and first then
      err = errors.new("cancelled", ("stopped waiting for table '%s': table '%s' failed first"):format(id, first_id),
        { last = err.last })
    end
    return t, err
  end
  local fns = {}
  for i, id in ipairs(list) do
    fns[i] = function()
      local t, err = wait_one(id)
      if err then
        errs[id] = err
        if first == nil then first, first_id = err, id end
      end
      return t, err
    end
  end
  local _, raised = gather.run(fns, { concurrency = opts.concurrency or gather.DEFAULT_CONCURRENCY })
  -- A callback that closed the client ends the wait as any use after close
  -- does, at the caller's line (the tasks' own stacks lead nowhere), whether
  -- the other polls then raised or came back cancelled.
  if self._closed then misuse("extruct: the client is closed") end
  if raised ~= nil then error(raised, 0) end
  if first then
    -- the first failure, as it came, with what was learned of every table
    local fields = {}
    for key, value in pairs(first) do fields[key] = value end
    fields.id, fields.tables, fields.errors = first_id, tables, errs
    return nil, errors.new(first.kind, first.message, fields)
  end
  return tables
end

return methods
