-- The plugin's settings (require("extruct.nvim").setup{...}) and the
-- clients made from them. The token is kept in this file's locals only:
-- never in the settings table others read, a buffer or a message.

local M = {}

--- The options of require("extruct.nvim").setup.
---@class extruct.nvim.Options
---@field token? string the API token (default: EXTRUCT_API_TOKEN)
---@field token_file? string a file whose first line is the token
---@field base_url? string the API's address (default: EXTRUCT_API_URL, else the API's own)
---@field interval? number seconds between refreshes while a run moves (default 2)
---@field max_interval? number the longest pause while nothing moves (default 30)
---@field page_size? integer rows fetched at a time (default 50)
---@field column_width? integer the widest a grid column gets (default 30)
---@field timeout? number seconds a request may take (default 30)
---@field late_after? number seconds without an answer before a refresh is said to be late (default 5)
---@field open_url? fun(url: string) how gx opens a link

local DEFAULTS = {
  base_url = nil, -- EXTRUCT_API_URL, else the API's own
  interval = 2, -- seconds between refreshes while a run moves
  max_interval = 30, -- the longest pause while nothing moves
  page_size = 50, -- rows (companies, results) fetched at a time
  column_width = 30, -- the widest a grid column gets, in screen cells
  timeout = 30, -- seconds a request may take
  late_after = 5, -- seconds without an answer before a view says its refresh is late
  open_url = nil, -- function(url): how gx opens a link (default: vim.ui.open, else xdg-open / open)
}

local function positive(v) return type(v) == "number" and v > 0 and v < math.huge end
local function whole(min, max)
  return function(v) return type(v) == "number" and v == math.floor(v) and v >= min and v <= max end
end
local function non_empty(v) return type(v) == "string" and v ~= "" end

local CHECKS = {
  token = { non_empty, "a non-empty string" },
  token_file = { non_empty, "a file name" },
  base_url = { non_empty, "a URL" },
  interval = { positive, "a positive number of seconds" },
  max_interval = { positive, "a positive number of seconds" },
  page_size = { whole(1, 1000), "a whole number from 1 to 1000" },
  column_width = { whole(4, 1000), "a whole number from 4 to 1000" },
  timeout = { positive, "a positive number of seconds" },
  late_after = { positive, "a positive number of seconds" },
  open_url = { function(v) return type(v) == "function" end, "a function" },
}

local token, token_file

local function copy_defaults()
  local settings = {}
  for k, v in pairs(DEFAULTS) do settings[k] = v end
  return settings
end

--- The settings in force (read only; the token is not among them).
M.settings = copy_defaults()

--- Where the token comes from, in words that never hold it.
function M.token_source()
  if token then return "setup{ token = ... }" end
  if token_file then return "token_file " .. token_file end
  local env = os.getenv("EXTRUCT_API_TOKEN")
  if env and env ~= "" then return "EXTRUCT_API_TOKEN" end
  return nil
end

--- The token file named by setup, if any.
function M.token_file() return token_file end

--- Replaces the settings: the defaults, then `opts`. Misuse (an unknown
--- option, a value of the wrong type) raises at the caller of `setup`.
function M.setup(opts, level)
  level = (level or 1) + 1
  if opts ~= nil and type(opts) ~= "table" then
    error("extruct.nvim.setup: expected a table of options, got " .. type(opts), level)
  end
  opts = opts or {}
  for name, value in pairs(opts) do
    local check = CHECKS[name]
    if not check then
      local known = {}
      for key in pairs(CHECKS) do known[#known + 1] = key end
      table.sort(known)
      error(("extruct.nvim.setup: unknown option '%s' (the options: %s)"):format(tostring(name),
        table.concat(known, ", ")), level)
    end
    if not check[1](value) then
      error(("extruct.nvim.setup: option '%s' must be %s, got %s"):format(name, check[2],
        name == "token" and type(value) or (type(value) == "string" and ("%q"):format(value) or tostring(value))),
        level)
    end
  end
  local settings = copy_defaults()
  for name, value in pairs(opts) do
    if name ~= "token" and name ~= "token_file" then settings[name] = value end
  end
  if opts.max_interval == nil then settings.max_interval = math.max(settings.max_interval, settings.interval) end
  if settings.max_interval < settings.interval then
    error(("extruct.nvim.setup: max_interval (%g) must be >= interval (%g)"):format(settings.max_interval,
      settings.interval), level)
  end
  token, token_file = opts.token, opts.token_file
  M.settings = settings
  return true
end

-- The token of token_file: its first line, trimmed; or nil and an error.
local function read_token_file(extruct)
  local file, why = io.open(token_file, "rb")
  local text = file and file:read("*l")
  if file then file:close() end
  text = text and text:match("^%s*(.-)%s*$")
  if not text or text == "" then
    return nil, setmetatable({
      kind = "config",
      message = ("cannot read a token from token_file %s: %s"):format(token_file, why or "it is empty"),
    }, extruct.Error)
  end
  return text
end

--- A new client from the settings, or nil and an error (a token file that
--- cannot be read). A missing token is not an error here: the client's
--- requests return the `config` error that says so.
function M.client(extruct)
  local secret = token
  if not secret and token_file then
    local err
    secret, err = read_token_file(extruct)
    if not secret then return nil, err end
  end
  return extruct.new{ token = secret, base_url = M.settings.base_url, timeout = M.settings.timeout }
end

return M
