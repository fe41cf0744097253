/* One request: an easy handle and the buffers it fills, owned by a transfer
 * userdata while the request runs and until its result is read, then kept by
 * the client for the next request (so connections, buffers and handles are
 * reused, as a single blocking handle would).
 *
 * Everything a transfer allocates lives in buffers owned by ex_transfer, so a
 * Lua error (out of memory while building the result) can never leak them:
 * the userdata's __gc releases them. libcurl's callbacks make no Lua calls,
 * so nothing long-jumps through libcurl. */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>

#include <sys/socket.h>

#include "transfer.h"

/* The most of one request's trace kept; the rest is cut with a note. */
#define TRANSFER_MAX_TRACE (64 * 1024)
/* Buffers grown past this are freed when a transfer goes back to its client,
 * so one large answer does not pin memory for the client's lifetime. */
#define TRANSFER_KEEP_BUFFER (256 * 1024)

/* ---- buffers ---------------------------------------------------------- */

int ex_buffer_append(ex_buffer *buf, const char *data, size_t len) {
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

void ex_buffer_free(ex_buffer *buf) {
  free(buf->data);
  buf->data = NULL;
  buf->len = buf->cap = 0;
}

/* ---- libcurl callbacks (no Lua calls in here: nothing may long-jump) ---- */

static size_t transfer_on_body(char *data, size_t size, size_t nmemb, void *userdata) {
  ex_transfer *t = (ex_transfer *)userdata;
  size_t len = size * nmemb;
  if (t->body.len + len > t->max_body) {
    t->body_too_large = 1;
    return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
  }
  if (!ex_buffer_append(&t->body, data, len)) {
    t->out_of_memory = 1;
    return 0;
  }
  return len;
}

/* RFC 9110 tchar, and the space http-parser (the cosocket transport's
 * parser) lets into a header name: the same names pass on both transports. */
static int transfer_is_name_char(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         (c != '\0' && strchr("!#$%&'*+-.^_`|~ ", c) != NULL);
}

/* What is wrong with a status line, or NULL. Over plain http libcurl speaks
 * HTTP/1.1 only, so "HTTP/2.0" there is the server's invention; over TLS
 * libcurl writes "HTTP/2 <code>" for a real HTTP/2 response. No upgrade is
 * ever asked for, so a 101 cannot be followed. */
static const char *transfer_status_line_problem(const ex_transfer *t, const char *line, size_t len) {
  int h1 = len >= 9 && memcmp(line, "HTTP/1.", 7) == 0 && (line[7] == '0' || line[7] == '1') && line[8] == ' ';
  int h2 = t->tls_target && len >= 7 && memcmp(line, "HTTP/2 ", 7) == 0;
  const char *code;
  if (!h1 && !h2)
    return "unsupported HTTP version in the status line";
  code = line + (h1 ? 9 : 7);
  if ((size_t)(code - line) + 3 <= len && memcmp(code, "101", 3) == 0)
    return "unexpected 101 Switching Protocols (no protocol upgrade was asked for)";
  return NULL;
}

/* What is wrong with a header line, or NULL: a name of token characters,
 * then a colon. */
static const char *transfer_header_line_problem(const char *line, size_t len) {
  size_t i;
  if (line[0] == ' ' || line[0] == '\t')
    return NULL; /* an obsolete continuation of the line before */
  for (i = 0; i < len && line[i] != ':'; i++)
    if (!transfer_is_name_char((unsigned char)line[i]))
      return "invalid character in the header section";
  if (i == 0 || i == len)
    return "a header line without a name and a colon";
  return NULL;
}

/* Whether a Content-Length value (after the colon) is digits, with spaces
 * around them only. */
static int transfer_is_length(const char *value, const char *end, long long *length) {
  const char *p = value;
  long long n = 0;
  while (p < end && (*p == ' ' || *p == '\t'))
    p++;
  if (p == end || *p < '0' || *p > '9')
    return 0;
  while (p < end && *p >= '0' && *p <= '9') {
    if (n > (LLONG_MAX - 9) / 10)
      return 0;
    n = n * 10 + (*p++ - '0');
  }
  while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
    p++;
  *length = n;
  return p == end;
}

/* Header lines of every response of the transfer come here: interim 1xx
 * ones, the final one, and then any trailer fields of a chunked body. Only
 * the final response's header section is kept: a trailer is never merged
 * into the headers (RFC 9110, 6.5: it could otherwise set Content-Type,
 * Retry-After or the paging headers after the fact). Each line is held to
 * what http-parser, the cosocket transport's parser, takes: the same
 * answer fails the same way on both transports. */
static size_t transfer_on_header(char *data, size_t size, size_t nmemb, void *userdata) {
  ex_transfer *t = (ex_transfer *)userdata;
  size_t len = size * nmemb;
  int status_line = len >= 5 && memcmp(data, "HTTP/", 5) == 0;
  int blank = len <= 2 && (data[0] == '\r' || data[0] == '\n');
  /* A new status line starts a new response (after a 100 Continue). */
  if (status_line && (t->head.len == 0 || t->head_ended)) {
    if (t->head_ended && t->head_final) /* a trailer that looks like a status line */
      return len;
    t->head.len = 0;
    t->head_bytes = 0;
    t->head_ended = t->head_final = 0;
    t->transfer_encoding = 0;
    t->content_length = -1;
    t->protocol_error = transfer_status_line_problem(t, data, len);
    if (t->protocol_error != NULL)
      return 0;
  } else if (t->head_ended) {
    return len; /* a trailer field: not a header */
  } else if (!blank) {
    t->protocol_error = transfer_header_line_problem(data, len);
    if (t->protocol_error != NULL)
      return 0;
  }
  t->head_bytes += len;
  if (t->head_bytes > EX_MAX_HEAD) {
    t->head_too_large = 1;
    return 0;
  }
  if (len > 15 && strncasecmp(data, "content-length:", 15) == 0) {
    /* Which length frames the body? libcurl takes the last; a second one
     * is a framing error (RFC 9112, 6.3), not a choice (http-parser refuses
     * it too), and so is one that is not a number. */
    long long length;
    if (t->content_length >= 0) {
      t->protocol_error = "two Content-Length headers";
      return 0;
    }
    if (!transfer_is_length(data + 15, data + len, &length)) {
      t->protocol_error = "invalid Content-Length";
      return 0;
    }
    t->content_length = length;
  } else if (len > 18 && strncasecmp(data, "transfer-encoding:", 18) == 0) {
    t->transfer_encoding = 1;
  }
  if (blank) {
    /* the blank line that ends a header section; a 1xx's is followed by
     * another status line, the final one's by the body and any trailers */
    long status = 0;
    t->head_ended = 1;
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
    t->head_final = status >= 200;
    /* Both framings at once: libcurl would let the chunks win, but the
     * message may be smuggling another (RFC 9112, 6.3): refused. */
    if (t->transfer_encoding && t->content_length >= 0) {
      t->protocol_error = "both Content-Length and Transfer-Encoding headers";
      return 0;
    }
  }
  if (!ex_buffer_append(&t->head, data, len)) {
    t->out_of_memory = 1;
    return 0;
  }
  return len;
}

/* The length of "Authorization:" or "Proxy-Authorization:" (any case) at
 * the start of a header line, or 0. */
size_t ex_credential_prefix(const char *line, size_t len) {
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

/* Appends line to the trace with the password of every URL's userinfo
 * ("scheme://user:password@host") replaced: libcurl's notes name a proxy
 * from the environment with its credentials ("Uses proxy env variable
 * http_proxy == 'http://user:pass@host:3128'"). */
static void transfer_trace_append_urls(ex_transfer *t, const char *line, size_t len) {
  static const char redacted[] = "[redacted]";
  const char *p = line, *end = line + len;
  while (p < end) {
    const char *sep = NULL, *q, *authority, *at = NULL, *colon = NULL;
    for (q = p; q + 3 <= end; q++)
      if (memcmp(q, "://", 3) == 0) {
        sep = q;
        break;
      }
    if (sep == NULL)
      break;
    authority = sep + 3;
    /* The authority ends at the path, the query, a quote or a space; its
     * userinfo at the last '@' in it, the password after its first ':'. */
    for (q = authority; q < end && strchr("/?#'\"<> \t", *q) == NULL; q++)
      if (*q == '@')
        at = q;
    if (at != NULL)
      colon = memchr(authority, ':', (size_t)(at - authority));
    if (colon != NULL) {
      ex_buffer_append(&t->trace, p, (size_t)(colon + 1 - p));
      ex_buffer_append(&t->trace, redacted, sizeof redacted - 1);
      p = at;
    } else {
      ex_buffer_append(&t->trace, p, (size_t)(q - p));
      p = q;
    }
  }
  ex_buffer_append(&t->trace, p, (size_t)(end - p));
}

/* Appends one trace line: a marker ("* " info, "> " sent, "< " received)
 * and the line without its end. The value of a credential header and the
 * password of a URL are replaced here, so neither reaches the trace buffer. */
static void transfer_trace_line(ex_transfer *t, const char *marker, const char *line, size_t len) {
  static const char redacted[] = " [redacted]";
  static const char cut[] = "* [trace cut short]\n";
  size_t prefix;
  while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
    len--;
  if (len == 0 || t->trace_full)
    return;
  if (t->trace.len + len + sizeof redacted + 2 > TRANSFER_MAX_TRACE) {
    ex_buffer_append(&t->trace, cut, sizeof cut - 1);
    t->trace_full = 1;
    return;
  }
  ex_buffer_append(&t->trace, marker, 2);
  prefix = ex_credential_prefix(line, len);
  if (prefix > 0) {
    ex_buffer_append(&t->trace, line, prefix);
    ex_buffer_append(&t->trace, redacted, sizeof redacted - 1);
  } else {
    transfer_trace_append_urls(t, line, len);
  }
  ex_buffer_append(&t->trace, "\n", 1);
}

static int transfer_on_debug(CURL *curl, curl_infotype type, char *data, size_t size, void *userdata) {
  ex_transfer *t = (ex_transfer *)userdata;
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
    transfer_trace_line(t, marker, p, (size_t)(line_end - p));
    p = line_end;
  }
  return 0;
}

/* The transfer did something of its own: it left libcurl's queue. */
static void transfer_mark_started(ex_transfer *t) {
  if (t->started_at == 0)
    t->started_at = ex_monotime();
}

/* A name lookup starts (libcurl calls this for a new connection only). */
static int transfer_on_resolver_start(void *resolver_state, void *reserved, void *userdata) {
  (void)resolver_state;
  (void)reserved;
  transfer_mark_started((ex_transfer *)userdata);
  return 0;
}

/* Before a request goes out on a connection (new or reused): a connection
 * with bytes waiting that no request asked for (a server that answered
 * twice, or wrote on an idle kept-alive connection) would hand those bytes
 * to this request as its answer. Such a connection is not used; the engine
 * runs the request again on a new one (ex_transfer_retry_fresh). libcurl
 * does not tell the socket here, so the engine's sockets are looked up by
 * their ports. Over TLS the check is made only while no other transfer runs
 * on the engine: an HTTP/2 connection shared by several requests rightly
 * holds bytes for the others. libcurl 8 refuses a connection with input
 * pending by itself; the 7.88 of Debian 12 does not, so this stays (one
 * recv with MSG_PEEK per reused connection). The cosocket transport has
 * nginx's pool make the same check (extruct.cosocket). */
static int transfer_on_prereq(void *userdata, char *primary_ip, char *local_ip, int primary_port, int local_port) {
  ex_transfer *t = (ex_transfer *)userdata;
  curl_socket_t fd;
  char byte;
  (void)primary_ip;
  (void)local_ip;
  transfer_mark_started(t);
  t->sending = 1;
  if (t->engine == NULL || t->pool == NULL ||
      (t->tls_target && !(t->engine->running == t && t->engine_next == NULL)))
    return CURL_PREREQFUNC_OK;
  fd = ex_pool_find_socket(t->pool, local_port, primary_port);
  if (fd != CURL_SOCKET_BAD && recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) > 0) {
    t->unread_bytes = 1;
    return CURL_PREREQFUNC_ABORT;
  }
  return CURL_PREREQFUNC_OK;
}

int ex_transfer_retry_fresh(ex_transfer *t) {
  if (!t->unread_bytes || t->fresh_connect)
    return 0;
  t->unread_bytes = 0;
  t->fresh_connect = 1;
  t->body.len = t->head.len = t->trace.len = 0;
  t->head_bytes = 0;
  t->head_ended = t->head_final = t->transfer_encoding = 0;
  t->error[0] = '\0';
  t->protocol_error = NULL;
  t->content_length = -1;
  curl_easy_setopt(t->easy, CURLOPT_FRESH_CONNECT, 1L);
  return 1;
}

/* ---- life cycle ------------------------------------------------------- */

/* A new transfer with an easy handle set up for client c: every setting that
 * does not change from request to request is made here, once. */
ex_transfer *ex_transfer_new(ex_client *c) {
  ex_transfer *t = (ex_transfer *)calloc(1, sizeof *t);
  CURL *easy;
  if (t == NULL)
    return NULL;
  easy = t->easy = curl_easy_init();
  if (easy == NULL) {
    free(t);
    return NULL;
  }
  t->max_body = c->max_body;
  t->tracing = c->tracing;
  t->keep_text = c->keep_text;
  t->timeout_ms = c->timeout_ms;
  t->queue_timeout_ms = c->queue_timeout_ms;
  curl_easy_setopt(easy, CURLOPT_PRIVATE, (void *)t);
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, t->error);
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, transfer_on_body);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, (void *)t);
  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, transfer_on_header);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, (void *)t);
#if LIBCURL_VERSION_NUM >= 0x075000
  curl_easy_setopt(easy, CURLOPT_PREREQFUNCTION, transfer_on_prereq);
  curl_easy_setopt(easy, CURLOPT_PREREQDATA, (void *)t);
#endif
  curl_easy_setopt(easy, CURLOPT_RESOLVER_START_FUNCTION, transfer_on_resolver_start);
  curl_easy_setopt(easy, CURLOPT_RESOLVER_START_DATA, (void *)t);
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, c->timeout_ms);
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
  curl_easy_setopt(easy, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)c->max_body);
  curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, ""); /* every encoding libcurl decodes */
  curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
  /* The Lua layer builds exact paths (an id of ".." is a table id, not a
   * step up), so libcurl must not normalise them. */
  curl_easy_setopt(easy, CURLOPT_PATH_AS_IS, 1L);
  /* Redirects are followed by the Lua layer, for both transports alike
   * (extruct.redirect): libcurl hands every 3xx back as it came. */
  curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
  curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
#else
  curl_easy_setopt(easy, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
  /* Verification stays on unless the caller asked for `insecure = true`. */
  curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, c->insecure ? 0L : 1L);
  curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, c->insecure ? 0L : 2L);
  if (c->tracing) {
    curl_easy_setopt(easy, CURLOPT_DEBUGFUNCTION, transfer_on_debug);
    curl_easy_setopt(easy, CURLOPT_DEBUGDATA, (void *)t);
    curl_easy_setopt(easy, CURLOPT_VERBOSE, 1L);
  }
  /* libcurl copies strings: these can fail for want of memory. Without the
   * proxy options libcurl reads http_proxy, ALL_PROXY and NO_PROXY. */
  if ((c->ca_file != NULL && curl_easy_setopt(easy, CURLOPT_CAINFO, c->ca_file) != CURLE_OK) ||
      (c->proxy != NULL && curl_easy_setopt(easy, CURLOPT_PROXY, c->proxy) != CURLE_OK) ||
      (c->noproxy != NULL && curl_easy_setopt(easy, CURLOPT_NOPROXY, c->noproxy) != CURLE_OK)) {
    curl_easy_cleanup(easy);
    free(t);
    return NULL;
  }
  return t;
}

void ex_transfer_prepare(ex_transfer *t) {
  t->body.len = t->head.len = t->trace.len = t->post.len = 0;
  t->body_too_large = t->head_too_large = t->out_of_memory = t->trace_full = 0;
  t->head_bytes = 0;
  t->head_ended = t->head_final = t->transfer_encoding = 0;
  t->error[0] = '\0';
  t->code = CURLE_OK;
  t->state = EX_IDLE;
  t->queued = 0;
  t->protocol_error = NULL;
  t->content_length = -1;
  t->unread_bytes = 0;
  t->sending = 0;
  t->queue_expired = 0;
  t->interrupted = 0;
  if (t->fresh_connect) {
    t->fresh_connect = 0;
    curl_easy_setopt(t->easy, CURLOPT_FRESH_CONNECT, 0L);
  }
}

/* Frees the buffers that one large answer grew: kept, they would pin
 * memory for as long as the client lives. */
void ex_transfer_shrink(ex_transfer *t) {
  if (t->body.cap > TRANSFER_KEEP_BUFFER)
    ex_buffer_free(&t->body);
  if (t->head.cap > TRANSFER_KEEP_BUFFER)
    ex_buffer_free(&t->head);
  if (t->post.cap > TRANSFER_KEEP_BUFFER)
    ex_buffer_free(&t->post);
  if (t->trace.cap > TRANSFER_KEEP_BUFFER)
    ex_buffer_free(&t->trace);
  t->body.len = t->head.len = t->post.len = t->trace.len = 0;
}

void ex_transfer_free(ex_transfer *t) {
  ex_transfer_detach_engine(t);
  ex_client_unlink(t);
  ex_pool_attach(t, NULL); /* the pool may go before the client's last transfer */
  if (t->easy != NULL)
    curl_easy_cleanup(t->easy);
  ex_buffer_free(&t->body);
  ex_buffer_free(&t->head);
  ex_buffer_free(&t->post);
  ex_buffer_free(&t->trace);
  free(t);
}

/* ---- the result ------------------------------------------------------- */

/* How long the transfer waited in libcurl's own queue for a connection
 * (its host's are all in use) before it could start, in seconds. The
 * engine's queue keeps libcurl's empty (engine.c), unless several hosts
 * share one proxy, whose connections libcurl counts together. */
static double transfer_queued_for(const ex_transfer *t) {
  return (t->started_at != 0 ? t->started_at : t->ended_at) - t->added_at;
}

/* Whether the transfer ran out of time before its request was sent: its
 * queue_timeout in the engine's queue for its host, or its timeout in
 * libcurl's (it failed on it without having resolved or connected, or
 * left the queue with no time left: libcurl then names a lookup or a
 * connection that timed out at once). */
static int transfer_never_started(const ex_transfer *t, CURLcode code) {
  if (t->queue_expired)
    return 1;
  if (t->state != EX_DONE || t->sending ||
      (code != CURLE_OPERATION_TIMEDOUT && code != CURLE_COULDNT_RESOLVE_HOST && code != CURLE_COULDNT_CONNECT))
    return 0;
  return t->started_at == 0 || transfer_queued_for(t) * 1000 >= (double)t->timeout_ms - 1;
}

/* Whether an https transfer ran out of time in its TLS handshake: its TCP
 * connection was made (libcurl knows its local port), yet it never got as
 * far as sending its request (transfer_on_prereq, called once the
 * handshake is through, or on a connection reused). A plain-HTTP server
 * waiting for a request line says nothing to a handshake: this is no slow
 * answer to retry. (Without CURLOPT_PREREQFUNCTION it cannot be told.) */
static int transfer_handshake_timed_out(const ex_transfer *t, CURLcode code) {
#if LIBCURL_VERSION_NUM >= 0x075000
  long local_port = 0;
  if (code != CURLE_OPERATION_TIMEDOUT || !t->tls_target || t->sending)
    return 0;
  curl_easy_getinfo(t->easy, CURLINFO_LOCAL_PORT, &local_port);
  return local_port > 0;
#else
  (void)t;
  (void)code;
  return 0;
#endif
}

/* What went wrong, in the words both transports use (core.failures). */
static ex_failure transfer_failure(const ex_transfer *t, CURLcode code) {
  if (code == CURLE_OK && !t->head_final)
    return EX_FAILURE_TRUNCATED; /* libcurl takes a header section the connection cut short */
  if (t->out_of_memory)
    return EX_FAILURE_MEMORY;
  if (t->body_too_large || code == CURLE_FILESIZE_EXCEEDED)
    return EX_FAILURE_BODY_TOO_LARGE;
  if (t->head_too_large)
    return EX_FAILURE_HEAD_TOO_LARGE;
  if (t->protocol_error != NULL)
    return EX_FAILURE_PROTOCOL;
  if (transfer_never_started(t, code))
    return EX_FAILURE_QUEUED;
  if (transfer_handshake_timed_out(t, code))
    return EX_FAILURE_TLS_HANDSHAKE;
  switch (code) {
  /* The URL was checked before it was sent: an unsupported protocol now is
   * the server's answer (HTTP/0.9, a status code out of range). */
  case CURLE_UNSUPPORTED_PROTOCOL:
  case CURLE_WEIRD_SERVER_REPLY:
  case CURLE_HTTP2:
  case CURLE_HTTP2_STREAM:
    return EX_FAILURE_PROTOCOL;
  /* libcurl's own limit on one header line (100 KB) fails its buffer as
   * out of memory. */
  case CURLE_OUT_OF_MEMORY:
    return EX_FAILURE_HEAD_TOO_LARGE;
  case CURLE_OPERATION_TIMEDOUT:
    return EX_FAILURE_TIMEOUT;
  case CURLE_URL_MALFORMAT:
    return EX_FAILURE_CONFIG;
  case CURLE_BAD_CONTENT_ENCODING:
    return EX_FAILURE_BAD_ENCODING;
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_CACERT_BADFILE:
  case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
  case CURLE_SSL_CERTPROBLEM:
  case CURLE_SSL_ISSUER_ERROR:
    return EX_FAILURE_TLS_VERIFY;
  case CURLE_SSL_CONNECT_ERROR:
    return EX_FAILURE_TLS_HANDSHAKE;
  case CURLE_COULDNT_RESOLVE_HOST:
  case CURLE_COULDNT_RESOLVE_PROXY:
    return EX_FAILURE_RESOLVE;
  case CURLE_COULDNT_CONNECT:
    return EX_FAILURE_CONNECT;
  case CURLE_SEND_ERROR:
    return EX_FAILURE_SEND;
  case CURLE_RECV_ERROR:
    return EX_FAILURE_RECEIVE;
  case CURLE_GOT_NOTHING:
    return EX_FAILURE_CLOSED;
  case CURLE_PARTIAL_FILE:
    return EX_FAILURE_TRUNCATED;
  default:
    return EX_FAILURE_OTHER;
  }
}

static void transfer_push_error_message(lua_State *L, const ex_transfer *t, CURLcode code) {
  ex_failure failure = transfer_failure(t, code);
  if (failure == EX_FAILURE_MEMORY)
    lua_pushliteral(L, "out of memory while receiving the response");
  else if (failure == EX_FAILURE_BODY_TOO_LARGE) {
    char message[96];
    snprintf(message, sizeof message, "response larger than max_response_size (%lu bytes)", (unsigned long)t->max_body);
    lua_pushstring(L, message);
  } else if (failure == EX_FAILURE_HEAD_TOO_LARGE)
    lua_pushfstring(L, "the response's header section is larger than %d bytes", EX_MAX_HEAD);
  else if (t->protocol_error != NULL)
    lua_pushfstring(L, "the server broke HTTP: %s", t->protocol_error);
  else if (failure == EX_FAILURE_TRUNCATED && code == CURLE_OK)
    lua_pushliteral(L, "the connection closed before the response was complete");
  else if (failure == EX_FAILURE_QUEUED && t->queue_expired) {
    char limit[32];
    snprintf(limit, sizeof limit, "%g", (double)t->queue_timeout_ms / 1000);
    lua_pushfstring(L, "waited %d ms for a connection (at most %d requests of a client to one host at a time)"
                       " and queue_timeout (%s s) ran out: the request was not sent",
                    (int)((t->ended_at - t->queued_at) * 1000 + 0.5), EX_MAX_HOST_CONNECTIONS, limit);
  } else if (failure == EX_FAILURE_QUEUED) {
    /* (libcurl's own words would name a lookup or a connection that never began) */
    lua_pushfstring(L, "waited %d ms for a connection (at most %d to one host at a time) and ran out of time"
                       " before the request was sent",
                    (int)(transfer_queued_for(t) * 1000 + 0.5), EX_MAX_HOST_CONNECTIONS);
  } else if (failure == EX_FAILURE_PROTOCOL)
    lua_pushfstring(L, "the server broke HTTP: %s", t->error[0] != '\0' ? t->error : curl_easy_strerror(code));
  else if (failure == EX_FAILURE_TLS_VERIFY)
    lua_pushfstring(L, "TLS certificate verification failed: %s",
                    t->error[0] != '\0' ? t->error : curl_easy_strerror(code));
  else {
    lua_pushstring(L, t->error[0] != '\0' ? t->error : curl_easy_strerror(code));
    /* A timeout that the wait for a connection ate much of says so. */
    if (failure == EX_FAILURE_TIMEOUT && transfer_queued_for(t) >= 0.05) {
      lua_pushfstring(L, " (%d ms of it spent waiting for a connection: at most %d to one host at a time)",
                      (int)(transfer_queued_for(t) * 1000 + 0.5), EX_MAX_HOST_CONNECTIONS);
      lua_concat(L, 2);
    }
  }
}

static ex_transfer_box *transfer_box(lua_State *L) {
  return (ex_transfer_box *)luaL_checkudata(L, 1, EX_TRANSFER_MT);
}

/* transfer:done() -> whether the request has ended (its result can be read). */
static int transfer_done(lua_State *L) {
  ex_transfer_box *box = transfer_box(L);
  lua_pushboolean(L, box->t == NULL || box->t->state == EX_DONE || box->t->state == EX_CANCELLED);
  return 1;
}

/* transfer:id() -> the number engine:next_done() reports it by. */
static int transfer_id(lua_State *L) {
  ex_transfer_box *box = transfer_box(L);
  luaL_argcheck(L, box->t != NULL, 1, "the transfer was released");
  lua_pushinteger(L, (lua_Integer)box->t->id);
  return 1;
}

/* transfer:result() -> response | nil, failure, message [, trace]
 *
 * response = { status, headers, body, body_error, body_text }: body is the
 * decoded JSON; when the body is not JSON, body_error says why and body_text
 * holds its first bytes. failure is a word of core.failures. With the trace
 * option, response.trace (or the fourth value on failure) holds the
 * exchange's lines, credentials redacted; with the keep_text option,
 * response.text holds the body as received (when there was one). Reading
 * the result releases the transfer: its handle and buffers go back to the
 * client for the next request. */
static int transfer_result(lua_State *L) {
  ex_transfer_box *box = transfer_box(L);
  ex_transfer *t = box->t;
  int results;
  luaL_argcheck(L, t != NULL, 1, "the result was read already");
  if (t->state == EX_RUNNING || t->state == EX_IDLE)
    return luaL_error(L, "extruct.core: the transfer has not ended");
  lua_settop(L, 1);
  if (t->state == EX_CANCELLED && t->interrupted) {
    lua_pushnil(L);
    lua_pushstring(L, ex_failure_name(EX_FAILURE_INTERRUPTED));
    lua_pushliteral(L, "interrupted (Ctrl-C) while the request was in flight");
    results = 3;
  } else if (t->state == EX_CANCELLED) {
    lua_pushnil(L);
    lua_pushstring(L, ex_failure_name(EX_FAILURE_CANCELLED));
    lua_pushliteral(L, "the client was closed while the request was in flight");
    results = 3;
  } else if (t->code != CURLE_OK || t->out_of_memory || !t->head_final) {
    lua_pushnil(L);
    lua_pushstring(L, ex_failure_name(transfer_failure(t, t->code)));
    transfer_push_error_message(L, t, t->code);
    results = 3;
    if (t->tracing) {
      lua_pushlstring(L, t->trace.data ? t->trace.data : "", t->trace.len);
      results = 4;
    }
  } else {
    long status = 0;
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
    ex_response_push(L, status, t->head.data, t->head.len, t->body.data, t->body.len);
    if (t->keep_text && t->body.len > 0) {
      lua_pushlstring(L, t->body.data, t->body.len);
      lua_setfield(L, -2, "text");
    }
    if (t->tracing) {
      lua_pushlstring(L, t->trace.data ? t->trace.data : "", t->trace.len);
      lua_setfield(L, -2, "trace");
    }
    results = 1;
  }
  box->t = NULL;
  ex_client_release(t);
  return results;
}

/* One function for release, __gc and __close: stops the request if it is
 * still running and hands the handle back; safe to call any number of times. */
static int transfer_release(lua_State *L) {
  ex_transfer_box *box = transfer_box(L);
  ex_transfer *t = box->t;
  if (t != NULL) {
    box->t = NULL;
    ex_client_release(t);
  }
  return 0;
}

void ex_transfer_open(lua_State *L) {
  static const luaL_Reg methods[] = {
      {"done", transfer_done},
      {"id", transfer_id},
      {"result", transfer_result},
      {NULL, NULL},
  };
  ex_new_type(L, EX_TRANSFER_MT, methods, transfer_release, NULL);
}
