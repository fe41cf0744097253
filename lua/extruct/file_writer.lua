--- extruct.file_writer: writes a file without ever destroying what was
--- there. Every command that writes a file (`--output FILE`) goes through
--- it.
---
---   local out, err = file_writer.open("report.md")  -- checks at once
---   if not out then ... end                         -- err.kind == "output"
---   local ok, err = out:write(text, ...)           -- as often as needed
---   if ok then ok, err = out:commit() end          -- FILE now holds it all
---   if not ok then out:abort() end                 -- FILE as it was
---
--- What FILE is decides how it is written:
---   * a regular file, or a name not taken yet: the text goes to a new file
---     beside it, of a fresh unguessable name, created exclusively (never
---     an existing file, never through a link), which `commit` gives the
---     old file's owner (where the system allows) and mode and renames
---     over FILE in one step. Until then FILE is untouched, and a failure
---     or `abort` removes the new file.
---   * a symbolic link: the same, for the file it points to (through any
---     chain of links); the link stays a link.
---   * a device, a FIFO, a socket: written directly, as it comes.
---   * a name for an open descriptor (/dev/stdout, /dev/stderr, /dev/fd/N,
---     /proc/self/fd/N): written directly, appended to whatever the
---     descriptor is (never truncated: `>> log` stays a log).
--- A directory, or a folder that cannot be written, is refused by `open`.
---
--- Writes are buffered (64 KB), so output of any size streams through
--- without being held whole. Failures return nil and an error of kind
--- `output` naming FILE; misuse (a write after commit or abort) raises.

local errors = require("extruct.errors")

local M = {}

--- How much is held before it goes to the file.
M.BUFFER_SIZE = 64 * 1024

-- How many links are followed before the chain counts as a loop (as Linux).
local MAX_LINKS = 40

local core -- extruct.core, loaded on first use (the help pages need none of this)
local function system()
  core = core or require("extruct.core")
  return core
end

local function failure(path, why)
  return nil, errors.new("output", ("cannot write %s: %s"):format(errors.show(path, 300), why))
end

-- The folder of a path and the name in it ("a/b" -> "a", "b"; "b" -> ".", "b").
local function split_path(path)
  local slash = path:match("^.*()/")
  if not slash then return ".", path end
  return slash == 1 and "/" or path:sub(1, slash - 1), path:sub(slash + 1)
end

-- Whether path names an open file descriptor rather than a file.
local function names_descriptor(path)
  return path == "/dev/stdout" or path == "/dev/stderr" or path == "/dev/stdin"
    or path:find("^/dev/fd/%d+$") ~= nil or path:find("^/proc/self/fd/%d+$") ~= nil
    or path:find("^/proc/%d+/fd/%d+$") ~= nil
end

-- The path at the end of a chain of symbolic links from `path` (path
-- itself when it is no link); nil and why for a loop or an unreadable link.
local function resolve_links(path)
  for _ = 1, MAX_LINKS do
    local info = system().file_info(path, true)
    if not info or info.type ~= "link" then return path end
    local target, why = system().read_link(path)
    if not target then return nil, why end
    if target:sub(1, 1) ~= "/" then
      local folder = split_path(path)
      target = folder .. "/" .. target
    end
    path = target
  end
  return nil, "too many levels of symbolic links"
end

-- 16 bytes from the system's random source as hex; when it cannot be read,
-- a mix of the clock and an address (exclusive creation keeps that safe:
-- a name taken is tried again).
local function random_hex()
  local source = io.open("/dev/urandom", "rb")
  local bytes = source and source:read(16)
  if source then source:close() end
  if not bytes or #bytes ~= 16 then
    bytes = ("%s %s %s %s"):format(os.time(), os.clock(), tostring({}), math.random())
  end
  return (bytes:gsub(".", function(c) return ("%02x"):format(c:byte()) end)):sub(1, 32)
end

-- Permissions: of a file being written to replace another (commit gives it
-- the other's), and of a new file (less the umask, as for any new file).
local PRIVATE, NEW = 384, 438 -- 0600, 0666

local REFUSED = { EACCES = true, EPERM = true, EROFS = true }

-- A new file beside `final`, created exclusively: the handle and its name,
-- or nil and why.
local function create_beside(final, permissions)
  local folder, name = split_path(final)
  local why, code
  for _ = 1, 10 do
    -- (hidden, and short enough for any name: a file name has at most 255 bytes)
    local temporary = ("%s/.%s.%s.tmp"):format(folder == "/" and "" or folder, name:sub(1, 180), random_hex())
    local handle
    handle, why, code = system().create_file(temporary, permissions)
    if handle then return handle, temporary end
    if code ~= "EEXIST" then break end
  end
  if REFUSED[code] then
    why = ("%s (it is written to a new file in %s first, then renamed: that folder must be writable)")
      :format(why, errors.show(folder, 300))
  end
  return nil, why
end

-- The reason in a message of Lua's io library ("path: reason").
local function io_reason(why, path)
  why = tostring(why)
  if why:sub(1, #path + 2) == path .. ": " then return why:sub(#path + 3) end
  return why
end

--- A file being written (file_writer.open): write, then commit or abort.
---@class extruct.FileWriter
---@field path string The file's name, as given to open
local Writer = {}
Writer.__index = Writer

--- Opens FILE for writing: a writer, or nil and an `output` error when FILE
--- cannot be written (a directory, a missing or read-only folder...).
--- Nothing in FILE changes before `commit`, except a device, FIFO or
--- descriptor, which is written as the text comes.
---@param path string
---@return extruct.FileWriter? writer
---@return extruct.Error? err
function M.open(path)
  if type(path) ~= "string" or path == "" then
    error("extruct.file_writer.open: expected a file name, got " .. (path == "" and "''" or type(path)), 2)
  end
  local writer = setmetatable({ path = path, buffer = {}, buffered = 0 }, Writer)
  if names_descriptor(path) then
    writer.direct_mode = "ab"
    return writer
  end
  local info, why, code = system().file_info(path)
  if info and info.type == "directory" then return failure(path, "it is a directory") end
  if info and info.type ~= "file" then
    writer.direct_mode = "wb"
    return writer
  end
  if not info and code ~= "ENOENT" then return failure(path, why) end
  -- a regular file, or a new one (perhaps at the end of a dangling link)
  local final, loop = resolve_links(path)
  if not final then return failure(path, loop) end
  local _, name = split_path(final)
  if name == "" then return failure(path, "it names a folder") end
  -- Can a file be made beside it? Known now, not after a long wait: this
  -- probe goes at once, the real file is made when the first text comes.
  local probe, temporary = create_beside(final, PRIVATE)
  if not probe then return failure(path, temporary) end
  probe:close()
  os.remove(temporary)
  writer.final = final
  return writer
end

local function check_usable(writer, method)
  if writer.done then
    error(("extruct.file_writer: %s after the writer was %s"):format(method, writer.done), 3)
  end
end

-- Sends the buffered text on: true, or nil and an error (the writer is
-- then aborted).
local function flush(writer)
  if writer.buffered == 0 and (writer.handle or writer.file) then return true end
  local text = table.concat(writer.buffer)
  writer.buffer, writer.buffered = {}, 0
  local ok, why
  if writer.direct_mode then
    if not writer.file then
      writer.file, why = io.open(writer.path, writer.direct_mode)
      if not writer.file then
        writer:abort()
        return failure(writer.path, io_reason(why, writer.path))
      end
    end
    ok, why = writer.file:write(text)
  else
    if not writer.handle then
      -- the file's owner and mode as they are now, for commit to keep
      local old = system().file_info(writer.final)
      writer.old = old and old.type == "file" and old or nil
      writer.handle, writer.temporary = create_beside(writer.final, writer.old and PRIVATE or NEW)
      if not writer.handle then
        why = writer.temporary
        writer.temporary = nil
        writer:abort()
        return failure(writer.path, why)
      end
    end
    ok, why = writer.handle:write(text)
  end
  if not ok then
    writer:abort()
    return failure(writer.path, why)
  end
  return true
end

--- Writes its arguments (strings or numbers): true, or nil and an `output`
--- error, after which the writer is aborted.
---@param ... string|number
---@return true? ok
---@return extruct.Error? err
function Writer:write(...)
  check_usable(self, "write")
  for i = 1, select("#", ...) do
    local piece = select(i, ...)
    if type(piece) ~= "string" and type(piece) ~= "number" then
      error(("extruct.file_writer: write: argument %d is a %s, not a string"):format(i, type(piece)), 2)
    end
    piece = tostring(piece)
    self.buffer[#self.buffer + 1] = piece
    self.buffered = self.buffered + #piece
  end
  if self.buffered >= M.BUFFER_SIZE then return flush(self) end
  return true
end

--- Puts everything written in FILE: true, or nil and an `output` error,
--- in which case FILE is as it was (a device has what was written so far).
---@return true? ok
---@return extruct.Error? err
function Writer:commit()
  check_usable(self, "commit")
  local ok, err = flush(self)
  if not ok then return nil, err end
  local why
  if self.direct_mode then
    ok, why = self.file:close()
    self.file = nil
    why = why and io_reason(why, self.path)
  else
    local handle = self.handle
    if self.old then
      -- the owner first: a change of owner may clear the set-id bits that
      -- the mode then restores; someone else's file keeps the user's owner
      if not handle:chown(self.old.uid, self.old.gid) then handle:chown(-1, self.old.gid) end
      ok, why = handle:chmod(self.old.mode)
    else
      ok = true
    end
    if ok then ok, why = handle:sync() end
    if ok then ok, why = handle:close() end
    if ok then
      ok, why = os.rename(self.temporary, self.final)
      why = why and io_reason(why, self.temporary)
    end
    if ok then self.temporary = nil end
  end
  if not ok then
    self:abort()
    return failure(self.path, why)
  end
  self.done = "committed"
  return true
end

--- Gives up: FILE stays as it was and the new file beside it is removed.
--- Safe to call more than once, and after a failure.
---@return true
function Writer:abort()
  if self.done == "committed" then return true end
  self.done = "aborted"
  if self.file then self.file:close() end
  if self.handle then self.handle:close() end
  if self.temporary then os.remove(self.temporary) end
  self.file, self.handle, self.temporary = nil, nil, nil
  return true
end

-- A writer dropped unfinished is aborted: when collected (Lua 5.2 and
-- later) or at the end of its scope (`local out <close>`, Lua 5.4).
Writer.__gc = Writer.abort
Writer.__close = Writer.abort

return M
