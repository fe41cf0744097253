/* A monotonic clock and a sleep that really sleeps, so Lua can wait without
 * busy loops or os.execute("sleep"). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <time.h>

#include "extruct.h"

double ex_monotime(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* core.monotime() -> seconds (float) on a clock that never jumps back. */
static int clock_monotime(lua_State *L) {
  lua_pushnumber(L, (lua_Number)ex_monotime());
  return 1;
}

/* core.realtime() -> seconds since the epoch (float), read fresh: what a
 * host's cached wall-clock time (nginx's ngx.now()) is behind by. */
static int clock_realtime(lua_State *L) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec / 1e9);
  return 1;
}

/* core.sleep(seconds): sleeps the whole span, resuming after signals;
 * while extruct handles Ctrl-C, an interrupt ends it early (interrupt.c). */
static int clock_sleep(lua_State *L) {
  lua_Number seconds = luaL_checknumber(L, 1);
  struct timespec left;
  luaL_argcheck(L, seconds >= 0 && seconds < 1e9, 1, "seconds must be between 0 and 1e9");
  if (ex_interrupt_fd() >= 0) {
    ex_interrupt_sleep((double)seconds);
    return 0;
  }
  left.tv_sec = (time_t)seconds;
  left.tv_nsec = (long)((seconds - floor(seconds)) * 1e9);
  while (nanosleep(&left, &left) != 0 && errno == EINTR) {
  }
  return 0;
}

void ex_clock_open(lua_State *L) {
  static const luaL_Reg funcs[] = {
      {"monotime", clock_monotime},
      {"realtime", clock_realtime},
      {"sleep", clock_sleep},
      {NULL, NULL},
  };
  ex_setfuncs(L, funcs);
}
