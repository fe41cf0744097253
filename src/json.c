/* JSON text -> Lua values through cJSON.
 *
 * cJSON builds a tree first; the tree is held by a small userdata (a guard)
 * with a __gc, so a memory error raised while the Lua tables are built
 * cannot leak it. Nesting is bounded twice: cJSON refuses input nested
 * deeper than CJSON_NESTING_LIMIT, and every level of the conversion asks
 * lua_checkstack for room and fails cleanly when there is none. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "extruct.h"

typedef struct {
  cJSON *root;
} json_tree_guard;

static int json_tree_gc(lua_State *L) {
  json_tree_guard *guard = (json_tree_guard *)lua_touserdata(L, 1);
  if (guard->root != NULL) {
    cJSON_Delete(guard->root);
    guard->root = NULL;
  }
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

/* Pushes the Lua form of item; arrays get the metatable at stack index
 * array_mt, so an empty array still encodes as []. Returns 0, with nothing
 * reliable on the stack above the caller's top, when the Lua stack cannot
 * grow. */
static int json_push_item(lua_State *L, const cJSON *item, int array_mt) {
  const cJSON *child;
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
    lua_pushstring(L, item->valuestring);
    return 1;
  case cJSON_Array:
    lua_createtable(L, json_count_children(item), 0);
    lua_pushvalue(L, array_mt);
    lua_setmetatable(L, -2);
    for (child = item->child, i = 1; child != NULL; child = child->next, i++) {
      if (!json_push_item(L, child, array_mt)) /* array, value */
        return 0;
      lua_rawseti(L, -2, i);
    }
    return 1;
  case cJSON_Object:
    lua_createtable(L, 0, json_count_children(item));
    for (child = item->child; child != NULL; child = child->next) {
      lua_pushstring(L, child->string); /* object, key */
      if (!json_push_item(L, child, array_mt)) /* object, key, value */
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
  if (guard->root != NULL) {
    cJSON_Delete(guard->root);
    guard->root = NULL;
  }
  lua_settop(L, top);
  lua_pushstring(L, message);
  return 0;
}

int ex_json_push(lua_State *L, const char *text, size_t len) {
  int top = lua_gettop(L);
  const char *parse_end = NULL;
  json_tree_guard *guard;

  if (len == 0) {
    lua_pushliteral(L, "empty body where JSON was expected");
    return 0;
  }
  /* The guard exists before the tree does, so no error can fall between
   * the parse and the moment something owns the tree. */
  guard = (json_tree_guard *)lua_newuserdata(L, sizeof *guard);
  guard->root = NULL;
  luaL_getmetatable(L, EX_TREE_MT);
  lua_setmetatable(L, -2);

  guard->root = cJSON_ParseWithLengthOpts(text, len, &parse_end, 0);
  if (guard->root == NULL || !json_only_whitespace(parse_end, text + len)) {
    size_t offset = parse_end != NULL && parse_end >= text ? (size_t)(parse_end - text) : 0;
    char message[96];
    if (offset > len)
      offset = len;
    if (guard->root == NULL && json_depth_at(text, offset) >= CJSON_NESTING_LIMIT)
      snprintf(message, sizeof message, "JSON nested deeper than %d levels at byte %lu",
               CJSON_NESTING_LIMIT, (unsigned long)offset);
    else
      snprintf(message, sizeof message, "%s at byte %lu of %lu",
               guard->root == NULL ? "invalid JSON" : "unexpected data after the JSON value",
               (unsigned long)offset, (unsigned long)len);
    return json_fail(L, top, guard, message);
  }
  luaL_getmetatable(L, EX_ARRAY_MT); /* guard, array_mt */
  if (!json_push_item(L, guard->root, lua_gettop(L)))
    return json_fail(L, top, guard, "JSON nested too deeply to convert");
  cJSON_Delete(guard->root);
  guard->root = NULL;
  lua_replace(L, top + 1); /* the value takes the guard's slot */
  lua_settop(L, top + 1);
  return 1;
}

/* core.decode(text) -> value | nil, message */
static int json_decode(lua_State *L) {
  size_t len;
  const char *text = luaL_checklstring(L, 1, &len);
  lua_settop(L, 1);
  if (ex_json_push(L, text, len))
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
  lua_setfield(L, -2, "array_mt");
  luaL_newmetatable(L, EX_TREE_MT);
  lua_pushcfunction(L, json_tree_gc);
  lua_setfield(L, -2, "__gc");
  lua_pop(L, 1);
  ex_setfuncs(L, funcs);
}
