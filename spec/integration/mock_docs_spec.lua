-- docs/mock.md's commands run as written, on the page's fixed port 8080,
-- each in a sandbox of its own (network namespace: the port is free
-- whoever else runs tests; PID namespace: the mock a block starts in the
-- background ends with it), from a folder holding the checkout's bin/ and
-- lua/:
--
-- * the first block, with a my_script.lua of the reader's (here, one that
--   reads a table; extruct found through LUA_PATH and LUA_CPATH, as an
--   install's would be);
-- * the curl transcript, command by command (a `$ ` line and the lines an
--   open quote or a backslash carries on), each output compared with what
--   the page shows after it, where `...` stands for any text; then the
--   fault injection example against the same mock, and its faults seen.
local helpers = require("spec.helpers")
local markdown = require("spec.support.markdown")
local q = helpers.shell_quote

local PAGE = "docs/mock.md"
local SPEC = "integration/mock_docs_spec"

local MY_SCRIPT = [[
local extruct = require("extruct")
local t = assert(extruct.get_table("tbl_idle"))
print(t.id, t.name, t.status.run_status)
]]

local function cannot_run()
  local why = markdown.sandbox_unavailable()
  if why then return why end
  if helpers.LUA ~= "lua5.4" then
    return "the page's commands name lua5.4 whatever runs busted: they run once, in the lua5.4 pass"
  end
  return helpers.missing_command({ "curl", "lua5.4" })
end

describe(PAGE, function()
  local blocks = markdown.claimed(PAGE, SPEC)
  local why = cannot_run()
  if why then
    print("NOTICE: mock_docs_spec: not run: " .. why)
    it("runs as written", function() pending(why) end)
    return
  end

  local work, cwd
  lazy_setup(function()
    work = helpers.scratch_dir()
    cwd = helpers.run("pwd"):gsub("%s+$", "")
    assert(os.execute(("cp -r bin lua %s"):format(q(work))))
  end)
  lazy_teardown(function() helpers.remove_dir(work) end)

  it("marks three blocks: the mock and a script, the curl transcript, a fault", function()
    assert.equal(3, #blocks)
    assert.truthy(blocks[2].text:find("^%$ "), "the second block is a transcript")
  end)

  it("starts the mock on 8080 and runs a script against it, as its first block says", function()
    helpers.write_file(work .. "/my_script.lua", MY_SCRIPT)
    local out, status = markdown.run_sandboxed(work, "set -e\n" .. blocks[1].text, { env = {
      LUA_PATH = cwd .. "/lua/?.lua;" .. cwd .. "/lua/?/init.lua;;",
      LUA_CPATH = cwd .. "/build/lua5.4/?.so;;",
    }, timeout = 60 })
    assert.equal(0, status, out)
    assert.matches("extruct%-mock listening on http://127%.0%.0%.1:8080\n", out)
    assert.matches("tbl_idle\t[^\n]+\tidle\n", out)
  end)

  it("answers its curl transcript as the page shows, then queues the fault its example names", function()
    local commands = markdown.transcript(blocks[2])
    assert.truthy(#commands >= 8, tostring(#commands))
    local script = { "set -e\n" }
    for i, command in ipairs(commands) do
      script[#script + 1] = command.command .. ("\nprintf '\\n### %d\\n'\n"):format(i)
    end
    script[#script + 1] = blocks[3].text .. "printf '\\n### fault\\n'\n"
    -- what the next three requests get: the two queued 503s, then an answer
    script[#script + 1] = "for i in 1 2 3; do curl -s -o /dev/null -w '%{http_code} ' -H \"$A\" $U/v1/tables; done\n"
    local out, status = markdown.run_sandboxed(work, table.concat(script), { timeout = 60 })
    assert.equal(0, status, out)
    local at = 1
    for i, command in ipairs(commands) do
      local s, e = out:find(("\n### %d\n"):format(i), at, true)
      assert.truthy(s, ("command %d did not finish:\n%s"):format(i, out))
      local printed = out:sub(at, s - 1):gsub("^\n", "")
      if command.shown then
        assert.equal(1, #command.shown, command.command)
        assert.truthy(markdown.shows(command.shown[1], printed),
          ("%s: `%s` printed\n%s\nwhere the page shows\n%s"):format(markdown.where(blocks[2]), command.command,
            printed, command.shown[1]))
      end
      at = e + 1
    end
    local fault, after = out:sub(at):match("^(.-)\n### fault\n(.*)$")
    assert.matches('"ok":true', fault)
    assert.equal("503 503 200 ", after)
  end)
end)
