-- docs/cli.md's examples run as written: every `$ ...` line of the page,
-- in its order, from a copy of examples/cli/ (the input files the lines
-- read), against a freshly started extruct-mock, exits 0. The lines run as
-- one shell session (so that `id=$(...)` and the files one line writes are
-- there for the next), with pipefail: a failing `extruct` in a pipe to jq
-- fails its line. The page is made from the command registry, so this is
-- every example of every command's help too. The mock runs with --polls 1,
-- so that a wait's first poll finds the table or task done: the lines'
-- exit statuses are what is checked, not how long a reader's waits take.
-- The JSON a command's section shows as its FILE (a `text` block holding a
-- JSON value) is taken by that command from standard input, as it is.
local helpers = require("spec.helpers")
local markdown = require("spec.support.markdown")
local q = helpers.shell_quote

-- The example lines of docs/cli.md, in order, with their line numbers.
local function example_lines()
  local lines, n = {}, 0
  for line in (helpers.read_file("docs/cli.md") .. "\n"):gmatch("([^\n]*)\n") do
    n = n + 1
    local command = line:match("^%$ (.+)$")
    if command then lines[#lines + 1] = { line = n, command = command } end
  end
  return lines
end

-- The command each section's JSON is a FILE of, with `-` for standard input:
-- the column goes into the table that the spec of `tables create` made,
-- whose input column it names.
local TAKES_JSON = {
  ["extruct tables create"] = function() return { "tables", "create", "-" } end,
  ["extruct columns add"] = function(made) return { "columns", "add", assert(made, "no table made"), "-" } end,
}

-- The text blocks of docs/cli.md that hold a JSON value, with the heading of
-- the command section each is in.
local function json_inputs()
  local headings, n = {}, 0
  for line in (helpers.read_file("docs/cli.md") .. "\n"):gmatch("([^\n]*)\n") do
    n = n + 1
    local heading = line:match("^### (extruct .-)%s*$")
    if heading then headings[#headings + 1] = { line = n, text = heading } end
  end
  local found = {}
  for _, block in ipairs(markdown.blocks("docs/cli.md")) do
    if block.lang == "text" and block.text:find("^[{%[]") then
      local section
      for _, heading in ipairs(headings) do
        if heading.line < block.line then section = heading.text end
      end
      found[#found + 1] = { block = block, section = section }
    end
  end
  return found
end

describe("docs/cli.md's examples", function()
  if not helpers.has_command("jq") then
    print("NOTICE: cli_examples_spec skipped: jq is not installed (scripts/deps.sh test installs it)")
    it("run as written", function() pending("jq is not installed: the examples pipe into it") end)
    return
  end
  local mock, work
  lazy_setup(function()
    mock = helpers.start_mock{ polls = 1 }
    work = helpers.scratch_dir()
    assert(os.execute(("cp -r examples/cli/. %s && mkdir %s/.bin"):format(q(work), q(work))))
    -- `extruct` on the PATH: this checkout's, on the interpreter of the specs
    helpers.write_file(work .. "/.bin/extruct", ("#!/bin/sh\nexec %s %s \"$@\"\n"):format(q(helpers.LUA),
      q(helpers.run("pwd"):gsub("%s+$", "") .. "/bin/extruct")))
    assert(os.execute("chmod +x " .. q(work .. "/.bin/extruct")))
  end)
  lazy_teardown(function()
    if mock then mock:stop() end
    if work then os.execute("rm -rf " .. q(work)) end
  end)

  it("are there: every command has some, and they name extruct", function()
    local lines = example_lines()
    assert.truthy(#lines >= 60, tostring(#lines))
    for _, example in ipairs(lines) do
      assert.truthy(example.command:find("extruct ", 1, true), example.command)
    end
  end)

  it("each exit 0, run from a copy of examples/cli/ in the page's order against a fresh mock", function()
    local lines = example_lines()
    local script = { "set -o pipefail\n" }
    for i, example in ipairs(lines) do
      script[#script + 1] = ("%s\necho \"### %d $?\" >&3\n"):format(example.command, i)
    end
    helpers.write_file(work .. "/.examples.sh", table.concat(script))
    local out, status = helpers.run(("cd %s && env PATH=%s EXTRUCT_API_URL=%s EXTRUCT_API_TOKEN=%s"
      .. " timeout 300 bash .examples.sh 3>.statuses >.out 2>&1 </dev/null; cat .statuses"):format(q(work),
      q(work .. "/.bin:/usr/bin:/bin"), q(mock.url), q(mock.token)))
    assert.equal(0, status, out)
    local failed, seen = {}, 0
    for i, code in out:gmatch("### (%d+) (%d+)") do
      seen = seen + 1
      local example = lines[tonumber(i)]
      if code ~= "0" then
        failed[#failed + 1] = ("docs/cli.md:%d exits %s: %s"):format(example.line, code, example.command)
      end
    end
    assert.equal(#lines, seen, "not every line ran:\n" .. helpers.read_file(work .. "/.out"))
    assert.same({}, failed, helpers.read_file(work .. "/.out"))
  end)

  -- after the lines above: the table it makes must not take their tbl_0001
  it("of JSON input are taken, as written, by the command whose section shows them", function()
    local inputs = json_inputs()
    assert.same({ "extruct tables create", "extruct columns add" }, { inputs[1].section, inputs[2].section })
    local made
    for _, input in ipairs(inputs) do
      local where = markdown.where(input.block)
      local args = TAKES_JSON[input.section]
      assert.truthy(args, where .. ": JSON in the section of " .. tostring(input.section) .. ", a command this spec"
        .. " does not feed it to")
      assert.truthy(require("extruct").decode(input.block.text), where .. ": not JSON")
      local out, err, status = helpers.run_extruct(mock, args(made), { stdin = input.block.text })
      assert.equal(0, status, where .. ": " .. err)
      made = made or out:match("^(tbl_%w+)\n$")
      assert.matches("^%a+_%w+\n$", out, nil, false, where)
    end
    assert.truthy(made)
  end)
end)
