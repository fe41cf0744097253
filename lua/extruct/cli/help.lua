--- extruct.cli.help: the help pages, made from the registry: the top level
--- (`extruct --help`), a group (`extruct tables --help`) and a command
--- (`extruct tables get --help`).

local args = require("extruct.cli.args")
local output = require("extruct.cli.output")
local registry = require("extruct.cli.registry")

local M = {}

M.WIDTH = 79
-- The widest option label that still gets its text beside it.
local MAX_OPTION_COLUMN = 26

--- "ID", "ID [ID ...]", "ID FILE": the arguments of a command.
function M.arguments_synopsis(entry)
  local parts = {}
  for _, arg in ipairs(entry.args) do
    parts[#parts + 1] = arg.many and ("%s [%s ...]"):format(arg.name, arg.name)
      or arg.optional and ("[%s]"):format(arg.name) or arg.name
  end
  return table.concat(parts, " ")
end

--- "tables wait ID [ID ...]", or the part after `under` (a group's path).
function M.synopsis(entry, under)
  local words = entry.path
  if under and under ~= "" then words = words:sub(#under + 2) end
  local arguments = M.arguments_synopsis(entry)
  return arguments == "" and words or words .. " " .. arguments
end

--- The usage line of a command, wrapped under its first words.
function M.usage(entry, width)
  local lead = "usage: extruct " .. M.synopsis(entry)
  local parts = {}
  -- "\1" holds each "[--opt VALUE]" together while the line is filled
  for _, spec in ipairs(entry.options) do parts[#parts + 1] = args.option_synopsis(spec):gsub(" ", "\1") end
  parts[#parts + 1] = "[OPTIONS]"
  local indent = (" "):rep(#("usage: extruct " .. entry.path) + 1)
  return (output.wrap(table.concat(parts, " "), width or M.WIDTH, lead .. " ", indent):gsub("\1", " "))
end

-- Lines of `label  text`, the texts starting in one column.
local function listing(items, column)
  local lines = {}
  for i, item in ipairs(items) do
    lines[i] = output.two_columns("  " .. item[1], item[2], column, M.WIDTH)
  end
  return table.concat(lines, "\n") .. "\n"
end

local function option_items(specs)
  local items = {}
  for i, spec in ipairs(specs) do items[i] = { args.option_label(spec), spec.help } end
  return items
end

local function column_for(items, most)
  local width = 0
  for _, item in ipairs(items) do width = math.max(width, output.text_width(item[1])) end
  return math.min(width + 4, most or math.huge)
end

local function exit_items(list)
  local items = {}
  for i, item in ipairs(list) do items[i] = { tostring(item.code), item.meaning } end
  return items
end

-- Exit statuses at the top level or of a group: the common ones, then each
-- command's own, naming the command.
local function exit_status_of(commands)
  local items = exit_items(registry.EXIT_CODES)
  local codes, by_code = {}, {}
  for _, entry in ipairs(commands) do
    for code, meaning in pairs(entry.exit_codes or {}) do
      if not by_code[code] then
        by_code[code] = {}
        codes[#codes + 1] = code
      end
      table.insert(by_code[code], ("`%s` %s"):format(entry.path, meaning))
    end
  end
  table.sort(codes)
  for _, code in ipairs(codes) do
    for i, text in ipairs(by_code[code]) do items[#items + 1] = { i == 1 and tostring(code) or "", text } end
  end
  for _, item in ipairs(exit_items(registry.EXIT_SIGNAL_CODES)) do items[#items + 1] = item end
  return "Exit status:\n" .. listing(items, 5)
end

local function global_options(column)
  return "Options for every command:\n" .. listing(option_items(registry.GLOBAL_OPTIONS), column)
end

local function command_list(title, commands, under)
  local items = {}
  for i, entry in ipairs(commands) do items[i] = { M.synopsis(entry, under), entry.summary } end
  if under == "" then items[#items + 1] = { "help [COMMAND]", "show help for a command" } end
  return title .. ":\n" .. listing(items, column_for(items))
end

--- `extruct --help`
function M.top(commands_registry)
  local commands = commands_registry.commands
  local environment = {}
  for i, variable in ipairs(registry.PROGRAM.environment) do environment[i] = { variable.name, variable.meaning } end
  local example = commands[1] and commands[1].path or "COMMAND"
  return table.concat({
    "usage: extruct [OPTIONS] COMMAND ...\n",
    registry.PROGRAM.summary .. "\n",
    command_list("Commands", commands, ""),
    global_options(column_for(option_items(registry.GLOBAL_OPTIONS), MAX_OPTION_COLUMN)),
    output.wrap(registry.PROGRAM.notes, M.WIDTH) .. "\n",
    "Environment:\n" .. listing(environment, column_for(environment)),
    exit_status_of(commands),
    output.wrap(("Run 'extruct COMMAND --help' (e.g. 'extruct %s --help') for a command's arguments and"
      .. " options."):format(example), M.WIDTH) .. "\n",
  }, "\n")
end

--- `extruct tables --help`
function M.group(commands_registry, path)
  local _, group = commands_registry:lookup(path)
  local commands = commands_registry:commands_under(path)
  local parts = { ("usage: extruct %s SUBCOMMAND [ARGUMENTS] [OPTIONS]\n"):format(path) }
  if group.help then parts[#parts + 1] = output.one_final_newline(group.help) end
  parts[#parts + 1] = command_list("Subcommands", commands, path)
  parts[#parts + 1] = global_options(column_for(option_items(registry.GLOBAL_OPTIONS), MAX_OPTION_COLUMN))
  parts[#parts + 1] = exit_status_of(commands)
  parts[#parts + 1] = output.wrap(("Run 'extruct %s SUBCOMMAND --help' for the arguments and options of"
    .. " each."):format(path), M.WIDTH) .. "\n"
  return table.concat(parts, "\n")
end

--- `extruct tables get --help`
function M.command(entry)
  local own, global = option_items(entry.options), option_items(registry.GLOBAL_OPTIONS)
  local all = {}
  for _, item in ipairs(own) do all[#all + 1] = item end
  for _, item in ipairs(global) do all[#all + 1] = item end
  local column = column_for(all, MAX_OPTION_COLUMN)
  local parts = { M.usage(entry) .. "\n", output.one_final_newline(entry.help) }
  if #entry.args > 0 then
    local items = {}
    for i, arg in ipairs(entry.args) do items[i] = { arg.name, arg.help } end
    parts[#parts + 1] = "Arguments:\n" .. listing(items, column)
  end
  if #own > 0 then parts[#parts + 1] = "Options:\n" .. listing(own, column) end
  parts[#parts + 1] = global_options(column)
  parts[#parts + 1] = "Exit status:\n" .. listing(exit_items(registry.exit_codes(entry)), 5)
  local examples = {}
  for i, example in ipairs(entry.examples) do examples[i] = "  " .. example .. "\n" end
  parts[#parts + 1] = "Examples:\n" .. table.concat(examples)
  return table.concat(parts, "\n")
end

--- The help page of a topic ("", a group's path or a command's), or nil.
function M.page(commands_registry, topic)
  local entry, group = commands_registry:lookup(topic)
  if entry then return M.command(entry) end
  if topic == "" then return M.top(commands_registry) end
  if group then return M.group(commands_registry, topic) end
  return nil
end

return M
