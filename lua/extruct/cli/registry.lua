--- extruct.cli.registry: the commands of the command line, one entry each.
--- Reading the command line, the help pages and docs/cli.md all come from
--- here, so adding a command is adding one entry to a command module:
---
---   {
---     words = { "tables", "get" },                 -- the command's words
---     args = { { name = "ID", key = "id", help = "the table's id",
---                missing = "missing table ID" } }, -- many = true: one or more;
---                                                   -- optional = true: the last may be left out
---     options = { args.option{...}, ... },         -- beyond the global ones
---     summary = "print the table as JSON",         -- a line for the lists
---     help = [[Prints the table ...]],             -- the help page's text
---     examples = { "extruct tables get tbl_demo" },
---     exit_codes = { [3] = "timed out ..." },      -- beyond 0, 1 and 2
---     destructive = true,                          -- refuses without --yes
---     needs_token = false,                         -- runs without a token too (the healthcheck)
---     check = function(opts, fail, spelled) end,   -- options that go together
---     run = function(ctx, args, opts) end,         -- true | nil, err [, exit]
---   }
---
--- A command module returns { commands = { entry, ... } }; an item
--- { words = { "tables" }, group = true, help = "..." } among them describes
--- a group of commands.

local args = require("extruct.cli.args")

local unpack = table.unpack or unpack

local M = {}

--- The modules whose entries make the standard command line, in the order
--- of the help pages.
M.COMMAND_MODULES = { "extruct.cli.tables", "extruct.cli.rows", "extruct.cli.columns", "extruct.cli.companies",
                      "extruct.cli.deep_search", "extruct.cli.deep_research", "extruct.cli.account" }

M.EXIT_OK = 0
M.EXIT_API = 1      -- the API answered with an error, or the network failed
M.EXIT_USAGE = 2    -- bad command line, configuration or input file
M.EXIT_TIMEOUT = 3  -- a wait ran out of time
M.EXIT_NOT_DONE = 4 -- a report asked for before the task wrote it
M.EXIT_INTERRUPTED = 130 -- Ctrl-C (128 + SIGINT, as other tools end)
M.EXIT_CLOSED_PIPE = 141 -- stdout's reader went away (128 + SIGPIPE, as other tools end)

--- What the exit statuses every command may end with mean.
M.EXIT_CODES = {
  { code = M.EXIT_OK, meaning = "success" },
  { code = M.EXIT_API, meaning = "API or network error, a Deep Search or Deep Research task that ended failed"
    .. " (kind `failed`, with the API's reason), an export's database that failed (kind `database`; the"
    .. " database is as it was), or stdout cannot be written; stderr has one line naming the"
    .. " kind: \"extruct: KIND: message\". A 402 says what is missing: \"extruct: payment: this needs the Pro"
    .. " plan ...\", \"... not enough credits ...\" or \"... last payment failed ...\"" },
  { code = M.EXIT_USAGE, meaning = "usage or configuration error: unknown or misplaced option, bad value,"
    .. " a missing argument (ID, FILE...), unknown command, no token, a token file that is unreadable,"
    .. " empty, larger than 64 KB or not a regular file or a pipe,"
    .. " malformed base URL,"
    .. " an input FILE that cannot be read or is malformed (the message names the line), an --output FILE"
    .. " that cannot be written, a destructive"
    .. " command without --yes; nothing is sent. Also a column key the table does not have (`tables data"
    .. " --columns`, after reading the table's header), and an export's target that cannot be used (a"
    .. " malformed --to, a database driver that is not installed, a --sql-table taken by another table)" },
}

--- The statuses of any command stopped by a signal, listed after the
--- commands' own (the help pages of single commands leave them out): Ctrl-C,
--- and stdout's reader gone.
M.EXIT_INTERRUPTED_CODE = {
  code = M.EXIT_INTERRUPTED, meaning = "Ctrl-C: what was in flight (a request, a retry's pause, a wait) is"
    .. " cancelled at once and the command ends with no message (a wait's progress line gives way to the last"
    .. " state seen, as at its end); an --output FILE or an export's database is left as it was (128 + 2). A"
    .. " second Ctrl-C ends the command at once, whatever it is doing",
}
M.EXIT_CLOSED_PIPE_CODE = {
  code = M.EXIT_CLOSED_PIPE, meaning = "stdout is a pipe whose reader went away (`extruct tables data ID | head`):"
    .. " the command stops at once and says nothing, as other tools stopped by SIGPIPE do (128 + 13)",
}
M.EXIT_SIGNAL_CODES = { M.EXIT_INTERRUPTED_CODE, M.EXIT_CLOSED_PIPE_CODE }

M.PROGRAM = {
  summary = "The command line of the Extruct API client (https://extruct.ai).",
  notes = "Options may come before or after the command words, as `--opt value` or `--opt=value`; `--`"
    .. " ends the options. The token is never printed; there is no --token option because command"
    .. " lines are visible to other users. A FILE of `-` is standard input. Commands that print records"
    .. " (lists, rows, companies, results) take --format: `table`, aligned columns (the default when stdout"
    .. " is a terminal), `jsonl`, one JSON object a line (the default otherwise, and what --json asks"
    .. " for), `json`, one JSON array, or `csv`. --pretty indents JSON as `jq .` does (two spaces), keeping"
    .. " the server's text: its keys in its order, its numbers as sent. An --output FILE changes only"
    .. " when the command succeeds, and then all at once: a regular file is replaced through a new file"
    .. " beside it (keeping its mode), a symbolic link is written through and stays a link, and a device,"
    .. " a FIFO or /dev/stdout is written directly.",
  environment = {
    { name = "EXTRUCT_API_TOKEN", meaning = "the API token (unless --token-file is given)" },
    { name = "EXTRUCT_API_URL", meaning = "the API's address (unless --base-url is given)" },
  },
}

--- The options of every command.
M.GLOBAL_OPTIONS = {
  args.option{ name = "--token-file", value = "PATH",
               help = "read the API token from PATH, a regular file or a pipe of at most 64 KB (surrounding"
                 .. " whitespace is trimmed); default: the EXTRUCT_API_TOKEN variable" },
  args.option{ name = "--base-url", value = "URL",
               help = "the API's address; default: EXTRUCT_API_URL, else https://api.extruct.ai" },
  args.option{ name = "--request-timeout", value = "S", type = args.SECONDS,
               help = "give each HTTP request at most S seconds, connecting included (default 30); past that"
                 .. " it fails as a timeout, retried where that is safe (a wait counts it as a missed poll)."
                 .. " Not the --timeout of the wait commands, which bounds the whole wait" },
  args.option{ name = "--output", short = "-o", value = "FILE",
               help = "write what the command prints to FILE instead of stdout, once it succeeds (a command that"
                 .. " fails leaves FILE as it was; `-`: stdout)" },
  args.option{ name = "--verbose", short = "-v",
               help = "print each request on stderr as it ends: method, URL, status and time (the token never)" },
  args.option{ name = "--help", short = "-h", help = "show help" },
  args.option{ name = "--version", help = "show the version" },
}

--- The option destructive commands take, and refuse to run without.
M.YES_OPTION = args.option{
  name = "--yes", short = "-y",
  help = "confirm: the command cannot be undone, so without --yes it refuses (exit status 2) and sends nothing",
}

local Registry = {}
Registry.__index = Registry

--- An empty registry.
function M.new()
  local self = setmetatable({
    commands = {},        -- entries, in the order added
    by_path = {},         -- "tables get" -> entry
    groups = {},          -- "tables" -> { path, words, help?, children = { word, ... } }
    spec_by_name = {},    -- "--interval" -> a spec of that spelling, "-h" too
  }, Registry)
  self.groups[""] = { path = "", words = {}, children = {} }
  for _, spec in ipairs(M.GLOBAL_OPTIONS) do self:learn_option(spec) end
  self:learn_option(M.YES_OPTION)
  return self
end

--- A registry of the standard commands (M.COMMAND_MODULES).
function M.standard()
  local self = M.new()
  for _, name in ipairs(M.COMMAND_MODULES) do self:add_all(require(name).commands) end
  return self
end

local function misuse(message)
  error("extruct.cli.registry: " .. message, 3)
end

local function nonblank(value)
  return type(value) == "string" and value:find("%S") ~= nil
end

-- Options with the same spelling in different commands must agree on
-- taking a value: the words are split before the command is known.
function Registry:learn_option(spec)
  for _, name in ipairs({ spec.name, spec.short }) do
    local known = self.spec_by_name[name]
    if known and (known.value == nil) ~= (spec.value == nil) then
      misuse(("option %s takes a value in one command and not in another"):format(name))
    end
    self.spec_by_name[name] = known or spec
  end
end

local function check_words(words)
  if type(words) ~= "table" or #words == 0 then misuse("an entry needs words = { ... }") end
  for _, word in ipairs(words) do
    if type(word) ~= "string" or not word:find("^%l[%l%d%-]*$") then
      misuse(("a command word must be lower-case letters, digits and dashes, got %s"):format(tostring(word)))
    end
  end
  if words[1] == "help" then misuse("'help' is the help command's word") end
end

-- Records the groups a command's words lead through.
function Registry:add_groups(words)
  local path = ""
  for i = 1, #words - 1 do
    local group = self.groups[path]
    local child = path == "" and words[i] or path .. " " .. words[i]
    if self.by_path[child] then misuse(("'%s' is a command and cannot lead to others"):format(child)) end
    if not self.groups[child] then
      group.children[#group.children + 1] = words[i]
      self.groups[child] = { path = child, words = { unpack(words, 1, i) }, children = {} }
    end
    path = child
  end
  return path
end

local ENTRY_FIELDS = { words = true, args = true, options = true, summary = true, help = true, examples = true,
                       exit_codes = true, destructive = true, needs_token = true, check = true, run = true }

--- Adds a command; returns the registry's copy of its entry, completed
--- with `path`, `args`, `options` and `options_by_name` (the global ones
--- and --yes included). The entry itself is left as it is, so one entry may
--- go into several registries. A malformed entry raises.
function Registry:add(given)
  if type(given) ~= "table" then misuse("an entry must be a table") end
  local entry = {}
  for field, value in pairs(given) do
    if not ENTRY_FIELDS[field] then misuse(("unknown entry field '%s'"):format(tostring(field))) end
    entry[field] = value
  end
  check_words(entry.words)
  local path = table.concat(entry.words, " ")
  if self.by_path[path] or self.groups[path] then misuse(("'%s' is already taken"):format(path)) end
  if type(entry.run) ~= "function" then misuse(("'%s' has no run function"):format(path)) end
  if not nonblank(entry.summary) then misuse(("'%s' has no summary"):format(path)) end
  if not nonblank(entry.help) then misuse(("'%s' has no help"):format(path)) end
  if type(entry.examples) ~= "table" or #entry.examples == 0 then misuse(("'%s' has no examples"):format(path)) end
  local arguments = {}
  for i, arg in ipairs(entry.args or {}) do
    if not (nonblank(arg.name) and nonblank(arg.help) and nonblank(arg.missing)) then
      misuse(("'%s': argument %d needs a name, help and a missing message"):format(path, i))
    end
    if (arg.many or arg.optional) and i < #entry.args then
      misuse(("'%s': only the last argument may be many or optional"):format(path))
    end
    arguments[i] = { name = arg.name, key = arg.key or arg.name:lower(), help = arg.help, missing = arg.missing,
                     many = arg.many, optional = arg.optional }
  end
  entry.args = arguments
  entry.options = entry.options or {}
  if entry.destructive then
    local with_yes = { unpack(entry.options) }
    with_yes[#with_yes + 1] = M.YES_OPTION
    entry.options = with_yes
  end
  local by_name = {}
  for _, spec in ipairs(M.GLOBAL_OPTIONS) do
    by_name[spec.name] = spec
    if spec.short then by_name[spec.short] = spec end
  end
  for _, spec in ipairs(entry.options) do
    args.option(spec)
    if by_name[spec.name] then misuse(("'%s' lists option %s twice"):format(path, spec.name)) end
    by_name[spec.name] = spec
    if spec.short then by_name[spec.short] = spec end
    self:learn_option(spec)
  end
  entry.path, entry.options_by_name = path, by_name
  local group = self.groups[self:add_groups(entry.words)]
  group.children[#group.children + 1] = entry.words[#entry.words]
  self.by_path[path] = entry
  self.commands[#self.commands + 1] = entry
  return entry
end

--- Describes a group of commands (its help page's text).
function Registry:describe_group(spec)
  check_words(spec.words)
  local path = table.concat(spec.words, " ")
  if self.by_path[path] then misuse(("'%s' is a command, not a group"):format(path)) end
  if not nonblank(spec.help) then misuse(("group '%s' has no help"):format(path)) end
  local words = { unpack(spec.words) }
  words[#words + 1] = "" -- stands for the commands the group leads to
  self:add_groups(words)
  self.groups[path].help = spec.help
end

--- Adds the entries of a command module.
function Registry:add_all(list)
  for _, item in ipairs(list) do
    if item.group then self:describe_group(item) else self:add(item) end
  end
  return self
end

--- The command or group at path: entry, or nil and the group, or nil.
function Registry:lookup(path)
  return self.by_path[path], self.groups[path]
end

--- The paths one word below a group, in the order they were added.
function Registry:children(path)
  local list = {}
  for i, word in ipairs(self.groups[path].children) do
    list[i] = path == "" and word or path .. " " .. word
  end
  return list
end

--- Every command at or below path, in the order added.
function Registry:commands_under(path)
  local list = {}
  for _, entry in ipairs(self.commands) do
    if path == "" or entry.path == path or entry.path:sub(1, #path + 1) == path .. " " then
      list[#list + 1] = entry
    end
  end
  return list
end

--- The longest command or group the words start with ("" for none).
function Registry:topic_of(words)
  local topic = ""
  for n = 1, #words do
    local candidate = table.concat(words, " ", 1, n)
    if not (self.by_path[candidate] or self.groups[candidate]) then break end
    topic = candidate
  end
  return topic
end

--- A spec of the option spelled `name` in any command, or nil.
function Registry:spec_of(name)
  return self.spec_by_name[name]
end

--- The long spellings an unknown option may be a typo of: those of the
--- command `topic` when it names one, else of every command, sorted.
function Registry:spellings(topic)
  local entry = self.by_path[topic]
  local names = {}
  for name in pairs(entry and entry.options_by_name or self.spec_by_name) do
    if name:sub(1, 2) == "--" then names[#names + 1] = name end
  end
  table.sort(names)
  return names
end

--- The command the words name, and how many words that took.
function Registry:resolve(words)
  local path, used = "", 0
  while not self.by_path[path] do
    local word = words[used + 1]
    local choices = self.groups[path].children
    if word == nil then
      if path == "" then args.usage_error("missing command: " .. args.or_list(choices)) end
      args.usage_error(("missing subcommand of %s: %s"):format(path, args.or_list(choices)), path)
    end
    local candidate = path == "" and word or path .. " " .. word
    if not (self.by_path[candidate] or self.groups[candidate]) then
      local guess = args.did_you_mean(word, choices)
      if path == "" then args.usage_error(("unknown command '%s'%s"):format(word, guess)) end
      args.usage_error(("unknown subcommand '%s' of %s%s"):format(word, path, guess), path)
    end
    path, used = candidate, used + 1
  end
  return self.by_path[path], used
end

--- The arguments (by key) and options (by key) of entry from the words
--- after its own and the options split found; raises usage errors.
function M.bind(entry, words, used, given)
  local path = entry.path
  local values = {}
  local next_word = used + 1
  for _, arg in ipairs(entry.args) do
    local value = words[next_word]
    if value == nil and arg.optional then break end
    if value == nil or value == "" then args.usage_error(arg.missing, path) end
    next_word = next_word + 1
    if arg.many then
      value = { value }
      while words[next_word] ~= nil do
        if words[next_word] == "" then args.usage_error(arg.missing, path) end
        value[#value + 1] = words[next_word]
        next_word = next_word + 1
      end
    end
    values[arg.key] = value
  end
  if words[next_word] ~= nil then
    args.usage_error(("unexpected argument '%s'"):format(words[next_word]), path)
  end
  local opts, spelled = args.read_options(given, entry.options_by_name, path)
  local function fail(message) args.usage_error(message, path) end
  for _, spec in ipairs(entry.options) do
    if spec.required and opts[spec.key] == nil then
      fail(type(spec.required) == "string" and spec.required or "missing " .. args.option_label(spec))
    end
    if spec.check and opts[spec.key] ~= nil then spec.check(opts, fail, spelled) end
  end
  if entry.check then entry.check(opts, fail, spelled) end
  if entry.destructive and not opts.yes then
    fail(("'%s' cannot be undone: pass --yes to confirm"):format(path))
  end
  return values, opts
end

--- The exit statuses of entry: a list of { code, meaning }.
function M.exit_codes(entry)
  local list = {}
  for i, item in ipairs(M.EXIT_CODES) do list[i] = item end
  local extra = {}
  for code in pairs(entry and entry.exit_codes or {}) do extra[#extra + 1] = code end
  table.sort(extra)
  for _, code in ipairs(extra) do list[#list + 1] = { code = code, meaning = entry.exit_codes[code] } end
  return list
end

M.Registry = Registry

return M
