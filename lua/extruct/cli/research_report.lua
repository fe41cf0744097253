--- extruct.cli.research_report: a Deep Research task's report as Markdown
--- (for `--markdown` output): the report's own Markdown, then its sources,
--- numbered, one paragraph each so they stay apart when rendered:
---
---   ...the report...
---
---   ## Sources
---
---   [1] https://example.com/a
---
---   [2] https://example.com/b
---
--- A report whose Markdown already ends in a section of sources that lists
--- every URL (each a word of its own) is not given a second one. A report made to an output schema
--- (`fields` instead of Markdown) is shown as its fields in a JSON code
--- block, when the caller passes a JSON encoder.
---
--- A pure function of the task table { status, report = { markdown,
--- fields, sources = { { id, url }, ... } } }; it reads nothing else and
--- prints nothing. Everything in it comes from the server, so it takes time
--- linear in the task's size (extruct.text).

local linear = require("extruct.text")

local trim, trim_end = linear.trim, linear.trim_end

local M = {}

-- Text for one line: control characters (line breaks too) made spaces,
-- surrounding space trimmed.
local function one_line(text)
  return trim((text:gsub("%c+", " ")))
end

local function whole_number(value)
  if type(value) == "string" and value:find("^%d+$") then value = tonumber(value) end
  if type(value) == "number" and value >= 1 and value == math.floor(value) and value < 2 ^ 53 then
    return value
  end
  return nil
end

-- The sources that have a URL, each { number, url }. The numbers are the
-- sources' own ids when every one is a different whole number >= 1 (the
-- report's citations use them), else their places in the list.
local function numbered_sources(sources)
  local list = {}
  if type(sources) ~= "table" then return list end
  local by_id, seen = true, {}
  for i, source in ipairs(sources) do
    local url = type(source) == "table" and type(source.url) == "string" and one_line(source.url) or ""
    if url ~= "" then
      local id = whole_number(source.id)
      if id == nil or seen[id] then by_id = false end
      if id then seen[id] = true end
      list[#list + 1] = { id = id, place = i, url = url }
    end
  end
  for _, source in ipairs(list) do
    source.number = by_id and source.id or source.place
  end
  return list
end

-- The words of a section that a URL may stand as: its parts between white
-- space, and between brackets, parentheses, angle brackets and quotes too,
-- each also without the punctuation that may end a sentence after it. (A
-- set, not a search for each URL in the text: that takes the text's length
-- times the URL's on a text made to defeat it.)
local function words_of(section)
  local words = {}
  local function add(word)
    words[word] = true
    local last = #word
    while last > 0 and word:find("^[.,;:!?*]", last) do last = last - 1 end
    words[word:sub(1, last)] = true
  end
  for word in section:gmatch("%S+") do add(word) end
  for word in section:gmatch("[^%s<>()%[%]\"'`]+") do add(word) end
  return words
end

-- Whether the text ends in a section headed "Sources" (or "References")
-- that names every one of the sources' URLs, each as a word of its own.
local function lists_sources(text, sources)
  local section
  for heading_at, title in text:gmatch("()\n#+[ \t]+([^\n]*)") do
    local word = trim_end(title):lower()
    if word == "sources" or word == "references" then section = heading_at end
  end
  if not section then return false end
  local words = words_of(text:sub(section))
  for _, source in ipairs(sources) do
    if not words[source.url] then return false end
  end
  return true
end

--- The task's report as Markdown, ending in one newline; or nil and why
--- there is none: the task failed, it has not written a report yet, or it
--- finished without one. A task still running that already holds a report
--- has it rendered as it stands. encode(value): JSON text, for a report of
--- fields (without it, such a report is "not Markdown").
function M.markdown(task, encode)
  if type(task) ~= "table" then return nil, "not a Deep Research task" end
  local status = type(task.status) == "string" and task.status or nil
  local report = type(task.report) == "table" and task.report or nil
  local text = report and type(report.markdown) == "string" and report.markdown or nil
  if (text == nil or not text:find("%S")) and report and type(report.fields) == "table" and status ~= "failed" then
    if not encode then return nil, "the report is made of fields (an output schema), not Markdown" end
    local json = encode(report.fields)
    if type(json) == "string" then text = "```json\n" .. trim_end(json) .. "\n```" end
  end
  if status == "failed" then
    local reason = type(task.failure_reason) == "string" and one_line(task.failure_reason) or ""
    return nil, "the task failed" .. (reason ~= "" and ": " .. reason or "")
  end
  if text == nil or not text:find("%S") then
    if status and status ~= "done" then
      return nil, ("the task is %s: its report is not written yet"):format(one_line(status))
    end
    return nil, "the task holds no report"
  end
  local parts = { trim_end((text:gsub("^%s*\n", ""))) }
  local sources = numbered_sources(report.sources)
  if #sources > 0 and not lists_sources("\n" .. parts[1] .. "\n", sources) then
    parts[#parts + 1] = "## Sources"
    for _, source in ipairs(sources) do
      parts[#parts + 1] = ("[%d] %s"):format(source.number, source.url)
    end
  end
  return table.concat(parts, "\n\n") .. "\n"
end

return M
