/* What replacing a file without destroying anything needs and Lua's io
 * library cannot do: tell a link, a device or a FIFO from a regular file
 * (lstat, stat, readlink), and create a file exclusively (O_EXCL), whose
 * owner and mode can be set before it is renamed into place. Only the
 * system calls are here; the policy is lua/extruct/file_writer.lua.
 *
 * Failures return nil, the system's message and the errno's name
 * ("ENOENT", "EEXIST"... or "errno N" for the rarer ones), as Lua's io
 * functions return nil, message, errno. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "extruct.h"

#define FILE_MT "extruct.core.file"

/* A file made by core.create_file: its descriptor, -1 once closed. */
typedef struct {
  int fd;
} file_handle;

static const char *file_errno_name(int code) {
  switch (code) {
  case ENOENT: return "ENOENT";
  case EEXIST: return "EEXIST";
  case EACCES: return "EACCES";
  case EPERM: return "EPERM";
  case ENOTDIR: return "ENOTDIR";
  case EISDIR: return "EISDIR";
  case ELOOP: return "ELOOP";
  case ENOSPC: return "ENOSPC";
  case EROFS: return "EROFS";
  case ENAMETOOLONG: return "ENAMETOOLONG";
  default: return NULL;
  }
}

/* Pushes nil, the message and the name of errno `code`; returns 3. */
static int file_failure(lua_State *L, int code) {
  const char *name = file_errno_name(code);
  lua_pushnil(L);
  lua_pushstring(L, strerror(code));
  if (name != NULL)
    lua_pushstring(L, name);
  else
    lua_pushfstring(L, "errno %d", code);
  return 3;
}

static const char *file_type_name(mode_t mode) {
  if (S_ISREG(mode)) return "file";
  if (S_ISDIR(mode)) return "directory";
  if (S_ISLNK(mode)) return "link";
  if (S_ISCHR(mode)) return "character device";
  if (S_ISBLK(mode)) return "block device";
  if (S_ISFIFO(mode)) return "fifo";
  if (S_ISSOCK(mode)) return "socket";
  return "other";
}

/* core.file_info(path [, no_follow]) -> { type, mode, uid, gid, size }:
 * type "file", "directory", "link" (only with no_follow), "character
 * device", "block device", "fifo", "socket" or "other"; mode the permission
 * bits (07777). A link is followed unless no_follow. */
static int file_info(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  int no_follow = lua_toboolean(L, 2);
  struct stat st;
  if ((no_follow ? lstat(path, &st) : stat(path, &st)) != 0)
    return file_failure(L, errno);
  lua_createtable(L, 0, 5);
  lua_pushstring(L, file_type_name(st.st_mode));
  lua_setfield(L, -2, "type");
  lua_pushinteger(L, (lua_Integer)(st.st_mode & 07777));
  lua_setfield(L, -2, "mode");
  lua_pushinteger(L, (lua_Integer)st.st_uid);
  lua_setfield(L, -2, "uid");
  lua_pushinteger(L, (lua_Integer)st.st_gid);
  lua_setfield(L, -2, "gid");
  lua_pushnumber(L, (lua_Number)st.st_size);
  lua_setfield(L, -2, "size");
  return 1;
}

/* core.read_link(path) -> what the symbolic link `path` points to. */
static int file_read_link(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  char target[4096];
  ssize_t len = readlink(path, target, sizeof target);
  if (len < 0)
    return file_failure(L, errno);
  if ((size_t)len >= sizeof target)
    return file_failure(L, ENAMETOOLONG);
  lua_pushlstring(L, target, (size_t)len);
  return 1;
}

/* core.create_file(path, permissions) -> a new file open for writing:
 * created by this call (O_EXCL: never an existing file, never through a
 * link), with the permissions given less the umask. */
static int file_create(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  lua_Integer permissions = luaL_checkinteger(L, 2);
  file_handle *file;
  luaL_argcheck(L, permissions >= 0 && permissions <= 07777, 2, "expected permission bits (0 to 07777)");
  /* the userdata first: nothing can raise once the descriptor is open */
  file = (file_handle *)lua_newuserdata(L, sizeof *file);
  file->fd = -1;
  luaL_getmetatable(L, FILE_MT);
  lua_setmetatable(L, -2);
  file->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, (mode_t)permissions);
  if (file->fd < 0)
    return file_failure(L, errno);
  return 1;
}

static file_handle *file_check_open(lua_State *L) {
  file_handle *file = (file_handle *)luaL_checkudata(L, 1, FILE_MT);
  if (file->fd < 0)
    luaL_argerror(L, 1, "the file is closed");
  return file;
}

/* file:write(text) -> true: all of text, or nil and why. */
static int file_write(lua_State *L) {
  file_handle *file = file_check_open(L);
  size_t len;
  const char *text = luaL_checklstring(L, 2, &len);
  while (len > 0) {
    ssize_t n = write(file->fd, text, len);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return file_failure(L, errno);
    }
    text += n;
    len -= (size_t)n;
  }
  lua_pushboolean(L, 1);
  return 1;
}

/* file:sync() -> true once the data is on the disk (fsync). */
static int file_sync(lua_State *L) {
  file_handle *file = file_check_open(L);
  if (fsync(file->fd) != 0)
    return file_failure(L, errno);
  lua_pushboolean(L, 1);
  return 1;
}

/* file:chown(uid, gid) -> true; -1 leaves that one as it is. */
static int file_chown(lua_State *L) {
  file_handle *file = file_check_open(L);
  uid_t uid = (uid_t)luaL_checkinteger(L, 2);
  gid_t gid = (gid_t)luaL_checkinteger(L, 3);
  if (fchown(file->fd, uid, gid) != 0)
    return file_failure(L, errno);
  lua_pushboolean(L, 1);
  return 1;
}

/* file:chmod(permissions) -> true. */
static int file_chmod(lua_State *L) {
  file_handle *file = file_check_open(L);
  lua_Integer permissions = luaL_checkinteger(L, 2);
  luaL_argcheck(L, permissions >= 0 && permissions <= 07777, 2, "expected permission bits (0 to 07777)");
  if (fchmod(file->fd, (mode_t)permissions) != 0)
    return file_failure(L, errno);
  lua_pushboolean(L, 1);
  return 1;
}

/* file:close() -> true, or nil and why (a write the system had delayed
 * may fail only here); safe to call twice. Also __gc and __close. */
static int file_close(lua_State *L) {
  file_handle *file = (file_handle *)luaL_checkudata(L, 1, FILE_MT);
  int fd = file->fd;
  file->fd = -1;
  if (fd >= 0 && close(fd) != 0 && errno != EINTR)
    return file_failure(L, errno);
  lua_pushboolean(L, 1);
  return 1;
}

void ex_file_open(lua_State *L) {
  static const luaL_Reg methods[] = {
      {"write", file_write}, {"sync", file_sync},   {"chown", file_chown},
      {"chmod", file_chmod}, {"close", file_close}, {NULL, NULL},
  };
  static const luaL_Reg funcs[] = {
      {"file_info", file_info},
      {"read_link", file_read_link},
      {"create_file", file_create},
      {NULL, NULL},
  };
  ex_new_type(L, FILE_MT, methods, file_close, NULL);
  ex_setfuncs(L, funcs);
}
