/* The HTTP client: a userdata owning one libcurl easy handle, reused for
 * every request of that client so connections stay alive between calls.
 *
 * Everything a transfer allocates (response body, response headers) lives
 * in buffers owned by the userdata and reused from request to request, so a
 * Lua error (out of memory while building the result) can never leak them:
 * the next request or __gc releases them. The bearer token is copied into
 * libcurl's header list and nowhere else; no function returns it. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "extruct.h"

#define CLIENT_DEFAULT_MAX_BODY (64L * 1024 * 1024)
#define CLIENT_MAX_REDIRECTS 3L
/* The most of one request's trace kept; the rest is cut with a note. */
#define CLIENT_MAX_TRACE (64 * 1024)

typedef struct {
  char *data;
  size_t len, cap;
} client_buffer;

typedef struct {
  CURL *curl;
  struct curl_slist *headers;      /* Accept, Authorization */
  struct curl_slist *body_headers; /* the same plus Content-Type */
  char *base_url;
  size_t max_body;
  int body_too_large;
  int out_of_memory;
  client_buffer body;
  client_buffer head;
  client_buffer trace; /* with the `trace` option: the exchange, credentials redacted */
  int tracing, trace_full;
  char error[CURL_ERROR_SIZE];
} client_t;

/* ---- buffers ---------------------------------------------------------- */

static int client_buffer_append(client_buffer *buf, const char *data, size_t len) {
  if (buf->len + len + 1 > buf->cap) {
    size_t cap = buf->cap ? buf->cap : 4096;
    char *grown;
    while (cap < buf->len + len + 1)
      cap *= 2;
    grown = (char *)realloc(buf->data, cap);
    if (grown == NULL)
      return 0;
    buf->data = grown;
    buf->cap = cap;
  }
  memcpy(buf->data + buf->len, data, len);
  buf->len += len;
  buf->data[buf->len] = '\0';
  return 1;
}

static void client_buffer_free(client_buffer *buf) {
  free(buf->data);
  buf->data = NULL;
  buf->len = buf->cap = 0;
}

/* ---- libcurl callbacks (no Lua calls in here: nothing may long-jump) ---- */

static size_t client_on_body(char *data, size_t size, size_t nmemb, void *userdata) {
  client_t *c = (client_t *)userdata;
  size_t len = size * nmemb;
  if (c->body.len + len > c->max_body) {
    c->body_too_large = 1;
    return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
  }
  if (!client_buffer_append(&c->body, data, len)) {
    c->out_of_memory = 1;
    return 0;
  }
  return len;
}

static size_t client_on_header(char *data, size_t size, size_t nmemb, void *userdata) {
  client_t *c = (client_t *)userdata;
  size_t len = size * nmemb;
  /* A new status line starts a new response (after a redirect or a 100
   * Continue): only the final response's headers matter. */
  if (len >= 5 && memcmp(data, "HTTP/", 5) == 0)
    c->head.len = 0;
  if (c->head.len + len > c->max_body) {
    c->body_too_large = 1;
    return 0;
  }
  if (!client_buffer_append(&c->head, data, len)) {
    c->out_of_memory = 1;
    return 0;
  }
  return len;
}

/* The length of "Authorization:" or "Proxy-Authorization:" (any case) at
 * the start of a header line, or 0. */
static size_t client_credential_prefix(const char *line, size_t len) {
  static const char *const names[] = {"authorization:", "proxy-authorization:"};
  size_t n, i;
  for (n = 0; n < sizeof names / sizeof names[0]; n++) {
    size_t name_len = strlen(names[n]);
    if (len < name_len)
      continue;
    for (i = 0; i < name_len && tolower((unsigned char)line[i]) == names[n][i]; i++)
      ;
    if (i == name_len)
      return name_len;
  }
  return 0;
}

/* Appends one trace line: a marker ("* " info, "> " sent, "< " received)
 * and the line without its end. The value of a credential header is
 * replaced here, so the token never reaches the trace buffer. */
static void client_trace_line(client_t *c, const char *marker, const char *line, size_t len) {
  static const char redacted[] = " [redacted]";
  static const char cut[] = "* [trace cut short]\n";
  size_t prefix;
  while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
    len--;
  if (len == 0 || c->trace_full)
    return;
  if (c->trace.len + len + sizeof redacted + 2 > CLIENT_MAX_TRACE) {
    client_buffer_append(&c->trace, cut, sizeof cut - 1);
    c->trace_full = 1;
    return;
  }
  client_buffer_append(&c->trace, marker, 2);
  prefix = client_credential_prefix(line, len);
  if (prefix > 0) {
    client_buffer_append(&c->trace, line, prefix);
    client_buffer_append(&c->trace, redacted, sizeof redacted - 1);
  } else {
    client_buffer_append(&c->trace, line, len);
  }
  client_buffer_append(&c->trace, "\n", 1);
}

static int client_on_debug(CURL *curl, curl_infotype type, char *data, size_t size, void *userdata) {
  client_t *c = (client_t *)userdata;
  const char *marker, *p = data, *end = data + size;
  (void)curl;
  switch (type) {
  case CURLINFO_TEXT:
    marker = "* ";
    break;
  case CURLINFO_HEADER_OUT:
    marker = "> ";
    break;
  case CURLINFO_HEADER_IN:
    marker = "< ";
    break;
  default:
    return 0; /* bodies and TLS records stay out */
  }
  /* A request head comes as one block: one trace line per header line. */
  while (p < end) {
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    const char *line_end = eol ? eol + 1 : end;
    client_trace_line(c, marker, p, (size_t)(line_end - p));
    p = line_end;
  }
  return 0;
}

/* ---- helpers ---------------------------------------------------------- */

static client_t *client_check(lua_State *L) {
  client_t *c = (client_t *)luaL_checkudata(L, 1, EX_CLIENT_MT);
  if (c->curl == NULL)
    luaL_error(L, "extruct: the client is closed");
  return c;
}

static const char *client_opt_string(lua_State *L, int opts, const char *name, const char *fallback) {
  const char *value;
  size_t len;
  lua_getfield(L, opts, name);
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    return fallback;
  }
  if (lua_type(L, -1) != LUA_TSTRING)
    luaL_error(L, "extruct.core.new_client: option '%s' must be a string", name);
  value = lua_tolstring(L, -1, &len);
  /* Every string option ends up in a header or the request line: a NUL
   * would cut it short, CR or LF would start a header of its own. */
  if (strlen(value) != len || strpbrk(value, "\r\n") != NULL)
    luaL_error(L, "extruct.core.new_client: option '%s' holds a CR, LF or NUL", name);
  lua_pop(L, 1); /* the options table keeps the string alive */
  return value;
}

static int client_opt_boolean(lua_State *L, int opts, const char *name) {
  int value;
  lua_getfield(L, opts, name);
  if (!lua_isnil(L, -1) && lua_type(L, -1) != LUA_TBOOLEAN)
    luaL_error(L, "extruct.core.new_client: option '%s' must be a boolean", name);
  value = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return value;
}

static lua_Number client_opt_number(lua_State *L, int opts, const char *name, lua_Number fallback) {
  lua_Number value;
  lua_getfield(L, opts, name);
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    return fallback;
  }
  if (lua_type(L, -1) != LUA_TNUMBER || lua_tonumber(L, -1) < 0)
    luaL_error(L, "extruct.core.new_client: option '%s' must be a non-negative number", name);
  value = lua_tonumber(L, -1);
  lua_pop(L, 1);
  return value;
}

static int client_is_https(const char *url) {
  static const char scheme[] = "https:";
  size_t i;
  for (i = 0; i < sizeof scheme - 1; i++)
    if (tolower((unsigned char)url[i]) != scheme[i])
      return 0; /* also at the end of a shorter url */
  return 1;
}

/* A redirect to a scheme the client does not follow (https to http). */
static int client_refused_redirect(const client_t *c, CURLcode code) {
  long redirects = 0;
  if (code != CURLE_UNSUPPORTED_PROTOCOL)
    return 0;
  curl_easy_getinfo(c->curl, CURLINFO_REDIRECT_COUNT, &redirects);
  return redirects > 0;
}

/* Maps a libcurl failure to an error kind of the Lua layer. */
static const char *client_error_kind(const client_t *c, CURLcode code) {
  if (c->body_too_large)
    return "decode";
  if (client_refused_redirect(c, code))
    return "http";
  switch (code) {
  case CURLE_OPERATION_TIMEDOUT:
    return "timeout";
  case CURLE_URL_MALFORMAT:
  case CURLE_UNSUPPORTED_PROTOCOL:
    return "config";
  case CURLE_FILESIZE_EXCEEDED:
  case CURLE_BAD_CONTENT_ENCODING:
    return "decode";
  case CURLE_TOO_MANY_REDIRECTS:
    return "http";
  /* Not transient: retrying will not make a certificate trustworthy. */
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_CACERT_BADFILE:
  case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
  case CURLE_SSL_CERTPROBLEM:
  case CURLE_SSL_ISSUER_ERROR:
    return "tls";
  default:
    return "network";
  }
}

static void client_push_error_message(lua_State *L, const client_t *c, CURLcode code) {
  if (c->out_of_memory)
    lua_pushliteral(L, "out of memory while receiving the response");
  else if (c->body_too_large || code == CURLE_FILESIZE_EXCEEDED)
    lua_pushfstring(L, "response larger than max_response_size (%d bytes)", (int)c->max_body);
  else if (client_refused_redirect(c, code))
    lua_pushstring(L, "refused to follow a redirect to another scheme (a client of an https base URL"
                      " follows https redirects only)");
  else if (strcmp(client_error_kind(c, code), "tls") == 0)
    lua_pushfstring(L, "TLS certificate verification failed: %s",
                    c->error[0] != '\0' ? c->error : curl_easy_strerror(code));
  else if (c->error[0] != '\0')
    lua_pushstring(L, c->error);
  else
    lua_pushstring(L, curl_easy_strerror(code));
}

/* ---- methods ---------------------------------------------------------- */

/* client:request(method, target [, body]) -> response | nil, kind, message [, trace]
 *
 * target is the path and query, appended to the base URL as given (the Lua
 * layer encodes it). response = { status, headers, body, body_error,
 * body_text }: body is the decoded JSON; when the body is not JSON,
 * body_error says why and body_text holds its first bytes. With the trace
 * option, response.trace (or the fourth value on failure) holds the
 * exchange's lines, credentials redacted. */
static int client_request(lua_State *L) {
  client_t *c = client_check(L);
  size_t method_len;
  const char *method = luaL_checklstring(L, 2, &method_len);
  const char *target = luaL_checkstring(L, 3);
  size_t body_len = 0;
  const char *body = luaL_optlstring(L, 4, NULL, &body_len);
  const char *url;
  CURLcode code;
  long status = 0;

  /* The method goes into the request line as is: no header injection. */
  luaL_argcheck(L, method_len > 0 && strcspn(method, " \t\r\n") == method_len, 2,
                "not an HTTP method name");
  lua_settop(L, 4);
  url = lua_pushfstring(L, "%s%s", c->base_url, target); /* kept on the stack */

  c->body.len = c->head.len = c->trace.len = 0;
  c->body_too_large = c->out_of_memory = c->trace_full = 0;
  c->error[0] = '\0';

  /* The handle is reused: reset the method-dependent options each time
   * (HTTPGET also turns NOBODY off). */
  curl_easy_setopt(c->curl, CURLOPT_HTTPGET, 1L);
  curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, NULL);
  curl_easy_setopt(c->curl, CURLOPT_URL, url);
  if (body != NULL) {
    curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, c->body_headers);
    curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, strcmp(method, "POST") == 0 ? NULL : method);
  } else {
    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, c->headers);
    if (strcmp(method, "HEAD") == 0) /* a custom HEAD would wait for a body */
      curl_easy_setopt(c->curl, CURLOPT_NOBODY, 1L);
    else
      curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, strcmp(method, "GET") == 0 ? NULL : method);
  }

  code = curl_easy_perform(c->curl);
  /* Drop pointers into Lua strings that may be collected after we return. */
  curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, NULL);
  curl_easy_setopt(c->curl, CURLOPT_URL, NULL);

  if (code != CURLE_OK || c->out_of_memory) {
    lua_pushnil(L);
    lua_pushstring(L, client_error_kind(c, code));
    client_push_error_message(L, c, code);
    if (!c->tracing)
      return 3;
    lua_pushlstring(L, c->trace.data ? c->trace.data : "", c->trace.len);
    return 4;
  }

  curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
  ex_response_push(L, status, c->head.data, c->head.len, c->body.data, c->body.len);
  if (c->tracing) {
    lua_pushlstring(L, c->trace.data ? c->trace.data : "", c->trace.len);
    lua_setfield(L, -2, "trace");
  }
  /* Keep big response buffers from pinning memory between requests. */
  if (c->body.cap > 1024 * 1024)
    client_buffer_free(&c->body);
  return 1;
}

/* One function for close, __gc and __close: safe to call any number of times. */
static int client_close(lua_State *L) {
  client_t *c = (client_t *)luaL_checkudata(L, 1, EX_CLIENT_MT);
  if (c->curl != NULL) {
    curl_easy_cleanup(c->curl);
    c->curl = NULL;
  }
  curl_slist_free_all(c->headers);
  c->headers = NULL;
  curl_slist_free_all(c->body_headers);
  c->body_headers = NULL;
  free(c->base_url);
  c->base_url = NULL;
  client_buffer_free(&c->body);
  client_buffer_free(&c->head);
  client_buffer_free(&c->trace);
  return 0;
}

static int client_is_closed(lua_State *L) {
  client_t *c = (client_t *)luaL_checkudata(L, 1, EX_CLIENT_MT);
  lua_pushboolean(L, c->curl == NULL);
  return 1;
}

static int client_tostring(lua_State *L) {
  client_t *c = (client_t *)luaL_checkudata(L, 1, EX_CLIENT_MT);
  if (c->curl == NULL)
    lua_pushliteral(L, "extruct.core.client (closed)");
  else
    lua_pushfstring(L, "extruct.core.client (%s)", c->base_url);
  return 1;
}

/* Builds "Name: value" in a Lua string and appends it to list. */
static struct curl_slist *client_add_header(lua_State *L, struct curl_slist *list, const char *header) {
  struct curl_slist *grown = curl_slist_append(list, header);
  if (grown == NULL)
    luaL_error(L, "extruct.core.new_client: out of memory");
  return grown;
}

/* core.new_client{ base_url, token, timeout, connect_timeout,
 *                  max_response_size, user_agent, insecure, ca_file, trace } -> client
 * The Lua layer validates the options; this type-checks them and, as the
 * last line of defence against header injection, refuses CR, LF and NUL in
 * every string (the Lua layer reports those as config errors first). */
static int client_new(lua_State *L) {
  client_t *c;
  const char *base_url, *token, *user_agent, *ca_file;
  int insecure, redirect_https_only, tracing;
  lua_Number timeout, connect_timeout, max_body;
  size_t url_len;

  luaL_checktype(L, 1, LUA_TTABLE);
  base_url = client_opt_string(L, 1, "base_url", NULL);
  token = client_opt_string(L, 1, "token", NULL);
  user_agent = client_opt_string(L, 1, "user_agent", NULL);
  timeout = client_opt_number(L, 1, "timeout", 30);
  connect_timeout = client_opt_number(L, 1, "connect_timeout", 10);
  max_body = client_opt_number(L, 1, "max_response_size", (lua_Number)CLIENT_DEFAULT_MAX_BODY);
  luaL_argcheck(L, base_url != NULL, 1, "base_url is required");
  luaL_argcheck(L, token != NULL, 1, "token is required");
  insecure = client_opt_boolean(L, 1, "insecure");
  ca_file = client_opt_string(L, 1, "ca_file", NULL);
  tracing = client_opt_boolean(L, 1, "trace");

  /* Zeroed and given its metatable first: from here on __gc cleans up
   * whatever part of the setup succeeded, whatever raises. */
  c = (client_t *)lua_newuserdata(L, sizeof *c);
  memset(c, 0, sizeof *c);
  luaL_getmetatable(L, EX_CLIENT_MT);
  lua_setmetatable(L, -2);
  c->max_body = max_body > 0 ? (size_t)max_body : (size_t)CLIENT_DEFAULT_MAX_BODY;

  /* The base URL, without trailing slashes; the Lua layer checked its form. */
  url_len = strlen(base_url);
  while (url_len > 0 && base_url[url_len - 1] == '/')
    url_len--;
  c->base_url = (char *)malloc(url_len + 1);
  if (c->base_url == NULL)
    return luaL_error(L, "extruct.core.new_client: out of memory");
  memcpy(c->base_url, base_url, url_len);
  c->base_url[url_len] = '\0';

  c->headers = client_add_header(L, c->headers, "Accept: application/json");
  c->headers = client_add_header(L, c->headers, lua_pushfstring(L, "Authorization: Bearer %s", token));
  lua_pop(L, 1);
  c->body_headers = client_add_header(L, c->body_headers, "Accept: application/json");
  c->body_headers = client_add_header(L, c->body_headers, "Content-Type: application/json");
  c->body_headers = client_add_header(L, c->body_headers, lua_pushfstring(L, "Authorization: Bearer %s", token));
  lua_pop(L, 1);
  /* Suppress libcurl's "Expect: 100-continue" on large bodies: one round trip less. */
  c->body_headers = client_add_header(L, c->body_headers, "Expect:");

  c->curl = curl_easy_init();
  if (c->curl == NULL)
    return luaL_error(L, "extruct.core.new_client: curl_easy_init failed");

  curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, c->error);
  curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, client_on_body);
  curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, c);
  curl_easy_setopt(c->curl, CURLOPT_HEADERFUNCTION, client_on_header);
  curl_easy_setopt(c->curl, CURLOPT_HEADERDATA, c);
  curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, (long)(timeout * 1000));
  curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)(connect_timeout * 1000));
  curl_easy_setopt(c->curl, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)c->max_body);
  curl_easy_setopt(c->curl, CURLOPT_ACCEPT_ENCODING, ""); /* every encoding libcurl decodes */
  curl_easy_setopt(c->curl, CURLOPT_TCP_KEEPALIVE, 1L);
  /* The Lua layer builds exact paths (an id of ".." is a table id, not a
   * step up), so libcurl must not normalise them. */
  curl_easy_setopt(c->curl, CURLOPT_PATH_AS_IS, 1L);
  curl_easy_setopt(c->curl, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(c->curl, CURLOPT_MAXREDIRS, CLIENT_MAX_REDIRECTS);
  /* Credentials never follow a redirect to another host or port (libcurl's
   * default, stated here because the security of the token rests on it),
   * and an https client is never redirected to plaintext http. */
  curl_easy_setopt(c->curl, CURLOPT_UNRESTRICTED_AUTH, 0L);
  redirect_https_only = client_is_https(c->base_url);
#if LIBCURL_VERSION_NUM >= 0x075500
  curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c->curl, CURLOPT_REDIR_PROTOCOLS_STR, redirect_https_only ? "https" : "http,https");
#else
  curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
  curl_easy_setopt(c->curl, CURLOPT_REDIR_PROTOCOLS,
                   redirect_https_only ? (long)CURLPROTO_HTTPS : (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
  /* Verification stays on unless the caller asked for `insecure = true`. */
  curl_easy_setopt(c->curl, CURLOPT_SSL_VERIFYPEER, insecure ? 0L : 1L);
  curl_easy_setopt(c->curl, CURLOPT_SSL_VERIFYHOST, insecure ? 0L : 2L);
  if (ca_file != NULL)
    curl_easy_setopt(c->curl, CURLOPT_CAINFO, ca_file); /* libcurl copies it */
  if (tracing) {
    c->tracing = 1;
    curl_easy_setopt(c->curl, CURLOPT_DEBUGFUNCTION, client_on_debug);
    curl_easy_setopt(c->curl, CURLOPT_DEBUGDATA, c);
    curl_easy_setopt(c->curl, CURLOPT_VERBOSE, 1L);
  }
  if (user_agent != NULL)
    curl_easy_setopt(c->curl, CURLOPT_USERAGENT, user_agent);
  else
    curl_easy_setopt(c->curl, CURLOPT_USERAGENT, "extruct-lua/" EXTRUCT_VERSION);
  return 1;
}

void ex_client_open(lua_State *L) {
  static const luaL_Reg methods[] = {
      {"request", client_request},
      {"close", client_close},
      {"is_closed", client_is_closed},
      {NULL, NULL},
  };
  static const luaL_Reg funcs[] = {
      {"new_client", client_new},
      {NULL, NULL},
  };
  luaL_newmetatable(L, EX_CLIENT_MT);
  lua_pushcfunction(L, client_close);
  lua_setfield(L, -2, "__gc");
  lua_pushcfunction(L, client_close);
  lua_setfield(L, -2, "__close");
  lua_pushcfunction(L, client_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_newtable(L);
  ex_setfuncs(L, methods);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  ex_setfuncs(L, funcs);
}
