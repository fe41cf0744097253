/* Ctrl-C for programs that block in extruct. Plain Lua blocks in C while a
 * request or a sleep waits (curl_multi_poll, poll), where lua.c's own
 * SIGINT hook cannot act until the call returns: the request would run to
 * its end, then the hook would raise "interrupted!" wherever Lua happened
 * to be. Here the handler only records the interrupt and wakes the waits;
 * they then end what is in flight, and the Lua layer turns that into
 * `cancelled` errors a program can handle.
 *
 * Nothing is installed unless asked for (extruct.on_interrupt("cancel"),
 * which the command line does): a library must not take SIGINT from its
 * host by itself. The previous handler is kept and put back on request,
 * or when the last Lua state that installed this one is closed (the module
 * may be unloaded then).
 *
 * The handler is async-signal-safe: it sets a flag and writes a byte to a
 * pipe whose read end the waits watch, so a signal delivered to another
 * thread (libcurl's resolver) wakes them too. It is installed with
 * SA_RESETHAND: a second Ctrl-C before the next arming meets the default
 * action and ends the process at once. Without SA_RESTART, a read from a
 * terminal that the signal interrupts fails with EINTR instead of going on. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "extruct.h"

#define INTERRUPT_GUARD_MT "extruct.core.interrupt_guard"
#define INTERRUPT_GUARD_KEY "extruct.core.interrupt_guard_of_this_state"

static volatile sig_atomic_t interrupt_pending = 0;
static int interrupt_pipe[2] = {-1, -1};
static int interrupt_installed = 0;
static struct sigaction interrupt_previous;
/* The Lua states holding a guard: the last one closed puts the previous
 * handler back and closes the pipe. */
static int interrupt_guards = 0;

static void interrupt_on_signal(int sig) {
  int saved_errno = errno;
  (void)sig;
  interrupt_pending = 1;
  if (interrupt_pipe[1] >= 0) {
    ssize_t written = write(interrupt_pipe[1], "!", 1);
    (void)written; /* a full pipe already wakes the waits */
  }
  errno = saved_errno;
}

int ex_interrupted(void) { return interrupt_pending != 0; }

int ex_interrupt_fd(void) { return interrupt_installed ? interrupt_pipe[0] : -1; }

static void interrupt_drain(void) {
  char bytes[64];
  if (interrupt_pipe[0] < 0)
    return;
  while (read(interrupt_pipe[0], bytes, sizeof bytes) > 0) {
  }
}

static int interrupt_set_flags(int fd) {
  int flags = fcntl(fd, F_GETFL);
  return flags >= 0 && fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0 && fcntl(fd, F_SETFD, FD_CLOEXEC) == 0;
}

/* The pipe, made once: 0 and errno set when the system refuses one. */
static int interrupt_make_pipe(void) {
  if (interrupt_pipe[0] >= 0)
    return 1;
  if (pipe(interrupt_pipe) != 0)
    return 0;
  if (!interrupt_set_flags(interrupt_pipe[0]) || !interrupt_set_flags(interrupt_pipe[1])) {
    int saved_errno = errno;
    close(interrupt_pipe[0]);
    close(interrupt_pipe[1]);
    interrupt_pipe[0] = interrupt_pipe[1] = -1;
    errno = saved_errno;
    return 0;
  }
  return 1;
}

/* Puts the handler that was there before back; forgets any interrupt. */
static void interrupt_restore(void) {
  if (interrupt_installed) {
    sigaction(SIGINT, &interrupt_previous, NULL);
    interrupt_installed = 0;
  }
  interrupt_pending = 0;
  interrupt_drain();
}

int ex_interrupt_sleep(double seconds) {
  double wake_at = ex_monotime() + seconds;
  while (!interrupt_pending) {
    struct pollfd fd;
    double left = wake_at - ex_monotime();
    int ms;
    if (left <= 0)
      return 0;
    ms = left * 1000 < INT_MAX - 1 ? (int)ceil(left * 1000) : INT_MAX;
    fd.fd = ex_interrupt_fd();
    fd.events = POLLIN;
    fd.revents = 0;
    poll(&fd, fd.fd >= 0 ? 1 : 0, ms);
  }
  return 1;
}

static int interrupt_guard_gc(lua_State *L) {
  int *holds = (int *)lua_touserdata(L, 1);
  if (holds != NULL && *holds) {
    *holds = 0;
    if (--interrupt_guards == 0) {
      interrupt_restore();
      if (interrupt_pipe[0] >= 0) {
        close(interrupt_pipe[0]);
        close(interrupt_pipe[1]);
        interrupt_pipe[0] = interrupt_pipe[1] = -1;
      }
    }
  }
  return 0;
}

/* This state's guard, made on its first arming and kept in the registry
 * until the state is closed. */
static void interrupt_guard(lua_State *L) {
  int *holds;
  lua_getfield(L, LUA_REGISTRYINDEX, INTERRUPT_GUARD_KEY);
  if (!lua_isnil(L, -1)) {
    lua_pop(L, 1);
    return;
  }
  lua_pop(L, 1);
  holds = (int *)lua_newuserdata(L, sizeof *holds);
  *holds = 0;
  if (luaL_newmetatable(L, INTERRUPT_GUARD_MT)) {
    lua_pushcfunction(L, interrupt_guard_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_setmetatable(L, -2);
  lua_setfield(L, LUA_REGISTRYINDEX, INTERRUPT_GUARD_KEY); /* (a memory error raised above leaves nothing held) */
  *holds = 1;
  interrupt_guards++;
}

/* core.interrupt_arm() -> true, or nil and why: from now on SIGINT cancels
 * what is in flight; an interrupt already recorded is forgotten, and a
 * handler reset by one is put back. */
static int interrupt_arm(lua_State *L) {
  struct sigaction action;
  interrupt_guard(L);
  if (!interrupt_make_pipe()) {
    lua_pushnil(L);
    lua_pushfstring(L, "cannot make a pipe for the SIGINT handler: %s", strerror(errno));
    return 2;
  }
  interrupt_pending = 0;
  interrupt_drain();
  memset(&action, 0, sizeof action);
  action.sa_handler = interrupt_on_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESETHAND;
  if (sigaction(SIGINT, &action, interrupt_installed ? NULL : &interrupt_previous) != 0) {
    lua_pushnil(L);
    lua_pushfstring(L, "cannot install the SIGINT handler: %s", strerror(errno));
    return 2;
  }
  interrupt_installed = 1;
  lua_pushboolean(L, 1);
  return 1;
}

/* core.interrupt_restore(): the handler there was before the first arming
 * is back (a no-op when none was installed). */
static int interrupt_disarm(lua_State *L) {
  (void)L;
  interrupt_restore();
  return 0;
}

/* core.interrupted() -> whether SIGINT came since the last arming. */
static int interrupt_interrupted(lua_State *L) {
  lua_pushboolean(L, interrupt_pending != 0);
  return 1;
}

/* core.interrupt_armed() -> whether the handler is installed. */
static int interrupt_armed(lua_State *L) {
  lua_pushboolean(L, interrupt_installed);
  return 1;
}

void ex_interrupt_open(lua_State *L) {
  static const luaL_Reg funcs[] = {
      {"interrupt_arm", interrupt_arm},
      {"interrupt_restore", interrupt_disarm},
      {"interrupted", interrupt_interrupted},
      {"interrupt_armed", interrupt_armed},
      {NULL, NULL},
  };
  ex_setfuncs(L, funcs);
}
