-- nginx with lua-nginx-module for the OpenResty specs and the bench: one
-- configuration with every handler they use, certificates, a start and a
-- stop, load from `curl --parallel`, and a pinger that times /ping.
local helpers = require("spec.helpers")
local socket = require("socket")
local q = helpers.shell_quote

local M = {}

local root = helpers.run("pwd"):gsub("%s+$", "")
local MODULES = "/usr/lib/nginx/modules"

-- What the http block of every nginx of the specs (the soak's too) begins
-- with: its files in ${work}, nothing outside it written, and this
-- checkout's Lua (${root}) first on the module paths.
M.HTTP_FILES = [[
  access_log off;
  client_body_temp_path ${work}/body;
  proxy_temp_path ${work}/proxy;
  fastcgi_temp_path ${work}/fastcgi;
  uwsgi_temp_path ${work}/uwsgi;
  scgi_temp_path ${work}/scgi;
  lua_package_path "${root}/lua/?.lua;${root}/lua/?/init.lua;${root}/?.lua;;";
  lua_package_cpath "${root}/build/luajit/?.so;;";
]]

M.CONFIG = [[
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
]] .. M.HTTP_FILES .. [[
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
    # The same with the libcurl transport forced: each transfer blocks the worker.
    location /get_curl {
      content_by_lua_block {
        curl_client = curl_client or extruct.new{ transport = "curl" }
        local t, err = curl_client:get_table(ngx.var.arg_id)
        if not t then ngx.status = 502; ngx.say("error ", err.kind, " ", err.message); return end
        ngx.say(t.id)
      }
    }

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

    # Configurations cosockets cannot serve: a ca_file, no token.
    location /misconfigured {
      content_by_lua_block {
        local with_ca = extruct.new{ ca_file = "/etc/ssl/certs/ca-certificates.crt", retries = 0 }
        local _, ca_err = with_ca:get_table("tbl_idle")
        local _, token_err = extruct.new{ token = "", retries = 0 }:get_table("tbl_idle")
        ngx.say(ca_err.kind, ": ", ca_err.message)
        ngx.say(token_err.kind, ": ", token_err.message)
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

    # One of spec/support/transport_checks.lua on cosockets, its result as JSON.
    location /check {
      content_by_lua_block {
        local checks = require("spec.support.transport_checks")
        local args = ngx.req.get_uri_args()
        local ctx = { url = args.url, token = args.token, closed_port = args.closed_port, other_url = args.other_url,
                      transport = "cosocket" }
        local ok, result = pcall(checks[args.name], ctx)
        ngx.say(assert(extruct.encode(ok and result or { raised = tostring(result) })))
      }
    }

    # Every case of the conformance suite through one transport, the
    # outcomes as JSON (spec/support/conformance.lua).
    location /conformance {
      content_by_lua_block {
        local conformance = require("spec.support.conformance")
        local args = ngx.req.get_uri_args()
        local outcomes = conformance.run_all{ origin = args.origin, transport = args.transport, run = args.run,
                                              blocking = args.transport == "curl" }
        ngx.say(assert(extruct.encode(outcomes)))
      }
    }

    location /strategy {
      content_by_lua_block { local host = require("extruct.host"); ngx.say(host.request_strategy(), " ", host.sleep_strategy()) }
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

--- `template` with each ${name} replaced by values[name] (each one must be given).
function M.fill(template, values)
  return (template:gsub("%${([%w_]+)}", function(name) return assert(values[name], name) end))
end


--- Makes the certificates in `work`: trusted.pem (for 127.0.0.1),
--- wrong_name.pem (trusted, for api.example.com), untrusted.pem (for
--- 127.0.0.1, trusted by nobody) and bundle.pem (what nginx trusts).
function M.make_certificates(work)
  -- (cosockets resolve names only through a `resolver`: the specs connect
  -- to 127.0.0.1, which nginx checks as a DNS name, curl as an address)
  for name, names in pairs({ trusted = "IP:127.0.0.1,DNS:127.0.0.1", untrusted = "IP:127.0.0.1,DNS:127.0.0.1",
                             wrong_name = "DNS:api.example.com" }) do
    local _, made = helpers.run(("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=%s"
      .. " -addext subjectAltName=%s -keyout %s/%s.key -out %s/%s.pem 2>&1"):format(
      name, names, q(work), name, q(work), name))
    assert(made == 0, "openssl could not make a certificate")
  end
  -- nginx trusts the first and the wrongly named one
  helpers.write_file(work .. "/bundle.pem", helpers.read_file(work .. "/trusted.pem")
    .. helpers.read_file(work .. "/wrong_name.pem"))
end

--- Starts nginx with `workers` workers (the certificates of `work` copied
--- into a folder of its own), against the mock; returns { port, tls_port,
--- untrusted_port, wrong_name_port, url(path), stop(), dir }.
function M.start(work, mock, workers)
  local ports = { helpers.closed_port(), helpers.closed_port(), helpers.closed_port(), helpers.closed_port() }
  local dir = work .. "/nginx" .. workers
  assert(os.execute("mkdir -p " .. q(dir)))
  os.execute(("cp %s/*.pem %s/*.key %s/"):format(q(work), q(work), q(dir)))
  helpers.write_file(dir .. "/nginx.conf", M.fill(M.CONFIG, {
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

--- GETs every URL with `parallel` requests at a time (curl --parallel);
--- returns the bodies in order and the wall time.
function M.load(nginx, urls, parallel)
  local dir = nginx.dir .. "/load"
  os.execute("rm -rf " .. q(dir) .. " && mkdir -p " .. q(dir))
  local lines = {}
  for i, u in ipairs(urls) do
    lines[#lines + 1] = ('url = "%s"\noutput = "%s/%d"'):format(u, dir, i)
  end
  helpers.write_file(dir .. ".cfg", table.concat(lines, "\n") .. "\n")
  local started = socket.gettime()
  local out, status = helpers.run(("curl -s -Z --parallel-max %d --max-time 60 -K %s 2>&1")
    :format(parallel, q(dir .. ".cfg")))
  local wall = socket.gettime() - started
  assert(status == 0, out)
  local bodies = {}
  for i = 1, #urls do bodies[i] = helpers.read_file(("%s/%d"):format(dir, i)) end
  return bodies, wall
end

--- Pings /ping every 20 ms in the background until stopped; returns a
--- function that stops it and returns the slowest answer (ms) and the count.
function M.start_pinging(nginx)
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
      assert(code == "200", "/ping answered " .. code)
      count = count + 1
      slowest = math.max(slowest, tonumber(seconds) * 1000)
    end
    return slowest, count
  end
end

return M
