/* libFuzzer target for src/http1.c. The input is
 *   1 byte flags | 2 bytes split (little endian) | response bytes
 * The response bytes go to a parser in two feeds split at `split` (modulo
 * their length), then finish() unless done, then response() when done; the
 * answers must be "more"/"done" or nil, failure, message with a failure
 * word the parser may report (the words of core.failures that the
 * libcurl transport reports for the same failures).
 * The same bytes, cut at NULs, are also the arguments of http_request: a
 * request it builds must hold exactly its header lines and Host, so nothing
 * injected a line. flags bit 0: head = true; bit 1: small limits. */
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

typedef struct {
  int flags;
  size_t split;
  const char *bytes;
  size_t len;
} fuzz_input;

/* Checks one answer of feed or finish at the top (results values); returns
 * 1 when the parser is done, 0 for more, -1 on a reported failure. */
static int fuzz_check_answer(lua_State *L, int results) {
  int base = lua_gettop(L) - results + 1;
  if (lua_type(L, base) == LUA_TSTRING) {
    const char *s = lua_tostring(L, base);
    if (strcmp(s, "done") == 0)
      return 1;
    if (strcmp(s, "more") == 0)
      return 0;
    abort();
  }
  if (!lua_isnil(L, base) || results != 3 || lua_type(L, base + 1) != LUA_TSTRING ||
      lua_type(L, base + 2) != LUA_TSTRING)
    abort();
  {
    static const char *const words[] = {"protocol", "truncated", "head_too_large", "body_too_large", "memory", NULL};
    const char *failure = lua_tostring(L, base + 1);
    int i;
    for (i = 0; words[i] != NULL && strcmp(failure, words[i]) != 0; i++)
      ;
    if (words[i] == NULL)
      abort();
  }
  return -1;
}

static int fuzz_call_method(lua_State *L, int parser, const char *name, const char *arg, size_t arg_len) {
  int top = lua_gettop(L);
  lua_getfield(L, parser, name);
  lua_pushvalue(L, parser);
  if (arg != NULL)
    lua_pushlstring(L, arg, arg_len);
  lua_call(L, arg != NULL ? 2 : 1, LUA_MULTRET);
  return lua_gettop(L) - top;
}

static int fuzz_parse(lua_State *L) {
  const fuzz_input *in = (const fuzz_input *)lua_touserdata(L, 1);
  size_t split = in->len ? in->split % (in->len + 1) : 0;
  int parser, state, results, keep_alive;
  lua_settop(L, 0);
  lua_getfield(L, LUA_REGISTRYINDEX, "fuzz_core");
  lua_getfield(L, 1, "http_response_parser");
  lua_createtable(L, 0, 3);
  lua_pushboolean(L, in->flags & 1);
  lua_setfield(L, -2, "head");
  if (in->flags & 2) {
    lua_pushinteger(L, 64);
    lua_setfield(L, -2, "max_head");
    lua_pushinteger(L, 16);
    lua_setfield(L, -2, "max_body");
  }
  lua_call(L, 1, 1);
  parser = lua_gettop(L);

  results = fuzz_call_method(L, parser, "feed", in->bytes, split);
  state = fuzz_check_answer(L, results);
  lua_settop(L, parser);
  if (state == 0) {
    results = fuzz_call_method(L, parser, "feed", in->bytes + split, in->len - split);
    state = fuzz_check_answer(L, results);
    lua_settop(L, parser);
  }
  if (state == 0) {
    results = fuzz_call_method(L, parser, "finish", NULL, 0);
    state = fuzz_check_answer(L, results);
    if (state == 0) /* finish never asks for more */
      abort();
    lua_settop(L, parser);
  }
  fuzz_call_method(L, parser, "keep_alive", NULL, 0);
  keep_alive = lua_toboolean(L, -1);
  lua_settop(L, parser);
  if (state != 1 && keep_alive)
    abort();
  if (state == 1) {
    fuzz_call_method(L, parser, "response", NULL, 0);
    lua_getfield(L, -1, "status");
    if (!lua_isnumber(L, -1) || lua_tonumber(L, -1) < 200 || lua_tonumber(L, -1) > 999)
      abort();
    lua_pop(L, 1);
    lua_getfield(L, -1, "headers");
    if (!lua_istable(L, -1))
      abort();
  }
  return 0;
}

/* Counts occurrences of "\r\n" in s[0, len). */
static size_t fuzz_count_crlf(const char *s, size_t len) {
  size_t i, n = 0;
  for (i = 0; i + 1 < len; i++)
    if (s[i] == '\r' && s[i + 1] == '\n')
      n++;
  return n;
}

static int fuzz_request(lua_State *L) {
  const fuzz_input *in = (const fuzz_input *)lua_touserdata(L, 1);
  const char *parts[6], *p = in->bytes, *end = in->bytes + in->len, *out, *blank;
  size_t lens[6], out_len, head_len;
  int n = 0, i, headers;
  while (n < 6) {
    const char *nul = memchr(p, '\0', (size_t)(end - p));
    parts[n] = p;
    lens[n] = (size_t)((nul ? nul : end) - p);
    n++;
    if (nul == NULL)
      break;
    p = nul + 1;
  }
  for (; n < 6; n++) {
    parts[n] = "";
    lens[n] = 0;
  }
  lua_settop(L, 0);
  lua_getfield(L, LUA_REGISTRYINDEX, "fuzz_core");
  lua_getfield(L, 1, "http_request");
  lua_pushlstring(L, parts[0], lens[0]);
  lua_pushlstring(L, parts[1], lens[1]);
  lua_pushlstring(L, parts[2], lens[2]);
  lua_createtable(L, 2, 0);
  headers = 0;
  for (i = 3; i < 5; i++) {
    if (lens[i] > 0) {
      lua_pushlstring(L, parts[i], lens[i]);
      lua_rawseti(L, -2, ++headers);
    }
  }
  if (in->flags & 1)
    lua_pushlstring(L, parts[5], lens[5]);
  else
    lua_pushnil(L);
  lua_call(L, 5, 1); /* raises on misuse: the caller's pcall takes it */
  out = lua_tolstring(L, -1, &out_len);
  blank = NULL;
  for (i = 0; (size_t)i + 3 < out_len; i++)
    if (memcmp(out + i, "\r\n\r\n", 4) == 0) {
      blank = out + i;
      break;
    }
  if (blank == NULL)
    abort();
  head_len = (size_t)(blank - out) + 2;
  /* request line, Host, the headers, Content-Length with a body */
  if (fuzz_count_crlf(out, head_len) != (size_t)(2 + headers + ((in->flags & 1) ? 1 : 0)))
    abort();
  if (memchr(out, '\0', head_len) != NULL)
    abort();
  if ((in->flags & 1) && out_len - head_len - 2 != lens[5])
    abort();
  return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  L = luaL_newstate();
  if (L == NULL)
    abort();
  lua_pushcfunction(L, luaopen_extruct_core);
  if (lua_pcall(L, 0, 1, 0) != LUA_OK)
    abort();
  lua_setfield(L, LUA_REGISTRYINDEX, "fuzz_core");
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_input in;
  int status;
  if (size < 3)
    return 0;
  in.flags = data[0];
  in.split = (size_t)(data[1] | (data[2] << 8));
  in.bytes = (const char *)data + 3;
  in.len = size - 3;

  lua_settop(L, 0);
  lua_pushcfunction(L, fuzz_parse);
  lua_pushlightuserdata(L, &in);
  status = lua_pcall(L, 1, 0, 0);
  if (status != LUA_OK && status != LUA_ERRMEM)
    abort(); /* no misuse here: any raise is a bug */

  lua_settop(L, 0);
  lua_pushcfunction(L, fuzz_request);
  lua_pushlightuserdata(L, &in);
  status = lua_pcall(L, 1, 0, 0);
  if (status != LUA_OK && status != LUA_ERRRUN && status != LUA_ERRMEM)
    abort();
  lua_settop(L, 0);
  lua_gc(L, LUA_GCSTEP, 0);
  return 0;
}
