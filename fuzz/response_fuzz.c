/* libFuzzer target for response handling: ex_response_push, which turns the
 * raw header block and body of a transfer into { status, headers, body |
 * body_error, body_text }. The input is split as
 *   2 bytes status (little endian) | header block up to and with the first
 *   blank line (CRLF CRLF) | body
 * (no blank line: all header block, no body). The result must be a table
 * with an integer status, a headers table of string keys and values, and
 * either body or body_error (with body_text) when there was a body. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "extruct.h"

int luaopen_extruct_core(lua_State *L);
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static lua_State *L;

static const char *fuzz_find_blank_line(const char *p, size_t len) {
  size_t i;
  for (i = 0; i + 4 <= len; i++)
    if (memcmp(p + i, "\r\n\r\n", 4) == 0)
      return p + i + 4;
  return NULL;
}

typedef struct {
  long status;
  const char *head, *body;
  size_t head_len, body_len;
} fuzz_response;

static int fuzz_push(lua_State *L) {
  const fuzz_response *r = (const fuzz_response *)lua_touserdata(L, 1);
  ex_response_push(L, r->status, r->head, r->head_len, r->body, r->body_len);
  return 1;
}

static void fuzz_check_result(const fuzz_response *r) {
  lua_getfield(L, -1, "status");
  if (!lua_isnumber(L, -1) || lua_tonumber(L, -1) != (lua_Number)r->status)
    abort();
  lua_pop(L, 1);
  lua_getfield(L, -1, "headers");
  if (!lua_istable(L, -1))
    abort();
  lua_pushnil(L);
  while (lua_next(L, -2)) {
    if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING)
      abort();
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  lua_getfield(L, -1, "body");
  lua_getfield(L, -2, "body_error");
  lua_getfield(L, -3, "body_text");
  if (r->body_len == 0 && !(lua_isnil(L, -3) && lua_isnil(L, -2)))
    abort();
  if (r->body_len > 0 && lua_isnil(L, -3) == lua_isnil(L, -2))
    abort(); /* exactly one of body and body_error */
  if (!lua_isnil(L, -2) && (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING))
    abort();
  lua_pop(L, 3);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  L = luaL_newstate();
  if (L == NULL)
    abort();
  lua_pushcfunction(L, luaopen_extruct_core);
  if (lua_pcall(L, 0, 1, 0) != LUA_OK) /* registers the metatables */
    abort();
  lua_settop(L, 0);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_response r;
  const char *rest = (const char *)data + 2, *body;
  size_t rest_len;
  int status;

  if (size < 2)
    return 0;
  rest_len = size - 2;
  r.status = (long)(data[0] | (data[1] << 8));
  r.head = rest;
  body = fuzz_find_blank_line(rest, rest_len);
  r.head_len = body ? (size_t)(body - rest) : rest_len;
  r.body = body ? body : rest + rest_len;
  r.body_len = rest_len - r.head_len;

  lua_settop(L, 0);
  lua_pushcfunction(L, fuzz_push);
  lua_pushlightuserdata(L, &r);
  status = lua_pcall(L, 1, 1, 0);
  if (status == LUA_ERRMEM)
    return 0;
  if (status != LUA_OK || !lua_istable(L, -1))
    abort();
  fuzz_check_result(&r);
  lua_settop(L, 0);
  return 0;
}
