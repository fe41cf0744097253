/* JSON text -> Lua values, in one pass.
 *
 * The parser reads the text once and builds the Lua value as it goes, as
 * lua-cjson does, checking RFC 8259's grammar on the way: numbers in JSON's
 * form only ("-01", "2.", "-.5" are refused), no control characters between
 * tokens other than the four whitespace ones, none raw inside strings (in a
 * strict decode), \u escapes with four hex digits, surrogates in pairs. An
 * escaped NUL (\u0000) and, in a lenient decode, a raw one are kept: Lua
 * strings hold any byte.
 *
 * Strict or lenient: a lenient decode keeps raw control characters
 * (U+0000..U+001F) inside strings as they are, as Python's
 * json.loads(strict=False) does, because the Extruct API sends raw newlines
 * inside strings (a Deep Research task echoes its brief so). Everything
 * else is checked the same in both modes.
 *
 * Speed (bench/README.md has the measurements): the members of an object
 * and the elements of an array wait on the Lua stack until the container
 * closes, or until JSON_BATCH of them have come, so most tables are made at
 * their final size in one go and never rehashed while they fill. Plain
 * string bytes are skipped sixteen at a time (SSE2, else eight in a word);
 * a string without escapes goes to lua_pushlstring straight from the text;
 * integers and short decimals are converted without strtod.
 *
 * Numbers are what Lua's tonumber makes of the same text: on 5.3+ digits
 * alone are an integer when 64 bits hold them (9007199254740993 stays
 * exact), a '.' or an exponent makes a float (1.0, 1e2), and an integer
 * beyond 64 bits is the nearest float; on 5.1 and LuaJIT every number is
 * the nearest double.
 *
 * Nothing in C owns memory while Lua may raise: the value being built lives
 * on the Lua stack, so a memory error anywhere leaves nothing behind (the
 * one malloc, for a number too long for a local buffer, is freed before any
 * Lua call). Nesting is bounded twice: deeper than JSON_MAX_DEPTH levels is
 * a decode error, and every level asks lua_checkstack for room and fails
 * cleanly when there is none. The collector is paused while a big text is
 * converted, when the host had it running, and restarted on every exit
 * path, a memory error included. */
#define _POSIX_C_SOURCE 200809L
#include <float.h>
#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SSE2__) && defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
/* Strings are scanned sixteen bytes at a time (x86-64 always has SSE2). */
#define JSON_SSE2 1
#include <emmintrin.h>
#endif

#include "extruct.h"

/* The deepest nesting taken; the encoder refuses the same. */
#define JSON_MAX_DEPTH 1000
/* Texts from this size on are converted with the collector paused. */
#define JSON_PAUSE_GC_FROM ((size_t)64 * 1024)
/* Stack slots the elements (or members, two slots each) of one container
 * may take while they wait to go into its table: bounds what a wide
 * container takes. */
#define JSON_BATCH 256
/* Stack slots all open containers' waiting values may take together: past
 * it a container fills its table as its values come. With the two slots
 * each level holds for itself, 1000 levels stay within the 8000 slots that
 * LuaJIT (and Lua 5.1) let a C function have. */
#define JSON_WAIT_BUDGET 4096
/* Stack room is asked for this many items of a container at once:
 * lua_checkstack would otherwise be a call for every item. */
#define JSON_CHECK_AHEAD 16
/* Escaped strings up to this length are unescaped in the parser's buffer. */
#define JSON_SCRATCH 512
/* Numbers up to this length are copied for strtod in a local buffer. */
#define JSON_NUMBER_BUFFER 64

/* Containers are calls of their own, so that the value dispatch inlined in
 * their loops stays light for the strings, numbers and literals that are
 * most of a text. */
#if defined(__GNUC__)
#define JSON_NOINLINE __attribute__((noinline))
#else
#define JSON_NOINLINE
#endif

/* The registry key of the array metatable (also registered by name). */
static const char json_array_mt_key = 0;

/* A decode is building its value on this thread (the allocation-failure
 * harness counts the failures that hit one). */
static __thread int json_decoding;

int ex_json_decoding(void) { return json_decoding; }

typedef enum {
  JSON_SYNTAX,   /* invalid JSON at byte N */
  JSON_PROBLEM,  /* invalid JSON: <problem> at byte N */
  JSON_DEPTH,    /* nested deeper than JSON_MAX_DEPTH */
  JSON_STACK,    /* the Lua stack cannot grow */
  JSON_TRAILING, /* data after the value */
  JSON_NOMEM     /* the number buffer could not be allocated */
} json_error;

typedef struct {
  lua_State *L;
  const char *text, *end;
  const char *p; /* the next byte to read */
  int strict;
  const unsigned char *classes; /* of the bytes in a string: json_*_string_bytes */
  uint64_t below;               /* for json_word_stops */
#if defined(JSON_SSE2)
  __m128i control; /* for json_block_stops */
#endif
  int depth;
  int waiting;  /* stack slots of values waiting in all open containers */
  int array_mt; /* stack index of the array metatable */
  int ok;       /* the value was built (set by json_run) */
  json_error error;
  const char *problem;
  size_t error_at;
  char scratch[JSON_SCRATCH];
} json_parser;

static int json_fail(json_parser *jp, json_error error, const char *problem, const char *at) {
  jp->error = error;
  jp->problem = problem;
  jp->error_at = (size_t)(at - jp->text);
  return 0;
}

/* What the byte at p (or the end of the text) breaks, where a token or a
 * value was expected. */
static int json_unexpected(json_parser *jp, const char *p) {
  if (p < jp->end && (unsigned char)*p < 0x20)
    return json_fail(jp, JSON_PROBLEM, "control character outside a string", p);
  return json_fail(jp, JSON_SYNTAX, NULL, p);
}

static const char *json_skip_space(const char *p, const char *end) {
  while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
    p++;
  return p;
}

static int json_is_digit(char ch) {
  return ch >= '0' && ch <= '9';
}

static int json_hex_value(char ch) {
  if (ch >= '0' && ch <= '9')
    return ch - '0';
  if (ch >= 'a' && ch <= 'f')
    return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F')
    return ch - 'A' + 10;
  return -1;
}

/* The code unit of the four hex digits at p, or -1. */
static long json_hex4(const char *p) {
  int a = json_hex_value(p[0]), b = json_hex_value(p[1]), c = json_hex_value(p[2]), d = json_hex_value(p[3]);
  if ((a | b | c | d) < 0)
    return -1;
  return ((long)a << 12) | ((long)b << 8) | ((long)c << 4) | (long)d;
}

/* ---- numbers ---------------------------------------------------------- */

/* The powers of ten a double holds exactly. An integer up to 2^53 times or
 * divided by one of them is a single, correctly rounded operation: the
 * double strtod would give (Clinger's fast path). */
static const double json_powers_of_ten[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                            1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                            1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

#define JSON_TWO_53 ((uint64_t)1 << 53)

/* strtod of the number's text, with the locale's decimal point, as C's
 * strtod wants it. Returns 0 when no buffer could be had. */
static int json_strtod(const char *start, size_t len, double *out) {
  char local[JSON_NUMBER_BUFFER];
  char *copy = len < sizeof local ? local : (char *)malloc(len + 1);
  char point = localeconv()->decimal_point[0];
  size_t i;
  if (copy == NULL)
    return 0;
  for (i = 0; i < len; i++)
    copy[i] = start[i] == '.' ? point : start[i];
  copy[len] = '\0';
  *out = strtod(copy, NULL);
  if (copy != local)
    free(copy);
  return 1;
}

/* The number at jp->p (a '-' or a digit). */
static int json_number(json_parser *jp) {
  const char *start = jp->p, *p = start, *end = jp->end;
  uint64_t mantissa = 0;
  int digits = 0, fraction_digits = 0, integral = 1, negative = 0;
  long exponent = 0;
  double d;

  if (*p == '-') {
    negative = 1;
    p++;
  }
  if (p < end && *p == '0') {
    p++;
    if (p < end && json_is_digit(*p))
      return json_fail(jp, JSON_PROBLEM, "malformed number", p); /* a leading zero */
  } else if (p < end && json_is_digit(*p)) {
    do {
      mantissa = mantissa * 10 + (uint64_t)(*p - '0');
      digits++;
      p++;
    } while (p < end && json_is_digit(*p));
  } else {
    return json_fail(jp, JSON_PROBLEM, "malformed number", p);
  }
  if (p < end && *p == '.') {
    const char *first;
    integral = 0;
    if (++p >= end || !json_is_digit(*p))
      return json_fail(jp, JSON_PROBLEM, "malformed number", p);
    first = p;
    do {
      mantissa = mantissa * 10 + (uint64_t)(*p - '0');
      p++;
    } while (p < end && json_is_digit(*p));
    fraction_digits = (int)(p - first < 1000 ? p - first : 1000);
    digits += fraction_digits;
  }
  if (p < end && (*p == 'e' || *p == 'E')) {
    int negative_exponent = 0;
    integral = 0;
    p++;
    if (p < end && (*p == '+' || *p == '-'))
      negative_exponent = *p++ == '-';
    if (p >= end || !json_is_digit(*p))
      return json_fail(jp, JSON_PROBLEM, "malformed number", p);
    do {
      if (exponent < 100000)
        exponent = exponent * 10 + (*p - '0');
      p++;
    } while (p < end && json_is_digit(*p));
    if (negative_exponent)
      exponent = -exponent;
  }
  jp->p = p;

  if (integral) {
    /* digits only: as Lua's tonumber reads them, an integer where one holds
     * it (5.3+: 64 bits, -0 being 0), else the nearest double (5.1, LuaJIT;
     * beyond 64 bits everywhere). 19 digits fit the mantissa; more are
     * beyond 2^63 (JSON has no leading zeros), for strtod. */
    if (digits <= 19) {
#if EX_HAS_INTEGERS
      if (mantissa <= (uint64_t)LUA_MAXINTEGER) {
        lua_Integer i = (lua_Integer)mantissa;
        lua_pushinteger(jp->L, negative ? -i : i);
        return 1;
      }
      if (negative && mantissa == (uint64_t)LUA_MAXINTEGER + 1) {
        lua_pushinteger(jp->L, LUA_MININTEGER);
        return 1;
      }
#endif
      /* a uint64_t converts to the nearest double, -0 included */
      d = (double)mantissa;
      lua_pushnumber(jp->L, (lua_Number)(negative ? -d : d));
      return 1;
    }
  } else {
    exponent -= fraction_digits;
#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD == 0
    if (digits <= 19 && mantissa <= JSON_TWO_53 && exponent >= -22 && exponent <= 22) {
      d = (double)mantissa;
      d = exponent < 0 ? d / json_powers_of_ten[-exponent] : d * json_powers_of_ten[exponent];
      lua_pushnumber(jp->L, (lua_Number)(negative ? -d : d));
      return 1;
    }
#endif
  }
  if (!json_strtod(start, (size_t)(p - start), &d))
    return json_fail(jp, JSON_NOMEM, NULL, start);
  lua_pushnumber(jp->L, (lua_Number)d);
  return 1;
}

/* ---- strings ---------------------------------------------------------- */

/* What a byte inside a string asks of the scan; in a lenient decode,
 * control characters are plain bytes. */
enum { JSON_PLAIN, JSON_QUOTE, JSON_BACKSLASH, JSON_CONTROL };

#define JSON_X4(c) c, c, c, c
#define JSON_X16(c) JSON_X4(c), JSON_X4(c), JSON_X4(c), JSON_X4(c)
#define JSON_X64(c) JSON_X16(c), JSON_X16(c), JSON_X16(c), JSON_X16(c)
/* 0x20..0xFF: '"' (0x22) and '\\' (0x5C) stop the scan, the rest is plain */
#define JSON_PRINTABLE_CLASSES                                                         \
  JSON_PLAIN, JSON_PLAIN, JSON_QUOTE, JSON_PLAIN, JSON_X4(JSON_PLAIN), JSON_X4(JSON_PLAIN), \
      JSON_X4(JSON_PLAIN), JSON_X16(JSON_PLAIN), JSON_X16(JSON_PLAIN),                  \
      JSON_X4(JSON_PLAIN), JSON_X4(JSON_PLAIN), JSON_X4(JSON_PLAIN), JSON_BACKSLASH,    \
      JSON_PLAIN, JSON_PLAIN, JSON_PLAIN, JSON_X16(JSON_PLAIN), JSON_X16(JSON_PLAIN),   \
      JSON_X64(JSON_PLAIN), JSON_X64(JSON_PLAIN)

static const unsigned char json_strict_string_bytes[256] = {
    JSON_X16(JSON_CONTROL), JSON_X16(JSON_CONTROL), JSON_PRINTABLE_CLASSES};

static const unsigned char json_lenient_string_bytes[256] = {
    JSON_X16(JSON_PLAIN), JSON_X16(JSON_PLAIN), JSON_PRINTABLE_CLASSES};

#define JSON_ONES ((uint64_t)0x0101010101010101u)
#define JSON_HIGHS ((uint64_t)0x8080808080808080u)

/* Nonzero when one of the eight bytes of w is '"', '\\' or below the byte
 * that below repeats (0x20 strict; 0 lenient, which no byte is below):
 * exact presence tests ("Bit Twiddling Hacks", hasless and haszero). The
 * lowest byte flagged is a true match (a borrow only carries upwards), so
 * on a little-endian machine it is the first of the eight that stops. */
static uint64_t json_word_stops(uint64_t w, uint64_t below) {
  uint64_t quote = w ^ (JSON_ONES * '"'), backslash = w ^ (JSON_ONES * '\\');
  return (((w - below) & ~w) | ((quote - JSON_ONES) & ~quote) | ((backslash - JSON_ONES) & ~backslash)) &
         JSON_HIGHS;
}

#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
/* The offset in its word of the first byte json_word_stops flagged. */
#define JSON_FIRST_STOP(stops) ((size_t)__builtin_ctzll(stops) / 8)
#else
#define JSON_FIRST_STOP(stops) ((size_t)0) /* the byte loop finds it */
#endif

#if defined(JSON_SSE2)
/* A bit for each of the sixteen bytes at p that is '"', '\\' or not above
 * the byte control repeats (0x1F strict; 0 lenient, so a NUL stops the
 * block scan there only to be found plain by the byte loop). */
static int json_block_stops(const char *p, __m128i control) {
  __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
  __m128i stops = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')), _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))),
                               _mm_cmpeq_epi8(_mm_max_epu8(v, control), control));
  return _mm_movemask_epi8(stops);
}
#endif

/* Appends the UTF-8 form of code point cp at out; returns the new end. */
static char *json_put_utf8(char *out, unsigned long cp) {
  if (cp < 0x80) {
    *out++ = (char)cp;
  } else if (cp < 0x800) {
    *out++ = (char)(0xC0 | (cp >> 6));
    *out++ = (char)(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    *out++ = (char)(0xE0 | (cp >> 12));
    *out++ = (char)(0x80 | ((cp >> 6) & 0x3F));
    *out++ = (char)(0x80 | (cp & 0x3F));
  } else {
    *out++ = (char)(0xF0 | (cp >> 18));
    *out++ = (char)(0x80 | ((cp >> 12) & 0x3F));
    *out++ = (char)(0x80 | ((cp >> 6) & 0x3F));
    *out++ = (char)(0x80 | (cp & 0x3F));
  }
  return out;
}

/* Writes the content of the string from s to stop (escapes in it, every
 * \u already known to have four hex digits) unescaped at out; returns the
 * length, or -1 after noting a bad escape. Never longer than stop - s. */
static long json_unescape(json_parser *jp, const char *s, const char *stop, char *out) {
  char *start = out;
  for (;;) {
    const char *backslash = (const char *)memchr(s, '\\', (size_t)(stop - s));
    long cp, low;
    if (backslash == NULL) {
      memcpy(out, s, (size_t)(stop - s));
      out += stop - s;
      return (long)(out - start);
    }
    memcpy(out, s, (size_t)(backslash - s));
    out += backslash - s;
    s = backslash + 2;
    switch (backslash[1]) {
    case '"':
    case '\\':
    case '/':
      *out++ = backslash[1];
      break;
    case 'b':
      *out++ = '\b';
      break;
    case 'f':
      *out++ = '\f';
      break;
    case 'n':
      *out++ = '\n';
      break;
    case 'r':
      *out++ = '\r';
      break;
    case 't':
      *out++ = '\t';
      break;
    case 'u':
      cp = json_hex4(backslash + 2);
      s = backslash + 6;
      if (cp >= 0xDC00 && cp <= 0xDFFF)
        return json_fail(jp, JSON_SYNTAX, NULL, backslash), -1; /* a lone low surrogate */
      if (cp >= 0xD800 && cp <= 0xDBFF) {
        if (stop - s < 6 || s[0] != '\\' || s[1] != 'u' || (low = json_hex4(s + 2)) < 0xDC00 || low > 0xDFFF)
          return json_fail(jp, JSON_SYNTAX, NULL, backslash), -1; /* a lone high surrogate */
        cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
        s += 6;
      }
      out = json_put_utf8(out, (unsigned long)cp);
      break;
    default:
      return json_fail(jp, JSON_SYNTAX, NULL, backslash), -1;
    }
  }
}

/* The string whose content starts at start, read on from q (no byte
 * between start and q stops the scan): the general path, for escapes,
 * strings longer than one step and the end of the text. Pushes it. */
static JSON_NOINLINE int json_string_rest(json_parser *jp, const char *start, const char *q) {
  const unsigned char *classes = jp->classes;
  const char *end = jp->end;
  int escaped = 0;
  long len;
  for (;;) {
#if defined(JSON_SSE2)
    while (end - q >= 16) {
      int mask = json_block_stops(q, jp->control);
      if (mask != 0) {
        q += __builtin_ctz((unsigned)mask);
        goto stopped;
      }
      q += 16;
    }
#endif
    while (end - q >= 8) {
      uint64_t w, stops;
      memcpy(&w, q, 8);
      stops = json_word_stops(w, jp->below);
      if (stops != 0) {
        q += JSON_FIRST_STOP(stops);
        break;
      }
      q += 8;
    }
#if defined(JSON_SSE2)
  stopped:
#endif
    while (q < end && classes[(unsigned char)*q] == JSON_PLAIN)
      q++;
    if (q >= end)
      return json_fail(jp, JSON_SYNTAX, NULL, end); /* the text ends inside the string */
    switch (classes[(unsigned char)*q]) {
    case JSON_QUOTE:
      goto closed;
    case JSON_BACKSLASH:
      escaped = 1;
      if (end - q >= 2 && q[1] == 'u') {
        if (end - q < 6 || json_hex4(q + 2) < 0)
          return json_fail(jp, JSON_PROBLEM, "\\u escape without four hex digits", q);
        q += 6;
      } else {
        q += 2; /* whichever byte is escaped: json_unescape judges the escape */
        if (q > end)
          return json_fail(jp, JSON_SYNTAX, NULL, end);
      }
      break;
    default:
      return json_fail(jp, JSON_PROBLEM, "unescaped control character in a string", q);
    }
  }
closed:
  jp->p = q + 1;
  if (!escaped) {
    lua_pushlstring(jp->L, start, (size_t)(q - start));
    return 1;
  }
  if (q - start <= JSON_SCRATCH) {
    if ((len = json_unescape(jp, start, q, jp->scratch)) < 0)
      return 0;
    lua_pushlstring(jp->L, jp->scratch, (size_t)len);
  } else {
    /* the Lua stack owns the buffer: a memory error cannot leak it */
    char *buffer = (char *)lua_newuserdata(jp->L, (size_t)(q - start));
    if ((len = json_unescape(jp, start, q, buffer)) < 0)
      return 0;
    lua_pushlstring(jp->L, buffer, (size_t)len);
    lua_remove(jp->L, -2);
  }
  return 1;
}

/* The string whose opening quote is at jp->p: pushes it. Most strings are
 * short and plain: their closing quote is in the first sixteen bytes, and
 * they go to Lua straight from the text. */
static int json_string(json_parser *jp) {
  const char *start = jp->p + 1;
#if defined(JSON_SSE2)
  if (jp->end - start >= 16) {
    int mask = json_block_stops(start, jp->control);
    const char *q;
    if (mask == 0)
      return json_string_rest(jp, start, start + 16);
    q = start + __builtin_ctz((unsigned)mask);
    if (*q != '"')
      return json_string_rest(jp, start, q);
    jp->p = q + 1;
    lua_pushlstring(jp->L, start, (size_t)(q - start));
    return 1;
  }
#endif
  return json_string_rest(jp, start, start);
}

/* ---- containers ------------------------------------------------------- */

static int json_array(json_parser *jp);
static int json_object(json_parser *jp);

/* The value at jp->p (whitespace skipped): pushes it and moves jp->p past
 * it. Returns 0 with the error noted, and anything left on the stack above
 * where it started. */
static int json_value(json_parser *jp) {
  const char *p = jp->p;
  size_t left = (size_t)(jp->end - p);
  if (left == 0)
    return json_unexpected(jp, p);
  switch (*p) {
  case '"':
    return json_string(jp);
  case '{':
    return json_object(jp);
  case '[':
    return json_array(jp);
  case 't':
    if (left >= 4 && memcmp(p, "true", 4) == 0) {
      lua_pushboolean(jp->L, 1);
      jp->p = p + 4;
      return 1;
    }
    break;
  case 'f':
    if (left >= 5 && memcmp(p, "false", 5) == 0) {
      lua_pushboolean(jp->L, 0);
      jp->p = p + 5;
      return 1;
    }
    break;
  case 'n':
    if (left >= 4 && memcmp(p, "null", 4) == 0) {
      lua_pushlightuserdata(jp->L, NULL);
      jp->p = p + 4;
      return 1;
    }
    break;
  default:
    if (*p == '-' || json_is_digit(*p))
      return json_number(jp);
  }
  return json_unexpected(jp, p);
}

/* Moves the count values waiting above the container's slot (base + 1, or
 * base + 2 once its table exists there) into its table, making the table
 * first (sized for them) if it does not exist; leaves the table at base + 1
 * and nothing above it. Needs two free slots. */
static void json_store(lua_State *L, int base, int count, int made, int is_array, lua_Integer stored) {
  int first = base + 1 + made, table, i;
  if (!made) {
    if (is_array)
      lua_createtable(L, count, 0);
    else
      lua_createtable(L, 0, count / 2);
    if (count == 0)
      return; /* the table is at base + 1 already */
    table = lua_gettop(L);
  } else {
    table = base + 1;
  }
  if (is_array) {
    for (i = 0; i < count; i++) {
      lua_pushvalue(L, first + i);
      lua_rawseti(L, table, (int)(stored + i + 1));
    }
  } else {
    for (i = 0; i < count; i += 2) {
      lua_pushvalue(L, first + i);
      lua_pushvalue(L, first + i + 1);
      lua_rawset(L, table); /* in order, so the later of duplicate keys wins */
    }
  }
  if (!made)
    lua_replace(L, base + 1);
  lua_settop(L, base + 1);
}

/* Asks for stack room for the next items of a container, each of which
 * leaves `per_item` slots waiting, with `extra` more free above the last of
 * them (what it takes while it is parsed, or stored). Returns how many
 * items the room covers: JSON_CHECK_AHEAD, else 1 near the limit, else 0. */
static int json_room(lua_State *L, int per_item, int extra) {
  if (lua_checkstack(L, per_item * JSON_CHECK_AHEAD + extra))
    return JSON_CHECK_AHEAD;
  return lua_checkstack(L, per_item + extra) ? 1 : 0;
}

/* The array whose '[' is at jp->p: pushes it, marked with the array
 * metatable. */
static JSON_NOINLINE int json_array(json_parser *jp) {
  lua_State *L = jp->L;
  const char *p, *end = jp->end;
  int base = lua_gettop(L), waiting = 0, made = 0, room = 0;
  lua_Integer stored = 0;

  if (++jp->depth > JSON_MAX_DEPTH)
    return json_fail(jp, JSON_DEPTH, NULL, jp->p);
  p = json_skip_space(jp->p + 1, end);
  if (p < end && *p == ']') {
    p++;
  } else {
    for (;;) {
      /* each value waits in a slot; the table and a copy when they are stored */
      if (waiting == JSON_BATCH || jp->waiting >= JSON_WAIT_BUDGET || (room == 0 && (room = json_room(L, 1, 2)) == 0)) {
        json_store(L, base, waiting, made, 1, stored);
        stored += waiting;
        jp->waiting -= waiting;
        waiting = 0;
        made = 1;
        if ((room = json_room(L, 1, 2)) == 0)
          return json_fail(jp, JSON_STACK, NULL, p);
      }
      room--;
      jp->p = p;
      if (!json_value(jp))
        return 0;
      waiting++;
      jp->waiting++;
      p = json_skip_space(jp->p, end);
      if (p < end && *p == ',') {
        p = json_skip_space(p + 1, end);
        continue;
      }
      if (p < end && *p == ']') {
        p++;
        break;
      }
      return json_unexpected(jp, p);
    }
  }
  jp->p = p;
  if (!lua_checkstack(L, 2))
    return json_fail(jp, JSON_STACK, NULL, p);
  json_store(L, base, waiting, made, 1, stored);
  jp->waiting -= waiting;
  lua_pushvalue(L, jp->array_mt);
  lua_setmetatable(L, -2);
  jp->depth--;
  return 1;
}

/* The object whose '{' is at jp->p: pushes it. */
static JSON_NOINLINE int json_object(json_parser *jp) {
  lua_State *L = jp->L;
  const char *p, *end = jp->end;
  int base = lua_gettop(L), waiting = 0, made = 0, room = 0;

  if (++jp->depth > JSON_MAX_DEPTH)
    return json_fail(jp, JSON_DEPTH, NULL, jp->p);
  p = json_skip_space(jp->p + 1, end);
  if (p < end && *p == '}') {
    p++;
  } else {
    for (;;) {
      /* key and value wait in two slots; the table and copies of both when stored */
      if (waiting == JSON_BATCH || jp->waiting >= JSON_WAIT_BUDGET || (room == 0 && (room = json_room(L, 2, 3)) == 0)) {
        json_store(L, base, waiting, made, 0, 0);
        jp->waiting -= waiting;
        waiting = 0;
        made = 1;
        if ((room = json_room(L, 2, 3)) == 0)
          return json_fail(jp, JSON_STACK, NULL, p);
      }
      room--;
      if (p >= end || *p != '"')
        return json_unexpected(jp, p);
      jp->p = p;
      if (!json_string(jp))
        return 0;
      p = json_skip_space(jp->p, end);
      if (p >= end || *p != ':')
        return json_unexpected(jp, p);
      jp->p = json_skip_space(p + 1, end);
      if (!json_value(jp))
        return 0;
      waiting += 2;
      jp->waiting += 2;
      p = json_skip_space(jp->p, end);
      if (p < end && *p == ',') {
        p = json_skip_space(p + 1, end);
        continue;
      }
      if (p < end && *p == '}') {
        p++;
        break;
      }
      return json_unexpected(jp, p);
    }
  }
  jp->p = p;
  json_store(L, base, waiting, made, 0, 0);
  jp->waiting -= waiting;
  jp->depth--;
  return 1;
}

/* ---- the whole text --------------------------------------------------- */

/* Parses the whole text: pushes its value and sets jp->ok, or pushes
 * nothing (what was built is dropped). Needs three free slots. */
static void json_run(json_parser *jp) {
  lua_State *L = jp->L;
  int top = lua_gettop(L);
  const char *after;
  lua_pushlightuserdata(L, (void *)&json_array_mt_key);
  lua_rawget(L, LUA_REGISTRYINDEX);
  jp->array_mt = top + 1;
  jp->p = json_skip_space(jp->p, jp->end);
  jp->ok = json_value(jp);
  if (jp->ok) {
    after = json_skip_space(jp->p, jp->end);
    if (after != jp->end)
      jp->ok = json_fail(jp, JSON_TRAILING, NULL, jp->p);
  }
  if (jp->ok) {
    lua_replace(L, top + 1); /* the value takes the metatable's slot */
    lua_settop(L, top + 1);
  } else {
    lua_settop(L, top);
  }
}

#ifdef LUA_GCISRUNNING
/* json_run under lua_pcall: the parser comes as a light userdata. */
static int json_run_protected(lua_State *L) {
  json_parser *jp = (json_parser *)lua_touserdata(L, 1);
  lua_pop(L, 1);
  json_run(jp);
  return jp->ok;
}
#endif

static void json_push_error(lua_State *L, const json_parser *jp) {
  char message[128];
  unsigned long at = (unsigned long)jp->error_at, len = (unsigned long)(jp->end - jp->text);
  switch (jp->error) {
  case JSON_PROBLEM:
    snprintf(message, sizeof message, "invalid JSON: %s at byte %lu of %lu", jp->problem, at, len);
    break;
  case JSON_DEPTH:
    snprintf(message, sizeof message, "JSON nested deeper than %d levels at byte %lu", JSON_MAX_DEPTH, at);
    break;
  case JSON_STACK:
    snprintf(message, sizeof message, "JSON nested too deeply to convert");
    break;
  case JSON_TRAILING:
    snprintf(message, sizeof message, "unexpected data after the JSON value at byte %lu of %lu", at, len);
    break;
  case JSON_NOMEM:
    snprintf(message, sizeof message, "not enough memory to parse the JSON");
    break;
  default:
    snprintf(message, sizeof message, "invalid JSON at byte %lu of %lu", at, len);
  }
  lua_pushstring(L, message);
}

int ex_json_push(lua_State *L, const char *text, size_t len, int strict) {
  json_parser jp;
  if (len == 0) {
    lua_pushliteral(L, "empty body where JSON was expected");
    return 0;
  }
  jp.L = L;
  jp.text = text;
  jp.end = text + len;
  /* a UTF-8 byte-order mark before the value is skipped */
  jp.p = len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0 ? text + 3 : text;
  jp.strict = strict;
  jp.classes = strict ? json_strict_string_bytes : json_lenient_string_bytes;
  jp.below = strict ? JSON_ONES * 0x20 : 0;
#if defined(JSON_SSE2)
  jp.control = _mm_set1_epi8(strict ? 0x1F : 0);
#endif
  jp.depth = 0;
  jp.waiting = 0;
  jp.ok = 0;
  jp.error = JSON_SYNTAX;
  jp.problem = NULL;
  jp.error_at = 0;
  if (!lua_checkstack(L, 4)) {
    lua_pushliteral(L, "JSON nested too deeply to convert");
    return 0;
  }
  json_decoding = 1;
#ifdef LUA_GCISRUNNING
  /* On a big text, building with the collector paused saves more than the
   * collector's catching up afterwards costs; on a small one it does not.
   * Paused, the parse runs under lua_pcall so that a memory error restarts
   * the collector before it goes on to the caller (as a runtime error with
   * Lua's memory message on LuaJIT, which cannot re-raise a memory error as
   * one). 5.1 has no way to ask whether the collector runs, so there it
   * keeps running. */
  if (len >= JSON_PAUSE_GC_FROM && lua_gc(L, LUA_GCISRUNNING, 0) == 1) {
    int status;
    lua_pushcfunction(L, json_run_protected);
    lua_pushlightuserdata(L, &jp);
    lua_gc(L, LUA_GCSTOP, 0);
    status = lua_pcall(L, 1, 1, 0);
    lua_gc(L, LUA_GCRESTART, 0);
    json_decoding = 0;
    if (status != 0)
      lua_error(L);
    if (!jp.ok)
      lua_pop(L, 1); /* lua_pcall's nil */
  } else
#endif
  {
    json_run(&jp);
    json_decoding = 0;
  }
  if (jp.ok)
    return 1;
  json_push_error(L, &jp);
  return 0;
}

/* core.decode(text [, strict]) -> value | nil, message; strict unless
 * strict is false (see ex_json_push) */
static int json_decode(lua_State *L) {
  size_t len;
  const char *text = luaL_checklstring(L, 1, &len);
  int strict = 1;
  if (!lua_isnoneornil(L, 2)) {
    luaL_checktype(L, 2, LUA_TBOOLEAN);
    strict = lua_toboolean(L, 2);
  }
  lua_settop(L, 1);
  if (ex_json_push(L, text, len, strict))
    return 1;
  lua_pushnil(L);
  lua_insert(L, -2);
  return 2;
}

void ex_json_open(lua_State *L) {
  static const luaL_Reg funcs[] = {
      {"decode", json_decode},
      {NULL, NULL},
  };
  /* Marks tables that are JSON arrays, decoded or made by extruct.array:
   * the encoder writes them as [] even when empty. */
  luaL_newmetatable(L, EX_ARRAY_MT);
  lua_pushliteral(L, "array");
  lua_setfield(L, -2, "__jsontype");
  lua_pushlightuserdata(L, (void *)&json_array_mt_key);
  lua_pushvalue(L, -2);
  lua_rawset(L, LUA_REGISTRYINDEX);
  lua_setfield(L, -2, "array_mt");
  ex_setfuncs(L, funcs);
}
