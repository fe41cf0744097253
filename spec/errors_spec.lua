-- Error objects (lua/extruct/errors.lua) and URL building
-- (lua/extruct/url.lua), in process: how an error reads, the one list of
-- kinds (extruct.errors loads without the C core, which holds it), the
-- API's detail.error as err.code, statuses mapped to kinds, Retry-After as
-- seconds or an HTTP date; path segments, query strings and base URL checks.
local errors = require("extruct.errors")
local url = require("extruct.url")

describe("error objects", function()
  it("read as one line through tostring, print and error", function()
    local err = errors.new("not_found", "table 'x' is unknown", { status = 404 })
    assert.equal("extruct: not_found: table 'x' is unknown", tostring(err))
    local ok, raised = pcall(error, err)
    assert.is_false(ok)
    assert.equal(err, raised)
    assert.is_true(errors.is_error(err))
    assert.is_false(errors.is_error({ kind = "x" }))
  end)

  it("have one list of kinds, the C core's, output included", function()
    local core = require("extruct.core")
    assert.same(core.error_kinds, errors.KINDS)
    assert.are_not.equal(core.error_kinds, errors.KINDS) -- a copy: changing it changes nothing in the core
    assert.same({
      "auth", "payment", "not_found", "validation", "rate_limit", "server", "http",
      "network", "tls", "timeout", "decode", "encode", "config", "cancelled", "failed", "output",
      "database",
    }, errors.KINDS)
    assert.equal("output", errors.new("output", "cannot write to stdout").kind)
    -- a kind outside the list is a bug where the error is made
    local ok, message = pcall(errors.new, "outptu", "typo")
    assert.is_false(ok)
    assert.matches("'outptu' is not an error kind", message, 1, true)
  end)

  it("load without the C core, which is read only when the kinds are needed", function()
    local helpers = require("spec.helpers")
    local code = [[package.path = "lua/?.lua;" .. package.path; package.cpath = ""
      local errors = require("extruct.errors")
      print(errors.show("a\nb"), package.loaded["extruct.core"] == nil, pcall(errors.new, "auth", "x"))]]
    local out, status = helpers.run(("env -u LUA_PATH -u LUA_CPATH %s -e %s 2>&1")
      :format(helpers.shell_quote(helpers.LUA), helpers.shell_quote(code)))
    assert.equal(0, status, out)
    assert.matches("^a\\nb\ttrue\tfalse\t.*module 'extruct.core' not found", out)
  end)

  it("carry the API's detail.error as code, for a script to branch on", function()
    for _, code in ipairs({ "plan_required", "payment_failed", "insufficient_credits" }) do
      local err = errors.from_status({ status = 402, headers = {}, body = { detail = { error = code } } })
      assert.equal("payment", err.kind)
      assert.equal(code, err.code)
    end
    assert.is_nil(errors.from_status({ status = 404, headers = {}, body = { detail = "Table not found" } }).code)
    assert.is_nil(errors.from_status({ status = 500, headers = {} }).code)
  end)

  it("map statuses to kinds", function()
    local expected = {
      [401] = "auth", [403] = "auth", [402] = "payment", [404] = "not_found", [422] = "validation",
      [429] = "rate_limit", [500] = "server", [503] = "server", [599] = "server",
      [400] = "http", [405] = "http", [418] = "http", [301] = "http", [600] = "http",
    }
    for status, kind in pairs(expected) do
      assert.equal(kind, errors.kind_for_status(status), status)
    end
  end)

  it("parse Retry-After as seconds or an HTTP date", function()
    assert.equal(120, errors.parse_retry_after("120"))
    assert.equal(0, errors.parse_retry_after(" 0 "))
    local now = errors.parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT")
    assert.equal(784111777, now)
    assert.equal(30, errors.parse_retry_after("Sun, 06 Nov 1994 08:50:07 GMT", now))
    assert.equal(0, errors.parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now))
    assert.equal(951782400, errors.parse_http_date("Tue, 29 Feb 2000 00:00:00 GMT"))
    assert.is_nil(errors.parse_retry_after("soon"))
    assert.is_nil(errors.parse_retry_after("-5"))
    assert.is_nil(errors.parse_retry_after(nil))
  end)
end)

describe("URL building", function()
  it("encodes a path segment so it stays one segment", function()
    assert.equal("tbl_123", url.segment("tbl_123"))
    assert.equal("a%2Fb%3Fc%23d%20e", url.segment("a/b?c#d e"))
    assert.equal("%2E%2E", url.segment(".."))
    assert.equal("%2E", url.segment("."))
    assert.equal("a.b-c~d", url.segment("a.b-c~d"))
    assert.equal("%C3%A9%25", url.segment("\195\169%"))
  end)

  it("builds query strings with repeated keys for lists", function()
    assert.equal("", url.query(nil))
    assert.equal("", url.query({}))
    assert.equal("?limit=50&tags=a%20b&tags=c", url.query({ tags = { "a b", "c" }, limit = 50 }))
  end)

  it("checks base URLs", function()
    assert.equal("https://api.extruct.ai", (url.check_base("https://api.extruct.ai/")))
    assert.equal("http://127.0.0.1:8080/prefix", (url.check_base("http://127.0.0.1:8080/prefix")))
    assert.equal("http://[::1]:8080", (url.check_base("http://[::1]:8080")))
    for _, bad in ipairs({ "api.extruct.ai", "ftp://h", "http://", "http://:80", "http://h/p?q", "http://h h" }) do
      local ok, why = url.check_base(bad)
      assert.is_nil(ok, bad)
      assert.is_string(why, bad)
    end
  end)
end)
