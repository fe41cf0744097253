/* The engine: a libcurl multi handle that runs any number of transfers side
 * by side on one thread, whichever clients they belong to (each client's
 * connections are in its own pools, pool.c).
 *
 * It is driven in one of two ways, chosen when it is made:
 *
 *   polling  engine:wait(t) and engine:step(s) call curl_multi_perform and
 *            block in curl_multi_poll: the way plain Lua waits.
 *   events   a host loop (Neovim's libuv) watches the sockets curl names and
 *            keeps the timer it asks for (CURLMOPT_SOCKETFUNCTION and
 *            CURLMOPT_TIMERFUNCTION, recorded here and read with
 *            engine:next_change() and engine:next_timer()), and calls
 *            engine:socket_action(fd, events) or engine:timeout_action() when
 *            one fires: curl's multi-uv.c and hiperfifo.c, with Lua as the glue.
 *            Gathered (where epoll is), the host loop watches one descriptor
 *            instead (engine:events_fd()) and calls engine:dispatch() when it
 *            is readable: the sockets stay between curl and the engine.
 *
 * Either way, finished transfers come out of engine:next_done(). The
 * callbacks make no Lua calls: they only record. While extruct handles
 * Ctrl-C, a polling wait also watches the interrupt's pipe, and an
 * interrupt ends every transfer running on the engine (interrupt.c). */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS, MADV_WIPEONFORK */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/mman.h>
#ifdef __linux__
#include <sys/epoll.h>
#define ENGINE_HAS_EPOLL 1
#else
#define ENGINE_HAS_EPOLL 0
#endif

#include "transfer.h"

/* The longest single wait in curl_multi_poll (curl wakes sooner when its
 * own timers say so). */
#define ENGINE_POLL_CAP_MS 1000

/* ---- the lists a transfer is on ---------------------------------------- */

static void engine_unlink_running(ex_engine *e, ex_transfer *t) {
  if (t->engine_prev != NULL)
    t->engine_prev->engine_next = t->engine_next;
  else if (e->running == t)
    e->running = t->engine_next;
  if (t->engine_next != NULL)
    t->engine_next->engine_prev = t->engine_prev;
  t->engine_prev = t->engine_next = NULL;
}

static void engine_unqueue(ex_engine *e, ex_transfer *t) {
  ex_transfer **p = &e->done_head, *prev = NULL;
  while (*p != NULL && *p != t) {
    prev = *p;
    p = &(*p)->done_next;
  }
  if (*p == t) {
    *p = t->done_next;
    if (e->done_tail == t)
      e->done_tail = prev;
  }
  t->done_next = NULL;
  t->in_done = 0;
}

/* ---- each host's queue -------------------------------------------------- */

/* At most EX_MAX_HOST_CONNECTIONS requests of one client to one host are on
 * the multi handle at a time; the others wait here, in their host's slot,
 * for one of those to end. libcurl would queue them itself, but its
 * `timeout` would count the wait: a request could time out before it was
 * sent, and one whose answer was on its way would be given up. Here the
 * wait is bounded by the client's queue_timeout, and a request that ran
 * out of it is reported as never sent (transfer.c). */

static void engine_link_running(ex_engine *e, ex_transfer *t) {
  t->engine_prev = NULL;
  t->engine_next = e->running;
  if (e->running != NULL)
    e->running->engine_prev = t;
  e->running = t;
}

/* The slot of t's client (its pool) and host, made if there is none; NULL
 * when out of memory. */
static ex_host_slot *engine_slot_of(ex_engine *e, const ex_transfer *t) {
  ex_host_slot *slot;
  for (slot = e->slots; slot != NULL; slot = slot->next)
    if (slot->pool == t->pool && strcmp(slot->origin, t->origin) == 0)
      return slot;
  slot = (ex_host_slot *)calloc(1, sizeof *slot);
  if (slot == NULL)
    return NULL;
  slot->pool = t->pool;
  memcpy(slot->origin, t->origin, sizeof slot->origin);
  slot->next = e->slots;
  e->slots = slot;
  return slot;
}

static void engine_slot_free_if_idle(ex_engine *e, ex_host_slot *slot) {
  ex_host_slot **p;
  if (slot->running > 0 || slot->head != NULL)
    return;
  for (p = &e->slots; *p != NULL; p = &(*p)->next) {
    if (*p == slot) {
      *p = slot->next;
      free(slot);
      return;
    }
  }
}

static void engine_slot_enqueue(ex_engine *e, ex_host_slot *slot, ex_transfer *t) {
  t->slot_next = NULL;
  t->slot_prev = slot->tail;
  if (slot->tail != NULL)
    slot->tail->slot_next = t;
  else
    slot->head = t;
  slot->tail = t;
  t->waiting = 1;
  e->timer_changed = 1; /* a queue_timeout for the host loop's timer */
}

static void engine_slot_unqueue(ex_engine *e, ex_host_slot *slot, ex_transfer *t) {
  if (t->slot_prev != NULL)
    t->slot_prev->slot_next = t->slot_next;
  else
    slot->head = t->slot_next;
  if (t->slot_next != NULL)
    t->slot_next->slot_prev = t->slot_prev;
  else
    slot->tail = t->slot_prev;
  t->slot_prev = t->slot_next = NULL;
  t->waiting = 0;
  e->timer_changed = 1;
}

/* Puts t on the multi handle: from now on libcurl runs it, and its
 * `timeout` counts. */
static CURLMcode engine_start(ex_engine *e, ex_transfer *t) {
  CURLMcode code;
  t->added_at = ex_monotime();
  t->started_at = 0;
  code = curl_multi_add_handle(e->multi, t->easy);
  if (code != CURLM_OK)
    return code;
  t->slot->running++;
  engine_link_running(e, t);
  return CURLM_OK;
}

static void engine_report(ex_engine *e, ex_transfer *t, CURLcode code, enum ex_transfer_state state);

/* The transfers waiting in slot's queue take the places free, first come
 * first served. (A closed client's are about to be cancelled: they stay.) */
static void engine_slot_advance(ex_engine *e, ex_host_slot *slot) {
  while (slot->running < EX_MAX_HOST_CONNECTIONS && slot->head != NULL) {
    ex_transfer *t = slot->head;
    if (t->client == NULL || t->client->closed)
      return;
    engine_slot_unqueue(e, slot, t);
    if (engine_start(e, t) != CURLM_OK) {
      t->slot = NULL;
      engine_report(e, t, CURLE_OUT_OF_MEMORY, EX_DONE);
    }
  }
}

/* t leaves its host's count (off the multi handle, or out of the queue),
 * and the transfers waiting behind take its place. */
static void engine_leave(ex_engine *e, ex_transfer *t) {
  ex_host_slot *slot = t->slot;
  if (t->waiting) {
    engine_slot_unqueue(e, slot, t);
  } else {
    curl_multi_remove_handle(e->multi, t->easy);
    engine_unlink_running(e, t);
    if (slot != NULL)
      slot->running--;
  }
  t->slot = NULL;
  if (slot != NULL) {
    engine_slot_advance(e, slot);
    engine_slot_free_if_idle(e, slot);
  }
}

int ex_engine_add(ex_engine *e, ex_transfer *t) {
  ex_host_slot *slot = engine_slot_of(e, t);
  if (slot == NULL)
    return CURLM_OUT_OF_MEMORY;
  t->queued_at = t->added_at = ex_monotime();
  t->started_at = 0;
  t->queue_deadline = t->queued_at + (double)t->queue_timeout_ms / 1000;
  t->queue_expired = 0;
  t->slot = slot;
  t->engine = e;
  t->state = EX_RUNNING;
  if (slot->running < EX_MAX_HOST_CONNECTIONS) {
    CURLMcode code = engine_start(e, t);
    if (code != CURLM_OK) {
      t->slot = NULL;
      t->engine = NULL;
      t->state = EX_IDLE;
      engine_slot_free_if_idle(e, slot);
      return (int)code;
    }
  } else {
    engine_slot_enqueue(e, slot, t);
  }
  t->id = ++e->next_id;
  return CURLM_OK;
}

/* When the first queue_timeout of a waiting transfer runs out, or -1. (A
 * slot's transfers are one client's, with one queue_timeout: its first
 * runs out first.) */
static double engine_first_queue_deadline(const ex_engine *e) {
  const ex_host_slot *slot;
  double first = -1;
  for (slot = e->slots; slot != NULL; slot = slot->next)
    if (slot->head != NULL && (first < 0 || slot->head->queue_deadline < first))
      first = slot->head->queue_deadline;
  return first;
}

/* How long a poll may block: cap_ms, or less when a queue_timeout runs out sooner. */
static int engine_poll_ms(const ex_engine *e, int cap_ms) {
  double first = engine_first_queue_deadline(e), ms;
  if (first < 0)
    return cap_ms;
  ms = (first - ex_monotime()) * 1000;
  if (ms <= 0)
    return 0;
  return ms < cap_ms ? (int)ms + 1 : cap_ms;
}

static void engine_end(ex_transfer *t, CURLcode code, enum ex_transfer_state state);

/* Ends, as never sent, the transfers whose queue_timeout ran out while they
 * waited for a connection to their host. */
static void engine_expire_waiting(ex_engine *e) {
  ex_host_slot *slot, *next;
  double now;
  if (e->slots == NULL)
    return;
  now = ex_monotime();
  for (slot = e->slots; slot != NULL; slot = next) {
    next = slot->next;
    while (slot->head != NULL && slot->head->queue_deadline <= now) {
      ex_transfer *t = slot->head;
      int last = t->slot_next == NULL && slot->running == 0; /* then the slot goes with it */
      t->queue_expired = 1;
      engine_end(t, CURLE_OPERATION_TIMEDOUT, EX_DONE);
      if (last)
        break;
    }
  }
}

/* Records how a transfer that is off the multi handle ended, and puts it in
 * the done queue when someone waits for the report. */
static void engine_report(ex_engine *e, ex_transfer *t, CURLcode code, enum ex_transfer_state state) {
  t->state = state;
  t->code = code;
  t->ended_at = ex_monotime();
  if (!t->queued) {
    t->engine = NULL;
    return;
  }
  t->in_done = 1;
  t->done_next = NULL;
  if (e->done_tail != NULL)
    e->done_tail->done_next = t;
  else
    e->done_head = t;
  e->done_tail = t;
}

/* Ends a running transfer: off the multi handle (its connection goes back to
 * the pool), and into the done queue when someone waits for the report. */
static void engine_end(ex_transfer *t, CURLcode code, enum ex_transfer_state state) {
  ex_engine *e = t->engine;
  if (e == NULL || t->state != EX_RUNNING)
    return;
  engine_leave(e, t);
  engine_report(e, t, code, state);
}

void ex_transfer_finish(ex_transfer *t, CURLcode code) { engine_end(t, code, EX_DONE); }

void ex_transfer_cancel(ex_transfer *t) { engine_end(t, CURLE_ABORTED_BY_CALLBACK, EX_CANCELLED); }

void ex_transfer_interrupt(ex_transfer *t) {
  if (t->state == EX_RUNNING)
    t->interrupted = 1;
  ex_transfer_cancel(t);
}

void ex_transfer_detach_engine(ex_transfer *t) {
  ex_engine *e = t->engine;
  if (e == NULL)
    return;
  if (t->state == EX_RUNNING) {
    engine_leave(e, t);
    t->state = EX_CANCELLED;
  }
  if (t->in_done)
    engine_unqueue(e, t);
  t->engine = NULL;
}

/* Reads curl's reports of finished transfers. */
static void engine_collect(ex_engine *e) {
  CURLMsg *msg;
  int left;
  while ((msg = curl_multi_info_read(e->multi, &left)) != NULL) {
    if (msg->msg == CURLMSG_DONE) {
      CURLcode code = msg->data.result; /* msg dies with the handle's removal */
      char *private_data = NULL;
      ex_transfer *t;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &private_data);
      t = (ex_transfer *)private_data;
      if (t == NULL)
        continue;
      /* Refused a connection with unasked bytes waiting: once more, on a new one. */
      if (code == CURLE_ABORTED_BY_CALLBACK && ex_transfer_retry_fresh(t)) {
        curl_multi_remove_handle(e->multi, t->easy);
        if (curl_multi_add_handle(e->multi, t->easy) == CURLM_OK)
          continue;
        ex_transfer_finish(t, CURLE_OUT_OF_MEMORY);
        continue;
      }
      ex_transfer_finish(t, code);
    }
  }
}

/* ---- callbacks of the event mode (record only) ------------------------ */

static int engine_fd_add(curl_socket_t **fds, size_t *count, size_t *cap, curl_socket_t fd);

#if ENGINE_HAS_EPOLL
/* Gathered: the socket's place in the engine's epoll set follows what curl
 * wants of it, at once (curl tells of a removal before it closes). */
static int engine_epoll_update(ex_engine *e, curl_socket_t fd, int what) {
  struct epoll_event ev;
  memset(&ev, 0, sizeof ev);
  ev.data.fd = fd;
  if (what == CURL_POLL_REMOVE) {
    epoll_ctl(e->epfd, EPOLL_CTL_DEL, fd, &ev);
    /* (events already taken for it are not handed on: its number may come
     * back as another socket before dispatch() reaches them) */
    if (e->dispatching && !engine_fd_add(&e->removed, &e->removed_count, &e->removed_cap, fd))
      return -1;
    return 0;
  }
  ev.events = ((what & CURL_POLL_IN) ? EPOLLIN : 0) | ((what & CURL_POLL_OUT) ? EPOLLOUT : 0);
  if (epoll_ctl(e->epfd, EPOLL_CTL_MOD, fd, &ev) == 0)
    return 0;
  if (errno == ENOENT && epoll_ctl(e->epfd, EPOLL_CTL_ADD, fd, &ev) == 0)
    return 0;
  return -1;
}
#endif

static int engine_on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp) {
  ex_engine *e = (ex_engine *)userp;
  (void)easy;
  (void)socketp;
#if ENGINE_HAS_EPOLL
  if (e->epfd >= 0)
    return engine_epoll_update(e, fd, what);
#endif
  if (e->change_count == e->change_cap) {
    size_t cap = e->change_cap ? e->change_cap * 2 : 16;
    struct ex_socket_change *grown = (struct ex_socket_change *)realloc(e->changes, cap * sizeof *grown);
    if (grown == NULL)
      return -1; /* curl fails the transfers on this multi handle */
    e->changes = grown;
    e->change_cap = cap;
  }
  e->changes[e->change_count].fd = fd;
  e->changes[e->change_count].what = what;
  e->change_count++;
  return 0;
}

static int engine_on_timer(CURLM *multi, long timeout_ms, void *userp) {
  ex_engine *e = (ex_engine *)userp;
  (void)multi;
  e->curl_due = timeout_ms < 0 ? -1 : ex_monotime() + (double)timeout_ms / 1000;
  e->timer_changed = 1;
  return 0;
}

/* ---- sockets closed under a host loop's watch -------------------------- */

/* The engines of event mode alive in this process. */
static ex_engine *evented_engines;

static int engine_fd_index(const curl_socket_t *fds, size_t count, curl_socket_t fd) {
  size_t i;
  for (i = 0; i < count; i++)
    if (fds[i] == fd)
      return (int)i;
  return -1;
}

static int engine_fd_add(curl_socket_t **fds, size_t *count, size_t *cap, curl_socket_t fd) {
  if (engine_fd_index(*fds, *count, fd) >= 0)
    return 1;
  if (*count == *cap) {
    size_t grown_cap = *cap ? *cap * 2 : 16;
    curl_socket_t *grown = (curl_socket_t *)realloc(*fds, grown_cap * sizeof *grown);
    if (grown == NULL)
      return 0;
    *fds = grown;
    *cap = grown_cap;
  }
  (*fds)[(*count)++] = fd;
  return 1;
}

static void engine_fd_drop(curl_socket_t *fds, size_t *count, curl_socket_t fd) {
  int i = engine_fd_index(fds, *count, fd);
  if (i >= 0)
    fds[i] = fds[--*count];
}

static int engine_change_pending(const ex_engine *e, curl_socket_t fd) {
  size_t i;
  for (i = 0; i < e->change_count; i++)
    if (e->changes[i].fd == fd)
      return 1;
  return 0;
}

/* curl closes a socket (a pool's CURLOPT_CLOSESOCKETFUNCTION). If the host
 * loop of the engine numbered `serial` watches it with a poll handle, or
 * has yet to take a change about it, the descriptor stays open until the
 * loop has taken every change (next_change): by then its poll handle is
 * stopped and closed, so libuv never polls a closed descriptor, nor
 * another socket that got its number. (curl tells of a removal, with the
 * socket callback, before it closes; one watched that it did not tell of
 * gets a removal of its own here.) */
int ex_engine_close_socket(long serial, curl_socket_t fd) {
  ex_engine *e;
  for (e = evented_engines; e != NULL; e = e->next_evented) {
    int watched;
    if (e->serial != serial || e->multi == NULL)
      continue;
    watched = engine_fd_index(e->watched, e->watched_count, fd) >= 0;
    if (!watched && !engine_change_pending(e, fd))
      break;
    if (watched && !engine_change_pending(e, fd) && engine_on_socket(NULL, fd, CURL_POLL_REMOVE, e, NULL) != 0)
      break;
    if (!engine_fd_add(&e->closing, &e->closing_count, &e->closing_cap, fd))
      break;
    return 0;
  }
  return close(fd);
}

/* Closes the sockets kept open for the host loop (see above). */
static void engine_close_deferred(ex_engine *e) {
  while (e->closing_count > 0)
    close(e->closing[--e->closing_count]);
}

/* ---- methods ---------------------------------------------------------- */

static ex_engine *engine_check(lua_State *L) {
  ex_engine *e = (ex_engine *)luaL_checkudata(L, 1, EX_ENGINE_MT);
  if (e->multi == NULL)
    luaL_error(L, "extruct.core: the engine is closed");
  return e;
}

static void engine_check_code(lua_State *L, CURLMcode code) {
  if (code != CURLM_OK && code != CURLM_CALL_MULTI_PERFORM)
    luaL_error(L, "extruct.core: libcurl's multi interface failed: %s", curl_multi_strerror(code));
}

static int engine_perform(lua_State *L, ex_engine *e) {
  int running = 0;
  engine_check_code(L, curl_multi_perform(e->multi, &running));
  engine_collect(e);
  engine_expire_waiting(e);
  return running;
}

/* ---- Ctrl-C (interrupt.c) --------------------------------------------- */

/* Blocks in curl_multi_poll at most ms for the engine's sockets and timers,
 * and for an interrupt while extruct handles Ctrl-C (its pipe). */
static CURLMcode engine_poll(ex_engine *e, int ms) {
  struct curl_waitfd interrupt;
  interrupt.fd = ex_interrupt_fd();
  if (interrupt.fd < 0)
    return curl_multi_poll(e->multi, NULL, 0, ms, NULL);
  interrupt.events = CURL_WAIT_POLLIN;
  interrupt.revents = 0;
  return curl_multi_poll(e->multi, &interrupt, 1, ms, NULL);
}

/* After Ctrl-C, every transfer still running on the engine ends as
 * interrupted (reported through the done queue to those who wait for it);
 * returns whether that happened. */
static int engine_interrupted(ex_engine *e) {
  if (!ex_interrupted())
    return 0;
  /* (each one ended lets a transfer queued for its host start, to be ended
   * in turn: none of them is sent) */
  while (e->running != NULL)
    ex_transfer_interrupt(e->running);
  return 1;
}

/* engine:wait(transfer): runs the engine, blocking, until that transfer has
 * ended; the others on the engine progress meanwhile. */
static int engine_wait(lua_State *L) {
  ex_engine *e = engine_check(L);
  ex_transfer_box *box = (ex_transfer_box *)luaL_checkudata(L, 2, EX_TRANSFER_MT);
  ex_transfer *t = box->t;
  luaL_argcheck(L, t != NULL && (t->engine == e || t->state != EX_RUNNING), 2, "not a transfer of this engine");
  luaL_argcheck(L, !e->events, 1, "an engine driven by events cannot block");
  while (t->state == EX_RUNNING) {
    if (engine_interrupted(e))
      break;
    engine_perform(L, e);
    if (t->state != EX_RUNNING)
      break;
    engine_check_code(L, engine_poll(e, engine_poll_ms(e, ENGINE_POLL_CAP_MS)));
  }
  return 0;
}

/* engine:step(seconds) -> transfers still running. Runs the engine once and,
 * unless a transfer has ended, waits at most `seconds` for one of its
 * sockets or timers before running it again. After Ctrl-C (interrupt.c)
 * every running transfer ends as interrupted instead, and it returns 0. */
static int engine_step(lua_State *L) {
  ex_engine *e = engine_check(L);
  lua_Number seconds = luaL_optnumber(L, 2, 0);
  int running;
  luaL_argcheck(L, !e->events, 1, "an engine driven by events cannot block");
  if (engine_interrupted(e)) {
    lua_pushinteger(L, 0);
    return 1;
  }
  running = engine_perform(L, e);
  if (running > 0 && e->done_head == NULL && seconds > 0) {
    int ms = seconds * 1000 < ENGINE_POLL_CAP_MS ? (int)(seconds * 1000 + 0.5) : ENGINE_POLL_CAP_MS;
    engine_check_code(L, engine_poll(e, engine_poll_ms(e, ms)));
    running = engine_interrupted(e) ? 0 : engine_perform(L, e);
  }
  lua_pushinteger(L, running);
  return 1;
}

/* engine:next_done() -> the id of a transfer that has ended, or nil. */
static int engine_next_done(lua_State *L) {
  ex_engine *e = engine_check(L);
  ex_transfer *t = e->done_head;
  if (t == NULL)
    return 0;
  engine_unqueue(e, t);
  t->engine = NULL;
  lua_pushinteger(L, (lua_Integer)t->id);
  return 1;
}

/* engine:socket_action(fd, events) -> transfers still running; events: 1
 * readable, 2 writable, 4 error (curl's CURL_CSELECT_* bits). */
static int engine_socket_action(lua_State *L) {
  ex_engine *e = engine_check(L);
  curl_socket_t fd = (curl_socket_t)luaL_checkinteger(L, 2);
  int events = (int)luaL_optinteger(L, 3, 0);
  int running = 0;
  engine_check_code(L, curl_multi_socket_action(e->multi, fd, events, &running));
  engine_collect(e);
  engine_expire_waiting(e);
  lua_pushinteger(L, running);
  return 1;
}

/* engine:timeout_action() -> transfers still running: curl's timer fired. */
static int engine_timeout_action(lua_State *L) {
  ex_engine *e = engine_check(L);
  int running = 0;
  engine_check_code(L, curl_multi_socket_action(e->multi, CURL_SOCKET_TIMEOUT, 0, &running));
  engine_collect(e);
  engine_expire_waiting(e);
  lua_pushinteger(L, running);
  return 1;
}

/* engine:events_fd() -> the descriptor a host loop watches for reading
 * (then it calls engine:dispatch()), or nil: the engine names its sockets
 * one by one (next_change). */
static int engine_events_fd(lua_State *L) {
  ex_engine *e = engine_check(L);
  if (e->epfd < 0)
    return 0;
  lua_pushinteger(L, (lua_Integer)e->epfd);
  return 1;
}

/* engine:dispatch() -> transfers still running: hands what happened on the
 * engine's sockets (engine:events_fd() was readable) to curl. A socket in
 * error is handed on as an error event for it alone, readable and
 * writable too, so curl reads or writes it and meets its own error (a
 * reset, a refused connection) rather than a bare "select/poll returned
 * error". */
static int engine_dispatch(lua_State *L) {
  ex_engine *e = engine_check(L);
  int running = 0;
#if ENGINE_HAS_EPOLL
  struct epoll_event events[64];
  int n, i;
  luaL_argcheck(L, e->epfd >= 0, 1, "the engine's sockets are named one by one (next_change)");
  n = epoll_wait(e->epfd, events, (int)(sizeof events / sizeof events[0]), 0);
  e->dispatching = 1;
  e->removed_count = 0;
  for (i = 0; i < n; i++) {
    curl_socket_t fd = events[i].data.fd;
    uint32_t what = events[i].events;
    int flags = 0;
    CURLMcode code;
    if (engine_fd_index(e->removed, e->removed_count, fd) >= 0)
      continue;
    if (what & (EPOLLIN | EPOLLHUP))
      flags |= CURL_CSELECT_IN;
    if (what & EPOLLOUT)
      flags |= CURL_CSELECT_OUT;
    if (what & EPOLLERR)
      flags |= CURL_CSELECT_ERR | CURL_CSELECT_IN | CURL_CSELECT_OUT;
    code = curl_multi_socket_action(e->multi, fd, flags, &running);
    if (code != CURLM_OK && code != CURLM_CALL_MULTI_PERFORM) {
      e->dispatching = 0;
      engine_check_code(L, code);
    }
  }
  e->dispatching = 0;
  e->removed_count = 0;
#else
  luaL_argcheck(L, 0, 1, "the engine's sockets are named one by one (next_change)");
#endif
  engine_collect(e);
  engine_expire_waiting(e);
  lua_pushinteger(L, running);
  return 1;
}

/* engine:next_change() -> fd, "in" | "out" | "inout" | "remove", or nil:
 * the sockets to watch, in the order curl asked. */
static int engine_next_change(lua_State *L) {
  static const char *const names[] = {"none", "in", "out", "inout", "remove"};
  ex_engine *e = engine_check(L);
  struct ex_socket_change change;
  if (e->change_count == 0) {
    /* the host loop has stopped the poll handles of the sockets removed */
    engine_close_deferred(e);
    return 0;
  }
  change = e->changes[0];
  memmove(e->changes, e->changes + 1, (e->change_count - 1) * sizeof *e->changes);
  e->change_count--;
  if (change.what == CURL_POLL_REMOVE)
    engine_fd_drop(e->watched, &e->watched_count, change.fd);
  else if (change.what != CURL_POLL_NONE && !engine_fd_add(&e->watched, &e->watched_count, &e->watched_cap, change.fd))
    return luaL_error(L, "extruct.core: out of memory watching a socket");
  lua_pushinteger(L, (lua_Integer)change.fd);
  lua_pushstring(L, change.what >= 0 && change.what <= 4 ? names[change.what] : "none");
  return 2;
}

/* engine:next_timer() -> milliseconds until engine:timeout_action() is due
 * (-1: no timer), or nil when that has not changed since the last call:
 * curl's timer, or sooner the first queue_timeout of a waiting transfer. */
static int engine_next_timer(lua_State *L) {
  ex_engine *e = engine_check(L);
  double due, queue_due, ms;
  if (!e->timer_changed)
    return 0;
  e->timer_changed = 0;
  due = e->curl_due;
  queue_due = engine_first_queue_deadline(e);
  if (queue_due >= 0 && (due < 0 || queue_due < due))
    due = queue_due;
  if (due < 0) {
    lua_pushinteger(L, -1);
    return 1;
  }
  ms = (due - ex_monotime()) * 1000;
  lua_pushinteger(L, ms <= 0 ? 0 : (lua_Integer)ms + 1);
  return 1;
}

/* Whether this process is a forked child of the one that made e. */
int ex_engine_is_forked(const ex_engine *e) {
  if (e->fork_marker != NULL)
    return e->fork_marker[0] == 0;
  return e->pid != (long)getpid();
}

/* Sets up e's fork marker where the kernel can wipe a page in a child. */
static void engine_mark_fork(ex_engine *e) {
#if defined(MADV_WIPEONFORK) && defined(MAP_ANONYMOUS)
  long page_size = sysconf(_SC_PAGESIZE);
  void *page = mmap(NULL, (size_t)page_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (page == MAP_FAILED)
    return;
  if (madvise(page, (size_t)page_size, MADV_WIPEONFORK) != 0) {
    munmap(page, (size_t)page_size);
    return;
  }
  ((unsigned char *)page)[0] = 1;
  e->fork_marker = (volatile unsigned char *)page;
#else
  (void)e;
#endif
}

static void engine_unmark_fork(ex_engine *e) {
#if defined(MADV_WIPEONFORK) && defined(MAP_ANONYMOUS)
  if (e->fork_marker != NULL)
    munmap((void *)e->fork_marker, (size_t)sysconf(_SC_PAGESIZE));
#endif
  e->fork_marker = NULL;
}

/* engine:forked() -> true in a child process of the one that made it: its
 * connections belong to the parent, so the child must make its own. */
static int engine_forked(lua_State *L) {
  ex_engine *e = engine_check(L);
  lua_pushboolean(L, ex_engine_is_forked(e));
  return 1;
}

/* One function for close and __gc: cancels what still runs; safe to call
 * any number of times. In a forked child the multi handle is abandoned, not
 * cleaned up: its connections (and TLS sessions) are the parent's, and
 * closing them properly would write to the parent's streams. */
static int engine_close(lua_State *L) {
  ex_engine *e = (ex_engine *)luaL_checkudata(L, 1, EX_ENGINE_MT);
  int forked = ex_engine_is_forked(e);
  if (e->multi == NULL)
    return 0;
  while (e->running != NULL) {
    ex_transfer *t = e->running;
    if (!forked)
      curl_multi_remove_handle(e->multi, t->easy);
    engine_unlink_running(e, t);
    t->state = EX_CANCELLED;
    t->engine = NULL;
    t->slot = NULL;
  }
  while (e->slots != NULL) {
    ex_host_slot *slot = e->slots;
    while (slot->head != NULL) {
      ex_transfer *t = slot->head;
      engine_slot_unqueue(e, slot, t);
      t->state = EX_CANCELLED;
      t->engine = NULL;
      t->slot = NULL;
    }
    e->slots = slot->next;
    free(slot);
  }
  while (e->done_head != NULL) {
    ex_transfer *t = e->done_head;
    engine_unqueue(e, t);
    t->engine = NULL;
  }
  if (!forked)
    curl_multi_cleanup(e->multi);
  e->multi = NULL;
  engine_close_deferred(e);
  if (e->events) {
    ex_engine **p;
    for (p = &evented_engines; *p != NULL; p = &(*p)->next_evented) {
      if (*p == e) {
        *p = e->next_evented;
        break;
      }
    }
  }
  free(e->changes);
  e->changes = NULL;
  free(e->watched);
  e->watched = NULL;
  free(e->closing);
  e->closing = NULL;
  free(e->removed);
  e->removed = NULL;
  e->removed_count = e->removed_cap = 0;
  if (e->epfd >= 0) {
    close(e->epfd);
    e->epfd = -1;
  }
  engine_unmark_fork(e);
  e->change_count = e->change_cap = 0;
  e->watched_count = e->watched_cap = e->closing_count = e->closing_cap = 0;
  return 0;
}

/* core.new_engine([events [, gathered]]) -> engine; events = true for a
 * host loop; gathered = true: the sockets behind one descriptor
 * (engine:events_fd()) where the system allows. */
static int engine_new(lua_State *L) {
  static long engines_made = 0;
  int events = lua_toboolean(L, 1);
  int gathered = events && lua_toboolean(L, 2);
  ex_engine *e = (ex_engine *)lua_newuserdata(L, sizeof *e);
  memset(e, 0, sizeof *e);
  e->serial = ++engines_made;
  e->pid = (long)getpid();
  e->events = events;
  e->curl_due = -1;
  e->epfd = -1;
  e->multi = curl_multi_init();
  if (e->multi == NULL)
    return luaL_error(L, "extruct.core.new_engine: curl_multi_init failed");
  luaL_getmetatable(L, EX_ENGINE_MT);
  lua_setmetatable(L, -2);
  engine_mark_fork(e);
  curl_multi_setopt(e->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)EX_MAX_HOST_CONNECTIONS);
  if (events) {
#if ENGINE_HAS_EPOLL
    if (gathered)
      e->epfd = epoll_create1(EPOLL_CLOEXEC); /* (-1: named one by one after all) */
#else
    (void)gathered;
#endif
    e->next_evented = evented_engines;
    evented_engines = e;
    curl_multi_setopt(e->multi, CURLMOPT_SOCKETFUNCTION, engine_on_socket);
    curl_multi_setopt(e->multi, CURLMOPT_SOCKETDATA, (void *)e);
    curl_multi_setopt(e->multi, CURLMOPT_TIMERFUNCTION, engine_on_timer);
    curl_multi_setopt(e->multi, CURLMOPT_TIMERDATA, (void *)e);
  }
  return 1;
}

void ex_engine_open(lua_State *L) {
  static const luaL_Reg methods[] = {
      {"wait", engine_wait},
      {"step", engine_step},
      {"next_done", engine_next_done},
      {"socket_action", engine_socket_action},
      {"timeout_action", engine_timeout_action},
      {"events_fd", engine_events_fd},
      {"dispatch", engine_dispatch},
      {"next_change", engine_next_change},
      {"next_timer", engine_next_timer},
      {"forked", engine_forked},
      {"close", engine_close},
      {NULL, NULL},
  };
  static const luaL_Reg funcs[] = {
      {"new_engine", engine_new},
      {NULL, NULL},
  };
  ex_new_type(L, EX_ENGINE_MT, methods, engine_close, NULL);
  ex_setfuncs(L, funcs);
}
