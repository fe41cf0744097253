-- A memory error anywhere in a JSON conversion or a request must end in a
-- clean Lua error and leak nothing. spec/support/oom_harness.c hosts the
-- core in a lua_State whose allocator runs out at the k-th allocation, for
-- every k until the run succeeds: first a decode of a JSON file, then an
-- encode of what it holds (big enough to leave the C stack for the heap),
-- then (given a server) extruct.new + client:get_table + close against the
-- mock.
-- It counts the live blocks of its allocator and cJSON's blocks after each
-- run. On Lua 5.4 the run with a request also goes
-- under valgrind, which reports any other block lost (libcurl's included);
-- valgrind makes it a hundred times slower, so once per suite is enough.
-- The harness is a host program, so it links a PUC Lua: the running one, or
-- 5.1 (LuaJIT's C API) when the specs run on LuaJIT.
local helpers = require("spec.helpers")
local q = helpers.shell_quote

local api = helpers.HOST_LUA

describe("a memory error during conversion or a request", function()
  local fixture = helpers.shared_mock{ reset = false }
  local dir, harness

  lazy_setup(function() dir = helpers.scratch_dir() end)
  lazy_teardown(function() helpers.remove_dir(dir) end)

  local function run_harness(json_path, with_request, under_valgrind)
    if not harness then
      local why
      harness, why = helpers.built_host("oom_harness")
      assert(harness, why)
    end
    local request_args = with_request and (" %s %s tbl_idle"):format(q(fixture.mock.url), q(fixture.mock.token)) or ""
    -- LD_PRELOAD is dropped for the harness's sake when `make asan` runs the specs
    local valgrind = under_valgrind and ("valgrind --quiet --error-exitcode=99 --leak-check=full"
      .. " --errors-for-leak-kinds=definite --suppressions=spec/support/valgrind.supp ") or ""
    local out, status = helpers.run(("env -u LD_PRELOAD %s%s %s%s 2>&1"):format(
      valgrind, q(harness), q(json_path), request_args))
    assert.equal(0, status, out)
    local runs, errors, with_tree = out:match("success at run (%d+) after (%d+) memory errors %((%d+) while")
    assert.is_not_nil(runs, out)
    -- every allocation point up to success was hit, many of them while a
    -- decode was under way, its value half built
    assert.equal(tonumber(runs) - 1, tonumber(errors))
    assert.is_true(tonumber(errors) > 100, out)
    assert.is_true(tonumber(with_tree) > 100, out)
    assert.matches("cJSON blocks leaked: 0", out, 1, true)
    local encode_runs, encode_errors = out:match("encode: success at run (%d+) after (%d+) memory errors")
    assert.is_not_nil(encode_runs, out)
    assert.equal(tonumber(encode_runs) - 1, tonumber(encode_errors))
    -- the encode allocates little from Lua: the guard of its heap block and
    -- the text; a failure at each ends cleanly, the block freed
    assert.is_true(tonumber(encode_errors) >= 2, out)
    return out
  end

  it("ends every decode and request cleanly and leaks nothing, with " .. api, function()
    local before = #fixture.mock:requests()
    local out = run_harness("spec/support/table.json", true, api == "lua5.4")
    local request_runs, request_errors = out:match("request: success at run (%d+) after (%d+) memory errors")
    assert.is_not_nil(request_runs, out)
    assert.equal(tonumber(request_runs) - 1, tonumber(request_errors))
    assert.is_true(tonumber(request_errors) > 100, out)
    assert.matches("request: .*cJSON blocks leaked: 0", out)
    -- every run that got as far as the server made a request of its own
    assert.is_true(#fixture.mock:requests() - before > 10)
  end)

  -- From 64 KB on, texts are converted with the collector paused, under a
  -- lua_pcall that must restart the collector.
  it("ends every run cleanly and leaks nothing on a document big enough to pause the collector, with " .. api,
    function()
      local rows = {}
      for i = 1, 1200 do
        rows[i] = ('{"id":"row_%d","n":%d,"ok":true,"none":null,"tags":["a","b"]}'):format(i, i)
      end
      local text = '{"rows":[' .. table.concat(rows, ",") .. "]}"
      assert.is_true(#text > 64 * 1024)
      local path = dir .. "/big.json"
      helpers.write_file(path, text)
      run_harness(path, false, false)
    end)
end)
