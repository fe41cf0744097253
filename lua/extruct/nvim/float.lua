-- Floating windows: a cell's whole answer, a company's profile, the keys
-- of a view. The window takes the cursor, so a source can be reached and
-- opened with gx; q or <Esc> closes it, and so does leaving it.

local config = require("extruct.nvim.config")
local text = require("extruct.nvim.text")

local M = {}

local api = vim.api
local namespace = api.nvim_create_namespace("extruct_float")

local URL = "https?://[^%s%)%]>\"'`]+"

--- The URL under the cursor on `line` (cursor at byte `col`, 0-based),
--- else the line's first URL; nil when the line has none.
function M.url_at(line, col)
  local first
  local at = 1
  while true do
    local s, e = line:find(URL, at)
    if not s then break end
    local url = line:sub(s, e):gsub("[%.,;:]+$", "")
    first = first or url
    if col + 1 >= s and col + 1 <= e then return url end
    at = e + 1
  end
  return first
end

--- Opens url with the setup's open_url, else vim.ui.open (Neovim 0.10+),
--- else the system's opener.
function M.open_url(url)
  local opener = config.settings.open_url
  if opener then return opener(url) end
  if vim.ui and vim.ui.open then return vim.ui.open(url) end
  local program = vim.fn.has("mac") == 1 and "open" or "xdg-open"
  if vim.fn.executable(program) ~= 1 then
    vim.notify(("extruct: cannot open %s: no %s found"):format(url, program), vim.log.levels.WARN)
    return
  end
  vim.fn.jobstart({ program, url }, { detach = true })
end

--- Shows `lines` (highlights: { line, col_start, col_end, group }) in a
--- floating window under the cursor, kept inside the editor; returns its
--- window and buffer.
function M.show(lines, highlights, opts)
  opts = opts or {}
  local buf = api.nvim_create_buf(false, true)
  api.nvim_buf_set_lines(buf, 0, -1, false, lines)
  for _, h in ipairs(highlights or {}) do
    local last = h[3] < 0 and #lines[h[1] + 1] or h[3]
    api.nvim_buf_set_extmark(buf, namespace, h[1], h[2], { end_col = last, hl_group = h[4] })
  end
  vim.bo[buf].modifiable = false
  vim.bo[buf].bufhidden = "wipe"
  vim.bo[buf].filetype = opts.filetype or "extruct"
  local widest = 1
  for _, line in ipairs(lines) do widest = math.max(widest, text.width(line)) end
  local width = math.max(20, math.min(widest, vim.o.columns - 6, 100))
  local wrapped = 0
  for _, line in ipairs(lines) do wrapped = wrapped + math.max(1, math.ceil(text.width(line) / width)) end
  local height = math.max(1, math.min(wrapped, vim.o.lines - 6))
  -- below the cursor, shifted left and above it as far as needed to show whole
  local cursor = api.nvim_win_get_cursor(0)
  local at = vim.fn.screenpos(0, cursor[1], cursor[2] + 1)
  local row, col = at.row, math.max(0, math.min(at.col - 1, vim.o.columns - width - 2))
  if row + height + 2 > vim.o.lines - 1 then row = math.max(0, at.row - height - 3) end
  local win = api.nvim_open_win(buf, true, {
    relative = "editor", row = row, col = col, width = width, height = height,
    style = "minimal", border = "rounded",
  })
  api.nvim_win_call(win, function()
    vim.opt_local.wrap = true
    vim.opt_local.linebreak = true
  end)
  local function close()
    if api.nvim_win_is_valid(win) then api.nvim_win_close(win, true) end
  end
  for _, lhs in ipairs({ "q", "<Esc>" }) do
    vim.keymap.set("n", lhs, close, { buffer = buf, nowait = true, silent = true, desc = "Close" })
  end
  vim.keymap.set("n", "gx", function()
    local url = M.url_at(api.nvim_get_current_line(), api.nvim_win_get_cursor(0)[2])
    if url then M.open_url(url) else vim.notify("extruct: no link on this line", vim.log.levels.WARN) end
  end, { buffer = buf, nowait = true, silent = true, desc = "Open the link under the cursor" })
  api.nvim_create_autocmd("WinLeave", { buffer = buf, once = true, callback = close })
  return win, buf
end

--- ?: a view's keys ({ { lhs, what it does } }) in a floating window.
function M.keys(keys)
  local lines, highlights = {}, {}
  local widest = 0
  for _, key in ipairs(keys) do widest = math.max(widest, #key[1]) end
  for i, key in ipairs(keys) do
    lines[i] = ("%-" .. widest .. "s  %s"):format(key[1], key[2])
    highlights[#highlights + 1] = { i - 1, 0, #key[1], "ExtructKey" }
  end
  return M.show(lines, highlights)
end

--- Lines for a titled section: "Title", then the body lines; the title's
--- highlight goes into `highlights`.
function M.section(lines, highlights, title, body)
  if #lines > 0 then lines[#lines + 1] = "" end
  highlights[#highlights + 1] = { #lines, 0, -1, "ExtructTitle" }
  lines[#lines + 1] = title
  for _, line in ipairs(body) do lines[#lines + 1] = line end
end

--- Numbered source lines: "[1] https://...".
function M.sources(sources)
  local out = {}
  for i, source in ipairs(sources or {}) do
    local url = type(source) == "table" and (source.url or source.link) or source
    out[#out + 1] = ("[%d] %s"):format(i, text.inline(url))
  end
  if #out == 0 then out[1] = "(none)" end
  return out
end

return M
