-- Shared pieces of the command-line specs (spec/cli_*_spec.lua): reading
-- what bin/extruct printed and what the mock was sent, scratch files, and
-- running the command line in-process with streams of its own.
local helpers = require("spec.helpers")
local assert = require("luassert")

local M = {}

--- The lines of text, without their newlines (a last unterminated one too).
function M.lines_of(text)
  local list = {}
  for line in text:gmatch("([^\n]*)\n") do list[#list + 1] = line end
  local rest = text:match("[^\n]+$")
  if rest then list[#list + 1] = rest end
  return list
end

--- The query of a logged request as a list of { name, value } in order.
function M.query_pairs(query)
  local pairs_ = {}
  for pair in (query or ""):gmatch("[^&]+") do
    local name, value = pair:match("^([^=]*)=?(.*)$")
    value = value:gsub("%+", " "):gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end)
    pairs_[#pairs_ + 1] = { name, value }
  end
  return pairs_
end

function M.query_value(query, wanted)
  for _, pair in ipairs(M.query_pairs(query)) do
    if pair[1] == wanted then return pair[2] end
  end
end

--- The API requests the mock logged (control calls are not logged), by
--- method and path prefix (nil: any).
function M.api_requests(mock, method, path_prefix)
  local found = {}
  for _, request in ipairs(mock:requests()) do
    if (not method or request.method == method)
      and (not path_prefix or request.path:sub(1, #path_prefix) == path_prefix) then
      found[#found + 1] = request
    end
  end
  return found
end

--- What a usage error looks like: exit status 2, nothing on stdout, one
--- message and a pointer to the help: of `topic` when given ("": the top
--- level's), of some command otherwise.
function M.assert_usage_error(out, err, status, topic)
  assert.equal(2, status, err)
  assert.equal("", out)
  assert.matches("^extruct: [^\n]+\nRun '[^\n]*'[^\n]*\n$", err)
  if topic then
    local wanted = topic == "" and "extruct --help" or "extruct " .. topic .. " --help"
    assert.truthy(err:find("\nRun '" .. wanted .. "' for usage.\n", 1, true), err)
  else
    assert.matches("\nRun 'extruct[%w ]* %-%-help' for usage%.\n$", err)
  end
end

--- A path prefix for scratch files; remove(prefix, suffixes) deletes them.
function M.scratch()
  local base = os.tmpname()
  return base, function(...)
    os.remove(base)
    for _, suffix in ipairs({ ... }) do os.remove(base .. suffix) end
  end
end

-- A stream that keeps what is written to it.
local function collector()
  local stream = { parts = {} }
  function stream.write(self, ...)
    for i = 1, select("#", ...) do self.parts[#self.parts + 1] = tostring((select(i, ...))) end
    return self
  end
  function stream.flush(self) return self end
  function stream.text(self) return table.concat(self.parts) end
  return stream
end

--- Runs extruct.cli.main in this process, with stdout and stderr kept, no
--- terminal, and `env` for the environment; returns stdout, stderr and the
--- exit status. commands: a registry (default: the standard one).
function M.main(argv, env, commands)
  local stdout, stderr = collector(), collector()
  local sys = {
    stdin = { read = function() return "" end },
    stdout = stdout, stderr = stderr,
    getenv = function(name) return (env or {})[name] end,
    isatty = function() return false end,
    terminal_width = function() return nil end,
  }
  local status = require("extruct.cli").main(argv, sys, commands)
  return stdout:text(), stderr:text(), status
end

M.run_extruct = helpers.run_extruct

--- The columns of the tables the specs make: two inputs, one agent.
M.COLUMNS = {
  { kind = "input", name = "Company", key = "company" },
  { kind = "input", name = "Employees", key = "employees" },
  { kind = "agent", name = "Summary", key = "summary",
    value = { agent_type = "research_pro", prompt = "Summarise {company}", output_format = "text" } },
}

--- A new table with M.COLUMNS (or columns) and rows (maps of key -> value).
function M.new_table(client, name, rows, columns)
  local t = assert(client:create_table{ name = name, kind = "generic", column_configs = columns or M.COLUMNS })
  if rows and #rows > 0 then assert(client:add_rows(t.id, rows)) end
  return t
end

return M
