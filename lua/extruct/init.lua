-- extruct: the Lua client for the Extruct API.
--
--   local extruct = require("extruct")
--   local t, err = extruct.get_table("tbl_123")
--
-- The C core (extruct.core) does the HTTP transfer and the JSON decoding;
-- this layer adds the endpoints, the error objects and waiting.

local cells = require("extruct.cells")
local client = require("extruct.client")
local clock = require("extruct.clock")
local core = require("extruct.core")
local core_encode = core.encode
local errors = require("extruct.errors")
local gather = require("extruct.gather")
local interrupt = require("extruct.interrupt")
local status = require("extruct.status")

--- The options of extruct.encode.
---@class extruct.EncodeOptions
---@field pretty? boolean true for indented output

--- The options of extruct.decode.
---@class extruct.DecodeOptions
---@field strict? boolean false keeps raw control characters inside strings (default true: RFC 8259)

--- The module: require("extruct"). Each endpoint method of a client is also
--- a function here, on the default client (lua/extruct/api/*.lua declare them).
---@class extruct
local extruct = {
  _VERSION = core._VERSION,
  --- What JSON null decodes to: a NULL light userdata (equal to cjson.null).
  null = core.null,
  Error = errors.Error,
  is_error = errors.is_error,
}

--- Encodes a Lua value as JSON text: text, or nil and an encode error.
--- Integers are exact, floats the shortest text that reads back as the same
--- double. opts: { pretty = true } for indented output.
---@param value any A Lua value: tables with extruct.array_mt (or sequences) become arrays
---@param opts? extruct.EncodeOptions
---@return string? text JSON text
---@return extruct.Error? err An "encode" error naming the value JSON cannot hold
function extruct.encode(value, opts)
  local pretty
  if opts ~= nil then
    if type(opts) ~= "table" then
      error("extruct.encode: options must be a table, got " .. type(opts), 2)
    end
    for name in pairs(opts) do
      if name ~= "pretty" then
        error(("extruct.encode: unknown option '%s'"):format(tostring(name)), 2)
      end
    end
    pretty = opts.pretty
  end
  local text, why = core_encode(value, pretty)
  if text == nil then
    return nil, errors.new("encode", why)
  end
  return text
end

--- The metatable of JSON arrays: decoded arrays carry it, and the encoder
--- writes a table that has it as [] even when it is empty.
extruct.array_mt = core.array_mt

--- Marks t (or a new table) as a JSON array and returns it.
---@generic T: table
---@param t T The table to mark
---@return T t The same table
---@overload fun(): table
function extruct.array(t)
  if t == nil then t = {} end
  if type(t) ~= "table" then
    error("extruct.array: expected a table or nothing, got " .. type(t), 2)
  end
  return setmetatable(t, core.array_mt)
end

--- A client of its own: extruct.new{ token=, base_url=, timeout=, connect_timeout=, ... }
extruct.new = client.new

--- Decodes JSON text with the core's converter: value, or nil and a decode error.
--- Numbers are what tonumber makes of their text (on 5.3+ digits alone are an
--- exact integer where 64 bits hold them, a '.' or an exponent a float).
--- opts: { strict = false } keeps raw control characters inside strings, as
--- response bodies are decoded. Strict by default: a general-purpose decoder
--- takes exactly RFC 8259 JSON (JSONTestSuite checks it); leniency is for
--- the API's raw newlines, which the client accepts on its own.
---@param text string JSON text
---@param opts? extruct.DecodeOptions
---@return any value The value the text holds (JSON null is extruct.null); nil on failure
---@return extruct.Error? err A "decode" error with the byte position
function extruct.decode(text, opts)
  if type(text) ~= "string" then
    error("extruct.decode: expected a string, got " .. type(text), 2)
  end
  local strict = true
  if opts ~= nil then
    if type(opts) ~= "table" then
      error("extruct.decode: options must be a table, got " .. type(opts), 2)
    end
    for name, v in pairs(opts) do
      if name ~= "strict" then
        error(("extruct.decode: unknown option '%s'"):format(tostring(name)), 2)
      elseif type(v) ~= "boolean" then
        error("extruct.decode: option 'strict' must be a boolean, got " .. type(v), 2)
      end
    end
    strict = opts.strict ~= false
  end
  local value, why = core.decode(text, strict)
  if value == nil then
    return nil, errors.new("decode", why)
  end
  return value
end

--- True when the table's run is over: run_status "idle" and no cell in progress.
extruct.is_idle = status.is_idle

--- fraction (0..1) of non-input cells done, and { done, in_progress, total, failed }.
extruct.progress = status.progress

--- A row's cell: answer, status, sources, explanation (see extruct.cells).
extruct.cell = cells.cell

--- Sleeps without freezing the host: ngx.sleep under OpenResty, a yield to
--- Neovim's main loop inside a coroutine there, nanosleep otherwise.
extruct.sleep = clock.sleep

--- Seconds on a monotonic clock.
extruct.now = clock.now

--- What Ctrl-C (SIGINT) does: "cancel" makes it end the requests, retry
--- pauses, sleeps and waits in progress with a `cancelled` error
--- (err.interrupted), "default" puts back the handler there was before.
--- Raises in Neovim and nginx, which handle SIGINT themselves.
extruct.on_interrupt = interrupt.on_interrupt

--- Whether Ctrl-C came since extruct.on_interrupt("cancel").
---@return boolean
function extruct.interrupted()
  return interrupt.pending()
end

--- Runs fn() in a new coroutine, so that waits inside it yield to the host;
--- on_done(true, ...) or on_done(false, err) when it ends. Returns the coroutine.
extruct.async = clock.async

--- Runs the functions of a list side by side, their requests overlapping;
--- returns an array of packed results ({ n = k, ... }). See extruct.gather.
extruct.gather = gather.gather

-- The module-level functions share one client built from the environment
-- (EXTRUCT_API_TOKEN, EXTRUCT_API_URL) on first use.
local default_client
--- The client of the module-level functions.
---@return extruct.Client client
function extruct.default_client()
  if default_client == nil then default_client = client.new() end
  return default_client
end

-- Every endpoint method of the client on the default client:
-- extruct.get_table(id), extruct.create_table{...}, extruct.iter_rows(id),
-- ... made from the client's own list, so a new endpoint group needs
-- nothing here. The methods check their arguments and report a misuse at
-- the caller's line.
for _, name in ipairs(client.METHODS) do
  if extruct[name] ~= nil then
    error(("extruct: the endpoint method '%s' would hide extruct.%s"):format(name, name))
  end
  extruct[name] = function(...)
    local c = extruct.default_client()
    -- not a tail call: Lua 5.1 would leave no frame to blame for a misuse;
    -- and one value on success, whatever the method's arity
    local result, err = c[name](c, ...)
    if result == nil then return nil, err end
    return result
  end
end

return extruct
