/* Internal declarations shared by the C files of extruct.core.
 * Every C file exports one ex_<part>_open(L) that adds its functions to the
 * module table on top of the stack; version shims live in compat.h. */
#ifndef EXTRUCT_H
#define EXTRUCT_H

#include <stddef.h>
#include <stdint.h>

#include "compat.h"

#define EXTRUCT_VERSION "0.1.0"

/* Registry names of the metatables owned by the core. */
#define EX_CLIENT_MT "extruct.core.client"
#define EX_ARRAY_MT "extruct.core.array"
#define EX_ENCODE_MT "extruct.core.encode_guard"

/* The kinds of error a failed call reports, in the order the README lists
 * them: the one list, exported as core.error_kinds, from which
 * extruct.errors takes its own. Each C failure names its kind by these
 * constants, so a kind missing here does not compile. */
#define EX_ERROR_KINDS(X)                                                                                         \
  X(AUTH, "auth")                                                                                                 \
  X(PAYMENT, "payment")                                                                                           \
  X(NOT_FOUND, "not_found")                                                                                       \
  X(VALIDATION, "validation")                                                                                     \
  X(RATE_LIMIT, "rate_limit")                                                                                     \
  X(SERVER, "server")                                                                                             \
  X(HTTP, "http")                                                                                                 \
  X(NETWORK, "network")                                                                                           \
  X(TLS, "tls")                                                                                                   \
  X(TIMEOUT, "timeout")                                                                                           \
  X(DECODE, "decode")                                                                                             \
  X(ENCODE, "encode")                                                                                             \
  X(CONFIG, "config")                                                                                             \
  X(CANCELLED, "cancelled")                                                                                       \
  X(FAILED, "failed")                                                                                             \
  X(OUTPUT, "output")                                                                                             \
  X(DATABASE, "database")

#define EX_KIND_ENUM(name, text) EX_KIND_##name,
typedef enum { EX_ERROR_KINDS(EX_KIND_ENUM) EX_KIND_COUNT } ex_error_kind;
#undef EX_KIND_ENUM

/* The name of an error kind, as the Lua layer spells it. */
const char *ex_kind_name(ex_error_kind kind);

/* What went wrong with an exchange, as a transport reports it: the words
 * both transports (libcurl's transfers, the cosocket transport and its
 * parser, http1.c) use for the same failure, exported as core.failures.
 * They say what happened, not what to do about it: extruct.failures turns
 * each into an error kind, in one table for both transports. */
#define EX_FAILURES(X)                                                                                            \
  X(CANCELLED, "cancelled")           /* the client was closed during the exchange */                             \
  X(INTERRUPTED, "interrupted")       /* Ctrl-C (SIGINT) came while extruct handles it (interrupt.c) */           \
  X(QUEUED, "queued")                 /* queue_timeout ran out waiting for a connection: never sent */            \
  X(RESOLVE, "resolve")               /* the host name could not be looked up */                                 \
  X(CONNECT, "connect")               /* the connection was refused or failed */                                  \
  X(CONNECT_TIMEOUT, "connect_timeout") /* connect_timeout ran out */                                             \
  X(TIMEOUT, "timeout")               /* timeout ran out during the exchange */                                   \
  X(SEND, "send")                     /* sending the request failed */                                            \
  X(RECEIVE, "receive")               /* reading the answer failed (a reset) */                                   \
  X(CLOSED, "closed")                 /* the server closed the connection without answering */                   \
  X(TRUNCATED, "truncated")           /* the answer stopped before its end */                                     \
  X(PROTOCOL, "protocol")             /* the answer is not HTTP/1.1: status line, headers or framing */           \
  X(HEAD_TOO_LARGE, "head_too_large") /* a header section past EX_MAX_HEAD */                                     \
  X(BODY_TOO_LARGE, "body_too_large") /* a body past max_response_size */                                         \
  X(BAD_ENCODING, "bad_encoding")     /* a compressed body that does not decompress */                            \
  X(TLS_VERIFY, "tls_verify")         /* the server's certificate failed verification */                          \
  X(TLS_HANDSHAKE, "tls_handshake")   /* the TLS handshake failed otherwise */                                    \
  X(REDIRECT_REFUSED, "redirect_refused") /* a redirect that may not be followed (scheme, https to http) */       \
  X(TOO_MANY_REDIRECTS, "too_many_redirects") /* past the redirect limit */                                       \
  X(MEMORY, "memory")                 /* memory ran out while receiving */                                        \
  X(CONFIG, "config")                 /* the request cannot be made as configured */                              \
  X(OTHER, "other")                   /* any other failure of the connection */

#define EX_FAILURE_ENUM(name, text) EX_FAILURE_##name,
typedef enum { EX_FAILURES(EX_FAILURE_ENUM) EX_FAILURE_COUNT } ex_failure;
#undef EX_FAILURE_ENUM

/* The word of a failure, as core.failures spells it. */
const char *ex_failure_name(ex_failure failure);

/* Seconds on a monotonic clock (clock.c). */
double ex_monotime(void);

/* Ctrl-C (interrupt.c): whether SIGINT came since extruct's handler was
 * armed; the read end of the pipe its handler writes to, for a wait to
 * watch (-1 while the handler is not installed); a sleep of `seconds` that
 * ends early on an interrupt (returns 1 then). */
int ex_interrupted(void);
int ex_interrupt_fd(void);
int ex_interrupt_sleep(double seconds);

/* Decodes len bytes of JSON at text. On success pushes the Lua value and
 * returns 1; on failure pushes an error message and returns 0. Raises only
 * on memory errors, and leaks nothing when it does. With
 * strict 0, raw control characters (U+0000..U+001F) inside strings are
 * kept as they are instead of refused (response bodies: the API sends raw
 * newlines in strings); all else is checked as strictly. */
int ex_json_push(lua_State *L, const char *text, size_t len, int strict);

/* Whether a decode is building its value on the calling thread (set when
 * one starts, cleared when it returns; the allocation-failure harness counts
 * the failures that hit one). */
int ex_json_decoding(void);

/* Longest text ex_format_double writes ("-0.0000012345678901234567"). */
#define EX_NUMBER_TEXT_MAX 32

/* Writes the JSON text of the finite double d at out, without a NUL, and
 * returns its length: the shortest decimal that reads back as d (strtod,
 * round to nearest); integral values up to 2^53 as plain digits, -0 as
 * -0.0, others as 0.25, 1e-7 or 1.7976931348623157e+308 (dtoa.c). */
size_t ex_format_double(double d, char *out);

/* Writes the decimal digits of i at out, without a NUL; returns the length. */
size_t ex_format_integer(int64_t i, char *out);

/* Pushes the response table { status, headers, body | body_error, body_text }
 * built from the raw header block of the final response (may be NULL) and
 * the body bytes; headers is made when first read (response.c). */
void ex_response_push(lua_State *L, long status, const char *head, size_t head_len, const char *body,
                      size_t body_len);

/* core.http_request(method, target, host, headers, body) -> the bytes of an
 * HTTP/1.1 request (http1.c); raises on anything that would break framing. */
int ex_http1_request(lua_State *L);

void ex_json_open(lua_State *L);
void ex_response_open(lua_State *L);
void ex_encode_open(lua_State *L);
void ex_client_open(lua_State *L);
void ex_clock_open(lua_State *L);
void ex_term_open(lua_State *L);
void ex_http1_open(lua_State *L);
void ex_file_open(lua_State *L);
void ex_coroutine_open(lua_State *L);
void ex_interrupt_open(lua_State *L);

#endif
