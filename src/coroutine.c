/* core.can_yield(): whether the running coroutine may yield here, for the
 * Lua versions whose coroutine library cannot tell (5.1 and 5.2; 5.3 and
 * later have coroutine.isyieldable, and so has LuaJIT). A yield across a C
 * call (a table.sort comparator, a gsub callback, on 5.1 a pcall, a
 * metamethod or a for iterator) raises "attempt to yield across a C-call
 * boundary"; extruct.host blocks there instead of yielding.
 *
 * Lua 5.1 and 5.2 keep the count it needs in lua_State, whose layout is not
 * public but is fixed for those two finished versions: it is read through
 * a copy of the layout's first fields, checked first against what the API
 * says (the stack's top and base). Where the check fails (a Lua with
 * another layout), the answer is "no": blocking is always safe. */
#include <lualib.h>

#include "extruct.h"

#if LUA_VERSION_NUM >= 503
static int coroutine_can_yield(lua_State *L) {
  lua_pushboolean(L, lua_isyieldable(L));
  return 1;
}
#elif defined(LUA_JITLIBNAME)
/* LuaJIT has coroutine.isyieldable, and a state of its own: never asked. */
static int coroutine_can_yield(lua_State *L) {
  lua_pushboolean(L, 0);
  return 1;
}
#else

/* The value cell of the stack, as both versions lay it out on 64-bit
 * machines (and 32-bit ones without 5.2's NaN trick). */
typedef struct coroutine_value {
  union {
    void *p;
    double n;
  } value;
  int tt;
} coroutine_value;

#if LUA_VERSION_NUM == 502
/* The first fields of Lua 5.2's lua_State (lstate.h). */
typedef struct coroutine_state {
  void *next;
  unsigned char tt, marked, status;
  coroutine_value *top;
  void *l_G;
  coroutine_value **ci; /* CallInfo, whose first field is the function's slot */
  const void *oldpc;
  coroutine_value *stack_last, *stack;
  int stacksize;
  unsigned short nny; /* calls in the stack that cannot yield */
  unsigned short nCcalls;
} coroutine_state;

static int coroutine_layout_known(lua_State *L, const coroutine_state *s) {
  return s->ci != NULL && s->top == *s->ci + 1 + lua_gettop(L);
}

static int coroutine_yieldable(const coroutine_state *s) {
  return s->nny == 0;
}
#else
/* The first fields of Lua 5.1's lua_State (lstate.h). */
typedef struct coroutine_state {
  void *next;
  unsigned char tt, marked, status;
  coroutine_value *top, *base;
  void *l_G, *ci;
  const void *savedpc;
  coroutine_value *stack_last, *stack;
  void *end_ci, *base_ci;
  int stacksize, size_ci;
  unsigned short nCcalls;   /* nested C calls */
  unsigned short baseCcalls; /* nested C calls when the coroutine was resumed */
} coroutine_state;

static int coroutine_layout_known(lua_State *L, const coroutine_state *s) {
  return s->top == s->base + lua_gettop(L) && s->stack <= s->base && s->base <= s->stack_last;
}

static int coroutine_yieldable(const coroutine_state *s) {
  return s->nCcalls <= s->baseCcalls;
}
#endif

static int coroutine_can_yield(lua_State *L) {
  const coroutine_state *s = (const coroutine_state *)(const void *)L;
  int main_thread = lua_pushthread(L);
  lua_pop(L, 1);
  lua_pushboolean(L, !main_thread && coroutine_layout_known(L, s) && coroutine_yieldable(s));
  return 1;
}
#endif

void ex_coroutine_open(lua_State *L) {
  lua_pushcfunction(L, coroutine_can_yield);
  lua_setfield(L, -2, "can_yield");
}
