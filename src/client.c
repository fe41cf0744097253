/* The API client: the settings and credentials that every request of one
 * client shares, and the transfers it lends to requests.
 *
 * client:start(engine, ...) puts a request on an engine (engine.c) and
 * returns its transfer (transfer.c); the client keeps finished transfers,
 * with their easy handles and buffers, for the next request. The bearer
 * token is copied into the client's two header lists and nowhere else in
 * this module's memory; no function returns it, and closing the client
 * zeroes both copies before freeing them. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "transfer.h"

#define CLIENT_DEFAULT_MAX_BODY (64L * 1024 * 1024)
#define CLIENT_MAX_IDLE ((int)(sizeof ((ex_client *)0)->idle / sizeof ((ex_client *)0)->idle[0]))

/* ---- helpers ---------------------------------------------------------- */


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


/* "host:port" of an http(s) URL, lower-cased, the default port filled in:
 * what the engine counts a client's requests to one host by. */
static void client_origin(const char *url, char *out, size_t size) {
  const char *authority = strstr(url, "://"), *end, *at, *host_end;
  size_t n = 0;
  int has_port = 0;
  out[0] = '\0';
  if (authority == NULL)
    return;
  authority += 3;
  end = authority + strcspn(authority, "/?#");
  for (at = end; at > authority && at[-1] != '@'; at--)
    ;
  authority = at; /* past any userinfo */
  host_end = end;
  if (*authority == '[') { /* an IPv6 literal: the port after its ']' */
    const char *close = memchr(authority, ']', (size_t)(end - authority));
    has_port = close != NULL && close + 1 < end && close[1] == ':';
  } else {
    has_port = memchr(authority, ':', (size_t)(end - authority)) != NULL;
  }
  while (authority < host_end && n + 1 < size)
    out[n++] = (char)tolower((unsigned char)*authority++);
  out[n] = '\0';
  if (!has_port && n + 5 < size)
    strcat(out, client_is_https(url) ? ":443" : ":80");
}

static char *client_strdup(const char *s) {
  size_t len = strlen(s) + 1;
  char *copy = (char *)malloc(len);
  if (copy != NULL)
    memcpy(copy, s, len);
  return copy;
}

/* Zeroes a string that may hold a secret. (Through a volatile pointer: a
 * store just before free() may otherwise be optimised away.) */
static void client_wipe(char *s) {
  volatile char *p = s;
  while (*p != '\0')
    *p++ = '\0';
}

static void client_free_secret(char *s) {
  if (s != NULL) {
    client_wipe(s);
    free(s);
  }
}

/* Frees a header list, each header zeroed first: one holds the token. */
static void client_free_headers(struct curl_slist *list) {
  struct curl_slist *h;
  for (h = list; h != NULL; h = h->next)
    client_wipe(h->data);
  curl_slist_free_all(list);
}

/* ---- the transfers of a client ------------------------------------------ */

void ex_client_unlink(ex_transfer *t) {
  ex_client *c = t->client;
  if (c == NULL)
    return;
  if (t->client_prev != NULL)
    t->client_prev->client_next = t->client_next;
  else if (c->live == t)
    c->live = t->client_next;
  if (t->client_next != NULL)
    t->client_next->client_prev = t->client_prev;
  t->client_prev = t->client_next = NULL;
  t->client = NULL;
}

void ex_client_release(ex_transfer *t) {
  ex_client *c = t->client;
  ex_transfer_detach_engine(t);
  ex_client_unlink(t);
  if (c == NULL || c->closed || c->idle_count >= CLIENT_MAX_IDLE) {
    ex_transfer_free(t);
    return;
  }
  ex_transfer_shrink(t);
  curl_easy_setopt(t->easy, CURLOPT_POSTFIELDS, NULL);
  c->idle[c->idle_count++] = t;
}

/* An idle transfer of c, or a new one; linked into c's live list. */
static ex_transfer *client_take(ex_client *c) {
  ex_transfer *t = c->idle_count > 0 ? c->idle[--c->idle_count] : ex_transfer_new(c);
  if (t == NULL)
    return NULL;
  t->client = c;
  t->client_prev = NULL;
  t->client_next = c->live;
  if (c->live != NULL)
    c->live->client_prev = t;
  c->live = t;
  return t;
}

/* ---- the pools of a client ---------------------------------------------- */

/* Lets go of c's pool number k: its transfers that are off every engine
 * stop sharing it, then its connections are closed. */
static void client_drop_pool(ex_client *c, int k) {
  ex_pool *pool = c->pools[k];
  ex_transfer *t;
  int i;
  if (pool == NULL)
    return;
  for (i = 0; i < c->idle_count; i++)
    ex_pool_attach(c->idle[i], NULL);
  for (t = c->live; t != NULL; t = t->client_next)
    if (t->pool == pool && t->state != EX_RUNNING)
      ex_pool_attach(t, NULL);
  c->pools[k] = NULL;
  ex_pool_release(pool);
}

/* c's pool for engine e: made on first use, and made anew for a new engine
 * (a forked child's, whose connections must not be the parent's). */
static ex_pool *client_pool(ex_client *c, ex_engine *e) {
  int k = e->events ? 1 : 0;
  if (c->pools[k] != NULL && c->pools[k]->engine_serial != e->serial)
    client_drop_pool(c, k);
  if (c->pools[k] == NULL)
    c->pools[k] = ex_pool_new(e);
  return c->pools[k];
}

/* ---- methods ---------------------------------------------------------- */

static ex_client *client_check(lua_State *L) {
  ex_client *c = (ex_client *)luaL_checkudata(L, 1, EX_CLIENT_MT);
  if (c->closed)
    luaL_error(L, "extruct: the client is closed");
  return c;
}

/* client:start(engine, method, target [, body [, queued [, credentials]]]) -> transfer
 *
 * Puts a request on the engine; it runs as the engine is driven. target is
 * the path and query, appended to the base URL as given (the Lua layer
 * encodes it), or an absolute http(s) URL (a redirect the Lua layer follows).
 * With queued, the engine's next_done() reports its end. With credentials =
 * false the Authorization header stays out (a redirect to another host).
 * Redirects come back as they are, for the Lua layer to follow by RFC 9110
 * (extruct.redirect). The connection is one of the client's own, in its
 * pool for this engine. */
static int client_start(lua_State *L) {
  ex_client *c = client_check(L);
  ex_engine *e = (ex_engine *)luaL_checkudata(L, 2, EX_ENGINE_MT);
  size_t method_len, body_len = 0;
  const char *method = luaL_checklstring(L, 3, &method_len);
  const char *target = luaL_checkstring(L, 4);
  const char *body = luaL_optlstring(L, 5, NULL, &body_len);
  int queued = lua_toboolean(L, 6);
  int credentials = lua_isnoneornil(L, 7) || lua_toboolean(L, 7);
  const char *url;
  ex_transfer_box *box;
  ex_transfer *t;
  CURL *easy;
  ex_pool *pool;
  int failed;

  luaL_argcheck(L, e->multi != NULL, 2, "the engine is closed");
  /* The method goes into the request line as is: no header injection. */
  luaL_argcheck(L, method_len > 0 && strcspn(method, " \t\r\n") == method_len, 3, "not an HTTP method name");
  lua_settop(L, 7);
  if (strncmp(target, "http://", 7) == 0 || strncmp(target, "https://", 8) == 0)
    url = lua_pushfstring(L, "%s", target);
  else
    url = lua_pushfstring(L, "%s%s", c->base_url, target); /* kept on the stack */

  /* The box owns the transfer from here on: whatever raises, __gc frees it. */
  box = (ex_transfer_box *)lua_newuserdata(L, sizeof *box);
  box->t = NULL;
  luaL_getmetatable(L, EX_TRANSFER_MT);
  lua_setmetatable(L, -2);
  t = box->t = client_take(c);
  pool = client_pool(c, e);
  if (t == NULL || pool == NULL)
    return luaL_error(L, "extruct.core: out of memory starting a request");
  ex_transfer_prepare(t);
  ex_pool_attach(t, pool);
  t->queued = queued;
  t->tls_target = client_is_https(url);
  client_origin(url, t->origin, sizeof t->origin);
  /* Over TLS, several requests to one host wait to share an HTTP/2
   * connection rather than open one each; plain http is never multiplexed,
   * so waiting there would only hold the first requests back. */
  easy = t->easy;
  curl_easy_setopt(easy, CURLOPT_PIPEWAIT, t->tls_target ? 1L : 0L);

  /* The handle is reused: reset the method-dependent options each time
   * (HTTPGET also turns NOBODY off). */
  curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
  curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, NULL);
  failed = curl_easy_setopt(easy, CURLOPT_URL, url) != CURLE_OK;
  if (body != NULL) {
    /* The transfer keeps its own copy: the Lua string may be collected
     * while the request runs. */
    failed = failed || !ex_buffer_append(&t->post, body, body_len);
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, t->post.data);
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, credentials ? c->body_headers : c->anonymous_body_headers);
    failed = failed ||
             curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, strcmp(method, "POST") == 0 ? NULL : method) != CURLE_OK;
  } else {
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, credentials ? c->headers : c->anonymous_headers);
    if (strcmp(method, "HEAD") == 0) /* a custom HEAD would wait for a body */
      curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);
    else
      failed = failed ||
               curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, strcmp(method, "GET") == 0 ? NULL : method) != CURLE_OK;
  }
  if (failed || ex_engine_add(e, t) != CURLM_OK)
    return luaL_error(L, "extruct.core: out of memory starting a request");
  return 1;
}

/* client:http_request(method, target, host [, body [, credentials]]) -> bytes [, trace]
 *
 * The bytes of an HTTP/1.1 request with the client's headers (User-Agent,
 * Accept, Authorization; Content-Type and Content-Length with a body), built
 * by core.http_request, for a transport that writes them itself (OpenResty's
 * cosockets). With credentials = false the Authorization header is left out
 * (a redirect to another host). With the trace option, the second result
 * holds the request head as the libcurl transport traces it, the
 * credentials redacted. */
static int client_http_request(lua_State *L) {
  ex_client *c = client_check(L);
  int credentials = lua_isnoneornil(L, 6) || lua_toboolean(L, 6);
  int has_body = !lua_isnoneornil(L, 5);
  const struct curl_slist *h;
  const char *request, *p, *end;
  size_t request_len;
  int n = 0;
  luaL_Buffer trace;

  lua_settop(L, 6);
  lua_pushcfunction(L, ex_http1_request);
  lua_pushvalue(L, 2); /* method */
  lua_pushvalue(L, 3); /* target */
  lua_pushvalue(L, 4); /* host */
  lua_newtable(L);
  for (h = has_body ? c->body_headers : c->headers; h != NULL; h = h->next) {
    size_t len = strlen(h->data);
    if (len > 0 && h->data[len - 1] == ':')
      continue; /* "Expect:" only tells libcurl to leave a header out */
    if (len >= 16 && memcmp(h->data, "Accept-Encoding:", 16) == 0)
      continue; /* this transport does not decode compressed bodies */
    if (!credentials && ex_credential_prefix(h->data, len) > 0)
      continue;
    lua_pushlstring(L, h->data, len);
    lua_rawseti(L, -2, ++n);
  }
  lua_pushvalue(L, 5); /* body */
  lua_call(L, 5, 1);   /* 7: the request */
  if (!c->tracing)
    return 1;
  /* The trace: the head's lines, each "> " and the line, credentials redacted. */
  request = lua_tolstring(L, 7, &request_len);
  end = strstr(request, "\r\n\r\n");
  luaL_buffinit(L, &trace);
  for (p = request; p < end;) {
    const char *eol = strstr(p, "\r\n");
    size_t len = (size_t)(eol - p), prefix = ex_credential_prefix(p, len);
    luaL_addstring(&trace, "> ");
    luaL_addlstring(&trace, p, prefix > 0 ? prefix : len);
    if (prefix > 0)
      luaL_addstring(&trace, " [redacted]");
    luaL_addchar(&trace, '\n');
    p = eol + 2;
  }
  luaL_pushresult(&trace);
  return 2;
}

/* One function for close, __gc and __close: safe to call any number of
 * times. Requests still running end as cancelled; results not yet read can
 * still be read. Every connection of the client is closed. */
static int client_close(lua_State *L) {
  ex_client *c = (ex_client *)luaL_checkudata(L, 1, EX_CLIENT_MT);
  if (c->closed)
    return 0;
  c->closed = 1;
  while (c->live != NULL) {
    ex_transfer *t = c->live;
    ex_transfer_cancel(t);
    /* the header lists and pools are freed below: the handle must not point at them */
    curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, NULL);
    ex_pool_attach(t, NULL);
    ex_client_unlink(t);
  }
  while (c->idle_count > 0)
    ex_transfer_free(c->idle[--c->idle_count]);
  client_drop_pool(c, 0);
  client_drop_pool(c, 1);
  client_free_headers(c->headers);
  c->headers = NULL;
  client_free_headers(c->body_headers);
  c->body_headers = NULL;
  curl_slist_free_all(c->anonymous_headers);
  c->anonymous_headers = NULL;
  curl_slist_free_all(c->anonymous_body_headers);
  c->anonymous_body_headers = NULL;
  free(c->base_url);
  c->base_url = NULL;
  free(c->ca_file);
  c->ca_file = NULL;
  client_free_secret(c->proxy); /* may hold a proxy password */
  c->proxy = NULL;
  free(c->noproxy);
  c->noproxy = NULL;
  return 0;
}

static int client_tostring(lua_State *L) {
  ex_client *c = (ex_client *)luaL_checkudata(L, 1, EX_CLIENT_MT);
  if (c->closed)
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

/* Appends "Authorization: Bearer <token>" to list. The line is built in
 * C memory and zeroed once libcurl has copied it: no Lua string (which
 * could not be wiped) ever holds it. */
static struct curl_slist *client_add_authorization(lua_State *L, struct curl_slist *list, const char *token) {
  static const char prefix[] = "Authorization: Bearer ";
  size_t token_len = strlen(token);
  char *line = (char *)malloc(sizeof prefix + token_len);
  struct curl_slist *grown = NULL;
  if (line != NULL) {
    memcpy(line, prefix, sizeof prefix - 1);
    memcpy(line + sizeof prefix - 1, token, token_len + 1);
    grown = curl_slist_append(list, line);
    client_free_secret(line);
  }
  if (grown == NULL)
    luaL_error(L, "extruct.core.new_client: out of memory");
  return grown;
}

/* Pushes the Accept-Encoding header that CURLOPT_ACCEPT_ENCODING "" has
 * libcurl send: the encodings it was built to decode, in its order. */
static const char *client_accept_encoding(lua_State *L) {
  const curl_version_info_data *info = curl_version_info(CURLVERSION_NOW);
  const char *names[4];
  int n = 0, i;
  luaL_Buffer b;
  if (info->features & CURL_VERSION_LIBZ) {
    names[n++] = "deflate";
    names[n++] = "gzip";
  }
#ifdef CURL_VERSION_BROTLI
  if (info->features & CURL_VERSION_BROTLI)
    names[n++] = "br";
#endif
#ifdef CURL_VERSION_ZSTD
  if (info->features & CURL_VERSION_ZSTD)
    names[n++] = "zstd";
#endif
  luaL_buffinit(L, &b);
  luaL_addstring(&b, "Accept-Encoding: ");
  if (n == 0)
    luaL_addstring(&b, "identity");
  for (i = 0; i < n; i++) {
    if (i > 0)
      luaL_addstring(&b, ", ");
    luaL_addstring(&b, names[i]);
  }
  luaL_pushresult(&b);
  return lua_tostring(L, -1);
}

/* Whether a URL has a userinfo part ("user:password@" before the host). */
static int client_has_userinfo(const char *url) {
  const char *authority = strstr(url, "://");
  if (authority == NULL)
    return 0;
  authority += 3;
  return memchr(authority, '@', strcspn(authority, "/?#")) != NULL;
}

/* Milliseconds for libcurl, where 0 would mean "no limit": at least 1. */
static long client_milliseconds(lua_Number seconds) {
  lua_Number ms = seconds * 1000;
  if (ms < 1)
    return 1;
  if (ms > 2147483647.0)
    return 2147483647L;
  return (long)ms;
}

/* core.new_client{ base_url, token, timeout, connect_timeout, queue_timeout,
 *                  max_response_size, user_agent, insecure, ca_file, trace,
 *                  proxy, noproxy } -> client
 * The Lua layer validates the options; this type-checks them and, as the
 * last line of defence against header injection, refuses CR, LF and NUL in
 * every string (the Lua layer reports those as config errors first). */
static int client_new(lua_State *L) {
  ex_client *c;
  const char *base_url, *token, *user_agent, *accept_encoding, *ca_file, *proxy, *noproxy;
  lua_Number timeout, connect_timeout, queue_timeout, max_body;
  size_t url_len;

  luaL_checktype(L, 1, LUA_TTABLE);
  base_url = client_opt_string(L, 1, "base_url", NULL);
  token = client_opt_string(L, 1, "token", NULL);
  user_agent = client_opt_string(L, 1, "user_agent", "extruct-lua/" EXTRUCT_VERSION);
  timeout = client_opt_number(L, 1, "timeout", 30);
  connect_timeout = client_opt_number(L, 1, "connect_timeout", 10);
  queue_timeout = client_opt_number(L, 1, "queue_timeout", 60);
  max_body = client_opt_number(L, 1, "max_response_size", (lua_Number)CLIENT_DEFAULT_MAX_BODY);
  luaL_argcheck(L, base_url != NULL, 1, "base_url is required");
  luaL_argcheck(L, token != NULL, 1, "token is required");
  /* libcurl would send a password there as basic auth, and it would stay in
   * the client's memory: the Lua layer refuses such a base URL first. */
  luaL_argcheck(L, !client_has_userinfo(base_url), 1, "base_url must not hold credentials (user:password@)");
  ca_file = client_opt_string(L, 1, "ca_file", NULL);
  proxy = client_opt_string(L, 1, "proxy", NULL);
  noproxy = client_opt_string(L, 1, "noproxy", NULL);

  /* Zeroed and given its metatable first: from here on __gc cleans up
   * whatever part of the setup succeeded, whatever raises. */
  c = (ex_client *)lua_newuserdata(L, sizeof *c);
  memset(c, 0, sizeof *c);
  luaL_getmetatable(L, EX_CLIENT_MT);
  lua_setmetatable(L, -2);
  c->max_body = max_body >= 1 && max_body < 9007199254740992.0 ? (size_t)max_body : (size_t)CLIENT_DEFAULT_MAX_BODY;
  c->timeout_ms = client_milliseconds(timeout);
  c->connect_timeout_ms = client_milliseconds(connect_timeout);
  c->queue_timeout_ms = client_milliseconds(queue_timeout);
  c->insecure = client_opt_boolean(L, 1, "insecure");
  c->tracing = client_opt_boolean(L, 1, "trace");
  c->keep_text = client_opt_boolean(L, 1, "keep_text");

  /* The base URL, without trailing slashes; the Lua layer checked its form. */
  url_len = strlen(base_url);
  while (url_len > 0 && base_url[url_len - 1] == '/')
    url_len--;
  c->base_url = (char *)malloc(url_len + 1);
  if (c->base_url == NULL)
    return luaL_error(L, "extruct.core.new_client: out of memory");
  memcpy(c->base_url, base_url, url_len);
  c->base_url[url_len] = '\0';
  if ((ca_file != NULL && (c->ca_file = client_strdup(ca_file)) == NULL) ||
      (proxy != NULL && (c->proxy = client_strdup(proxy)) == NULL) ||
      (noproxy != NULL && (c->noproxy = client_strdup(noproxy)) == NULL))
    return luaL_error(L, "extruct.core.new_client: out of memory");

  /* User-Agent and Accept-Encoding are headers of the lists rather than
   * CURLOPT_USERAGENT and the header CURLOPT_ACCEPT_ENCODING makes, which
   * libcurl formats anew, a byte at a time, for every request. libcurl still
   * decodes what CURLOPT_ACCEPT_ENCODING names, and sends a header of the
   * list in place of its own. */
  user_agent = lua_pushfstring(L, "User-Agent: %s", user_agent);
  accept_encoding = client_accept_encoding(L);
  c->headers = client_add_header(L, c->headers, user_agent);
  c->headers = client_add_header(L, c->headers, accept_encoding);
  c->body_headers = client_add_header(L, c->body_headers, user_agent);
  c->body_headers = client_add_header(L, c->body_headers, accept_encoding);
  c->anonymous_headers = client_add_header(L, c->anonymous_headers, user_agent);
  c->anonymous_headers = client_add_header(L, c->anonymous_headers, accept_encoding);
  c->anonymous_body_headers = client_add_header(L, c->anonymous_body_headers, user_agent);
  c->anonymous_body_headers = client_add_header(L, c->anonymous_body_headers, accept_encoding);
  lua_pop(L, 2);
  /* An empty token sends no Authorization header: a client without a token
   * can still ask what needs none (the healthcheck). */
  c->headers = client_add_header(L, c->headers, "Accept: application/json");
  if (*token != '\0')
    c->headers = client_add_authorization(L, c->headers, token);
  c->body_headers = client_add_header(L, c->body_headers, "Accept: application/json");
  c->body_headers = client_add_header(L, c->body_headers, "Content-Type: application/json");
  if (*token != '\0')
    c->body_headers = client_add_authorization(L, c->body_headers, token);
  /* Suppress libcurl's "Expect: 100-continue" on large bodies: one round trip less. */
  c->body_headers = client_add_header(L, c->body_headers, "Expect:");
  c->anonymous_headers = client_add_header(L, c->anonymous_headers, "Accept: application/json");
  c->anonymous_body_headers = client_add_header(L, c->anonymous_body_headers, "Accept: application/json");
  c->anonymous_body_headers = client_add_header(L, c->anonymous_body_headers, "Content-Type: application/json");
  c->anonymous_body_headers = client_add_header(L, c->anonymous_body_headers, "Expect:");
  return 1;
}

void ex_client_open(lua_State *L) {
  static const luaL_Reg methods[] = {
      {"start", client_start},
      {"http_request", client_http_request},
      {"close", client_close},
      {NULL, NULL},
  };
  static const luaL_Reg funcs[] = {
      {"new_client", client_new},
      {NULL, NULL},
  };
  ex_new_type(L, EX_CLIENT_MT, methods, client_close, client_tostring);
  ex_setfuncs(L, funcs);
}
