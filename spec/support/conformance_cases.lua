-- The cases of the conformance suite: what the hostile server answers
-- (spec/support/conformance_server.lua serves them) and what a client must
-- make of it, written once for every transport: libcurl in plain Lua,
-- libcurl inside nginx and cosockets inside nginx
-- (spec/integration/conformance_spec.lua runs them through
-- spec/support/conformance.lua).
--
-- A case: name; serve, the bytes of the answer ("{origin}", "{other}" (the
-- server's second port: another origin) and "{run}" are filled in) or a
-- function(s) given s.request, s.n (the how-manyth request of this case in
-- this run), s.send(bytes), s.sleep(seconds), s.close(), s.fill(text);
-- close = true closes the connection after a string answer; the request
-- (method, body, timeout, max_response_size) or run(client, path, ctx) for
-- a case of several calls (ctx.sleep: extruct.sleep; ctx.busy: a pause
-- that blocks, as busy code would; ctx.gather; ctx.client(options): another
-- client on the same transport); expect = { value = v } (and headers = { name =
-- value or false for absent }) or { kind = k, words = "..." (found in the
-- message), status = n }. concurrent = true marks a case that needs code to
-- run while a request waits (a close from another task): a transport that
-- blocks the whole process for a request (libcurl inside nginx) cannot
-- have it happen, and says so.

local M = {}

local function json_answer(status_line, body, extra)
  return ("%s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s\r\n%s"):format(status_line, #body,
    extra or "", body)
end

local function ok(body, extra) return json_answer("HTTP/1.1 200 OK", body, extra) end

local function chunked(head, chunks, trailers)
  local parts = { head .. "\r\nTransfer-Encoding: chunked\r\n\r\n" }
  for _, chunk in ipairs(chunks) do parts[#parts + 1] = ("%x\r\n%s\r\n"):format(#chunk, chunk) end
  parts[#parts + 1] = "0\r\n" .. (trailers or "") .. "\r\n"
  return table.concat(parts)
end

local function redirect(status, location)
  return ("HTTP/1.1 %d Moved\r\nLocation: %s\r\nContent-Length: 0\r\n\r\n"):format(status, location)
end

-- What the request that reached the server was: its method and body.
local function echo(s)
  local body = ('{"method":"%s","body":"%s","path":"%s"}'):format(s.request.method,
    s.request.body:gsub('"', "'"), s.request.path)
  s.send(ok(body))
end

local function value(v, headers) return { value = v, headers = headers } end
local function fails(kind, words, status) return { kind = kind, words = words, status = status } end

local N = { n = 1 }
local BIG_HEADER = ("h"):rep(120 * 1024)

M.CASES = {
  ---------------------------------------------------------------------------
  -- status lines
  { name = "status_200", serve = ok('{"n":1}'), expect = value(N) },
  { name = "status_no_reason", serve = json_answer("HTTP/1.1 200", '{"n":1}'), expect = value(N) },
  { name = "status_http10", serve = json_answer("HTTP/1.0 200 OK", '{"n":1}'), expect = value(N) },
  { name = "status_201", serve = json_answer("HTTP/1.1 201 Created", '{"n":1}'), method = "POST", body = "{}",
    expect = value(N) },
  { name = "status_204", serve = "HTTP/1.1 204 No Content\r\n\r\n", method = "DELETE", expect = value(true) },
  { name = "status_404", serve = json_answer("HTTP/1.1 404 Not Found", '{"detail":"Table not found"}'),
    expect = fails("not_found", "Table not found", 404) },
  { name = "status_500", serve = json_answer("HTTP/1.1 500 Oops", '{"detail":"boom"}'),
    expect = fails("server", "boom", 500) },
  { name = "status_418", serve = json_answer("HTTP/1.1 418 Teapot", '{}'), expect = fails("http", nil, 418) },
  { name = "status_429_retry_after", serve = json_answer("HTTP/1.1 429 Slow down", '{}', "Retry-After: 7\r\n"),
    expect = fails("rate_limit", "retry after 7 s", 429) },
  { name = "status_099", serve = json_answer("HTTP/1.1 099 Low", '{}'), expect = fails("network") },
  { name = "status_1000", serve = json_answer("HTTP/1.1 1000 High", '{}'), expect = fails("network") },
  { name = "status_http2", serve = json_answer("HTTP/2.0 200 OK", '{}'), expect = fails("network") },
  { name = "status_http09", serve = '{"n":1}\n', close = true, expect = fails("network") },
  { name = "status_no_code", serve = "HTTP/1.1 OK\r\nContent-Length: 2\r\n\r\n{}", expect = fails("network") },
  { name = "status_101", serve = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n",
    expect = fails("network") },
  { name = "status_502_html", serve = "HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/html\r\nContent-Length: 20\r\n"
    .. "\r\n<html>gateway</html>", expect = fails("server", "<html>gateway</html>", 502) },

  ---------------------------------------------------------------------------
  -- framing: Content-Length and Transfer-Encoding
  { name = "length_exact", serve = ok('{"n":1,"s":"abc"}'), expect = value({ n = 1, s = "abc" }) },
  { name = "length_close_delimited", serve = 'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{"n":1}',
    close = true, expect = value(N) },
  { name = "length_zero", serve = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", method = "DELETE",
    expect = value(true) },
  { name = "length_longer_than_sent", serve = 'HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n{"n":1}', close = true,
    expect = fails("network") },
  { name = "length_two_equal", serve = 'HTTP/1.1 200 OK\r\nContent-Length: 7\r\nContent-Length: 7\r\n\r\n{"n":1}',
    expect = fails("network", "two Content-Length headers") },
  { name = "length_two_different", serve = 'HTTP/1.1 200 OK\r\nContent-Length: 7\r\nContent-Length: 9\r\n\r\n{"n":1}',
    expect = fails("network", "two Content-Length headers") },
  { name = "length_and_chunked", serve = "HTTP/1.1 200 OK\r\nContent-Length: 7\r\nTransfer-Encoding: chunked\r\n\r\n"
    .. '7\r\n{"n":1}\r\n0\r\n\r\n', expect = fails("network", "both Content-Length and Transfer-Encoding") },
  { name = "length_negative", serve = 'HTTP/1.1 200 OK\r\nContent-Length: -7\r\n\r\n{"n":1}', close = true,
    expect = fails("network") },
  { name = "length_not_a_number", serve = 'HTTP/1.1 200 OK\r\nContent-Length: 7x\r\n\r\n{"n":1}', close = true,
    expect = fails("network") },
  { name = "length_over_limit", serve = ok(('{"s":"%s"}'):format(("x"):rep(500))), max_response_size = 100,
    expect = fails("decode", "max_response_size (100 bytes)") },
  { name = "length_at_limit", serve = ok('{"n":1}'), max_response_size = 7, expect = value(N) },

  ---------------------------------------------------------------------------
  -- chunked bodies
  { name = "chunked_basic", serve = chunked("HTTP/1.1 200 OK", { '{"n":1}' }), expect = value(N) },
  { name = "chunked_many", serve = chunked("HTTP/1.1 200 OK", { "{", '"n"', ":", "1", "}" }), expect = value(N) },
  { name = "chunked_extensions", serve = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n'
    .. '3;a=b\r\n{"n\r\n4; q="x"\r\n":1}\r\n0;last\r\n\r\n', expect = value(N) },
  { name = "chunked_upper_hex", serve = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n'
    .. 'C\r\n{"s":"abcd"}\r\n0\r\n\r\n', expect = value({ s = "abcd" }) },
  { name = "chunked_leading_zeros", serve = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n'
    .. '0007\r\n{"n":1}\r\n0\r\n\r\n', expect = value(N) },
  { name = "chunked_empty", serve = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    method = "DELETE", expect = value(true) },
  { name = "chunked_no_crlf_after_data", serve = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    .. "3\r\n[1]XX0\r\n\r\n", expect = fails("network") },
  { name = "chunked_lf_only_after_data", serve = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    .. "3\r\n[1]X\n0\r\n\r\n", expect = fails("network") },
  { name = "chunked_bad_size", serve = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n[1]\r\n0\r\n\r\n",
    expect = fails("network") },
  { name = "chunked_size_overflow", serve = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    .. ("f"):rep(20) .. "\r\n[1]\r\n", close = true, expect = fails("network") },
  { name = "chunked_no_last_chunk", serve = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n7\r\n{"n":1}\r\n',
    close = true, expect = fails("network") },
  { name = "chunked_over_limit", serve = chunked("HTTP/1.1 200 OK", { ('{"s":"%s"}'):format(("x"):rep(300)) }),
    max_response_size = 100, expect = fails("decode", "max_response_size (100 bytes)") },

  ---------------------------------------------------------------------------
  -- trailers: never headers
  { name = "trailer_content_type", serve = chunked("HTTP/1.1 200 OK\r\nContent-Type: application/json", { '{"n":1}' },
    "Content-Type: text/html\r\n"), expect = value(N, { ["content-type"] = "application/json" }) },
  { name = "trailer_paging", serve = chunked("HTTP/1.1 200 OK", { '{"n":1}' },
    "X-Extruct-Pagination-Total: 999\r\nX-Trailer: t\r\n"),
    expect = value(N, { ["x-extruct-pagination-total"] = false, ["x-trailer"] = false }) },
  { name = "trailer_retry_after", serve = chunked("HTTP/1.1 503 Busy", { '{"detail":"busy"}' }, "Retry-After: 5\r\n"),
    expect = fails("server", "busy", 503) },
  { name = "trailer_many", serve = chunked("HTTP/1.1 200 OK", { '{"n":1}' }, ("X-T: 1\r\n"):rep(50)),
    expect = value(N, { ["x-t"] = false }) },

  ---------------------------------------------------------------------------
  -- interim responses
  { name = "interim_100", serve = "HTTP/1.1 100 Continue\r\n\r\n" .. ok('{"n":1}'), method = "POST", body = "{}",
    expect = value(N) },
  { name = "interim_103", serve = "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\nX-Early: 1\r\n\r\n" .. ok('{"n":1}'),
    expect = value(N, { link = false, ["x-early"] = false }) },
  { name = "interim_two", serve = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\n\r\n" .. ok('{"n":1}'),
    expect = value(N) },
  { name = "interim_then_close", serve = "HTTP/1.1 100 Continue\r\n\r\n", close = true, expect = fails("network") },

  ---------------------------------------------------------------------------
  -- truncation at every stage
  { name = "cut_before_anything", serve = "", close = true, expect = fails("network") },
  { name = "cut_in_status_line", serve = "HTTP/1.1 20", close = true, expect = fails("network") },
  { name = "cut_after_status_line", serve = "HTTP/1.1 200 OK\r\n", close = true, expect = fails("network") },
  { name = "cut_in_header", serve = "HTTP/1.1 200 OK\r\nContent-Len", close = true, expect = fails("network") },
  { name = "cut_after_headers", serve = "HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n", close = true,
    expect = fails("network") },
  { name = "cut_in_body", serve = 'HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n{"n"', close = true,
    expect = fails("network") },
  { name = "cut_in_chunk_size", serve = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1", close = true,
    expect = fails("network") },
  { name = "cut_in_chunk_data", serve = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n7\r\n{"n', close = true,
    expect = fails("network") },
  { name = "cut_in_trailers", serve = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n7\r\n{"n":1}\r\n0\r\nX-T',
    close = true, expect = fails("network") },

  ---------------------------------------------------------------------------
  -- bytes nobody asked for
  { name = "unasked_later", serve = function(s)
      s.send(ok(('{"n":%d}'):format(s.n)))
      if s.n == 1 then
        s.sleep(0.05)
        s.send(ok('{"evil":true}'))
      end
    end,
    run = function(client, path, ctx)
      local got = {}
      for i = 1, 3 do
        local t, err = client:request("GET", path)
        got[i] = t and (t.n or "evil") or err.kind
        ctx.sleep(0.15)
      end
      return { value = got }
    end, expect = value({ 1, 2, 3 }) },
  -- (the same, the caller busy meanwhile rather than yielding: under nginx
  -- no event loop turn notices the bytes before the next request)
  { name = "unasked_while_busy", serve = function(s)
      s.send(ok(('{"n":%d}'):format(s.n)))
      if s.n == 1 then
        s.sleep(0.05)
        s.send(ok('{"evil":true}'))
      end
    end,
    run = function(client, path, ctx)
      local got = {}
      for i = 1, 3 do
        local t, err = client:request("GET", path)
        got[i] = t and (t.n or "evil") or err.kind
        ctx.busy(0.15)
      end
      return { value = got }
    end, expect = value({ 1, 2, 3 }) },
  { name = "unasked_appended", serve = function(s)
      s.send(ok(('{"n":%d}'):format(s.n)) .. (s.n == 1 and ok('{"evil":true}') or ""))
    end,
    run = function(client, path)
      local got = {}
      for i = 1, 3 do
        local t, err = client:request("GET", path)
        got[i] = t and (t.n or "evil") or err.kind
      end
      return { value = got }
    end, expect = value({ 1, 2, 3 }) },
  { name = "unasked_garbage_idle", serve = function(s)
      s.send(ok(('{"n":%d}'):format(s.n)))
      if s.n == 1 then
        s.sleep(0.05)
        s.send("garbage")
      end
    end,
    run = function(client, path, ctx)
      local first = client:request("GET", path)
      ctx.sleep(0.15)
      local second, err = client:request("GET", path)
      return { value = { first and first.n, second and second.n or err.kind } }
    end, expect = value({ 1, 2 }) },

  ---------------------------------------------------------------------------
  -- redirect targets of every form
  { name = "redirect_absolute", serve = function(s)
      if s.n == 1 then s.send(redirect(302, "{origin}/case/redirect_absolute?run={run}&to=1")) else echo(s) end
    end, expect = value({ method = "GET", body = "", path = "/case/redirect_absolute" }) },
  { name = "redirect_no_path", serve = function(s)
      if s.n == 1 then s.send(redirect(302, "{origin}")) else echo(s) end
    end, expect = fails("not_found", nil, 404) },
  { name = "redirect_scheme_relative", serve = function(s)
      if s.n == 1 then
        s.send(redirect(302, "//" .. s.fill("{origin}"):match("//(.*)$") .. "/case/redirect_scheme_relative?run={run}"))
      else
        echo(s)
      end
    end, expect = value({ method = "GET", body = "", path = "/case/redirect_scheme_relative" }) },
  { name = "redirect_space", serve = function(s)
      if s.n == 1 then s.send(redirect(302, "/case/redirect_space/a b?run={run}")) else s.send(ok(
        ('{"path":"%s"}'):format(s.request.path))) end
    end, expect = value({ path = "/case/redirect_space/a%20b" }) },
  { name = "redirect_non_ascii", serve = function(s)
      if s.n == 1 then s.send(redirect(302, "/case/redirect_non_ascii/\195\169?run={run}")) else s.send(ok(
        ('{"path":"%s"}'):format(s.request.path))) end
    end, expect = value({ path = "/case/redirect_non_ascii/%C3%A9" }) },
  { name = "redirect_relative", serve = function(s)
      if s.n == 1 then s.send(redirect(302, "redirect_relative?run={run}")) else echo(s) end
    end, expect = value({ method = "GET", body = "", path = "/case/redirect_relative" }) },
  { name = "redirect_dot_dot", serve = function(s)
      if s.n == 1 then s.send(redirect(302, "../case/x/../redirect_dot_dot?run={run}")) else echo(s) end
    end, expect = value({ method = "GET", body = "", path = "/case/redirect_dot_dot" }) },
  { name = "redirect_query_only", serve = function(s)
      if s.n == 1 then s.send(redirect(302, "?run={run}&second=1")) else s.send(ok(
        ('{"second":"%s"}'):format(s.request.query.second or ""))) end
    end, expect = value({ second = "1" }) },
  { name = "redirect_fragment_only", serve = redirect(302, "#again"),
    expect = fails("http", "Maximum (3) redirects followed") },
  { name = "redirect_other_scheme", serve = redirect(302, "ftp://127.0.0.1/x"),
    expect = fails("http", "a scheme other than http or https (ftp)") },
  { name = "redirect_javascript", serve = redirect(302, "javascript:alert(1)"),
    expect = fails("http", "a scheme other than http or https (javascript)") },
  { name = "redirect_credentials", serve = redirect(302, "http://user:pw@127.0.0.1/x"),
    expect = fails("http", "credentials") },
  { name = "redirect_bad_host", serve = redirect(302, "http://:80/x"), expect = fails("http", "malformed URL") },
  { name = "redirect_bad_port", serve = redirect(302, "http://127.0.0.1:99999/x"),
    expect = fails("http", "malformed URL") },
  { name = "redirect_no_location", serve = "HTTP/1.1 302 Found\r\nContent-Length: 0\r\n\r\n",
    expect = fails("http", nil, 302) },
  { name = "redirect_empty_location", serve = "HTTP/1.1 302 Found\r\nLocation: \r\nContent-Length: 0\r\n\r\n",
    expect = fails("http", nil, 302) },
  { name = "redirect_303_post", method = "POST", body = '{"a":1}', serve = function(s)
      if s.n == 1 then s.send(redirect(303, "/case/redirect_303_post?run={run}")) else echo(s) end
    end, expect = value({ method = "GET", body = "", path = "/case/redirect_303_post" }) },
  { name = "redirect_307_post", method = "POST", body = '{"a":1}', serve = function(s)
      if s.n == 1 then s.send(redirect(307, "/case/redirect_307_post?run={run}")) else echo(s) end
    end, expect = value({ method = "POST", body = "{'a':1}", path = "/case/redirect_307_post" }) },
  { name = "redirect_308_patch", method = "PATCH", body = '{"b":2}', serve = function(s)
      if s.n == 1 then s.send(redirect(308, "/case/redirect_308_patch?run={run}")) else echo(s) end
    end, expect = value({ method = "PATCH", body = "{'b':2}", path = "/case/redirect_308_patch" }) },
  { name = "redirect_301_delete", method = "DELETE", serve = redirect(301, "/elsewhere"),
    expect = fails("http", "not followed", 301) },
  { name = "redirect_302_get_followed", serve = function(s)
      if s.n == 1 then s.send(redirect(301, "/case/redirect_302_get_followed?run={run}")) else echo(s) end
    end, expect = value({ method = "GET", body = "", path = "/case/redirect_302_get_followed" }) },
  { name = "redirect_endless_get", serve = redirect(307, "/case/redirect_endless_get?run={run}"),
    expect = fails("http", "Maximum (3) redirects followed") },
  { name = "redirect_endless_post", method = "POST", body = "{}",
    serve = redirect(307, "/case/redirect_endless_post?run={run}"),
    expect = fails("http", "Maximum (3) redirects followed") },
  { name = "redirect_three_then_answer", serve = function(s)
      if s.n <= 3 then s.send(redirect(302, "/case/redirect_three_then_answer?run={run}")) else echo(s) end
    end, expect = value({ method = "GET", body = "", path = "/case/redirect_three_then_answer" }) },
  { name = "redirect_credentials_dropped", serve = function(s)
      if s.n == 1 then
        s.send(redirect(307, "{other}/case/redirect_credentials_dropped?run={run}"))
      else
        s.send(ok(('{"auth":%s}'):format(s.request.headers.authorization and "true" or "false")))
      end
    end, expect = value({ auth = false }) },
  { name = "redirect_credentials_kept", serve = function(s)
      if s.n == 1 then
        s.send(redirect(307, "/case/redirect_credentials_kept?run={run}"))
      else
        s.send(ok(('{"auth":%s}'):format(s.request.headers.authorization and "true" or "false")))
      end
    end, expect = value({ auth = true }) },

  ---------------------------------------------------------------------------
  -- closing the client during a request
  { name = "close_during_request", concurrent = true, serve = function(s)
      s.sleep(0.4)
      s.send(ok('{"n":1}'))
    end,
    run = function(client, path, ctx)
      local results = ctx.gather({
        function() return client:request("GET", path) end,
        function() ctx.sleep(0.1); client:close() end,
      })
      local t, err = results[1][1], results[1][2]
      return t and { value = t } or { kind = err.kind, message = err.message }
    end, expect = fails("cancelled", "closed while the request was in flight") },
  { name = "close_during_redirect", concurrent = true, serve = function(s)
      if s.n == 1 then
        s.sleep(0.3)
        s.send(redirect(302, "/case/close_during_redirect?run={run}"))
      else
        s.send(ok('{"n":2}'))
      end
    end,
    run = function(client, path, ctx)
      local results = ctx.gather({
        function() return client:request("GET", path) end,
        function() ctx.sleep(0.1); client:close() end,
      })
      local t, err = results[1][1], results[1][2]
      return t and { value = t } or { kind = err.kind, message = err.message }
    end, expect = fails("cancelled", "closed while the request was in flight") },
  { name = "server_closes_before_answer", serve = function(s)
      s.sleep(0.05)
      s.close()
    end, expect = fails("network") },
  { name = "server_stalls", timeout = 0.5, serve = function(s)
      s.send("HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n{")
      s.sleep(2)
    end, expect = fails("timeout") },
  { name = "server_silent", timeout = 0.5, serve = function(s) s.sleep(2) end, expect = fails("timeout") },
  { name = "server_closes_idle_kept_alive", serve = function(s)
      s.send(ok(('{"n":%d}'):format(s.n)))
      s.close()
    end,
    run = function(client, path, ctx)
      local first = client:request("GET", path)
      ctx.sleep(0.1)
      local second, err = client:request("GET", path)
      return { value = { first and first.n, second and second.n or err.kind } }
    end, expect = value({ 1, 2 }) },

  ---------------------------------------------------------------------------
  -- https to a plain-HTTP server: the case's answer names a port of the
  -- server, and a client with retries asks it for https. The first port
  -- answers the handshake with a plain 400 at once, the third keeps silent;
  -- either way there is no TLS, and it will not come: one attempt, a `tls`
  -- error (within connect_timeout for the silent one)
  { name = "tls_to_plain_http", serve = function(s) s.send(ok(s.fill('{"url":"{origin}"}'))) end,
    run = function(client, path, ctx) return M.https_to(client, path, ctx) end,
    expect = fails("tls", "no TLS handshake with this server: if the port serves plain HTTP") },
  { name = "tls_to_silent_port", serve = function(s) s.send(ok(s.fill('{"url":"{silent}"}'))) end,
    run = function(client, path, ctx) return M.https_to(client, path, ctx) end,
    expect = fails("tls", "no TLS handshake with this server: if the port serves plain HTTP") },

  ---------------------------------------------------------------------------
  -- header sections
  { name = "head_too_large_one_line", serve = "HTTP/1.1 200 OK\r\nX-Big: " .. BIG_HEADER .. "\r\nContent-Length: 2\r\n"
    .. "\r\n{}", close = true, expect = fails("decode", "header section is larger than 98304 bytes") },
  { name = "head_too_large_many_lines", serve = "HTTP/1.1 200 OK\r\n" .. ("X-Line: " .. ("l"):rep(90) .. "\r\n"):rep(1200)
    .. "Content-Length: 2\r\n\r\n{}", close = true, expect = fails("decode", "header section is larger than 98304 bytes") },
  { name = "head_large_but_under", serve = ok('{"n":1}', ("X-Line: " .. ("l"):rep(90) .. "\r\n"):rep(800)),
    expect = value(N) },
  { name = "head_repeated_joined", serve = ok('{"n":1}', "X-A: 1\r\nX-A: 2\r\n"),
    expect = value(N, { ["x-a"] = "1, 2" }) },
  { name = "head_bad_name", serve = "HTTP/1.1 200 OK\r\nX\1Y: 1\r\nContent-Length: 7\r\n\r\n{\"n\":1}",
    expect = fails("network") },
  { name = "head_no_colon", serve = "HTTP/1.1 200 OK\r\nNoColonHere\r\nContent-Length: 7\r\n\r\n{\"n\":1}",
    expect = fails("network") },

  ---------------------------------------------------------------------------
  -- bodies
  { name = "body_not_json", serve = "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 13\r\n\r\n"
    .. "<html></html>", expect = fails("decode", "not the JSON expected") },
  { name = "body_truncated_json", serve = ok('{"n":'), expect = fails("decode") },
  { name = "body_bad_gzip", serve = "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 9\r\n\r\nnot gzip!",
    expect = fails("decode") },
  { name = "body_raw_newline", serve = ok('{"s":"a\nb"}'), expect = value({ s = "a\nb" }) },
  { name = "body_empty_200", serve = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", expect = value(true) },
  { name = "body_head_request", method = "HEAD", serve = "HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n",
    expect = value(true) },
}

--- The outcome of a GET over https, with retries, to the http URL that the
--- case's answer names ({ url = ... }); `kind` says how many attempts were
--- made when there was more than one.
function M.https_to(client, path, ctx)
  local where = assert(client:request("GET", path))
  local https = ctx.client{ base_url = where.url:gsub("^http:", "https:"), retries = 2, connect_timeout = 0.5 }
  local answer, err = https:request("GET", "/v1/user")
  https:close()
  if answer then return { value = answer } end
  local kind = err.attempts == 1 and err.kind or ("%s after %d attempts"):format(err.kind, err.attempts)
  return { kind = kind, message = err.message }
end

M.BY_NAME = {}
for _, case in ipairs(M.CASES) do
  assert(M.BY_NAME[case.name] == nil, "two cases named " .. case.name)
  M.BY_NAME[case.name] = case
end

return M
