-- Behavioural checks that both transports must pass alike: run in the
-- busted process on libcurl, and inside nginx on cosockets
-- (spec/integration/transport_spec.lua). Each check talks to the mock server through
-- extruct clients only (its control API too), so it needs nothing of the
-- host, and returns a table of what it saw for the spec to judge.
local extruct = require("extruct")

local M = {}

-- A context: the mock's URL and token, the transport, a closed port, the
-- URL of a second mock (another host:port).
local function client(ctx, opts)
  local options = { base_url = ctx.url, token = ctx.token, transport = ctx.transport, retries = 0, timeout = 5 }
  for k, v in pairs(opts or {}) do options[k] = v end
  return extruct.new(options)
end

local function control(ctx, method, path, query)
  local c = client(ctx)
  local answer, err = c:request(method, path, { query = query })
  c:close()
  return assert(answer, err and tostring(err))
end

local function last_request(ctx)
  local log = control(ctx, "GET", "/_mock/requests")
  return log[#log]
end

local function failure(t, err)
  if t then return { ok = true } end
  return { kind = err.kind, message = err.message, status = err.status, attempts = err.attempts }
end

function M.headers(ctx)
  control(ctx, "POST", "/_mock/reset")
  local c = client(ctx, { user_agent = "checks/1.0" })
  local t = assert(c:get_table("tbl_idle"))
  local posted = c:request("POST", "/v1/tables", { body = '{"name": "Checks"}' })
  c:close()
  local get = control(ctx, "GET", "/_mock/requests")[1]
  local post = last_request(ctx)
  return {
    id = t.id,
    get = { method = get.method, target = get.target, accept = get.headers.accept,
            authorization = get.headers.authorization, user_agent = get.headers["user-agent"] },
    post = { method = post.method, body = post.body, content_type = post.headers["content-type"],
             content_length = post.headers["content-length"] },
    created = posted and posted.name,
  }
end

function M.errors(ctx)
  control(ctx, "POST", "/_mock/reset")
  local c = client(ctx)
  local out = {}
  out.not_found = failure(c:get_table("tbl_missing"))
  control(ctx, "POST", "/_mock/faults", { status = "500" })
  out.server = failure(c:get_table("tbl_idle"))
  control(ctx, "POST", "/_mock/faults", { mode = "invalid_json" })
  out.invalid_json = failure(c:get_table("tbl_idle"))
  control(ctx, "POST", "/_mock/faults", { mode = "truncate" })
  out.truncated = failure(c:get_table("tbl_idle"))
  control(ctx, "POST", "/_mock/faults", { mode = "chunked", path = "/v1/tables/tbl_idle" })
  local chunked = c:get_table("tbl_idle")
  out.chunked = chunked and chunked.id
  out.after = failure(c:get_table("tbl_idle"))
  c:close()
  local refused = client(ctx, { base_url = "http://127.0.0.1:" .. ctx.closed_port })
  out.refused = failure(refused:get_table("tbl_idle"))
  refused:close()
  return out
end

function M.limits(ctx)
  control(ctx, "POST", "/_mock/reset")
  local out = {}
  local small = client(ctx, { max_response_size = 100 })
  out.too_large = failure(small:get_table("tbl_idle"))
  small:close()
  control(ctx, "POST", "/_mock/faults", { delay = "3", path = "/v1/tables/tbl_idle" })
  local impatient = client(ctx, { timeout = 0.5 })
  out.timeout = failure(impatient:get_table("tbl_idle"))
  impatient:close()
  return out
end

function M.retries(ctx)
  control(ctx, "POST", "/_mock/reset")
  control(ctx, "POST", "/_mock/faults", { status = "503", count = "2", retry_after = "0" })
  local c = client(ctx, { retries = 3, backoff = { base = 0.01, cap = 0.05 } })
  local t, err = c:get_table("tbl_idle")
  control(ctx, "POST", "/_mock/faults", { status = "429", retry_after = "120" })
  local _, limited = c:get_table("tbl_idle")
  c:close()
  local gets = 0
  for _, r in ipairs(control(ctx, "GET", "/_mock/requests")) do
    if r.path == "/v1/tables/tbl_idle" then gets = gets + 1 end
  end
  return { id = t and t.id, err = err and err.message, gets = gets, limited = failure(nil, limited),
           retry_after = limited.retry_after }
end

function M.redirects(ctx)
  control(ctx, "POST", "/_mock/reset")
  local c = client(ctx)
  control(ctx, "POST", "/_mock/faults", { path = "/v1/tables/tbl_old", status = "302",
                                           location = "/v1/tables/tbl_idle" })
  local moved = c:get_table("tbl_old")
  local followed = last_request(ctx)
  -- another server (another port): the token must not follow
  local other = { url = ctx.other_url, token = ctx.token, transport = ctx.transport }
  control(other, "POST", "/_mock/reset")
  control(ctx, "POST", "/_mock/faults", { path = "/v1/tables/tbl_away", status = "307",
                                           location = ctx.other_url .. "/v1/tables/tbl_idle" })
  local away, away_err = c:get_table("tbl_away")
  local elsewhere = last_request(other)
  control(ctx, "POST", "/_mock/faults", { path = "/v1/tables/tbl_loop", status = "302", count = "10",
                                           location = "/v1/tables/tbl_loop" })
  local _, looped = c:get_table("tbl_loop")
  c:close()
  return {
    moved = moved and moved.id, followed_auth = followed.headers.authorization ~= nil,
    away = away and away.id, away_err = away_err and away_err.kind,
    elsewhere_path = elsewhere.path, elsewhere_auth = elsewhere.headers.authorization ~= nil,
    looped = failure(nil, looped),
  }
end

-- Redirects of methods other than GET, by RFC 9110.
function M.methods(ctx)
  control(ctx, "POST", "/_mock/reset")
  local c = client(ctx)
  local out = {}
  local function redirect_once(path, status, location)
    control(ctx, "POST", "/_mock/faults", { path = path, status = tostring(status), location = location })
  end
  local function log_since(n)
    local seen = {}
    for i, r in ipairs(control(ctx, "GET", "/_mock/requests")) do
      if i > n then seen[#seen + 1] = { method = r.method, path = r.path, body = r.body,
                                        auth = r.headers.authorization ~= nil } end
    end
    return seen
  end
  local function count() return #control(ctx, "GET", "/_mock/requests") end

  local n = count()
  redirect_once("/v1/tables/tbl_a", 303, "/v1/tables/tbl_idle")
  local t = c:request("PATCH", "/v1/tables/tbl_a", { body = '{"name": "x"}' })
  out.see_other = { id = t and t.id, log = log_since(n) }

  n = count()
  redirect_once("/v1/tables/tbl_b", 302, "/v1/tables/tbl_idle")
  local _, err = c:request("DELETE", "/v1/tables/tbl_b")
  out.found = { kind = err and err.kind, status = err and err.status, location = err and err.location,
                log = log_since(n) }

  n = count()
  redirect_once("/v1/tables/tbl_c", 307, "/v1/tables")
  t = c:request("POST", "/v1/tables/tbl_c", { body = '{"name": "Moved"}' })
  out.temporary = { name = t and t.name, log = log_since(n) }

  n = count()
  redirect_once("/v1/tables/tbl_d", 308, "/v1/tables/tbl_idle")
  t = c:request("PATCH", "/v1/tables/tbl_d", { body = '{"name": "Renamed"}' })
  out.permanent = { name = t and t.name, log = log_since(n) }

  -- to another server: the method changes as asked, the token stays home
  local other = { url = ctx.other_url, token = ctx.token, transport = ctx.transport }
  control(other, "POST", "/_mock/reset")
  redirect_once("/v1/tables/tbl_e", 303, ctx.other_url .. "/v1/tables/tbl_idle")
  c:request("DELETE", "/v1/tables/tbl_e")
  local there = control(other, "GET", "/_mock/requests")[1]
  out.elsewhere = { method = there.method, auth = there.headers.authorization ~= nil }
  c:close()
  return out
end

function M.trace(ctx)
  control(ctx, "POST", "/_mock/reset")
  local lines = {}
  local c = client(ctx, { trace = function(line) lines[#lines + 1] = line end })
  local t = c:get_table("tbl_idle")
  c:close()
  local text = table.concat(lines, "\n")
  return { id = t and t.id, has_token = text:find(ctx.token, 1, true) ~= nil,
           redacted = text:find("Authorization: [redacted]", 1, true) ~= nil,
           request_line = text:find("> GET /v1/tables/tbl_idle HTTP/1.1", 1, true) ~= nil }
end

-- Two clients, two tokens: each keeps its own connection, and neither is
-- handed the other's (the mock names the connection of every request).
function M.connections(ctx)
  control(ctx, "POST", "/_mock/reset")
  local first = client(ctx)
  local second = client(ctx, { token = ctx.token .. "-other" })
  local a1 = first:get_table("tbl_idle")
  local _, refused = second:get_table("tbl_idle") -- the mock refuses the other token
  local a2 = first:get_table("tbl_idle")
  first:close()
  second:close()
  local log = {}
  for _, r in ipairs(control(ctx, "GET", "/_mock/requests")) do
    if r.path == "/v1/tables/tbl_idle" then
      log[#log + 1] = { connection = r.connection, authorization = r.headers.authorization }
    end
  end
  return { first = a1 and a1.id, again = a2 and a2.id, refused = refused and refused.kind, log = log }
end

M.NAMES = { "headers", "errors", "limits", "retries", "redirects", "methods", "trace", "connections" }

return M
