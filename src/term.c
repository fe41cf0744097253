/* What a command-line tool needs to know about its terminal: whether a
 * standard stream is one, and how wide it is. Lua's io library cannot tell. */
#define _POSIX_C_SOURCE 200809L
#include <sys/ioctl.h>
#include <unistd.h>

#include "extruct.h"

static int term_check_fd(lua_State *L) {
  lua_Number fd = luaL_checknumber(L, 1);
  luaL_argcheck(L, fd == 0 || fd == 1 || fd == 2, 1, "expected 0, 1 or 2 (stdin, stdout, stderr)");
  return (int)fd;
}

/* core.isatty(fd) -> true when the standard stream fd is a terminal. */
static int term_isatty(lua_State *L) {
  lua_pushboolean(L, isatty(term_check_fd(L)) == 1);
  return 1;
}

/* core.terminal_width(fd) -> columns, or nil when fd is not a terminal or
 * the terminal does not say (a width of 0). */
static int term_width(lua_State *L) {
  struct winsize size;
  int fd = term_check_fd(L);
  if (!isatty(fd) || ioctl(fd, TIOCGWINSZ, &size) != 0 || size.ws_col == 0) {
    lua_pushnil(L);
    return 1;
  }
  lua_pushinteger(L, (lua_Integer)size.ws_col);
  return 1;
}

void ex_term_open(lua_State *L) {
  static const luaL_Reg funcs[] = {
      {"isatty", term_isatty},
      {"terminal_width", term_width},
      {NULL, NULL},
  };
  ex_setfuncs(L, funcs);
}
