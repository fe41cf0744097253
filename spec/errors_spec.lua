-- Error objects (lua/extruct/errors.lua) and URL building
-- (lua/extruct/url.lua), in process: how an error reads, the one list of
-- kinds (extruct.errors loads without the C core, which holds it), the
-- API's detail.error as err.code, statuses mapped to kinds, Retry-After as
-- seconds or an HTTP date, the server's text escaped in messages (and a 500
-- from the mock whose body holds ESC, BEL and NUL); err.url and the words
-- that locate a failed request (a base URL ending in /v1, a path that is
-- no API route), a token pasted with 'Bearer '; path segments, query
-- strings, base URL checks (ports included) and absolute URLs.
local errors = require("extruct.errors")
local extruct = require("extruct")
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
    -- white space around either form, however much (spec/linear_text_spec.lua: in linear time)
    local wide = (" "):rep(30000)
    assert.equal(7, errors.parse_retry_after(wide .. "7\t" .. wide))
    assert.equal(30, errors.parse_retry_after(wide .. "Sun, 06 Nov 1994 08:50:07 GMT" .. wide, now))
    assert.is_nil(errors.parse_retry_after("1" .. wide .. "x"))
  end)
end)

-- What the server sent reaches a message on one line with its control
-- bytes escaped, as ids are (errors.show): printing an error cannot retitle
-- or clear a terminal. Programs get the body as sent in err.body.
describe("server text in error messages", function()
  local CONTROLS = "\27]0;owned\7\27[2J\0\8\127"
  local ESCAPED = "\\x1B]0;owned\\x07\\x1B[2J\\x00\\x08\\x7F"

  local function assert_clean(text)
    assert.is_nil(text:find("[%z\1-\8\11-\31\127]"), text)
    assert.is_nil(text:find("\n", 1, true))
  end

  it("escapes them in a detail, a body, a Location and a content-type; keeps the body as sent", function()
    local cases = {
      { errors.from_status({ status = 500, headers = {}, body = { detail = "bad " .. CONTROLS } }),
        "(server said: bad " .. ESCAPED .. ")" },
      { errors.from_status({ status = 502, headers = {}, body_text = "<h1>\n" .. CONTROLS .. "</h1>" }),
        "(body: <h1> " .. ESCAPED .. "</h1>)" },
      { errors.from_status({ status = 422, headers = {}, body = { detail = {
          { loc = { "body", "name\27" }, msg = "field\7 required" } } } }),
        "(server said: body.name\\x1B: field\\x07 required)" },
      { errors.from_status({ status = 302, headers = { location = "https://x.example/" .. CONTROLS } }),
        "the API redirected to https://x.example/" .. ESCAPED .. "; not followed" },
      { errors.from_bad_body({ status = 200, headers = { ["content-type"] = "text/html\27[2J" }, body_text = "<" },
        "not JSON"), "(content-type text/html\\x1B[2J) (body: <)" },
    }
    for _, case in ipairs(cases) do
      local err, wanted = case[1], case[2]
      assert.truthy(err.message:find(wanted, 1, true), err.message .. "\n  wanted: " .. wanted)
      assert_clean(tostring(err))
      assert_clean(err.message)
    end
    assert.equal("bad " .. CONTROLS, cases[1][1].body.detail)
    assert.equal("<h1>\n" .. CONTROLS .. "</h1>", cases[2][1].body)
    assert.equal("<", cases[5][1].body)
  end)

  describe("from a real server", function()
    local fixture = require("spec.helpers").mock_and_client{ single_attempt = true }

    it("tostring of a 500 whose body holds ESC, BEL and NUL holds none of them", function()
      local body = "Internal error\n\27]0;pwned\7\27[2J\0 trace"
      fixture.mock:fault{ path = "/v1/tables/tbl_demo", status = 500, body = body }
      local t, err = fixture.client:get_table("tbl_demo")
      assert.is_nil(t)
      assert.equal("server", err.kind)
      assert.equal(500, err.status)
      assert.equal("extruct: server: the API failed to answer (server error) (body: Internal error"
        .. " \\x1B]0;pwned\\x07\\x1B[2J\\x00 trace) [HTTP 500]", tostring(err))
      assert.equal(body, err.body)
    end)
  end)
end)

describe("errors that locate themselves", function()
  local helpers = require("spec.helpers")
  local fixture = helpers.mock_and_client{ single_attempt = true }

  -- A client of the mock at base_url (the mock's own when nil).
  local function client_at(base_url)
    return fixture:new_client{ base_url = base_url or fixture.mock.url }
  end

  it("a 404 about a thing: err.url, and the usual message naming the thing", function()
    local _, err = client_at():get_table("tbl_nope")
    assert.equal("not_found", err.kind)
    assert.equal(fixture.mock.url .. "/v1/tables/tbl_nope", err.url)
    assert.equal("extruct: not_found: table 'tbl_nope' is unknown or not in this workspace (server said: Table not"
      .. " found) [HTTP 404]", tostring(err))
  end)

  it("a base URL ending in /v1: the URL asked for, the base URL, and what to use instead", function()
    local base = fixture.mock.url .. "/v1"
    local _, err = client_at(base):get_table("tbl_demo")
    assert.equal("not_found", err.kind)
    assert.equal(base .. "/v1/tables/tbl_demo", err.url)
    assert.equal(("extruct: not_found: GET %s/v1/tables/tbl_demo is not a route of the API: not found (server said:"
      .. " Not Found) [HTTP 404]; check the base URL '%s' (base_url, EXTRUCT_API_URL or --base-url): it ends in"
      .. " /v1, which every path starts with already; use '%s'"):format(base, base, fixture.mock.url), tostring(err))
    local _, user_err = fixture.client:get_user()
    assert.matches("GET " .. base .. "/v1/user is not a route of the API", user_err.message, 1, true)
  end)

  it("a path the server has no route for names the URL and the base URL, without the query", function()
    local _, err = client_at():request("GET", "/v2/tables", { query = { secret = "s3cr3t" } })
    assert.equal("not_found", err.kind)
    assert.equal(fixture.mock.url .. "/v2/tables", err.url)
    assert.matches("GET " .. fixture.mock.url .. "/v2/tables is not a route of the API", err.message, 1, true)
    assert.matches("check the base URL '" .. fixture.mock.url .. "'", err.message, 1, true)
    assert.is_nil(tostring(err):find("s3cr3t", 1, true))
  end)

  it("a page that is not the API's JSON is not a route either: another server at the base URL", function()
    fixture.mock:fault{ path = "/v1/tables/tbl_demo", status = 404, body = "<html>nginx</html>",
                        content_type = "text/html" }
    local _, err = client_at():get_table("tbl_demo")
    assert.equal("not_found", err.kind)
    assert.matches("is not a route of the API: not found (body: <html>nginx</html>) [HTTP 404]", err.message, 1, true)
  end)

  it("other HTTP statuses and transfer failures carry err.url; the token is in none", function()
    fixture.mock:fault{ path = "/v1/tables/tbl_demo", status = 418 }
    local _, err = client_at():get_table("tbl_demo")
    assert.equal("http", err.kind)
    assert.equal(fixture.mock.url .. "/v1/tables/tbl_demo", err.url)

    local refused = "http://127.0.0.1:" .. helpers.closed_port()
    local _, net = client_at(refused):get_user()
    assert.equal("network", net.kind)
    assert.equal(refused .. "/v1/user", net.url)
    assert.matches("^GET " .. refused:gsub("%p", "%%%0") .. "/v1/user: ", net.message)
    for _, e in ipairs({ err, net }) do
      assert.is_nil(tostring(e):find(fixture.mock.token, 1, true))
      assert.is_nil(e.url:find(fixture.mock.token, 1, true))
    end
  end)

  it("a token pasted with its 'Bearer ' says to give the token alone", function()
    local c = extruct.new{ token = "Bearer abc123", base_url = fixture.mock.url }
    local _, err = c:get_user()
    assert.equal("config", err.kind)
    assert.equal("extruct: config: the API token starts with 'Bearer ': give the token alone (the client sends the"
      .. " header 'Authorization: Bearer <token>' itself); check EXTRUCT_API_TOKEN", tostring(err))
    assert.same({}, fixture.mock:requests())
    c:close()
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
    -- ports: 1 to 65535, named when outside
    assert.equal("http://h:1", (url.check_base("http://h:1")))
    assert.equal("http://[::1]:65535", (url.check_base("http://[::1]:65535")))
    for _, case in ipairs({ { "http://h:0", "0" }, { "http://h:65536", "65536" }, { "https://h:99999/v1", "99999" },
                            { "http://[::1]:70000", "70000" }, { "http://h:" .. ("9"):rep(40), ("9"):rep(40) } }) do
      assert.same({ nil, "the port " .. case[2] .. " is out of range (1 to 65535)" }, { url.check_base(case[1]) })
    end
  end)

  it("parses absolute URLs, as a Location names them", function()
    assert.same({ scheme = "http", host = "h.example", port = 8080, path = "/a?b", host_header = "H.example:8080" },
      url.parse("HTTP://user@H.example:8080/a?b#c"))
    assert.same({ scheme = "https", host = "::1", port = 443, path = "", host_header = "[::1]" }, url.parse("https://[::1]"))
    assert.same({ scheme = "http", host = "h", port = 80, path = "/", host_header = "h" }, url.parse("http://h:/"))
    for _, bad in ipairs({ "http://h:99999/", "http://h:0/", "http://:80/", "http://h:8x/", "http://h::80/",
                           "http://[zz]/", "/relative" }) do
      assert.is_nil(url.parse(bad), bad)
    end
  end)
end)
