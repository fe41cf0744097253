/* libFuzzer target for the JSON decode path: extruct.core.decode(data) in a
 * lua_State hosting the core. Every input must give a value, or nil and a
 * message; anything else (a crash, a sanitizer report, another kind of Lua
 * error) is a finding. Built by `make fuzz` against liblua5.4, which only a
 * test binary like this one may link. */
#include <stdint.h>
#include <stdlib.h>

#include <lauxlib.h>
#include <lua.h>

int luaopen_extruct_core(lua_State *L);
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static lua_State *L;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  L = luaL_newstate();
  if (L == NULL)
    abort();
  lua_pushcfunction(L, luaopen_extruct_core);
  if (lua_pcall(L, 0, 1, 0) != LUA_OK)
    abort();
  lua_getfield(L, 1, "decode"); /* stays at index 2 */
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  int status;
  lua_settop(L, 2);
  lua_pushvalue(L, 2);
  lua_pushlstring(L, (const char *)data, size);
  status = lua_pcall(L, 1, 2, 0);
  if (status == LUA_ERRMEM)
    return 0;
  if (status != LUA_OK)
    abort(); /* decode raises only on memory errors */
  if (lua_isnil(L, -2) && lua_type(L, -1) != LUA_TSTRING)
    abort(); /* a failure always says why */
  if (!lua_isnil(L, -2) && size == 0)
    abort();
  lua_settop(L, 2);
  return 0;
}
