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

/* Registers the metatable `name` of a userdata type: `release` serves __gc
 * and __close, `methods` (may be NULL) go into __index, `tostring` (may be
 * NULL) is __tostring. */
static inline void ex_new_type(lua_State *L, const char *name, const luaL_Reg *methods, lua_CFunction release,
                               lua_CFunction tostring) {
  luaL_newmetatable(L, name);
  lua_pushcfunction(L, release);
  lua_setfield(L, -2, "__gc");
  lua_pushcfunction(L, release);
  lua_setfield(L, -2, "__close");
  if (tostring != NULL) {
    lua_pushcfunction(L, tostring);
    lua_setfield(L, -2, "__tostring");
  }
  if (methods != NULL) {
    lua_newtable(L);
    ex_setfuncs(L, methods);
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
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
