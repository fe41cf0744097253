--- extruct.cli.args: the command line's words and options, read with the
--- help of declarative option specs.
---
--- An option spec:
---   { name = "--interval", value = "S", type = args.SECONDS, help = "..." }
--- name: the long spelling; short: a one-letter spelling ("-h"); key: the
--- field it sets in the options table (default: name without dashes,
--- inner dashes made "_"); value: the placeholder of its value in help
--- (none: a flag, set to true); type: { parse = fn(text) -> value or nil,
--- want = "what it takes" } (none: any non-empty text); want: overrides
--- type.want in messages; repeated: every occurrence is collected in a
--- list; required: the option must be given (a string: the message when
--- it is not); help: one sentence or more for the help pages and the reference;
--- check: fn(opts, fail, spelled), run when the option is given, to refuse
--- (fail(message)) combinations that make no sense.
---
--- Reading is two passes: `split` needs only to know which options take a
--- value (options may come before the command words, so the command is not
--- known yet); `read_options` then reads the values against the options
--- of the command the words named.

local errors = require("extruct.errors")
local linear = require("extruct.text")

local M = {}

--- Raises a usage error: exit status 2, the message, and a pointer to the
--- help of `topic` (a command or group path; "" or nil: the top level).
function M.usage_error(message, topic)
  error(errors.new("config", message, { help_topic = topic or "" }), 0)
end

function M.is_usage_error(value)
  return errors.is_error(value) and value.help_topic ~= nil
end

--- "a, b or c"
function M.or_list(items)
  if #items <= 1 then return items[1] or "" end
  return table.concat(items, ", ", 1, #items - 1) .. " or " .. items[#items]
end

-- The edit distance between a and b, adjacent swaps counting one (the
-- optimal string alignment distance): "tabels" is 1 from "tables".
local function distance(a, b)
  local previous, before_previous = {}, {}
  for j = 0, #b do previous[j] = j end
  for i = 1, #a do
    local row = { [0] = i }
    for j = 1, #b do
      local cost = a:byte(i) == b:byte(j) and 0 or 1
      local best = math.min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + cost)
      if i > 1 and j > 1 and a:byte(i) == b:byte(j - 1) and a:byte(i - 1) == b:byte(j) then
        best = math.min(best, before_previous[j - 2] + 1)
      end
      row[j] = best
    end
    before_previous, previous = previous, row
  end
  return previous[#b]
end

--- The candidate closest to `word` when it is close enough to be a typo
--- of it (at most 2 edits, and fewer than half the word's length), else
--- nil. Ties go to the candidate listed first.
function M.closest(word, candidates)
  -- (words longer than this are no typo of a command or an option)
  if #word > 40 then return nil end
  local best, best_distance
  for _, candidate in ipairs(candidates) do
    local d = distance(word, candidate)
    if d <= 2 and d * 2 < #word and (best_distance == nil or d < best_distance) then
      best, best_distance = candidate, d
    end
  end
  return best
end

--- "; did you mean 'x'?" when one of candidates is close to word, else "".
function M.did_you_mean(word, candidates)
  local close = M.closest(word, candidates)
  return close and ("; did you mean '%s'?"):format(close) or ""
end

---------------------------------------------------------------------------
-- Value types
---------------------------------------------------------------------------

local function seconds(text, allow_zero)
  local n = (text:find("^%d+%.?%d*$") or text:find("^%.%d+$")) and tonumber(text)
  if not n or n >= 1e9 or (n == 0 and not allow_zero) then return nil end
  return n
end

M.SECONDS = { want = "a number of seconds > 0", parse = function(text) return seconds(text, false) end }
M.SECONDS_OR_ZERO = { want = "a number of seconds >= 0", parse = function(text) return seconds(text, true) end }

M.COUNT = {
  want = "a whole number >= 1",
  parse = function(text)
    local n = text:find("^%d+$") and tonumber(text)
    if not n or n < 1 or n >= 1e9 then return nil end
    return n
  end,
}

--- A whole number from `min` to `max` (no upper bound when max is nil).
function M.whole(min, max)
  return {
    want = max and ("a whole number from %d to %d"):format(min, max) or ("a whole number >= %d"):format(min),
    parse = function(text)
      local n = text:find("^%d+$") and tonumber(text)
      if not n or n < min or n > (max or 1e9 - 1) then return nil end
      return n
    end,
  }
end

M.OFFSET = M.whole(0)

--- "a, b,c" -> { "a", "b", "c" }; an empty item makes the whole list invalid.
M.ID_LIST = {
  want = "ids separated by commas",
  parse = function(text)
    local ids = {}
    for item in (text .. ","):gmatch("([^,]*),") do
      item = linear.trim(item)
      if item == "" then return nil end
      ids[#ids + 1] = item
    end
    return ids
  end,
}

--- One of the given words.
function M.choice(...)
  local words, allowed = { ... }, {}
  for _, word in ipairs(words) do allowed[word] = true end
  return {
    want = M.or_list(words),
    choices = words,
    parse = function(text) return allowed[text] and text or nil end,
  }
end

---------------------------------------------------------------------------
-- Option specs
---------------------------------------------------------------------------

local SPEC_FIELDS = { name = true, short = true, key = true, value = true, type = true, want = true,
                      repeated = true, required = true, help = true, check = true }

--- Checks an option spec and fills in its key; returns it. A malformed spec
--- is a mistake in the program, so it raises.
function M.option(spec)
  if type(spec) ~= "table" then error("an option spec must be a table, got " .. type(spec), 2) end
  for field in pairs(spec) do
    if not SPEC_FIELDS[field] then error(("option spec %s: unknown field '%s'"):format(tostring(spec.name), field), 2) end
  end
  if type(spec.name) ~= "string" or not spec.name:find("^%-%-%l[%l%d%-]*$") then
    error(("an option's name must look like --word, got %s"):format(tostring(spec.name)), 2)
  end
  if spec.short ~= nil and not (type(spec.short) == "string" and spec.short:find("^%-%a$")) then
    error(("option %s: short must look like -x"):format(spec.name), 2)
  end
  if type(spec.help) ~= "string" or not spec.help:find("%S") then
    error(("option %s has no help"):format(spec.name), 2)
  end
  if spec.type ~= nil and not spec.value then
    error(("option %s has a type but no value"):format(spec.name), 2)
  end
  spec.key = spec.key or spec.name:sub(3):gsub("%-", "_")
  return spec
end

--- One list of option specs from several (shared ones and a command's own).
function M.options(...)
  local list = {}
  for i = 1, select("#", ...) do
    for _, spec in ipairs((select(i, ...))) do list[#list + 1] = spec end
  end
  return list
end

--- "--interval S", "-h, --help", "--tag T" for the help pages.
function M.option_label(spec)
  return (spec.short and spec.short .. ", " or "") .. spec.name .. (spec.value and " " .. spec.value or "")
end

--- "[--interval S]", "[--tag T]...", "--to TARGET" (required) for a usage line.
function M.option_synopsis(spec)
  local text = spec.name .. (spec.value and " " .. spec.value or "")
  if not spec.required then text = "[" .. text .. "]" end
  return text .. (spec.repeated and "..." or "")
end

---------------------------------------------------------------------------
-- Reading
---------------------------------------------------------------------------

--- Splits argv into the words (anything not an option, all after `--`) and
--- the options as typed: a list of { name, value (a string or true) }.
--- spec_of(name) is a spec of that spelling, from any command (they agree
--- on whether it takes a value), or nil for an unknown one; topic_of(words)
--- names the help to point at when a usage error is raised; spellings(topic)
--- (optional) lists the options a typo may be of.
function M.split(argv, spec_of, topic_of, spellings)
  local words, given = {}, {}
  local i, only_words = 1, false
  while argv[i] ~= nil do
    local arg = argv[i]
    if only_words or arg == "-" or arg:sub(1, 1) ~= "-" then
      words[#words + 1] = arg
    elseif arg == "--" then
      only_words = true
    else
      local name, inline = arg:match("^(%-%-[^=]+)=(.*)$")
      name = name or arg
      local spec = spec_of(name)
      if spec == nil then
        local topic = topic_of(words)
        M.usage_error(("unknown option '%s'%s"):format(name, spellings and M.did_you_mean(name, spellings(topic)) or ""),
          topic)
      end
      local value = true
      if spec.value then
        if inline then
          value = inline
        else
          i = i + 1
          value = argv[i]
          if value == nil then
            M.usage_error(("option %s needs a value (%s)"):format(name, spec.value), topic_of(words))
          end
        end
      elseif inline then
        M.usage_error(("option %s takes no value"):format(name), topic_of(words))
      end
      given[#given + 1] = { name = name, value = value }
    end
    i = i + 1
  end
  return words, given
end

--- The options of a command from what split found: options (a table of
--- key -> value) and spelled (key -> the spelling typed, for messages).
--- specs_by_name maps each spelling the command takes to its spec; `path`
--- is the command, for messages. A repeated option keeps its last value,
--- except those that collect a list.
function M.read_options(given, specs_by_name, path)
  local options, spelled = {}, {}
  for _, option in ipairs(given) do
    local spec = specs_by_name[option.name]
    if not spec then
      local own = {}
      for name in pairs(specs_by_name) do
        if name:sub(1, 2) == "--" then own[#own + 1] = name end
      end
      table.sort(own)
      M.usage_error(("option %s does not apply to '%s'%s"):format(option.name, path, M.did_you_mean(option.name, own)),
        path)
    end
    local value = option.value
    if spec.value then
      local parse = spec.type and spec.type.parse
      if parse then
        local parsed = parse(value)
        if parsed == nil then
          M.usage_error(("option %s wants %s, got '%s'"):format(option.name, spec.want or spec.type.want, value), path)
        end
        value = parsed
      elseif value == "" then
        M.usage_error(("option %s needs a non-empty %s"):format(option.name, spec.value), path)
      end
    end
    if spec.repeated then
      local list = options[spec.key] or {}
      list[#list + 1] = value
      value = list
    end
    options[spec.key] = value
    spelled[spec.key] = option.name
  end
  return options, spelled
end

return M
