-- :checkhealth extruct: whether Neovim loads the module, which libcurl and
-- TLS library it runs on, whether a token is set (never its value), how
-- requests and sleeps wait in the editor, and the plugin
-- (lua/extruct/nvim/health.lua).
--
-- Neovim finds this file as lua/extruct/health.lua on 'runtimepath' and
-- calls check(). Its reporting functions moved over the versions: the
-- Vimscript health#report_* on 0.7, vim.health.report_* on 0.8 and 0.9,
-- vim.health.start/ok/warn/error/info from 0.10 (report_* deprecated).

local M = {}

-- The five reporting functions of the running Neovim, each taking a message
-- (warn and error also a list of advice).
local function reporter(vim)
  local health = vim.health
  if type(health) == "table" and type(health.start) == "function" then
    return health
  end
  if type(health) == "table" and type(health.report_start) == "function" then
    return {
      start = health.report_start, ok = health.report_ok, warn = health.report_warn,
      error = health.report_error, info = health.report_info,
    }
  end
  local fn = vim.fn
  local function with_advice(name)
    return function(message, advice)
      if advice then fn[name](message, advice) else fn[name](message) end
    end
  end
  return {
    start = function(name) fn["health#report_start"](name) end,
    ok = function(message) fn["health#report_ok"](message) end,
    warn = with_advice("health#report_warn"),
    error = with_advice("health#report_error"),
    info = function(message) fn["health#report_info"](message) end,
  }
end

-- Where `require` finds a module in Neovim: 'runtimepath' first (Neovim's
-- own loader), then package.path or package.cpath.
local function module_file(vim, name, c_module)
  local relative = "lua/" .. name:gsub("%.", "/")
  local candidates = c_module and { relative .. ".so" } or { relative .. ".lua", relative .. "/init.lua" }
  for _, candidate in ipairs(candidates) do
    local found = vim.api.nvim_get_runtime_file(candidate, false)[1]
    if found then return found end
  end
  if package.searchpath then
    return package.searchpath(name, c_module and package.cpath or package.path)
  end
  return nil
end

local function lua_version()
  local jit = rawget(_G, "jit")
  if type(jit) == "table" and jit.version then return jit.version end
  return _VERSION
end

--- Reports to :checkhealth. `vim` defaults to Neovim's global.
---@param vim? table Neovim's `vim` (a stand-in in tests)
---@return nil
function M.check(vim)
  vim = vim or rawget(_G, "vim")
  local report = reporter(vim)

  report.start("extruct: the module")
  report.info("Lua: " .. lua_version())
  local loaded, core = pcall(require, "extruct.core")
  if not loaded then
    report.error("extruct.core (the C module) does not load: " .. tostring(core), {
      "Neovim runs LuaJIT (the Lua 5.1 ABI): build for it with `make LUA=luajit` "
        .. "or `luarocks --lua-version 5.1 make`, and put extruct/core.so in a lua/ folder on 'runtimepath'",
      "extruct.core needs libcurl, libcjson and libhttp_parser at run time",
    })
    return
  end
  report.ok(("extruct.core %s loaded from %s"):format(tostring(core._VERSION),
    tostring(module_file(vim, "extruct.core", true) or "a loader of its own")))
  local fine, extruct = pcall(require, "extruct")
  if not fine then
    report.error("the Lua layer (require(\"extruct\")) does not load: " .. tostring(extruct))
    return
  end
  report.ok(("extruct %s (the Lua layer) loaded from %s"):format(tostring(extruct._VERSION),
    tostring(module_file(vim, "extruct", false) or "a loader of its own")))
  if extruct._VERSION ~= core._VERSION then
    report.warn(("the Lua layer is version %s and the C module %s"):format(
      tostring(extruct._VERSION), tostring(core._VERSION)), { "install both from the same release" })
  end
  local curl = tostring(core.curl_version)
  report.ok("libcurl " .. (curl:match("^libcurl/(%S+)") or curl))
  local tls = core.curl_ssl_version
  if tls then
    report.ok("TLS: " .. tls)
  else
    report.warn("libcurl was built without TLS: https:// requests will fail",
      { "install a libcurl built with TLS (Debian: libcurl4 with OpenSSL)" })
  end

  report.start("extruct: the API")
  local token = os.getenv("EXTRUCT_API_TOKEN")
  if token ~= nil and token ~= "" then
    report.ok("EXTRUCT_API_TOKEN is set (its value is not shown)")
  else
    report.warn("EXTRUCT_API_TOKEN is not set: the module-level functions will return a `config` error", {
      "set EXTRUCT_API_TOKEN in Neovim's environment, or pass one: extruct.new{ token = ... }",
    })
  end
  local made, client = pcall(extruct.new)
  if made then
    report.info("base URL: " .. tostring(client.base_url)
      .. (os.getenv("EXTRUCT_API_URL") and " (from EXTRUCT_API_URL)" or " (the default)"))
    -- A configuration that cannot work makes every request fail without
    -- sending anything; its message never holds the token.
    local problem = client._config_error
    if token ~= nil and token ~= "" and problem ~= nil then
      report.error("requests will fail: " .. tostring(problem))
    end
    client:close()
  else
    report.error("extruct.new() raised: " .. tostring(client))
  end

  report.start("extruct: waiting in the editor")
  local host = require("extruct.host")
  local main_transport, main_sleep = host.request_strategy(), host.sleep_strategy()
  report.info(("on Neovim's main thread (a command, a mapping): requests %s, sleeps %s%s"):format(
    main_transport, main_sleep, (main_transport == "blocking" or main_sleep == "blocking")
      and " (the editor freezes while they last: run them inside extruct.async)" or ""))
  local transport, sleep
  local co = coroutine.create(function() transport, sleep = host.request_strategy(), host.sleep_strategy() end)
  local ran, why = coroutine.resume(co)
  if not ran then
    report.error("could not ask how a coroutine waits: " .. tostring(why))
  elseif transport == "nvim" and sleep == "nvim" then
    report.ok("inside extruct.async: requests and sleeps yield to Neovim's event loop (nvim)")
  else
    report.warn(("inside extruct.async: requests %s, sleeps %s"):format(tostring(transport), tostring(sleep)), {
      "this Neovim lacks what yielding needs (vim.uv or vim.loop with new_socket_poll, vim.schedule, vim.defer_fn)",
    })
  end

  require("extruct.nvim.health").check(report, vim)
end

return M
