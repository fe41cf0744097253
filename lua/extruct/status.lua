-- Reading a table's run status: whether its run is over, and how far it got.
-- Both read a table as get_table returns it and tolerate whatever the
-- server left out.

local M = {}

--- True when the table's run is over: run_status "idle" and no cell in
--- progress (the schema's default for a missing count is 0).
---@param t table A table as get_table returns it
---@return boolean idle
function M.is_idle(t)
  if type(t) ~= "table" then
    error("extruct.is_idle: expected a table as returned by get_table, got " .. type(t), 2)
  end
  local status = t.status
  if type(status) ~= "table" then return false end
  local in_progress = status.num_cells_in_progress
  return status.run_status == "idle" and (in_progress == nil or in_progress == 0)
end

--- The counts extruct.progress reads from a table's status.
---@class extruct.Progress
---@field done number Cells done
---@field in_progress number Cells in progress
---@field total number done + in_progress
---@field failed number Cells that failed

--- How far the table's run has got: the fraction (0..1) of non-input cells
--- done, and the counts it came from { done, in_progress, total, failed }.
--- Missing or non-numeric counts read as 0; with no cells at all the
--- fraction is 1 when the table is idle and 0 while it is not.
---@param t table A table as get_table returns it
---@return number fraction From 0 to 1
---@return extruct.Progress counts
function M.progress(t)
  if type(t) ~= "table" then
    error("extruct.progress: expected a table as returned by get_table, got " .. type(t), 2)
  end
  local status = type(t.status) == "table" and t.status or {}
  local function count(v)
    return (type(v) == "number" and v >= 0 and v < math.huge) and v or 0
  end
  local done = count(status.num_cells_completed)
  local in_progress = count(status.num_cells_in_progress)
  local counts = {
    done = done,
    in_progress = in_progress,
    total = done + in_progress,
    failed = count(status.num_cells_failed),
  }
  if counts.total == 0 then
    return M.is_idle(t) and 1 or 0, counts
  end
  return done / counts.total, counts
end

return M
