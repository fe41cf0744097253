--- extruct.cli.context: what a command runs with. One object per run:
---
---   ctx.extruct    the extruct module
---   ctx.sys        the process's streams and environment (stdin, stdout,
---                  stderr, getenv, isatty, terminal_width)
---   ctx.opts       the options given, by key
---   ctx.command    the command's registry entry (ctx.command.path: "tables get")
---   ctx:client()   the API client, made on first use from --token-file or
---                  EXTRUCT_API_TOKEN, --base-url or EXTRUCT_API_URL, and
---                  --request-timeout
---   ctx:print(...), ctx:print_json(value), ctx:json_line(value),
---   ctx:print_change(answer, line),
---   ctx:write(...), ctx:flush()      stdout; failures are `output` errors
---   ctx:note(...)                    a line on stderr
---   ctx:usage_error(message)         raises: exit status 2, and a pointer
---                                    to the command's help

local args = require("extruct.cli.args")
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

-- Token problems point at the top-level help, where the token's sources
-- are told.
local function read_token_file(path)
  local file, why = io.open(path, "rb")
  if not file then
    args.usage_error(("cannot read the token file: %s"):format(why))
  end
  local text, read_why = file:read("*a")
  file:close()
  if not text then
    args.usage_error(("cannot read the token file '%s': %s"):format(path, tostring(read_why)))
  end
  local token = text:match("^%s*(.-)%s*$")
  if token == "" then
    args.usage_error(("the token file '%s' is empty"):format(path))
  end
  return token
end

--- The client, made once. The token never comes from the command line,
--- which other users can see.
function Context:client()
  if self.made_client then return self.made_client end
  local token
  if self.opts.token_file then
    token = read_token_file(self.opts.token_file)
  else
    token = self.sys.getenv("EXTRUCT_API_TOKEN")
    if token == nil or token == "" then
      args.usage_error("no API token: set EXTRUCT_API_TOKEN or pass --token-file PATH")
    end
  end
  -- (EXTRUCT_API_URL from sys, as the token: the environment of the
  -- command line, which a program running it in-process may give)
  self.made_client = self.extruct.new{ token = token, base_url = self.opts.base_url or self.sys.getenv("EXTRUCT_API_URL"),
                                       timeout = self.opts.request_timeout }
  return self.made_client
end

--- Writes on stdout: true, or nil and an `output` error.
function Context:write(...)
  return output.write(self.sys.stdout, ...)
end

function Context:flush()
  return output.flush(self.sys.stdout)
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
  if pretty == nil then pretty = output.pretty_json(self.opts, self.sys.isatty) end
  local text, err = self.extruct.encode(value, { pretty = pretty })
  if not text then return nil, err end
  return self:print(text)
end

--- value as one line of compact JSON on stdout, not flushed (for streams
--- of many); indented with --pretty, a stream of documents that JSON
--- readers such as jq still take one by one.
function Context:json_line(value)
  local text, err = self.extruct.encode(value, { pretty = self.opts.pretty or false })
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
