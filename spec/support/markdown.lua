-- The code blocks of the Markdown documents, and how the specs run them
-- exactly as written.
--
-- A block a reader may copy (any language but `text`: commands, Lua, SQL,
-- JSON, Vim) carries, on the line just before its opening fence, the spec
-- that runs it:
--
--   <!-- spec: integration/readme_spec -->
--
-- (spec/integration/readme_spec.lua; the comment does not show on GitHub).
-- docs_spec fails when a copyable block of a document has none, or names a
-- spec that does not exist or does not name the document. A spec takes its
-- blocks with markdown.claimed(path, its name), so what the marker claims
-- is what the spec runs. docs/cli.md, made from the command registry,
-- carries no markers: its `sh` blocks are `$ ...` lines, every one of which
-- cli_examples_spec runs.
local helpers = require("spec.helpers")
local q = helpers.shell_quote

local M = {}

--- The fenced code blocks of the file at path, in order: a list of
--- { lang = the info string's first word ("" for none), text = the lines
--- between the fences, each ending in a newline, line = where it starts,
--- spec = the spec its marker names (nil without one), path = path }.
function M.blocks(path)
  local text = assert(helpers.read_file(path), "cannot read " .. path)
  local blocks, block = {}, nil
  local n, previous = 0, ""
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    n = n + 1
    local fence, info = line:match("^(```+)%s*(%S*)")
    if block then
      if fence and fence == block.fence and info == "" then
        block.text = table.concat(block.lines)
        block.lines, block.fence = nil, nil
        blocks[#blocks + 1] = block
        block = nil
      else
        block.lines[#block.lines + 1] = line .. "\n"
      end
    elseif fence then
      block = { lang = info, fence = fence, lines = {}, line = n + 1, path = path,
                spec = previous:match("^<!%-%- spec: ([%w_/]+) %-%->%s*$") }
    end
    previous = line
  end
  assert(block == nil, path .. ": a code block is not closed")
  return blocks
end

--- The blocks of lang ("sh", "lua") only.
function M.blocks_of(path, lang)
  local found = {}
  for _, block in ipairs(M.blocks(path)) do
    if block.lang == lang then found[#found + 1] = block end
  end
  return found
end

--- Whether a reader may copy the block: all but `text` (layouts, output,
--- usage lines).
function M.copyable(block)
  return block.lang ~= "text"
end

--- The documents whose copyable blocks must run: the README, docs/, the
--- README of each example, of bench/ and of spec/.
function M.documents()
  local found = { "README.md" }
  local listing = helpers.run("find docs -maxdepth 1 -name '*.md'; find examples -name README.md;"
    .. " ls bench/README.md spec/README.md")
  local more = {}
  for path in listing:gmatch("[^\n]+") do more[#more + 1] = path end
  table.sort(more)
  for _, path in ipairs(more) do found[#found + 1] = path end
  return found
end

--- The generated documents: no markers, each spec checks its blocks its
--- own way (the spec, and the rule its blocks follow).
M.GENERATED = {
  ["docs/cli.md"] = { spec = "cli_examples_spec", rule = "every line of a copyable block is a `$ ` example line",
                      check = function(block)
                        for line in block.text:gmatch("[^\n]+") do
                          if not line:find("^%$ ") then return false end
                        end
                        return true
                      end },
}

--- The blocks of path whose marker names spec (as the marker writes it:
--- "api_docs_spec", "integration/readme_spec"), in order; at least one.
function M.claimed(path, spec)
  local found = {}
  for _, block in ipairs(M.blocks(path)) do
    if block.spec == spec then found[#found + 1] = block end
  end
  assert(#found > 0, ("%s: no block is marked <!-- spec: %s -->"):format(path, spec))
  return found
end

--- Where a block starts, to name it in a message: "docs/api.md:69".
function M.where(block)
  return block.path .. ":" .. block.line
end

-- The package paths of this process with the relative entries made
-- absolute, for a child that runs in another folder.
local function absolute(paths, cwd)
  return (paths:gsub("[^;]+", function(entry)
    if entry:sub(1, 1) == "/" then return entry end
    return cwd .. "/" .. entry
  end))
end

-- What the child runs: each block a chunk of its own, loaded from the
-- block's text as it is and run in order in one environment, where the
-- names the prelude sets (those the page's prose gives: `client`, `id`)
-- are globals and reading any other unknown global is an error. After each
-- block a line `### block N ok` or `### block N failed: message`.
local RUNNER = [=[
local blocks = dofile(arg[1])
local env = setmetatable({}, { __index = function(_, name)
  local value = _G[name]
  if value == nil then error("the block reads the global '" .. tostring(name) .. "', which the page never defines", 2) end
  return value
end })
local function compile(text, name)
  if setfenv then
    local chunk, err = loadstring(text, name)
    if chunk then setfenv(chunk, env) end
    return chunk, err
  end
  return load(text, name, "t", env)
end
local prelude = assert(compile(blocks.prelude or "", "=prelude"))
prelude()
for i, block in ipairs(blocks) do
  local chunk, err = compile(block.text, "@" .. block.where)
  local ok = chunk ~= nil
  if ok then ok, err = xpcall(chunk, debug.traceback) end
  io.stdout:flush()
  io.stderr:flush()
  io.stdout:write(ok and ("\n### block %d ok\n"):format(i) or ("\n### block %d failed: %s\n"):format(i, tostring(err)))
  io.stdout:flush()
end
]=]

--- Runs Lua blocks as written in one child interpreter (helpers.LUA, or
--- opts.lua), in the folder opts.dir (default: a scratch folder, removed
--- after), with this checkout's modules, the Extruct variables unset, then
--- opts.env ({ NAME = value }) set, and opts.prelude (Lua) run first.
--- Returns a list of { ok, out = what the block printed (stdout and
--- stderr), error = its error } in the blocks' order, and the whole output.
function M.run_lua(blocks, opts)
  opts = opts or {}
  local scratch = helpers.scratch_dir()
  local dir = opts.dir or scratch
  local cwd = helpers.run("pwd"):gsub("%s+$", "")
  local list = { "return { prelude = ", ("%q"):format(opts.prelude or ""), ",\n" }
  for _, block in ipairs(blocks) do
    list[#list + 1] = ("{ where = %q, text = %q },\n"):format(M.where(block), block.text)
  end
  list[#list + 1] = "}\n"
  helpers.write_file(scratch .. "/.blocks.lua", table.concat(list))
  helpers.write_file(scratch .. "/.runner.lua", RUNNER)
  local assign = {}
  for name, value in pairs(opts.env or {}) do assign[#assign + 1] = name .. "=" .. q(value) end
  table.sort(assign)
  local preload = os.getenv("LD_PRELOAD")
  if preload then assign[#assign + 1] = "LD_PRELOAD=" .. q(preload) end
  local out = helpers.run(("cd %s && env -u EXTRUCT_API_TOKEN -u EXTRUCT_API_URL LUA_PATH=%s LUA_CPATH=%s %s"
    .. " timeout %d %s %s %s 2>&1"):format(q(dir), q(absolute(package.path, cwd)), q(absolute(package.cpath, cwd)),
    table.concat(assign, " "), opts.timeout or 120, q(opts.lua or helpers.LUA), q(scratch .. "/.runner.lua"),
    q(scratch .. "/.blocks.lua")))
  helpers.remove_dir(scratch)
  local results, at = {}, 1
  for i = 1, #blocks do
    local s, e, verdict = out:find("\n### block " .. i .. " ([^\n]*)\n", at)
    if not s then
      results[i] = { ok = false, out = out:sub(at), error = "did not run to its end (the child stopped)" }
      break
    end
    local ok = verdict == "ok"
    results[i] = { ok = ok, out = out:sub(at, s), error = not ok and verdict:gsub("^failed: ", "") or nil }
    at = e + 1
  end
  return results, out
end

--- Asserts every result is ok; names the block that failed and shows what
--- it printed.
function M.assert_ran(blocks, results, out)
  for i, block in ipairs(blocks) do
    local result = results[i]
    assert(result, ("%s did not run:\n%s"):format(M.where(block), out))
    assert(result.ok, ("%s failed: %s\nit printed:\n%s"):format(M.where(block), tostring(result.error), result.out))
  end
end

-- Whether a shell command's text goes on past its end: an open quote, or a
-- backslash at its end (a `#` comment ends at the line's end).
local function continues(text)
  local state, i = nil, 1
  while i <= #text do
    local c = text:sub(i, i)
    if state == "'" then
      if c == "'" then state = nil end
    elseif state == '"' then
      if c == "\\" then i = i + 1 elseif c == '"' then state = nil end
    elseif c == "\\" then
      if i == #text then return true end
      i = i + 1 -- what it escapes (a line break: the next line goes on)
    elseif c == "'" or c == '"' then
      state = c
    elseif c == "#" and (i == 1 or text:sub(i - 1, i - 1):match("%s")) then
      local eol = text:find("\n", i, true)
      if not eol then return false end
      i = eol
    end
    i = i + 1
  end
  return state ~= nil
end

--- The commands of a transcript block (`$ ` lines, each with the lines an
--- open quote or a trailing backslash carries on) and the output the page
--- shows after each: a list of { command = text, shown = the output lines,
--- the indented ones joined to the line before (nil when none is shown) }.
function M.transcript(block)
  local commands, current = {}, nil
  for line in block.text:gmatch("([^\n]*)\n") do
    if current and continues(current.command) then
      current.command = current.command .. "\n" .. line
    elseif line:find("^%$ ") then
      current = { command = line:sub(3) }
      commands[#commands + 1] = current
    else
      assert(current, M.where(block) .. ": output before the first `$ ` line")
      if current.shown and line:find("^%s") then
        current.shown[#current.shown] = current.shown[#current.shown] .. line:gsub("^%s+", "")
      else
        current.shown = current.shown or {}
        current.shown[#current.shown + 1] = line
      end
    end
  end
  return commands
end

--- Whether text (one line) is what `shown` shows, where each `...` of
--- shown stands for any text.
function M.shows(shown, text)
  local pieces = {}
  for piece in (shown .. "..."):gmatch("(.-)%.%.%.") do pieces[#pieces + 1] = (piece:gsub("%p", "%%%0")) end
  return text:find("^" .. table.concat(pieces, ".-") .. "$") ~= nil
end

--- Why shell blocks cannot run in a sandbox here, or nil. The sandbox is a
--- network namespace (no network; the documents' fixed ports are free
--- whoever else runs tests), a PID namespace (a server a block leaves
--- running ends with the session) and a mount namespace (a folder a block
--- installs into, /usr/local, can be an empty tmpfs that vanishes after).
function M.sandbox_unavailable()
  local ok = os.execute("unshare --mount --net --pid --fork --mount-proc true >/dev/null 2>&1")
  if not (ok == true or ok == 0) then return "unshare (network, PID and mount namespaces) is not allowed here: it needs root" end
  return helpers.missing_command({ "ip", "bash", "timeout" })
end

--- Runs the bash script `script` (text) in the folder dir inside the
--- sandbox: the loopback up, opts.tmpfs (a list of folders) each an empty
--- tmpfs, then `bash` with only PATH, HOME (opts.home, default dir) and
--- opts.env ({ NAME = value }) set, killed after opts.timeout seconds
--- (default 300). Returns its output (stdout and stderr) and exit status.
function M.run_sandboxed(dir, script, opts)
  opts = opts or {}
  helpers.write_file(dir .. "/.session.sh", script)
  local setup = { "ip link set lo up" }
  for _, folder in ipairs(opts.tmpfs or {}) do setup[#setup + 1] = "mount -t tmpfs tmpfs " .. q(folder) end
  local vars = { "PATH=" .. q(opts.path or "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"),
                 "HOME=" .. q(opts.home or dir) }
  for name, value in pairs(opts.env or {}) do vars[#vars + 1] = name .. "=" .. q(value) end
  table.sort(vars)
  setup[#setup + 1] = "exec env -i " .. table.concat(vars, " ") .. " bash .session.sh"
  return helpers.run(("cd %s && timeout %d unshare --mount --net --pid --fork --kill-child --mount-proc sh -c %s 2>&1")
    :format(q(dir), opts.timeout or 300, q(table.concat(setup, " && "))))
end

return M
