---@meta
-- luacheck: ignore
-- extruct.core, the C module (src/*.c), as lua-language-server sees it: a
-- definition file, never loaded at run time (nothing under lua/ requires it
-- from here, and neither the rockspecs nor CMake install it). Point
-- lua-language-server's workspace.library at the folder types/ (docs/types.md).
-- spec/annotations_spec.lua checks that every function, field and userdata
-- method the built module exports is declared here.

--- The C half of the extruct module: HTTP transfers on libcurl, JSON to Lua
--- and back through cJSON, a monotonic clock, HTTP/1.1 bytes for transports
--- that own their socket. Policy (endpoints, errors, retries) is in the Lua
--- layer, require("extruct"); a program needs this module only for its facts.
---@class extruct.core
---@field _VERSION string The version ("0.1.0"), the same as extruct._VERSION
---@field curl_version string libcurl's version string: "libcurl/7.88.1 OpenSSL/3.0.11 zlib/1.2.13 ..."
---@field curl_ssl_version? string The TLS library libcurl was built with ("OpenSSL/3.0.11"); nil without one
---@field null lightuserdata JSON null: a NULL light userdata, equal to cjson.null
---@field array_mt table The metatable of JSON arrays: decoded arrays carry it; the encoder writes a table with it as []
---@field error_kinds extruct.ErrorKind[] The kinds of error, in their order
---@field failures extruct.core.Failure[] The words a transport reports a failed exchange with (extruct.failures makes kinds of them)
local core = {}

--- What went wrong with an exchange, as either transport reports it.
---@alias extruct.core.Failure
---| "cancelled" # the client was closed during the exchange
---| "interrupted" # Ctrl-C came while the core's SIGINT handler was armed
---| "queued" # queue_timeout ran out waiting for a connection to the host: never sent
---| "resolve" # the host name could not be looked up
---| "connect" # the connection was refused or failed
---| "connect_timeout" # connect_timeout ran out
---| "timeout" # timeout ran out during the exchange
---| "send" # sending the request failed
---| "receive" # reading the answer failed
---| "closed" # the server closed the connection without answering
---| "truncated" # the answer stopped before its end
---| "protocol" # the answer is not HTTP/1.1
---| "head_too_large" # a header section past 96 KB
---| "body_too_large" # a body past max_response_size
---| "bad_encoding" # a compressed body that does not decompress
---| "tls_verify" # the server's certificate failed verification
---| "tls_handshake" # the TLS handshake failed otherwise
---| "redirect_refused" # a redirect that may not be followed
---| "too_many_redirects" # past the redirect limit
---| "memory" # memory ran out while receiving
---| "config" # the request cannot be made as configured
---| "other" # any other failure of the connection

--- The options of core.new_client. The Lua layer (extruct.new) checks them
--- first; the core only type-checks them and refuses CR, LF and NUL.
---@class extruct.core.ClientOptions
---@field base_url string Required; trailing slashes are dropped
---@field token string Required; kept in C memory only, zeroed when the client closes
---@field timeout? number Seconds for a whole request (default 30)
---@field connect_timeout? number Seconds to connect (default 10)
---@field queue_timeout? number Seconds a request may wait in its host's queue for a connection (default 60)
---@field max_response_size? number The largest body accepted, in bytes (default 64 MiB)
---@field user_agent? string Default: extruct-lua/<version>
---@field insecure? boolean true turns TLS verification off
---@field ca_file? string A PEM file of CA certificates to trust
---@field trace? boolean true records each exchange (credentials redacted) for result()
---@field keep_text? boolean true: a response also carries its body as received, in `text`
---@field proxy? string A proxy URL; "" for none
---@field noproxy? string Hosts that bypass the proxy

--- The options of core.http_response_parser.
---@class extruct.core.FileInfo
---@field type "file"|"directory"|"link"|"character device"|"block device"|"fifo"|"socket"|"other"
---@field mode integer The permission bits (07777)
---@field uid integer
---@field gid integer
---@field size number In bytes

---@class extruct.core.ParserOptions
---@field max_body? number The largest body accepted, in bytes
---@field max_head? number The largest header section accepted, in bytes
---@field head? boolean true: the answer to a HEAD request (no body follows)

--- A response as the core hands it over, from a transfer or a parser.
---@class extruct.core.Response
---@field status integer The HTTP status
---@field headers table<string, string> Names lower-cased; repeated headers joined
---@field body? any The decoded JSON body (nil when there was none)
---@field body_error? string Why the body is not JSON
---@field body_text? string The body's first bytes, when it is not JSON
---@field text? string With the keep_text option: the whole body as received
---@field trace? string With the trace option: the exchange's lines, credentials redacted

--- Decodes JSON text: objects become tables, arrays tables with array_mt,
--- null core.null; numbers as tonumber reads their text (5.3+: digits alone
--- an exact integer where 64 bits hold it, else a float).
---@param text string JSON text
---@param strict? boolean false keeps raw control characters inside strings (default true)
---@return any value The value; nil on failure
---@return string? message Why the text is not JSON, with the byte position
function core.decode(text, strict) end

--- Encodes a Lua value as JSON text: integers exact, floats as the shortest
--- text that reads back as the same double.
---@param value any
---@param pretty? boolean true for indented output
---@return string? text JSON text; nil on failure
---@return string? message Why the value cannot be encoded, with its path ($.a[2])
function core.encode(value, pretty) end

--- A client: one connection's settings and credentials, and the transfers it lends.
---@param opts extruct.core.ClientOptions
---@return extruct.core.client client
function core.new_client(opts) end

--- An engine: a libcurl multi handle running transfers side by side, at
--- most 16 of one client to one host at a time (the others wait in its
--- queue for that host, at most their client's queue_timeout).
---@param events? boolean true for an engine driven by a host loop's events (Neovim's libuv)
---@param gathered? boolean true: its sockets behind one descriptor (engine:events_fd()) where epoll is
---@return extruct.core.engine engine
function core.new_engine(events, gathered) end

--- Seconds on a clock that never jumps back.
---@return number seconds
function core.monotime() end

--- Seconds since the epoch, read fresh (what a host's cached time lags behind).
---@return number seconds
function core.realtime() end

--- Whether the running coroutine may yield here, on Lua 5.1 and 5.2 (whose
--- coroutine library cannot tell); false on the main thread, inside a C
--- call, and wherever the answer is not known.
---@return boolean yieldable
function core.can_yield() end

--- Sleeps the whole span (nanosleep, resumed after signals); blocks the
--- thread. While Ctrl-C is handled (core.interrupt_arm), an interrupt ends it early.
---@param seconds number From 0 to 1e9
---@return nil
function core.sleep(seconds) end

--- Installs the core's SIGINT handler (the previous one kept), or arms it
--- again: from now on Ctrl-C ends the transfers and sleeps in progress; an
--- interrupt recorded before is forgotten.
---@return true|nil ok
---@return string? message Why the handler could not be installed
function core.interrupt_arm() end

--- Puts back the SIGINT handler there was before core.interrupt_arm, and
--- forgets any interrupt; does nothing when none was installed.
---@return nil
function core.interrupt_restore() end

--- Whether SIGINT came since core.interrupt_arm.
---@return boolean
function core.interrupted() end

--- Whether the core's SIGINT handler is installed (core.interrupt_arm).
---@return boolean
function core.interrupt_armed() end

--- Whether a standard stream is a terminal.
---@param fd 0|1|2 stdin, stdout or stderr
---@return boolean
function core.isatty(fd) end

--- The width of the terminal a standard stream is.
---@param fd 0|1|2 stdin, stdout or stderr
---@return integer? columns nil when fd is not a terminal, or it does not say
function core.terminal_width(fd) end

--- The bytes of an HTTP/1.1 request, for a transport that writes them itself.
---@param method string A token ("GET")
---@param target string Starting with "/", no space or control character
---@param host string The Host header's value
---@param headers? string[] Lines "Name: value"
---@param body? string
---@return string request
function core.http_request(method, target, host, headers, body) end

--- A parser of one HTTP/1.1 response, fed the bytes a transport reads.
---@param opts? extruct.core.ParserOptions
---@return extruct.core.http1_parser parser
function core.http_response_parser(opts) end

--- What a path names (stat, or lstat with no_follow), for replacing a file
--- safely (src/file.c, lua/extruct/file_writer.lua).
---@param path string
---@param no_follow? boolean true: a symbolic link is described, not followed
---@return extruct.core.FileInfo? info nil on failure
---@return string? message The system's words ("No such file or directory")
---@return string? code The errno's name ("ENOENT"), or "errno N"
function core.file_info(path, no_follow) end

--- What the symbolic link at path points to.
---@param path string
---@return string? target nil on failure
---@return string? message
---@return string? code
function core.read_link(path) end

--- A new file open for writing, created by this call: never an existing
--- file, never through a link (O_EXCL), with permissions less the umask.
---@param path string
---@param permissions integer Permission bits, 0 to 07777
---@return extruct.core.file? file nil on failure ("EEXIST" when the name is taken)
---@return string? message
---@return string? code
function core.create_file(path, permissions) end

--- What core.new_client makes (src/client.c). Closed by close(), its __gc
--- or __close; the token is never readable back.
---@class extruct.core.client
local client = {}

--- Puts a request on the engine; it runs as the engine is driven.
---@param engine extruct.core.engine
---@param method string
---@param target string The path and query (appended to the base URL), or an absolute http(s) URL
---@param body? string
---@param queued? boolean true: engine:next_done() reports its end
---@param credentials? boolean false leaves the Authorization header out
---@return extruct.core.transfer transfer
function client:start(engine, method, target, body, queued, credentials) end

--- The bytes of a request with the client's headers (core.http_request).
---@param method string
---@param target string
---@param host string
---@param body? string
---@param credentials? boolean false leaves the Authorization header out
---@return string request
---@return string? trace With the trace option: the request head, credentials redacted
function client:http_request(method, target, host, body, credentials) end

--- Closes the client and every connection it made; safe to call twice.
--- Its running requests end as cancelled.
---@return nil
function client:close() end

--- What core.new_engine makes (src/engine.c).
---@class extruct.core.engine
local engine = {}

--- Runs the engine, blocking, until that transfer has ended.
---@param transfer extruct.core.transfer
---@return nil
function engine:wait(transfer) end

--- Runs the engine once and waits at most `seconds` for a socket or timer.
---@param seconds? number Default 0
---@return integer running Transfers still running
function engine:step(seconds) end

---@return integer? id The id of a transfer that has ended (transfer:id()); nil when none
function engine:next_done() end

--- A socket of the host loop is ready.
---@param fd integer
---@param events? integer 1 readable, 2 writable, 4 error (CURL_CSELECT_*)
---@return integer running Transfers still running
function engine:socket_action(fd, events) end

--- The engine's timer fired.
---@return integer running Transfers still running
function engine:timeout_action() end

--- The next socket to watch, in the order libcurl asked.
---@return integer? fd nil when there is none
---@return "in"|"out"|"inout"|"remove"|"none"|nil what
function engine:next_change() end

---@return integer? ms Milliseconds until timeout_action is due (-1: no timer); nil when unchanged since the last call
function engine:next_timer() end

--- The one descriptor a host loop watches for reading, for a gathered engine.
---@return integer? fd nil when the engine names its sockets one by one (next_change)
function engine:events_fd() end

--- events_fd() is readable: hands what happened on the engine's sockets to libcurl.
---@return integer running Transfers still running
function engine:dispatch() end

---@return boolean forked true in a child process of the one that made the engine
function engine:forked() end

--- Closes the engine (cancels what still runs); safe to call twice.
---@return nil
function engine:close() end

--- One request, from client:start (src/transfer.c).
---@class extruct.core.transfer
local transfer = {}

---@return boolean done Whether the request has ended
function transfer:done() end

---@return integer id The number engine:next_done() reports it by
function transfer:id() end

--- The outcome, once: reading it hands the handle back to the client.
---@return extruct.core.Response? response nil on failure
---@return extruct.core.Failure? failure
---@return string? message
---@return string? trace With the trace option
function transfer:result() end

--- What core.http_response_parser makes (src/http1.c).
---@class extruct.core.http1_parser
local http1_parser = {}

--- Takes the bytes read.
---@param bytes string
---@return ("more"|"done")? state nil on failure
---@return extruct.core.Failure? failure
---@return string? message
function http1_parser:feed(bytes) end

--- The connection closed: the response ends here, or is incomplete.
---@return "done"? state nil on failure
---@return extruct.core.Failure? failure
---@return string? message
function http1_parser:finish() end

---@return boolean keep_alive Whether the connection can carry another request
function http1_parser:keep_alive() end

--- The response, once, after "done".
---@return extruct.core.Response response
function http1_parser:response() end

--- What core.create_file makes (src/file.c). Closed by close(), its __gc
--- or __close.
---@class extruct.core.file
local file = {}

--- Writes all of text (or fails).
---@param text string
---@return true? ok nil on failure
---@return string? message
---@return string? code
function file:write(text) end

--- Waits until what was written is on the disk (fsync).
---@return true? ok nil on failure
---@return string? message
---@return string? code
function file:sync() end

--- Gives the file an owner and a group; -1 leaves one as it is.
---@param uid integer
---@param gid integer
---@return true? ok nil on failure ("EPERM" where not allowed)
---@return string? message
---@return string? code
function file:chown(uid, gid) end

--- Sets the file's permission bits.
---@param permissions integer 0 to 07777
---@return true? ok nil on failure
---@return string? message
---@return string? code
function file:chmod(permissions) end

--- Closes the file; a delayed write may fail only here. Safe to call twice.
---@return true? ok nil on failure
---@return string? message
---@return string? code
function file:close() end

return core
