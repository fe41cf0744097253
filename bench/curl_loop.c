/* The baselines for the round trip: a raw C loop over one reused libcurl
 * easy handle, sending the request extruct sends (its User-Agent, the
 * Accept-Encoding libcurl makes of "" with decoding on, Accept and the
 * bearer token; libcurl formats every header byte by byte, so the same
 * bytes must be sent for a fair comparison) and keeping the body in a reused
 * buffer. Without a sixth argument the body is not decoded: the floor a
 * client can approach. With "cjson", each body is decoded by lua-cjson in a
 * lua_State of the interpreter this program was built with (-DCURL_LOOP_LUA
 * and that Lua's library): what someone assembling libcurl and lua-cjson by
 * hand gets, with no Lua between the two.
 *
 * usage: curl_loop URL TOKEN USER_AGENT CALLS ROUNDS [cjson]
 * prints the best microseconds per call over ROUNDS rounds of CALLS calls,
 * wall time and this process's CPU time (user and system) */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#ifdef CURL_LOOP_LUA
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#endif

typedef struct {
  char *data;
  size_t len, cap;
} buffer;

static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata) {
  buffer *b = (buffer *)userdata;
  size_t len = size * nmemb;
  if (b->len + len > b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 65536;
    while (cap < b->len + len)
      cap *= 2;
    b->data = realloc(b->data, cap);
    if (b->data == NULL)
      return 0;
    b->cap = cap;
  }
  memcpy(b->data + b->len, data, len);
  b->len += len;
  return len;
}

static double seconds(clockid_t clock) {
  struct timespec ts;
  clock_gettime(clock, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  CURL *curl;
  struct curl_slist *headers = NULL;
  char auth[512];
  buffer body = {NULL, 0, 0};
  long calls, rounds, i, r;
  double best = 1e30, best_cpu = 1e30;
  char user_agent[512];
  int decode = argc == 7 && strcmp(argv[6], "cjson") == 0;
#ifdef CURL_LOOP_LUA
  lua_State *L = NULL;
#endif

  if (argc != 6 && !decode) {
    fprintf(stderr, "usage: curl_loop URL TOKEN USER_AGENT CALLS ROUNDS [cjson]\n");
    return 2;
  }
  if (decode) {
#ifdef CURL_LOOP_LUA
    /* cjson.decode at stack index 1 */
    L = luaL_newstate();
    luaL_openlibs(L);
    lua_getglobal(L, "require");
    lua_pushliteral(L, "cjson");
    if (lua_pcall(L, 1, 1, 0) != 0) {
      fprintf(stderr, "curl_loop: %s\n", lua_tostring(L, -1));
      return 1;
    }
    lua_getfield(L, -1, "decode");
    lua_replace(L, 1);
#else
    fprintf(stderr, "curl_loop: built without Lua, cannot decode\n");
    return 2;
#endif
  }
  calls = atol(argv[4]);
  rounds = atol(argv[5]);
  curl_global_init(CURL_GLOBAL_DEFAULT);
  curl = curl_easy_init();
  snprintf(auth, sizeof auth, "Authorization: Bearer %s", argv[2]);
  snprintf(user_agent, sizeof user_agent, "User-Agent: %s", argv[3]);
  headers = curl_slist_append(headers, user_agent);
  headers = curl_slist_append(headers, "Accept: application/json");
  headers = curl_slist_append(headers, auth);
  curl_easy_setopt(curl, CURLOPT_ACCEPT_ENCODING, "");
  curl_easy_setopt(curl, CURLOPT_URL, argv[1]);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  for (r = 0; r < rounds; r++) {
    double start = seconds(CLOCK_MONOTONIC), start_cpu = seconds(CLOCK_PROCESS_CPUTIME_ID), elapsed;
    for (i = 0; i < calls; i++) {
      long status = 0;
      body.len = 0;
      if (curl_easy_perform(curl) != CURLE_OK ||
          curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK || status != 200) {
        fprintf(stderr, "curl_loop: request %ld failed (status %ld)\n", i, status);
        return 1;
      }
#ifdef CURL_LOOP_LUA
      if (decode) {
        lua_pushvalue(L, 1);
        lua_pushlstring(L, body.data, body.len);
        lua_call(L, 1, 1); /* the body is always JSON here */
        if (!lua_istable(L, -1)) {
          fprintf(stderr, "curl_loop: response %ld did not decode\n", i);
          return 1;
        }
        lua_pop(L, 1);
      }
#endif
    }
    elapsed = (seconds(CLOCK_MONOTONIC) - start) / (double)calls * 1e6;
    if (elapsed < best)
      best = elapsed;
    elapsed = (seconds(CLOCK_PROCESS_CPUTIME_ID) - start_cpu) / (double)calls * 1e6;
    if (elapsed < best_cpu)
      best_cpu = elapsed;
  }
  printf("%.1f %.1f\n", best, best_cpu);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  curl_global_cleanup();
  free(body.data);
#ifdef CURL_LOOP_LUA
  if (L != NULL)
    lua_close(L);
#endif
  return 0;
}
