-- What keeps a view up to date: one fetch at a time inside extruct.async
-- (its requests yield to the editor), then a libuv timer until the next.
-- The pause between fetches follows the library's waits: `interval` while
-- the work moves, growing x1.5 up to `max_interval` while it does not (or
-- while fetches fail), a server's Retry-After honoured. It stops for good
-- when the work is done, when the view says stop, or on a permanent error;
-- it pauses while the view is hidden. A fetch that goes unanswered for
-- `late_after` seconds is reported as late, every second, so the view can
-- say so while the editor goes on.

local M = {}

local uv = vim.uv or vim.loop

--- How much longer the pause gets after each fetch that shows no change.
M.GROWTH = 1.5

-- The failures that ending the refreshes is right for: asking again would
-- get the same answer (as the library's waits decide).
local PERMANENT = {
  auth = true, payment = true, not_found = true, validation = true, http = true,
  config = true, decode = true, encode = true,
}

--- Whether err ends the refreshes.
function M.is_permanent(err)
  return type(err) ~= "table" or PERMANENT[err.kind] == true
end

local Refresher = {}
Refresher.__index = Refresher

local function close_timer(timer)
  if timer and not timer:is_closing() then
    timer:stop()
    timer:close()
  end
end

--- A refresher. how = {
---   fetch(): inside a coroutine, the fresh value, or nil and an error;
---   apply(value): shows it; returns a mark (a string that changes whenever
---     the work moves on) and whether the work is done;
---   failed(err, first): shows a failed fetch (first: the first of a streak);
---   late(seconds): the fetch under way has had no answer for that long;
---   changed(): the state changed (waiting, fetching, done, stopped...);
---   settings(): { interval, max_interval, late_after } }.
function M.new(how)
  return setmetatable({
    how = how,
    state = "new", -- new | fetching | waiting | done | stopped | failed | paused | closed
    follow = true, -- refreshes go on by themselves (:Extruct stop turns it off)
    failures = 0,
  }, Refresher)
end

function Refresher:_set_state(state)
  self.state = state
  if self.how.changed then self.how.changed(self) end
end

function Refresher:_arm(seconds)
  close_timer(self.timer)
  local timer = uv.new_timer()
  self.timer = timer
  self.next_at = uv.now() + seconds * 1000
  timer:start(math.max(1, math.floor(seconds * 1000 + 0.5)), 0, vim.schedule_wrap(function()
    close_timer(timer)
    if self.timer == timer then
      self.timer = nil
      self:refresh()
    end
  end))
end

function Refresher:_watch_lateness()
  close_timer(self.late_timer)
  local timer = uv.new_timer()
  self.late_timer = timer
  local started = self.started_at
  local late_after = self.how.settings().late_after
  timer:start(math.floor(late_after * 1000 + 0.5), 1000, vim.schedule_wrap(function()
    if self.late_timer ~= timer or self.started_at ~= started or not self.fetching then return end
    self.how.late((uv.hrtime() - started) / 1e9)
  end))
end

--- Fetches now; if a fetch is under way, once more right after it.
function Refresher:refresh()
  if self.state == "closed" then return end
  if self.fetching then
    self.again = true
    return
  end
  close_timer(self.timer)
  self.timer = nil
  self.fetching, self.again = true, false
  self.started_at = uv.hrtime()
  self:_set_state("fetching")
  self:_watch_lateness()
  require("extruct.nvim.buffer").async(self.how.fetch, function(ok, value, err)
    self:_fetched(ok, value, err)
  end)
end

function Refresher:_fetched(ok, value, err)
  self.fetching = false
  close_timer(self.late_timer)
  self.late_timer = nil
  if self.state == "closed" then return end
  local settings = self.how.settings()
  local pause = self.pause or settings.interval
  if not ok then
    -- an error raised inside the fetch: a bug, or the view went away
    self.failures = self.failures + 1
    self.how.failed(setmetatable({ kind = "failed", message = tostring(value) }, require("extruct").Error),
      self.failures == 1)
    return self:_set_state("failed")
  end
  if value == nil then
    self.failures = self.failures + 1
    self.how.failed(err, self.failures == 1)
    if M.is_permanent(err) then return self:_set_state("failed") end
    pause = math.min(pause * M.GROWTH, settings.max_interval)
    if type(err.retry_after) == "number" and err.retry_after > pause then pause = err.retry_after end
  else
    self.failures = 0
    local mark, done = self.how.apply(value)
    if done then
      self.pause = nil
      if self.again then return self:refresh() end
      return self:_set_state("done")
    end
    if mark ~= self.last_mark then
      pause = settings.interval
    else
      pause = math.min(pause * M.GROWTH, settings.max_interval)
    end
    self.last_mark = mark
  end
  self.pause = pause
  if self.again then return self:refresh() end
  if not self.follow then return self:_set_state("stopped") end
  if self.hidden then return self:_set_state("paused") end
  self:_arm(pause)
  self:_set_state("waiting")
end

--- Refreshes now and goes on following the work (after :Extruct stop, R).
function Refresher:start()
  if self.state == "closed" then return end
  self.follow = true
  self.pause = nil
  self:refresh()
end

--- No more refreshes by themselves (one under way still shows its answer).
function Refresher:stop()
  if self.state == "closed" then return end
  self.follow = false
  close_timer(self.timer)
  self.timer = nil
  if not self.fetching then self:_set_state("stopped") end
end

--- The view was hidden (true) or shown again (false): refreshes pause
--- while nobody sees them, and pick up where they were when it comes back.
function Refresher:set_hidden(hidden)
  if self.state == "closed" or self.hidden == hidden then return end
  self.hidden = hidden
  if hidden then
    if self.timer then
      close_timer(self.timer)
      self.timer = nil
      self:_set_state("paused")
    end
  elseif self.state == "paused" and self.follow then
    self:refresh()
  end
end

--- Seconds until the next refresh, or nil when none is planned.
function Refresher:next_in()
  if not self.timer or not self.next_at then return nil end
  return math.max(0, (self.next_at - uv.now()) / 1000)
end

--- Seconds the fetch under way has taken, or nil.
function Refresher:waited()
  if not self.fetching then return nil end
  return (uv.hrtime() - self.started_at) / 1e9
end

--- Words for a view's header about the refreshes, and their highlight
--- group (or nil): refreshing, late, failed, the next one, idle...
--- last_error: the error of the last fetch, when it failed; done_words:
--- what to say once the work is done.
function Refresher:words(last_error, done_words)
  local state = self.state
  if state == "fetching" then
    local waited = self:waited() or 0
    if waited >= self.how.settings().late_after then
      return ("refresh late: no answer for %s s"):format(waited < 10 and ("%.1f"):format(waited)
        or tostring(math.floor(waited))), "ExtructLate"
    end
    return "refreshing…", nil
  end
  if last_error then
    if state == "failed" then
      return ("refresh failed: %s (r retries)"):format(tostring(last_error)), "ExtructError"
    end
    local next_in = self:next_in()
    return ("last refresh failed (%s); next try in %d s"):format(tostring(last_error.kind),
      math.ceil(next_in or 0)), "ExtructError"
  end
  if state == "waiting" then return ("next refresh in %g s"):format(self.pause or 0), nil end
  if state == "done" then return done_words or "done: refreshes stopped", "ExtructIdle" end
  if state == "stopped" then return "stopped (r refreshes)", nil end
  if state == "paused" then return "paused while hidden", nil end
  return "", nil
end

--- Stops everything for good; its timers are closed.
function Refresher:close()
  self.state = "closed"
  close_timer(self.timer)
  close_timer(self.late_timer)
  self.timer, self.late_timer = nil, nil
end

return M
