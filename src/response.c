/* The response table built from what a transfer received: the raw header
 * block of the final response and the body bytes. Apart from the transfer,
 * so the fuzzer (fuzz/response_fuzz.c) can feed it any bytes. */
#include <ctype.h>
#include <string.h>

#include "extruct.h"

/* Enough of a non-JSON body to show the user what came instead. */
#define RESPONSE_SNIPPET_LEN 200

/* Pushes a table of the header lines: lower-cased names, repeated headers
 * joined with ", "; the status line and lines without a name are skipped. */
static void response_push_headers(lua_State *L, const char *head, size_t head_len) {
  const char *p = head, *end = head + head_len;
  lua_newtable(L);
  if (head == NULL)
    return;
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
      luaL_pushresult(&name);                           /* headers, name */
      lua_pushvalue(L, -1);                             /* headers, name, name */
      lua_rawget(L, -3);                                /* headers, name, old */
      if (lua_isstring(L, -1)) {
        lua_pushliteral(L, ", ");
        lua_pushlstring(L, value, (size_t)(value_end - value));
        lua_concat(L, 3);                               /* headers, name, joined */
      } else {
        lua_pop(L, 1);
        lua_pushlstring(L, value, (size_t)(value_end - value));
      }
      lua_rawset(L, -3);
    }
    p = line_end + 1;
  }
}

void ex_response_push(lua_State *L, long status, const char *head, size_t head_len, const char *body,
                      size_t body_len) {
  lua_createtable(L, 0, 5);
  lua_pushinteger(L, (lua_Integer)status);
  lua_setfield(L, -2, "status");
  response_push_headers(L, head, head_len);
  lua_setfield(L, -2, "headers");
  if (body_len > 0) {
    if (ex_json_push(L, body, body_len)) {
      lua_setfield(L, -2, "body");
    } else {
      lua_setfield(L, -2, "body_error");
      lua_pushlstring(L, body, body_len < RESPONSE_SNIPPET_LEN ? body_len : RESPONSE_SNIPPET_LEN);
      lua_setfield(L, -2, "body_text");
    }
  }
}
