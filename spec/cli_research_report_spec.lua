-- extruct.cli.research_report: a Deep Research task's report as Markdown,
-- followed by its numbered sources (unless it lists them already), or its
-- fields as JSON; a pure function, so checked directly.
local research_report = require("extruct.cli.research_report")
local extruct = require("extruct")

local markdown = research_report.markdown

local function task(report, fields)
  local t = { status = "done", brief = "Who makes anvils?", report = report }
  for k, v in pairs(fields or {}) do t[k] = v end
  return t
end

describe("extruct.cli.research_report", function()
  it("prints the report, then its sources numbered by their ids, one paragraph each", function()
    local text = assert(markdown(task{
      markdown = "# Anvils\n\nAcme leads the market [1], Globex follows [2].\n",
      sources = { { id = 1, url = "https://acme.example/about" }, { id = 2, url = "https://globex.example/" } },
    }))
    assert.equal(table.concat({
      "# Anvils",
      "",
      "Acme leads the market [1], Globex follows [2].",
      "",
      "## Sources",
      "",
      "[1] https://acme.example/about",
      "",
      "[2] https://globex.example/",
      "",
    }, "\n"), text)
  end)

  it("keeps the ids the report cites, in the order given, also as digit strings", function()
    local text = assert(markdown(task{
      markdown = "See [3] and [7].",
      sources = { { id = "7", url = "https://b.example" }, { id = 3, url = "https://a.example" } },
    }))
    assert.equal("See [3] and [7].\n\n## Sources\n\n[7] https://b.example\n\n[3] https://a.example\n", text)
  end)

  it("numbers by place when the ids are not all different whole numbers", function()
    for _, sources in ipairs{
      { { id = "src_a", url = "https://a.example" }, { id = "src_b", url = "https://b.example" } },
      { { id = 1, url = "https://a.example" }, { id = 1, url = "https://b.example" } },
      { { url = "https://a.example" }, { id = 2, url = "https://b.example" } },
      { { id = 0, url = "https://a.example" }, { id = 2.5, url = "https://b.example" } },
    } do
      local text = assert(markdown(task{ markdown = "Report.", sources = sources }))
      assert.equal("Report.\n\n## Sources\n\n[1] https://a.example\n\n[2] https://b.example\n", text)
    end
  end)

  it("leaves out sources without a URL, and makes a URL one line", function()
    local text = assert(markdown(task{
      markdown = "Report.",
      sources = { { id = 1, url = " https://a.example/x\ny " }, { id = 2 }, { id = 3, url = "" }, "junk",
                  { id = 4, url = extruct.null }, { id = 5, url = "https://e.example" } },
    }))
    assert.equal("Report.\n\n## Sources\n\n[1] https://a.example/x y\n\n[5] https://e.example\n", text)
  end)

  it("prints the report alone when it has no sources, with exactly one newline at the end", function()
    assert.equal("Report.\n", markdown(task{ markdown = "\n\nReport.\n\n\n" }))
    assert.equal("Report.\n", markdown(task{ markdown = "Report.", sources = {} }))
    assert.equal("Report.\n", markdown(task{ markdown = "Report.", sources = extruct.null }))
    assert.equal("  indented code\n", markdown(task{ markdown = "  indented code" }))
  end)

  it("says why there is no report: not finished, failed, none", function()
    local function why(t)
      local text, reason = markdown(t)
      assert.is_nil(text)
      return reason
    end
    assert.equal("the task is in_progress: its report is not written yet",
      why(task(extruct.null, { status = "in_progress" })))
    assert.equal("the task is created: its report is not written yet", why{ status = "created" })
    assert.equal("the task failed: the agents ran out of credits",
      why(task(nil, { status = "failed", failure_reason = "the agents ran out\nof credits" })))
    assert.equal("the task failed", why(task({ markdown = "partial" }, { status = "failed" })))
    assert.equal("the task holds no report", why(task{ markdown = "  \n" }))
    assert.equal("the task holds no report", why(task{ sources = { { id = 1, url = "https://a.example" } } }))
    assert.equal("not a Deep Research task", why("tsk_1"))
  end)

  it("adds no second list of sources to a report that ends in one naming every URL", function()
    local sources = { { id = 1, url = "https://a.example" }, { id = 2, url = "https://b.example" } }
    local listed = "# Anvils\n\nA [1], B [2].\n\n## Sources\n\n[1] https://a.example\n[2] https://b.example\n"
    assert.equal(listed, markdown(task{ markdown = listed, sources = sources }))
    local references = "Text [1] [2].\n\n### References\n\n- https://a.example\n- https://b.example"
    assert.equal(references .. "\n", markdown(task{ markdown = references, sources = sources }))
    -- a section that misses one, or URLs only in the text, get the list
    local partial = "Text.\n\n## Sources\n\n[1] https://a.example\n"
    assert.equal(partial .. "\n## Sources\n\n[1] https://a.example\n\n[2] https://b.example\n",
      markdown(task{ markdown = partial, sources = sources }))
    local inline = "See https://a.example and https://b.example."
    assert.equal(inline .. "\n\n## Sources\n\n[1] https://a.example\n\n[2] https://b.example\n",
      markdown(task{ markdown = inline, sources = sources }))
  end)

  it("shows a report made to an output schema as its fields in a JSON code block, given an encoder", function()
    local report = { fields = { stage = "seed" }, sources = { { id = 1, url = "https://a.example" } } }
    local encode = function(value) return extruct.encode(value, { pretty = true }) end
    local text = assert(markdown(task(report), encode))
    local json = text:match("^```json\n(.-)\n```\n\n## Sources\n\n%[1%] https://a%.example\n$")
    assert.truthy(json, text)
    assert.same({ stage = "seed" }, extruct.decode(json))
    local none, why = markdown(task(report))
    assert.is_nil(none)
    assert.equal("the report is made of fields (an output schema), not Markdown", why)
    assert.equal("the task failed: no", select(2, markdown(task(report, { status = "failed", failure_reason = "no" }),
      encode)))
  end)

  it("renders whatever report a task that is still running already has", function()
    assert.equal("Draft.\n", markdown(task({ markdown = "Draft." }, { status = "in_progress" })))
  end)
end)
