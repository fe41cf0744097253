-- :checkhealth extruct in a real headless Neovim: the module installed as a
-- plugin folder on 'runtimepath' (lua/extruct/*.lua and the LuaJIT build of
-- lua/extruct/core.so), the report read back from the checkhealth buffer.
-- Then extruct.health.check against stand-ins for the reporting functions
-- of the Neovim versions the installed one is not (0.8-0.9, 0.10+).
local helpers = require("spec.helpers")
local q = helpers.shell_quote

local core = require("extruct.core")

local TOKEN = "q7Zr9XkP2mWv4NbT8sLc"

describe(":checkhealth extruct", function()
  local work, plugin

  lazy_setup(function()
    helpers.build_luajit()
    work = helpers.scratch_dir()
    plugin = work .. "/extruct.nvim"
    assert(os.execute(("mkdir -p %s/lua && cp -r lua/extruct %s/lua/ && cp -r plugin %s/"
      .. " && cp build/luajit/extruct/core.so %s/lua/extruct/"):format(q(plugin), q(plugin), q(plugin), q(plugin))))
  end)
  lazy_teardown(function()
    if work then helpers.remove_dir(work) end
  end)

  -- Runs :checkhealth extruct with `folder` on 'runtimepath' and the
  -- environment `env` ("NAME=value ..."); returns the checkhealth buffer's
  -- lines as one text, and Neovim's own output.
  local function checkhealth(folder, env)
    local out_file = work .. "/checkhealth.txt"
    os.remove(out_file)
    local write = ("lua local f = assert(io.open(%q, 'w'))"
      .. " f:write(table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), '\\n')) f:close()"):format(out_file)
    local command = ("cd %s && env -u LUA_PATH -u LUA_CPATH -u LUA_PATH_5_1 -u LUA_CPATH_5_1"
      .. " -u EXTRUCT_API_TOKEN -u EXTRUCT_API_URL XDG_STATE_HOME=%s XDG_DATA_HOME=%s XDG_CONFIG_HOME=%s %s"
      .. " timeout -k 5 60 nvim --headless -u NONE -i NONE -n --cmd %s --cmd 'set loadplugins' -c %s -c %s -c %s"
      .. " </dev/null 2>&1")
      :format(q(work), q(work), q(work), q(work), env or "", q("set runtimepath^=" .. folder),
        q("checkhealth extruct"), q(write), q("qa!"))
    local out, status = helpers.run(command)
    assert.equal(0, status, out)
    local file = io.open(out_file, "rb")
    assert(file, "Neovim wrote no report: " .. out)
    local report = file:read("*a")
    file:close()
    return report, out
  end

  it("finds the check in the plugin folder and reports the core, its path and the versions", function()
    local report = checkhealth(plugin, "EXTRUCT_API_TOKEN=" .. TOKEN)
    assert.is_nil(report:find("No healthcheck found", 1, true), report)
    assert.matches("extruct: require(\"extruct.health\").check()", report, 1, true)
    local lines = {}
    for line in report:gmatch("[^\n]+") do lines[#lines + 1] = line end
    local function has(expected)
      for _, line in ipairs(lines) do
        if line == expected then return true end
      end
      error(("no line %q in the report:\n%s"):format(expected, report), 2)
    end
    has(("  - OK: extruct.core %s loaded from %s/lua/extruct/core.so"):format(core._VERSION, plugin))
    has(("  - OK: extruct %s (the Lua layer) loaded from %s/lua/extruct/init.lua"):format(core._VERSION, plugin))
    has("  - OK: libcurl " .. core.curl_version:match("^libcurl/(%S+)"))
    assert.is_string(core.curl_ssl_version)
    has("  - OK: TLS: " .. core.curl_ssl_version)
    assert.matches("  - INFO: Lua: LuaJIT 2.", report, 1, true)
    has("  - OK: EXTRUCT_API_TOKEN is set (its value is not shown)")
    has("  - INFO: base URL: https://api.extruct.ai (the default)")
    has("  - OK: inside extruct.async: requests and sleeps yield to Neovim's event loop (nvim)")
    -- the plugin: its command (plugin/extruct.lua), where the token comes from
    assert.matches("\n  %- OK: Neovim 0%.%d+%.%d+\n", report)
    has("  - OK: :Extruct is defined")
    has("  - OK: the token comes from EXTRUCT_API_TOKEN (its value is not shown)")
    has("  - INFO: refreshes every 2 s while a run moves, up to every 30 s while it does not; late after 5 s;"
      .. " requests time out after 30 s")
    has("  - INFO: 0 views open, 0 refreshing")
    assert.matches("main thread (a command, a mapping): requests blocking, sleeps blocking", report, 1, true)
    assert.is_nil(report:find("ERROR", 1, true), report)
    assert.is_nil(report:find("WARNING", 1, true), report)
    -- neither the token nor any long piece of it
    for i = 1, #TOKEN - 5 do
      assert.is_nil(report:find(TOKEN:sub(i, i + 5), 1, true), report)
    end
  end)

  it("warns without a token and names a configuration that cannot work, still without the token", function()
    local report = checkhealth(plugin)
    assert.matches("  - WARNING: EXTRUCT_API_TOKEN is not set", report, 1, true)

    report = checkhealth(plugin, "EXTRUCT_API_TOKEN=" .. TOKEN .. " EXTRUCT_API_URL=http://example.com")
    assert.matches("  - INFO: base URL: http://example.com (from EXTRUCT_API_URL)", report, 1, true)
    assert.matches("  - ERROR: requests will fail: extruct: config: the base URL 'http://example.com' is plaintext",
      report, 1, true)
    assert.is_nil(report:find(TOKEN, 1, true), report)
  end)

  it("reports a core that does not load as an error with advice", function()
    local bare = work .. "/no-core.nvim"
    assert(os.execute(("mkdir -p %s/lua && cp -r lua/extruct %s/lua/"):format(q(bare), q(bare))))
    local report = checkhealth(bare)
    assert.matches("  - ERROR: extruct.core (the C module) does not load: ", report, 1, true)
    assert.matches("make LUA=luajit", report, 1, true)
    assert.is_nil(report:find("OK: extruct.core", 1, true), report)
  end)
end)

describe("extruct.health.check", function()
  local health = require("extruct.health")

  -- A stand-in for `vim` whose reporting functions record each call.
  local function fake_vim(shape)
    local calls = {}
    local function recorder(kind)
      return function(message, advice) calls[#calls + 1] = { kind = kind, message = message, advice = advice } end
    end
    local vim = { api = { nvim_get_runtime_file = function() return {} end } }
    if shape == "0.10" then
      vim.health = { start = recorder("start"), ok = recorder("ok"), warn = recorder("warn"),
                     error = recorder("error"), info = recorder("info") }
    elseif shape == "0.8" then
      vim.health = { report_start = recorder("start"), report_ok = recorder("ok"), report_warn = recorder("warn"),
                     report_error = recorder("error"), report_info = recorder("info") }
    end
    return vim, calls
  end

  for _, shape in ipairs{ "0.10", "0.8" } do
    it("reports through vim.health as Neovim " .. shape .. " names it", function()
      local vim, calls = fake_vim(shape)
      health.check(vim)
      local kinds, sections = {}, {}
      for _, call in ipairs(calls) do
        kinds[call.kind] = (kinds[call.kind] or 0) + 1
        if call.kind == "start" then sections[#sections + 1] = call.message end
      end
      assert.same({ "extruct: the module", "extruct: the API", "extruct: waiting in the editor",
        "extruct: the Neovim plugin" }, sections)
      assert.truthy(kinds.ok and kinds.ok >= 3)
      local seen = {}
      for _, call in ipairs(calls) do seen[#seen + 1] = call.kind .. ": " .. call.message end
      seen = table.concat(seen, "\n")
      assert.matches("ok: extruct.core " .. core._VERSION .. " loaded from ", seen, 1, true)
      assert.matches("ok: TLS: " .. core.curl_ssl_version, seen, 1, true)
    end)
  end
end)
