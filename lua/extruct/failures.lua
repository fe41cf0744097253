-- The one classifier: what went wrong, as a transport reports it, to the
-- error kind a caller sees (and so whether it is retried, extruct.retry).
--
-- Both transports report a failed exchange with a word of core.failures
-- (libcurl's transfers and the cosocket transport alike: the same failure
-- is the same word), and a response with its HTTP status. This file is the
-- only place either becomes a kind; docs/errors.md shows the same table.

local M = {}

--- Failure word -> { kind, what happened }. The words are core.failures (a
--- spec checks that both lists agree).
M.FAILURES = {
  cancelled = { "cancelled", "the client was closed during the request" },
  interrupted = { "cancelled", "Ctrl-C (SIGINT) came while extruct.on_interrupt(\"cancel\") was in force" },
  queued = { "timeout", "queue_timeout ran out while the request waited for a connection to the host"
    .. " (at most 16 requests of a client at a time): it was never sent" },
  resolve = { "network", "the host name could not be looked up" },
  connect = { "network", "the connection was refused or failed" },
  connect_timeout = { "timeout", "connecting took longer than connect_timeout" },
  timeout = { "timeout", "the exchange took longer than timeout (a server that stalls or trickles)" },
  send = { "network", "sending the request failed" },
  receive = { "network", "reading the answer failed (a connection reset)" },
  closed = { "network", "the server closed the connection without answering" },
  truncated = { "network", "the answer stopped before its end (fewer bytes than announced, a cut chunk)" },
  protocol = { "network", "the answer is not HTTP/1.1 (a bad status line, header, framing or chunk)" },
  head_too_large = { "decode", "the answer's header section is larger than 96 KB" },
  body_too_large = { "decode", "the answer is larger than max_response_size" },
  bad_encoding = { "decode", "a compressed body that does not decompress" },
  tls_verify = { "tls", "the server's certificate failed verification" },
  tls_handshake = { "tls", "the TLS handshake failed otherwise, or did not finish within connect_timeout" },
  redirect_refused = { "http", "a redirect that may not be followed (another scheme, or from https to http)" },
  too_many_redirects = { "http", "more redirects in a row than the limit" },
  memory = { "network", "memory ran out while receiving" },
  config = { "config", "the request cannot be made as configured" },
  other = { "network", "any other failure of the connection" },
}

local KIND_BY_STATUS = {
  [401] = "auth", [403] = "auth", [402] = "payment", [404] = "not_found",
  [422] = "validation", [429] = "rate_limit",
}

--- The error kind of a failure word (core.failures) or of a non-2xx HTTP
--- status. Any other word is a bug of the transport that reported it.
---@param what string|integer A failure word, or an HTTP status
---@return extruct.ErrorKind kind
function M.kind(what)
  if type(what) == "number" then
    if KIND_BY_STATUS[what] then return KIND_BY_STATUS[what] end
    if what >= 500 and what <= 599 then return "server" end
    return "http"
  end
  local entry = M.FAILURES[what]
  if entry == nil then
    error(("extruct.failures: '%s' is not a failure a transport reports"):format(tostring(what)), 2)
  end
  return entry[1]
end

return M
