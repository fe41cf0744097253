-- What every wait shares with the command line's options for it, in one
-- place that loads nothing else (the command line's help and docs/cli.md
-- are made without the C core): each wait's defaults, and the rule between
-- its intervals. extruct.poller applies them.

local M = {}

--- The defaults of each wait: wait_until_idle and wait_all, wait_deep_search,
--- wait_deep_research (max_interval nil: the interval).
M.DEFAULTS = {
  table = { interval = 5, timeout = 900 },
  deep_search = { interval = 5, max_interval = 30, timeout = 1800 },
  deep_research = { interval = 15, max_interval = 60, timeout = 3600 },
}

--- The rule between a wait's intervals: the longest pause is at least the
--- first. True when `max_interval` (nil: none given) keeps it.
---@param interval number
---@param max_interval? number
---@return boolean
function M.intervals_agree(interval, max_interval)
  return max_interval == nil or max_interval >= interval
end

return M
