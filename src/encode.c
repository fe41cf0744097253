/* Lua values -> JSON text, written straight into one growing buffer.
 *
 * The encoder walks the value once and appends its JSON to a buffer, as the
 * decoder builds Lua values straight from the text: no tree in between (a
 * cJSON tree cost a malloc per node and per string, and cJSON printed
 * floats with 15 significant digits and kept them when an approximate
 * comparison said "equal": 0.1 + 0.2 came out as 0.3). Numbers are exact:
 * integers as their digits, floats as the shortest text that reads back as
 * the same double (dtoa.c).
 *
 * The output is written on the C stack until it outgrows ENCODE_LOCAL
 * bytes, then into a malloc'd block owned by a guard userdata with a __gc
 * that sits in a fixed slot of the Lua stack: a memory error raised by the
 * Lua API half-way leaves it to the collector. The block is kept for the
 * next encode (up to ENCODE_KEEP bytes), as lua-cjson keeps its buffer.
 *
 * A table is read with lua_next once: its first key says object (a string)
 * or array (a number), and the members are written as they come. An
 * array's elements come in order 1, 2, 3... from lua_next as long as they
 * sit in the table's array part; from the first key out of that order the
 * rest of the keys are only counted (they must fill n+1..m exactly) and
 * then read by index. Anything else (a key of the other kind, a hole, a key
 * of another type) stops the walk, and one more pass over the table finds
 * the words of the refusal. Tables on the current path are kept in a chain
 * of frames on the C stack, which is how a cycle is found.
 *
 * What becomes what: nil and extruct.null -> null; booleans; integers and
 * integral floats within 2^53 -> digits; other floats -> the shortest form
 * that reads back equal; strings byte for byte, '"', '\\' and control
 * characters escaped; a table with keys 1..n -> array; a table with string
 * keys -> object; an empty table -> {} unless it carries the array
 * metatable (or any metatable with __jsontype = "array") -> []. A table
 * with __pairs is read through it on Lua 5.2+ (into a plain copy, under
 * lua_pcall) and refused on 5.1 and LuaJIT, whose pairs ignores it; a table
 * with no keys of its own and an __index metatable (a proxy) is refused
 * rather than written as {}. Everything else is an error that names the
 * place, e.g. "cannot encode a function at $.rows[2].f". */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SSE2__) && defined(__GNUC__)
/* Strings are checked sixteen bytes at a time (x86-64 always has SSE2);
 * elsewhere eight at a time in a word (ENCODE_WORDS), or byte by byte. */
#define ENCODE_SSE2 1
#include <emmintrin.h>
#endif

#include "extruct.h"

#if defined(__GNUC__)
#define ENCODE_NOINLINE __attribute__((noinline))
#define ENCODE_INLINE inline __attribute__((always_inline))
#else
#define ENCODE_NOINLINE
#define ENCODE_INLINE inline
#endif

/* The deepest nesting written: what the decoder takes. */
#define ENCODE_MAX_DEPTH 1000
/* Output up to this size stays on the C stack. */
#define ENCODE_LOCAL 4096
/* A heap block up to this size is kept for the next encode. */
#define ENCODE_KEEP ((size_t)16 * 1024 * 1024)
/* Stack slots of the encode call itself: the value, the guard of the heap
 * block (the kept one, or nil until one is needed), the array metatable
 * (nil until a table has a metatable). */
#define ENCODE_GUARD 2
#define ENCODE_ARRAY_MT 3

/* The heap block of a big output, owned by a userdata with a __gc. */
typedef struct {
  char *data;
  size_t cap;
} encode_block;

/* A table on the path from the top value to the one being written. */
typedef struct encode_frame {
  const void *table;
  const struct encode_frame *parent;
} encode_frame;

typedef struct {
  lua_State *L;
  char *buf; /* local, or block->data */
  size_t len, cap;
  encode_block *block; /* NULL while the output is local */
  int pretty;
  int array_mt_loaded; /* ENCODE_ARRAY_MT holds it */
  char message[160];
  char path[256]; /* built from the failing value outwards, as levels unwind */
  char local[ENCODE_LOCAL];
} encoder;

static int encode_block_gc(lua_State *L) {
  encode_block *block = (encode_block *)lua_touserdata(L, 1);
  free(block->data);
  block->data = NULL;
  block->cap = 0;
  return 0;
}

static int encode_fail(encoder *e, const char *message) {
  snprintf(e->message, sizeof e->message, "%s", message);
  return 0;
}

/* Makes room for need more bytes; 0 when there is no memory for them. The
 * output moves from the C stack to the heap block (the kept one, or a new
 * one owned by a new guard) when it first outgrows the local buffer. */
static int encode_grow(encoder *e, size_t need) {
  size_t cap = e->cap * 2;
  char *data;
  if (need > (size_t)-1 / 2 - e->len)
    return encode_fail(e, "out of memory");
  if (cap < e->len + need)
    cap = e->len + need;
  if (e->block == NULL) {
    if (lua_isnil(e->L, ENCODE_GUARD)) {
      /* the guard first: should making it raise, nothing is malloc'd yet */
      encode_block *block = (encode_block *)lua_newuserdata(e->L, sizeof *block);
      block->data = NULL;
      block->cap = 0;
      luaL_getmetatable(e->L, EX_ENCODE_MT);
      lua_setmetatable(e->L, -2);
      lua_replace(e->L, ENCODE_GUARD);
    }
    e->block = (encode_block *)lua_touserdata(e->L, ENCODE_GUARD);
    if (e->block->cap >= cap) {
      cap = e->block->cap;
      data = e->block->data;
    } else {
      free(e->block->data); /* nothing in it to keep */
      e->block->data = NULL;
      e->block->cap = 0;
      if ((data = (char *)malloc(cap)) == NULL)
        return encode_fail(e, "out of memory");
    }
    memcpy(data, e->buf, e->len);
  } else if ((data = (char *)realloc(e->block->data, cap)) == NULL) {
    return encode_fail(e, "out of memory");
  }
  e->block->data = data;
  e->block->cap = cap;
  e->buf = data;
  e->cap = cap;
  return 1;
}

#define ENCODE_ROOM(e, n) ((e)->cap - (e)->len >= (size_t)(n) || encode_grow((e), (size_t)(n)))

static void encode_put(encoder *e, const char *s, size_t n) {
  memcpy(e->buf + e->len, s, n);
  e->len += n;
}

/* A new line indented by level tabs (pretty output). */
static int encode_newline(encoder *e, int level) {
  if (!ENCODE_ROOM(e, (size_t)level + 1))
    return 0;
  e->buf[e->len++] = '\n';
  memset(e->buf + e->len, '\t', (size_t)level);
  e->len += (size_t)level;
  return 1;
}

/* ---- the path of a failure --------------------------------------------- */

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

static void encode_prepend_index(encoder *e, lua_Number i) {
  char segment[32];
  snprintf(segment, sizeof segment, "[%.0f]", (double)i);
  encode_prepend(e, segment);
}

/* ---- scalars ----------------------------------------------------------- */

static int encode_number(encoder *e, int idx) {
  lua_State *L = e->L;
  double d = (double)lua_tonumber(L, idx);
  if (!ENCODE_ROOM(e, EX_NUMBER_TEXT_MAX))
    return 0;
  /* most numbers are integers that a double holds exactly, of either
   * subtype: their digits, without asking which (an integer beyond 2^53
   * converts to a double of 2^53 or more, so it is not taken here; -0 is
   * not one of them) */
  if (d > -9007199254740992.0 && d < 9007199254740992.0 && d == (double)(int64_t)d && (d != 0 || !signbit(d))) {
    e->len += ex_format_integer((int64_t)d, e->buf + e->len);
    return 1;
  }
#if EX_HAS_INTEGERS
  if (lua_isinteger(L, idx)) {
    e->len += ex_format_integer((int64_t)lua_tointeger(L, idx), e->buf + e->len);
    return 1;
  }
#endif
  if (isnan(d))
    return encode_fail(e, "cannot encode NaN (JSON has no such number)");
  if (isinf(d))
    return encode_fail(e, "cannot encode an infinite number (JSON has no such number)");
  e->len += ex_format_double(d, e->buf + e->len);
  return 1;
}

/* What a byte is inside a JSON string: 0 itself, 'u' a \u00XX escape,
 * else the letter that follows a backslash. */
#define ENCODE_U4 'u', 'u', 'u', 'u'
#define ENCODE_Z16 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
static const char encode_escapes[256] = {
    /* 0x00 */ ENCODE_U4, ENCODE_U4, 'b', 't', 'n', 'u', 'f', 'r', 'u', 'u',
    /* 0x10 */ ENCODE_U4, ENCODE_U4, ENCODE_U4, ENCODE_U4,
    /* 0x20 */ 0, 0, '"', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    /* 0x30 */ ENCODE_Z16,
    /* 0x40 */ ENCODE_Z16,
    /* 0x50 */ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, '\\', 0, 0, 0,
    /* 0x60-0xFF: 0 */
};

#if defined(ENCODE_SSE2)
/* A bit for each of the sixteen bytes of v that is '"', '\\' or below 0x20. */
static int encode_block_stops(__m128i v) {
  __m128i control = _mm_set1_epi8(0x1F);
  __m128i stops = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')), _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))),
                               _mm_cmpeq_epi8(_mm_max_epu8(v, control), control));
  return _mm_movemask_epi8(stops);
}
#elif defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define ENCODE_WORDS 1
#define ENCODE_ONES ((uint64_t)0x0101010101010101u)
#define ENCODE_HIGHS ((uint64_t)0x8080808080808080u)

/* The high bit of the bytes of w that are '"', '\\' or below 0x20, and
 * perhaps of bytes above the first such (the exact tests of "Bit Twiddling
 * Hacks", as in json.c: a borrow only carries upwards). */
static uint64_t encode_word_stops(uint64_t w) {
  uint64_t quote = w ^ (ENCODE_ONES * '"'), backslash = w ^ (ENCODE_ONES * '\\');
  return (((w - ENCODE_ONES * 0x20) & ~w) | ((quote - ENCODE_ONES) & ~quote) |
          ((backslash - ENCODE_ONES) & ~backslash)) &
         ENCODE_HIGHS;
}
#endif

#if defined(ENCODE_SSE2)
/* Whether a byte of first or last (eight bytes each, or four in the low
 * half) needs an escape; zero bytes above four-byte halves are ignored. */
#define encode_halves_stop(first, last)                                                                    \
  (sizeof(first) == 8 ? encode_block_stops(_mm_set_epi64x((long long)(last), (long long)(first))) != 0    \
                      : (encode_block_stops(_mm_set_epi64x(0, (long long)((uint64_t)(first) | (uint64_t)(last) << 32))) & 0xFF) != 0)
#elif defined(ENCODE_WORDS)
#define encode_halves_stop(first, last)                                                                    \
  (sizeof(first) == 8 ? (encode_word_stops((uint64_t)(first)) | encode_word_stops((uint64_t)(last))) != 0 \
                      : encode_word_stops((uint64_t)(first) | (uint64_t)(last) << 32) != 0)
#endif

/* The offset of the first of the len bytes at s that needs an escape, or
 * len. Reads the string itself, never past its end: whole blocks, then the
 * last block again, overlapping (the bytes it has in common with the blocks
 * before are plain); a string shorter than a block as two overlapping
 * halves. (Checking the output's copy instead would load bytes just
 * stored, which the processor cannot forward to a wider load: a stall of
 * its own on every string.) */
static ENCODE_INLINE size_t encode_first_stop(const char *s, size_t len) {
#if defined(ENCODE_SSE2)
  unsigned mask;
  if (len >= 16) {
    size_t i;
    for (i = 0; len - i > 16; i += 16) {
      mask = (unsigned)encode_block_stops(_mm_loadu_si128((const __m128i *)(const void *)(s + i)));
      if (mask != 0)
        return i + (size_t)__builtin_ctz(mask);
    }
    mask = (unsigned)encode_block_stops(_mm_loadu_si128((const __m128i *)(const void *)(s + len - 16)));
    return mask != 0 ? len - 16 + (size_t)__builtin_ctz(mask) : len;
  }
  if (len >= 8) {
    /* bytes 0..7 in lanes 0..7, bytes len-8..len-1 in lanes 8..15 */
    long long first, last;
    memcpy(&first, s, 8);
    memcpy(&last, s + len - 8, 8);
    mask = (unsigned)encode_block_stops(_mm_set_epi64x(last, first));
    if ((mask & 0xFF) != 0)
      return (size_t)__builtin_ctz(mask);
    return mask != 0 ? len - 16 + (size_t)__builtin_ctz(mask) : len;
  }
  if (len >= 4) {
    /* bytes 0..3 in lanes 0..3, bytes len-4..len-1 in lanes 4..7 */
    int first, last;
    memcpy(&first, s, 4);
    memcpy(&last, s + len - 4, 4);
    mask = (unsigned)encode_block_stops(_mm_set_epi32(0, 0, last, first)) & 0xFF;
    if ((mask & 0xF) != 0)
      return (size_t)__builtin_ctz(mask);
    return mask != 0 ? len - 8 + (size_t)__builtin_ctz(mask) : len;
  }
#elif defined(ENCODE_WORDS)
  uint64_t stops;
  if (len >= 8) {
    size_t i;
    uint64_t w;
    for (i = 0; len - i > 8; i += 8) {
      memcpy(&w, s + i, 8);
      if ((stops = encode_word_stops(w)) != 0)
        return i + (size_t)__builtin_ctzll(stops) / 8;
    }
    memcpy(&w, s + len - 8, 8);
    stops = encode_word_stops(w);
    return stops != 0 ? len - 8 + (size_t)__builtin_ctzll(stops) / 8 : len;
  }
  if (len >= 4) {
    uint32_t first, last;
    memcpy(&first, s, 4);
    memcpy(&last, s + len - 4, 4);
    stops = encode_word_stops((uint64_t)first | (uint64_t)last << 32);
    if ((stops & 0xFFFFFFFFu) != 0)
      return (size_t)__builtin_ctzll(stops) / 8;
    return stops != 0 ? len - 8 + (size_t)__builtin_ctzll(stops) / 8 : len;
  }
#endif
  {
    size_t i = 0;
    while (i < len && encode_escapes[(unsigned char)s[i]] == 0)
      i++;
    return i;
  }
}

/* The rest of a string from its first byte that needs an escape: s and
 * len are what is left of it; the opening quote and the plain bytes before
 * are written. Adds the closing quote. */
static ENCODE_NOINLINE int encode_string_escapes(encoder *e, const char *s, size_t len, int is_key) {
  static const char hex[] = "0123456789abcdef";
  size_t i = 0;
  for (;;) {
    unsigned char c = (unsigned char)s[i++];
    char escape = encode_escapes[c], *out;
    size_t plain;
    if (c == 0 && is_key)
      return encode_fail(e, "cannot encode an object key holding a NUL byte");
    /* this escape, the rest unescaped and the closing quote */
    if (!ENCODE_ROOM(e, 6 + (len - i) + 1))
      return 0;
    out = e->buf + e->len;
    out[0] = '\\';
    if (escape == 'u') {
      memcpy(out + 1, "u00", 3);
      out[4] = hex[c >> 4];
      out[5] = hex[c & 15];
      out += 6;
    } else {
      out[1] = escape;
      out += 2;
    }
    /* the plain bytes up to the next escape */
    plain = encode_first_stop(s + i, len - i);
    memcpy(out, s + i, plain);
    out += plain;
    i += plain;
    e->len = (size_t)(out - e->buf);
    if (i == len)
      break;
  }
  e->buf[e->len++] = '"';
  return 1;
}

/* The string s of len bytes, quoted and escaped; a key may not hold a NUL
 * byte (cJSON and many other readers would cut it there). Most strings
 * have nothing to escape and are copied whole: one of up to sixteen bytes
 * as the two overlapping halves it was checked in (no call to memcpy), a
 * longer one with memcpy. From the first byte that needs an escape on,
 * encode_string_escapes writes the rest. */
static ENCODE_INLINE int encode_string(encoder *e, const char *s, size_t len, int is_key) {
  char *out;
  size_t plain;
  if (!ENCODE_ROOM(e, len + 2))
    return 0;
  out = e->buf + e->len;
  out[0] = '"';
#if defined(ENCODE_SSE2) || defined(ENCODE_WORDS)
  if (len >= 8 && len <= 16) {
    uint64_t first, last;
    memcpy(&first, s, 8);
    memcpy(&last, s + len - 8, 8);
    if (!encode_halves_stop(first, last)) {
      memcpy(out + 1, &first, 8);
      memcpy(out + 1 + len - 8, &last, 8);
      out[len + 1] = '"';
      e->len += len + 2;
      return 1;
    }
  } else if (len >= 4 && len < 8) {
    uint32_t first, last;
    memcpy(&first, s, 4);
    memcpy(&last, s + len - 4, 4);
    if (!encode_halves_stop(first, last)) {
      memcpy(out + 1, &first, 4);
      memcpy(out + 1 + len - 4, &last, 4);
      out[len + 1] = '"';
      e->len += len + 2;
      return 1;
    }
  }
#endif
  plain = encode_first_stop(s, len);
  memcpy(out + 1, s, plain);
  if (plain == len) {
    out[len + 1] = '"';
    e->len += len + 2;
    return 1;
  }
  e->len += 1 + plain;
  return encode_string_escapes(e, s + plain, len - plain, is_key);
}

/* ---- tables ------------------------------------------------------------ */

static ENCODE_NOINLINE int encode_table(encoder *e, int idx, int depth, const encode_frame *parent);

static int encode_null(encoder *e) {
  if (!ENCODE_ROOM(e, 4))
    return 0;
  encode_put(e, "null", 4);
  return 1;
}

/* Appends the JSON of the value at idx. On failure leaves a message in e
 * and returns 0 (the stack is then cleaned up by the caller of the whole
 * encode). Inlined in the containers' loops: a table is a call of its own,
 * a scalar is not. */
static ENCODE_INLINE int encode_value(encoder *e, int idx, int depth, const encode_frame *parent) {
  lua_State *L = e->L;
  int type = lua_type(L, idx);
  /* the common types by tests of their own: a switch's one indirect jump
   * is harder to predict when strings, numbers and tables alternate */
  if (type == LUA_TSTRING) {
    size_t len;
    const char *s = lua_tolstring(L, idx, &len);
    return encode_string(e, s, len, 0);
  }
  if (type == LUA_TTABLE)
    return encode_table(e, idx, depth, parent);
  if (type == LUA_TNUMBER)
    return encode_number(e, idx);
  switch (type) {
  case LUA_TBOOLEAN:
    if (!ENCODE_ROOM(e, 5))
      return 0;
    if (lua_toboolean(L, idx))
      encode_put(e, "true", 4);
    else
      encode_put(e, "false", 5);
    return 1;
  case LUA_TNIL:
    return encode_null(e);
  case LUA_TLIGHTUSERDATA:
    if (lua_touserdata(L, idx) == NULL) /* extruct.null */
      return encode_null(e);
    break;
  default:
    break;
  }
  snprintf(e->message, sizeof e->message, "cannot encode a %s", luaL_typename(L, idx));
  return 0;
}


/* A positive integral number key, as an index; 0 for any other key. */
static lua_Number encode_index_key(lua_State *L, int idx) {
  lua_Number k;
  if (lua_type(L, idx) != LUA_TNUMBER)
    return 0;
  k = lua_tonumber(L, idx);
  return (k >= 1 && k == floor(k) && k <= 2147483647.0) ? k : 0;
}

/* Whether the key at idx is the array index i. */
static int encode_is_index(lua_State *L, int idx, lua_Integer i) {
#if EX_HAS_INTEGERS
  return lua_isinteger(L, idx) && lua_tointeger(L, idx) == i;
#else
  return lua_type(L, idx) == LUA_TNUMBER && lua_tonumber(L, idx) == (lua_Number)i;
#endif
}

/* Why the table at contents (marked as an array or not) cannot be written:
 * a key that is neither a string nor a positive integer, integer and
 * string keys together, string keys in a marked table, holes. Sets the
 * message and returns 0. Leaves the stack as it found it. */
static int encode_refuse(encoder *e, int contents, int marked) {
  lua_State *L = e->L;
  lua_Number max_index = 0;
  int n_index = 0, n_string = 0;
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
  if (n_index > 0 && n_string > 0)
    return encode_fail(e, "cannot encode a table with both integer and string keys");
  if (n_string > 0 && marked)
    return encode_fail(e, "cannot encode a table marked as an array that has string keys");
  snprintf(e->message, sizeof e->message,
           "cannot encode a sparse array (%d values under keys up to %.0f): fill the holes "
           "with extruct.null",
           n_index, (double)max_index);
  return 0;
}

/* The members of an object, the first key and value on the stack. */
static int encode_object(encoder *e, int contents, int depth, const encode_frame *self) {
  lua_State *L = e->L;
  int first = 1, value = lua_gettop(L); /* where each value comes */
  e->buf[e->len++] = '{';
  do { /* key, value */
    size_t len;
    const char *key;
    if (lua_type(L, value - 1) != LUA_TSTRING) {
      lua_pop(L, 2);
      return encode_refuse(e, contents, 0);
    }
    key = lua_tolstring(L, value - 1, &len);
    if (!ENCODE_ROOM(e, 1))
      return 0;
    if (!first)
      e->buf[e->len++] = ',';
    first = 0;
    if (e->pretty && !encode_newline(e, depth + 1))
      return 0;
    if (!encode_string(e, key, len, 1)) {
      encode_prepend_key(e, key, strlen(key));
      return 0;
    }
    if (!ENCODE_ROOM(e, 2))
      return 0;
    if (e->pretty)
      encode_put(e, ":\t", 2);
    else
      e->buf[e->len++] = ':';
    if (!encode_value(e, value, depth + 1, self)) {
      encode_prepend_key(e, key, len);
      return 0;
    }
    lua_pop(L, 1); /* the value; the key stays for lua_next */
  } while (lua_next(L, contents));
  if (e->pretty && !encode_newline(e, depth))
    return 0;
  if (!ENCODE_ROOM(e, 1))
    return 0;
  e->buf[e->len++] = '}';
  return 1;
}

/* One element of an array, at value, and its separator. */
static ENCODE_INLINE int encode_element(encoder *e, int value, lua_Integer i, int depth, const encode_frame *self) {
  if (i > 1) {
    if (!ENCODE_ROOM(e, 2))
      return 0;
    if (e->pretty)
      encode_put(e, ", ", 2);
    else
      e->buf[e->len++] = ',';
  }
  if (!encode_value(e, value, depth + 1, self)) {
    encode_prepend_index(e, (lua_Number)i);
    return 0;
  }
  return 1;
}

/* The elements of an array, the first key (a number) and its value on the
 * stack. */
static int encode_array(encoder *e, int contents, int depth, const encode_frame *self, int marked) {
  lua_State *L = e->L;
  lua_Integer n = 0, count = 0, i;
  lua_Number max_index = 0;
  int value = lua_gettop(L); /* where each value comes */
  e->buf[e->len++] = '[';
  /* the elements lua_next gives in order: the table's array part */
  while (encode_is_index(L, value - 1, n + 1)) {
    if (!encode_element(e, value, n + 1, depth, self))
      return 0;
    n++;
    lua_pop(L, 1);
    if (!lua_next(L, contents))
      goto close;
  }
  /* the rest (key n + 1 came later, or never): keys n+1..max, each once */
  do {
    lua_Number k = encode_index_key(L, -2);
    lua_pop(L, 1);
    if (k == 0) {
      lua_pop(L, 1);
      return encode_refuse(e, contents, marked);
    }
    count++;
    if (k > max_index)
      max_index = k;
  } while (lua_next(L, contents));
  if (max_index != (lua_Number)(n + count))
    return encode_refuse(e, contents, marked);
  for (i = n + 1; i <= n + count; i++) {
    lua_rawgeti(L, contents, i);
    if (!encode_element(e, lua_gettop(L), i, depth, self))
      return 0;
    lua_pop(L, 1);
  }
close:
  if (!ENCODE_ROOM(e, 1))
    return 0;
  e->buf[e->len++] = ']';
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

/* Where the contents of the table at idx, whose metatable is not the array
 * one, are read from: idx itself, or, for a table with __pairs (Lua 5.2+),
 * a plain copy of what its pairs gives, pushed on the stack. Fails on a
 * table whose pairs this Lua does not honour (__pairs on 5.1 and LuaJIT). */
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

/* Whether the metatable on top of the stack marks an array: __jsontype =
 * "array" (dkjson's marker, which extruct.array_mt carries too). */
static int encode_is_array_marker(lua_State *L) {
  int marked;
  lua_pushliteral(L, "__jsontype");
  lua_rawget(L, -2);
  marked = lua_type(L, -1) == LUA_TSTRING && strcmp(lua_tostring(L, -1), "array") == 0;
  lua_pop(L, 1);
  return marked;
}

static ENCODE_NOINLINE int encode_table(encoder *e, int idx, int depth, const encode_frame *parent) {
  lua_State *L = e->L;
  int marked = 0, other_metatable = 0, contents = idx, ok;
  encode_frame self;
  const encode_frame *frame;

  if (depth >= ENCODE_MAX_DEPTH) {
    snprintf(e->message, sizeof e->message, "cannot encode tables nested deeper than %d levels",
             ENCODE_MAX_DEPTH);
    return 0;
  }
  /* the metatable and a field of it, the contents' copy and a pcall of its
   * making, then key + value while iterating, and a child's own needs */
  if (!lua_checkstack(L, 8))
    return encode_fail(e, "tables nested too deeply for the Lua stack");
  self.table = lua_topointer(L, idx);
  self.parent = parent;
  for (frame = parent; frame != NULL; frame = frame->parent)
    if (frame->table == self.table)
      return encode_fail(e, "cannot encode a table that contains itself (a cycle)");

  if (lua_getmetatable(L, idx)) {
    if (!e->array_mt_loaded) {
      luaL_getmetatable(L, EX_ARRAY_MT);
      lua_replace(L, ENCODE_ARRAY_MT);
      e->array_mt_loaded = 1;
    }
    if (lua_rawequal(L, -1, ENCODE_ARRAY_MT)) {
      marked = 1;
    } else {
      other_metatable = 1;
      marked = encode_is_array_marker(L);
    }
    lua_pop(L, 1);
    if (other_metatable && !encode_contents(e, idx, &contents))
      return 0;
  }

  lua_pushnil(L);
  if (!lua_next(L, contents)) {
    if (!marked && other_metatable && contents == idx && luaL_getmetafield(L, idx, "__index")) {
      lua_pop(L, 1);
      return encode_fail(e, "cannot encode a table with no keys of its own whose metatable has "
                            "__index (a proxy): copy what it holds into a plain table");
    }
    if (!ENCODE_ROOM(e, 2))
      return 0;
    encode_put(e, marked ? "[]" : "{}", 2);
    ok = 1;
  } else {
    if (!ENCODE_ROOM(e, 1))
      return 0;
    switch (lua_type(L, -2)) {
    case LUA_TSTRING:
      if (marked) {
        lua_pop(L, 2);
        return encode_refuse(e, contents, marked);
      }
      ok = encode_object(e, contents, depth, &self);
      break;
    case LUA_TNUMBER:
      ok = encode_array(e, contents, depth, &self, marked);
      break;
    default:
      lua_pop(L, 2);
      return encode_refuse(e, contents, marked);
    }
  }
  if (ok && contents != idx)
    lua_pop(L, 1);
  return ok;
}

/* Hands the heap block back for the next encode (the upvalue), or frees
 * it now when it has grown past ENCODE_KEEP. */
static void encode_release(encoder *e) {
  lua_State *L = e->L;
  encode_block *block = (encode_block *)lua_touserdata(L, ENCODE_GUARD);
  if (block == NULL)
    return;
  if (block->cap > ENCODE_KEEP) {
    free(block->data);
    block->data = NULL;
    block->cap = 0;
  }
  lua_pushvalue(L, ENCODE_GUARD);
  lua_replace(L, lua_upvalueindex(1));
}

/* core.encode(value[, pretty]) -> text | nil, message
 *
 * Upvalue 1: the heap block kept from the last encode that needed one (as
 * lua-cjson keeps its buffer: a big output then costs no fresh pages from
 * the kernel each time). It is taken off the upvalue while an encode runs,
 * so an encode inside an encode (a __pairs metamethod) makes its own, and
 * one interrupted by a memory error leaves it to the collector. */
static int encode(lua_State *L) {
  encoder e;
  luaL_checkany(L, 1);
  e.pretty = lua_toboolean(L, 2);
  lua_settop(L, 1);
  lua_pushvalue(L, lua_upvalueindex(1)); /* ENCODE_GUARD: the kept block, or nil */
  lua_pushnil(L);
  lua_replace(L, lua_upvalueindex(1));
  lua_pushnil(L); /* ENCODE_ARRAY_MT: the array metatable, once a table has a metatable */
  e.L = L;
  e.buf = e.local;
  e.len = 0;
  e.cap = sizeof e.local;
  e.block = NULL;
  e.array_mt_loaded = 0;
  e.message[0] = '\0';
  e.path[0] = '\0';

  if (!encode_value(&e, 1, 0, NULL)) {
    char message[sizeof e.message + sizeof e.path + 8];
    if (e.path[0] != '\0')
      snprintf(message, sizeof message, "%s at $%s", e.message, e.path);
    else
      snprintf(message, sizeof message, "%s", e.message);
    encode_release(&e);
    lua_settop(L, 0);
    lua_pushnil(L);
    lua_pushstring(L, message);
    return 2;
  }
  lua_pushlstring(L, e.buf, e.len);
  encode_release(&e);
  return 1;
}

void ex_encode_open(lua_State *L) {
  luaL_newmetatable(L, EX_ENCODE_MT);
  lua_pushcfunction(L, encode_block_gc);
  lua_setfield(L, -2, "__gc");
  lua_pop(L, 1);
  lua_pushnil(L); /* no block kept yet */
  lua_pushcclosure(L, encode, 1);
  lua_setfield(L, -2, "encode");
}
