-- extruct inside OpenResty-style nginx (Debian's nginx with
-- lua-nginx-module): requests go over cosockets, so one worker serves
-- others while many requests wait on a slow or stalled API; TLS is
-- verified through lua_ssl_trusted_certificate; a client first used in
-- init_by_lua is safe in every worker after the fork.
--
-- Load comes from `curl --parallel`, the pings from a shell loop of curl
-- runs; the figures are printed, and the specs assert ratios and bounds,
-- never an absolute time.
local helpers = require("spec.helpers")
local openresty = require("spec.support.openresty")
local q = helpers.shell_quote

local DELAY = 0.3

describe("inside OpenResty", function()
  local fixture = helpers.shared_mock()
  local work

  lazy_setup(function()
    helpers.build_luajit()
    work = helpers.scratch_dir()
    openresty.make_certificates(work)
  end)
  lazy_teardown(function() helpers.remove_dir(work) end)

  local function start_nginx(workers) return openresty.start(work, fixture.mock, workers) end
  local nginx
  after_each(function()
    if nginx then nginx.stop() end
    nginx = nil
  end)

  local function load(urls, parallel) return openresty.load(nginx, urls, parallel) end
  local function start_pinging() return openresty.start_pinging(nginx) end

  local function urls(path, n, ids)
    local list = {}
    for i = 1, n do list[i] = nginx.url(path .. "?id=" .. ids(i)) end
    return list
  end

  it("serves 20 concurrent get_table as fast as a hand-written cosocket GET, and /ping meanwhile", function()
    nginx = start_nginx(1)
    fixture.mock:fault{ count = 100000, delay = DELAY, path = "/v1/tables/" }
    -- requests over cosockets, pauses with ngx.sleep
    assert.equal("cosocket ngx\n", (helpers.run("curl -s " .. q(nginx.url("/strategy")))))
    local n = 60
    local function same(i) return i % 2 == 0 and "tbl_idle" or "tbl_demo" end
    local stop = start_pinging()
    local bodies, extruct_wall = load(urls("/get", n, same), 20)
    local slowest_during_extruct, pings = stop()
    for i, body in ipairs(bodies) do assert.equal(same(i) .. "\n", body) end

    stop = start_pinging()
    local plain_bodies, plain_wall = load(urls("/plain", n, same), 20)
    local slowest_during_plain = stop()
    for i, body in ipairs(plain_bodies) do assert.equal(same(i) .. "\n", body) end

    local ratio = (n / extruct_wall) / (n / plain_wall)
    io.stdout:write(("\n    %d requests, 20 at a time, answers %g s late: extruct %.1f req/s, plain cosocket %.1f"
      .. " req/s (%.2fx); slowest /ping %.1f ms (%d pings) and %.1f ms\n"):format(n, DELAY, n / extruct_wall,
      n / plain_wall, ratio, slowest_during_extruct, pings, slowest_during_plain))
    assert.is_true(ratio >= 0.8, ("extruct's throughput is %.2fx the plain handler's"):format(ratio))
    assert.is_true(pings >= 5, "too few pings")
    assert.is_true(slowest_during_extruct < 50, ("/ping took %.1f ms"):format(slowest_during_extruct))
  end)

  it("keeps /ping fast while 20 wait_until_idle handlers poll", function()
    nginx = start_nginx(1)
    for i = 1, 20 do fixture.mock:add_table{ id = "tbl_w" .. i, polls = 4 } end
    fixture.mock:fault{ count = 100000, delay = DELAY, path = "/v1/tables/" }
    local stop = start_pinging()
    local bodies, wall = load(urls("/wait", 20, function(i) return "tbl_w" .. i end), 20)
    local slowest, pings = stop()
    for i, body in ipairs(bodies) do assert.equal(("tbl_w%d idle\n"):format(i), body) end
    -- 4 polls each, one after another, 0.3 s late and 0.1 s apart
    io.stdout:write(("\n    20 waits of 4 polls: %.2f s (one wait alone: about %.1f s); slowest /ping %.1f ms"
      .. " (%d pings)\n"):format(wall, 4 * DELAY + 3 * 0.1, slowest, pings))
    assert.is_true(wall < 20 * 4 * DELAY, "the waits did not overlap")
    assert.is_true(slowest < 50, ("/ping took %.1f ms"):format(slowest))
  end)

  it("answers a failed wait as the page's answer, and the worker lives on", function()
    nginx = start_nginx(1)
    local body = helpers.run("curl -s --max-time 60 " .. q(nginx.url("/wait?id=tbl_missing")))
    assert.matches("^error not_found table 'tbl_missing'", body)
    assert.equal("pong\n", (helpers.run("curl -s --max-time 60 " .. q(nginx.url("/ping")))))
  end)

  it("keeps /ping fast while a request waits on a stalled API", function()
    nginx = start_nginx(1)
    fixture.mock:fault{ count = 10, mode = "stall", path = "/v1/tables/tbl_stall" }
    fixture.mock:add_table{ id = "tbl_stall", polls = 0 }
    local done = nginx.dir .. "/stall.out"
    os.execute(("(env -u LD_PRELOAD curl -s --max-time 30 %s > %s.part; mv %s.part %s) >/dev/null 2>&1 &"):format(
      q(nginx.url("/stall")), q(done), q(done), q(done)))
    assert.is_true(helpers.eventually(5, function() return #fixture.mock:requests() >= 1 end))
    local stop = start_pinging()
    assert.is_true(helpers.eventually(10, function() return io.open(done) ~= nil end), "the stalled call never ended")
    local slowest, pings = stop()
    assert.equal("timeout\n", helpers.read_file(done))
    assert.is_true(pings >= 5)
    assert.is_true(slowest < 50, ("/ping took %.1f ms"):format(slowest))
  end)

  it("fetches and waits from an ngx.timer.at callback without blocking the worker", function()
    nginx = start_nginx(1)
    fixture.mock:add_table{ id = "tbl_timer", polls = 5 }
    fixture.mock:fault{ count = 100000, delay = DELAY, path = "/v1/tables/" }
    assert.equal("started\n", (helpers.run("curl -s " .. q(nginx.url("/timer?id=tbl_timer")))))
    local stop = start_pinging()
    assert.is_true(helpers.eventually(20, function()
      return helpers.run("curl -s " .. q(nginx.url("/timer_result?id=tbl_timer"))) == "idle\n"
    end), "the timer's wait did not end idle")
    local slowest = stop()
    assert.is_true(slowest < 50, ("/ping took %.1f ms"):format(slowest))
  end)

  it("overlaps the requests of extruct.gather and wait_all in light threads", function()
    nginx = start_nginx(1)
    for i = 1, 3 do fixture.mock:add_table{ id = "tbl_g" .. i, polls = 3 } end
    fixture.mock:fault{ count = 100000, delay = DELAY, path = "/v1/tables/" }
    local stop = start_pinging()
    assert.equal("10 idle\n", (helpers.run("curl -s --max-time 60 " .. q(nginx.url("/gather")))))
    local slowest = stop()
    assert.is_true(fixture.mock:stats().max_in_flight >= 8, "the gathered requests did not overlap")
    assert.is_true(slowest < 50, ("/ping took %.1f ms"):format(slowest))
  end)

  it("verifies TLS through lua_ssl_trusted_certificate; a wrong name or an untrusted certificate is kind tls", function()
    nginx = start_nginx(1)
    local function tls(base)
      return (helpers.run("curl -s -G --data-urlencode " .. q("url=" .. base) .. " " .. q(nginx.url("/tls"))))
    end
    assert.equal("ok tbl_idle\n", tls(("https://127.0.0.1:%d"):format(nginx.tls_port)))
    -- trusted, but made out to api.example.com
    assert.matches("^tls .*certificate", tls(("https://127.0.0.1:%d"):format(nginx.wrong_name_port)))
    -- the right name, but nobody vouches for it
    assert.matches("^tls .*certificate", tls(("https://127.0.0.1:%d"):format(nginx.untrusted_port)))
  end)

  it("says what nginx.conf needs: a ca_file cannot be honoured, a missing token needs the env directive", function()
    nginx = start_nginx(1)
    local out = helpers.run("curl -s " .. q(nginx.url("/misconfigured")))
    local ca, token = out:match("^(.-)\n(.-)\n$")
    assert.matches("^config: GET http://127%.0%.0%.1:%d+/v1/tables/tbl_idle: ca_file cannot be honoured by the cosocket"
      .. " transport", ca)
    assert.matches("lua_ssl_trusted_certificate", ca, 1, true)
    assert.matches("^config: no API token", token)
    assert.matches("env EXTRUCT_API_TOKEN;", token, 1, true)
  end)

  it("with 4 workers and a client first used in init_by_lua, gives each of 400 requests its own answer", function()
    local ids = {}
    for i = 1, 40 do
      ids[i] = "tbl_fork" .. i
      fixture.mock:add_table{ id = ids[i], polls = 0 }
    end
    nginx = start_nginx(4)
    local bodies = load(urls("/fork", 400, function(i) return ids[(i - 1) % 40 + 1] end), 16)
    local wrong = 0
    for i, body in ipairs(bodies) do
      if body ~= ids[(i - 1) % 40 + 1] .. " tbl_idle\n" then wrong = wrong + 1 end
    end
    assert.equal(0, wrong, ("%d of 400 answers were another request's"):format(wrong))
  end)
end)

