-- The soak's nginx host (spec/soak/run.lua runs it): nginx with 4 workers,
-- whose /batch handler runs a batch of soak calls (spec/soak/soak.lua)
-- through extruct.gather on one transport: over cosockets (light threads
-- waiting side by side) or over libcurl (each transfer blocks its worker,
-- so the cosocket requests of that worker wait the while).
local openresty = require("spec.support.openresty")

local M = {}

M.CONFIG = [[
load_module /usr/lib/nginx/modules/ndk_http_module.so;
load_module /usr/lib/nginx/modules/ngx_http_lua_module.so;

daemon off;
master_process on;
worker_processes 4;
pid ${work}/nginx.pid;
error_log ${work}/error.log ${log_level};

events { worker_connections 4096; }

http {
]] .. openresty.HTTP_FILES .. [[
  # (the cosockets' own timeouts are set on each socket; these are nginx's
  # for the client of /batch, which waits for a whole batch)
  send_timeout 300s;

  init_by_lua_block {
    extruct = require("extruct")
    soak = require("spec.soak.soak")
    soak_url = "${url}"
  }

  server {
    listen 127.0.0.1:${port};

    # /batch?transport=cosocket|curl&seed=S&prefix=P&n=N&concurrency=C:
    # the outcomes of the batch's calls, as JSON.
    location /batch {
      content_by_lua_block {
        local args = ngx.req.get_uri_args()
        soak_clients = soak_clients or {}
        local clients = soak_clients[args.transport]
        if not clients then
          clients = {}
          for i = 1, 3 do clients[i] = soak.client(extruct, soak_url, { transport = args.transport }) end
          soak_clients[args.transport] = clients
        end
        local calls = soak.calls(soak.rng(tonumber(args.seed)), args.prefix, tonumber(args.n))
        local outcomes = soak.round(extruct, clients, calls, tonumber(args.concurrency))
        ngx.say(assert(extruct.encode(outcomes)))
      }
    }
  }
}
]]

--- The configuration for a soak server at `url`, nginx listening on
--- `port`, its files in `work`, this checkout at `root`.
function M.config(values)
  return openresty.fill(M.CONFIG, values)
end

return M
