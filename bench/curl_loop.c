/* The baseline for the round trip: a raw C loop over one reused libcurl
 * easy handle, sending the headers extruct sends and keeping the body in a
 * reused buffer (no JSON decoding: the floor a client can approach).
 *
 * usage: curl_loop URL TOKEN CALLS ROUNDS
 * prints the best microseconds per call over ROUNDS rounds of CALLS calls */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

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

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  CURL *curl;
  struct curl_slist *headers = NULL;
  char auth[512];
  buffer body = {NULL, 0, 0};
  long calls, rounds, i, r;
  double best = 1e30;

  if (argc != 5) {
    fprintf(stderr, "usage: curl_loop URL TOKEN CALLS ROUNDS\n");
    return 2;
  }
  calls = atol(argv[3]);
  rounds = atol(argv[4]);
  curl_global_init(CURL_GLOBAL_DEFAULT);
  curl = curl_easy_init();
  snprintf(auth, sizeof auth, "Authorization: Bearer %s", argv[2]);
  headers = curl_slist_append(headers, "Accept: application/json");
  headers = curl_slist_append(headers, auth);
  curl_easy_setopt(curl, CURLOPT_URL, argv[1]);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  for (r = 0; r < rounds; r++) {
    double start = now(), elapsed;
    for (i = 0; i < calls; i++) {
      long status = 0;
      body.len = 0;
      if (curl_easy_perform(curl) != CURLE_OK ||
          curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK || status != 200) {
        fprintf(stderr, "curl_loop: request %ld failed (status %ld)\n", i, status);
        return 1;
      }
    }
    elapsed = (now() - start) / (double)calls * 1e6;
    if (elapsed < best)
      best = elapsed;
  }
  printf("%.1f\n", best);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  curl_global_cleanup();
  free(body.data);
  return 0;
}
