-- OpenResty throughput: one nginx worker serving get_table handlers, 20
-- requests at a time (curl --parallel), while the mock answers 0, 0.1 or
-- 0.3 s late. Side by side: extruct on the libcurl transport (forced), on
-- the cosocket transport (the default in content handlers), and a
-- hand-written cosocket GET decoded with lua-cjson.
--
--   luajit bench/openresty.lua [--smoke]     (needs nginx with lua-nginx-module)
local helpers = require("spec.helpers")
local openresty = require("spec.support.openresty")

local smoke = arg[1] == "--smoke"
local DELAYS = smoke and { 0, 0.05 } or { 0, 0.1, 0.3 }
local PARALLEL = 20

local mock = helpers.start_mock()
local work = os.tmpname()
os.remove(work)
assert(os.execute("mkdir -p " .. helpers.shell_quote(work)))
local nginx
local ok, err = pcall(function()
  openresty.make_certificates(work)
  nginx = openresty.start(work, mock, 1)
  print(("== OpenResty: one worker, get_table handlers, %d requests at a time"):format(PARALLEL))
  print(("%7s %-34s %9s %10s %10s"):format("delay", "handler", "requests", "req/s", "vs plain"))
  for _, delay in ipairs(DELAYS) do
    -- enough requests for about a second of the fast handlers, at least 2 rounds
    local n = smoke and 20 or (delay == 0 and 400 or 60)
    local rates = {}
    for _, handler in ipairs({ { "/plain", "plain cosocket + lua-cjson" }, { "/get", "extruct (cosocket transport)" },
                               { "/get_curl", "extruct (libcurl transport)" } }) do
      mock:reset()
      if delay > 0 then mock:fault{ count = 1000000, delay = delay, path = "/v1/tables/" } end
      -- the libcurl transport serves one request at a time: fewer of them
      local count = handler[1] == "/get_curl" and delay > 0 and PARALLEL or n
      local urls = {}
      for i = 1, count do urls[i] = nginx.url(handler[1] .. "?id=tbl_idle&i=" .. i) end
      local bodies, wall = openresty.load(nginx, urls, PARALLEL)
      for _, body in ipairs(bodies) do assert(body == "tbl_idle\n", body) end
      rates[handler[1]] = count / wall
      print(("%6gs %-34s %9d %10.1f %9.2fx"):format(delay, handler[2], count, count / wall,
        (count / wall) / rates["/plain"]))
    end
  end
end)
if nginx then nginx.stop() end
mock:stop()
os.execute("rm -rf " .. helpers.shell_quote(work))
assert(ok, err)
