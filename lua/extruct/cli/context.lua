--- extruct.cli.context: what a command runs with. One object per run:
---
---   ctx.extruct    the extruct module
---   ctx.sys        the process's streams and environment (stdin, stdout,
---                  stderr, getenv, isatty, terminal_width)
---   ctx.opts       the options given, by key
---   ctx.command    the command's registry entry (ctx.command.path: "tables get")
---   ctx:client()   the API client, made on first use from --token-file or
---                  EXTRUCT_API_TOKEN, --base-url or EXTRUCT_API_URL,
---                  --request-timeout and --verbose
---   ctx:print(...), ctx:print_json(value), ctx:json_line(value),
---   ctx:json_text(value, pretty), ctx:print_change(answer, line),
---   ctx:write(...), ctx:flush()      stdout, or the --output FILE;
---                                    failures are `output` errors
---   ctx:pretty()                     whether JSON goes out indented
---   ctx:note(...)                    a line on stderr
---   ctx:usage_error(message)         raises: exit status 2, and a pointer
---                                    to the command's help

local args = require("extruct.cli.args")
local errors = require("extruct.errors")
local json_text = require("extruct.cli.json_text")
local linear = require("extruct.text")
local output = require("extruct.cli.output")

local M = {}

local Context = {}
Context.__index = Context

function M.new(extruct, sys, opts, command)
  return setmetatable({ extruct = extruct, sys = sys, opts = opts, command = command }, Context)
end

function Context:usage_error(message)
  args.usage_error(message, self.command and self.command.path)
end

--- The most a token file may hold: a token is a line of text, and a
--- bound keeps a wrong PATH (/dev/zero, a disk image) from filling memory.
M.MAX_TOKEN_FILE = 64 * 1024

local TOKEN_SOURCES = { file = true, fifo = true }

-- The token in the file at path: a regular file or a pipe (as
-- --token-file <(pass show extruct) gives), read up to its bound. Its
-- problems are usage errors (kind `config`, exit status 2) that point at
-- the top-level help, where the token's sources are told.
local function read_token_file(path)
  local shown = errors.show(path, 300)
  local info, why = require("extruct.core").file_info(path)
  if not info then args.usage_error(("cannot read the token file '%s': %s"):format(shown, why)) end
  if not TOKEN_SOURCES[info.type] then
    args.usage_error(("the token file '%s' is a %s, not a regular file or a pipe"):format(shown,
      info.type == "other" and "special file" or info.type))
  end
  local file, open_why = io.open(path, "rb")
  if not file then
    args.usage_error(("cannot read the token file '%s': %s"):format(shown, (tostring(open_why):gsub("^.-: ", ""))))
  end
  local text, read_why = file:read(M.MAX_TOKEN_FILE + 1)
  file:close()
  if text == nil and read_why then
    args.usage_error(("cannot read the token file '%s': %s"):format(shown, tostring(read_why)))
  end
  text = text or ""
  if #text > M.MAX_TOKEN_FILE then
    args.usage_error(("the token file '%s' holds more than %d KB: an API token is one line"):format(shown,
      M.MAX_TOKEN_FILE / 1024))
  end
  local token = linear.trim(text)
  if token == "" then
    args.usage_error(("the token file '%s' is empty"):format(shown))
  end
  return token
end

-- The --verbose report: a trace hook that writes, as each request ends,
-- one line on stderr: its method, URL, status and time. The request and
-- status lines are libcurl's (the credentials never reach Lua); the URL is
-- the base URL's scheme and host with the path requested.
local function verbose_trace(ctx, base_url)
  local origin = base_url:match("^(%a[%w+.-]*://[^/]+)") or base_url
  local request, status = nil, nil
  local function report(tail)
    if request then
      ctx.sys.stderr:write("extruct: ", request, " -> ", status or "no answer", tail or "", "\n")
      ctx.sys.stderr:flush()
    end
    request, status = nil, nil
  end
  return function(line)
    local method, target = line:match("^> (%u+) (%S+) HTTP/")
    if method then
      report() -- the one before it (a redirect)
      request = ("%s %s"):format(method, output.one_line(origin .. target))
      return
    end
    local code_and_reason = line:match("^< HTTP/%S+ (%d%d%d.*)$")
    if code_and_reason then
      status = output.one_line(code_and_reason)
      return
    end
    local outcome, took = line:match("^%* extruct: (%S+.-) in (%S+ s)$")
    if outcome then
      if not outcome:find("^HTTP ") then
        status = status and (status .. ", then " .. outcome) or outcome
      end
      report((" (%s)"):format(took))
    end
  end
end

--- The client, made once. The token never comes from the command line,
--- which other users can see. A command that needs none (the healthcheck)
--- gets a client without one when none is set.
function Context:client()
  if self.made_client then return self.made_client end
  local token
  if self.opts.token_file then
    token = read_token_file(self.opts.token_file)
  else
    token = self.sys.getenv("EXTRUCT_API_TOKEN")
    if token == nil or token == "" then
      if self.command and self.command.needs_token == false then
        token = "" -- (not nil: the library would read the process's environment)
      else
        args.usage_error("no API token: set EXTRUCT_API_TOKEN or pass --token-file PATH")
      end
    end
  end
  -- (EXTRUCT_API_URL from sys, as the token: the environment of the
  -- command line, which a program running it in-process may give)
  local base_url = self.opts.base_url or self.sys.getenv("EXTRUCT_API_URL")
  if base_url == nil or base_url == "" then base_url = require("extruct.client").DEFAULT_BASE_URL end
  self.made_client = self.extruct.new{
    token = token, base_url = base_url, timeout = self.opts.request_timeout,
    trace = self.opts.verbose and verbose_trace(self, base_url) or nil,
    -- the server's own text, for --pretty
    keep_text = true,
  }
  return self.made_client
end

--- Sends what the command prints to `out` (an extruct.file_writer)
--- instead of stdout.
function Context:write_to(out)
  self.out_file = out
end

--- Writes on stdout (or the --output FILE): true, or nil and an `output` error.
function Context:write(...)
  if self.out_file then
    local ok, err = self.out_file:write(...)
    if not ok then return nil, err end
    return true
  end
  return output.write(self.sys.stdout, ...)
end

function Context:flush()
  if self.out_file then return true end -- (the file is written whole at the end)
  return output.flush(self.sys.stdout)
end

--- Whether JSON goes out indented: --pretty, --compact, else whether it
--- goes to a terminal (not to an --output FILE).
function Context:pretty()
  return output.pretty_json(self.opts, function(fd) return not self.out_file and self.sys.isatty(fd) end)
end

-- The server's text of `value`, as { text, first, last }: the answer of
-- the last response, or an item of an array of it (a page's rows, a
-- search's results), found by identity; nil when it is neither (a value
-- the command made or changed).
function Context:server_text(value)
  local client = self.made_client
  local last = client and client.last_response
  if type(value) ~= "table" or not (last and last.text) then return nil end
  if last.body == value then return { last.text, 1, #last.text } end
  if self.spans_of ~= last then
    self.spans_of, self.spans = last, {}
    local body, found = last.body, json_text.items(last.text)
    if type(body) == "table" and found then
      local function add(list, spans)
        if type(list) ~= "table" or #list ~= #spans then return end
        for i, item in ipairs(list) do
          if type(item) == "table" then self.spans[item] = spans[i] end
        end
      end
      if getmetatable(body) == self.extruct.array_mt then
        add(body, found)
      else
        for key, spans in pairs(found) do add(rawget(body, key), spans) end
      end
    end
  end
  local span = self.spans[value]
  return span and { last.text, span[1], span[2] } or nil
end

--- value as JSON text: indented (pretty) as `jq .` indents, from the
--- server's own text when value came as it is from the server (its keys in
--- its order, its numbers as sent), else from the encoder; on one line
--- otherwise. Returns the text, or nil and an `encode` error.
function Context:json_text(value, pretty)
  if pretty then
    local from = self:server_text(value)
    if from then
      local text = json_text.reindent(from[1], from[2], from[3])
      if text then return text end
    end
  end
  local text, err = self.extruct.encode(value)
  if not text then return nil, err end
  if pretty then return json_text.reindent(text) or text end
  return text
end

--- Its arguments and a newline on stdout, flushed.
function Context:print(...)
  local ok, err = self:write(...)
  if not ok then return nil, err end
  ok, err = self:write("\n")
  if not ok then return nil, err end
  return self:flush()
end

--- value as one JSON document on stdout, flushed: indented with --pretty or
--- on a terminal, on one line with --compact or otherwise. pretty, when not
--- nil, decides instead.
function Context:print_json(value, pretty)
  if pretty == nil then pretty = self:pretty() end
  local text, err = self:json_text(value, pretty)
  if not text then return nil, err end
  return self:print(text)
end

--- value as one line of compact JSON on stdout, not flushed (for streams
--- of many); indented with --pretty, a stream of documents that JSON
--- readers such as jq still take one by one.
function Context:json_line(value)
  local text, err = self:json_text(value, self.opts.pretty or false)
  if not text then return nil, err end
  return self:write(text, "\n")
end

--- What a command that changes something prints: with --json the API's
--- answer as JSON, else `line`. An answer of `true` (the API sent no body)
--- has nothing to print as JSON: stdout stays empty and stderr says so.
function Context:print_change(answer, line)
  if not self.opts.json then return self:print(line) end
  if answer == true then
    self:note("extruct: ", line, " (the API answered without a body, so there is no JSON to print)")
    return true
  end
  return self:print_json(answer)
end

--- A line on stderr, for reports beside the output.
function Context:note(...)
  self.sys.stderr:write(...)
  self.sys.stderr:write("\n")
  self.sys.stderr:flush()
end

return M
