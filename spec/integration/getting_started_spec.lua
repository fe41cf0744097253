-- docs/getting-started.md runs as written: its `sh` blocks, in order, as
-- one shell session, its Lua blocks saved under the name their first line
-- gives (`-- first.lua: ...`), and the README's first Lua block beside
-- them. The `apt-get install` line is checked, not run: each package it
-- names is installed. The session installs with LuaRocks from a copy of the checkout into
-- a scratch $HOME, starts the mock on the page's fixed port and talks to
-- it: so it runs in a network namespace of its own (unshare -n), where
-- the port is free whoever else runs tests, and where LuaRocks has no
-- network (the install works offline, as the page says).
local helpers = require("spec.helpers")
local markdown = require("spec.support.markdown")
local q = helpers.shell_quote

local PAGE = "docs/getting-started.md"

-- Why the page cannot be run here, or nil.
local function cannot_run()
  local ok = os.execute("unshare -n true >/dev/null 2>&1")
  if not (ok == true or ok == 0) then return "unshare -n is not allowed here (it needs root)" end
  return helpers.missing_command({ "luarocks", "lua5.4", "curl", "jq", "ip" })
end

describe(PAGE, function()
  local why = cannot_run()
  if why then
    print("NOTICE: getting_started_spec skipped: " .. why)
    it("runs as written", function() pending(why) end)
    return
  end

  local work
  lazy_setup(function()
    work = helpers.scratch_dir()
    assert(os.execute(("cp -r %s extruct-scm-1.rockspec %s && mkdir %s/home")
      :format(helpers.ROCK_SOURCES, q(work), q(work))))
  end)
  lazy_teardown(function()
    if work then os.execute("rm -rf " .. q(work)) end
  end)

  it("is linked from the top of the README", function()
    local readme = helpers.read_file("README.md")
    local at = readme:find("(docs/getting-started.md)", 1, true)
    assert.truthy(at and at < 2000, "no link to " .. PAGE .. " near the README's top")
  end)

  it("runs as written: every block, in order, against a fresh mock, with no network", function()
    local script = { "set -e\n" }
    local blocks = markdown.claimed(PAGE, "integration/getting_started_spec")
    assert.equal(#markdown.blocks(PAGE), #blocks, "a block of " .. PAGE .. " is not marked for this spec")
    for i, block in ipairs(blocks) do
      if block.lang == "lua" then
        local name = block.text:match("^%-%- ([%w_%-]+%.lua):")
        assert.truthy(name, ("%s:%d: a Lua block starts with `-- NAME.lua: ...`"):format(PAGE, block.line))
        helpers.write_file(work .. "/" .. name, block.text)
      elseif block.lang == "sh" and block.text:find("^apt%-get install ") then
        -- (not run: a spec must not install or upgrade the machine's
        -- packages; each it names must be installed, as the page promises)
        print(("NOTICE: getting_started_spec: %s:%d is checked, not run: a spec installs no system packages;"
          .. " each package it names must be installed"):format(PAGE, block.line))
        local names = block.text:match("^apt%-get install %-y ([^\n]+)\n$")
        assert.truthy(names, block.text)
        local out, status = helpers.run("dpkg-query -W -f='${db:Status-Status} ${Package}\\n' " .. names .. " 2>&1")
        assert.equal(0, status, out)
        for name in names:gmatch("%S+") do
          assert.truthy(out:find("installed " .. name .. "\n", 1, true), name .. " is not installed:\n" .. out)
        end
      elseif block.lang == "sh" then
        script[#script + 1] = ("echo '### block %d (line %d)'\n"):format(i, block.line) .. block.text
        -- the README's first example, while the mock that first.lua used still runs
        if block.text:find("lua5.4 first.lua", 1, true) then
          local readme = markdown.claimed("README.md", "integration/getting_started_spec")[1]
          helpers.write_file(work .. "/readme.lua", readme.text)
          script[#script + 1] = "echo '### the README'\nlua5.4 readme.lua\n"
        end
      else
        error(("%s:%d: a block of '%s': only sh and lua blocks run"):format(PAGE, block.line, block.lang))
      end
    end
    helpers.write_file(work .. "/session.sh", table.concat(script))
    local out, status = helpers.run(("cd %s && timeout 600 unshare -n sh -c %s 2>&1"):format(q(work),
      q(("ip link set lo up && exec env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=%s bash session.sh")
        :format(q(work .. "/home")))))
    assert.equal(0, status, out)
    -- what each step shows
    for _, said in ipairs({
      "extruct " .. require("extruct")._VERSION .. " (Lua 5.4; libcurl/",  -- extruct --version
      '{"status":"ok"}',                                                   -- extruct health
      "Démo — B2B companies\trunning\t",                                   -- first.lua
      "250 of 250 cells",
      "https://acme.example\tAcme\nhttps://globex.example\tGlobex\nhttps://initech.example\tInitech\n### the README",
      "250\tof\t250\tcells",                                               -- the README's
      '"id":"tbl_demo"',                                                   -- tables list, piped: JSON lines
      "Démo — B2B companies (tbl_demo): idle, 250/250 cells, 100%",        -- tables status
      "extruct: payment: this needs the Pro plan",                         -- the free plan
      "exit status 1",
      "updated 3 rows of tbl_idle",                                        -- the CSV round trip
    }) do
      assert.truthy(out:find(said, 1, true), ("%q not in:\n%s"):format(said, out))
    end
    assert.matches("COMPANY +WEBSITE +COUNTRY +RELEVANCE\n", out)
    assert.equal("id", helpers.read_file(work .. "/idle.csv"):match("^([^,]+),"))
    assert.truthy(io.open(work .. "/home/.extruct/bin/extruct-mock", "rb"))
  end)
end)
