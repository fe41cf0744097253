/* A host program with a SIGINT handler of its own, to show that extruct.core
 * takes SIGINT only while asked to and gives it back: the host's handler
 * sees no Ctrl-C while extruct's is armed, sees it again after
 * core.interrupt_restore(), and after the last lua_State that armed it is
 * closed (the module may be unloaded with it: no handler of its may stay),
 * not before.
 *
 * usage: signal_host   (links the module's sources and a PUC Lua); prints
 * one line per check, "ok ..." or "FAILED ...", and exits 0 when all hold. */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

int luaopen_extruct_core(lua_State *L);

static volatile sig_atomic_t host_saw;
static int failures;

static void host_on_signal(int sig) {
  (void)sig;
  host_saw++;
}

/* A state with extruct.core loaded as the global `core`. */
static lua_State *new_state(void) {
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  lua_pushcfunction(L, luaopen_extruct_core);
  lua_call(L, 0, 1);
  lua_setglobal(L, "core");
  return L;
}

/* Runs `code` in L; its result, a boolean, as 1 or 0 (-1 on an error). */
static int run(lua_State *L, const char *code) {
  int result;
  if (luaL_loadstring(L, code) != 0 || lua_pcall(L, 0, 1, 0) != 0) {
    printf("error: %s\n", lua_tostring(L, -1));
    lua_pop(L, 1);
    return -1;
  }
  result = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return result;
}

static void check(int holds, const char *what) {
  printf("%s %s\n", holds ? "ok" : "FAILED", what);
  if (!holds)
    failures++;
}

/* Sends SIGINT to this process; returns how many the host's handler saw. */
static int ctrl_c(void) {
  int before = host_saw;
  raise(SIGINT);
  return host_saw - before;
}

int main(void) {
  struct sigaction action;
  lua_State *a, *b;
  memset(&action, 0, sizeof action);
  action.sa_handler = host_on_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, NULL);

  a = new_state();
  check(run(a, "return core.interrupt_arm() == true") == 1, "armed");
  check(ctrl_c() == 0 && run(a, "return core.interrupted()") == 1, "Ctrl-C goes to extruct, not to the host");
  check(run(a, "core.interrupt_restore() return not core.interrupted() and not core.interrupt_armed()") == 1,
        "restored: no interrupt recorded");
  check(ctrl_c() == 1, "the host's handler is back");

  check(run(a, "return core.interrupt_arm() == true") == 1, "armed again in a");
  b = new_state();
  check(run(b, "return core.interrupt_arm() == true") == 1, "armed in b too");
  lua_close(a);
  check(ctrl_c() == 0 && run(b, "return core.interrupted()") == 1, "a closed, b still holds it: extruct's");
  check(run(b, "return core.interrupt_arm() == true") == 1, "armed afresh in b");
  lua_close(b);
  check(ctrl_c() == 1, "the last state closed: the host's handler is back");
  return failures == 0 ? 0 : 1;
}
