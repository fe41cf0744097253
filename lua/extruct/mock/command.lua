--- extruct.mock.command: the `extruct-mock` command: its usage text (the
--- one place it is written; docs/mock.md quotes it) and its options.

local M = {}

M.USAGE = [[
usage: extruct-mock [--host H] [--port N] [--token T] [--polls N] [--cells-per-poll N] [--plan P]
                    [--quiet] [--help]

An offline Extruct API: tables, companies, Deep Search and Deep Research in memory, no credits.

  --host H              address to bind (default 127.0.0.1)
  --port N              port to bind, 0 for a free one (default 8080)
  --token T             the bearer token clients must send (default mock-token)
  --polls N             GETs of tbl_demo until its run is idle, and of a Deep Search or
                        Deep Research task until it ends (default 3)
  --cells-per-poll N    cells a run completes per poll of its table (default 10)
  --plan P              the account's plan: pro (default), starter or free; on another plan
                        than pro, table, Deep Search and Deep Research mutations answer 402
  --quiet               do not log requests to stderr
  --help                show this help

Prints "extruct-mock listening on http://HOST:PORT" once bound.

API (Authorization: Bearer T on all but the healthcheck):
  GET /v1/healthcheck, GET /v1/user, GET /v1/billing
  GET /v1/tables (kind, scope, search, tags repeated: any of them, view, sort, offset,
  limit <= 100), POST /v1/tables
  GET|PATCH|DELETE /v1/tables/{id}, POST /v1/tables/{id}/clone[?schema_only=true]
  GET /v1/tables/{id}/data (offset, limit), GET /v1/tables/{id}/rows/{row_id}
  POST|PATCH|DELETE /v1/tables/{id}/rows, POST /v1/tables/{id}/columns,
  PATCH|DELETE /v1/tables/{id}/columns/{column_id}, POST /v1/tables/{id}/run (mode new, all, failed,
  stuck_failed_new; rows, columns)
  POST /v1/companies/search ({q, filters, pagination}; GET with q, filters, offset, limit),
  POST|GET /v1/companies/{identifier}/similar, GET /v1/companies/{identifier} (any domain or URL
  is a company, the same for every spelling; 2,000 results a query, 25 on the free plan)
  GET|POST /v1/discovery_tasks, GET /v1/discovery_tasks/{id}, GET /v1/discovery_tasks/{id}/results,
  POST /v1/discovery_tasks/{id}/resume (25 more by default)
  GET|POST /v1/deep_research_tasks, GET /v1/deep_research_tasks/{id}
Runs: a table's clock is its polls. Each GET of the table, of its /data or of one of its rows
completes the next --cells-per-poll queued cells. Answers are made up from the row's inputs, the
same every time. A row whose input values contain "fail" gets its output cells failed on their
first run; a run in mode failed completes them.
Tasks: a task's clock is its polls too (GETs of it, or of its results). A Deep Search whose query
says "fail" fails; one that says "exhaust" is exhausted while still in progress. A Deep Research
whose brief says "fail" fails; one that says "degrade" ends with degradation reasons. Briefs are
echoed with raw newlines inside the JSON string, as the real server does.
Fixtures: tbl_demo (25 rows, run in progress), tbl_idle (3 rows, done), tbl_people (10 rows).

Control API (no auth): POST /_mock/reset, POST /_mock/tables?id=X&polls=N[&kind=K&rows=R],
POST /_mock/discovery_tasks?[id=X&outcome=done|failed|exhausted&polls=N&desired=N&query=Q],
POST /_mock/deep_research_tasks?[id=X&outcome=done|failed|degraded&polls=N&depth=D&brief=B
                                &foreign=true (another organization's: 403)],
POST /_mock/advance?id=X[&polls=N] (N polls of a table or task without GETs, default 1),
POST /_mock/account?[plan=P&credits=N&payment_failed=true|false],
POST /_mock/quirks?raw_newlines=true|false,
POST /_mock/faults?[count=N&path=P&status=S&detail=D&retry_after=R&delay=SEC&body=B&content_type=T&mode=M
                   &content_encoding=E&location=URL],
GET /_mock/requests, GET /_mock/stats (connections, requests, accepted, in_flight, max_in_flight:
the most API requests answered at once), POST /_mock/shutdown.
Fault modes: truncate, invalid_json, html, drop, empty, stall, reset, trickle, chunked.
More: docs/mock.md.
]]

local function usage_error(message)
  io.stderr:write("extruct-mock: ", message, "\n", M.USAGE)
  return 2
end

--- Runs the server from command-line arguments; returns the exit code.
function M.main(argv)
  local opts = {}
  local i = 1
  while argv[i] ~= nil do
    local option = argv[i]
    local name, inline = option:match("^(%-%-[%w-]+)=(.*)$")
    name = name or option
    local function value()
      if inline then return inline end
      i = i + 1
      return argv[i]
    end
    if name == "--help" or name == "-h" then
      io.stdout:write(M.USAGE)
      return 0
    elseif name == "--quiet" and not inline then
      opts.quiet = true
    elseif name == "--host" then
      opts.host = value()
      if not opts.host or opts.host == "" then return usage_error("--host needs an address") end
    elseif name == "--plan" then
      opts.plan = value()
      if opts.plan ~= "pro" and opts.plan ~= "starter" and opts.plan ~= "free" then
        return usage_error("--plan needs pro, starter or free")
      end
    elseif name == "--token" then
      opts.token = value()
      if not opts.token or opts.token == "" or opts.token:find("%c") then
        return usage_error("--token needs a non-empty value")
      end
    elseif name == "--port" or name == "--polls" or name == "--cells-per-poll" then
      local v = value()
      local n = v and v:find("^%d+$") and #v <= 9 and tonumber(v)
      if not n or (name == "--port" and n > 65535) or (name == "--cells-per-poll" and n < 1) then
        return usage_error(name .. ({ ["--port"] = " needs an integer from 0 to 65535",
          ["--polls"] = " needs a non-negative integer", ["--cells-per-poll"] = " needs a positive integer" })[name])
      end
      opts[name:sub(3):gsub("-", "_")] = n
    else
      return usage_error("unknown option '" .. option .. "'")
    end
    i = i + 1
  end

  local loaded, problem = pcall(require, "socket")
  if not loaded then
    io.stderr:write("extruct-mock: luasocket is needed: ", tostring(problem):match("^[^\n]*"), "\n")
    return 1
  end
  local server, err = require("extruct.mock").new(opts)
  if not server then
    io.stderr:write("extruct-mock: ", err, "\n")
    return 1
  end
  io.stdout:write("extruct-mock listening on ", server:url(), "\n")
  io.stdout:flush()
  server:run()
  return 0
end

return M
