/* The response table built from what a transfer received: the raw header
 * block of the final response and the body bytes. Apart from the transfer,
 * so the fuzzer (fuzz/response_fuzz.c) can feed it any bytes.
 *
 * Most calls never look at the headers, so their table is made only when
 * response.headers is first read: the response's metatable keeps the raw
 * header block (at [1]) and its __index makes the table from it then, and
 * stores it in the response. A table given the same metatable (the
 * client's last_response) gets the same headers the same way. */
#include <ctype.h>
#include <string.h>

#include "extruct.h"

/* Enough of a non-JSON body to show the user what came instead. */
#define RESPONSE_SNIPPET_LEN 200

/* Joins each list of repeats[name] into headers[name] with ", ". */
static void response_join_repeats(lua_State *L, int headers, int repeats) {
  lua_pushnil(L);
  while (lua_next(L, repeats)) { /* name, list */
    int list = lua_gettop(L);
    int i, n = (int)ex_rawlen(L, list);
    luaL_Buffer joined;
    lua_pushvalue(L, list - 1); /* name, list, name */
    luaL_buffinit(L, &joined);
    for (i = 1; i <= n; i++) {
      if (i > 1)
        luaL_addlstring(&joined, ", ", 2);
      lua_rawgeti(L, list, i);
      luaL_addvalue(&joined);
    }
    luaL_pushresult(&joined);                           /* name, list, name, joined */
    lua_rawset(L, headers);                             /* name, list */
    lua_pop(L, 1);                                      /* name */
  }
}

/* Pushes a table of the header lines: lower-cased names, repeated headers
 * joined with ", "; the status line and lines without a name are skipped.
 * The values of a repeated name are gathered in a list and joined once at
 * the end: joining at every repeat would copy the value so far each time,
 * quadratic in the number of repeats. */
static void response_push_headers(lua_State *L, const char *head, size_t head_len) {
  const char *p = head, *end = head + head_len;
  int headers, repeats = 0;
  lua_newtable(L);
  if (head == NULL)
    return;
  /* name, first value, repeats, list, name, value and a buffer's box */
  luaL_checkstack(L, 8, "response headers");
  headers = lua_gettop(L);
  while (p < end) {
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    const char *line_end = eol ? eol : end;
    const char *colon = memchr(p, ':', (size_t)(line_end - p));
    int status_line = line_end - p >= 5 && memcmp(p, "HTTP/", 5) == 0;
    if (colon != NULL && colon > p && !status_line) {
      const char *value = colon + 1, *value_end = line_end;
      luaL_Buffer name;
      const char *q;
      while (value < value_end && (*value == ' ' || *value == '\t'))
        value++;
      while (value_end > value && isspace((unsigned char)value_end[-1]))
        value_end--;
      luaL_buffinit(L, &name);
      for (q = p; q < colon; q++)
        luaL_addchar(&name, (char)tolower((unsigned char)*q));
      luaL_pushresult(&name);                           /* name */
      lua_pushvalue(L, -1);                             /* name, name */
      lua_rawget(L, headers);                           /* name, first */
      if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_pushlstring(L, value, (size_t)(value_end - value));
        lua_rawset(L, headers);
      } else {
        if (repeats == 0) {
          lua_newtable(L);                              /* name, first, repeats */
          lua_insert(L, headers + 1);
          repeats = headers + 1;
        }
        lua_pushvalue(L, -2);                           /* name, first, name */
        lua_rawget(L, repeats);                         /* name, first, list */
        if (lua_isnil(L, -1)) {
          lua_pop(L, 1);
          lua_createtable(L, 4, 0);                     /* name, first, list */
          lua_pushvalue(L, -2);
          lua_rawseti(L, -2, 1);
          lua_pushvalue(L, -3);                         /* name, first, list, name */
          lua_pushvalue(L, -2);
          lua_rawset(L, repeats);                       /* name, first, list */
        }
        lua_pushlstring(L, value, (size_t)(value_end - value));
        lua_rawseti(L, -2, (int)ex_rawlen(L, -2) + 1);
        lua_pop(L, 3);
      }
    }
    p = line_end + 1;
  }
  if (repeats != 0) {
    response_join_repeats(L, headers, repeats);
    lua_remove(L, repeats);
  }
}

/* The registry key of the __index that every response's metatable shares. */
static const char response_index_key = 0;

/* __index(response, key): the headers, made from the header block the
 * first time they are read; nil for any other key. */
static int response_index(lua_State *L) {
  size_t len = 0;
  const char *key = lua_type(L, 2) == LUA_TSTRING ? lua_tolstring(L, 2, &len) : NULL, *block;
  if (key == NULL || len != 7 || memcmp(key, "headers", 7) != 0 || !lua_getmetatable(L, 1))
    return 0;
  lua_rawgeti(L, -1, 1); /* the block, or nil when there was none */
  block = lua_tolstring(L, -1, &len);
  response_push_headers(L, block, block != NULL ? len : 0);
  lua_pushvalue(L, 2);
  lua_pushvalue(L, -2);
  lua_rawset(L, 1);
  return 1;
}

void ex_response_push(lua_State *L, long status, const char *head, size_t head_len, const char *body,
                      size_t body_len) {
  luaL_checkstack(L, 4, "response");
  lua_createtable(L, 0, 4);
  lua_pushinteger(L, (lua_Integer)status);
  lua_setfield(L, -2, "status");
  lua_createtable(L, 1, 1); /* the metatable */
  lua_pushlightuserdata(L, (void *)&response_index_key);
  lua_rawget(L, LUA_REGISTRYINDEX);
  lua_setfield(L, -2, "__index");
  if (head != NULL) {
    lua_pushlstring(L, head, head_len);
    lua_rawseti(L, -2, 1);
  }
  lua_setmetatable(L, -2);
  if (body_len > 0) {
    /* lenient: the API sends raw newlines inside strings */
    if (ex_json_push(L, body, body_len, 0)) {
      lua_setfield(L, -2, "body");
    } else {
      lua_setfield(L, -2, "body_error");
      lua_pushlstring(L, body, body_len < RESPONSE_SNIPPET_LEN ? body_len : RESPONSE_SNIPPET_LEN);
      lua_setfield(L, -2, "body_text");
    }
  }
}

void ex_response_open(lua_State *L) {
  lua_pushlightuserdata(L, (void *)&response_index_key);
  lua_pushcfunction(L, response_index);
  lua_rawset(L, LUA_REGISTRYINDEX);
}
