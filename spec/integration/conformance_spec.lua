-- The conformance suite: one table of cases (spec/support/conformance_cases.lua:
-- status lines, framing, chunks, trailers, 1xx, truncation at every stage,
-- unasked bytes, redirect targets of every form, closes, oversized
-- headers), served byte for byte by a hostile server of the suite's own
-- (spec/support/conformance_server.lua), each with the outcome a client
-- must give, written once. Every case runs through libcurl in plain Lua
-- (this process), libcurl inside nginx and cosockets inside nginx (a
-- content handler that runs them all and answers their outcomes as JSON);
-- a transport that gives another outcome fails its case.
local helpers = require("spec.helpers")
local cjson = require("cjson")
local cases = require("spec.support.conformance_cases")
local conformance = require("spec.support.conformance")
local openresty = require("spec.support.openresty")
local q = helpers.shell_quote

-- Starts the conformance server; returns { url, stop() }.
local function start_server()
  local pipe = assert(io.popen(("sh -c 'echo $$; exec \"$0\" spec/support/conformance_server.lua' %s")
    :format(q(helpers.LUA)), "r"))
  local pid = pipe:read("*l")
  local port = tonumber((pipe:read("*l") or ""):match("^listening (%d+)$"))
  if not port then
    pipe:close()
    error("the conformance server did not start (pid " .. tostring(pid) .. ")")
  end
  local server = { pipe = pipe, pid = tonumber(pid), port = port, host = "127.0.0.1",
                   url = "http://127.0.0.1:" .. port }
  function server.stop()
    helpers.stop_server(server, function() helpers.run("curl -s --max-time 2 " .. q(server.url .. "/shutdown")) end)
  end
  return server
end

describe("the conformance suite", function()
  local server, mock, work, nginx
  local in_nginx = {}

  lazy_setup(function()
    helpers.build_luajit()
    server = start_server()
    mock = helpers.start_mock()
    work = helpers.scratch_dir()
    openresty.make_certificates(work)
    nginx = openresty.start(work, mock, 1)
  end)

  lazy_teardown(function()
    if nginx then nginx.stop() end
    if mock then mock:stop() end
    if server then server.stop() end
    helpers.remove_dir(work)
  end)

  it("has at least 80 cases", function()
    assert.is_true(#cases.CASES >= 80, #cases.CASES .. " cases")
  end)

  -- The outcomes of every case through a transport inside nginx, fetched once.
  local function nginx_outcomes(transport)
    if not in_nginx[transport] then
      local out = helpers.run(("curl -s --max-time 180 -G --data-urlencode %s --data-urlencode %s"
        .. " --data-urlencode %s %s"):format(q("origin=" .. server.url), q("transport=" .. transport),
        q("run=nginx-" .. transport), q(nginx.url("/conformance"))))
      local ok, outcomes = pcall(cjson.decode, out)
      assert(ok, "nginx answered: " .. out)
      in_nginx[transport] = outcomes
    end
    return in_nginx[transport]
  end

  local function check(case, outcome)
    if outcome.skipped then
      print(("\n    skipped %s: %s"):format(case.name, outcome.skipped))
      return
    end
    local wrong = conformance.judge(case, outcome)
    assert(wrong == nil, case.name .. ": " .. tostring(wrong))
  end

  for _, case in ipairs(cases.CASES) do
    it(case.name .. ": libcurl in plain Lua", function()
      check(case, conformance.run(case, { origin = server.url, transport = "curl", run = "plain" }))
    end)
  end
  for _, transport in ipairs({ "curl", "cosocket" }) do
    local where = transport == "curl" and "libcurl inside nginx" or "cosockets inside nginx"
    for _, case in ipairs(cases.CASES) do
      it(case.name .. ": " .. where, function()
        local outcome = nginx_outcomes(transport)[case.name]
        assert(outcome, "nginx gave no outcome for " .. case.name)
        check(case, outcome)
      end)
    end
  end
end)
