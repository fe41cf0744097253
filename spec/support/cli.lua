-- Shared pieces of the command-line specs (spec/cli_*_spec.lua): reading
-- what bin/extruct printed and what the mock was sent, scratch files, the
-- setup of a describe block against the mock, and running the command
-- line in-process with streams of its own.
local helpers = require("spec.helpers")
local assert = require("luassert")

local unpack = table.unpack or unpack

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

--- The setup of a spec that runs commands against the mock: the mock and a
--- client for the enclosing describe block (helpers.mock_and_client, with
--- `options`), and a scratch path `work` whose files (the path with each
--- of `suffixes`) are removed after the block. bind(fixture) runs before
--- every test, with fixture.mock, fixture.client and fixture.work current:
---   local mock, client, work
---   support.against_mock({ ".json" }, function(s) mock, client, work = s.mock, s.client, s.work end)
--- Returns the fixture (fixture:new_client(extra) makes another client).
function M.against_mock(suffixes, bind, options)
  local busted = require("busted")
  local fixture = helpers.mock_and_client(options)
  local work, remove = M.scratch()
  fixture.work = work
  busted.before_each(function() bind(fixture) end)
  busted.lazy_teardown(function() remove(unpack(suffixes)) end)
  return fixture
end

--- One test per case { args, says, hint }: `bin/extruct ARGS` is a usage
--- error (see assert_usage_error) whose message holds `says`, pointing at
--- the help of `hint`, and the mock of `fixture` is sent nothing.
function M.usage_error_cases(fixture, cases)
  for _, case in ipairs(cases) do
    require("busted").it(table.concat(case.args, " "), function()
      local out, err, status = M.run_extruct(fixture.mock, case.args)
      M.assert_usage_error(out, err, status, case.hint)
      assert.truthy(err:find("^extruct: [^\n]*" .. case.says:gsub("%p", "%%%0")), err)
      assert.same({}, fixture.mock:requests())
    end)
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

local found = helpers.has_command

--- Whether script(1) is there to give a command a terminal.
M.HAVE_SCRIPT = found("script")

--- A test that needs script(1): pending where it is not installed.
function M.script_it(name, test)
  require("busted").it(name, function()
    if not M.HAVE_SCRIPT then return require("busted").pending("script(1) not found (Debian: bsdutils)") end
    return test()
  end)
end

--- The raw bytes `bin/extruct ARGS` wrote to a pty of `cols` columns
--- (script -q adds nothing), run against the mock with stdout redirected
--- to `out_file`.
function M.on_pty(mock, cols, args, out_file)
  local q = helpers.shell_quote
  local words = {}
  for i, word in ipairs(args) do words[i] = q(word) end
  local inner = ("stty cols %d rows 20; EXTRUCT_API_TOKEN=%s EXTRUCT_API_URL=%s %s bin/extruct %s >%s"):format(
    cols, q(mock.token), q(mock.url), q(helpers.LUA), table.concat(words, " "), q(out_file))
  return helpers.run(("timeout 60 script -qfec %s /dev/null </dev/null"):format(q(inner)))
end

--- What was on the terminal's line each time it was redrawn.
function M.frames(typescript)
  local list = {}
  for frame in typescript:gsub("\r\n", "\n"):gmatch("[^\r\n]+") do
    if frame:find("%S") then list[#list + 1] = frame end
  end
  return list
end

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
