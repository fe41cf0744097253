-- Polling until something the server works on is finished: a table's run,
-- a Deep Search, a Deep Research task. Every wait is this one loop, so each
-- keeps the same promises: a deadline on the monotonic clock kept to within
-- one request, pauses that grow while nothing moves, on_progress(item,
-- info) after every poll (returning false cancels), transient failures
-- ridden out as missed polls, a permanent one ending the wait at once, and
-- Ctrl-C (where extruct handles it: extruct.interrupt) too.

local endpoint = require("extruct.endpoint")
local errors = require("extruct.errors")
local interrupt = require("extruct.interrupt")
local retry = require("extruct.retry")
local waits = require("extruct.waits")

local M = {}

--- The options every wait takes, with the retry options.
M.OPTIONS = endpoint.with_retry_options{
  interval = { check = endpoint.positive_number, want = "a positive number of seconds" },
  max_interval = { check = endpoint.positive_number, want = "a positive number of seconds" },
  timeout = { check = endpoint.non_negative_number, want = "a number of seconds >= 0" },
  on_progress = { check = endpoint.is_function, want = "a function(item, info)" },
}

--- How much longer the pause gets after each poll that shows no progress.
M.INTERVAL_GROWTH = 1.5

--- What every wait hands on_progress as its second argument, after the
--- table or task it just fetched: the same fields for every wait (a task's
--- own counters are added by its wait: extruct.DeepSearchProgress,
--- extruct.DeepResearchProgress).
---@class extruct.WaitInfo
---@field id string The table's or task's id
---@field polls integer Polls that fetched it so far, this one included
---@field elapsed number Seconds since the wait began
---@field done number Cells done (a table), results found (a Deep Search), 1 once done (a Deep Research task)
---@field total number Cells of the run (a table), results asked for (a Deep Search), 1 (a Deep Research task)
---@field fraction number done / total, from 0 to 1 (1 once the wait is over)

---@class extruct.TaskWaitOptions: extruct.Options
---@field interval? number seconds between polls while the work moves
---@field max_interval? number the longest pause while nothing moves
---@field timeout? number seconds before giving up
---@field on_progress? fun(task: table, info: extruct.WaitInfo): boolean? after every poll; false cancels

---@class extruct.WaitSettings
---@field interval number seconds between polls while something moves
---@field max_interval number the longest pause
---@field timeout number seconds before the wait gives up

--- The defaults of each wait (extruct.waits: the command line's too).
M.DEFAULTS = waits.DEFAULTS

--- A wait's interval, max_interval and timeout: the caller's, else the
--- wait's `defaults` ({ interval, max_interval (default: interval),
--- timeout }); a default max_interval below the caller's interval is
--- raised to it. A max_interval below the interval is misuse.
---@param opts table options already checked against M.OPTIONS
---@param defaults { interval: number, max_interval: number?, timeout: number }
---@param where string the function's name in messages, e.g. "extruct.wait_until_idle"
---@return extruct.WaitSettings
function M.settings(opts, defaults, where)
  local interval = opts.interval or defaults.interval
  local max_interval = opts.max_interval or math.max(defaults.max_interval or interval, interval)
  if not waits.intervals_agree(interval, max_interval) then
    endpoint.misuse(("%s: max_interval (%g) must be >= interval (%g)"):format(where, max_interval, interval))
  end
  return { interval = interval, max_interval = max_interval, timeout = opts.timeout or defaults.timeout }
end

--- Polls until `how.is_done(value)`. how = {
---   id: what is polled, for on_progress's info.id;
---   fetch(deadline): one poll: the value, or nil and an error (its own
---     retries must not pause past `deadline`);
---   is_done(value): whether the wait is over;
---   failure(value) (optional): an error when the value says the work
---     ended and failed, else nil;
---   mark(value): a string that changes whenever the work moves on;
---   progress(value): { done, total, fraction, ... }: how far the work got,
---     on_progress's info (to which id, polls and elapsed are added);
---   timeout_error(last, cause, why): the error of a deadline passed (last:
---     the last value seen or nil; cause: the last poll's transient error
---     or nil; why: more words or nil);
---   cancelled_error(last, interrupted): the error of on_progress
---     returning false, or (interrupted true) of Ctrl-C (extruct.interrupt) }.
--- opts: on_progress, sleep and now (the client's when absent).
--- Returns the finished value, or nil and an error.
---@param client table the client polling
---@param opts table the wait's options (on_progress, sleep, now)
---@param settings extruct.WaitSettings
---@param how table
---@return any value
---@return extruct.Error? err
function M.poll(client, opts, settings, how)
  local sleep, now = endpoint.sleep_and_now(client, opts)
  local interval, max_interval = settings.interval, settings.max_interval
  local started = now()
  local deadline = started + settings.timeout
  local pause = interval
  local last, last_mark, cause
  local polls = 0
  while true do
    -- A poll retries transient failures as any GET does, but never past the
    -- deadline; one that still fails is a missed poll, not the end.
    local value, err = how.fetch(deadline)
    if value then
      last, cause = value, nil
      polls = polls + 1
      local verdict
      if opts.on_progress then
        local info = how.progress(value)
        info.id, info.polls, info.elapsed = how.id, polls, now() - started
        verdict = opts.on_progress(value, info)
      end
      if how.is_done(value) then return value end
      local failed = how.failure and how.failure(value)
      if failed then return nil, failed end
      if verdict == false then return nil, how.cancelled_error(value) end
      local mark = how.mark(value)
      if mark ~= last_mark then
        pause = interval
      else
        pause = math.min(pause * M.INTERVAL_GROWTH, max_interval)
      end
      last_mark = mark
    elseif err.interrupted then
      return nil, how.cancelled_error(last, true)
    elseif retry.is_transient(err) then
      cause = err
      pause = math.min(pause * M.INTERVAL_GROWTH, max_interval)
    else
      return nil, err
    end
    local remaining = deadline - now()
    if remaining <= 0 then return nil, how.timeout_error(last, cause) end
    local next_pause = pause
    if cause and cause.retry_after then
      if cause.retry_after > remaining then
        return nil, how.timeout_error(last, cause,
          ("the server asked to wait %g s, past the deadline"):format(cause.retry_after))
      end
      next_pause = math.max(pause, cause.retry_after)
    end
    sleep(math.min(next_pause, remaining))
    if interrupt.pending() then return nil, how.cancelled_error(last, true) end
  end
end

--- Polls an Extruct task (Deep Search, Deep Research) until its status is
--- "done". Every error carries the task seen last (err.task, err.last): a
--- task that ended "failed" is a `failed` error, the deadline a `timeout`
--- (with err.cause, the last poll's error if it failed), on_progress
--- returning false `cancelled`. task = {
---   id, subject: the task's id, and the task in messages ("Deep Search 'ds_1'");
---   fetch(deadline), mark(task), progress(task): as for M.poll;
---   failed(task): the failure message's tail and extra error fields;
---   state(task): what a timeout message says in brackets }.
---@param client table the client polling
---@param opts table the wait's options (on_progress, sleep, now)
---@param settings extruct.WaitSettings
---@param task table
---@return table|nil task the done task
---@return extruct.Error? err
function M.wait_for_task(client, opts, settings, task)
  local subject = task.subject
  return M.poll(client, opts, settings, {
    id = task.id,
    fetch = task.fetch,
    is_done = function(value) return value.status == "done" end,
    failure = function(value)
      if value.status ~= "failed" then return nil end
      local tail, extra = task.failed(value)
      local fields = { task = value, last = value }
      for k, v in pairs(extra or {}) do fields[k] = v end
      return errors.new("failed", subject .. " failed" .. tail, fields)
    end,
    mark = task.mark,
    progress = task.progress,
    timeout_error = function(last, cause, why)
      local message
      if last then
        message = ("%s was still %s after %g s (%s)"):format(
          subject, errors.show(last.status), settings.timeout, task.state(last))
      else
        message = ("%s: no answer within %g s"):format(subject, settings.timeout)
      end
      return errors.new("timeout", M.explain(message, cause, why), { task = last, last = last, cause = cause })
    end,
    cancelled_error = function(last, interrupted)
      return M.cancelled_error("waiting for " .. subject, interrupted, { task = last, last = last })
    end,
  })
end

--- The `cancelled` error of a wait: "<waiting> was cancelled by
--- on_progress", or "<waiting> was interrupted (Ctrl-C)" with
--- err.interrupted when `interrupted`; with `fields`.
function M.cancelled_error(waiting, interrupted, fields)
  if interrupted then return interrupt.error(("%s was %s"):format(waiting, interrupt.WORDS), fields) end
  return errors.new("cancelled", waiting .. " was cancelled by on_progress", fields)
end

--- A timeout error's message tail: `why`, and the last poll's error.
function M.explain(message, cause, why)
  if why then message = message .. "; " .. why end
  if cause then message = message .. "; the last poll failed: " .. cause.kind .. ": " .. cause.message end
  return message
end

--- A count read from the server's answer: a finite number >= 0, else 0.
function M.count(v)
  return (type(v) == "number" and v >= 0 and v < math.huge) and v or 0
end

--- The words for a task in messages: `what` 'id'.
function M.subject(what, id)
  return ("%s '%s'"):format(what, errors.show(id))
end

return M
