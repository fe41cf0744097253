/* extruct.core: the C half of the extruct module. It owns what needs C:
 * HTTP transfers on libcurl's multi interface (client.c, transfer.c,
 * engine.c; each client's connections in pools of its own, pool.c), JSON
 * to Lua and back in one pass each (json.c, encode.c, dtoa.c), a monotonic
 * clock with a real sleep (clock.c), HTTP/1.1 request bytes and a response
 * parser for transports that own their socket (http1.c), whether a
 * coroutine may yield on Lua 5.1 and 5.2 (coroutine.c), the file calls
 * that replacing a file safely needs (file.c), and Ctrl-C that cancels what
 * is in flight (interrupt.c). Policy lives in lua/extruct/. */
#include <curl/curl.h>

#include "transfer.h"

int luaopen_extruct_core(lua_State *L);

#define EX_KIND_TEXT(name, text) text,
static const char *const core_error_kinds[] = {EX_ERROR_KINDS(EX_KIND_TEXT)};
#undef EX_KIND_TEXT

const char *ex_kind_name(ex_error_kind kind) {
  return core_error_kinds[kind];
}

#define EX_FAILURE_TEXT(name, text) text,
static const char *const core_failures[] = {EX_FAILURES(EX_FAILURE_TEXT)};
#undef EX_FAILURE_TEXT

const char *ex_failure_name(ex_failure failure) {
  return core_failures[failure];
}

/* Pushes core.error_kinds: the list of error kinds, in their order. */
static void core_push_error_kinds(lua_State *L) {
  int i;
  lua_createtable(L, EX_KIND_COUNT, 0);
  for (i = 0; i < EX_KIND_COUNT; i++) {
    lua_pushstring(L, core_error_kinds[i]);
    lua_rawseti(L, -2, i + 1);
  }
}

int luaopen_extruct_core(lua_State *L) {
  /* Once per process; libcurl counts the calls, so hosts that already
   * initialised it (or load the module twice) stay correct. */
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
    return luaL_error(L, "extruct.core: curl_global_init failed");

  lua_newtable(L);
  lua_pushliteral(L, EXTRUCT_VERSION);
  lua_setfield(L, -2, "_VERSION");
  lua_pushstring(L, curl_version());
  lua_setfield(L, -2, "curl_version");
  {
    /* The TLS library libcurl was built with ("OpenSSL/3.0.11"); nil without one. */
    const curl_version_info_data *info = curl_version_info(CURLVERSION_NOW);
    if (info->ssl_version != NULL) {
      lua_pushstring(L, info->ssl_version);
      lua_setfield(L, -2, "curl_ssl_version");
    }
  }
  /* JSON null: NULL as a light userdata, the same value as cjson.null. */
  lua_pushlightuserdata(L, NULL);
  lua_setfield(L, -2, "null");
  core_push_error_kinds(L);
  lua_setfield(L, -2, "error_kinds");
  {
    int i;
    lua_createtable(L, EX_FAILURE_COUNT, 0);
    for (i = 0; i < EX_FAILURE_COUNT; i++) {
      lua_pushstring(L, core_failures[i]);
      lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "failures");
  }

  ex_json_open(L);
  ex_response_open(L);
  ex_encode_open(L);
  ex_client_open(L);
  ex_transfer_open(L);
  ex_engine_open(L);
  ex_clock_open(L);
  ex_term_open(L);
  ex_http1_open(L);
  ex_file_open(L);
  ex_coroutine_open(L);
  ex_interrupt_open(L);
  return 1;
}
