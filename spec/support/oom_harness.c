/* Allocation-failure harness for the JSON conversion and a client request.
 *
 * For k = 1, 2, ... it runs extruct.core's decode of a JSON file in a fresh
 * lua_State whose allocator fails from the k-th allocation made during
 * the decode on, until a run succeeds. Every run must end in success or a clean
 * Lua memory error, and after lua_close no block may be left: that proves
 * nothing is lost when a memory error interrupts a decode halfway through
 * its value. This allocator counts every live block of the lua_State;
 * ex_json_decoding() says whether a decode was under way when a failure
 * hit. cJSON allocations (the module makes none now) are counted through
 * hooks of its own. Then the same for extruct.core's encode of that value
 * with a long string beside it, so that the output outgrows the C stack
 * into the malloc'd block a guard userdata owns (a leak of that block is
 * valgrind's to see: the run goes under it on Lua 5.4).
 *
 * Given a server URL and token, it then does the same for a whole request:
 * extruct.new{...}, client:get_table(ID) against that server, three more
 * side by side on one engine (extruct.gather) and close, in the Lua layer
 * and the core. libcurl allocates with malloc, outside the
 * Lua allocator, so its own allocations never fail here.
 *
 * usage: oom_harness FILE.json [URL TOKEN ID]
 * (links the module's sources and a PUC Lua; run from the project's top
 * folder, where lua/ holds the Lua layer) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

int luaopen_extruct_core(lua_State *L);
int ex_json_decoding(void);

static long allocations;          /* counted since the schedule was armed */
static long fail_at;              /* 0: never fail */
static long cjson_live;           /* cJSON blocks allocated outside the arena and not freed */
static long blocks_live;          /* blocks of the Lua allocator not freed */
static long failures_in_decode;   /* runs whose first failure hit while a decode was under way */
static int cjson_failed;          /* a cJSON allocation failed in this run */

/* From the k-th allocation on, every one fails: Lua 5.4 retries a failed
 * allocation after an emergency collection, so a single failure would be
 * hidden; memory that stays exhausted is what a real host runs into. */
static int should_fail(void) {
  if (fail_at == 0 || ++allocations < fail_at)
    return 0;
  if (allocations == fail_at && ex_json_decoding())
    failures_in_decode++;
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
  if (should_fail()) {
    cjson_failed = 1;
    return NULL;
  }
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

/* A memory error, as the caller sees it. The decoder converts big texts
 * under lua_pcall (to restart the collector it paused) and re-raises what
 * it caught with lua_error: Lua 5.4 re-raises the memory message as a
 * memory error, 5.2 and 5.3 as a runtime error carrying the same message. */
static int is_memory_error(lua_State *L, int status) {
  return status == LUA_ERRMEM ||
         (status == LUA_ERRRUN && lua_type(L, -1) == LUA_TSTRING &&
          strcmp(lua_tostring(L, -1), "not enough memory") == 0);
}

/* After lua_close nothing may be left: no Lua block, no cJSON block. */
static int leaked(long run) {
  if (cjson_live == 0 && blocks_live == 0)
    return 0;
  fprintf(stderr, "run %ld: leaked %ld cJSON blocks, %ld allocator blocks\n", run, cjson_live, blocks_live);
  return 1;
}

/* Pushes core.decode and the text; runs unprotected setup. */
static int setup(lua_State *L) {
  luaL_openlibs(L);
  luaopen_extruct_core(L);
  lua_getfield(L, -1, "decode");
  return 1;
}

static int decode_runs(const char *text, size_t len) {
  long k, memory_errors = 0;

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

    if (is_memory_error(L, status)) {
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
      printf("success at run %ld after %ld memory errors (%ld while a decode was under way); "
             "cJSON blocks leaked: 0\n", k, memory_errors, failures_in_decode);
      return 0;
    }
    /* nil, message: the decode could not go on (its stack could not grow): a decode error. */
    lua_close(L);
    if (leaked(k))
      return 1;
  }
  fprintf(stderr, "no run succeeded\n");
  return 1;
}

/* Pushes core.encode and the value to encode: the decoded text and 64 KB
 * of string beside it. Unprotected setup. */
static int encode_setup(lua_State *L) {
  size_t len;
  const char *text = (const char *)lua_touserdata(L, 1);
  len = (size_t)lua_tointeger(L, 2);
  lua_settop(L, 0);
  luaL_openlibs(L);
  luaopen_extruct_core(L);
  lua_getfield(L, -1, "encode");
  lua_createtable(L, 0, 2);
  lua_getfield(L, 1, "decode");
  lua_pushlstring(L, text, len);
  lua_call(L, 1, 1);
  lua_setfield(L, -2, "value");
  lua_pushliteral(L, "0123456789abcdef\n\"");
  lua_getglobal(L, "string");
  lua_getfield(L, -1, "rep");
  lua_pushvalue(L, -3);
  lua_pushinteger(L, 4096);
  lua_call(L, 2, 1);
  lua_setfield(L, -4, "pad");
  lua_pop(L, 2);
  lua_remove(L, 1);
  return 2;
}

static int encode_runs(const char *text, size_t len) {
  long k, memory_errors = 0;

  for (k = 1; k < 1000000; k++) {
    lua_State *L = lua_newstate(lua_allocator, NULL);
    int status;
    if (L == NULL)
      return fprintf(stderr, "lua_newstate failed with no failure armed\n"), 1;
    lua_pushcfunction(L, encode_setup);
    lua_pushlightuserdata(L, (void *)text);
    lua_pushinteger(L, (lua_Integer)len);
    if (lua_pcall(L, 2, 2, 0) != 0)
      return fprintf(stderr, "encode setup failed: %s\n", lua_tostring(L, -1)), 1;

    allocations = 0;
    fail_at = k;
    status = lua_pcall(L, 1, 2, 0);
    fail_at = 0;

    if (is_memory_error(L, status)) {
      memory_errors++;
    } else if (status != 0) {
      fprintf(stderr, "encode run %ld: unexpected error: %s\n", k, lua_tostring(L, -1));
      return 1;
    } else if (lua_type(L, -2) == LUA_TSTRING) {
      size_t written;
      lua_tolstring(L, -2, &written);
      if (written < len + 4096 * 18)
        return fprintf(stderr, "encode run %ld: the text is too short\n", k), 1;
      lua_close(L);
      if (leaked(k))
        return 1;
      printf("encode: success at run %ld after %ld memory errors; allocator blocks leaked: 0\n", k, memory_errors);
      return 0;
    } else {
      fprintf(stderr, "encode run %ld: nil, %s\n", k, lua_tostring(L, -1));
      return 1;
    }
    lua_close(L);
    if (leaked(k))
      return 1;
  }
  fprintf(stderr, "no encode run succeeded\n");
  return 1;
}

/* extruct.new, get_table and close: run armed, with URL, TOKEN, ID as
 * arguments; returns the table or nil, err. */
static const char request_chunk[] =
    "local url, token, id = ...\n"
    "local extruct = require('extruct')\n"
    "local client = extruct.new{ base_url = url, token = token, timeout = 10 }\n"
    "local t, err = client:get_table(id)\n"
    "if t then\n"
    "  local function get() return client:get_table(id) end\n"
    "  local results = extruct.gather({ get, get, get })\n"
    "  for i = 1, 3 do\n"
    "    if not results[i][1] then t, err = nil, results[i][2]; break end\n"
    "  end\n"
    "end\n"
    "client:close()\n"
    "return t, err\n";

static int request_setup(lua_State *L) {
  luaL_openlibs(L);
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "preload");
  lua_pushcfunction(L, luaopen_extruct_core);
  lua_setfield(L, -2, "extruct.core");
  lua_pop(L, 1);
  lua_pushliteral(L, "lua/?.lua;lua/?/init.lua");
  lua_setfield(L, -2, "path");
  lua_pop(L, 1);
  lua_getglobal(L, "require");
  lua_pushliteral(L, "extruct");
  lua_call(L, 1, 0);
  if (luaL_loadbuffer(L, request_chunk, sizeof request_chunk - 1, "=request") != 0)
    return lua_error(L);
  return 1;
}

/* The kind and message of the error object at idx, for the report. */
static const char *error_field(lua_State *L, int idx, const char *name) {
  const char *value;
  if (!lua_istable(L, idx))
    return "?";
  lua_getfield(L, idx, name);
  value = lua_isstring(L, -1) ? lua_tostring(L, -1) : "?";
  lua_pop(L, 1); /* the error object keeps the string alive */
  return value;
}

static int request_runs(const char *url, const char *token, const char *id) {
  long k, memory_errors = 0, cjson_memory_errors = 0;

  for (k = 1; k < 1000000; k++) {
    lua_State *L = lua_newstate(lua_allocator, NULL);
    int status;
    if (L == NULL)
      return fprintf(stderr, "lua_newstate failed with no failure armed\n"), 1;
    lua_pushcfunction(L, request_setup);
    if (lua_pcall(L, 0, 1, 0) != 0)
      return fprintf(stderr, "request setup failed: %s\n", lua_tostring(L, -1)), 1;
    lua_pushstring(L, url);
    lua_pushstring(L, token);
    lua_pushstring(L, id);

    allocations = 0;
    cjson_failed = 0;
    fail_at = k;
    status = lua_pcall(L, 3, 2, 0);
    fail_at = 0;

    if (is_memory_error(L, status)) {
      memory_errors++;
    } else if (status != 0) {
      fprintf(stderr, "request run %ld: unexpected error: %s\n", k, lua_tostring(L, -1));
      return 1;
    } else if (lua_istable(L, -2)) {
      lua_getfield(L, -2, "id");
      if (!lua_isstring(L, -1) || strcmp(lua_tostring(L, -1), id) != 0)
        return fprintf(stderr, "request run %ld: a table without the id asked for\n", k), 1;
      lua_close(L);
      if (cjson_live != 0)
        return fprintf(stderr, "request run %ld: %ld cJSON blocks leaked\n", k, cjson_live), 1;
      printf("request: success at run %ld after %ld memory errors and %ld decode errors from cJSON "
             "running out; cJSON blocks leaked: 0\n", k, memory_errors, cjson_memory_errors);
      return 0;
    } else if (cjson_failed && strcmp(error_field(L, -1, "kind"), "decode") == 0) {
      /* cJSON cannot tell a failed allocation from bad input: a decode error */
      cjson_memory_errors++;
    } else {
      fprintf(stderr, "request run %ld: unexpected result: %s: %s\n", k, error_field(L, -1, "kind"),
              error_field(L, -1, "message"));
      return 1;
    }
    lua_close(L);
    if (cjson_live != 0) {
      fprintf(stderr, "request run %ld: %ld cJSON blocks leaked\n", k, cjson_live);
      return 1;
    }
  }
  fprintf(stderr, "no request run succeeded\n");
  return 1;
}

int main(int argc, char **argv) {
  cJSON_Hooks hooks = {cjson_malloc, cjson_free};
  size_t len;
  char *text;
  int status;

  if ((argc != 2 && argc != 5) || (text = read_file(argv[1], &len)) == NULL) {
    fprintf(stderr, "usage: oom_harness FILE.json [URL TOKEN ID]\n");
    return 2;
  }
  cJSON_InitHooks(&hooks);
  status = decode_runs(text, len);
  if (status == 0)
    status = encode_runs(text, len);
  free(text);
  if (status == 0 && argc == 5)
    status = request_runs(argv[2], argv[3], argv[4]);
  return status;
}
