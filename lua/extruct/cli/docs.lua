--- extruct.cli.docs: the command-line reference (docs/cli.md) as Markdown,
--- made from the registry like the help pages, so the two cannot drift
--- apart. scripts/cli-doc.lua writes it; a spec checks it is current.

local args = require("extruct.cli.args")
local help = require("extruct.cli.help")
local output = require("extruct.cli.output")
local registry = require("extruct.cli.registry")

local M = {}

-- Text for a cell of a Markdown table.
local function cell(text)
  return (text:gsub("|", "\\|"):gsub("\n", " "))
end

local function code(text)
  return "`" .. text .. "`"
end

-- GitHub's anchor for a heading: lower case, punctuation dropped, spaces
-- made dashes.
local function anchor(heading)
  return (heading:lower():gsub("[^%w%- ]", ""):gsub(" ", "-"))
end

local function heading(entry)
  return "extruct " .. entry.path
end

--- Help text as Markdown: runs of indented lines (examples, lists of
--- values) become code blocks, two spaces less indented; the rest stays
--- prose.
function M.prose(text)
  local out, block = {}, nil
  local function close()
    if block then
      out[#out + 1] = "```text\n" .. table.concat(block, "\n") .. "\n```"
      block = nil
    end
  end
  for line in output.one_final_newline(text):gmatch("([^\n]*)\n") do
    if line:find("^  ") then
      block = block or {}
      block[#block + 1] = line:sub(3)
    else
      close()
      out[#out + 1] = line
    end
  end
  close()
  return (table.concat(out, "\n"):gsub("```\n(%S)", "```\n\n%1"):gsub("([^\n])\n```text", "%1\n\n```text"))
end

local function table_of(header, rows)
  local lines = { "| " .. table.concat(header, " | ") .. " |", "|" .. ("---|"):rep(#header) }
  for _, row in ipairs(rows) do
    local cells = {}
    for i, value in ipairs(row) do cells[i] = cell(value) end
    lines[#lines + 1] = "| " .. table.concat(cells, " | ") .. " |"
  end
  return table.concat(lines, "\n") .. "\n"
end

local function option_rows(specs)
  local rows = {}
  for i, spec in ipairs(specs) do rows[i] = { code(args.option_label(spec)), spec.help } end
  return rows
end

local function command_section(entry)
  local parts = {
    "### " .. heading(entry) .. "\n",
    entry.summary:sub(1, 1):upper() .. entry.summary:sub(2) .. ".\n",
    "```text\n" .. help.usage(entry) .. "\n```\n",
    M.prose(entry.help) .. "\n",
  }
  if #entry.args > 0 then
    local rows = {}
    for i, arg in ipairs(entry.args) do
      rows[i] = { code(arg.many and help.arguments_synopsis{ args = { arg } } or arg.name), arg.help }
    end
    parts[#parts + 1] = table_of({ "argument", "meaning" }, rows)
  end
  if #entry.options > 0 then
    parts[#parts + 1] = table_of({ "option", "meaning" }, option_rows(entry.options))
  end
  local codes = {}
  for i, item in ipairs(registry.exit_codes(entry)) do codes[i] = code(tostring(item.code)) end
  local own = {}
  for _, item in ipairs(registry.exit_codes(entry)) do
    if item.code > registry.EXIT_USAGE then own[#own + 1] = ("%s %s"):format(code(tostring(item.code)), item.meaning) end
  end
  parts[#parts + 1] = ("Exit status: %s (see [Exit status](#exit-status))%s.\n"):format(
    table.concat(codes, ", "), #own > 0 and "; " .. table.concat(own, "; ") or "")
  local examples = {}
  for i, example in ipairs(entry.examples) do examples[i] = "$ " .. example end
  parts[#parts + 1] = "```sh\n" .. table.concat(examples, "\n") .. "\n```\n"
  return table.concat(parts, "\n")
end

--- docs/cli.md for the commands of `commands_registry`.
function M.markdown(commands_registry)
  local parts = {
    "# Command-line reference\n",
    "<!-- Generated from the command registry (lua/extruct/cli/) by scripts/cli-doc.lua:"
      .. " edit the entries there, then run `make cli-doc`. -->\n",
    registry.PROGRAM.summary .. " " .. registry.PROGRAM.notes .. "\n",
    "## Commands\n",
  }
  local rows = {}
  for i, entry in ipairs(commands_registry.commands) do
    rows[i] = { ("[%s](#%s)"):format(code(help.synopsis(entry)), anchor(heading(entry))), entry.summary }
  end
  rows[#rows + 1] = { code("help [COMMAND]"), "show help for a command (as `COMMAND --help` does)" }
  parts[#parts + 1] = table_of({ "command", "what it does" }, rows)
  parts[#parts + 1] = "## Options for every command\n"
  parts[#parts + 1] = table_of({ "option", "meaning" }, option_rows(registry.GLOBAL_OPTIONS))
  parts[#parts + 1] = "## Environment\n"
  local variables = {}
  for i, variable in ipairs(registry.PROGRAM.environment) do variables[i] = { code(variable.name), variable.meaning } end
  parts[#parts + 1] = table_of({ "variable", "meaning" }, variables)
  parts[#parts + 1] = "## Exit status\n"
  local codes = {}
  for i, item in ipairs(registry.EXIT_CODES) do codes[i] = { code(tostring(item.code)), item.meaning } end
  -- the commands' own statuses by status, each in the order of the commands
  local own = {}
  for _, entry in ipairs(commands_registry.commands) do
    for _, item in ipairs(registry.exit_codes(entry)) do
      if item.code > registry.EXIT_USAGE then
        own[#own + 1] = { status = item.code, place = #own, row = { code(tostring(item.code)),
                                                                     ("%s %s"):format(code(entry.path), item.meaning) } }
      end
    end
  end
  table.sort(own, function(a, b) return a.status < b.status or (a.status == b.status and a.place < b.place) end)
  for _, item in ipairs(own) do codes[#codes + 1] = item.row end
  for _, signalled in ipairs(registry.EXIT_SIGNAL_CODES) do
    codes[#codes + 1] = { code(tostring(signalled.code)), signalled.meaning }
  end
  parts[#parts + 1] = table_of({ "status", "meaning" }, codes)
  local group
  for _, entry in ipairs(commands_registry.commands) do
    local words = entry.path:match("^(.*) %S+$") or ""
    if words ~= group then
      group = words
      local _, described = commands_registry:lookup(group)
      parts[#parts + 1] = "## extruct " .. (group ~= "" and group or "(commands without a group)") .. "\n"
      if described and described.help then parts[#parts + 1] = M.prose(described.help) .. "\n" end
    end
    parts[#parts + 1] = command_section(entry)
  end
  return output.one_final_newline((table.concat(parts, "\n"):gsub("\n\n+", "\n\n")))
end

return M
