/* JSON text -> Lua values through cJSON.
 *
 * cJSON builds a tree first; the tree is held by a small userdata (a guard)
 * with a __gc, so a memory error raised while the Lua tables are built
 * cannot leak it. Nesting is bounded twice: cJSON refuses input nested
 * deeper than CJSON_NESTING_LIMIT, and every level of the conversion asks
 * lua_checkstack for room and fails cleanly when there is none.
 *
 * Speed (bench/README.md has the measurements): cJSON's own malloc/free per
 * node and per string cost more than the whole Lua build, so while this
 * module's parse runs on a thread, cJSON allocates from a bump arena owned
 * by the guard (chunks come from the lua_State's allocator and go back in
 * one sweep; no cJSON_Delete). The hooks are installed process-wide with
 * cJSON_InitHooks, once per process, and outside our parse they are plain
 * malloc/free, so other cJSON users in the process keep working; a host
 * that installs its own cJSON hooks replaces ours (decoding still works,
 * without the arena) or is replaced by ours if it installed them first.
 * The collector is stopped while the tables are built, when the host had it
 * running, and restarted on every exit path, a memory error included.
 *
 * Before cJSON sees the text, json_scan checks what cJSON would let through
 * and JSON forbids: numbers outside JSON's grammar ("-01", "2.", "-.5"),
 * control characters (raw in strings, or between tokens other than the
 * four whitespace ones) and \u escapes without four hex digits. It also
 * finds escaped NULs (\u0000): cJSON's strings end at the first NUL, so
 * each one is rewritten to byte 0xFF, which no string of a text without
 * raw 0xFF bytes can otherwise hold, and turned back into NUL when the Lua
 * string is made.
 *
 * Strict or lenient: a lenient decode keeps raw control characters
 * (U+0000..U+001F) inside strings as they are, as cJSON itself and
 * Python's json.loads(strict=False) do, because the Extruct API sends raw
 * newlines inside strings (a Deep Research task echoes its brief so).
 * Everything else is checked the same in both modes. A raw NUL in a string
 * is marked like an escaped one. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "extruct.h"

/* One chunk of the arena; the data follows the header. */
typedef struct json_chunk {
  struct json_chunk *next;
  size_t size; /* bytes of data, for the allocator's free */
} json_chunk;

#define JSON_ALIGN 16
#define JSON_CHUNK_HEADER ((sizeof(json_chunk) + JSON_ALIGN - 1) / JSON_ALIGN * JSON_ALIGN)
/* Bytes of cJSON tree per byte of JSON text, about, on table data (a node
 * is 64 bytes, and every key and string is a block of its own). */
#define JSON_TREE_RATIO 5
#define JSON_MIN_CHUNK ((size_t)16 * 1024)
/* Texts from this size on are converted with the collector paused. */
#define JSON_PAUSE_GC_FROM ((size_t)64 * 1024)
/* The largest chunk a lua_State keeps for its next decode. */
#define JSON_MAX_SPARE ((size_t)64 * 1024 * 1024)

/* Per lua_State (a registry userdata): the allocator arena chunks come
 * from, and one spare chunk kept from the last decode. Reusing it is the
 * single biggest saving on LuaJIT, whose allocator hands big blocks back to
 * the kernel at once, so every decode would fault in fresh pages. */
typedef struct {
  lua_Alloc alloc;
  void *alloc_ud;
  json_chunk *spare;
} json_arena_home;

typedef struct {
  cJSON *root;
  json_arena_home *home; /* NULL: the tree lives in cJSON's malloc */
  json_chunk *chunks;    /* newest first */
  char *next, *end;      /* free space in the newest chunk */
  size_t next_chunk;     /* size the next chunk asks for */
  int out_of_memory;     /* an arena allocation failed during the parse */
} json_tree_guard;

/* The guard whose arena serves cJSON on this thread, while our parse runs. */
static __thread json_tree_guard *json_active;
/* Arena chunks alive on this thread, spares included: the allocation-failure
 * harness checks it is back to zero once its lua_State is closed. */
static __thread long json_live_chunks;

long ex_json_live_chunks(void) { return json_live_chunks; }

static void json_chunk_free(json_arena_home *home, json_chunk *chunk) {
  home->alloc(home->alloc_ud, chunk, JSON_CHUNK_HEADER + chunk->size, 0);
  json_live_chunks--;
}

static json_chunk *json_chunk_new(json_tree_guard *g, size_t size) {
  json_arena_home *home = g->home;
  json_chunk *chunk;
  if (home->spare != NULL && home->spare->size >= size) {
    chunk = home->spare;
    home->spare = NULL;
  } else {
    if (JSON_CHUNK_HEADER + size < size)
      return NULL;
    chunk = (json_chunk *)home->alloc(home->alloc_ud, NULL, 0, JSON_CHUNK_HEADER + size);
    if (chunk == NULL)
      return NULL;
    json_live_chunks++;
    chunk->size = size;
  }
  chunk->next = g->chunks;
  g->chunks = chunk;
  g->next = (char *)chunk + JSON_CHUNK_HEADER;
  g->end = g->next + chunk->size;
  return chunk;
}

static void *json_hook_malloc(size_t size) {
  json_tree_guard *g = json_active;
  size_t need;
  char *p;
  if (g == NULL)
    return malloc(size);
  need = (size + JSON_ALIGN - 1) / JSON_ALIGN * JSON_ALIGN;
  if (need < size)
    return NULL;
  if ((size_t)(g->end - g->next) < need) {
    json_chunk *chunk = json_chunk_new(g, g->next_chunk > need ? g->next_chunk : need);
    if (chunk == NULL) {
      g->out_of_memory = 1;
      return NULL;
    }
    g->next_chunk = chunk->size * 2;
  }
  p = g->next;
  g->next += need;
  return p;
}

/* cJSON frees only what the running parse allocated: an arena block. */
static void json_hook_free(void *p) {
  if (json_active == NULL)
    free(p);
}

/* Frees the tree. keep_spare: the largest chunk stays with the lua_State
 * for the next decode (not from a __gc: at lua_close the home may already
 * be gone). */
static void json_tree_release(json_tree_guard *guard, int keep_spare) {
  json_arena_home *home = guard->home;
  json_chunk *chunk = guard->chunks;
  if (home == NULL && guard->root != NULL)
    cJSON_Delete(guard->root);
  guard->root = NULL;
  while (chunk != NULL) {
    json_chunk *next = chunk->next;
    if (keep_spare && chunk->size <= JSON_MAX_SPARE &&
        (home->spare == NULL || chunk->size > home->spare->size)) {
      if (home->spare != NULL)
        json_chunk_free(home, home->spare);
      home->spare = chunk;
    } else {
      json_chunk_free(home, chunk);
    }
    chunk = next;
  }
  guard->chunks = NULL;
  guard->next = guard->end = NULL;
}

static int json_tree_gc(lua_State *L) {
  json_tree_release((json_tree_guard *)lua_touserdata(L, 1), 0);
  return 0;
}

static int json_home_gc(lua_State *L) {
  json_arena_home *home = (json_arena_home *)lua_touserdata(L, 1);
  if (home->spare != NULL)
    json_chunk_free(home, home->spare);
  home->spare = NULL;
  return 0;
}

static void json_push_number(lua_State *L, double d) {
#if EX_HAS_INTEGERS
  /* Integral values that a double holds exactly (|d| <= 2^53) become Lua
   * integers; -0 stays a float so its sign survives. */
  if (d >= -9007199254740992.0 && d <= 9007199254740992.0 && d == floor(d) &&
      !(d == 0 && signbit(d))) {
    lua_pushinteger(L, (lua_Integer)d);
    return;
  }
#endif
  lua_pushnumber(L, (lua_Number)d);
}

static int json_count_children(const cJSON *item) {
  int n = 0;
  const cJSON *child;
  for (child = item->child; child != NULL; child = child->next)
    n++;
  return n;
}

/* Stands for an escaped NUL inside cJSON's strings (see json_scan). */
#define JSON_NUL_MARK '\xFF'

/* Pushes a string of the tree; with nul_marks, restores the NULs the marks
 * stand for (in place: the tree is ours and is freed right after). */
static void json_push_string(lua_State *L, char *s, int nul_marks) {
  size_t len = strlen(s);
  if (nul_marks) {
    char *mark;
    for (mark = memchr(s, JSON_NUL_MARK, len); mark != NULL;
         mark = memchr(mark + 1, JSON_NUL_MARK, len - (size_t)(mark + 1 - s)))
      *mark = '\0';
  }
  lua_pushlstring(L, s, len);
}

/* Pushes the Lua form of item; arrays get the metatable at stack index
 * array_mt, so an empty array still encodes as []. Returns 0, with nothing
 * reliable on the stack above the caller's top, when the Lua stack cannot
 * grow. */
static int json_push_item(lua_State *L, cJSON *item, int array_mt, int nul_marks) {
  cJSON *child;
  int i;

  /* table + key + value of this level */
  if (!lua_checkstack(L, 3))
    return 0;
  switch (item->type & 0xFF) {
  case cJSON_False:
    lua_pushboolean(L, 0);
    return 1;
  case cJSON_True:
    lua_pushboolean(L, 1);
    return 1;
  case cJSON_NULL:
    lua_pushlightuserdata(L, NULL);
    return 1;
  case cJSON_Number:
    json_push_number(L, item->valuedouble);
    return 1;
  case cJSON_String:
    json_push_string(L, item->valuestring, nul_marks);
    return 1;
  case cJSON_Array:
    lua_createtable(L, json_count_children(item), 0);
    lua_pushvalue(L, array_mt);
    lua_setmetatable(L, -2);
    for (child = item->child, i = 1; child != NULL; child = child->next, i++) {
      if (!json_push_item(L, child, array_mt, nul_marks)) /* array, value */
        return 0;
      lua_rawseti(L, -2, i);
    }
    return 1;
  case cJSON_Object:
    lua_createtable(L, 0, json_count_children(item));
    for (child = item->child; child != NULL; child = child->next) {
      json_push_string(L, child->string, nul_marks); /* object, key */
      if (!json_push_item(L, child, array_mt, nul_marks)) /* object, key, value */
        return 0;
      lua_rawset(L, -3);
    }
    return 1;
  default:
    return 0;
  }
}

static int json_only_whitespace(const char *p, const char *end) {
  for (; p < end; p++)
    if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
      return 0;
  return 1;
}

typedef struct {
  const char *problem; /* NULL when the text has none of the problems below */
  size_t offset;       /* of the problem */
  size_t nul_escapes;  /* \u0000 escapes in strings */
  size_t raw_nuls;     /* raw NUL bytes in strings (lenient decodes only) */
} json_scan_result;

static int json_is_hex(char ch) {
  return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
}

static int json_is_digit(char ch) {
  return ch >= '0' && ch <= '9';
}

/* Length of the number at text[i] (a '-' or a digit) if it has JSON's form,
 * else 0 with *bad at the first byte that breaks it. cJSON reads any run of
 * number characters with strtod, so it takes "-01", "2.", "-.5", "2.e3". */
static size_t json_number_length(const char *text, size_t len, size_t i, size_t *bad) {
  size_t start = i;
  if (text[i] == '-')
    i++;
  if (i < len && text[i] == '0')
    i++;
  else if (i < len && json_is_digit(text[i]))
    while (i < len && json_is_digit(text[i]))
      i++;
  else
    goto malformed;
  if (i < len && json_is_digit(text[i]))
    goto malformed; /* a leading zero */
  if (i < len && text[i] == '.') {
    if (++i >= len || !json_is_digit(text[i]))
      goto malformed;
    while (i < len && json_is_digit(text[i]))
      i++;
  }
  if (i < len && (text[i] == 'e' || text[i] == 'E')) {
    i++;
    if (i < len && (text[i] == '+' || text[i] == '-'))
      i++;
    if (i >= len || !json_is_digit(text[i]))
      goto malformed;
    while (i < len && json_is_digit(text[i]))
      i++;
  }
  return i - start;
malformed:
  *bad = i;
  return 0;
}

/* What a byte inside a string asks of the scan. The bulk of a text is
 * string bytes, so they are told apart by one table look-up each; in a
 * lenient decode, control characters other than NUL are plain bytes. */
enum { JSON_PLAIN, JSON_QUOTE, JSON_BACKSLASH, JSON_CONTROL, JSON_RAW_NUL };

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
    JSON_RAW_NUL, JSON_PLAIN, JSON_PLAIN, JSON_PLAIN, JSON_X4(JSON_PLAIN), JSON_X4(JSON_PLAIN),
    JSON_X4(JSON_PLAIN), JSON_X16(JSON_PLAIN), JSON_PRINTABLE_CLASSES};

#define JSON_ONES ((uint64_t)0x0101010101010101u)
#define JSON_HIGHS ((uint64_t)0x8080808080808080u)

/* Whether one of the eight bytes of w is '"', '\\' or below the byte that
 * below repeats (0x20 strict, 0x01 lenient: a NUL is marked): exact
 * presence tests ("Bit Twiddling Hacks", hasless and haszero). */
static int json_word_stops(uint64_t w, uint64_t below) {
  uint64_t quote = w ^ (JSON_ONES * '"'), backslash = w ^ (JSON_ONES * '\\');
  return ((((w - below) & ~w) | ((quote - JSON_ONES) & ~quote) | ((backslash - JSON_ONES) & ~backslash)) &
          JSON_HIGHS) != 0;
}

/* Index of the quote that ends the string whose content starts at text[i],
 * or len when the text ends first (cJSON then says where). A problem is
 * noted in *r. Plain bytes are skipped eight at a time while they last. */
static size_t json_scan_string(const char *text, size_t len, size_t i, int strict, json_scan_result *r) {
  const unsigned char *classes = strict ? json_strict_string_bytes : json_lenient_string_bytes;
  uint64_t below = JSON_ONES * (strict ? 0x20 : 0x01);
  for (;;) {
    while (i + 8 <= len) {
      uint64_t w;
      memcpy(&w, text + i, 8);
      if (json_word_stops(w, below))
        break;
      i += 8;
    }
    while (i < len && classes[(unsigned char)text[i]] == JSON_PLAIN)
      i++;
    if (i >= len)
      return len;
    switch (classes[(unsigned char)text[i]]) {
    case JSON_QUOTE:
      return i;
    case JSON_BACKSLASH:
      if (i + 1 < len && text[i + 1] == 'u') {
        if (i + 5 >= len || !json_is_hex(text[i + 2]) || !json_is_hex(text[i + 3]) ||
            !json_is_hex(text[i + 4]) || !json_is_hex(text[i + 5])) {
          r->problem = "\\u escape without four hex digits";
          r->offset = i;
          return len;
        }
        if (memcmp(text + i + 2, "0000", 4) == 0)
          r->nul_escapes++;
        i += 6;
      } else {
        i += 2; /* whichever byte is escaped: cJSON judges the escape */
      }
      break;
    case JSON_RAW_NUL:
      r->raw_nuls++;
      i++;
      break;
    default:
      r->problem = "unescaped control character in a string";
      r->offset = i;
      return len;
    }
  }
}

static json_scan_result json_scan(const char *text, size_t len, int strict) {
  json_scan_result r = {NULL, 0, 0, 0};
  size_t i;
  for (i = 0; i < len && r.problem == NULL; i++) {
    unsigned char ch = (unsigned char)text[i];
    if (ch == '"') {
      i = json_scan_string(text, len, i + 1, strict, &r);
    } else if (ch == '-' || json_is_digit((char)ch)) {
      size_t bad = 0, number_len = json_number_length(text, len, i, &bad);
      if (number_len == 0) {
        r.problem = "malformed number";
        r.offset = bad;
      } else {
        i += number_len - 1;
      }
    } else if (ch < 0x20 && ch != '\t' && ch != '\n' && ch != '\r') {
      r.problem = "control character outside a string";
      r.offset = i;
    }
  }
  return r;
}

/* Copies text into a new userdata on the stack with every \u0000 escape
 * and every raw NUL in a string replaced by JSON_NUL_MARK; returns the copy
 * and sets *copy_len. */
static const char *json_mark_nuls(lua_State *L, const char *text, size_t len, size_t nul_escapes,
                                  size_t *copy_len) {
  char *copy = (char *)lua_newuserdata(L, len - 5 * nul_escapes);
  size_t i, n = 0;
  int in_string = 0;
  for (i = 0; i < len; i++) {
    char ch = text[i];
    if (in_string && ch == '\\' && i + 5 < len && memcmp(text + i + 1, "u0000", 5) == 0) {
      copy[n++] = JSON_NUL_MARK;
      i += 5;
      continue;
    }
    if (in_string && ch == '\0') {
      copy[n++] = JSON_NUL_MARK;
      continue;
    }
    copy[n++] = ch;
    if (in_string && ch == '\\' && i + 1 < len)
      copy[n++] = text[++i];
    else if (ch == '"')
      in_string = !in_string;
  }
  *copy_len = n;
  return copy;
}

/* The offset in the caller's text of copy_offset in the copy
 * json_mark_nuls made of it: an escaped NUL was six bytes there, a raw NUL
 * one. The walk is json_mark_nuls's. */
static size_t json_original_offset(const char *text, size_t len, size_t copy_offset) {
  size_t i = 0, n = 0;
  int in_string = 0;
  while (i < len && n < copy_offset) {
    char ch = text[i];
    if (in_string && ch == '\\' && i + 5 < len && memcmp(text + i + 1, "u0000", 5) == 0) {
      i += 6;
      n++;
    } else if (in_string && ch == '\\' && i + 1 < len) {
      i += 2;
      n += 2;
    } else {
      if (ch == '"')
        in_string = !in_string;
      i++;
      n++;
    }
  }
  /* an escaped pair maps byte for byte, so a position inside one does too */
  return n >= copy_offset ? i - (n - copy_offset) : i + (copy_offset - n);
}

/* How deeply nested the text is at offset (strings skipped), to tell a
 * nesting-limit failure from a syntax error. */
static size_t json_depth_at(const char *text, size_t offset) {
  size_t i, depth = 0;
  int in_string = 0;
  for (i = 0; i < offset; i++) {
    char ch = text[i];
    if (in_string) {
      if (ch == '\\')
        i++;
      else if (ch == '"')
        in_string = 0;
    } else if (ch == '"') {
      in_string = 1;
    } else if (ch == '[' || ch == '{') {
      depth++;
    } else if ((ch == ']' || ch == '}') && depth > 0) {
      depth--;
    }
  }
  return depth;
}

/* Frees the tree early, drops everything pushed since top, pushes message. */
static int json_fail(lua_State *L, int top, json_tree_guard *guard, const char *message) {
  json_tree_release(guard, 1);
  lua_settop(L, top);
  lua_pushstring(L, message);
  return 0;
}

typedef struct {
  cJSON *root;
  int nul_marks;
  int ok;
} json_build;

/* Stack: ..., array_mt, build context. Replaces the context with the
 * value; returns 1 (a lua_CFunction, for lua_pcall). */
static int json_build_here(lua_State *L) {
  json_build *build = (json_build *)lua_touserdata(L, -1);
  lua_pop(L, 1);
  build->ok = json_push_item(L, build->root, lua_gettop(L), build->nul_marks);
  return 1;
}

/* Pushes the Lua form of the tree with the collector paused, if it is
 * running and we can tell: 5.1 has no way to ask, so there it keeps
 * running, and only for texts of JSON_PAUSE_GC_FROM bytes and more: on a
 * small one, the pause and the collector's catching up cost more than they
 * save. With the collector paused the build runs under lua_pcall, so a
 * memory error frees the tree and restarts the collector before it goes
 * on to the caller (as a runtime error with Lua's memory message on
 * LuaJIT, which cannot re-raise a memory error as one). */
static int json_build_tables(lua_State *L, json_tree_guard *guard, size_t len, int nul_marks) {
  json_build build;
  int status;
  build.root = guard->root;
  build.nul_marks = nul_marks;
  build.ok = 0;
#ifdef LUA_GCISRUNNING
  if (len >= JSON_PAUSE_GC_FROM && lua_gc(L, LUA_GCISRUNNING, 0) == 1) {
    lua_pushcfunction(L, json_build_here);
    luaL_getmetatable(L, EX_ARRAY_MT);
    lua_pushlightuserdata(L, &build);
    lua_gc(L, LUA_GCSTOP, 0);
    status = lua_pcall(L, 2, 1, 0);
    lua_gc(L, LUA_GCRESTART, 0);
    if (status != 0) {
      json_tree_release(guard, 1);
      lua_error(L);
    }
    return build.ok;
  }
#endif
  (void)status;
  (void)len;
  luaL_getmetatable(L, EX_ARRAY_MT);
  lua_pushlightuserdata(L, &build);
  json_build_here(L);
  return build.ok;
}

int ex_json_push(lua_State *L, const char *text, size_t len, int strict) {
  int top = lua_gettop(L);
  const char *original = text;
  const char *parse_end = NULL;
  json_tree_guard *guard;
  json_scan_result scan;
  size_t original_len = len;

  if (len == 0) {
    lua_pushliteral(L, "empty body where JSON was expected");
    return 0;
  }
  scan = json_scan(text, len, strict);
  if (scan.problem != NULL) {
    char message[96];
    snprintf(message, sizeof message, "invalid JSON: %s at byte %lu of %lu", scan.problem,
             (unsigned long)scan.offset, (unsigned long)len);
    lua_pushstring(L, message);
    return 0;
  }
  if (scan.nul_escapes > 0 || scan.raw_nuls > 0) {
    /* rare enough to look for the mark byte only now */
    if (memchr(text, JSON_NUL_MARK, len) != NULL) {
      if (scan.nul_escapes > 0)
        lua_pushliteral(L, "unsupported JSON: a \\u0000 escape in a text that also holds byte 0xFF");
      else
        lua_pushliteral(L, "unsupported JSON: a raw NUL in a string of a text that also holds byte 0xFF");
      return 0;
    }
    text = json_mark_nuls(L, text, len, scan.nul_escapes, &len); /* kept on the stack */
  }
  /* The guard exists before the tree does, so no error can fall between
   * the parse and the moment something owns the tree. */
  guard = (json_tree_guard *)lua_newuserdata(L, sizeof *guard);
  memset(guard, 0, sizeof *guard);
  luaL_getmetatable(L, EX_TREE_MT);
  lua_setmetatable(L, -2);
  lua_getfield(L, LUA_REGISTRYINDEX, EX_ARENA_KEY);
  guard->home = (json_arena_home *)lua_touserdata(L, -1); /* the registry keeps it */
  lua_pop(L, 1);
  /* The tree takes about JSON_TREE_RATIO times the text: one chunk usually. */
  guard->next_chunk = len * JSON_TREE_RATIO > JSON_MIN_CHUNK ? len * JSON_TREE_RATIO : JSON_MIN_CHUNK;

  /* Another thread's decode has its own json_active; on this thread a
   * decode cannot start inside another, but if it did it would use malloc. */
  if (json_active != NULL)
    guard->home = NULL;
  if (guard->home != NULL)
    json_active = guard;
  guard->root = cJSON_ParseWithLengthOpts(text, len, &parse_end, 0);
  if (guard->home != NULL)
    json_active = NULL;
  /* A tree without a chunk came through hooks a host installed after
   * ours: it belongs to cJSON's allocator. */
  if (guard->chunks == NULL)
    guard->home = NULL;
  if (guard->root == NULL && guard->out_of_memory)
    return json_fail(L, top, guard, "not enough memory to parse the JSON");
  if (guard->root == NULL || !json_only_whitespace(parse_end, text + len)) {
    size_t offset = parse_end != NULL && parse_end >= text ? (size_t)(parse_end - text) : 0;
    size_t depth;
    char message[96];
    if (offset > len)
      offset = len;
    depth = json_depth_at(text, offset);
    if (text != original)
      offset = json_original_offset(original, original_len, offset);
    if (guard->root == NULL && depth >= CJSON_NESTING_LIMIT)
      snprintf(message, sizeof message, "JSON nested deeper than %d levels at byte %lu",
               CJSON_NESTING_LIMIT, (unsigned long)offset);
    else
      snprintf(message, sizeof message, "%s at byte %lu of %lu",
               guard->root == NULL ? "invalid JSON" : "unexpected data after the JSON value",
               (unsigned long)offset, (unsigned long)original_len);
    return json_fail(L, top, guard, message);
  }
  if (!json_build_tables(L, guard, len, text != original))
    return json_fail(L, top, guard, "JSON nested too deeply to convert");
  json_tree_release(guard, 1);
  lua_replace(L, top + 1); /* the value takes the slot of the guard (or the copy) */
  lua_settop(L, top + 1);
  return 1;
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

/* cJSON_InitHooks first resets the hooks to malloc/free and then sets the
 * new ones; had every lua_State that loads the module call it, a load on one
 * thread could make a failing parse on another free arena blocks with free.
 * So the hooks are installed once per process, the first load waiting for
 * it on any other thread; later loads leave whatever hooks are in place. */
static pthread_once_t json_hooks_once = PTHREAD_ONCE_INIT;

static void json_install_hooks(void) {
  cJSON_Hooks hooks = {json_hook_malloc, json_hook_free};
  cJSON_InitHooks(&hooks);
}

static void json_open_arena(lua_State *L) {
  json_arena_home *home;
  lua_getfield(L, LUA_REGISTRYINDEX, EX_ARENA_KEY);
  if (lua_isnil(L, -1)) {
    home = (json_arena_home *)lua_newuserdata(L, sizeof *home);
    home->alloc = lua_getallocf(L, &home->alloc_ud);
    home->spare = NULL;
    lua_newtable(L);
    lua_pushcfunction(L, json_home_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    lua_setfield(L, LUA_REGISTRYINDEX, EX_ARENA_KEY);
  }
  lua_pop(L, 1);
  pthread_once(&json_hooks_once, json_install_hooks);
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
  lua_setfield(L, -2, "array_mt");
  luaL_newmetatable(L, EX_TREE_MT);
  lua_pushcfunction(L, json_tree_gc);
  lua_setfield(L, -2, "__gc");
  lua_pop(L, 1);
  json_open_arena(L);
  ex_setfuncs(L, funcs);
}
