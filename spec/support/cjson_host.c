/* A host program that uses cJSON itself besides extruct.core, to show the
 * two share the process safely: the module never installs cJSON hooks and
 * its decoder and encoder do not use cJSON (the host's hooks see none of
 * their work), so a host that installs its own hooks keeps them, gets
 * correct decodes and encodes and no leak, also when another lua_State
 * loads the module later.
 *
 * usage: cjson_host   (links the module's sources and a PUC Lua) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

int luaopen_extruct_core(lua_State *L);

static long host_allocations, host_live;

static void *host_malloc(size_t size) {
  host_allocations++;
  host_live++;
  return malloc(size);
}

static void host_free(void *p) {
  if (p != NULL)
    host_live--;
  free(p);
}

static const char *TEXT = "{\"id\":\"tbl_1\",\"rows\":[{\"n\":1},{\"n\":2}],\"note\":null}";

/* The host's own cJSON round trip: parse, print, delete. */
static int host_round_trip(void) {
  cJSON *tree = cJSON_Parse(TEXT);
  char *printed;
  int same;
  if (tree == NULL)
    return 0;
  printed = cJSON_PrintUnformatted(tree);
  same = printed != NULL && strcmp(printed, TEXT) == 0;
  cJSON_free(printed);
  cJSON_Delete(tree);
  return same;
}

/* extruct.core.encode(extruct.core.decode(TEXT)) reads back the same */
static int module_encode(lua_State *L) {
  int ok;
  lua_getfield(L, -1, "encode");
  lua_getfield(L, -2, "decode");
  lua_pushstring(L, TEXT);
  if (lua_pcall(L, 1, 1, 0) != 0 || lua_pcall(L, 1, 1, 0) != 0 || !lua_isstring(L, -1))
    return 0;
  ok = strlen(lua_tostring(L, -1)) == strlen(TEXT);
  lua_pop(L, 1);
  return ok;
}

/* extruct.core.decode(TEXT).rows[2].n == 2 */
static int module_decode(lua_State *L) {
  int ok;
  lua_getfield(L, -1, "decode");
  lua_pushstring(L, TEXT);
  if (lua_pcall(L, 1, 1, 0) != 0 || !lua_istable(L, -1))
    return 0;
  lua_getfield(L, -1, "rows");
  lua_rawgeti(L, -1, 2);
  lua_getfield(L, -1, "n");
  ok = lua_tonumber(L, -1) == 2;
  lua_pop(L, 4);
  return ok;
}

int main(void) {
  cJSON_Hooks hooks = {host_malloc, host_free};
  lua_State *L = luaL_newstate(), *L2;
  long before;
  luaL_openlibs(L);
  luaopen_extruct_core(L);

  printf("host round trip after loading the module: %s\n", host_round_trip() ? "ok" : "FAILED");
  printf("module decode: %s\n", module_decode(L) ? "ok" : "FAILED");
  printf("host round trip after a decode: %s\n", host_round_trip() ? "ok" : "FAILED");

  cJSON_InitHooks(&hooks);
  printf("module decode under the host's hooks: %s\n", module_decode(L) ? "ok" : "FAILED");
  printf("module encode under the host's hooks: %s\n", module_encode(L) ? "ok" : "FAILED");
  printf("host hooks saw nothing of the module: %s\n", host_allocations == 0 ? "ok" : "FAILED");
  printf("host blocks left after the decode and encode: %ld\n", host_live);
  printf("host round trip under its own hooks: %s\n", host_round_trip() ? "ok" : "FAILED");

  /* A second lua_State loading the module leaves the host's hooks alone. */
  L2 = luaL_newstate();
  luaL_openlibs(L2);
  luaopen_extruct_core(L2);
  before = host_allocations;
  printf("host hooks kept when a second lua_State loads the module: %s\n",
         host_round_trip() && host_allocations > before ? "ok" : "FAILED");
  printf("module decode in the second lua_State: %s\n", module_decode(L2) ? "ok" : "FAILED");
  lua_close(L2);
  printf("host blocks left at the end: %ld\n", host_live);
  lua_close(L);
  return 0;
}
