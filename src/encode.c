/* Lua values -> JSON text through cJSON.
 *
 * The cJSON tree is built under a guard userdata with a __gc, and every
 * node is attached to the tree before anything below it is built, so a
 * memory error raised by the Lua API half-way leaks nothing: the guard
 * frees whatever exists. The printed text is owned by the guard too until
 * it has been copied into a Lua string.
 *
 * What becomes what: nil and extruct.null -> null; booleans; integers
 * (and integral floats within 2^53) -> digits, exactly; other floats ->
 * cJSON's shortest round-trip form; strings byte for byte, escaped;
 * a table with keys 1..n -> array; a table with string keys -> object;
 * an empty table -> {} unless it carries the array metatable (or any
 * metatable with __jsontype = "array") -> []. A table with __pairs is
 * read through it on Lua 5.2+ (into a plain copy, under lua_pcall) and
 * refused on 5.1 and LuaJIT, whose pairs ignores it; a table with no keys
 * of its own and an __index metatable (a proxy) is refused rather than
 * written as {}. Everything else is an error that names the place, e.g.
 * "cannot encode a function at $.rows[2].f". */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "extruct.h"

#define ENCODE_MAX_DEPTH CJSON_NESTING_LIMIT

typedef struct {
  cJSON *root;
  char *text;
} encode_guard;

typedef struct {
  lua_State *L;
  encode_guard *guard;
  int seen;     /* stack index: tables on the current path, to catch cycles */
  int array_mt; /* stack index: the array metatable */
  char message[128];
  char path[256]; /* built from the failing value outwards, as levels unwind */
} encoder;

static void encode_guard_free(encode_guard *guard) {
  if (guard->root != NULL) {
    cJSON_Delete(guard->root);
    guard->root = NULL;
  }
  if (guard->text != NULL) {
    cJSON_free(guard->text);
    guard->text = NULL;
  }
}

static int encode_guard_gc(lua_State *L) {
  encode_guard_free((encode_guard *)lua_touserdata(L, 1));
  return 0;
}

static int encode_fail(encoder *e, const char *message) {
  snprintf(e->message, sizeof e->message, "%s", message);
  return 0;
}

/* Puts segment in front of the path; when the path would grow too long its
 * innermost part is what stays. */
static void encode_prepend(encoder *e, const char *segment) {
  size_t n = strlen(segment), m = strlen(e->path);
  if (n + m + 1 > sizeof e->path)
    return;
  memmove(e->path + n, e->path, m + 1);
  memcpy(e->path, segment, n);
}

static void encode_prepend_key(encoder *e, const char *key, size_t len) {
  char segment[64];
  size_t i;
  int plain = len > 0 && len < 40 && !(key[0] >= '0' && key[0] <= '9');
  for (i = 0; plain && i < len; i++) {
    char c = key[i];
    plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  }
  if (plain)
    snprintf(segment, sizeof segment, ".%.*s", (int)len, key);
  else
    snprintf(segment, sizeof segment, "[\"%.*s%s\"]", (int)(len < 40 ? len : 40), key,
             len < 40 ? "" : "...");
  encode_prepend(e, segment);
}

/* Adds item under parent (as the root when parent is NULL), so the guard
 * owns it before anything below it is built. */
static int encode_attach(encoder *e, cJSON *parent, const char *key, cJSON *item) {
  if (item == NULL)
    return encode_fail(e, "out of memory");
  if (parent == NULL) {
    e->guard->root = item;
    return 1;
  }
  if (key != NULL ? cJSON_AddItemToObject(parent, key, item) : cJSON_AddItemToArray(parent, item))
    return 1;
  cJSON_Delete(item);
  return encode_fail(e, "out of memory");
}

static cJSON *encode_number(encoder *e, int idx) {
  char digits[32];
  double d;
#if EX_HAS_INTEGERS
  if (lua_isinteger(e->L, idx)) {
    snprintf(digits, sizeof digits, LUA_INTEGER_FMT, (LUAI_UACINT)lua_tointeger(e->L, idx));
    return cJSON_CreateRaw(digits);
  }
#endif
  d = (double)lua_tonumber(e->L, idx);
  if (isnan(d) || isinf(d)) {
    encode_fail(e, isnan(d) ? "cannot encode NaN (JSON has no such number)"
                            : "cannot encode an infinite number (JSON has no such number)");
    return NULL;
  }
  /* cJSON would print -0 as 0 and 1e15 as 1e+15: integral values within
   * 2^53 are written as plain digits, -0 keeps its sign. */
  if (d == 0 && signbit(d))
    return cJSON_CreateRaw("-0.0");
  if (d == floor(d) && fabs(d) <= 9007199254740992.0) {
    snprintf(digits, sizeof digits, "%.0f", d);
    return cJSON_CreateRaw(digits);
  }
  return cJSON_CreateNumber(d);
}

/* cJSON takes C strings; a Lua string holding NUL bytes is escaped here
 * and handed over as raw JSON. */
static cJSON *encode_string_with_nul(encoder *e, const char *s, size_t len) {
  lua_State *L = e->L;
  luaL_Buffer b;
  size_t i;
  cJSON *item;
  luaL_buffinit(L, &b);
  luaL_addchar(&b, '"');
  for (i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    char escaped[8];
    static const char specials[] = "\"\\\b\f\n\r\t", letters[] = "\"\\bfnrt";
    const char *special = c != '\0' ? strchr(specials, c) : NULL;
    if (special != NULL) {
      luaL_addchar(&b, '\\');
      luaL_addchar(&b, letters[special - specials]);
    } else if (c < 0x20) {
      snprintf(escaped, sizeof escaped, "\\u%04x", c);
      luaL_addstring(&b, escaped);
    } else {
      luaL_addchar(&b, (char)c);
    }
  }
  luaL_addchar(&b, '"');
  luaL_pushresult(&b);
  item = cJSON_CreateRaw(lua_tostring(L, -1));
  lua_pop(L, 1);
  return item;
}

static cJSON *encode_string(encoder *e, int idx) {
  size_t len;
  const char *s = lua_tolstring(e->L, idx, &len);
  if (memchr(s, '\0', len) != NULL)
    return encode_string_with_nul(e, s, len);
  return cJSON_CreateString(s);
}

static int encode_value(encoder *e, int idx, int depth, cJSON *parent, const char *key);

static int encode_is_marked_array(encoder *e, int idx) {
  lua_State *L = e->L;
  int marked;
  if (!lua_getmetatable(L, idx))
    return 0;
  marked = lua_rawequal(L, -1, e->array_mt);
  if (!marked) {
    lua_pushliteral(L, "__jsontype");
    lua_rawget(L, -2);
    marked = lua_type(L, -1) == LUA_TSTRING && strcmp(lua_tostring(L, -1), "array") == 0;
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  return marked;
}

/* A positive integral number key, as an index; 0 for any other key. */
static lua_Number encode_index_key(lua_State *L, int idx) {
  lua_Number k;
  if (lua_type(L, idx) != LUA_TNUMBER)
    return 0;
  k = lua_tonumber(L, idx);
  return (k >= 1 && k == floor(k) && k <= 2147483647.0) ? k : 0;
}

static int encode_array(encoder *e, int idx, int depth, cJSON *array, int n) {
  int i;
  char segment[24];
  for (i = 1; i <= n; i++) {
    lua_rawgeti(e->L, idx, i);
    if (!encode_value(e, lua_gettop(e->L), depth + 1, array, NULL)) {
      snprintf(segment, sizeof segment, "[%d]", i);
      encode_prepend(e, segment);
      return 0;
    }
    lua_pop(e->L, 1);
  }
  return 1;
}

static int encode_object(encoder *e, int idx, int depth, cJSON *object) {
  lua_State *L = e->L;
  lua_pushnil(L);
  while (lua_next(L, idx)) { /* key, value */
    size_t len;
    const char *key = lua_tolstring(L, -2, &len); /* every key is a string here */
    if (memchr(key, '\0', len) != NULL) {
      encode_prepend_key(e, key, strlen(key));
      return encode_fail(e, "cannot encode an object key holding a NUL byte");
    }
    if (!encode_value(e, lua_gettop(L), depth + 1, object, key)) {
      encode_prepend_key(e, key, len);
      return 0;
    }
    lua_pop(L, 1); /* key */
  }
  return 1;
}

#if LUA_VERSION_NUM >= 502
/* A plain table of what pairs(t) gives, __pairs honoured; a lua_CFunction
 * run under lua_pcall, so whatever the metamethod raises stays an encode
 * error. Stack: t -> copy. */
static int encode_pairs_copy(lua_State *L) {
  lua_settop(L, 1);
  lua_newtable(L);                               /* t, copy */
  luaL_getmetafield(L, 1, "__pairs");            /* t, copy, __pairs */
  lua_pushvalue(L, 1);
  lua_call(L, 1, 3);                             /* t, copy, f, s, k */
  for (;;) {
    lua_pushvalue(L, 3);
    lua_pushvalue(L, 4);
    lua_pushvalue(L, 5);
    lua_call(L, 2, 2);                           /* t, copy, f, s, k, k', v */
    if (lua_isnil(L, -2))
      break;
    if (lua_isnil(L, -1)) {
      lua_pop(L, 1);
    } else {
      lua_pushvalue(L, -2);
      lua_insert(L, -2);                         /* ..., k', k', v */
      lua_rawset(L, 2);
    }
    lua_replace(L, 5);                           /* t, copy, f, s, k' */
  }
  lua_settop(L, 2);
  return 1;
}
#endif

/* Where the contents of the table at idx are read from: idx itself, or, for
 * a table with __pairs (Lua 5.2+), a plain copy of what its pairs gives,
 * pushed on the stack. Fails on a table whose pairs this Lua does not honour
 * (__pairs on 5.1 and LuaJIT). */
static int encode_contents(encoder *e, int idx, int *contents) {
  lua_State *L = e->L;
  *contents = idx;
  if (!luaL_getmetafield(L, idx, "__pairs"))
    return 1;
  lua_pop(L, 1);
#if LUA_VERSION_NUM >= 502
  lua_pushcfunction(L, encode_pairs_copy);
  lua_pushvalue(L, idx);
  if (lua_pcall(L, 1, 1, 0) != 0) {
    snprintf(e->message, sizeof e->message, "the __pairs metamethod of a table failed: %s",
             lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "(an error that is not a string)");
    return 0;
  }
  *contents = lua_gettop(L);
  return 1;
#else
  return encode_fail(e, "cannot encode a table with a __pairs metamethod: this Lua's pairs does not "
                        "call it; copy what it gives into a plain table");
#endif
}

/* Whether the table at idx has a metatable with an __index: its own keys
 * may not be all it seems to hold. */
static int encode_has_index(lua_State *L, int idx) {
  if (!luaL_getmetafield(L, idx, "__index"))
    return 0;
  lua_pop(L, 1);
  return 1;
}

static int encode_table(encoder *e, int idx, int depth, cJSON *parent, const char *key) {
  lua_State *L = e->L;
  lua_Number max_index = 0;
  int n_index = 0, n_string = 0, marked, ok, contents;
  cJSON *node;

  if (depth >= ENCODE_MAX_DEPTH) {
    snprintf(e->message, sizeof e->message, "cannot encode tables nested deeper than %d levels",
             ENCODE_MAX_DEPTH);
    return 0;
  }
  /* the seen-check pair, the contents' copy and a pcall of its making, then
   * key + value while iterating, value of a child */
  if (!lua_checkstack(L, 8))
    return encode_fail(e, "tables nested too deeply for the Lua stack");
  lua_pushvalue(L, idx);
  lua_rawget(L, e->seen);
  if (!lua_isnil(L, -1))
    return encode_fail(e, "cannot encode a table that contains itself (a cycle)");
  lua_pop(L, 1);
  if (!encode_contents(e, idx, &contents))
    return 0;

  lua_pushnil(L);
  while (lua_next(L, contents)) { /* key, value */
    lua_Number k = encode_index_key(L, -2);
    int key_type = lua_type(L, -2);
    lua_pop(L, 1);
    if (k > 0) {
      n_index++;
      if (k > max_index)
        max_index = k;
    } else if (key_type == LUA_TSTRING) {
      n_string++;
    } else {
      lua_pop(L, 1);
      if (key_type == LUA_TNUMBER)
        return encode_fail(e, "cannot encode a table with a number key that is not a positive "
                              "integer (an array's keys are 1..n, an object's are strings)");
      snprintf(e->message, sizeof e->message,
               "cannot encode a table with a %s key (JSON object keys are strings)",
               lua_typename(L, key_type));
      return 0;
    }
  }
  marked = encode_is_marked_array(e, idx);
  if (n_index == 0 && n_string == 0 && !marked && contents == idx && encode_has_index(L, idx))
    return encode_fail(e, "cannot encode a table with no keys of its own whose metatable has "
                          "__index (a proxy): copy what it holds into a plain table");
  if (n_index > 0 && n_string > 0)
    return encode_fail(e, "cannot encode a table with both integer and string keys");
  if (n_string > 0 && marked)
    return encode_fail(e, "cannot encode a table marked as an array that has string keys");
  if (max_index > n_index) {
    snprintf(e->message, sizeof e->message,
             "cannot encode a sparse array (%d values under keys up to %.0f): fill the holes "
             "with extruct.null",
             n_index, (double)max_index);
    return 0;
  }

  node = (n_index > 0 || marked) ? cJSON_CreateArray() : cJSON_CreateObject();
  if (!encode_attach(e, parent, key, node))
    return 0;
  lua_pushvalue(L, idx);
  lua_pushboolean(L, 1);
  lua_rawset(L, e->seen);
  ok = (n_index > 0 || marked) ? encode_array(e, contents, depth, node, n_index)
                               : encode_object(e, contents, depth, node);
  if (!ok)
    return 0;
  lua_pushvalue(L, idx);
  lua_pushnil(L);
  lua_rawset(L, e->seen);
  if (contents != idx)
    lua_pop(L, 1);
  return 1;
}

/* Builds the node for the value at idx and attaches it under parent. On
 * failure leaves a message in e and returns 0 (the stack is then cleaned
 * up by the caller of the whole encode). */
static int encode_value(encoder *e, int idx, int depth, cJSON *parent, const char *key) {
  lua_State *L = e->L;
  char message[64];
  switch (lua_type(L, idx)) {
  case LUA_TNIL:
    return encode_attach(e, parent, key, cJSON_CreateNull());
  case LUA_TBOOLEAN:
    return encode_attach(e, parent, key, cJSON_CreateBool(lua_toboolean(L, idx)));
  case LUA_TNUMBER: {
    cJSON *item = encode_number(e, idx);
    return item == NULL && e->message[0] != '\0' ? 0 : encode_attach(e, parent, key, item);
  }
  case LUA_TSTRING:
    return encode_attach(e, parent, key, encode_string(e, idx));
  case LUA_TTABLE:
    return encode_table(e, idx, depth, parent, key);
  case LUA_TLIGHTUSERDATA:
    if (lua_touserdata(L, idx) == NULL) /* extruct.null */
      return encode_attach(e, parent, key, cJSON_CreateNull());
    /* fall through */
  default:
    snprintf(message, sizeof message, "cannot encode a %s", luaL_typename(L, idx));
    return encode_fail(e, message);
  }
}

/* core.encode(value[, pretty]) -> text | nil, message */
static int encode(lua_State *L) {
  encoder e;
  int pretty = lua_toboolean(L, 2);
  int value;

  luaL_checkany(L, 1);
  lua_settop(L, 1);
  value = 1;
  memset(&e, 0, sizeof e);
  e.L = L;
  e.guard = (encode_guard *)lua_newuserdata(L, sizeof *e.guard);
  e.guard->root = NULL;
  e.guard->text = NULL;
  luaL_getmetatable(L, EX_ENCODE_MT);
  lua_setmetatable(L, -2);
  lua_newtable(L);
  e.seen = lua_gettop(L);
  luaL_getmetatable(L, EX_ARRAY_MT);
  e.array_mt = lua_gettop(L);

  if (!encode_value(&e, value, 0, NULL, NULL)) {
    char message[sizeof e.message + sizeof e.path + 8];
    if (e.path[0] != '\0')
      snprintf(message, sizeof message, "%s at $%s", e.message, e.path);
    else
      snprintf(message, sizeof message, "%s", e.message);
    encode_guard_free(e.guard);
    lua_settop(L, 0);
    lua_pushnil(L);
    lua_pushstring(L, message);
    return 2;
  }
  e.guard->text = pretty ? cJSON_Print(e.guard->root) : cJSON_PrintUnformatted(e.guard->root);
  if (e.guard->text == NULL) {
    lua_pushnil(L);
    lua_pushliteral(L, "out of memory");
    return 2;
  }
  lua_pushstring(L, e.guard->text);
  encode_guard_free(e.guard);
  return 1;
}

void ex_encode_open(lua_State *L) {
  static const luaL_Reg funcs[] = {
      {"encode", encode},
      {NULL, NULL},
  };
  luaL_newmetatable(L, EX_ENCODE_MT);
  lua_pushcfunction(L, encode_guard_gc);
  lua_setfield(L, -2, "__gc");
  lua_pop(L, 1);
  ex_setfuncs(L, funcs);
}
