-- The sans-I/O HTTP/1.1 layer of the core (src/http1.c): request bytes from
-- core.http_request, and a response parser fed the bytes a transport reads,
-- which yields the response table a libcurl transfer gives.
local extruct = require("extruct")
local core = require("extruct.core")

local JSON = '{"id":"tbl_1","rows":[1,2,3],"name":"t\\u00e9"}'

-- Feeds the parts in order; stops at the first answer other than "more".
-- With eof, finish() follows when the parts ran out with "more".
local function drive(parts, opts, eof)
  local parser = core.http_response_parser(opts)
  local result, kind, message
  for i, part in ipairs(parts) do
    result, kind, message = parser:feed(part)
    if result ~= "more" then
      assert(result ~= "done" or i == #parts or parts[i + 1] == "",
        "done before the last part (" .. i .. " of " .. #parts .. ")")
      return parser, result, kind, message
    end
  end
  if eof then
    result, kind, message = parser:finish()
  end
  return parser, result, kind, message
end

local function bytes_of(s)
  local parts = {}
  for i = 1, #s do parts[i] = s:sub(i, i) end
  return parts
end

-- Every way of feeding s the specs try: whole, a byte at a time, and split
-- in two at each position. fn(parser, result, kind, message, how).
local function each_feeding(s, opts, eof, fn)
  local parser, result, kind, message = drive({ s }, opts, eof)
  fn(parser, result, kind, message, "whole")
  parser, result, kind, message = drive(bytes_of(s), opts, eof)
  fn(parser, result, kind, message, "one byte at a time")
  for i = 0, #s do
    parser, result, kind, message = drive({ s:sub(1, i), s:sub(i + 1) }, opts, eof)
    fn(parser, result, kind, message, "split at " .. i)
  end
end

local function expect_response(s, expected, opts, eof)
  each_feeding(s, opts, eof, function(parser, result, kind, message, how)
    assert.equal("done", result, how .. ": " .. tostring(kind) .. " " .. tostring(message))
    assert.same(expected, parser:response(), how)
  end)
end

local function expect_failure(s, want_kind, want_message, opts, eof)
  each_feeding(s, opts, eof, function(_, result, kind, message, how)
    assert.is_nil(result, how)
    assert.equal(want_kind, kind, how)
    assert.equal(want_message, message, how)
  end)
end

describe("core.http_request", function()
  it("builds the request line, Host, the headers in order, Content-Length and the body", function()
    assert.equal("POST /v1/tables?x=1 HTTP/1.1\r\nHost: api.extruct.ai\r\n"
      .. "Accept: application/json\r\nContent-Type: application/json\r\n"
      .. "Content-Length: 7\r\n\r\n{\"a\":1}",
      core.http_request("POST", "/v1/tables?x=1", "api.extruct.ai",
        { "Accept: application/json", "Content-Type: application/json" }, '{"a":1}'))
  end)

  it("sends no Content-Length without a body, and Content-Length: 0 for an empty one", function()
    assert.equal("GET / HTTP/1.1\r\nHost: h:8080\r\n\r\n", core.http_request("GET", "/", "h:8080", {}))
    assert.equal("GET / HTTP/1.1\r\nHost: h\r\n\r\n", core.http_request("GET", "/", "h", nil, nil))
    assert.equal("DELETE /x HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n",
      core.http_request("DELETE", "/x", "h", {}, ""))
  end)

  it("keeps every byte of the body, NUL included, and counts it", function()
    local body = ("\0\r\n"):rep(1000)
    local request = core.http_request("PUT", "/b", "h", {}, body)
    assert.equal("PUT /b HTTP/1.1\r\nHost: h\r\nContent-Length: 3000\r\n\r\n" .. body, request)
  end)

  it("sends no Connection header", function()
    assert.is_nil(core.http_request("GET", "/", "h", { "Accept: */*" }, "x"):lower():find("connection", 1, true))
  end)

  it("accepts any RFC 9110 token as the method and a header value with tabs, colons and UTF-8", function()
    assert.equal("M-1!#$%&'*+.^_`|~ / HTTP/1.1\r\nHost: h\r\nX-Y:\ta: b \195\169\r\n\r\n",
      core.http_request("M-1!#$%&'*+.^_`|~", "/", "h", { "X-Y:\ta: b \195\169" }))
  end)

  local good = { "GET", "/", "h", { "A: b" }, "body" }
  local misuse = {
    { 1, "", "empty method" }, { 1, "GE T", "method with a space" }, { 1, "GET\r\n", "method with CRLF" },
    { 1, "G(T", "method with a separator" }, { 1, {}, "method not a string" },
    { 2, "", "empty target" }, { 2, "x/y", "target not starting with /" },
    { 2, "/a b", "target with a space" }, { 2, "/a\r\nX: y", "target with CRLF" },
    { 2, "/a\0", "target with NUL" }, { 2, "/a\127", "target with DEL" }, { 2, "/a\t", "target with a tab" },
    { 3, "", "empty host" }, { 3, "h h", "host with a space" }, { 3, "h\r\nX: y", "host with CRLF" },
    { 3, "h\0", "host with NUL" }, { 3, nil, "host missing" },
    { 4, { "NoColon" }, "header without a colon" }, { 4, { ": v" }, "header without a name" },
    { 4, { "A b: v" }, "header name with a space" }, { 4, { "A: v\r\nB: w" }, "header with CRLF" },
    { 4, { "A: v\n" }, "header with LF" }, { 4, { "A: v\r" }, "header with CR" },
    { 4, { "A: v\0" }, "header with NUL" }, { 4, { "A: b", 7 }, "header not a string" },
    { 4, "A: b", "headers not a table" },
    { 5, 12, "body a number" }, { 5, {}, "body a table" }, { 5, true, "body a boolean" },
  }
  for _, case in ipairs(misuse) do
    it("raises on misuse: " .. case[3], function()
      local args = { good[1], good[2], good[3], good[4], good[5] }
      args[case[1]] = case[2]
      local ok, err = pcall(core.http_request, args[1], args[2], args[3], args[4], args[5])
      assert.is_false(ok)
      assert.matches("bad argument #" .. case[1], err, 1, true)
    end)
  end
end)

describe("the HTTP/1.1 response parser", function()
  local expected_json = {
    status = 200,
    headers = { ["content-type"] = "application/json", ["content-length"] = tostring(#JSON) },
    body = assert(extruct.decode(JSON)),
  }

  it("parses a Content-Length body, fed whole, a byte at a time and split anywhere", function()
    local s = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " .. #JSON .. "\r\n\r\n" .. JSON
    expect_response(s, expected_json)
  end)

  it("parses a chunked body with chunk extensions, and never takes a trailer for a header", function()
    local a, b = JSON:sub(1, 10), JSON:sub(11)
    -- (a trailer that could set the body's type, a retry delay or the paging facts)
    local s = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
      .. ("%x;name=value\r\n%s\r\n%X; q=\"x\"\r\n%s\r\n0\r\nX-Trailer: t\r\nContent-Type: text/html\r\n"
        .. "Retry-After: 9\r\n\r\n"):format(#a, a, #b, b)
    expect_response(s, {
      status = 200,
      headers = { ["content-type"] = "application/json", ["transfer-encoding"] = "chunked" },
      body = assert(extruct.decode(JSON)),
    })
  end)

  it("refuses chunk data not followed by CRLF, wherever the feeds split it", function()
    for _, chunk_end in ipairs({ "XX", "\rX", "X\n", "\n\n" }) do
      local s = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n[1]" .. chunk_end .. "0\r\n\r\n"
      expect_failure(s, "protocol", "the server broke HTTP: a chunk's data is not followed by CRLF")
    end
  end)

  it("parses a chunked body without trailers", function()
    local s = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n[1\r\n1\r\n]\r\n0\r\n\r\n"
    expect_response(s, { status = 200, headers = { ["transfer-encoding"] = "chunked" }, body = { 1 } })
  end)

  it("completes a close-delimited body at finish()", function()
    local s = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n" .. JSON
    expect_response(s, {
      status = 200,
      headers = { ["content-type"] = "application/json" },
      body = assert(extruct.decode(JSON)),
    }, nil, true)
    local parser = core.http_response_parser()
    assert.equal("more", parser:feed(s))
    assert.equal("done", parser:finish())
    assert.is_false(parser:keep_alive())
  end)

  it("skips 100 Continue and 103 Early Hints: only the final response's headers count", function()
    local s = "HTTP/1.1 100 Continue\r\nX-Interim: 1\r\n\r\n"
      .. "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
      .. "HTTP/1.1 201 Created\r\nContent-Length: 2\r\nX-Final: 1\r\n\r\n{}"
    expect_response(s, { status = 201, headers = { ["content-length"] = "2", ["x-final"] = "1" }, body = {} })
  end)

  it("reads no body after a HEAD request's answer, whatever its Content-Length", function()
    local s = "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n"
    expect_response(s, { status = 200, headers = { ["content-length"] = "1234" } }, { head = true })
    local parser = core.http_response_parser({ head = true })
    assert.equal("done", parser:feed(s))
    assert.is_true(parser:keep_alive())
    -- without head = true the same bytes wait for the body
    assert.equal("more", core.http_response_parser():feed(s))
  end)

  it("reads no body after 204 and 304, even with a Content-Length", function()
    for _, status in ipairs{ 204, 304 } do
      local s = ("HTTP/1.1 %d X\r\nContent-Length: 10\r\nETag: \"e\"\r\n\r\n"):format(status)
      expect_response(s, { status = status, headers = { ["content-length"] = "10", etag = '"e"' } })
      local parser = core.http_response_parser()
      assert.equal("done", parser:feed(s))
      assert.is_true(parser:keep_alive())
    end
  end)

  it("joins repeated headers with \", \" under a lower-cased name, as the libcurl path does", function()
    local s = "HTTP/1.1 200 OK\r\nX-A: 1\r\nx-a:  2 \r\nX-B:\r\nContent-Length: 0\r\nX-A: 3\r\n\r\n"
    expect_response(s, { status = 200, headers = { ["x-a"] = "1, 2, 3", ["x-b"] = "", ["content-length"] = "0" } })
  end)

  it("joins a header name and value split across feeds", function()
    local parser = core.http_response_parser()
    for _, part in ipairs{ "HTTP/1.1 2", "00 O", "K\r\nX-Lo", "ng-Name: val", "ue part", "s\r\nContent-Length: 2\r",
                           "\n\r", "\n{", "}" } do
      parser:feed(part)
    end
    assert.same({ status = 200, headers = { ["x-long-name"] = "value parts", ["content-length"] = "2" }, body = {} },
      parser:response())
  end)

  it("gives body_error and body_text for a body that is not JSON, as extruct.decode says", function()
    local text = "<html>Bad gateway</html>"
    local s = "HTTP/1.1 502 Bad Gateway\r\nContent-Length: " .. #text .. "\r\n\r\n" .. text
    local _, why = extruct.decode(text)
    expect_response(s, {
      status = 502,
      headers = { ["content-length"] = tostring(#text) },
      body_error = why.message,
      body_text = text,
    })
  end)

  it("accepts a status line without a reason phrase, and HTTP/1.0", function()
    expect_response("HTTP/1.1 200\r\nContent-Length: 2\r\n\r\n[]", { status = 200,
      headers = { ["content-length"] = "2" }, body = setmetatable({}, extruct.array_mt) })
    expect_response("HTTP/1.0 404 Not Found\r\n\r\nnope", { status = 404, headers = {},
      body_error = select(2, extruct.decode("nope")).message, body_text = "nope" }, nil, true)
  end)

  describe("keep_alive()", function()
    local function keep_alive_of(s)
      local parser = core.http_response_parser()
      assert.equal("done", parser:feed(s))
      return parser:keep_alive()
    end

    it("is true for a complete HTTP/1.1 response and nothing after it", function()
      assert.is_true(keep_alive_of("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"))
      assert.is_true(keep_alive_of("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"))
      assert.is_true(keep_alive_of("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n"))
    end)
    it("is false with Connection: close", function()
      assert.is_false(keep_alive_of("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}"))
    end)
    it("is false for HTTP/1.0 without keep-alive", function()
      assert.is_false(keep_alive_of("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n{}"))
    end)
    it("is false when bytes came after the end of the response", function()
      assert.is_false(keep_alive_of("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}H"))
      assert.is_false(keep_alive_of("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}HTTP/1.1 200 OK\r\n\r\n"))
    end)
    it("is false before the response is complete and after a failure", function()
      local parser = core.http_response_parser()
      assert.equal("more", parser:feed("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{"))
      assert.is_false(parser:keep_alive())
      assert.is_nil(parser:finish())
      assert.is_false(parser:keep_alive())
    end)
  end)

  describe("fails with a failure word and a message naming the violation", function()
    local cases = {
      { "an HTTP/0.9 answer (no status line)", '{"a":1}\r\n', "malformed status line" },
      { "a status line of another protocol", "ICY 200 OK\r\n\r\n", "malformed status line" },
      { "a status line without a code", "HTTP/1.1 OK\r\n\r\n", "malformed status line" },
      { "a malformed version", "HTTP/1.x 200 OK\r\n\r\n", "malformed status line" },
      { "HTTP/2.0", "HTTP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n",
        "unsupported HTTP version 2.0 in the status line" },
      { "status code 099", "HTTP/1.1 099 Low\r\nContent-Length: 0\r\n\r\n", "invalid status code 99" },
      { "status code 1000", "HTTP/1.1 1000 High\r\nContent-Length: 0\r\n\r\n", "invalid status code 1000" },
      { "a 101 no upgrade was asked for", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n"
        .. "Connection: Upgrade\r\n\r\n", "unexpected 101 Switching Protocols (no protocol upgrade was asked for)" },
      { "two different Content-Length headers", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
        "two Content-Length headers" },
      { "two equal Content-Length headers", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\ncontent-length: 2\r\n\r\n{}",
        "two Content-Length headers" },
      { "Content-Length with chunked", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n",
        "both Content-Length and Transfer-Encoding headers" },
      { "a Content-Length that is not a number", "HTTP/1.1 200 OK\r\nContent-Length: 2x\r\n\r\n{}",
        "invalid Content-Length" },
      { "a negative Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "invalid Content-Length" },
      { "an invalid chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "invalid chunk size" },
      { "a chunk size that overflows", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        .. ("f"):rep(20) .. "\r\n", "invalid chunk size" },
      { "a control character in a header name", "HTTP/1.1 200 OK\r\nX\1Y: 1\r\n\r\n",
        "invalid character in the header section" },
      { "a header line with a bare CR", "HTTP/1.1 200 OK\r\nX: a\rb\r\nContent-Length: 0\r\n\r\n",
        "malformed header section (a line does not end in CRLF)" },
      { "a status line not starting with HTTP/", "HXTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        "malformed status line" },
      { "a final response not starting with HTTP/", "HTTP/1.1 100 Continue\r\n\r\nHTTP 200 OK\r\n\r\n",
        "malformed status line" },
    }
    for _, case in ipairs(cases) do
      it(case[1], function()
        expect_failure(case[2], "protocol", "the server broke HTTP: " .. case[3])
      end)
    end

    it("the connection closing before the response is complete, at finish()", function()
      local s = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n{}"
      local message = "the connection closed before the response was complete"
      for i = 0, #s do
        local parser = core.http_response_parser()
        if i > 0 then assert.equal("more", parser:feed(s:sub(1, i))) end
        assert.same({ nil, "truncated", message }, { parser:finish() }, "after " .. i .. " bytes")
      end
      -- right after an interim response
      local parser = core.http_response_parser()
      assert.equal("more", parser:feed("HTTP/1.1 100 Continue\r\n\r\n"))
      assert.same({ nil, "truncated", message }, { parser:finish() })
      -- in a chunked body
      parser = core.http_response_parser()
      assert.equal("more", parser:feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n"))
      assert.same({ nil, "truncated", message }, { parser:finish() })
    end)
  end)

  describe("limits", function()
    it("max_body: a Content-Length above it fails as soon as the headers are in, body_too_large", function()
      local parser = core.http_response_parser({ max_body = 10 })
      assert.same({ nil, "body_too_large", "response larger than max_response_size (10 bytes)" },
        { parser:feed("HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n") })
    end)
    it("max_body: a chunked body that grows past it fails, one exactly at it passes", function()
      local body = "[" .. ("1,"):rep(9) .. "1]"
      local s = ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n"):format(#body, body)
      expect_failure(s, "body_too_large", "response larger than max_response_size (" .. (#body - 1) .. " bytes)",
        { max_body = #body - 1 })
      expect_response(s, { status = 200, headers = { ["transfer-encoding"] = "chunked" },
        body = assert(extruct.decode(body)) }, { max_body = #body })
    end)
    it("max_body: a close-delimited body past it fails", function()
      expect_failure("HTTP/1.1 200 OK\r\n\r\n" .. ("x"):rep(20), "body_too_large",
        "response larger than max_response_size (19 bytes)", { max_body = 19 }, true)
    end)
    it("max_body: sizes of 2^31 and more print as integers", function()
      local parser = core.http_response_parser({ max_body = 2 ^ 32 })
      assert.same({ nil, "body_too_large", "response larger than max_response_size (4294967296 bytes)" },
        { parser:feed("HTTP/1.1 200 OK\r\nContent-Length: 5000000000\r\n\r\n") })
      parser = core.http_response_parser()
      assert.same({ nil, "body_too_large", "response larger than max_response_size (67108864 bytes)" },
        { parser:feed("HTTP/1.1 200 OK\r\nContent-Length: 67108865\r\n\r\n") })
    end)
    it("max_head: a header section of exactly max_head bytes passes, one more byte fails", function()
      local function head_of(size)
        local start = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-Pad: "
        return start .. ("p"):rep(size - #start - 4) .. "\r\n\r\n"
      end
      assert.equal(100, #head_of(100))
      expect_response(head_of(100), { status = 200, headers = { ["content-length"] = "0",
        ["x-pad"] = ("p"):rep(100 - 43 - 4) } }, { max_head = 100 })
      expect_failure(head_of(101), "head_too_large", "the response's header section is larger than 100 bytes",
        { max_head = 100 })
    end)
    it("max_head: by default 96 KiB, as on the libcurl transport, and not a memory error", function()
      local huge = "HTTP/1.1 200 OK\r\nX-Big: " .. ("b"):rep(300000) .. "\r\n\r\n"
      local parser = core.http_response_parser()
      assert.same({ nil, "head_too_large", "the response's header section is larger than 98304 bytes" },
        { parser:feed(huge) })
      -- many small lines count as much as one long one
      parser = core.http_response_parser({ max_head = 1000 })
      local result, kind, message = parser:feed("HTTP/1.1 200 OK\r\n")
      for _ = 1, 200 do
        result, kind, message = parser:feed("X-Line: 0123456789\r\n")
        if result ~= "more" then break end
      end
      assert.same({ nil, "head_too_large", "the response's header section is larger than 1000 bytes" },
        { result, kind, message })
    end)
    it("max_head applies to each parser, whatever others use", function()
      local small = core.http_response_parser({ max_head = 64 })
      local big = core.http_response_parser({ max_head = 100000 })
      local line = "HTTP/1.1 200 OK\r\nX-Pad: " .. ("p"):rep(100)
      assert.equal("more", big:feed(line))
      assert.same({ nil, "head_too_large", "the response's header section is larger than 64 bytes" },
        { small:feed(line) })
      assert.equal("done", big:feed("\r\nContent-Length: 0\r\n\r\n"))
    end)
    it("max_head also bounds the trailer section", function()
      local s = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: " .. ("t"):rep(200) .. "\r\n\r\n"
      expect_failure(s, "head_too_large", "the response's trailer section is larger than 100 bytes", { max_head = 100 })
    end)
  end)

  describe("misuse raises", function()
    it("feed, finish and response after a failure; feed after done", function()
      local parser = core.http_response_parser()
      assert.is_nil(parser:feed("nonsense"))
      assert.has_error(function() parser:feed("HTTP/1.1 200 OK\r\n") end, "extruct.core: the parser failed already")
      assert.has_error(function() parser:finish() end, "extruct.core: the parser failed already")
      assert.error_matches(function() parser:response() end,
        "calling 'response' on bad self (the response is not complete)", nil, true)

      parser = core.http_response_parser()
      assert.equal("done", parser:feed("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"))
      assert.has_error(function() parser:feed("x") end, "extruct.core: the response is complete already")
      assert.equal("done", parser:finish())
    end)
    it("response before done, and a second time", function()
      local parser = core.http_response_parser()
      assert.error_matches(function() parser:response() end,
        "calling 'response' on bad self (the response is not complete)", nil, true)
      assert.equal("more", parser:feed("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n"))
      assert.error_matches(function() parser:response() end,
        "calling 'response' on bad self (the response is not complete)", nil, true)
      assert.equal("done", parser:feed("{}"))
      assert.same({ status = 200, headers = { ["content-length"] = "2" }, body = {} }, parser:response())
      assert.error_matches(function() parser:response() end,
        "calling 'response' on bad self (the response was read already)", nil, true)
    end)
    it("bad options and a feed that is not a string", function()
      for _, opts in ipairs{ { max_body = "1" }, { max_body = 0 }, { max_head = -1 }, { max_head = 2 ^ 31 },
                             { head = 1 }, "x" } do
        assert.error_matches(function() core.http_response_parser(opts) end,
          "bad argument #1 to 'http_response_parser' (", nil, true)
      end
      assert.error_matches(function() core.http_response_parser():feed({}) end,
        "bad argument #1 to 'feed' (string expected, got table)", nil, true)
      assert.error_matches(function() core.http_response_parser():feed() end,
        "bad argument #1 to 'feed' (string expected, got no value)", nil, true)
    end)
    it("an empty feed is not the end of the stream", function()
      local parser = core.http_response_parser()
      assert.equal("more", parser:feed(""))
      assert.equal("more", parser:feed("HTTP/1.1 200 OK\r\n"))
      assert.equal("more", parser:feed(""))
      assert.equal("done", parser:feed("Content-Length: 0\r\n\r\n"))
    end)
  end)

  it("frees its buffers with the collector (a thousand parsers left mid-body)", function()
    collectgarbage()
    for _ = 1, 1000 do
      local parser = core.http_response_parser()
      parser:feed("HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" .. ("x"):rep(50000))
    end
    collectgarbage()
    collectgarbage()
    assert.equal("userdata", type(core.http_response_parser()))
  end)
end)
