-- Every function that reads text from the server (headers, bodies, error
-- details, Location, report sources, CSV) and the command line's text
-- helpers take time linear in the text's length. Lua's patterns backtrack:
-- `^%s*(.-)%s*$` on a Retry-After of 60,000 spaces cost 11 s of CPU. Each
-- case feeds a function an input shaped to defeat it at 1 KB, 8 KB and
-- 1 MB, and compares the work per byte (never the wall clock): the
-- instructions the Lua VM ran (debug.sethook's count, exact) and the CPU
-- time (os.clock, which sees the C pattern matcher the count cannot). A
-- quadratic function does 1,000 times the work per byte at 1 MB as at 1 KB;
-- a linear one about the same. The 8 KB step stops a quadratic one in well under
-- a second instead of letting it run for an hour.
local extruct = require("extruct")
local errors = require("extruct.errors")
local text = require("extruct.text")
local url = require("extruct.url")
local redirect = require("extruct.redirect")
local csv = require("extruct.csv")
local output = require("extruct.cli.output")
local tasks = require("extruct.cli.tasks")
local json_text = require("extruct.cli.json_text")
local research_report = require("extruct.cli.research_report")

local KB = 1024
-- { size, runs, most }: the same 16 KB of work at the first two sizes, 1 MB
-- at the last; `most` is how much more CPU time per byte than at 1 KB the
-- step may take. Linear code stays near 1, but a megabyte of strings and
-- tables meets the caches and the collector (up to 4 seen); quadratic code
-- reaches 8 at the second step and 1,000 at the last.
local STEPS = { { KB, 16 }, { 8 * KB, 2, 4 }, { 1024 * KB, 1, 16 } }
-- VM instructions are exact: linear code runs as many per byte at every size.
local MOST_INSTRUCTIONS_PER_BYTE = 2
-- CPU seconds below which no difference counts (the clock's and the
-- collector's noise): a quadratic case is far above it by the second step.
local CPU_NOISE = 0.02

local function spaces(n) return (" "):rep(n) end

-- CPU seconds and VM instructions (in thousands) that `runs` calls of
-- fn(input) take. (LuaJIT calls no hook from compiled code: it runs on its
-- interpreter here.)
-- The collector is stopped meanwhile: its work depends on its settings
-- (`make gc-stress` makes it run all the time) and on everything else alive,
-- not on fn.
local function work(fn, input, runs)
  collectgarbage()
  collectgarbage("stop")
  local jit = rawget(_G, "jit")
  if jit then jit.off() end
  local thousands = 0
  debug.sethook(function() thousands = thousands + 1 end, "", 1000)
  local start = os.clock()
  for _ = 1, runs do fn(input) end
  local seconds = os.clock() - start
  debug.sethook()
  if jit then jit.on() end
  collectgarbage("restart")
  return seconds, thousands
end

-- Asserts that fn takes work linear in the size of make(size)'s input.
local function assert_linear(name, make, fn)
  local base_bytes, base_seconds, base_count
  for i, step in ipairs(STEPS) do
    local size, runs, most = step[1], step[2], step[3]
    local seconds, count = work(fn, make(size), runs)
    local bytes = size * runs
    if i == 1 then
      base_bytes, base_seconds, base_count = bytes, seconds, count
    else
      local scale = bytes / base_bytes
      assert(count <= MOST_INSTRUCTIONS_PER_BYTE * scale * base_count + 10, ("%s: %d thousand instructions at"
        .. " %d KB, %d thousand at 1 KB (%d runs)"):format(name, count, size / KB, base_count, STEPS[1][2]))
      assert(seconds <= most * scale * base_seconds + CPU_NOISE, ("%s: %.3f s of CPU at %d KB, %.4f s at"
        .. " 1 KB (%d runs)"):format(name, seconds, size / KB, base_seconds, STEPS[1][2]))
    end
  end
end

-- A response as the transports hand it to extruct.errors.
local function response(status, fields)
  local r = { status = status, headers = {} }
  for k, v in pairs(fields) do r[k] = v end
  return r
end

-- A Deep Research task that is done, with this report.
local function done_task(report)
  return { status = "done", report = report }
end

local function encode_pretty(value) return extruct.encode(value, { pretty = true }) end

local CASES = {
  -- extruct.errors: Retry-After, and the messages of HTTP errors
  { "errors.parse_retry_after: a run of spaces inside",
    function(n) return "1" .. spaces(n - 2) .. "x" end, errors.parse_retry_after },
  { "errors.parse_retry_after: spaces around a word",
    function(n) return spaces(n / 2) .. "Sun," .. spaces(n / 2) .. "GMT" end, errors.parse_retry_after },
  { "errors.from_status: a 503 whose Retry-After is a run of spaces",
    function(n) return response(503, { headers = { ["retry-after"] = "1" .. spaces(n) .. "x" } }) end,
    errors.from_status },
  { "errors.from_status: a detail of spaces and control bytes",
    function(n) return response(500, { body = { detail = "a" .. ("\27 \7\0  \t"):rep(n / 8) .. "b" } }) end,
    errors.from_status },
  { "errors.from_status: a 422 detail of many items",
    function(n)
      local items = {}
      for i = 1, n / 32 do items[i] = { loc = { "body", "rows", i }, msg = "field required" } end
      return response(422, { body = { detail = items } })
    end, errors.from_status },
  { "errors.from_status: a body that is not JSON, spaces and controls",
    function(n) return response(502, { body_text = "<h1>" .. ("\27[2J" .. spaces(7)):rep(math.floor(n / 11)) .. "x" }) end,
    errors.from_status },
  { "errors.from_status: a redirect whose Location is a run of spaces",
    function(n) return response(302, { headers = { location = "https://x.example/" .. spaces(n) .. "y" } }) end,
    errors.from_status },
  { "errors.from_bad_body: a content-type of spaces",
    function(n) return response(200, { headers = { ["content-type"] = "text/" .. spaces(n) .. "x" }, body_text = "<" } )
    end, function(r) return errors.from_bad_body(r, "not JSON") end },
  { "errors.show: control and UTF-8 continuation bytes, shown whole",
    function(n) return ("\27\128\0\\"):rep(n / 4) end, function(s) return errors.show(s, #s) end },

  -- extruct.text
  { "text.trim and trim_end: runs of spaces inside and around",
    function(n) return spaces(n / 4) .. "x" .. spaces(n / 2) .. "y" .. spaces(n / 4) end,
    function(s) return text.trim(s), text.trim_end(s) end },
  { "text.whole_number: digits, then spaces, then not a digit",
    function(n) return spaces(n / 4) .. ("1"):rep(n / 4) .. spaces(n / 2) .. "x" end, text.whole_number },

  -- extruct.url and extruct.redirect: a Location from the server
  { "url.parse: a host of digits before two colons",
    function(n) return "http://" .. ("1"):rep(n) .. "::x/" end, url.parse },
  { "url.parse: a bracketed host of colons",
    function(n) return "http://[" .. (":"):rep(n) .. "x/" end, url.parse },
  { "redirect.next: a relative Location from a path with a long last folder",
    function(n)
      return { scheme = "http", host = "h", port = 80, host_header = "h", path = "/" .. ("a"):rep(n) .. "/b?q" }
    end,
    function(from) return redirect.next("GET", nil, { status = 307, headers = { location = "c" } }, from, true) end },
  { "redirect.next: an absolute Location with a host of digits",
    function(n) return { status = 307, headers = { location = "http://" .. ("1"):rep(n) .. "::x/" } } end,
    function(r) return redirect.next("GET", nil, r, { scheme = "http", host = "h", port = 80, path = "/" }, true) end },

  -- extruct.csv
  { "csv.parse: a quoted field of doubled quotes",
    function(n) return '"' .. ('""'):rep(n / 2) .. '"\n' end, csv.parse },
  { "csv.parse: a record of many empty fields", function(n) return (","):rep(n) .. "\n" end, csv.parse },
  { "csv.format_record: fields of quotes and commas",
    function(n) return { ('"'):rep(n / 2), (","):rep(n / 2) } end, csv.format_record },

  -- the report of a Deep Research task (deep-research get --markdown)
  { "research_report.markdown: a source URL with a run of spaces",
    function(n) return done_task{ markdown = "Report.", sources = { { id = 1, url = "https://a/" .. spaces(n) .. "x" } } }
    end, research_report.markdown },
  { "research_report.markdown: a heading with a run of spaces",
    function(n)
      return done_task{ markdown = "Report.\n## Sources" .. spaces(n) .. "x\nend", sources = { { id = 1, url = "u" } } }
    end, research_report.markdown },
  { "research_report.markdown: runs of spaces inside and at the end",
    function(n) return done_task{ markdown = "\n" .. spaces(n / 2) .. "x" .. spaces(n / 2) .. "y\n  \n" } end,
    research_report.markdown },
  { "research_report.markdown: a list of sources made to defeat a search for each URL",
    function(n)
      return done_task{ markdown = "Report.\n\n## Sources\n\n" .. ("a"):rep(n / 2) .. "\n",
                        sources = { { id = 1, url = ("a"):rep(n / 4) .. "b" }, { id = 2, url = ("a"):rep(n / 4) } } }
    end, research_report.markdown },
  { "research_report.markdown: fields (an output schema) holding a run of spaces",
    function(n) return done_task{ fields = { note = "x" .. spaces(n) .. "y" } } end,
    function(task) return research_report.markdown(task, encode_pretty) end },

  -- the command line's text helpers, which show what the server sent
  { "output.one_line, field_text, label and error_line: control bytes and spaces",
    function(n) return ("a\27\n\0 \t"):rep(math.floor(n / 6)) end,
    function(s)
      return output.one_line(s), output.field_text(s), output.label(s, s),
        output.error_line(errors.new("server", s))
    end },
  { "output.created_text: a time followed by digits, then not a digit",
    function(n) return "2024-05-01T10:20" .. ("1"):rep(n) .. "x" end, output.created_text },
  { "output.one_final_newline, text_width and wrap: words and runs of spaces",
    function(n) return spaces(n / 2) .. "x" .. ("word" .. spaces(12)):rep(n / 32) .. "x" .. spaces(16) end,
    function(s) return output.one_final_newline(s), output.text_width(s), output.wrap(s, 80) end },
  { "tasks.cut: multi-byte characters cut to 60",
    function(n) return ("é"):rep(n / 2) end, function(s) return tasks.cut(s, 60) end },

  -- --pretty: the server's own JSON text, re-indented, and the items of a page
  { "json_text.reindent: a string of escaped quotes and backslashes",
    function(n) return '["' .. ('\\\"'):rep(n / 4) .. '"]' end, json_text.reindent },
  -- (the output of nesting d deep holds d levels of indent a line, as
  -- jq's does: linear in the input for a nesting the decoder accepts)
  { "json_text.reindent: objects 32 deep side by side, and an array of many small items",
    function(n)
      local deep = ('{"a":'):rep(32) .. "1" .. ("}"):rep(32)
      return "[" .. (deep .. ","):rep(math.floor(n / 2 / (#deep + 1))) .. ("1,"):rep(n / 4) .. "2]"
    end,
    function(s) return json_text.reindent(s) end },
  { "json_text.items: a page of many rows, each with a nested array",
    function(n) return '{"rows": [' .. ('{"a":[1,"]"]},'):rep(n / 16) .. '{}], "n": 1}' end, json_text.items },
  { "json_text.items: a bare array of strings of white space",
    function(n) return "[" .. ('"' .. spaces(6) .. '",'):rep(math.floor(n / 9)) .. '""]' end, json_text.items },
}

-- Under valgrind (`make valgrind`) every instruction costs some fifty
-- times more: these measures take minutes there and check nothing of
-- memory that the other specs do not.
local UNDER_VALGRIND = (os.getenv("LD_PRELOAD") or ""):find("vgpreload", 1, true) ~= nil

describe("linear time on text from the server", function()
  if UNDER_VALGRIND then
    print("NOTICE: linear_text_spec skipped under valgrind: it measures CPU time per byte, not memory")
    it("is measured outside valgrind", function() pending("under valgrind: CPU time per byte is measured elsewhere") end)
    return
  end
  for _, case in ipairs(CASES) do
    it(case[1], function()
      assert_linear(case[1], case[2], case[3])
    end)
  end

  -- The measure itself: a quadratic pattern is caught (at the second step).
  it("catches a function that is not linear", function()
    local ok, message = pcall(assert_linear, "the old trim", function(n) return "x" .. spaces(n) .. "y" end,
      function(s) return s:match("^%s*(.-)%s*$") end)
    assert.is_false(ok)
    assert.matches("the old trim: %d+%.%d+ s of CPU at 8 KB", message)
  end)
end)
