-- The one classifier (lua/extruct/failures.lua): the words the transports
-- report a failed exchange with (core.failures, the C core's list, which
-- both the libcurl transport and the cosocket parser use) each have a kind,
-- and docs/errors.md shows the same table, retried or not as extruct.retry
-- decides by kind.
local core = require("extruct.core")
local errors = require("extruct.errors")
local failures = require("extruct.failures")
local helpers = require("spec.helpers")
local retry = require("extruct.retry")

describe("the classifier", function()
  it("knows every failure word of the core, and no other", function()
    local known = {}
    for _, word in ipairs(core.failures) do
      known[word] = true
      assert.is_table(failures.FAILURES[word], word)
    end
    for word in pairs(failures.FAILURES) do assert.is_true(known[word], word) end
  end)

  it("gives each a kind of the core's list, and raises on a word no transport reports", function()
    local kinds = {}
    for _, kind in ipairs(errors.KINDS) do kinds[kind] = true end
    for word in pairs(failures.FAILURES) do assert.is_true(kinds[failures.kind(word)], word) end
    assert.error_matches(function() failures.kind("flaky") end,
      "extruct.failures: 'flaky' is not a failure a transport reports", nil, true)
  end)

  it("classifies statuses too: one function for both", function()
    assert.equal("not_found", failures.kind(404))
    assert.equal("server", failures.kind(502))
    assert.equal("http", failures.kind(418))
    assert.equal(errors.kind_for_status, failures.kind)
  end)

  it("is the table of docs/errors.md: failure, kind, retried", function()
    local text = helpers.read_file("docs/errors.md")
    local section = assert(text:match("\n## What a transport reports, and its kind\n(.-)\n## "))
    local rows = {}
    for word, kind, retried in section:gmatch("\n| `([%w_]+)` | `([%w_]+)` | (%a+) |") do
      rows[#rows + 1] = word
      assert.equal(failures.kind(word), kind, word)
      local transient = retry.is_transient({ kind = kind })
      assert.equal(transient and "yes" or "no", retried, word)
    end
    assert.equal(#core.failures, #rows)
    for i, word in ipairs(core.failures) do assert.equal(word, rows[i]) end
  end)
end)
