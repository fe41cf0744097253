-- examples/openresty/ runs as its README says: the README's shell lines,
-- as written, as one session from the top of a copy of the checkout
-- (`make build LUA=luajit`, the mock, run.sh, curl, a stop). The example
-- listens on its fixed port (8090) and the mock on its default (8080), so
-- the session runs in a network namespace of its own (unshare -n), where
-- those ports are free whoever else runs tests. What it must show: JSON
-- for a table, 400 and JSON without an id, the API's 404 as JSON, and one
-- worker of the two looking at the watched tables.
local helpers = require("spec.helpers")
local markdown = require("spec.support.markdown")
local q = helpers.shell_quote

local README = "examples/openresty/README.md"

local function cannot_run()
  local ok = os.execute("unshare -n true >/dev/null 2>&1")
  if not (ok == true or ok == 0) then return "unshare -n is not allowed here (it needs root)" end
  if not io.open("/usr/lib/nginx/modules/ngx_http_lua_module.so", "rb") then
    return "libnginx-mod-http-lua is not installed"
  end
  return helpers.missing_command({ "nginx", "curl", "ip", "luajit" })
end

describe(README, function()
  local why = cannot_run()
  if why then
    print("NOTICE: openresty_example_spec skipped: " .. why)
    it("runs as written", function() pending(why) end)
    return
  end

  local work
  lazy_setup(function()
    work = helpers.scratch_dir()
    assert(os.execute(("cp -r Makefile src lua bin %s && mkdir -p %s/examples %s/.bin && cp -r examples/openresty %s/examples/")
      :format(q(work), q(work), q(work), q(work))))
    -- `extruct-mock` on the PATH: this checkout's
    helpers.write_file(work .. "/.bin/extruct-mock", ("#!/bin/sh\nexec %s %s \"$@\"\n"):format(q(helpers.LUA),
      q(work .. "/bin/extruct-mock")))
    assert(os.execute("chmod +x " .. q(work .. "/.bin/extruct-mock")))
  end)
  lazy_teardown(function()
    if work then os.execute("rm -rf " .. q(work)) end
  end)

  it("runs as written: a table's status as JSON, 400 without an id, one worker watching", function()
    local blocks = markdown.claimed(README, "integration/openresty_example_spec")
    assert.equal(1, #blocks)
    helpers.write_file(work .. "/session.sh", "set -e\n" .. blocks[1].text)
    local out, status = helpers.run(("cd %s && timeout 120 unshare -n sh -c %s 2>&1"):format(q(work),
      q(("ip link set lo up && exec env -i PATH=%s HOME=%s bash session.sh"):format(
        q(work .. "/.bin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"), q(work)))))
    assert.equal(0, status, out)
    -- each curl -w prints the body (one line of JSON) then "HTTP <status>"
    local answers = {}
    for body, code in out:gmatch("([^\n]+)\nHTTP (%d%d%d)") do answers[#answers + 1] = { body, code } end
    assert.equal(3, #answers, out)
    local extruct = require("extruct")
    local function answer(i, code)
      assert.equal(code, answers[i][2])
      return assert(extruct.decode(answers[i][1]))
    end
    local t = answer(1, "200")
    assert.equal("tbl_demo", t.id)
    assert.equal("Démo — B2B companies", t.name)
    assert.equal(250, t.total)
    local missing = answer(2, "400")
    assert.same({ error = "bad_request", message = "missing ?id=TABLE_ID" }, missing)
    local unknown = answer(3, "404")
    assert.equal("not_found", unknown.error)
    assert.matches("table 'tbl_nope' is unknown", unknown.message, 1, true)
    local watched = assert(extruct.decode(out:match('\n({[^\n]*"looks_by_worker"[^\n]*})\n')))
    -- two workers, one looking: worker 0, once at start (every 60 s after)
    assert.same({ ["0"] = 1 }, watched.looks_by_worker)
    assert.equal("tbl_idle", watched.tables.tbl_idle.id)
    assert.is_true(watched.tables.tbl_idle.idle)
    assert.equal("running", watched.tables.tbl_demo.run_status)
    assert.truthy(helpers.read_file(work .. "/examples/openresty/resolver.conf"), "no resolver.conf written")
  end)
end)
