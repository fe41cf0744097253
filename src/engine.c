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
 *
 * Either way, finished transfers come out of engine:next_done(). The
 * callbacks make no Lua calls: they only record. While extruct handles
 * Ctrl-C, a polling wait also watches the interrupt's pipe, and an
 * interrupt ends every transfer running on the engine (interrupt.c). */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS, MADV_WIPEONFORK */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/mman.h>

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

int ex_engine_add(ex_engine *e, ex_transfer *t) {
  CURLMcode code;
  t->added_at = ex_monotime();
  t->started_at = 0;
  code = curl_multi_add_handle(e->multi, t->easy);
  if (code != CURLM_OK)
    return (int)code;
  t->id = ++e->next_id;
  t->engine = e;
  t->state = EX_RUNNING;
  t->engine_prev = NULL;
  t->engine_next = e->running;
  if (e->running != NULL)
    e->running->engine_prev = t;
  e->running = t;
  return CURLM_OK;
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
  curl_multi_remove_handle(e->multi, t->easy);
  engine_unlink_running(e, t);
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
    curl_multi_remove_handle(e->multi, t->easy);
    engine_unlink_running(e, t);
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
        engine_unlink_running(e, t); /* off the multi already */
        engine_report(e, t, CURLE_OUT_OF_MEMORY, EX_DONE);
        continue;
      }
      ex_transfer_finish(t, code);
    }
  }
}

/* ---- callbacks of the event mode (record only) ------------------------ */

static int engine_on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp) {
  ex_engine *e = (ex_engine *)userp;
  (void)easy;
  (void)socketp;
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
  e->timer_ms = timeout_ms;
  e->timer_changed = 1;
  return 0;
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
    engine_check_code(L, engine_poll(e, ENGINE_POLL_CAP_MS));
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
    engine_check_code(L, engine_poll(e, ms));
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
  lua_pushinteger(L, running);
  return 1;
}

/* engine:timeout_action() -> transfers still running: curl's timer fired. */
static int engine_timeout_action(lua_State *L) {
  ex_engine *e = engine_check(L);
  int running = 0;
  engine_check_code(L, curl_multi_socket_action(e->multi, CURL_SOCKET_TIMEOUT, 0, &running));
  engine_collect(e);
  lua_pushinteger(L, running);
  return 1;
}

/* engine:next_change() -> fd, "in" | "out" | "inout" | "remove", or nil:
 * the sockets to watch, in the order curl asked. */
static int engine_next_change(lua_State *L) {
  static const char *const names[] = {"none", "in", "out", "inout", "remove"};
  ex_engine *e = engine_check(L);
  struct ex_socket_change change;
  if (e->change_count == 0)
    return 0;
  change = e->changes[0];
  memmove(e->changes, e->changes + 1, (e->change_count - 1) * sizeof *e->changes);
  e->change_count--;
  lua_pushinteger(L, (lua_Integer)change.fd);
  lua_pushstring(L, change.what >= 0 && change.what <= 4 ? names[change.what] : "none");
  return 2;
}

/* engine:next_timer() -> milliseconds until engine:timeout_action() is due
 * (-1: no timer), or nil when that has not changed since the last call. */
static int engine_next_timer(lua_State *L) {
  ex_engine *e = engine_check(L);
  if (!e->timer_changed)
    return 0;
  e->timer_changed = 0;
  lua_pushinteger(L, (lua_Integer)e->timer_ms);
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
  }
  while (e->done_head != NULL) {
    ex_transfer *t = e->done_head;
    engine_unqueue(e, t);
    t->engine = NULL;
  }
  if (!forked)
    curl_multi_cleanup(e->multi);
  e->multi = NULL;
  free(e->changes);
  e->changes = NULL;
  engine_unmark_fork(e);
  e->change_count = e->change_cap = 0;
  return 0;
}

/* core.new_engine([events]) -> engine; events = true for a host loop. */
static int engine_new(lua_State *L) {
  static long engines_made = 0;
  int events = lua_toboolean(L, 1);
  ex_engine *e = (ex_engine *)lua_newuserdata(L, sizeof *e);
  memset(e, 0, sizeof *e);
  e->serial = ++engines_made;
  e->pid = (long)getpid();
  e->events = events;
  e->timer_ms = -1;
  e->multi = curl_multi_init();
  if (e->multi == NULL)
    return luaL_error(L, "extruct.core.new_engine: curl_multi_init failed");
  luaL_getmetatable(L, EX_ENGINE_MT);
  lua_setmetatable(L, -2);
  engine_mark_fork(e);
  curl_multi_setopt(e->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)EX_MAX_HOST_CONNECTIONS);
  if (events) {
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
