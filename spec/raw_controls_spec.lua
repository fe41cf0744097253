-- Responses with raw control characters inside JSON strings, as the Extruct
-- API sends them (a Deep Research task echoes its brief with raw newlines):
-- the client decodes them, keeping the bytes as sent, over both transports;
-- extruct.decode stays strict unless told, and names where the text broke
-- JSON. The server is a few lines of luasocket written out by this spec.
local helpers = require("spec.helpers")
local extruct = require("extruct")
local core = require("extruct.core")
local socket = require("socket")
local q = helpers.shell_quote

-- Every control character from U+0001 to U+001F, in a brief as a person
-- pastes it; a raw NUL comes in a field of its own.
local CONTROLS = {}
for byte = 1, 31 do CONTROLS[#CONTROLS + 1] = string.char(byte) end
CONTROLS = table.concat(CONTROLS)
local BRIEF = "Find EU payment startups.\nFor each one:\n\t- name\r\n\t- funding\n\n" .. CONTROLS .. " end"
local MARKDOWN = "# Report\n\n| name | funding |\n|---|---|\n| Acme | 10M |\n"

local DEEP_RESEARCH = '{"id":"dr_1","status":"done","brief":"' .. BRIEF .. '","depth":"high",'
  .. '"report":{"markdown":"' .. MARKDOWN .. '","sources":[{"id":1,"url":"https://a.example"}]},'
  .. '"notes":"a\0b","n":3}'
local TABLE = '{"id":"tbl_raw","name":"Raw\nname","description":"line 1\nline 2",'
  .. '"status":{"run_status":"idle","num_cells_in_progress":0}}'

local BODIES = {
  ["/v1/deep_research_tasks/dr_1"] = DEEP_RESEARCH,
  ["/v1/tables/tbl_raw"] = TABLE,
  -- broken beyond the raw newline: leniency is for strings only
  ["/v1/deep_research_tasks/trailing"] = '{"brief":"a\nb"} x',
  ["/v1/deep_research_tasks/formfeed"] = '{"brief":"a\nb",\f"n":1}',
  ["/v1/deep_research_tasks/number"] = '{"brief":"a\nb","n":01}',
  ["/shutdown"] = "{}",
}

local SERVER = [[
local socket = require("socket")
local BODIES = ...
local server = assert(socket.bind("127.0.0.1", 0))
server:settimeout(60)
io.stdout:write("listening ", select(2, server:getsockname()), "\n")
io.stdout:flush()
local running = true
while running do
  local conn = server:accept()
  if not conn then break end
  conn:settimeout(10)
  local line = conn:receive("*l")
  if line then
    local path = (line:match("^%u+ (%S+)") or "/"):match("^[^?]*")
    repeat local header = conn:receive("*l") until not header or header == ""
    local body = BODIES[path] or '{"detail":"Not Found"}'
    conn:send(("HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s")
      :format(BODIES[path] and "200 OK" or "404 Not Found", #body, body))
    running = path ~= "/shutdown"
  end
  conn:close()
end
server:close()
]]

-- The server script with BODIES in it: one request per connection, so no
-- client's kept-alive connection holds it up.
local function server_source()
  local entries = {}
  for path, body in pairs(BODIES) do entries[#entries + 1] = ("[%q] = %q,"):format(path, body) end
  return SERVER:gsub("local BODIES = %.%.%.", function() return "local BODIES = {" .. table.concat(entries, "\n") .. "}" end)
end

-- What the cosocket transport uses of nginx's API, over luasocket: enough
-- to run extruct.cosocket's own code outside nginx
-- (spec/integration/openresty_spec.lua runs it inside nginx). Kept-alive
-- sockets are closed, not pooled.
local function fake_ngx()
  local ngx = { connections = 0, socket = {} }
  function ngx.now() return socket.gettime() end
  function ngx.update_time() end
  function ngx.get_phase() return "content" end
  function ngx.sleep(seconds) socket.sleep(seconds) end
  function ngx.socket.tcp()
    local sock, timeout = socket.tcp(), 5
    local cosocket = {}
    function cosocket.settimeouts(_, _, _, read_ms) timeout = read_ms / 1000 end
    function cosocket.connect(_, host, port)
      ngx.connections = ngx.connections + 1
      sock:settimeout(timeout)
      return sock:connect(host, port)
    end
    function cosocket.getreusedtimes() return 0 end
    function cosocket.send(_, data)
      sock:settimeout(timeout)
      return sock:send(data)
    end
    function cosocket.receiveany(_, max)
      local deadline = socket.gettime() + timeout
      sock:settimeout(0.01)
      repeat
        local data, err, partial = sock:receive(max)
        if data then return data end
        if partial and #partial > 0 then return partial end
        if err == "closed" then return nil, "closed" end
      until socket.gettime() >= deadline
      return nil, "timeout"
    end
    function cosocket.setkeepalive() sock:close() return 1 end
    function cosocket.close() sock:close() return 1 end
    return cosocket
  end
  return ngx
end

describe("a response with raw control characters inside its strings", function()
  local work, server, url

  lazy_setup(function()
    work = helpers.scratch_dir()
    helpers.write_file(work .. "/server.lua", server_source())
    local pipe = assert(io.popen(("sh -c 'echo $$; exec \"$0\" \"$1\"' %s %s")
      :format(q(helpers.LUA), q(work .. "/server.lua")), "r"))
    local pid = pipe:read("*l")
    local port = (pipe:read("*l") or ""):match("^listening (%d+)$")
    if not port then
      pipe:close()
      error("the server did not start (pid " .. tostring(pid) .. ")")
    end
    server = { pipe = pipe, pid = tonumber(pid), port = tonumber(port), host = "127.0.0.1" }
    url = "http://127.0.0.1:" .. port
  end)

  lazy_teardown(function()
    if server then
      helpers.stop_server(server, function()
        local c = extruct.new{ base_url = url, token = "t", retries = 0, timeout = 2, transport = "curl" }
        c:request("GET", "/shutdown")
        c:close()
      end)
    end
    helpers.remove_dir(work)
  end)

  for _, transport in ipairs({ "curl", "cosocket" }) do
    describe("over the " .. transport .. " transport", function()
      local client, ngx

      -- nginx runs a handler in a coroutine: cosockets are used only
      -- where the code can yield
      local function as_host_runs(fn)
        if transport == "curl" then return fn() end
        local co = coroutine.create(fn)
        local ok, err = coroutine.resume(co)
        if not ok then error(err, 0) end
      end

      before_each(function()
        if transport == "cosocket" then
          ngx = fake_ngx()
          rawset(_G, "ngx", ngx)
        end
        client = extruct.new{ base_url = url, token = "t", retries = 0, timeout = 5, transport = transport }
      end)

      after_each(function()
        client:close()
        rawset(_G, "ngx", nil)
      end)

      it("decodes a Deep Research task and a table header, keeping the bytes as sent", function() as_host_runs(function()
        local task = assert(client:request("GET", "/v1/deep_research_tasks/dr_1"))
        assert.equal(BRIEF, task.brief)
        assert.equal(MARKDOWN, task.report.markdown)
        assert.equal("a\0b", task.notes)
        assert.equal(3, task.n)
        assert.equal("https://a.example", task.report.sources[1].url)
        local t = assert(client:get_table("tbl_raw"))
        assert.equal("Raw\nname", t.name)
        assert.equal("line 1\nline 2", t.description)
        assert.is_true(extruct.is_idle(t))
        if ngx then assert.equal(2, ngx.connections) end
      end) end)

      it("still refuses a body that breaks JSON otherwise, with a decode error", function() as_host_runs(function()
        for path, why in pairs({
          trailing = "unexpected data after the JSON value at byte 15 of 17",
          formfeed = "control character outside a string at byte 15 of 22",
          number = "malformed number at byte 20 of 22",
        }) do
          local value, err = client:request("GET", "/v1/deep_research_tasks/" .. path)
          assert.is_nil(value, path)
          assert.equal("decode", err.kind, path)
          assert.matches(why, err.message, 1, true)
        end
        if ngx then assert.equal(3, ngx.connections) end
      end) end)
    end)
  end

  it("is refused by extruct.decode, strict by default, naming the position; strict = false takes it", function()
    local value, err = extruct.decode(DEEP_RESEARCH)
    assert.is_nil(value)
    assert.equal("decode", err.kind)
    local first = DEEP_RESEARCH:find("\n", 1, true) - 1 -- (positions count from 0)
    assert.matches(("unescaped control character in a string at byte %d of %d"):format(first, #DEEP_RESEARCH),
      err.message, 1, true)
    assert.is_nil((extruct.decode(DEEP_RESEARCH, { strict = true })))
    local lenient = assert(extruct.decode(DEEP_RESEARCH, { strict = false }))
    assert.equal(BRIEF, lenient.brief)
    assert.equal("a\0b", lenient.notes)
  end)

  it("decodes through the HTTP/1.1 parser the cosocket transport uses, chunked and fed a byte at a time", function()
    local chunked = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
      .. ("%x\r\n%s\r\n"):format(40, DEEP_RESEARCH:sub(1, 40))
      .. ("%x\r\n%s\r\n"):format(#DEEP_RESEARCH - 40, DEEP_RESEARCH:sub(41)) .. "0\r\n\r\n"
    local parser = core.http_response_parser{ max_body = 1024 * 1024 }
    local state
    for i = 1, #chunked do state = assert(parser:feed(chunked:sub(i, i))) end
    assert.equal("done", state)
    local response = parser:response()
    assert.is_nil(response.body_error)
    assert.equal(BRIEF, response.body.brief)
    assert.equal("a\0b", response.body.notes)
  end)
end)
