/* libFuzzer target for the JSON encode path: the input is a little program
 * that builds a Lua value (numbers from raw bits, integers, strings of any
 * bytes, booleans, null, arrays and objects nested to any depth), which
 * extruct.core.encode writes, compact and pretty. Every value must give
 * text, or nil and a message exactly when the value holds what JSON cannot
 * say (NaN, an infinity, a key with a NUL byte, nesting deeper than 1000
 * tables); anything else (a crash, a sanitizer report, another Lua error)
 * is a finding.
 *
 * cJSON is the reference: it parses every output (cJSON_ParseWithLengthOpts,
 * the whole text consumed) to the value that was encoded. Arrays have the
 * same items in order, objects the same keys; strings the same bytes (cJSON
 * cuts a string at a NUL byte: there, the bytes before it); an integer the
 * double nearest to it, a float the same double, the sign of a zero
 * included; extruct.core.null is null. extruct.core.decode reads the output
 * back to an equal value too.
 *
 * Every double the input holds is also checked on its own against the C
 * library: ex_format_double's text reads back (strtod) as the same double,
 * no text with one significant digit fewer does (the two decimals of that
 * length around the double are tried), and where printf's correctly
 * rounded text of as many digits reads back, the text has its digits (the
 * nearest of the shortest). Built by `make fuzz` against liblua5.4, which
 * only a test binary like this one may link, and cJSON. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "extruct.h"

int luaopen_extruct_core(lua_State *L);
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static lua_State *L;

/* Stack slots kept between inputs. */
#define ENCODE 2
#define DECODE 3
#define SAME 4
#define NULL_VALUE 5
#define ARRAY_MT 6
#define BASE 6

/* Whether a value and what decode gives for its encoding are equal: tables
 * in depth, numbers by value (an integral float may come back an integer),
 * a float zero with its sign. */
static const char same_source[] =
    "local function same(a, b)\n"
    "  if type(a) == 'number' and type(b) == 'number' then\n"
    "    if a ~= b then return false end\n"
    "    if a == 0 and math.type(a) == 'float' then return 1 / a == 1 / b end\n"
    "    return true\n"
    "  end\n"
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
  lua_getfield(L, 1, "encode"); /* ENCODE */
  lua_getfield(L, 1, "decode"); /* DECODE */
  if (luaL_loadstring(L, same_source) != LUA_OK || lua_pcall(L, 0, 1, 0) != LUA_OK)
    abort(); /* SAME */
  lua_getfield(L, 1, "null");     /* NULL_VALUE */
  lua_getfield(L, 1, "array_mt"); /* ARRAY_MT */
  return 0;
}

/* ---- doubles against the C library ------------------------------------- */

static double read_back(const char *text) {
  return strtod(text, NULL);
}

static int same_double(double a, double b) {
  return memcmp(&a, &b, sizeof a) == 0;
}

/* The significant digits of a decimal text (no sign, point, exponent or
 * leading and trailing zeros) into digits; their count. */
static int significant(const char *text, char *digits) {
  int n = 0, started = 0;
  for (; *text != '\0' && *text != 'e' && *text != 'E'; text++) {
    if (*text < '0' || *text > '9' || (*text == '0' && !started))
      continue;
    started = 1;
    digits[n++] = *text;
  }
  while (n > 0 && digits[n - 1] == '0')
    n--;
  digits[n] = '\0';
  return n;
}

/* Whether the decimal of `count` significant digits printf rounds d to, or
 * its neighbour of as many digits on the other side of d, reads back as d. */
static int shorter_reads_back(double d, int count) {
  char text[64], digits[32], *e;
  unsigned long long mantissa;
  int exponent, i;
  double rounded;
  snprintf(text, sizeof text, "%.*e", count - 1, d); /* d.ddd...e+X, count digits */
  if (read_back(text) == d)
    return 1;
  rounded = read_back(text);
  /* the neighbour: one unit in the last digit towards d */
  for (i = 0, e = text; *e != 'e'; e++)
    if (*e >= '0' && *e <= '9')
      digits[i++] = *e;
  digits[i] = '\0';
  mantissa = strtoull(digits, NULL, 10);
  exponent = atoi(e + 1) - (count - 1);
  mantissa = rounded < d ? mantissa + 1 : mantissa - 1;
  snprintf(text, sizeof text, "%llue%d", mantissa, exponent);
  return read_back(text) == d;
}

/* ex_format_double against strtod and printf, for a finite positive d. */
static void check_double(double d) {
  char text[EX_NUMBER_TEXT_MAX + 1], digits[32], theirs[64], their_digits[32];
  size_t len;
  int count;
  if (!isfinite(d))
    return;
  len = ex_format_double(d, text);
  if (len > EX_NUMBER_TEXT_MAX)
    abort();
  text[len] = '\0';
  if (!same_double(read_back(text), d)) {
    fprintf(stderr, "%.17g written as %s reads back as %.17g\n", d, text, read_back(text));
    abort();
  }
  d = fabs(d);
  if (d == 0 || (d <= 9007199254740992.0 && d == floor(d)))
    return; /* zeros and integers: their digits, exact */
  count = significant(text, digits);
  if (count > 1 && shorter_reads_back(d, count - 1)) {
    fprintf(stderr, "%.17g written as %s: %d digits read back too\n", d, text, count - 1);
    abort();
  }
  snprintf(theirs, sizeof theirs, "%.*e", count - 1, d);
  if (read_back(theirs) == d && (significant(theirs, their_digits) != count || strcmp(digits, their_digits) != 0)) {
    fprintf(stderr, "%.17g written as %s, the nearest of as many digits is %s\n", d, text, theirs);
    abort();
  }
}

/* ---- the value the input builds ---------------------------------------- */

typedef struct {
  const uint8_t *p, *end;
  int depth;
} program;

static int next_byte(program *pg) {
  return pg->p < pg->end ? *pg->p++ : 0;
}

static uint64_t next_word(program *pg) {
  uint64_t w = 0;
  size_t n = (size_t)(pg->end - pg->p) < 8 ? (size_t)(pg->end - pg->p) : 8;
  memcpy(&w, pg->p, n);
  pg->p += n;
  return w;
}

/* Pushes a string of len bytes from the input (fewer where it ends). */
static void push_bytes(program *pg, size_t len) {
  size_t left = (size_t)(pg->end - pg->p);
  if (len > left)
    len = left;
  lua_pushlstring(L, (const char *)pg->p, len);
  pg->p += len;
}

/* Pushes the next value of the program; 0 at a "close" or at the end. */
static int push_value(program *pg) {
  uint64_t w;
  double d;
  int op;
  if (pg->p >= pg->end)
    return 0;
  op = next_byte(pg) % 14;
  switch (op) {
  case 0: /* a double from its bits: NaN and infinities included */
    w = next_word(pg);
    memcpy(&d, &w, sizeof d);
    check_double(d);
    lua_pushnumber(L, d);
    return 1;
  case 1: /* a decimal: digits over a power of ten */
    w = next_word(pg);
    d = (double)(w % 1000000000000ull) / pow(10, (double)(next_byte(pg) % 24));
    check_double(d);
    lua_pushnumber(L, next_byte(pg) & 1 ? -d : d);
    return 1;
  case 2: /* an integer from its bits */
    lua_pushinteger(L, (lua_Integer)next_word(pg));
    return 1;
  case 3:
    lua_pushinteger(L, (lua_Integer)next_byte(pg) - 128);
    return 1;
  case 4:
  case 5:
    push_bytes(pg, (size_t)next_byte(pg) % 48);
    return 1;
  case 6: { /* a long string: a piece of the input repeated */
    size_t unit_len = (size_t)next_byte(pg) % 8 + 1, times = (size_t)next_byte(pg) * 16 + 1, len;
    const char *unit;
    luaL_Buffer b;
    push_bytes(pg, unit_len);
    unit = lua_tolstring(L, -1, &len);
    luaL_buffinit(L, &b);
    while (times-- > 0)
      luaL_addlstring(&b, unit, len);
    luaL_pushresult(&b);
    lua_remove(L, -2);
    return 1;
  }
  case 7:
    lua_pushboolean(L, next_byte(pg) & 1);
    return 1;
  case 8:
    lua_pushvalue(L, NULL_VALUE);
    return 1;
  case 9:
  case 10: /* an array */
  case 11: /* an object */
    if (pg->depth >= 1200) { /* deep enough to be refused: no deeper */
      lua_pushvalue(L, NULL_VALUE);
      return 1;
    }
    if (!lua_checkstack(L, 8))
      abort();
    lua_newtable(L);
    if (op != 11) {
      lua_pushvalue(L, ARRAY_MT);
      lua_setmetatable(L, -2);
    }
    pg->depth++;
    {
      int table = lua_gettop(L);
      lua_Integer n = 0;
      for (;;) {
        if (op == 11) {
          push_bytes(pg, (size_t)next_byte(pg) % 24); /* the key */
          if (!push_value(pg)) {
            lua_pop(L, 1);
            break;
          }
          lua_rawset(L, table);
        } else {
          if (!push_value(pg))
            break;
          lua_rawseti(L, table, ++n);
        }
      }
    }
    pg->depth--;
    return 1;
  default: /* close the container */
    return 0;
  }
}

/* Whether the value at index holds what JSON cannot say: NaN or an
 * infinity, a key with a NUL byte, tables nested deeper than 1000 (a
 * table's own depth being its level, counted from 1). */
static int refusable(lua_State *S, int index, int level) {
  int found = 0;
  if (lua_type(S, index) == LUA_TNUMBER)
    return !lua_isinteger(S, index) && !isfinite((double)lua_tonumber(S, index));
  if (lua_type(S, index) != LUA_TTABLE)
    return 0;
  if (level > 1000)
    return 1;
  luaL_checkstack(S, 3, NULL);
  lua_pushnil(S);
  while (!found && lua_next(S, index)) {
    found = (lua_type(S, -2) == LUA_TSTRING && memchr(lua_tostring(S, -2), '\0', lua_rawlen(S, -2)) != NULL) ||
            refusable(S, lua_gettop(S), level + 1);
    lua_pop(S, 1);
  }
  if (found)
    lua_pop(S, 1); /* the key lua_next left */
  return found;
}

/* ---- cJSON as the reference --------------------------------------------- */

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

/* Whether the Lua value at index is what the cJSON item holds; says on
 * stderr where they part. */
static int agrees(lua_State *S, int index, const cJSON *item) {
  const cJSON *child;
  size_t len, n;
  const char *s, *nul;
  int result = 1;

  luaL_checkstack(S, 6, NULL);
  switch (lua_type(S, index)) {
  case LUA_TLIGHTUSERDATA:
    if (cJSON_IsNull(item))
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
      /* strtod gives an integer's nearest double; an integer 0 has no sign */
      lua_Integer i = lua_tointeger(S, index);
      if ((double)i == item->valuedouble && !(i == 0 && signbit(item->valuedouble)))
        return 1;
    } else if (same_double((double)lua_tonumber(S, index), item->valuedouble)) {
      return 1;
    }
    fprintf(stderr, "cJSON reference: %.17g read as %.17g\n", (double)lua_tonumber(S, index), item->valuedouble);
    break;
  case LUA_TSTRING:
    s = lua_tolstring(S, index, &len);
    if (!cJSON_IsString(item))
      break;
    nul = (const char *)memchr(s, '\0', len);
    if (nul != NULL)
      len = (size_t)(nul - s); /* cJSON keeps the bytes before a NUL */
    if (strlen(item->valuestring) == len && memcmp(s, item->valuestring, len) == 0)
      return 1;
    break;
  case LUA_TTABLE:
    if (lua_getmetatable(S, index)) {
      lua_pop(S, 1);
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
    n = 0;
    for (child = item->child; child != NULL && result; child = child->next, n++) {
      lua_getfield(S, index, child->string);
      result = !lua_isnil(S, -1) && agrees(S, lua_gettop(S), child);
      if (!result)
        fprintf(stderr, "cJSON reference: member \"%s\"\n", child->string);
      lua_pop(S, 1);
    }
    if (result && n == table_entries(S, index))
      return 1;
    break;
  }
  fprintf(stderr, "cJSON reference: a %s where cJSON has an item of type %d\n", luaL_typename(S, index),
          item->type & 0xFF);
  return 0;
}

/* reference_run(value, root) -> whether they agree; under lua_pcall. */
static int reference_run(lua_State *S) {
  lua_pushboolean(S, agrees(S, 1, (const cJSON *)lua_touserdata(S, 2)));
  return 1;
}

/* cJSON parses the text at the top of the stack to the value at index. */
static void check_with_cjson(int index) {
  size_t len;
  const char *text = lua_tolstring(L, -1, &len), *end = NULL;
  cJSON *root = cJSON_ParseWithLengthOpts(text, len + 1, &end, 1); /* the NUL is Lua's */
  if (root == NULL) {
    fprintf(stderr, "cJSON reference: refused at byte %ld: %.200s\n", end != NULL ? (long)(end - text) : -1L, text);
    abort();
  }
  lua_pushcfunction(L, reference_run);
  lua_pushvalue(L, index);
  lua_pushlightuserdata(L, root);
  if (lua_pcall(L, 2, 1, 0) == LUA_OK && !lua_toboolean(L, -1)) {
    fprintf(stderr, "cJSON reference: a different value in %.300s\n", text);
    abort();
  }
  lua_pop(L, 1);
  cJSON_Delete(root);
}

/* Encodes the value at index (pretty or not): pushes the text; returns 0
 * (nothing pushed) when the encode refused, -1 on a memory error. */
static int encode(int index, int pretty, int refused) {
  int status;
  lua_pushvalue(L, ENCODE);
  lua_pushvalue(L, index);
  lua_pushboolean(L, pretty);
  status = lua_pcall(L, 2, 2, 0);
  if (status == LUA_ERRMEM)
    return -1;
  if (status != LUA_OK)
    abort(); /* encode raises only on memory errors */
  if (lua_isnil(L, -2)) {
    if (!refused || lua_type(L, -1) != LUA_TSTRING) {
      fprintf(stderr, "encode refused: %s\n", lua_tostring(L, -1));
      abort();
    }
    lua_pop(L, 2);
    return 0;
  }
  if (refused || lua_type(L, -2) != LUA_TSTRING)
  {
    fprintf(stderr, "encode wrote what it should have refused: %.300s\n", lua_tostring(L, -2));
    abort();
  }
  lua_pop(L, 1);
  return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  program pg;
  int value = BASE + 1, pretty, refused;
  pg.p = data;
  pg.end = data + size;
  pg.depth = 0;

  lua_settop(L, BASE);
  if (!push_value(&pg))
    lua_pushvalue(L, NULL_VALUE); /* nothing at all: null */
  refused = refusable(L, value, 1);
  for (pretty = 0; pretty <= 1; pretty++) {
    int status = encode(value, pretty, refused);
    if (status <= 0)
      continue;
    check_with_cjson(value);
    /* and the decoder reads it back to an equal value */
    lua_pushvalue(L, DECODE);
    lua_pushvalue(L, -2);
    if (lua_pcall(L, 1, 2, 0) != LUA_OK)
      continue; /* a memory error */
    if (lua_isnil(L, -2)) {
      fprintf(stderr, "decode refused the encode's text: %s\n", lua_tostring(L, -1));
      abort();
    }
    lua_pop(L, 1);
    lua_pushvalue(L, SAME);
    lua_pushvalue(L, value);
    lua_pushvalue(L, -3);
    if (lua_pcall(L, 2, 1, 0) == LUA_OK && !lua_toboolean(L, -1))
      abort(); /* decode(encode(value)) differs from value */
    lua_settop(L, value);
  }
  lua_settop(L, BASE);
  return 0;
}
