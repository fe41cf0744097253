/* heapscan: counts the copies of a string in the writable memory of the
 * process that loads it, for spec/hostile_spec.lua's check that a closed
 * client leaves no copy of its token behind.
 *
 *   local count = require("heapscan")
 *   count(s) -> how many times s occurs in the process's writable mappings
 *
 * It reads /proc/self/mem region by region into a buffer of its own,
 * mapped apart and left out of the scan, so the scan adds no copies. */
#define _DEFAULT_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lua.h"
#include "lauxlib.h"

#define HEAPSCAN_CHUNK ((size_t)1 << 20)
#define HEAPSCAN_MAX_REGIONS 8192
#define HEAPSCAN_MAX_NEEDLE 4096

typedef struct {
  unsigned long start, end;
} heapscan_region;

typedef struct {
  heapscan_region regions[HEAPSCAN_MAX_REGIONS];
  char needle[HEAPSCAN_MAX_NEEDLE];
  char data[HEAPSCAN_MAX_NEEDLE + HEAPSCAN_CHUNK];
} heapscan_scratch;

static long heapscan_count_in(const char *data, size_t len, const char *needle, size_t needle_len) {
  long n = 0;
  size_t i;
  for (i = 0; i + needle_len <= len; i++)
    if (data[i] == needle[0] && memcmp(data + i, needle, needle_len) == 0)
      n++;
  return n;
}

static int heapscan_count(lua_State *L) {
  size_t needle_len, regions = 0, r;
  const char *s = luaL_checklstring(L, 1, &needle_len);
  heapscan_scratch *scratch;
  unsigned long scratch_start, scratch_end;
  long total = 0;
  char line[512];
  FILE *maps;
  int mem;

  luaL_argcheck(L, needle_len > 0 && needle_len <= HEAPSCAN_MAX_NEEDLE, 1, "length out of range");
  scratch = (heapscan_scratch *)mmap(NULL, sizeof *scratch, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (scratch == MAP_FAILED)
    return luaL_error(L, "heapscan: mmap failed");
  scratch_start = (unsigned long)scratch;
  scratch_end = scratch_start + sizeof *scratch;
  memcpy(scratch->needle, s, needle_len);

  maps = fopen("/proc/self/maps", "r");
  if (maps == NULL) {
    munmap(scratch, sizeof *scratch);
    return luaL_error(L, "heapscan: cannot read /proc/self/maps");
  }
  while (regions < HEAPSCAN_MAX_REGIONS && fgets(line, sizeof line, maps) != NULL) {
    unsigned long start, end;
    char perms[8];
    if (sscanf(line, "%lx-%lx %7s", &start, &end, perms) != 3 || perms[0] != 'r' || perms[1] != 'w')
      continue;
    /* The scratch buffer is left out; the kernel may have merged its
     * mapping with a neighbour (the Lua heap itself), so split around it. */
    if (start < scratch_end && end > scratch_start) {
      if (start < scratch_start && regions < HEAPSCAN_MAX_REGIONS) {
        scratch->regions[regions].start = start;
        scratch->regions[regions++].end = scratch_start;
      }
      if (end > scratch_end && regions < HEAPSCAN_MAX_REGIONS) {
        scratch->regions[regions].start = scratch_end;
        scratch->regions[regions++].end = end;
      }
      continue;
    }
    scratch->regions[regions].start = start;
    scratch->regions[regions].end = end;
    regions++;
  }
  fclose(maps);

  mem = open("/proc/self/mem", O_RDONLY);
  if (mem < 0) {
    munmap(scratch, sizeof *scratch);
    return luaL_error(L, "heapscan: cannot open /proc/self/mem");
  }
  for (r = 0; r < regions; r++) {
    unsigned long at = scratch->regions[r].start;
    size_t carried = 0; /* the end of the last chunk, where a copy may begin */
    while (at < scratch->regions[r].end) {
      size_t want = scratch->regions[r].end - at < HEAPSCAN_CHUNK ? scratch->regions[r].end - at : HEAPSCAN_CHUNK;
      ssize_t got = pread(mem, scratch->data + carried, want, (off_t)at);
      size_t len;
      if (got <= 0)
        break;
      len = carried + (size_t)got;
      total += heapscan_count_in(scratch->data, len, scratch->needle, needle_len);
      carried = needle_len - 1 < len ? needle_len - 1 : len;
      memmove(scratch->data, scratch->data + len - carried, carried);
      at += (unsigned long)got;
    }
  }
  close(mem);
  memset(scratch->needle, 0, needle_len);
  munmap(scratch, sizeof *scratch);
  lua_pushnumber(L, (lua_Number)total);
  return 1;
}

int luaopen_heapscan(lua_State *L);

int luaopen_heapscan(lua_State *L) {
  lua_pushcfunction(L, heapscan_count);
  return 1;
}
