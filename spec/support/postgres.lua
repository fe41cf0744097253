-- A PostgreSQL server of a spec's own, from Debian's postgresql package:
-- initdb and pg_ctl make and start a cluster in a fresh temporary folder,
-- listening on a unix socket there and on no TCP port, so specs running
-- side by side never meet. PostgreSQL refuses to run as root (CI is root):
-- then the cluster belongs to the unprivileged user `nobody`, its commands
-- run through runuser. stop() stops the server and removes the folder.
--
--   local postgres = require("spec.support.postgres")
--   local server = assert(postgres.start())   -- or nil, why (printed as a skip reason)
--   server.uri     --> "postgresql://spec@/postgres?host=/tmp/..."
--   server:psql("SELECT 1")                    --> "1\n", the exit status
--   server:stop()
local helpers = require("spec.helpers")

local M = {}

local quote = helpers.shell_quote

-- The folder of initdb and pg_ctl: the newest /usr/lib/postgresql/N/bin.
local function bin_folder()
  local out = helpers.run("ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1")
  local folder = out:match("^%s*(.-)%s*$")
  if folder ~= "" and helpers.run("test -x " .. quote(folder .. "/pg_ctl") .. " && echo yes"):find("yes") then
    return folder
  end
  return nil
end

local function as_root()
  return helpers.run("id -u"):match("^%s*0%s*$") ~= nil
end

--- Why a server cannot be started here, or nil when it can.
function M.missing()
  if not bin_folder() then return "PostgreSQL's server programs are not installed (Debian: postgresql)" end
  if as_root() and not helpers.has_command("runuser") then
    return "running as root without runuser to start PostgreSQL as another user"
  end
  return nil
end

local Server = {}
Server.__index = Server

-- A command line as the cluster's owner.
function Server:owner_command(command)
  if self.runuser then return "runuser -u nobody -- " .. command end
  return command
end

--- Runs SQL through psql (unaligned, tuples only); returns its output and exit status.
function Server:psql(sql)
  return helpers.run(("psql -X -q -A -t -v ON_ERROR_STOP=1 -h %s -U spec -d postgres -c %s 2>&1")
    :format(quote(self.dir), quote(sql)))
end

function Server:stop()
  if self.stopped then return end
  self.stopped = true
  helpers.run(self:owner_command(("%s -D %s -m immediate -w stop >/dev/null 2>&1"):format(
    quote(self.bin .. "/pg_ctl"), quote(self.dir .. "/data"))))
  helpers.run("rm -rf " .. quote(self.dir))
end

--- Makes and starts a cluster; the server, or nil and why not.
function M.start()
  local why = M.missing()
  if why then return nil, why end
  local bin = bin_folder()
  local dir = helpers.run("mktemp -d /tmp/extruct-pg.XXXXXX"):match("^%s*(.-)%s*$")
  local server = setmetatable({ bin = bin, dir = dir, runuser = as_root() }, Server)
  if server.runuser then helpers.run("chown nobody " .. quote(dir)) end
  local out, status = helpers.run(server:owner_command(("%s -D %s -U spec --auth=trust -E UTF8 --locale=C"
    .. " --no-sync 2>&1"):format(quote(bin .. "/initdb"), quote(dir .. "/data"))))
  if status ~= 0 then
    server:stop()
    return nil, "initdb failed: " .. out
  end
  out, status = helpers.run(server:owner_command(("%s -D %s -l %s -w -t 30 -o %s start 2>&1"):format(
    quote(bin .. "/pg_ctl"), quote(dir .. "/data"), quote(dir .. "/log"),
    quote("-k " .. dir .. " -c listen_addresses='' -c fsync=off -c full_page_writes=off"))))
  if status ~= 0 then
    local log = helpers.run("cat " .. quote(dir .. "/log"))
    server:stop()
    return nil, "pg_ctl start failed: " .. out .. log
  end
  server.uri = "postgresql://spec@/postgres?host=" .. dir
  return server
end

return M
