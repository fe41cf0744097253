/* The connections of one client on one engine: a libcurl share of the
 * connection cache, so a client's connections are its own. Closing (or
 * collecting) the client closes them; no other client, with another token,
 * is ever handed one of them. A transfer's easy handle is set to its
 * client's pool for the engine it runs on (a connection never moves from
 * one multi handle to another), and every socket libcurl opens for the pool
 * is recorded here for the check before reuse (transfer_on_prereq). */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "transfer.h"

/* A new connection of a transfer (userp): it has left libcurl's queue. */
static curl_socket_t pool_open_socket(void *userp, curlsocktype purpose, struct curl_sockaddr *address) {
  ex_transfer *t = (ex_transfer *)userp;
  ex_pool *pool = t->pool;
  curl_socket_t fd = socket(address->family, address->socktype, address->protocol);
  (void)purpose;
  if (t->started_at == 0)
    t->started_at = ex_monotime();
  if (fd == CURL_SOCKET_BAD || pool == NULL)
    return fd;
  if (pool->socket_count == pool->socket_cap) {
    size_t cap = pool->socket_cap ? pool->socket_cap * 2 : 16;
    struct ex_pool_socket *grown = (struct ex_pool_socket *)realloc(pool->sockets, cap * sizeof *grown);
    if (grown == NULL)
      return fd; /* not looked at before reuse, but usable */
    pool->sockets = grown;
    pool->socket_cap = cap;
  }
  pool->sockets[pool->socket_count].fd = fd;
  pool->sockets[pool->socket_count].local_port = pool->sockets[pool->socket_count].peer_port = 0;
  pool->socket_count++;
  return fd;
}

static int pool_close_socket(void *userp, curl_socket_t fd) {
  ex_pool *pool = (ex_pool *)userp;
  size_t i;
  for (i = 0; i < pool->socket_count; i++) {
    if (pool->sockets[i].fd == fd) {
      pool->sockets[i] = pool->sockets[--pool->socket_count];
      break;
    }
  }
  /* (not under a poll handle of the host loop that watches it: engine.c) */
  return ex_engine_close_socket(pool->engine_serial, fd);
}

static int pool_port(const struct sockaddr_storage *address) {
  if (address->ss_family == AF_INET)
    return ntohs(((const struct sockaddr_in *)address)->sin_port);
  if (address->ss_family == AF_INET6)
    return ntohs(((const struct sockaddr_in6 *)address)->sin6_port);
  return -1;
}

curl_socket_t ex_pool_find_socket(ex_pool *pool, int local_port, int peer_port) {
  size_t i;
  for (i = 0; i < pool->socket_count; i++) {
    struct ex_pool_socket *s = &pool->sockets[i];
    if (s->peer_port <= 0) {
      /* a connected socket's ports do not change: asked once */
      struct sockaddr_storage local, peer;
      socklen_t local_len = sizeof local, peer_len = sizeof peer;
      if (getsockname(s->fd, (struct sockaddr *)&local, &local_len) != 0 ||
          getpeername(s->fd, (struct sockaddr *)&peer, &peer_len) != 0)
        continue; /* not connected (yet) */
      s->local_port = pool_port(&local);
      s->peer_port = pool_port(&peer);
    }
    if (s->local_port == local_port && s->peer_port == peer_port)
      return s->fd;
  }
  return CURL_SOCKET_BAD;
}

ex_pool *ex_pool_new(ex_engine *e) {
  ex_pool *pool = (ex_pool *)calloc(1, sizeof *pool);
  if (pool == NULL)
    return NULL;
  pool->share = curl_share_init();
  if (pool->share == NULL || curl_share_setopt(pool->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT) != CURLSHE_OK) {
    if (pool->share != NULL)
      curl_share_cleanup(pool->share);
    free(pool);
    return NULL;
  }
  pool->engine_serial = e->serial;
  pool->pid = (long)getpid();
  return pool;
}

void ex_pool_release(ex_pool *pool) {
  if (pool == NULL || pool->pid != (long)getpid())
    return;
  /* In use, curl keeps the share (and its connections may still call back
   * here): then it stays, rather than be freed under them. */
  if (curl_share_cleanup(pool->share) != CURLSHE_OK)
    return;
  free(pool->sockets);
  free(pool);
}

void ex_pool_attach(ex_transfer *t, ex_pool *pool) {
  if (t->pool == pool)
    return;
  curl_easy_setopt(t->easy, CURLOPT_SHARE, pool != NULL ? pool->share : NULL);
  curl_easy_setopt(t->easy, CURLOPT_OPENSOCKETFUNCTION, pool != NULL ? pool_open_socket : NULL);
  curl_easy_setopt(t->easy, CURLOPT_OPENSOCKETDATA, (void *)t);
  curl_easy_setopt(t->easy, CURLOPT_CLOSESOCKETFUNCTION, pool != NULL ? pool_close_socket : NULL);
  curl_easy_setopt(t->easy, CURLOPT_CLOSESOCKETDATA, (void *)pool);
  t->pool = pool;
}
