/* The one place that knows about Lua versions: the core is written against
 * the common subset of the 5.1 (LuaJIT) to 5.4 C APIs plus these shims. */
#ifndef EXTRUCT_COMPAT_H
#define EXTRUCT_COMPAT_H

#include <lua.h>
#include <lauxlib.h>

#if LUA_VERSION_NUM >= 503
#define EX_HAS_INTEGERS 1
#else
#define EX_HAS_INTEGERS 0
#endif

/* luaL_setfuncs without upvalues; 5.1 has only luaL_register. */
static inline void ex_setfuncs(lua_State *L, const luaL_Reg *funcs) {
  for (; funcs->name != NULL; funcs++) {
    lua_pushcfunction(L, funcs->func);
    lua_setfield(L, -2, funcs->name);
  }
}

/* luaL_testudata appeared in 5.2. */
static inline void *ex_testudata(lua_State *L, int idx, const char *tname) {
  void *p = lua_touserdata(L, idx);
  if (p == NULL || !lua_getmetatable(L, idx))
    return NULL;
  luaL_getmetatable(L, tname);
  if (!lua_rawequal(L, -1, -2))
    p = NULL;
  lua_pop(L, 2);
  return p;
}

/* The raw length of a table: lua_objlen before 5.2. */
#if LUA_VERSION_NUM >= 502
#define ex_rawlen(L, idx) lua_rawlen((L), (idx))
#else
#define ex_rawlen(L, idx) lua_objlen((L), (idx))
#endif

#endif
