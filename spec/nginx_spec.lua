-- extruct inside OpenResty-style nginx: Debian's nginx with lua-nginx-module,
-- one worker on a loopback port, a location that waits for a table of the
-- mock server. While it waits (ngx.sleep between polls), the same worker
-- must answer other requests; a wait that slept in C would hold the worker
-- until the table went idle.
local helpers = require("spec.helpers")
local q = helpers.shell_quote

local root = helpers.run("pwd"):gsub("%s+$", "")
local MODULES = "/usr/lib/nginx/modules"

local CONFIG = [[
load_module %s/ndk_http_module.so;
load_module %s/ngx_http_lua_module.so;

daemon off;
master_process off;
worker_processes 1;
pid %s/nginx.pid;
error_log %s/error.log info;
env EXTRUCT_API_TOKEN;
env EXTRUCT_API_URL;

events { worker_connections 64; }

http {
  access_log off;
  # Debian's build points these at /var/lib/nginx: keep everything in the prefix.
  client_body_temp_path %s/body;
  proxy_temp_path %s/proxy;
  fastcgi_temp_path %s/fastcgi;
  uwsgi_temp_path %s/uwsgi;
  scgi_temp_path %s/scgi;

  lua_package_path "%s/lua/?.lua;%s/lua/?/init.lua;;";
  lua_package_cpath "%s/build/luajit/?.so;;";

  server {
    listen 127.0.0.1:%d;

    location /wait {
      content_by_lua_block {
        local extruct = require("extruct")
        local strategy = require("extruct.clock").strategy()
        local t, err = extruct.wait_until_idle(ngx.var.arg_id, { interval = 0.3 })
        if not t then
          ngx.status = 502
          ngx.say("error ", tostring(err))
          return
        end
        ngx.say(t.id, " ", t.status.run_status, " ", strategy)
      }
    }

    location /ping {
      content_by_lua_block { ngx.say("pong") }
    }
  }
}
]]

describe("inside nginx with lua-nginx-module", function()
  local mock, work, port, nginx_pid

  local function url(path) return ("http://127.0.0.1:%d%s"):format(port, path) end

  lazy_setup(function()
    local out, status = helpers.run("make --no-print-directory build LUA=luajit 2>&1")
    assert(status == 0, out)
    mock = helpers.start_mock()
    work = os.tmpname()
    os.remove(work)
    assert(os.execute("mkdir -p " .. q(work)))
    port = helpers.closed_port()

    local f = assert(io.open(work .. "/nginx.conf", "w"))
    f:write(CONFIG:format(MODULES, MODULES, work, work, work, work, work, work, work,
      root, root, root, port))
    f:close()
    -- -e: the startup error log too stays in the prefix
    local launch = ("cd %s && EXTRUCT_API_TOKEN=%s EXTRUCT_API_URL=%s nginx -p %s -c %s -e %s"
      .. " >%s 2>&1 </dev/null & echo $!")
      :format(q(work), q(mock.token), q(mock.url), q(work), q(work .. "/nginx.conf"),
        q(work .. "/error.log"), q(work .. "/nginx.out"))
    nginx_pid = tonumber((helpers.run(launch)))
    local up = helpers.eventually(10, function() return not helpers.refuses_connections(port) end)
    if not up then
      local log = io.open(work .. "/error.log", "rb")
      error("nginx did not start: " .. (log and log:read("*a") or "no error log"))
    end
  end)

  lazy_teardown(function()
    if nginx_pid then
      os.execute("kill " .. nginx_pid .. " 2>/dev/null")
      if not helpers.eventually(5, function() return helpers.refuses_connections(port) end) then
        os.execute("kill -9 " .. nginx_pid .. " 2>/dev/null")
      end
    end
    if mock then mock:stop() end
    if work then os.execute("rm -rf " .. q(work)) end
  end)

  local function polls_of(id)
    local n = 0
    for _, r in ipairs(mock:requests()) do
      if r.path == "/v1/tables/" .. id then n = n + 1 end
    end
    return n
  end

  it("answers another request on the same worker while a wait is in flight", function()
    mock:add_table{ id = "tbl_ngx", polls = 8 }
    -- /wait in the background; the file appears once its answer is complete
    local wait_body, wait_done = work .. "/wait.body", work .. "/wait.done"
    -- (without the ASan runtime that `make asan` preloads into the busted process)
    assert(os.execute(("(env -u LD_PRELOAD curl -s --max-time 60 -o %s %s; touch %s) >/dev/null 2>&1 &")
      :format(q(wait_body), q(url("/wait?id=tbl_ngx")), q(wait_done))))
    assert.is_true(helpers.eventually(10, function() return polls_of("tbl_ngx") >= 1 end),
      "the wait never polled the mock server")

    local pong, status = helpers.run("curl -s --max-time 60 " .. q(url("/ping")))
    local polls_when_answered = polls_of("tbl_ngx")
    local wait_finished_first = io.open(wait_done, "rb") ~= nil
    assert.equal(0, status)
    assert.equal("pong\n", pong)
    -- /ping came back while the wait still had polls to make
    assert.is_false(wait_finished_first, "/wait ended before /ping was answered")
    assert.is_true(polls_when_answered < 8,
      ("/ping was answered only after all %d polls"):format(polls_when_answered))

    assert.is_true(helpers.eventually(30, function() return io.open(wait_done, "rb") ~= nil end),
      "/wait did not finish")
    assert.equal("tbl_ngx idle ngx\n", helpers.read_file(wait_body))
    assert.equal(8, polls_of("tbl_ngx"))
  end)

  it("reports a failed wait as the page's answer, and the worker lives on", function()
    local body = helpers.run("curl -s --max-time 60 " .. q(url("/wait?id=tbl_missing")))
    assert.matches("^error extruct: not_found: table 'tbl_missing'", body)
    assert.equal("pong\n", (helpers.run("curl -s --max-time 60 " .. q(url("/ping")))))
  end)
end)
