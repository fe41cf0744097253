/* The HTTP transfer machinery shared by client.c, transfer.c and engine.c.
 *
 *   client    (userdata)  the settings and credentials of one API client, its
 *                         idle transfers ready for reuse, its live ones, and
 *                         its connection pools
 *   transfer  (userdata)  one request: it points at an ex_transfer, whose easy
 *                         handle and buffers are reused from request to request
 *   engine    (userdata)  a libcurl multi handle: runs transfers side by side,
 *                         whichever clients they belong to
 *   pool      (C only)    the connections of one client on one engine (a
 *                         libcurl share of the connection cache): they are the
 *                         client's, closed with it, never lent to another
 *
 * The lifetimes are independent: whichever of a client, an engine and a
 * transfer is closed or collected first detaches the others from itself,
 * so a transfer never outlives the multi handle it runs on, and no easy
 * handle outlives the header lists or the pools of its client. */
#ifndef EXTRUCT_TRANSFER_H
#define EXTRUCT_TRANSFER_H

#include <stddef.h>

#include <curl/curl.h>

#include "extruct.h"

#define EX_TRANSFER_MT "extruct.core.transfer"
#define EX_ENGINE_MT "extruct.core.engine"

typedef struct ex_buffer {
  char *data;
  size_t len, cap;
} ex_buffer;

struct ex_client;
struct ex_engine;

enum ex_transfer_state { EX_IDLE, EX_RUNNING, EX_DONE, EX_CANCELLED };

/* The most bytes of a response's header section either transport takes
 * (status line and header lines, each with its line end): past it the
 * response is refused as head_too_large. Below libcurl's own limit on one
 * header line (100 KB), so the same answer fails the same way on both. */
#define EX_MAX_HEAD (96 * 1024)

/* Requests of one client to one host at a time on one engine; more wait in
 * the engine's queue for that host (its slot, engine.c) until one ends, so
 * libcurl (CURLMOPT_MAX_HOST_CONNECTIONS, the same number) never holds one
 * back: a request's `timeout` counts from when it may connect, and the wait
 * before has its own limit, `queue_timeout`. */
#define EX_MAX_HOST_CONNECTIONS 16

/* The longest "host:port" a slot tells hosts apart by; a longer one is cut
 * (two hosts alike in their first 270 bytes would share a slot). */
#define EX_ORIGIN_SIZE 272

/* The connections of one client on one engine. */
typedef struct ex_pool {
  CURLSH *share;     /* shares the connection cache only */
  long engine_serial; /* the engine it serves (engines are never reused) */
  long pid;          /* the process that made it: a forked child leaves it be */
  /* The sockets libcurl opened for it (see transfer_on_prereq), with their
   * ports once connected (0 until known): looked up by ports before every
   * request, asked of the kernel once per connection. */
  struct ex_pool_socket {
    curl_socket_t fd;
    int local_port, peer_port;
  } *sockets;
  size_t socket_count, socket_cap;
} ex_pool;

typedef struct ex_transfer {
  CURL *easy;
  ex_buffer body, head, post;
  ex_buffer trace; /* with the `trace` option: the exchange, credentials redacted */
  size_t max_body;
  long timeout_ms; /* its client's timeout */
  int body_too_large, head_too_large, out_of_memory, tracing, trace_full;
  int keep_text;      /* the response carries its body as received (`text`) */
  int unread_bytes;   /* the connection held bytes nobody asked for: not reused */
  int fresh_connect;  /* this attempt asked for a new connection */
  int tls_target;     /* the request goes to an https URL */
  int sending;        /* it got a connection and went on to send its request */
  int interrupted;    /* cancelled by Ctrl-C (interrupt.c), not by its client's close */
  int head_ended;     /* the header section ended: later lines are a new one, or trailers */
  int head_final;     /* ... and it was the final response's (not a 1xx's) */
  int transfer_encoding; /* the header section has a Transfer-Encoding */
  size_t head_bytes;  /* bytes of the current header section */
  const char *protocol_error; /* what the server broke, when the header callback saw it */
  long long content_length;   /* the response's Content-Length so far, or -1 */
  /* Monotonic seconds: when the transfer was put on its engine (queued_at),
   * when it went on the multi handle (added_at: its `timeout` counts from
   * there), and when it first did anything of its own (resolve, connect or
   * send; 0 until then: a transfer that never started waited in libcurl's
   * own queue, which the engine's slots keep empty unless a proxy is shared
   * by several hosts). */
  double queued_at, added_at, started_at, ended_at;
  /* The engine's queue for its host (engine.c): the slot it counts in while
   * on an engine, whether it still waits there for a connection, and when
   * that wait runs out (queued_at + its client's queue_timeout). */
  struct ex_host_slot *slot;
  struct ex_transfer *slot_prev, *slot_next;
  int waiting;       /* in its slot's queue, not yet on the multi handle */
  int queue_expired; /* queue_timeout ran out there: it was never sent */
  long queue_timeout_ms;
  double queue_deadline;
  char origin[EX_ORIGIN_SIZE]; /* "host:port" of its URL, lower-cased */
  ex_pool *pool; /* the pool its easy handle is set to share, or NULL */
  char error[CURL_ERROR_SIZE];

  enum ex_transfer_state state;
  CURLcode code;
  long id;     /* the engine's number for it, reported by engine:next_done() */
  int queued;  /* report its end through engine:next_done() */
  int in_done; /* it is in its engine's done queue */

  struct ex_client *client; /* NULL once the client is closed */
  struct ex_transfer *client_prev, *client_next;
  struct ex_engine *engine; /* NULL when not on a multi handle */
  struct ex_transfer *engine_prev, *engine_next;
  struct ex_transfer *done_next;
} ex_transfer;

/* The userdata of a transfer: NULL once released. */
typedef struct ex_transfer_box {
  ex_transfer *t;
} ex_transfer_box;

typedef struct ex_client {
  struct curl_slist *headers;      /* User-Agent, Accept-Encoding, Accept, Authorization */
  struct curl_slist *body_headers; /* the same plus Content-Type */
  struct curl_slist *anonymous_headers, *anonymous_body_headers; /* the same without Authorization */
  char *base_url;
  size_t max_body;
  int closed;
  ex_transfer *idle[4]; /* finished transfers kept for reuse */
  int idle_count;
  ex_transfer *live; /* on an engine or holding a result */
  ex_pool *pools[2]; /* the connections on a polled engine and on an evented one */
  /* The settings of a new easy handle. */
  long timeout_ms, connect_timeout_ms;
  long queue_timeout_ms; /* the longest a request waits in its host's queue */
  int insecure, tracing;
  int keep_text; /* with the `keep_text` option */
  char *ca_file;
  char *proxy, *noproxy; /* CURLOPT_PROXY and CURLOPT_NOPROXY, when given */
} ex_client;

/* The requests of one pool (one client) to one host on an engine: how many
 * are on the multi handle (at most EX_MAX_HOST_CONNECTIONS), and the queue
 * of those waiting for one of them to end, first come first served. Made
 * with its first request, freed when none is left. */
typedef struct ex_host_slot {
  struct ex_host_slot *next;
  const ex_pool *pool;
  char origin[EX_ORIGIN_SIZE];
  int running;
  ex_transfer *head, *tail;
} ex_host_slot;

typedef struct ex_engine {
  CURLM *multi;
  long serial; /* one number per engine made in this process, never reused */
  long pid;   /* the process that made it: a forked child must not use it */
  /* A page the kernel zeroes in a forked child (MADV_WIPEONFORK), its first
   * byte set here: tells a child apart without a getpid() per request.
   * NULL where the kernel has no such thing; then getpid() it is. */
  volatile unsigned char *fork_marker;
  int events; /* driven by socket_action (a host loop) rather than by polling */
  long next_id;
  ex_transfer *running;
  ex_transfer *done_head, *done_tail;
  /* Event mode: what curl asked for since the host loop last looked. */
  struct ex_socket_change {
    curl_socket_t fd;
    int what;
  } *changes;
  size_t change_count, change_cap;
  double curl_due; /* when curl's timer is due (monotonic seconds), or -1 */
  int timer_changed;
  ex_host_slot *slots; /* the hosts its transfers go to, and their queues */
  /* Event mode: the sockets the host loop watches (handed out by
   * next_change, not yet removed), and the sockets curl closed while the
   * host loop still watched them or had yet to hear of them: closed once
   * the loop has taken every change (and so stopped their poll handles),
   * so a descriptor never closes, or comes back as another socket, under a
   * poll handle (engine_defer_close). */
  curl_socket_t *watched, *closing;
  size_t watched_count, watched_cap, closing_count, closing_cap;
  struct ex_engine *next_evented; /* the live engines of event mode */
  /* Event mode, gathered (Linux): curl's sockets are in an epoll set of
   * the engine's own, kept in step inside curl's socket callback, and the
   * host loop watches that one descriptor (engine:events_fd()). No host
   * poll handle ever watches a socket of curl's, so none can see it
   * closed, reused, or in error (luv prints "EBADF" on a poll error). */
  int epfd; /* -1 when the sockets are named one by one (next_change) */
  int dispatching;
  curl_socket_t *removed; /* sockets removed while engine:dispatch() runs */
  size_t removed_count, removed_cap;
} ex_engine;

/* transfer.c */
ex_transfer *ex_transfer_new(ex_client *c);      /* NULL when out of memory */
void ex_transfer_prepare(ex_transfer *t);        /* clears the last request's state */
void ex_transfer_shrink(ex_transfer *t);         /* drops the buffers a large answer grew */
void ex_transfer_free(ex_transfer *t);           /* detaches, then frees everything */
void ex_transfer_detach_engine(ex_transfer *t);  /* off its multi handle, not reported */
void ex_transfer_finish(ex_transfer *t, CURLcode code); /* ended: off the multi, reported */
void ex_transfer_cancel(ex_transfer *t);         /* the same, as cancelled */
void ex_transfer_interrupt(ex_transfer *t);      /* the same, as cancelled by Ctrl-C */
int ex_transfer_retry_fresh(ex_transfer *t);     /* ready to run again on a new connection? */
void ex_transfer_open(lua_State *L);
/* The length of "Authorization:" or "Proxy-Authorization:" (any case) at the
 * start of a header line, or 0: what a trace must not show the value of. */
size_t ex_credential_prefix(const char *line, size_t len);

/* client.c */
void ex_client_unlink(ex_transfer *t);
void ex_client_release(ex_transfer *t); /* back to its client's idle list, or freed */

/* engine.c */
int ex_engine_add(ex_engine *e, ex_transfer *t); /* CURLM_OK or the failure */
int ex_engine_is_forked(const ex_engine *e);     /* made by the parent of this process? */
/* Closes fd, or keeps it open until the host loop of the event engine
 * numbered `serial` has stopped watching it; returns close()'s result. */
int ex_engine_close_socket(long serial, curl_socket_t fd);
void ex_engine_open(lua_State *L);

/* pool.c */
ex_pool *ex_pool_new(ex_engine *e); /* NULL when out of memory */
/* Closes the pool's connections and frees it; in a forked child, or while
 * an easy handle still uses it, leaves it be (the parent's connections are
 * not the child's to close). */
void ex_pool_release(ex_pool *pool);
/* Sets t's easy handle to use pool (NULL: none), and its sockets to be recorded there. */
void ex_pool_attach(ex_transfer *t, ex_pool *pool);
/* The pool's socket connected from local_port to peer_port, or CURL_SOCKET_BAD. */
curl_socket_t ex_pool_find_socket(ex_pool *pool, int local_port, int peer_port);

void ex_buffer_free(ex_buffer *buf);
int ex_buffer_append(ex_buffer *buf, const char *data, size_t len);

#endif
