/* libFuzzer target for the JSON decode path: extruct.core.decode(data,
 * strict) in a lua_State hosting the core. Every input must give a value, or
 * nil and a message; anything else (a crash, a sanitizer report, another
 * kind of Lua error) is a finding. The two modes must agree: a text the
 * strict decode takes, the lenient one takes too, to the same value; and
 * the lenient decode of a text gives what the strict decode gives for the
 * same text with each raw control character inside a string written as a
 * \u escape (both refuse it, or both give the same value). Built by
 * `make fuzz` against liblua5.4, which only a test binary like this one may
 * link. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

int luaopen_extruct_core(lua_State *L);
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static lua_State *L;

/* Stack slots kept between inputs. */
#define DECODE 2
#define SAME 3
#define BASE 3

/* Whether two decoded values are equal, tables compared in depth. */
static const char same_source[] =
    "local function same(a, b)\n"
    "  if type(a) ~= 'table' or type(b) ~= 'table' then return a == b end\n"
    "  if getmetatable(a) ~= getmetatable(b) then return false end\n"
    "  for k, v in pairs(a) do if not same(v, rawget(b, k)) then return false end end\n"
    "  for k in pairs(b) do if rawget(a, k) == nil then return false end end\n"
    "  return true\n"
    "end\n"
    "return same\n";

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  L = luaL_newstate();
  if (L == NULL)
    abort();
  luaL_openlibs(L);
  lua_pushcfunction(L, luaopen_extruct_core);
  if (lua_pcall(L, 0, 1, 0) != LUA_OK)
    abort();
  lua_getfield(L, 1, "decode"); /* DECODE */
  if (luaL_loadstring(L, same_source) != LUA_OK || lua_pcall(L, 0, 1, 0) != LUA_OK)
    abort(); /* SAME */
  return 0;
}

/* Pushes the two results of decode(text, strict); returns the status of the
 * call, after checking the results of one that returned. */
static int decode(const char *text, size_t size, int strict) {
  int status;
  lua_pushvalue(L, DECODE);
  lua_pushlstring(L, text, size);
  lua_pushboolean(L, strict);
  status = lua_pcall(L, 2, 2, 0);
  if (status == LUA_ERRMEM)
    return status;
  if (status != LUA_OK)
    abort(); /* decode raises only on memory errors */
  if (lua_isnil(L, -2) && lua_type(L, -1) != LUA_TSTRING)
    abort(); /* a failure always says why */
  if (!lua_isnil(L, -2) && size == 0)
    abort();
  return status;
}

/* Whether the values at stack indexes a and b are the same; -1 on a memory
 * error. */
static int same(int a, int b) {
  int result;
  lua_pushvalue(L, SAME);
  lua_pushvalue(L, a);
  lua_pushvalue(L, b);
  if (lua_pcall(L, 2, 1, 0) != LUA_OK)
    return -1;
  result = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return result;
}

/* The text with each raw control character inside a string written as a
 * \u escape; strings are followed as JSON reads them, an escaped byte
 * copied along with its backslash. Sets *escaped_size; NULL when out of
 * memory. */
static char *escape_raw_controls(const uint8_t *data, size_t size, size_t *escaped_size) {
  char *out = malloc(size * 6 + 1);
  size_t i, n = 0;
  int in_string = 0;
  if (out == NULL)
    return NULL;
  for (i = 0; i < size; i++) {
    uint8_t ch = data[i];
    if (in_string && ch == '\\' && i + 1 < size) {
      out[n++] = (char)ch;
      out[n++] = (char)data[++i];
    } else if (in_string && ch < 0x20) {
      snprintf(out + n, 7, "\\u%04x", ch);
      n += 6;
    } else {
      if (ch == '"')
        in_string = !in_string;
      out[n++] = (char)ch;
    }
  }
  *escaped_size = n;
  return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const int strict_value = BASE + 1, lenient_value = BASE + 3, escaped_value = BASE + 5;
  size_t escaped_size;
  char *escaped;
  int status;

  lua_settop(L, BASE);
  if (decode((const char *)data, size, 1) != LUA_OK || decode((const char *)data, size, 0) != LUA_OK)
    return 0;
  if (!lua_isnil(L, strict_value) && same(strict_value, lenient_value) == 0)
    abort(); /* the lenient decode refused or changed what the strict one took */

  escaped = escape_raw_controls(data, size, &escaped_size);
  if (escaped == NULL)
    return 0;
  status = decode(escaped, escaped_size, 1);
  free(escaped);
  if (status != LUA_OK)
    return 0;
  if (lua_isnil(L, lenient_value) != lua_isnil(L, escaped_value))
    abort(); /* raw control characters are not the only difference the modes make */
  if (!lua_isnil(L, lenient_value) && same(lenient_value, escaped_value) == 0)
    abort();
  lua_settop(L, BASE);
  return 0;
}
