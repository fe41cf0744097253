-- The same behavioural checks (spec/support/transport_checks.lua) against
-- both transports: libcurl in this process, and cosockets inside nginx
-- (one worker, a content handler that runs a check and answers its result
-- as JSON). Both must see the same headers, limits, retries, redirects,
-- error kinds and a trace without the token.
local helpers = require("spec.helpers")
local cjson = require("cjson")
local checks = require("spec.support.transport_checks")
local openresty = require("spec.support.openresty")
local q = helpers.shell_quote

local function expect(name, result)
  local r = result
  if name == "headers" then
    assert.equal("tbl_idle", r.id)
    assert.same({ method = "GET", target = "/v1/tables/tbl_idle", accept = "application/json",
                  authorization = "Bearer " .. helpers.TOKEN, user_agent = "checks/1.0" }, r.get)
    assert.same({ method = "POST", body = '{"name": "Checks"}', content_type = "application/json",
                  content_length = "18" }, r.post)
    assert.equal("Checks", r.created)
  elseif name == "errors" then
    assert.equal("not_found", r.not_found.kind)
    assert.equal(404, r.not_found.status)
    assert.equal("server", r.server.kind)
    assert.equal("decode", r.invalid_json.kind)
    assert.equal("network", r.truncated.kind)
    assert.equal("tbl_idle", r.chunked)
    assert.is_true(r.after.ok)
    assert.equal("network", r.refused.kind)
    assert.matches("127.0.0.1", r.refused.message, 1, true)
  elseif name == "limits" then
    assert.equal("decode", r.too_large.kind)
    assert.matches("max_response_size (100 bytes)", r.too_large.message, 1, true)
    assert.equal("timeout", r.timeout.kind)
  elseif name == "retries" then
    assert.equal("tbl_idle", r.id)
    assert.equal(4, r.gets) -- two 503s, the answer, then the 429
    assert.equal("rate_limit", r.limited.kind)
    assert.equal(1, r.limited.attempts) -- 120 s is past the backoff cap: not waited for
    assert.equal(120, r.retry_after)
  elseif name == "redirects" then
    assert.equal("tbl_idle", r.moved)
    assert.is_true(r.followed_auth)
    assert.equal("/v1/tables/tbl_idle", r.elsewhere_path)
    assert.is_false(r.elsewhere_auth) -- no token to another host:port
    assert.equal("auth", r.away_err) -- so the mock refused it
    assert.equal("http", r.looped.kind)
  elseif name == "methods" then
    -- 303: GET the new place, without the body
    assert.equal("tbl_idle", r.see_other.id)
    assert.same({ { method = "PATCH", path = "/v1/tables/tbl_a", body = '{"name": "x"}', auth = true },
                  { method = "GET", path = "/v1/tables/tbl_idle", body = "", auth = true } }, r.see_other.log)
    -- 302 after DELETE: not followed, the redirect is the answer
    assert.same({ kind = "http", status = 302, location = "/v1/tables/tbl_idle",
                  log = { { method = "DELETE", path = "/v1/tables/tbl_b", body = "", auth = true } } }, r.found)
    -- 307 and 308: the same method and body again
    assert.equal("Moved", r.temporary.name)
    assert.same({ method = "POST", path = "/v1/tables", body = '{"name": "Moved"}', auth = true },
      r.temporary.log[2])
    assert.equal("Renamed", r.permanent.name)
    assert.same({ method = "PATCH", path = "/v1/tables/tbl_idle", body = '{"name": "Renamed"}', auth = true },
      r.permanent.log[2])
    assert.same({ method = "GET", auth = false }, r.elsewhere)
  elseif name == "connections" then
    assert.equal("tbl_idle", r.first)
    assert.equal("tbl_idle", r.again)
    assert.equal("auth", r.refused)
    assert.equal(3, #r.log)
    assert.equal(r.log[1].connection, r.log[3].connection) -- the first client kept its own
    assert.are_not.equal(r.log[1].connection, r.log[2].connection) -- the second got another
    assert.equal("Bearer " .. helpers.TOKEN .. "-other", r.log[2].authorization)
  elseif name == "trace" then
    assert.equal("tbl_idle", r.id)
    assert.is_false(r.has_token)
    assert.is_true(r.redacted)
    assert.is_true(r.request_line)
  end
end

describe("both transports", function()
  local mock, other, work, nginx, closed

  lazy_setup(function()
    helpers.build_luajit()
    mock = helpers.start_mock()
    other = helpers.start_mock()
    closed = helpers.closed_port()
    work = helpers.scratch_dir()
    openresty.make_certificates(work)
    nginx = openresty.start(work, mock, 1)
  end)

  lazy_teardown(function()
    if nginx then nginx.stop() end
    if mock then mock:stop() end
    if other then other:stop() end
    helpers.remove_dir(work)
  end)

  local function in_nginx(name)
    local out = helpers.run(("curl -s --max-time 60 -G --data-urlencode %s --data-urlencode %s"
      .. " --data-urlencode %s --data-urlencode %s --data-urlencode %s %s"):format(q("name=" .. name),
      q("url=" .. mock.url), q("token=" .. mock.token), q("closed_port=" .. closed), q("other_url=" .. other.url),
      q(nginx.url("/check"))))
    local ok, result = pcall(cjson.decode, out)
    assert(ok, "nginx answered: " .. out)
    assert.is_nil(result.raised, result.raised)
    return result
  end

  for _, name in ipairs(checks.NAMES) do
    it(name .. ": libcurl", function()
      expect(name, checks[name]({ url = mock.url, token = mock.token, closed_port = closed, other_url = other.url,
                                  transport = "curl" }))
    end)
    it(name .. ": cosockets in nginx", function()
      expect(name, in_nginx(name))
    end)
  end
end)
