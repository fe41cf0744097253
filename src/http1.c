/* HTTP/1.1 without I/O, for a transport that owns the socket (an OpenResty
 * cosocket): core.http_request builds the bytes of a request, and a response
 * parser takes the bytes read back and yields the same response table as a
 * libcurl transfer (ex_response_push). Responses are parsed by the nodejs
 * http-parser library; this file adds what it leaves to its user: interim
 * 1xx responses, responses without a body (HEAD, 204, 304), the limits, the
 * checks it is lenient about (status codes below 100, HTTP versions other
 * than 1.x), and messages that name the violation.
 *
 * The parser's buffers live in ex_buffers owned by the userdata, and the
 * http-parser callbacks make no Lua calls, so no Lua error can long-jump
 * past a live allocation. */
#include <http_parser.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "transfer.h"

#define EX_HTTP1_PARSER_MT "extruct.core.http1_parser"

#define HTTP1_DEFAULT_MAX_BODY (64.0 * 1024 * 1024)
#define HTTP1_DEFAULT_MAX_HEAD EX_MAX_HEAD
#define HTTP1_MAX_HEAD_LIMIT 0x7fffffff

enum http1_state { HTTP1_RUNNING, HTTP1_DONE, HTTP1_FAILED };
/* What the last bytes added to the reconstructed header block were. */
enum http1_line { HTTP1_LINE_NONE, HTTP1_LINE_STATUS, HTTP1_LINE_NAME, HTTP1_LINE_VALUE };
/* Why a callback stopped the parser. */
enum http1_stop {
  HTTP1_STOP_NONE,
  HTTP1_STOP_MEMORY,
  HTTP1_STOP_BODY_TOO_LARGE,
  HTTP1_STOP_HEAD_TOO_LARGE,
  HTTP1_STOP_BAD_STATUS,
  HTTP1_STOP_BAD_STATUS_LINE,
  HTTP1_STOP_BAD_VERSION,
  HTTP1_STOP_SWITCHING,
  HTTP1_STOP_CHUNK_END
};

typedef struct http1_parser {
  http_parser parser;
  ex_buffer head; /* "HTTP/1.1 200 OK\r\nName: value\r\n...\r\n": trailers are left out */
  ex_buffer body;
  size_t max_body, max_head;
  int head_request; /* the request was HEAD: no body follows the headers */

  enum http1_state state;
  enum http1_line line;
  enum http1_stop stop;
  int headers_done; /* of the current message: later header lines are trailers */
  int interim;      /* the current message is a 1xx to skip */
  int message_done, keep_alive, extra_bytes;
  size_t prefix_seen; /* bytes of "HTTP/" checked at the start of the current message */
  unsigned status;
  /* The CRLF that must follow a chunk's data (http-parser built without its
   * strict checks takes any two bytes there): how many of its bytes are
   * still to be checked at the start of the next feed, and the end of the
   * bytes being fed now. */
  int chunk_end_left;
  const char *feed_end;
} http1_parser;

/* ---- http-parser callbacks (no Lua calls in here: nothing may long-jump) ---- */

static http1_parser *http1_of(http_parser *hp) {
  return (http1_parser *)hp->data;
}

/* A backstop on the reconstructed block: http-parser itself stops a header
 * section of more than max_head raw bytes (see http1_execute); the rebuilt
 * lines add at most ": " and a CR per line, and trailers count anew. */
static int http1_append_head(http1_parser *p, const char *data, size_t len) {
  size_t limit = p->max_head > ((size_t)-1 - 256) / 4 ? (size_t)-1 : 4 * p->max_head + 256;
  if (p->head.len + len > limit) {
    p->stop = HTTP1_STOP_HEAD_TOO_LARGE;
    return 0;
  }
  if (!ex_buffer_append(&p->head, data, len)) {
    p->stop = HTTP1_STOP_MEMORY;
    return 0;
  }
  return 1;
}

static int http1_start_status_line(http1_parser *p) {
  char line[32];
  int n;
  if (p->line != HTTP1_LINE_NONE || p->headers_done)
    return 1;
  n = snprintf(line, sizeof line, "HTTP/%u.%u %03u ", (unsigned)p->parser.http_major,
               (unsigned)p->parser.http_minor, (unsigned)p->parser.status_code);
  p->line = HTTP1_LINE_STATUS;
  return http1_append_head(p, line, (size_t)n);
}

/* Ends the line being built, if any. */
static int http1_end_line(http1_parser *p) {
  enum http1_line line = p->line;
  p->line = HTTP1_LINE_NONE;
  if (line == HTTP1_LINE_NAME)
    return http1_append_head(p, ": \r\n", 4);
  if (line != HTTP1_LINE_NONE)
    return http1_append_head(p, "\r\n", 2);
  return 1;
}

static int http1_on_message_begin(http_parser *hp) {
  http1_parser *p = http1_of(hp);
  p->head.len = 0;
  p->body.len = 0;
  p->line = HTTP1_LINE_NONE;
  p->headers_done = 0;
  p->interim = 0;
  return 0;
}

static int http1_on_status(http_parser *hp, const char *at, size_t len) {
  http1_parser *p = http1_of(hp);
  if (!http1_start_status_line(p) || !http1_append_head(p, at, len))
    return -1;
  return 0;
}

static int http1_on_header_field(http_parser *hp, const char *at, size_t len) {
  http1_parser *p = http1_of(hp);
  if (p->headers_done)
    return 0; /* a trailer field: never a header (RFC 9110, 6.5) */
  if (!http1_start_status_line(p))
    return -1;
  if (p->line != HTTP1_LINE_NAME) {
    if (!http1_end_line(p))
      return -1;
    p->line = HTTP1_LINE_NAME;
  }
  return http1_append_head(p, at, len) ? 0 : -1;
}

static int http1_on_header_value(http_parser *hp, const char *at, size_t len) {
  http1_parser *p = http1_of(hp);
  if (p->headers_done)
    return 0;
  if (p->line == HTTP1_LINE_NAME) {
    if (!http1_append_head(p, ": ", 2))
      return -1;
    p->line = HTTP1_LINE_VALUE;
  }
  return http1_append_head(p, at, len) ? 0 : -1;
}

/* Returns 1 for "no body follows" (http-parser's convention), -1 to stop. */
static int http1_on_headers_complete(http_parser *hp) {
  http1_parser *p = http1_of(hp);
  unsigned status = hp->status_code;
  if (!http1_start_status_line(p) || !http1_end_line(p) || !http1_append_head(p, "\r\n", 2))
    return -1;
  p->headers_done = 1;
  p->status = status;
  /* http-parser takes any one digit for each part of the version, and any
   * number below 1000 for the status. */
  if (hp->http_major != 1) {
    p->stop = HTTP1_STOP_BAD_VERSION;
    return -1;
  }
  if (status < 100) {
    p->stop = HTTP1_STOP_BAD_STATUS;
    return -1;
  }
  /* No upgrade is ever asked for, so a 101 cannot be followed. */
  if (status == 101) {
    p->stop = HTTP1_STOP_SWITCHING;
    return -1;
  }
  if (status < 200) {
    p->interim = 1;
    return 1;
  }
  /* http-parser would read a body of Content-Length bytes after a 204 or a
   * 304 (and after a HEAD request's answer unless told): none follows. */
  if (p->head_request || status == 204 || status == 304)
    return 1;
  if (!(hp->flags & F_CHUNKED) && hp->content_length != ULLONG_MAX && hp->content_length > p->max_body) {
    p->stop = HTTP1_STOP_BODY_TOO_LARGE;
    return -1;
  }
  return 0;
}

/* Checks the bytes after a chunk's data, from `at` on, against the CRLF
 * still expected there; returns 0 on a mismatch. */
static int http1_check_chunk_end(http1_parser *p, const char *at, const char *end) {
  static const char crlf[] = "\r\n";
  while (p->chunk_end_left > 0 && at < end) {
    if (*at != crlf[2 - p->chunk_end_left]) {
      p->stop = HTTP1_STOP_CHUNK_END;
      return 0;
    }
    p->chunk_end_left--;
    at++;
  }
  return 1;
}

static int http1_on_body(http_parser *hp, const char *at, size_t len) {
  http1_parser *p = http1_of(hp);
  /* http-parser counts a chunk down as it hands its data over: at 0 the
   * chunk's data ends here, and a CRLF must follow. */
  if ((hp->flags & F_CHUNKED) && hp->content_length == 0) {
    p->chunk_end_left = 2;
    if (!http1_check_chunk_end(p, at + len, p->feed_end))
      return -1;
  }
  if (len > p->max_body - p->body.len) {
    p->stop = HTTP1_STOP_BODY_TOO_LARGE;
    return -1;
  }
  if (!ex_buffer_append(&p->body, at, len)) {
    p->stop = HTTP1_STOP_MEMORY;
    return -1;
  }
  return 0;
}

/* Pauses the parser at the end of every message, so http1_execute learns
 * where it ended: an interim one is followed by the real answer, and bytes
 * after the final one mean the connection is not clean for reuse. */
static int http1_on_message_complete(http_parser *hp) {
  http1_parser *p = http1_of(hp);
  if (!p->interim) {
    if (!p->headers_done && p->line != HTTP1_LINE_NONE &&
        (!http1_end_line(p) || !http1_append_head(p, "\r\n", 2)))
      return -1;
    p->message_done = 1;
    p->keep_alive = http_should_keep_alive(hp);
  }
  http_parser_pause(hp, 1);
  return 0;
}

static const http_parser_settings http1_settings = {
    http1_on_message_begin, NULL /* on_url */,        http1_on_status, http1_on_header_field,
    http1_on_header_value,  http1_on_headers_complete, http1_on_body,   http1_on_message_complete,
    NULL /* on_chunk_header */, NULL /* on_chunk_complete */
};

/* ---- errors ------------------------------------------------------------ */

/* Pushes a size as a decimal integer (lua_pushfstring has no size_t). */
static void http1_push_size(lua_State *L, size_t n) {
  char text[32];
  snprintf(text, sizeof text, "%llu", (unsigned long long)n);
  lua_pushstring(L, text);
}

/* Whether the header line starting at line names Content-Length. */
static int http1_is_content_length(const char *line, const char *end) {
  static const char name[] = "content-length";
  size_t i, n = sizeof name - 1;
  if ((size_t)(end - line) < n)
    return 0;
  for (i = 0; i < n; i++)
    if ((line[i] | 0x20) != name[i])
      return 0;
  return line + n == end || line[n] == ':';
}

/* Content-Length lines in the header block so far, the last one possibly
 * still without its value (http-parser refuses a second one as its value
 * starts, before handing the value over). */
static int http1_count_content_length(const http1_parser *p) {
  const char *s = p->head.data, *end = s + p->head.len;
  int count = 0;
  while (s != NULL && s < end) {
    const char *eol = memchr(s, '\n', (size_t)(end - s));
    if (http1_is_content_length(s, eol ? eol : end))
      count++;
    s = eol ? eol + 1 : end;
  }
  return count;
}

/* Pushes a failure (a word of core.failures) and its message; returns 2. */
static int http1_push_failure(lua_State *L, http1_parser *p) {
  enum http_errno err = HTTP_PARSER_ERRNO(&p->parser);
  const char *section = p->headers_done ? "trailer section" : "header section";
  const char *line_section = p->headers_done ? (p->parser.flags & F_TRAILING ? "trailer section" : "chunked body")
                                             : "header section";
  switch (p->stop) {
  case HTTP1_STOP_MEMORY:
    lua_pushstring(L, ex_failure_name(EX_FAILURE_MEMORY));
    lua_pushliteral(L, "out of memory while receiving the response");
    return 2;
  case HTTP1_STOP_BODY_TOO_LARGE:
    lua_pushstring(L, ex_failure_name(EX_FAILURE_BODY_TOO_LARGE));
    lua_pushliteral(L, "response larger than max_response_size (");
    http1_push_size(L, p->max_body);
    lua_pushliteral(L, " bytes)");
    lua_concat(L, 3);
    return 2;
  case HTTP1_STOP_HEAD_TOO_LARGE:
    err = HPE_HEADER_OVERFLOW;
    break;
  case HTTP1_STOP_NONE:
    break;
  default:
    break;
  }
  if (err == HPE_HEADER_OVERFLOW) {
    /* (the words of the libcurl transport for the same failure) */
    lua_pushstring(L, ex_failure_name(EX_FAILURE_HEAD_TOO_LARGE));
    lua_pushfstring(L, "the response's %s is larger than ", section);
    http1_push_size(L, p->max_head);
    lua_pushliteral(L, " bytes");
    lua_concat(L, 3);
    return 2;
  }
  if (p->stop == HTTP1_STOP_NONE && err == HPE_INVALID_EOF_STATE) {
    lua_pushstring(L, ex_failure_name(EX_FAILURE_TRUNCATED));
    lua_pushliteral(L, "the connection closed before the response was complete");
    return 2;
  }
  lua_pushstring(L, ex_failure_name(EX_FAILURE_PROTOCOL));
  lua_pushliteral(L, "the server broke HTTP: ");
  switch (p->stop) {
  case HTTP1_STOP_BAD_STATUS_LINE:
    lua_pushliteral(L, "malformed status line");
    break;
  case HTTP1_STOP_BAD_STATUS:
    lua_pushfstring(L, "invalid status code %d", (int)p->status);
    break;
  case HTTP1_STOP_BAD_VERSION:
    lua_pushfstring(L, "unsupported HTTP version %d.%d in the status line", (int)p->parser.http_major,
                    (int)p->parser.http_minor);
    break;
  case HTTP1_STOP_SWITCHING:
    lua_pushliteral(L, "unexpected 101 Switching Protocols (no protocol upgrade was asked for)");
    break;
  case HTTP1_STOP_CHUNK_END:
    lua_pushliteral(L, "a chunk's data is not followed by CRLF");
    break;
  default:
    switch (err) {
    case HPE_INVALID_CONSTANT:
    case HPE_INVALID_VERSION:
      lua_pushliteral(L, "malformed status line");
      break;
    case HPE_INVALID_STATUS:
      if (p->parser.status_code > 999)
        lua_pushfstring(L, "invalid status code %d", (int)p->parser.status_code);
      else
        lua_pushliteral(L, "malformed status line");
      break;
    case HPE_STRICT:
    case HPE_LF_EXPECTED:
      if (p->head.len == 0 || p->line == HTTP1_LINE_STATUS)
        lua_pushliteral(L, "malformed status line");
      else
        lua_pushfstring(L, "malformed %s (a line does not end in CRLF)", line_section);
      break;
    case HPE_INVALID_HEADER_TOKEN:
      lua_pushfstring(L, "invalid character in the %s", section);
      break;
    case HPE_UNEXPECTED_CONTENT_LENGTH:
      if (http1_count_content_length(p) > 1)
        lua_pushliteral(L, "two Content-Length headers");
      else
        lua_pushliteral(L, "both Content-Length and Transfer-Encoding headers");
      break;
    case HPE_INVALID_CONTENT_LENGTH:
      if (p->headers_done)
        lua_pushliteral(L, "invalid chunk size");
      else
        lua_pushliteral(L, "invalid Content-Length");
      break;
    case HPE_INVALID_CHUNK_SIZE:
      lua_pushliteral(L, "invalid chunk size");
      break;
    default:
      lua_pushfstring(L, "malformed response (%s)", http_errno_description(err));
      break;
    }
  }
  lua_concat(L, 2);
  return 2;
}

/* ---- the parser userdata ------------------------------------------------ */

static http1_parser *http1_check(lua_State *L) {
  return (http1_parser *)luaL_checkudata(L, 1, EX_HTTP1_PARSER_MT);
}

static void http1_release(http1_parser *p) {
  ex_buffer_free(&p->head);
  ex_buffer_free(&p->body);
}

static int http1_fail(lua_State *L, http1_parser *p) {
  int results;
  p->state = HTTP1_FAILED;
  lua_pushnil(L);
  results = 1 + http1_push_failure(L, p);
  http1_release(p);
  return results;
}

static void http1_check_running(lua_State *L, http1_parser *p) {
  if (p->state == HTTP1_DONE)
    luaL_error(L, "extruct.core: the response is complete already");
  else if (p->state == HTTP1_FAILED)
    luaL_error(L, "extruct.core: the parser failed already");
}

/* Debian builds http-parser without its strict checks, so it reads
 * "HXTP/1.1" as "HTTP/1.1": the start of each message is checked here.
 * Returns 0 when the bytes cannot start a status line. */
static int http1_check_prefix(http1_parser *p, const char *data, size_t len) {
  static const char prefix[] = "HTTP/";
  size_t i;
  for (i = 0; i < len && p->prefix_seen < sizeof prefix - 1; i++) {
    if (p->prefix_seen == 0 && (data[i] == '\r' || data[i] == '\n'))
      continue; /* http-parser skips empty lines before a message */
    if (data[i] != prefix[p->prefix_seen]) {
      p->stop = HTTP1_STOP_BAD_STATUS_LINE;
      return 0;
    }
    p->prefix_seen++;
  }
  return 1;
}

/* Runs http-parser over len bytes (len 0: the connection closed). Returns
 * 1 when a final response is complete, 0 when more is needed, -1 on error. */
static int http1_execute(http1_parser *p, const char *data, size_t len) {
  size_t used = 0;
  int eof = len == 0;
  p->feed_end = eof ? NULL : data + len;
  if (!eof && !http1_check_chunk_end(p, data, data + len))
    return -1;
  do {
    size_t n;
    enum http_errno err;
    /* The limit is process-wide in http-parser; set it for this parser's
     * run. It counts the raw bytes of the status line and header lines. */
    http_parser_set_max_header_size((uint32_t)p->max_head);
    if (!eof && !http1_check_prefix(p, data + used, len - used))
      return -1;
    n = http_parser_execute(&p->parser, &http1_settings, eof ? NULL : data + used, len - used);
    used += n;
    err = HTTP_PARSER_ERRNO(&p->parser);
    if (err == HPE_PAUSED) {
      if (p->message_done) {
        p->extra_bytes = used < len;
        return 1;
      }
      /* An interim 1xx: the real response starts afresh. */
      http_parser_init(&p->parser, HTTP_RESPONSE);
      p->prefix_seen = 0;
      continue;
    }
    if (err != HPE_OK)
      return -1;
    if (eof)
      break;
    if (used != len) { /* not expected: http-parser stops short only on errors or pauses */
      p->parser.http_errno = HPE_UNKNOWN;
      return -1;
    }
  } while (used < len);
  if (eof) {
    /* At the start of a message http-parser accepts the end quietly. */
    p->parser.http_errno = HPE_INVALID_EOF_STATE;
    return -1;
  }
  return 0;
}

/* parser:feed(bytes) -> "more" | "done" | nil, failure, message */
static int http1_feed(lua_State *L) {
  http1_parser *p = http1_check(L);
  size_t len;
  const char *data = luaL_checklstring(L, 2, &len);
  int result;
  http1_check_running(L, p);
  if (len == 0) { /* zero bytes mean the end to http-parser */
    lua_pushliteral(L, "more");
    return 1;
  }
  result = http1_execute(p, data, len);
  if (result < 0)
    return http1_fail(L, p);
  if (result > 0) {
    p->state = HTTP1_DONE;
    lua_pushliteral(L, "done");
  } else {
    lua_pushliteral(L, "more");
  }
  return 1;
}

/* parser:finish() -> "done" | nil, failure, message: the connection closed. */
static int http1_finish(lua_State *L) {
  http1_parser *p = http1_check(L);
  if (p->state == HTTP1_DONE) {
    lua_pushliteral(L, "done");
    return 1;
  }
  http1_check_running(L, p);
  if (http1_execute(p, NULL, 0) < 0)
    return http1_fail(L, p);
  p->state = HTTP1_DONE;
  lua_pushliteral(L, "done");
  return 1;
}

/* parser:keep_alive() -> whether the connection can carry another request. */
static int http1_keep_alive(lua_State *L) {
  http1_parser *p = http1_check(L);
  lua_pushboolean(L, p->state == HTTP1_DONE && p->message_done && p->keep_alive && !p->extra_bytes);
  return 1;
}

/* parser:response() -> the response table; once, after "done". */
static int http1_response(lua_State *L) {
  http1_parser *p = http1_check(L);
  luaL_argcheck(L, p->state == HTTP1_DONE, 1, "the response is not complete");
  luaL_argcheck(L, p->head.data != NULL, 1, "the response was read already");
  ex_response_push(L, (long)p->status, p->head.data, p->head.len, p->body.data, p->body.len);
  http1_release(p);
  return 1;
}

static int http1_gc(lua_State *L) {
  http1_release(http1_check(L));
  return 0;
}

static size_t http1_size_option(lua_State *L, const char *name, lua_Number fallback, lua_Number most) {
  lua_Number n;
  lua_getfield(L, 1, name);
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    return (size_t)fallback;
  }
  if (lua_type(L, -1) != LUA_TNUMBER)
    luaL_argerror(L, 1, lua_pushfstring(L, "%s must be a number", name));
  n = lua_tonumber(L, -1);
  lua_pop(L, 1);
  if (!(n >= 1 && n <= most))
    luaL_argerror(L, 1, lua_pushfstring(L, "%s must be between 1 and %f", name, most));
  return (size_t)n;
}

/* core.http_response_parser([opts]) -> parser; opts: max_body, max_head, head */
static int http1_new_parser(lua_State *L) {
  http1_parser *p;
  size_t max_body, max_head;
  int head_request = 0;
  /* 2^53: every size up to it is exact in a double */
  lua_Number most_body = (lua_Number)(size_t)-1 < 9007199254740992.0 ? (lua_Number)(size_t)-1 : 9007199254740992.0;
  if (lua_isnoneornil(L, 1)) {
    lua_settop(L, 0);
    lua_newtable(L);
  }
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  max_body = http1_size_option(L, "max_body", HTTP1_DEFAULT_MAX_BODY, most_body);
  max_head = http1_size_option(L, "max_head", HTTP1_DEFAULT_MAX_HEAD, HTTP1_MAX_HEAD_LIMIT);
  lua_getfield(L, 1, "head");
  if (!lua_isnil(L, -1)) {
    luaL_argcheck(L, lua_type(L, -1) == LUA_TBOOLEAN, 1, "head must be a boolean");
    head_request = lua_toboolean(L, -1);
  }
  lua_pop(L, 1);

  p = (http1_parser *)lua_newuserdata(L, sizeof *p);
  memset(p, 0, sizeof *p);
  http_parser_init(&p->parser, HTTP_RESPONSE);
  p->parser.data = p;
  p->max_body = max_body;
  p->max_head = max_head;
  p->head_request = head_request;
  p->state = HTTP1_RUNNING;
  luaL_getmetatable(L, EX_HTTP1_PARSER_MT);
  lua_setmetatable(L, -2);
  return 1;
}

/* ---- requests ----------------------------------------------------------- */

/* RFC 9110 tchar */
static int http1_is_tchar(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static int http1_is_token(const char *s, size_t len) {
  size_t i;
  if (len == 0)
    return 0;
  for (i = 0; i < len; i++)
    if (!http1_is_tchar((unsigned char)s[i]))
      return 0;
  return 1;
}

/* Whether s has no control character (nor, unless allowed, space). */
static int http1_is_visible(const char *s, size_t len) {
  size_t i;
  for (i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c <= ' ' || c == 0x7f)
      return 0;
  }
  return 1;
}

/* "Name: value": a token, a colon, and no CR, LF or NUL anywhere. */
static int http1_is_header_line(const char *s, size_t len) {
  size_t name = 0, i;
  while (name < len && http1_is_tchar((unsigned char)s[name]))
    name++;
  if (name == 0 || name == len || s[name] != ':')
    return 0;
  for (i = name; i < len; i++)
    if (s[i] == '\r' || s[i] == '\n' || s[i] == '\0')
      return 0;
  return 1;
}

/* core.http_request(method, target, host, headers, body) -> request bytes */
int ex_http1_request(lua_State *L) {
  size_t method_len, target_len, host_len, body_len = 0;
  const char *method = luaL_checklstring(L, 1, &method_len);
  const char *target = luaL_checklstring(L, 2, &target_len);
  const char *host = luaL_checklstring(L, 3, &host_len);
  int i, count = 0, has_body;
  luaL_Buffer out;

  luaL_argcheck(L, http1_is_token(method, method_len), 1, "the method must be a token");
  luaL_argcheck(L, target_len > 0 && target[0] == '/' && http1_is_visible(target, target_len), 2,
                "the target must start with / and hold no space or control character");
  luaL_argcheck(L, host_len > 0 && http1_is_visible(host, host_len), 3,
                "the host must be non-empty and hold no space or control character");
  if (!lua_isnoneornil(L, 4)) {
    luaL_checktype(L, 4, LUA_TTABLE);
    count = (int)ex_rawlen(L, 4);
  }
  for (i = 1; i <= count; i++) {
    size_t len;
    const char *line;
    lua_rawgeti(L, 4, i);
    line = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &len) : NULL;
    if (line == NULL || !http1_is_header_line(line, len))
      return luaL_argerror(L, 4, lua_pushfstring(L, "header %d is not a \"Name: value\" line", i));
    lua_pop(L, 1);
  }
  has_body = !lua_isnoneornil(L, 5);
  if (has_body) {
    luaL_checktype(L, 5, LUA_TSTRING);
    lua_tolstring(L, 5, &body_len);
  }
  lua_settop(L, 5);

  luaL_buffinit(L, &out);
  luaL_addlstring(&out, method, method_len);
  luaL_addchar(&out, ' ');
  luaL_addlstring(&out, target, target_len);
  luaL_addstring(&out, " HTTP/1.1\r\nHost: ");
  luaL_addlstring(&out, host, host_len);
  luaL_addstring(&out, "\r\n");
  for (i = 1; i <= count; i++) {
    lua_rawgeti(L, 4, i);
    luaL_addvalue(&out);
    luaL_addstring(&out, "\r\n");
  }
  if (has_body) {
    char length[48];
    snprintf(length, sizeof length, "Content-Length: %llu\r\n\r\n", (unsigned long long)body_len);
    luaL_addstring(&out, length);
    lua_pushvalue(L, 5);
    luaL_addvalue(&out);
  } else {
    luaL_addstring(&out, "\r\n");
  }
  luaL_pushresult(&out);
  return 1;
}

void ex_http1_open(lua_State *L) {
  static const luaL_Reg methods[] = {
      {"feed", http1_feed},
      {"finish", http1_finish},
      {"keep_alive", http1_keep_alive},
      {"response", http1_response},
      {NULL, NULL},
  };
  static const luaL_Reg functions[] = {
      {"http_request", ex_http1_request},
      {"http_response_parser", http1_new_parser},
      {NULL, NULL},
  };
  ex_new_type(L, EX_HTTP1_PARSER_MT, methods, http1_gc, NULL);
  ex_setfuncs(L, functions);
}
