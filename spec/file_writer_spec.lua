-- extruct.file_writer, the one way the command line writes a file: a
-- regular file replaced whole through an exclusively created file of a
-- fresh name beside it (owner and mode kept), links written through, devices,
-- FIFOs and descriptors written directly, and on every failure FILE as it
-- was and nothing left beside it. Real files in a scratch folder; the
-- failures are real too (a file size limit, a full device, a loop of links).
local helpers = require("spec.helpers")
local core = require("extruct.core")
local file_writer = require("extruct.file_writer")

local q = helpers.shell_quote
local read_file, write_file = helpers.read_file, helpers.write_file

local function sh(command)
  local out, status = helpers.run(command .. " 2>&1")
  assert.equal(0, status, out)
  return out
end

local function octal(text) return tonumber(text, 8) end

-- Writes text to path through a writer and commits: true, or nil and err.
local function put(path, text)
  local out, err = file_writer.open(path)
  if not out then return nil, err end
  local ok
  ok, err = out:write(text)
  if ok then ok, err = out:commit() end
  if not ok then return nil, err end
  return true
end

describe("extruct.file_writer", function()
  local dir

  -- The names in dir, sorted, one a line.
  local function listing()
    return sh("ls -A " .. q(dir))
  end

  before_each(function() dir = helpers.scratch_dir() end)
  after_each(function() helpers.remove_dir(dir) end)

  it("replaces a regular file only at commit, through a new hidden file of a fresh name, mode 0600", function()
    local path = dir .. "/data.csv"
    write_file(path, "old\n")
    local first, second = assert(file_writer.open(path)), assert(file_writer.open(path))
    assert(first:write(("a"):rep(file_writer.BUFFER_SIZE)))
    assert(second:write(("b"):rep(file_writer.BUFFER_SIZE)))
    -- both under way: FILE as it was, two new files beside it, none of them FILE.part
    assert.equal("old\n", read_file(path))
    local names = {}
    for name in listing():gmatch("[^\n]+") do
      if name ~= "data.csv" then
        assert.matches("^%.data%.csv%.%x+%.tmp$", name)
        assert.equal(32, #name:match("%.(%x+)%.tmp$"))
        assert.equal(octal("600"), core.file_info(dir .. "/" .. name).mode)
        names[#names + 1] = name
      end
    end
    assert.equal(2, #names)
    assert.are_not.equal(names[1], names[2])
    assert(first:commit())
    assert.equal(("a"):rep(file_writer.BUFFER_SIZE), read_file(path))
    assert(second:commit())
    assert.equal(("b"):rep(file_writer.BUFFER_SIZE), read_file(path))
    assert.equal("data.csv\n", listing())
  end)

  it("streams: what is written reaches the new file before commit, in pieces of the buffer's size", function()
    local path = dir .. "/big.jsonl"
    local out = assert(file_writer.open(path))
    local line = ("x"):rep(1023) .. "\n"
    for _ = 1, 1024 do assert(out:write(line)) end
    local temporary = listing():match("(%.big%.jsonl%.%x+%.tmp)")
    assert.truthy(temporary)
    assert.truthy(core.file_info(dir .. "/" .. temporary).size >= 1024 * 1024 - file_writer.BUFFER_SIZE)
    assert.is_nil(io.open(path, "rb"))
    assert(out:commit())
    assert.equal(1024 * 1024, #read_file(path))
  end)

  it("keeps the mode of the file it replaces; a new file gets 0666 less the umask, as any", function()
    local path = dir .. "/report.md"
    write_file(path, "old")
    for _, mode in ipairs({ "640", "600", "755", "2750" }) do
      sh(("chmod %s %s"):format(mode, q(path)))
      assert(put(path, "new " .. mode))
      assert.equal("new " .. mode, read_file(path))
      assert.equal(octal(mode), core.file_info(path).mode)
    end
    write_file(dir .. "/by_io", "")
    assert(put(dir .. "/new.md", "new"))
    assert.equal(core.file_info(dir .. "/by_io").mode, core.file_info(dir .. "/new.md").mode)
  end)

  it("keeps the owner and group of the file it replaces, where the system allows it", function()
    if sh("id -u") ~= "0\n" then
      print("NOTICE: file_writer_spec: the owner test needs root (only root can give a file to another user)")
      return pending("needs root to make a file of another user")
    end
    local path = dir .. "/theirs.md"
    write_file(path, "old")
    sh(("chown 65534:65534 %s && chmod 640 %s"):format(q(path), q(path)))
    assert(put(path, "new"))
    local info = core.file_info(path)
    assert.same({ 65534, 65534, octal("640") }, { info.uid, info.gid, info.mode })
    assert.equal("new", read_file(path))
  end)

  it("writes through a symbolic link, and through a chain of them, each staying a link", function()
    write_file(dir .. "/target.md", "old")
    sh(("cd %s && mkdir sub && ln -s ../target.md sub/relative && ln -s %s/sub/relative absolute")
      :format(q(dir), q(dir)))
    assert(put(dir .. "/absolute", "through two links"))
    assert.equal("through two links", read_file(dir .. "/target.md"))
    assert.equal("link", core.file_info(dir .. "/absolute", true).type)
    assert.equal("link", core.file_info(dir .. "/sub/relative", true).type)
    assert.equal("../target.md", core.read_link(dir .. "/sub/relative"))
    -- a link to nothing yet: the file is made where it points
    sh(("cd %s && ln -s made.md dangling"):format(q(dir)))
    assert(put(dir .. "/dangling", "made"))
    assert.equal("made", read_file(dir .. "/made.md"))
    assert.equal("link", core.file_info(dir .. "/dangling", true).type)
    assert.equal("absolute\ndangling\nmade.md\nsub\ntarget.md\n", listing())
  end)

  -- A device node of the scratch folder where the system lets one be made
  -- (root), else the system's own: a writer that replaced its FILE, run as
  -- root, must not take /dev/null from the machine, and as anyone else it
  -- could not.
  local function device(name, major, minor)
    local path = dir .. "/" .. name
    local _, made = helpers.run(("mknod %s c %d %d 2>/dev/null"):format(q(path), major, minor))
    return made == 0 and path or "/dev/" .. name
  end

  it("writes a device directly, and it stays a device", function()
    local null, full = device("null", 1, 3), device("full", 1, 7)
    assert(put(null, "nothing"))
    assert.equal("character device", core.file_info(null).type)
    assert.equal("", read_file(null))
    -- a full device fails at the latest at commit, as an output error
    local ok, err = put(full, ("x"):rep(100))
    assert.is_nil(ok)
    assert.equal("output", err.kind)
    assert.equal(("cannot write %s: No space left on device"):format(full), err.message)
    assert.equal("character device", core.file_info(full).type)
  end)

  it("refuses a directory, a missing folder, a path through a file, and a loop of links, leaving nothing", function()
    write_file(dir .. "/plain", "x")
    sh(("cd %s && ln -s loop2 loop1 && ln -s loop1 loop2"):format(q(dir)))
    local cases = {
      { dir, "it is a directory" },
      { dir .. "/missing/report.md", "No such file or directory" },
      { dir .. "/plain/report.md", "Not a directory" },
      { dir .. "/loop1", "Too many levels of symbolic links" },
    }
    for _, case in ipairs(cases) do
      local out, err = file_writer.open(case[1])
      assert.is_nil(out, case[1])
      assert.equal("output", err.kind)
      assert.equal(("cannot write %s: %s"):format(case[1], case[2]), err.message)
    end
    assert.equal("loop1\nloop2\nplain\n", listing())
  end)

  it("on a failed write leaves FILE as it was and removes the new file (a file size limit)", function()
    local path = dir .. "/report.md"
    write_file(path, "the old report\n")
    -- a child with a 64 KB limit on file size (SIGXFSZ ignored: the write fails with EFBIG)
    local code = ([[
      local file_writer = require("extruct.file_writer")
      local out = assert(file_writer.open(%q))
      local ok, err = out:write(("x"):rep(200 * 1024))
      if ok then ok, err = out:commit() end
      io.write(tostring(ok), " ", err.kind, " ", err.message, "\n")
    ]]):format(path)
    -- (under `make asan` the module needs the ASan runtime preloaded, as here)
    local preload = os.getenv("LD_PRELOAD")
    local out, status = helpers.run(("ulimit -f 64; trap '' XFSZ; env %sLUA_PATH=%s LUA_CPATH=%s %s -e %s 2>&1"):format(
      preload and "LD_PRELOAD=" .. q(preload) .. " " or "", q(package.path), q(package.cpath), q(helpers.LUA), q(code)))
    assert.equal(0, status, out)
    assert.equal(("nil output cannot write %s: File too large\n"):format(path), out)
    assert.equal("the old report\n", read_file(path))
    assert.equal("report.md\n", listing())
  end)

  it("abort leaves FILE as it was and removes the new file; a finished writer refuses more", function()
    local path = dir .. "/report.md"
    write_file(path, "the old report\n")
    local out = assert(file_writer.open(path))
    assert(out:write(("x"):rep(2 * file_writer.BUFFER_SIZE)))
    assert.matches("^%.report%.md%.%x+%.tmp\nreport%.md\n$", listing())
    assert.is_true(out:abort())
    assert.is_true(out:abort())
    assert.equal("the old report\n", read_file(path))
    assert.equal("report.md\n", listing())
    -- misuse raises at the caller's line
    local _, message = pcall(function() out:write("more") end)
    assert.matches("file_writer_spec%.lua:%d+: extruct%.file_writer: write after the writer was aborted$", message)
    local done = assert(file_writer.open(path))
    assert(done:commit())
    assert.equal("", read_file(path))
    assert.error_matches(function() done:commit() end, "commit after the writer was committed")
    _, message = pcall(function() file_writer.open(42) end)
    assert.matches("file_writer_spec%.lua:%d+: extruct%.file_writer%.open: expected a file name, got number$", message)
  end)

  it("an unfinished writer closed by its scope (Lua 5.4 <close>) is aborted", function()
    if _VERSION ~= "Lua 5.4" then return pending("to-be-closed variables are Lua 5.4's") end
    local path = dir .. "/report.md"
    write_file(path, "the old report\n")
    assert(load([[
      local file_writer, path = ...
      do
        local out <close> = assert(file_writer.open(path))
        assert(out:write(("x"):rep(2 * file_writer.BUFFER_SIZE)))
      end
    ]]))(file_writer, path)
    assert.equal("the old report\n", read_file(path))
    assert.equal("report.md\n", listing())
  end)

  it("docs/api.md's example runs, writing its report.md (here, in the scratch folder)", function()
    local block = read_file("docs/api.md"):match("\n### `extruct%.file_writer%.open`\n.-\n```lua\n(.-)```\n")
    assert.truthy(block)
    local path = dir .. "/report.md"
    write_file(path, "the old report\n")
    local code, replaced = block:gsub('"report%.md"', (("%q"):format(path):gsub("%%", "%%%%")))
    assert.equal(1, replaced)
    local out, status = helpers.run_lua("", code, 30)
    assert.equal(0, status, out)
    assert.equal("# Report\n\nAll done.\n", read_file(path))
    assert.equal("report.md\n", listing())
  end)

  it("core.create_file creates only: never an existing file, never through a link", function()
    write_file(dir .. "/taken", "keep")
    sh(("cd %s && ln -s elsewhere link"):format(q(dir)))
    for _, name in ipairs({ "taken", "link" }) do
      local file, why, code = core.create_file(dir .. "/" .. name, octal("600"))
      assert.is_nil(file)
      assert.equal("File exists", why)
      assert.equal("EEXIST", code)
    end
    assert.equal("keep", read_file(dir .. "/taken"))
    assert.is_nil(core.file_info(dir .. "/elsewhere"))
    local file = assert(core.create_file(dir .. "/new", octal("600")))
    assert.is_true(file:write("abc"))
    assert.is_true(file:close())
    assert.is_true(file:close())
    assert.equal("abc", read_file(dir .. "/new"))
    assert.error_matches(function() file:write("x") end, "the file is closed")
  end)
end)
