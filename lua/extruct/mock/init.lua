--- extruct.mock: a mock Extruct API server, for offline development and
--- tests. This is its public entry: start a server (new), run the command
--- (main), and its JSON (null, array, encode_json, decode_json).
--
--   local mock = require("extruct.mock")
--   local server = assert(mock.new{ port = 0, quiet = true })
--   print(server:url()); server:run()      -- or server:step() from a host loop
--
-- Pure Lua on luasocket; runs on Lua 5.1 to 5.4 and LuaJIT. Its parts:
--   extruct.mock.command   the extruct-mock command and its usage text
--   extruct.mock.server    the HTTP/1.1 server: connections and their scheduler
--   extruct.mock.http      HTTP on the wire: reading requests, writing answers
--   extruct.mock.control   the control API under /_mock/
--   extruct.mock.faults    what a queued fault does to an answer
--   extruct.mock.fake      the offline Extruct it serves (extruct.mock.fake.*)
--   extruct.mock.json      its JSON
-- luasocket is loaded when a server starts, so that `--help` and the JSON
-- functions work where it is not installed.

local json = require("extruct.mock.json")
local command = require("extruct.mock.command")

local M = {}

M._VERSION = "0.1.0"

--- The command's usage text (`extruct-mock --help`).
M.USAGE = command.USAGE

--- The JSON null: a unique sentinel.
M.null = json.null

--- Tables with this metatable encode as JSON arrays; all others as objects,
--- so an empty array ([]) and an empty object ({}) stay distinct.
M.array_mt = json.array_mt

--- Marks t (default: a new table) as a JSON array and returns it.
M.array = json.array

--- Encodes a Lua value as JSON text. Arrays must carry M.array_mt (see
--- M.array); M.null encodes as null; object keys come out sorted.
M.encode_json = json.encode

--- Decodes JSON text: the value, or nil, a message and the byte position.
M.decode_json = json.decode

local floor, format = math.floor, string.format

local OPTION_TYPES = {
  host = "string", port = "number", token = "string", polls = "number", quiet = "boolean",
  log = "file", idle_timeout = "number", cells_per_poll = "number", plan = "string",
}
local PLANS = { pro = true, starter = true, free = true }

local DEFAULT_CELLS_PER_POLL = 10

--- A bound server. opts: host ("127.0.0.1"), port (8080; 0 for a free one),
--- token ("mock-token"), polls (3), cells_per_poll (10), plan ("pro", "starter"
--- or "free"; default "pro"), quiet (false), log (a file for the request
--- log, io.stderr), idle_timeout (30 s). Raises on a bad option; returns nil
--- and a message when the address cannot be bound.
function M.new(opts)
  opts = opts or {}
  for name, value in pairs(opts) do
    local expected = OPTION_TYPES[name]
    if not expected then error("extruct.mock.new: unknown option '" .. tostring(name) .. "'", 2) end
    local actual = type(value)
    if expected == "file" and (actual == "userdata" or actual == "table") then
      actual = "file" -- anything with a :write method
    end
    if actual ~= expected then
      error(format("extruct.mock.new: option '%s' must be a %s", name, expected), 2)
    end
  end
  local port = opts.port or 8080
  if port ~= floor(port) or port < 0 or port > 65535 then error("extruct.mock.new: bad port", 2) end
  local polls = opts.polls or 3
  if polls ~= floor(polls) or polls < 0 then error("extruct.mock.new: bad polls", 2) end
  local token = opts.token or "mock-token"
  if token == "" or token:find("%c") then error("extruct.mock.new: bad token", 2) end
  local cells_per_poll = opts.cells_per_poll or DEFAULT_CELLS_PER_POLL
  if cells_per_poll ~= floor(cells_per_poll) or cells_per_poll < 1 or cells_per_poll > 1e9 then
    error("extruct.mock.new: bad cells_per_poll (a whole number >= 1)", 2)
  end
  if opts.plan ~= nil and not PLANS[opts.plan] then error("extruct.mock.new: bad plan (pro, starter or free)", 2) end
  return require("extruct.mock.server").new{
    host = opts.host or "127.0.0.1", port = port, token = token, polls = polls,
    cells_per_poll = cells_per_poll, quiet = opts.quiet or false, log = opts.log or io.stderr,
    idle_timeout = opts.idle_timeout, plan = opts.plan,
  }
end

--- Runs the server from command-line arguments; returns the exit code.
M.main = command.main

return M
