-- The reference keeps up with the code: every function of
-- require("extruct") and every method of a client, enumerated at run time,
-- has a heading or a table entry in docs/api.md and is one click away from
-- the README. Every link of the README reaches a file that exists, and
-- every link to a heading, from the README, spec/README.md or docs/,
-- reaches a file and a heading that exist. spec/README.md names every
-- spec file under spec/, and no other.
local helpers = require("spec.helpers")
local extruct = require("extruct")

local API = "docs/api.md"

local read = helpers.file_text

-- The anchor GitHub gives a heading: lower case, punctuation other than
-- '-' and '_' dropped, spaces to '-'; a repeated anchor gets -1, -2 ...
local function slug(text)
  return (text:lower():gsub("[^%w%s%-_]", ""):gsub("%s", "-"))
end

-- The headings of a Markdown file outside fenced code: anchor -> text.
local function headings(text)
  local found, seen, in_code = {}, {}, false
  for line in text:gmatch("[^\n]*") do
    if line:match("^%s*```") then
      in_code = not in_code
    elseif not in_code then
      local title = line:match("^#+%s+(.-)%s*$")
      if title then
        local anchor = slug(title)
        if seen[anchor] then
          seen[anchor] = seen[anchor] + 1
          anchor = anchor .. "-" .. seen[anchor]
        else
          seen[anchor] = 0
        end
        found[anchor] = title
      end
    end
  end
  return found
end

-- The lines that name something in api.md: headings, and the first cell
-- of each table row.
local function entries(text)
  local lines, in_code = {}, false
  for line in text:gmatch("[^\n]*") do
    if line:match("^%s*```") then
      in_code = not in_code
    elseif not in_code then
      local title = line:match("^#+%s+(.*)$")
      local cell = line:match("^|%s*([^|]-)%s*|")
      if title or (cell and not cell:match("^%-+$")) then lines[#lines + 1] = title or cell end
    end
  end
  return lines
end

-- Does `text` name `name` as a whole word (prefix "extruct." or "client:")?
local function names(text, qualified)
  local at = 1
  while true do
    local s, e = text:find(qualified, at, true)
    if not s then return false end
    local after = text:sub(e + 1, e + 1)
    if not after:match("[%w_]") then return true end
    at = e + 1
  end
end

local function public_functions()
  local found = {}
  for name in pairs(extruct) do
    if type(name) == "string" and (name:sub(1, 1) ~= "_" or name == "_VERSION") then
      found[#found + 1] = name
    end
  end
  table.sort(found)
  return found
end

local client_methods = helpers.client_methods

-- The Markdown links of `text`: { text = ..., file = ..., anchor = ... }.
local function links(text)
  local found = {}
  for label, target in text:gmatch("%[([^%]]*)%]%(([^%)%s]+)%)") do
    local file, anchor = target:match("^([^#]*)#(.*)$")
    found[#found + 1] = { text = label, file = file or target, anchor = anchor }
  end
  return found
end

local api_text = assert(read(API), "missing " .. API)
local api_anchors = headings(api_text)
local api_entries = entries(api_text)
local readme = assert(read("README.md"), "missing README.md")
local functions = public_functions()
local methods = client_methods()
local method_set = {}
for _, name in ipairs(methods) do method_set[name] = true end

describe("docs/api.md", function()
  it("finds what it checks: the module's functions and a client's methods", function()
    assert.truthy(#functions >= 20, table.concat(functions, " "))
    assert.truthy(#methods >= 20, table.concat(methods, " "))
    assert.truthy(method_set.get_table and method_set.close and method_set.request)
  end)

  local function documented(qualified)
    for _, line in ipairs(api_entries) do
      if names(line, qualified) then return true end
    end
    return false
  end

  it("has a heading or an entry for every function of require('extruct')", function()
    local missing = {}
    for _, name in ipairs(functions) do
      if not documented("extruct." .. name) then missing[#missing + 1] = "extruct." .. name end
    end
    assert.same({}, missing, "not documented in " .. API)
  end)

  it("has a heading for every method of a client", function()
    local missing = {}
    for _, name in ipairs(methods) do
      if not documented("client:" .. name) then missing[#missing + 1] = "client:" .. name end
    end
    assert.same({}, missing, "not documented in " .. API)
  end)

  it("tells apart a name it has from one it does not", function()
    assert.is_true(documented("extruct.new"))
    assert.is_false(documented("extruct.ne"))
    assert.is_false(documented("client:no_such_method"))
  end)
end)

describe("README.md", function()
  local readme_links = links(readme)

  it("stays an introduction: at most 20 KB", function()
    assert.truthy(#readme <= 20 * 1024, ("README.md is %d bytes"):format(#readme))
  end)

  it("names every error kind, as docs/errors.md does", function()
    local errors_md = helpers.read_file("docs/errors.md")
    local kinds = require("extruct.errors").KINDS
    assert.truthy(#kinds >= 16, "the kinds were not found")
    for _, kind in ipairs(kinds) do
      assert.truthy(readme:find("`" .. kind .. "`", 1, true), "README.md does not name the error kind " .. kind)
      assert.truthy(errors_md:find("`" .. kind .. "`", 1, true), "docs/errors.md does not name the error kind " .. kind)
    end
  end)

  -- The api.md headings the README links to, with the link texts.
  local function linked_headings()
    local found = {}
    for _, link in ipairs(readme_links) do
      if link.file == API and link.anchor and api_anchors[link.anchor] then
        found[#found + 1] = api_anchors[link.anchor]
      end
    end
    return found
  end

  it("links every public function and method to its heading in docs/api.md", function()
    local targets = linked_headings()
    local function reached(qualified)
      for _, title in ipairs(targets) do
        if names(title, qualified) then return true end
      end
      return false
    end
    local missing = {}
    for _, name in ipairs(functions) do
      -- a module-level shortcut is documented under its method
      if not reached("extruct." .. name) and not (method_set[name] and reached("client:" .. name)) then
        missing[#missing + 1] = "extruct." .. name
      end
    end
    for _, name in ipairs(methods) do
      if not reached("client:" .. name) then missing[#missing + 1] = "client:" .. name end
    end
    assert.same({}, missing, "no link from README.md to the heading of")
  end)
end)

-- The spec files a text names: `name_spec` stands for spec/name_spec.lua,
-- `folder/name_spec` for spec/folder/name_spec.lua, with or without a
-- leading "spec/". Returns their paths, in the order named.
local function named_specs(text)
  local found = {}
  for name in text:gmatch("%f[%w_/]([%a][%w_/]-_spec)%f[^%w_/]") do
    found[#found + 1] = "spec/" .. name:gsub("^spec/", "") .. ".lua"
  end
  return found
end

describe("spec/README.md", function()
  local text = assert(read("spec/README.md"), "missing spec/README.md")
  local files, named = {}, {}
  for path in helpers.run("find spec -name '*_spec.lua'"):gmatch("[^\n]+") do files[path] = true end
  for _, path in ipairs(named_specs(text)) do named[path] = true end

  local function sorted(set)
    local list = {}
    for path in pairs(set) do list[#list + 1] = path end
    table.sort(list)
    return list
  end

  it("finds what it checks: the spec files, and the names in a text", function()
    assert.truthy(#sorted(files) >= 40, table.concat(sorted(files), " "))
    assert.truthy(files["spec/docs_spec.lua"] and files["spec/integration/oom_spec.lua"])
    assert.same({ "spec/cli_spec.lua", "spec/integration/oom_spec.lua", "spec/tables_spec.lua" },
      named_specs("`cli_spec` and `integration/oom_spec`: busted spec/tables_spec.lua;"
        .. " the files named `*_spec.lua` in `spec/` and `spec/integration/`"))
  end)

  it("names every spec file under spec/, those of a folder with the folder", function()
    local missing = {}
    for _, path in ipairs(sorted(files)) do
      if not named[path] then missing[#missing + 1] = path end
    end
    assert.same({}, missing, "spec files that spec/README.md does not name")
  end)

  it("names only spec files that exist", function()
    local stale = {}
    for _, path in ipairs(sorted(named)) do
      if not files[path] then stale[#stale + 1] = path end
    end
    assert.same({}, stale, "spec/README.md names spec files that do not exist")
  end)
end)

describe("the code blocks a reader may copy", function()
  local markdown = require("spec.support.markdown")
  local documents = markdown.documents()

  it("finds what it checks: the documents, their blocks, and a marker", function()
    local set = {}
    for _, path in ipairs(documents) do set[path] = true end
    for _, path in ipairs({ "README.md", "docs/api.md", "docs/cli.md", "examples/openresty/README.md",
                            "bench/README.md", "spec/README.md" }) do
      assert.truthy(set[path], path .. " is not among the documents checked")
    end
    local scratch = helpers.scratch_dir()
    helpers.write_file(scratch .. "/page.md", "text\n\n<!-- spec: integration/x_spec -->\n```sh\nls\n```\n\n"
      .. "```lua\nprint(1)\n```\n<!-- spec: y_spec -->\n\n```text\nout\n```\n")
    local blocks = markdown.blocks(scratch .. "/page.md")
    helpers.remove_dir(scratch)
    assert.same({ "integration/x_spec", "nil", "nil" },
      { tostring(blocks[1].spec), tostring(blocks[2].spec), tostring(blocks[3].spec) })
    assert.same({ true, true, false }, { markdown.copyable(blocks[1]), markdown.copyable(blocks[2]),
      markdown.copyable(blocks[3]) })
  end)

  it("each say their language: `text` for layouts, output and usage lines", function()
    local bare = {}
    for _, path in ipairs(documents) do
      for _, block in ipairs(markdown.blocks(path)) do
        if block.lang == "" then bare[#bare + 1] = markdown.where(block) end
      end
    end
    assert.same({}, bare, "blocks without a language")
  end)

  it("each run in the spec their <!-- spec: NAME --> marker names, a spec that reads that document", function()
    local problems, claimed = {}, 0
    for _, path in ipairs(documents) do
      local generated = markdown.GENERATED[path]
      for _, block in ipairs(markdown.blocks(path)) do
        if markdown.copyable(block) then
          local where = markdown.where(block)
          local spec = generated and generated.spec or block.spec
          local file = spec and ("spec/" .. spec .. ".lua")
          local source = file and read(file)
          if generated and not generated.check(block) then
            problems[#problems + 1] = where .. ": not what " .. spec .. " runs (" .. generated.rule .. ")"
          elseif not spec then
            problems[#problems + 1] = where .. ": no <!-- spec: NAME --> marker on the line before the fence"
          elseif not source then
            problems[#problems + 1] = where .. ": its marker names " .. file .. ", which does not exist"
          elseif not source:find(path, 1, true) then
            problems[#problems + 1] = where .. ": " .. file .. " never names " .. path
          else
            claimed = claimed + 1
          end
        end
      end
    end
    assert.same({}, problems, "code blocks no spec runs")
    assert.truthy(claimed >= 60, tostring(claimed))
  end)
end)

describe("links between the documents", function()
  local documents = { "README.md", "spec/README.md" }
  for name in helpers.run("ls docs"):gmatch("%S+") do
    if name:match("%.md$") then documents[#documents + 1] = "docs/" .. name end
  end

  for _, document in ipairs(documents) do
    it("from " .. document .. " reach " .. (document == "README.md" and "files and " or "") .. "headings that exist",
      function()
      local folder = document:match("^(.*)/[^/]*$")
      local broken = {}
      for _, link in ipairs(links(read(document))) do
        local file = link.file
        if not file:match("^%a[%w+.-]*:") then -- not a URL
          local path = file == "" and document or ((folder and folder .. "/" or "") .. file)
          path = path:gsub("[^/]+/%.%./", "")
          local text = read(path) or (os.execute("test -d '" .. path .. "'") and "")
          if not text then
            if document == "README.md" or link.anchor then broken[#broken + 1] = file .. " (no such file)" end
          elseif link.anchor and path:match("%.md$") and not headings(text)[link.anchor] then
            broken[#broken + 1] = file .. "#" .. link.anchor .. " (no such heading)"
          end
        end
      end
      assert.same({}, broken, "broken links in " .. document)
    end)
  end
end)
