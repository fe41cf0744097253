-- What the examples share: the module from this checkout, and a client for
-- the real API when EXTRUCT_API_TOKEN is set, else for a mock Extruct
-- server started on a free loopback port (stopped by the returned function).
--
--   local extruct, client, stop, offline = dofile(here .. "/connect.lua")(here)

return function(here)
  local lua_name = os.getenv("LUA") or (rawget(_G, "jit") and "luajit") or ("lua" .. _VERSION:match("%d+%.%d+"))
  package.path = here .. "/../lua/?.lua;" .. here .. "/../lua/?/init.lua;" .. package.path
  package.cpath = here .. "/../build/" .. lua_name .. "/?.so;" .. package.cpath
  local extruct = require("extruct")

  local token = os.getenv("EXTRUCT_API_TOKEN")
  if token and token ~= "" then
    return extruct, extruct.new(), function() end, false
  end

  local function shell_quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end
  local interpreter = arg[-1] or lua_name
  local command = ("sh -c 'echo $$; exec \"$0\" \"$1\" --port 0 --quiet --polls 5' %s %s")
    :format(shell_quote(interpreter), shell_quote(here .. "/../bin/extruct-mock"))
  local pipe = assert(io.popen(command, "r"))
  local pid = pipe:read("*l")
  local banner = pipe:read("*l") or ""
  local base_url = banner:match("listening on (http://%S+)")
  if not base_url then
    if pid then os.execute("kill " .. pid .. " 2>/dev/null") end
    io.stderr:write("could not start the mock server (is lua-socket installed? `make deps` installs it)\n")
    os.exit(1)
  end
  local client = extruct.new{ token = "mock-token", base_url = base_url }
  -- The mock stops when asked through its control API; closing the pipe
  -- then waits for it to exit.
  local function stop()
    if pipe then
      client:request("POST", "/_mock/shutdown")
      pipe:close()
      pipe = nil
    end
  end
  return extruct, client, stop, true
end
