/* Allocation-failure harness for the JSON conversion.
 *
 * For k = 1, 2, ... it runs extruct.core's decode of a JSON file in a fresh
 * lua_State whose allocator fails from the k-th allocation made during
 * the decode on, until a run succeeds. Every run must end in success or a clean
 * Lua memory error, and after lua_close no block may be left: that proves
 * the parse tree is freed when a memory error interrupts the conversion.
 * The module serves cJSON from an arena whose chunks come from the
 * lua_State's allocator, so this allocator counts every live block (Lua's
 * and the arena's) and its failure schedule hits the parse too;
 * ex_json_live_chunks() says whether a parse tree is alive when a failure
 * hits. cJSON allocations outside the arena (there should be none) are
 * counted through hooks installed before the module's.
 *
 * usage: oom_harness FILE.json   (links the module's sources and a PUC Lua) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

int luaopen_extruct_core(lua_State *L);
long ex_json_live_chunks(void);

static long allocations;          /* counted since the schedule was armed */
static long fail_at;              /* 0: never fail */
static long cjson_live;           /* cJSON blocks allocated outside the arena and not freed */
static long blocks_live;          /* blocks of the Lua allocator not freed */
static long failures_with_tree;   /* runs whose first failure hit while a tree was alive */

/* From the k-th allocation on, every one fails: Lua 5.4 retries a failed
 * allocation after an emergency collection, so a single failure would be
 * hidden; memory that stays exhausted is what a real host runs into. */
static int should_fail(void) {
  if (fail_at == 0 || ++allocations < fail_at)
    return 0;
  if (allocations == fail_at && (cjson_live > 0 || ex_json_live_chunks() > 0))
    failures_with_tree++;
  return 1;
}

static void *lua_allocator(void *ud, void *ptr, size_t osize, size_t nsize) {
  (void)ud;
  void *p;
  if (nsize == 0) {
    if (ptr != NULL)
      blocks_live--;
    free(ptr);
    return NULL;
  }
  if ((ptr == NULL || nsize > osize) && should_fail())
    return NULL;
  p = realloc(ptr, nsize);
  if (p != NULL && ptr == NULL)
    blocks_live++;
  return p;
}

static void *cjson_malloc(size_t size) {
  void *p;
  if (should_fail())
    return NULL;
  p = malloc(size);
  if (p != NULL)
    cjson_live++;
  return p;
}

static void cjson_free(void *p) {
  if (p != NULL)
    cjson_live--;
  free(p);
}

static char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  char *data;
  long size;
  if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
    return NULL;
  data = malloc((size_t)size + 1);
  if (data == NULL || fread(data, 1, (size_t)size, f) != (size_t)size) {
    free(data);
    fclose(f);
    return NULL;
  }
  fclose(f);
  *len = (size_t)size;
  return data;
}

/* After lua_close nothing may be left: no Lua block (the arena's chunks
 * are blocks of this allocator), no arena chunk, no cJSON block. */
static int leaked(long run) {
  if (cjson_live == 0 && blocks_live == 0 && ex_json_live_chunks() == 0)
    return 0;
  fprintf(stderr, "run %ld: leaked %ld cJSON blocks, %ld allocator blocks, %ld arena chunks\n", run,
          cjson_live, blocks_live, ex_json_live_chunks());
  return 1;
}

/* Pushes core.decode and the text; runs unprotected setup. */
static int setup(lua_State *L) {
  luaL_openlibs(L);
  luaopen_extruct_core(L);
  lua_getfield(L, -1, "decode");
  return 1;
}

int main(int argc, char **argv) {
  cJSON_Hooks hooks = {cjson_malloc, cjson_free};
  size_t len;
  char *text;
  long k, memory_errors = 0;

  if (argc != 2 || (text = read_file(argv[1], &len)) == NULL) {
    fprintf(stderr, "usage: oom_harness FILE.json\n");
    return 2;
  }
  cJSON_InitHooks(&hooks);
  for (k = 1; k < 1000000; k++) {
    lua_State *L = lua_newstate(lua_allocator, NULL);
    int status;
    if (L == NULL)
      return fprintf(stderr, "lua_newstate failed with no failure armed\n"), 1;
    lua_pushcfunction(L, setup);
    if (lua_pcall(L, 0, 1, 0) != 0)
      return fprintf(stderr, "setup failed: %s\n", lua_tostring(L, -1)), 1;
    lua_pushlstring(L, text, len);

    allocations = 0;
    fail_at = k;
    status = lua_pcall(L, 1, 2, 0);
    fail_at = 0;

    if (status == LUA_ERRMEM) {
      memory_errors++;
#ifdef LUA_GCISRUNNING
      /* the decoder pauses the collector while it builds tables */
      if (lua_gc(L, LUA_GCISRUNNING, 0) != 1)
        return fprintf(stderr, "run %ld: the collector was left stopped\n", k), 1;
#endif
    } else if (status != 0) {
      fprintf(stderr, "run %ld: unexpected error: %s\n", k, lua_tostring(L, -1));
      return 1;
    } else if (lua_istable(L, -2)) {
      lua_close(L);
      if (leaked(k))
        return 1;
      printf("success at run %ld after %ld memory errors (%ld while a parse tree was alive); "
             "cJSON blocks leaked: 0\n", k, memory_errors, failures_with_tree);
      free(text);
      return 0;
    }
    /* nil, message: cJSON ran out of memory while parsing: a decode error. */
    lua_close(L);
    if (leaked(k))
      return 1;
  }
  fprintf(stderr, "no run succeeded\n");
  return 1;
}
