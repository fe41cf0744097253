-- The buffers the views draw in: named after what made them
-- (extruct://table/tbl_123), not modifiable, not files; drawn by replacing
-- only the lines that changed, so the cursor stays where it was.

local M = {}

local api = vim.api

M.namespace = api.nvim_create_namespace("extruct")

--- The views of the open buffers: buffer number -> view.
M.views = {}

--- The buffer named `name`, if one is loaded.
function M.find(name)
  for _, number in ipairs(api.nvim_list_bufs()) do
    if api.nvim_buf_is_loaded(number) and api.nvim_buf_get_name(number) == name then return number end
  end
  return nil
end

--- A new view buffer named `name`, shown in the current window;
--- `filetype` is set (highlighting, ftplugins).
function M.create(name, filetype)
  local buf = api.nvim_create_buf(true, true)
  api.nvim_buf_set_name(buf, name)
  local bo = vim.bo[buf]
  bo.buftype = "nofile"
  bo.bufhidden = "hide"
  bo.swapfile = false
  bo.modifiable = false
  bo.filetype = filetype
  api.nvim_set_current_buf(buf)
  M.window_options()
  -- and in any window that shows it later
  api.nvim_create_autocmd("BufWinEnter", { buffer = buf, callback = M.window_options })
  return buf
end

--- The current window's options for a view, local to it (:setlocal): a
--- grid is read unwrapped, without line numbers.
function M.window_options()
  vim.opt_local.wrap = false
  vim.opt_local.number = false
  vim.opt_local.relativenumber = false
  vim.opt_local.list = false
end

--- Shows `lines` in buf, replacing only the block between what stays the
--- same at its start and at its end (a block of as many lines as before
--- leaves the cursor where it was); highlights = { { line (0-based),
--- col_start, col_end (bytes, -1 for the end), group } } replace the old ones.
function M.draw(buf, lines, highlights)
  if not api.nvim_buf_is_valid(buf) then return end
  local old = api.nvim_buf_get_lines(buf, 0, -1, false)
  local same_start, same_end = 0, 0
  while same_start < #old and same_start < #lines and old[same_start + 1] == lines[same_start + 1] do
    same_start = same_start + 1
  end
  while same_end < #old - same_start and same_end < #lines - same_start
    and old[#old - same_end] == lines[#lines - same_end] do
    same_end = same_end + 1
  end
  if same_start < #old or same_start < #lines then
    local bo = vim.bo[buf]
    bo.modifiable = true
    api.nvim_buf_set_lines(buf, same_start, #old - same_end, false, { unpack(lines, same_start + 1, #lines - same_end) })
    bo.modifiable = false
    bo.modified = false
  end
  api.nvim_buf_clear_namespace(buf, M.namespace, 0, -1)
  for _, h in ipairs(highlights or {}) do
    local line, first, last, group = h[1], h[2], h[3], h[4]
    if last < 0 then last = #lines[line + 1] end
    if last > first then
      api.nvim_buf_set_extmark(buf, M.namespace, line, first, { end_col = last, hl_group = group, priority = 200 })
    end
  end
end

--- fn, made to tell an error it raises through vim.notify, once, in one
--- line and without a stack trace (a bug should not bury the editor in
--- tracebacks every refresh).
function M.safely(fn)
  return function(...)
    local ok, err = pcall(fn, ...)
    if not ok then
      vim.notify("extruct: " .. tostring(err):gsub("\n.*", ""), vim.log.levels.ERROR, { title = "extruct" })
    end
  end
end

--- Maps `lhs` in normal mode in buf to fn.
function M.map(buf, lhs, fn, desc)
  vim.keymap.set("n", lhs, M.safely(fn), { buffer = buf, nowait = true, silent = true, desc = desc })
end

--- extruct.async(fn, on_done), on_done made safe (M.safely).
function M.async(fn, on_done)
  return require("extruct").async(fn, M.safely(on_done))
end

--- The view of buffer `buf` (default: the current one), if it is one.
function M.view(buf)
  if buf == nil or buf == 0 then buf = api.nvim_get_current_buf() end
  return M.views[buf]
end

--- Registers view as the view of view.buf, and forgets it when the
--- buffer goes: its close() is called once the buffer is unloaded or
--- wiped. view.on_hidden(hidden) learns when no window shows it any more.
function M.attach(view)
  local buf = view.buf
  M.views[buf] = view
  local group = api.nvim_create_augroup("extruct_view_" .. buf, { clear = true })
  local function gone()
    if M.views[buf] == view then M.views[buf] = nil end
    pcall(api.nvim_del_augroup_by_id, group)
    view:close()
  end
  api.nvim_create_autocmd({ "BufWipeout", "BufUnload", "BufDelete" }, { group = group, buffer = buf, callback = gone })
  if view.on_hidden then
    api.nvim_create_autocmd("BufWinLeave", {
      group = group, buffer = buf,
      callback = function()
        -- the window still shows it while this runs: look once it is gone
        vim.schedule(function()
          if M.views[buf] == view and #vim.fn.win_findbuf(buf) == 0 then view:on_hidden(true) end
        end)
      end,
    })
    api.nvim_create_autocmd("BufWinEnter", {
      group = group, buffer = buf,
      callback = function() view:on_hidden(false) end,
    })
  end
end

return M
