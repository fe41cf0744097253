-- The plugin's part of :checkhealth extruct: the Neovim version, whether
-- :Extruct is defined (plugin/extruct.lua found on 'runtimepath', or
-- setup called), the settings in force, where the token comes from (never
-- its value), which picker :Extruct tables hands its list to, and the
-- views open now. lua/extruct/health.lua calls it after its own sections.

local M = {}

-- Whether vim.ui.select is still Neovim's own (a picker plugin replaces it).
local function builtin_select(vim)
  local select = type(vim.ui) == "table" and vim.ui.select
  if type(select) ~= "function" then return nil end
  local info = debug.getinfo(select, "S")
  return info and info.source and info.source:find("vim/ui%.lua$") ~= nil
end

--- Reports through `report` (start, ok, warn, error, info, as
--- lua/extruct/health.lua makes them) on `vim`.
function M.check(report, vim)
  report.start("extruct: the Neovim plugin")
  local api = type(vim.api) == "table" and vim.api or {}
  if type(vim.version) == "function" then
    local v = vim.version()
    local text = ("%d.%d.%d"):format(v.major, v.minor, v.patch)
    if v.major == 0 and v.minor < 7 then
      report.error("Neovim " .. text .. ": the plugin needs 0.7 or later", { "upgrade Neovim" })
    else
      report.ok("Neovim " .. text)
    end
  end
  if type(api.nvim_get_commands) == "function" then
    if api.nvim_get_commands({ builtin = false }).Extruct then
      report.ok(":Extruct is defined")
    else
      report.warn(":Extruct is not defined", {
        "put the repository (or a folder with plugin/extruct.lua and lua/extruct/) on 'runtimepath'"
          .. " before plugins load, or call require(\"extruct.nvim\").setup()",
      })
    end
  end

  local config = require("extruct.nvim.config")
  local s = config.settings
  report.info(("refreshes every %g s while a run moves, up to every %g s while it does not; late after %g s;"
    .. " requests time out after %g s"):format(s.interval, s.max_interval, s.late_after, s.timeout))
  report.info(("pages of %d rows; grid columns at most %d cells wide"):format(s.page_size, s.column_width))
  if s.base_url then report.info("base URL (setup): " .. s.base_url) end
  local source = config.token_source()
  local file = config.token_file()
  if file then
    local handle = io.open(file, "rb")
    local line = handle and handle:read("*l")
    if handle then handle:close() end
    if line and line:find("%S") then
      report.ok("the token comes from token_file " .. file .. " (its value is not shown)")
    else
      report.error("token_file " .. file .. " cannot be read or is empty",
        { "check the file named in setup{ token_file = ... }" })
    end
  elseif source then
    report.ok("the token comes from " .. source .. " (its value is not shown)")
  else
    report.warn("no token: set EXTRUCT_API_TOKEN, or setup{ token_file = ... }")
  end

  local builtin = builtin_select(vim)
  if builtin == true then
    report.info(":Extruct tables picks with Neovim's own vim.ui.select (telescope's or fzf-lua's ui-select"
      .. " take over where installed)")
  elseif builtin == false then
    report.ok(":Extruct tables picks with a vim.ui.select that a plugin replaced")
  end

  -- (no view was opened when the views' module was never loaded)
  local buffer = package.loaded["extruct.nvim.buffer"]
  local open, refreshing = 0, 0
  for _, view in pairs(buffer and buffer.views or {}) do
    open = open + 1
    local state = view.refresher and view.refresher.state
    if state == "fetching" or state == "waiting" then refreshing = refreshing + 1 end
  end
  report.info(("%d view%s open, %d refreshing"):format(open, open == 1 and "" or "s", refreshing))
end

return M
