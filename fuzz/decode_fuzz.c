/* libFuzzer target for the JSON decode path: extruct.core.decode(data,
 * strict) in a lua_State hosting the core. Every input must give a value, or
 * nil and a message; anything else (a crash, a sanitizer report, another
 * kind of Lua error) is a finding. The two modes must agree: a text the
 * strict decode takes, the lenient one takes too, to the same value; and
 * the lenient decode of a text gives what the strict decode gives for the
 * same text with each raw control character inside a string written as a
 * \u escape (both refuse it, or both give the same value).
 *
 * cJSON is the oracle for the strict decode: a text it takes, cJSON
 * (cJSON_ParseWithLengthOpts, the whole text consumed) takes too, to the
 * same value. Objects have the same keys, each with the value of the last
 * member of that name (cJSON keeps every member, the decode the last one);
 * arrays the same items in order; strings the same bytes; numbers the same
 * double (an integer: its nearest double), the sign of a float zero
 * included; null is extruct.core.null. A text that is one number decodes
 * as Lua's tonumber reads it (an integer where 64 bits hold digits alone,
 * else a float). The one
 * exception is a value holding a string with a NUL byte (from \u0000; a raw
 * one the strict decode refuses), as a key or a value: cJSON keeps its
 * strings NUL-terminated, so it cuts them there. Everything else where the
 * two could part is checked: the nesting limits (1000 levels both), a UTF-8
 * byte-order mark (both skip it), numbers of any length or magnitude (both
 * go through strtod, with the same locale). Numbers of any length need a
 * cJSON with the fix for CVE-2023-26819 (Debian's 1.7.15-1+deb12u3 on): an
 * older one refuses a number longer than 63 bytes. Built by `make fuzz`
 * against liblua5.4, which only a test binary like this one may link, and
 * cJSON. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

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
#define NULL_VALUE 4
#define ARRAY_MT 5
#define BASE 5

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
  lua_getfield(L, 1, "null");     /* NULL_VALUE */
  lua_getfield(L, 1, "array_mt"); /* ARRAY_MT */
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

/* ---- cJSON as the oracle of the strict decode --------------------------- */

/* The arguments of oracle_run, at these stack indexes of its call. */
#define ORACLE_VALUE 1
#define ORACLE_ROOT 2
#define ORACLE_NULL 3
#define ORACLE_ARRAY_MT 4

/* Whether the value at index is, or holds, a string with a NUL byte (as a
 * key or a value). */
static int holds_nul(lua_State *S, int index) {
  size_t len;
  const char *s;
  int found = 0;
  if (lua_type(S, index) == LUA_TSTRING) {
    s = lua_tolstring(S, index, &len);
    return memchr(s, '\0', len) != NULL;
  }
  if (lua_type(S, index) != LUA_TTABLE)
    return 0;
  luaL_checkstack(S, 3, NULL);
  lua_pushnil(S);
  while (!found && lua_next(S, index)) {
    found = holds_nul(S, lua_gettop(S) - 1) || holds_nul(S, lua_gettop(S));
    lua_pop(S, 1);
  }
  if (found)
    lua_pop(S, 1); /* the key lua_next left */
  return found;
}

/* The number of entries of the table at index. */
static size_t table_entries(lua_State *S, int index) {
  size_t n = 0;
  lua_pushnil(S);
  while (lua_next(S, index)) {
    n++;
    lua_pop(S, 1);
  }
  return n;
}

/* Whether the Lua value at index is the value of the cJSON item; says on
 * stderr where they part. */
static int agrees(lua_State *S, int index, const cJSON *item) {
  const cJSON *child;
  size_t len, n;
  const char *s;
  int is_array, result = 1, table;

  luaL_checkstack(S, 6, NULL);
  switch (lua_type(S, index)) {
  case LUA_TLIGHTUSERDATA:
    if (lua_rawequal(S, index, ORACLE_NULL) && cJSON_IsNull(item))
      return 1;
    break;
  case LUA_TBOOLEAN:
    if (lua_toboolean(S, index) ? cJSON_IsTrue(item) : cJSON_IsFalse(item))
      return 1;
    break;
  case LUA_TNUMBER:
    if (!cJSON_IsNumber(item))
      break;
    if (lua_isinteger(S, index)) {
      /* digits alone are an exact integer (as tonumber reads them: see
       * check_number), of which cJSON's strtod has the nearest double; -0
       * is the integer 0 */
      lua_Integer i = lua_tointeger(S, index);
      if ((double)i == item->valuedouble)
        return 1;
    } else {
      double d = (double)lua_tonumber(S, index);
      if (d == item->valuedouble && signbit(d) == signbit(item->valuedouble))
        return 1;
    }
    break;
  case LUA_TSTRING:
    s = lua_tolstring(S, index, &len);
    if (cJSON_IsString(item) && strlen(item->valuestring) == len && memcmp(s, item->valuestring, len) == 0)
      return 1;
    break;
  case LUA_TTABLE:
    is_array = 0;
    if (lua_getmetatable(S, index)) {
      is_array = lua_rawequal(S, -1, ORACLE_ARRAY_MT);
      lua_pop(S, 1);
      if (!is_array)
        break; /* a metatable other than the array one */
    }
    if (is_array) {
      if (!cJSON_IsArray(item))
        break;
      n = 0;
      for (child = item->child; child != NULL && result; child = child->next) {
        lua_rawgeti(S, index, (lua_Integer)++n);
        result = agrees(S, lua_gettop(S), child);
        lua_pop(S, 1);
      }
      if (result && n == table_entries(S, index))
        return 1;
      break;
    }
    if (!cJSON_IsObject(item))
      break;
    /* the last member of each name, as the decode keeps it */
    lua_newtable(S);
    table = lua_gettop(S);
    for (child = item->child; child != NULL; child = child->next) {
      lua_pushlightuserdata(S, (void *)child);
      lua_setfield(S, table, child->string);
    }
    for (child = item->child; child != NULL && result; child = child->next) {
      lua_getfield(S, table, child->string);
      if (lua_touserdata(S, -1) == (void *)child) {
        lua_getfield(S, index, child->string);
        result = !lua_isnil(S, -1) && agrees(S, lua_gettop(S), child);
        if (!result)
          fprintf(stderr, "cJSON oracle: member \"%s\"\n", child->string);
        lua_pop(S, 1);
      }
      lua_pop(S, 1);
    }
    n = table_entries(S, table);
    lua_pop(S, 1);
    if (result && n == table_entries(S, index))
      return 1;
    break;
  }
  fprintf(stderr, "cJSON oracle: a %s where cJSON has an item of type %d\n", luaL_typename(S, index),
          item->type & 0xFF);
  return 0;
}

/* oracle_run(value, root, null, array_mt) -> true when the value agrees
 * with cJSON's tree, false when it does not, nothing when the comparison
 * does not apply. Under lua_pcall: a memory error is no finding. */
static int oracle_run(lua_State *S) {
  /* Exception: cJSON cuts a string at its first NUL byte. */
  if (holds_nul(S, ORACLE_VALUE))
    return 0;
  lua_pushboolean(S, agrees(S, ORACLE_VALUE, (const cJSON *)lua_touserdata(S, ORACLE_ROOT)));
  return 1;
}

/* Checks the strict decode's value at index, of the text data, against
 * cJSON's parse of the same text. */
static void check_with_cjson(const uint8_t *data, size_t size, int index) {
  const char *end = NULL;
  cJSON *root;
  /* With the whole text to be consumed, cJSON wants the terminating NUL
   * within the length it is given. */
  char *text = malloc(size + 1);
  if (text == NULL)
    return;
  memcpy(text, data, size);
  text[size] = '\0';
  root = cJSON_ParseWithLengthOpts(text, size + 1, &end, 1);
  if (root == NULL) {
    fprintf(stderr, "cJSON oracle: cJSON refuses at byte %ld what the strict decode takes\n",
            end != NULL ? (long)(end - text) : -1L);
    abort();
  }
  lua_pushcfunction(L, oracle_run);
  lua_pushvalue(L, index);
  lua_pushlightuserdata(L, root);
  lua_pushvalue(L, NULL_VALUE);
  lua_pushvalue(L, ARRAY_MT);
  if (lua_pcall(L, 4, 1, 0) == LUA_OK && lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1))
    abort(); /* the strict decode and cJSON give different values */
  lua_pop(L, 1);
  cJSON_Delete(root);
  free(text);
}

/* A text that is one number decodes as Lua's tonumber reads it: the same
 * value, the same subtype, the same sign of a zero. */
static void check_number(const uint8_t *data, size_t size, int index) {
  int same;
  if (lua_type(L, index) != LUA_TNUMBER)
    return;
  if (size >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0) {
    data += 3; /* the byte-order mark the decode skips */
    size -= 3;
  }
  lua_getglobal(L, "tonumber");
  lua_pushlstring(L, (const char *)data, size);
  if (lua_pcall(L, 1, 1, 0) != LUA_OK)
    return;
  same = lua_type(L, -1) == LUA_TNUMBER && lua_rawequal(L, -1, index) &&
         lua_isinteger(L, -1) == lua_isinteger(L, index) &&
         (lua_tonumber(L, index) != 0 || signbit(lua_tonumber(L, -1)) == signbit(lua_tonumber(L, index)));
  if (!same) {
    fprintf(stderr, "decode: %.*s is not what tonumber reads\n", (int)(size < 60 ? size : 60), (const char *)data);
    abort();
  }
  lua_pop(L, 1);
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
  if (!lua_isnil(L, strict_value)) {
    check_with_cjson(data, size, strict_value);
    check_number(data, size, strict_value);
  }

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
