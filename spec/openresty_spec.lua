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
local q = helpers.shell_quote

local root = helpers.run("pwd"):gsub("%s+$", "")
local MODULES = "/usr/lib/nginx/modules"
local DELAY = 0.3

local CONFIG = [[
load_module ${modules}/ndk_http_module.so;
load_module ${modules}/ngx_http_lua_module.so;

daemon off;
master_process ${master};
worker_processes ${workers};
pid ${work}/nginx.pid;
error_log ${work}/error.log warn;
env EXTRUCT_API_TOKEN;
env EXTRUCT_API_URL;

events { worker_connections 1024; }

http {
  access_log off;
  client_body_temp_path ${work}/body;
  proxy_temp_path ${work}/proxy;
  fastcgi_temp_path ${work}/fastcgi;
  uwsgi_temp_path ${work}/uwsgi;
  scgi_temp_path ${work}/scgi;

  lua_package_path "${root}/lua/?.lua;${root}/lua/?/init.lua;;";
  lua_package_cpath "${root}/build/luajit/?.so;;";
  lua_ssl_trusted_certificate ${work}/bundle.pem;
  lua_shared_dict results 1m;

  # A client made and used before the fork: it holds a kept-alive
  # connection (and a multi handle) that every worker inherits.
  init_by_lua_block {
    extruct = require("extruct")
    init_client = extruct.new{ transport = "curl", retries = 0 }
    init_answer = assert(init_client:get_table("tbl_idle")).id
  }

  upstream mock { server ${mock_host}; }

  server {
    listen 127.0.0.1:${port};

    location /get {
      content_by_lua_block {
        local t, err = extruct.get_table(ngx.var.arg_id)
        if not t then ngx.status = 502; ngx.say("error ", err.kind, " ", err.message); return end
        ngx.say(t.id)
      }
    }

    # The same GET, hand-written over a cosocket, decoded with lua-cjson.
    location /plain {
      content_by_lua_block {
        local cjson = require("cjson")
        local sock = ngx.socket.tcp()
        sock:settimeouts(10000, 10000, 10000)
        assert(sock:connect("${mock_ip}", ${mock_port}))
        assert(sock:send("GET /v1/tables/" .. ngx.var.arg_id .. " HTTP/1.1\r\nHost: ${mock_host}\r\n"
          .. "Accept: application/json\r\nAuthorization: Bearer " .. os.getenv("EXTRUCT_API_TOKEN") .. "\r\n\r\n"))
        local length
        while true do
          local line = assert(sock:receive("*l"))
          if line == "" then break end
          length = tonumber(line:match("^[Cc]ontent%-[Ll]ength:%s*(%d+)")) or length
        end
        local t = cjson.decode(assert(sock:receive(length)))
        sock:setkeepalive(60000, 32)
        ngx.say(t.id)
      }
    }

    location /wait {
      content_by_lua_block {
        local t, err = extruct.wait_until_idle(ngx.var.arg_id, { interval = 0.1 })
        if not t then ngx.status = 502; ngx.say("error ", err.kind, " ", err.message); return end
        ngx.say(t.id, " ", t.status.run_status)
      }
    }

    location /stall {
      content_by_lua_block {
        local client = extruct.new{ retries = 0, timeout = 2 }
        local t, err = client:get_table("tbl_stall")
        ngx.say(t and "answered" or err.kind)
      }
    }

    location /timer {
      content_by_lua_block {
        local id = ngx.var.arg_id
        ngx.shared.results:set(id, "pending")
        assert(ngx.timer.at(0, function()
          local t, err = extruct.get_table(id)
          if t then t, err = extruct.wait_until_idle(id, { interval = 0.1 }) end
          ngx.shared.results:set(id, t and t.status.run_status or ("error " .. tostring(err)))
        end))
        ngx.say("started")
      }
    }

    location /timer_result {
      content_by_lua_block { ngx.say(ngx.shared.results:get(ngx.var.arg_id) or "none") }
    }

    location /tls {
      content_by_lua_block {
        local client = extruct.new{ base_url = ngx.unescape_uri(ngx.var.arg_url), retries = 0, timeout = 5 }
        local t, err = client:get_table("tbl_idle")
        ngx.say(t and ("ok " .. t.id) or (err.kind .. " " .. err.message))
      }
    }

    location /fork {
      content_by_lua_block {
        local t, err = init_client:get_table(ngx.var.arg_id)
        ngx.say(t and t.id or ("error " .. tostring(err)), " ", init_answer)
      }
    }

    location /gather {
      content_by_lua_block {
        local fns = {}
        for i = 1, 10 do fns[i] = function() return extruct.get_table("tbl_idle") end end
        local fine = 0
        for _, r in ipairs(extruct.gather(fns, { concurrency = 10 })) do
          if r[1] and r[1].id == "tbl_idle" then fine = fine + 1 end
        end
        local all, err = extruct.wait_all({ "tbl_g1", "tbl_g2", "tbl_g3" }, { interval = 0.1 })
        ngx.say(fine, " ", all and all.tbl_g3.status.run_status or tostring(err))
      }
    }

    location /strategy {
      content_by_lua_block { ngx.say(require("extruct.loop").strategy()) }
    }

    location /ping {
      content_by_lua_block { ngx.say("pong") }
    }
  }

  server {
    listen 127.0.0.1:${tls_port} ssl;
    ssl_certificate ${work}/trusted.pem;
    ssl_certificate_key ${work}/trusted.key;
    location / { proxy_pass http://mock; }
  }

  server {
    listen 127.0.0.1:${wrong_name_port} ssl;
    ssl_certificate ${work}/wrong_name.pem;
    ssl_certificate_key ${work}/wrong_name.key;
    location / { proxy_pass http://mock; }
  }

  server {
    listen 127.0.0.1:${untrusted_port} ssl;
    ssl_certificate ${work}/untrusted.pem;
    ssl_certificate_key ${work}/untrusted.key;
    location / { proxy_pass http://mock; }
  }
}
]]

local function fill(template, values)
  return (template:gsub("%${([%w_]+)}", function(name) return assert(values[name], name) end))
end

describe("inside OpenResty", function()
  local mock, work

  lazy_setup(function()
    local out, status = helpers.run("make --no-print-directory build LUA=luajit 2>&1")
    assert(status == 0, out)
    mock = helpers.start_mock()
    work = os.tmpname()
    os.remove(work)
    assert(os.execute("mkdir -p " .. q(work)))
    -- (cosockets resolve names only through a `resolver`: the specs connect
    -- to 127.0.0.1, which nginx checks as a DNS name, curl as an address)
    for name, names in pairs({ trusted = "IP:127.0.0.1,DNS:127.0.0.1", untrusted = "IP:127.0.0.1,DNS:127.0.0.1",
                               wrong_name = "DNS:api.example.com" }) do
      local _, made = helpers.run(("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=%s"
        .. " -addext subjectAltName=%s -keyout %s/%s.key -out %s/%s.pem 2>&1"):format(
        name, names, q(work), name, q(work), name))
      assert.equal(0, made)
    end
    -- nginx trusts the first and the wrongly named one
    helpers.write_file(work .. "/bundle.pem", helpers.read_file(work .. "/trusted.pem")
      .. helpers.read_file(work .. "/wrong_name.pem"))
  end)

  lazy_teardown(function()
    if mock then mock:stop() end
    if work then os.execute("rm -rf " .. q(work)) end
  end)

  -- Starts nginx with `workers` workers; returns its port and a stop function.
  local function start_nginx(workers)
    local ports = { helpers.closed_port(), helpers.closed_port(), helpers.closed_port(), helpers.closed_port() }
    local dir = work .. "/nginx" .. workers
    assert(os.execute("mkdir -p " .. q(dir)))
    os.execute(("cp %s/*.pem %s/*.key %s/"):format(q(work), q(work), q(dir)))
    helpers.write_file(dir .. "/nginx.conf", fill(CONFIG, {
      modules = MODULES, work = dir, root = root, port = tostring(ports[1]), tls_port = tostring(ports[2]),
      untrusted_port = tostring(ports[3]), wrong_name_port = tostring(ports[4]), workers = tostring(workers),
      master = workers > 1 and "on" or "off",
      mock_host = mock.host .. ":" .. mock.port, mock_ip = mock.host, mock_port = tostring(mock.port),
    }))
    local pid = tonumber((helpers.run(("cd %s && EXTRUCT_API_TOKEN=%s EXTRUCT_API_URL=%s nginx -p %s -c %s -e %s"
      .. " >%s 2>&1 </dev/null & echo $!"):format(q(dir), q(mock.token), q(mock.url), q(dir), q(dir .. "/nginx.conf"),
      q(dir .. "/error.log"), q(dir .. "/nginx.out")))))
    local up = helpers.eventually(10, function() return not helpers.refuses_connections(ports[1]) end)
    local function stop()
      os.execute("kill " .. pid .. " 2>/dev/null")
      if not helpers.eventually(5, function() return helpers.refuses_connections(ports[1]) end) then
        os.execute("kill -9 " .. pid .. " 2>/dev/null")
      end
    end
    if not up then
      stop()
      error("nginx did not start: " .. helpers.read_file(dir .. "/error.log"))
    end
    return { port = ports[1], tls_port = ports[2], untrusted_port = ports[3], wrong_name_port = ports[4],
             stop = stop, dir = dir,
             url = function(path) return ("http://127.0.0.1:%d%s"):format(ports[1], path) end }
  end

  local nginx
  before_each(function() mock:reset() end)
  after_each(function()
    if nginx then nginx.stop() end
    nginx = nil
  end)

  -- GETs every URL with `parallel` requests at a time (curl --parallel);
  -- returns the bodies in order and the wall time.
  local function load(urls, parallel)
    local dir = nginx.dir .. "/load"
    os.execute("rm -rf " .. q(dir) .. " && mkdir -p " .. q(dir))
    local lines = {}
    for i, u in ipairs(urls) do
      lines[#lines + 1] = ('url = "%s"\noutput = "%s/%d"'):format(u, dir, i)
    end
    helpers.write_file(dir .. ".cfg", table.concat(lines, "\n") .. "\n")
    local started = require("socket").gettime()
    local out, status = helpers.run(("curl -s -Z --parallel-max %d --max-time 60 -K %s 2>&1")
      :format(parallel, q(dir .. ".cfg")))
    local wall = require("socket").gettime() - started
    assert.equal(0, status, out)
    local bodies = {}
    for i = 1, #urls do bodies[i] = helpers.read_file(("%s/%d"):format(dir, i)) end
    return bodies, wall
  end

  -- Pings /ping every 20 ms in the background until stopped; returns a
  -- function that stops it and returns the slowest answer (ms) and the count.
  local function start_pinging()
    local file, stop_file = nginx.dir .. "/pings", nginx.dir .. "/pings.stop"
    os.remove(stop_file)
    os.execute(("(for i in $(seq 3000); do [ -e %s ] && break; env -u LD_PRELOAD curl -s -o /dev/null --max-time 30"
      .. " -w '%%{http_code} %%{time_total}\\n' %s; sleep 0.02; done > %s; touch %s.done) >/dev/null 2>&1 &")
      :format(q(stop_file), q(nginx.url("/ping")), q(file), q(stop_file)))
    return function()
      helpers.write_file(stop_file, "")
      assert(helpers.eventually(40, function() return io.open(stop_file .. ".done") ~= nil end), "pinger stuck")
      local slowest, count = 0, 0
      for code, seconds in helpers.read_file(file):gmatch("(%d+) ([%d.]+)") do
        assert.equal("200", code)
        count = count + 1
        slowest = math.max(slowest, tonumber(seconds) * 1000)
      end
      return slowest, count
    end
  end

  local function urls(path, n, ids)
    local list = {}
    for i = 1, n do list[i] = nginx.url(path .. "?id=" .. ids(i)) end
    return list
  end

  it("serves 20 concurrent get_table as fast as a hand-written cosocket GET, and /ping meanwhile", function()
    nginx = start_nginx(1)
    mock:fault{ count = 100000, delay = DELAY, path = "/v1/tables/" }
    assert.equal("cosocket\n", (helpers.run("curl -s " .. q(nginx.url("/strategy")))))
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
    for i = 1, 20 do mock:add_table{ id = "tbl_w" .. i, polls = 4 } end
    mock:fault{ count = 100000, delay = DELAY, path = "/v1/tables/" }
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

  it("keeps /ping fast while a request waits on a stalled API", function()
    nginx = start_nginx(1)
    mock:fault{ count = 10, mode = "stall", path = "/v1/tables/tbl_stall" }
    mock:add_table{ id = "tbl_stall", polls = 0 }
    local done = nginx.dir .. "/stall.out"
    os.execute(("(env -u LD_PRELOAD curl -s --max-time 30 %s > %s.part; mv %s.part %s) >/dev/null 2>&1 &"):format(
      q(nginx.url("/stall")), q(done), q(done), q(done)))
    assert.is_true(helpers.eventually(5, function() return #mock:requests() >= 1 end))
    local stop = start_pinging()
    assert.is_true(helpers.eventually(10, function() return io.open(done) ~= nil end), "the stalled call never ended")
    local slowest, pings = stop()
    assert.equal("timeout\n", helpers.read_file(done))
    assert.is_true(pings >= 5)
    assert.is_true(slowest < 50, ("/ping took %.1f ms"):format(slowest))
  end)

  it("fetches and waits from an ngx.timer.at callback without blocking the worker", function()
    nginx = start_nginx(1)
    mock:add_table{ id = "tbl_timer", polls = 5 }
    mock:fault{ count = 100000, delay = DELAY, path = "/v1/tables/" }
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
    for i = 1, 3 do mock:add_table{ id = "tbl_g" .. i, polls = 3 } end
    mock:fault{ count = 100000, delay = DELAY, path = "/v1/tables/" }
    local stop = start_pinging()
    assert.equal("10 idle\n", (helpers.run("curl -s --max-time 60 " .. q(nginx.url("/gather")))))
    local slowest = stop()
    assert.is_true(mock:stats().max_in_flight >= 8, "the gathered requests did not overlap")
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

  it("with 4 workers and a client first used in init_by_lua, gives each of 400 requests its own answer", function()
    local ids = {}
    for i = 1, 40 do
      ids[i] = "tbl_fork" .. i
      mock:add_table{ id = ids[i], polls = 0 }
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
