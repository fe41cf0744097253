-- A memory error in the middle of a JSON conversion must not leak cJSON's
-- tree. spec/support/oom_harness.c hosts the core in a lua_State whose
-- allocator runs out at the k-th allocation, for every k until a decode
-- succeeds, and counts cJSON's live blocks after each run. The harness is a
-- host program, so it links a PUC Lua: 5.4 here, or 5.1 (LuaJIT's C API)
-- when the specs run on LuaJIT.
local helpers = require("spec.helpers")
local q = helpers.shell_quote

local api = rawget(_G, "jit") and "lua5.1" or ("lua" .. _VERSION:match("%d+%.%d+"))

describe("a memory error during conversion", function()
  local dir

  lazy_setup(function()
    dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. q(dir)))
  end)
  lazy_teardown(function()
    if dir then os.execute("rm -rf " .. q(dir)) end
  end)

  local function run_harness(json_path)
    local harness = dir .. "/oom_harness"
    local out, status = helpers.run(("cc -std=c99 -Wall -Wextra -Werror -pedantic -g -I/usr/include/%s -Isrc -o %s"
      .. " spec/support/oom_harness.c src/*.c -l%s -lcurl -lcjson -lm 2>&1"):format(api, q(harness), api))
    assert.equal(0, status, out)

    out, status = helpers.run(q(harness) .. " " .. q(json_path) .. " 2>&1")
    assert.equal(0, status, out)
    local runs, errors, with_tree = out:match("success at run (%d+) after (%d+) memory errors %((%d+) while")
    assert.is_not_nil(runs, out)
    -- every allocation point up to success was hit, many of them while the
    -- parse tree was alive (the case a missing guard would leak)
    assert.equal(tonumber(runs) - 1, tonumber(errors))
    assert.is_true(tonumber(errors) > 100, out)
    assert.is_true(tonumber(with_tree) > 100, out)
    assert.matches("cJSON blocks leaked: 0", out, 1, true)
  end

  it("ends every run cleanly and leaks no cJSON block, with " .. api, function()
    run_harness("spec/support/table.json")
  end)

  -- From 64 KB on, tables are built with the collector paused, under a
  -- lua_pcall that must free the tree and restart the collector.
  it("ends every run cleanly and leaks nothing on a document big enough to pause the collector, with " .. api,
    function()
      local rows = {}
      for i = 1, 1200 do
        rows[i] = ('{"id":"row_%d","n":%d,"ok":true,"none":null,"tags":["a","b"]}'):format(i, i)
      end
      local text = '{"rows":[' .. table.concat(rows, ",") .. "]}"
      assert.is_true(#text > 64 * 1024)
      local path = dir .. "/big.json"
      local f = assert(io.open(path, "wb"))
      f:write(text)
      f:close()
      run_harness(path)
    end)
end)
