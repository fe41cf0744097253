--- extruct.cli.output: what the command line writes: text of API fields on
--- one line, aligned text tables, JSON documents, wrapped help text, and
--- writes to stdout that fail as an error of kind `output` instead of
--- raising.

local args = require("extruct.cli.args")
local errors = require("extruct.errors")
local linear = require("extruct.text")

local M = {}

--- The options of commands that print JSON documents.
M.PRETTY = args.option{
  name = "--pretty", help = "JSON indented as `jq .` indents it: two spaces, the server's text with its keys in"
    .. " its order (the default when stdout is a terminal)",
  check = function(opts, fail)
    if opts.compact then fail("--pretty and --compact exclude each other") end
  end,
}
M.COMPACT = args.option{ name = "--compact", help = "JSON on one line (the default otherwise)" }

--- For commands that print JSON lines: --pretty indents each item.
M.PRETTY_LINES = args.option{
  name = "--pretty", help = "indent each JSON object as `jq .` does (they follow one another; without it, one a"
    .. " line)",
  check = M.PRETTY.check,
}
M.COMPACT_LINES = args.option{ name = "--compact", help = "one JSON object a line (the default)" }

--- A check for commands whose JSON output is optional: --pretty and
--- --compact are refused unless `prints_json(opts)`; `needs` names what
--- makes it print JSON ("--json").
function M.json_style_needs(needs, prints_json)
  return function(opts, fail, spelled)
    if (opts.pretty or opts.compact) and not prints_json(opts) then
      fail(("option %s needs %s"):format(spelled.pretty or spelled.compact, needs))
    end
  end
end

--- The check of the commands whose --json turns on JSON output: --pretty
--- and --compact need it.
M.json_style_needs_json = M.json_style_needs("--json", function(opts) return opts.json end)

--- The text with its control characters (line breaks too) made spaces.
function M.one_line(text)
  return (tostring(text):gsub("%c+", " "))
end

--- Integer-looking text for counts, which may arrive as floats on Lua 5.1.
function M.count_text(n)
  return ("%d"):format(n)
end

--- The shortest text that reads back as the same number.
function M.number_text(n)
  if n == math.floor(n) and math.abs(n) < 2 ^ 53 then return ("%d"):format(n) end
  local short = ("%.15g"):format(n)
  if tonumber(short) == n then return short end
  return ("%.17g"):format(n)
end

--- One line of text for whatever a field of the API holds ("" for tables and null).
function M.field_text(value)
  if type(value) == "string" then return M.one_line(value) end
  if type(value) == "number" then return M.number_text(value) end
  if type(value) == "boolean" then return tostring(value) end
  return ""
end

--- "Acme leads (tbl_demo)", or the id alone when the name is missing or blank.
function M.label(name, id)
  name = type(name) == "string" and name:find("%S") and M.one_line(name) or nil
  return name and ("%s (%s)"):format(name, M.one_line(id)) or M.one_line(id)
end

--- A creation time for a listing: UTC to the minute when the API says UTC,
--- as given otherwise.
function M.created_text(value)
  if type(value) ~= "string" then return M.field_text(value) end
  local date, time, zone = value:match("^(%d%d%d%d%-%d%d%-%d%d)T(%d%d:%d%d)[%d:.]*(.*)$")
  if date and (zone == "Z" or zone == "+00:00" or zone == "") then
    return date .. " " .. time
  end
  return M.one_line(value)
end

--- The text with one newline at its end, however many it had.
function M.one_final_newline(text)
  return linear.trim_end(text) .. "\n"
end

--- Characters on screen: UTF-8 continuation bytes take no column.
function M.text_width(text)
  return select(2, text:gsub("[^\128-\191]", ""))
end

--- Rows of cells as text columns two spaces apart, the last one unpadded.
function M.aligned(rows)
  local widths = {}
  for _, row in ipairs(rows) do
    for i, cell in ipairs(row) do widths[i] = math.max(widths[i] or 0, M.text_width(cell)) end
  end
  local lines = {}
  for r, row in ipairs(rows) do
    local cells = {}
    for i, cell in ipairs(row) do
      cells[i] = i < #row and cell .. (" "):rep(widths[i] - M.text_width(cell)) or cell
    end
    lines[r] = table.concat(cells, "  ") .. "\n"
  end
  return table.concat(lines)
end

--- Text filled into lines of at most `width` columns, words kept whole; the
--- first line starts with `first` and the others with `rest` (indents).
--- Returns the lines joined by "\n", without a final one.
function M.wrap(text, width, first, rest)
  first, rest = first or "", rest or first or ""
  local lines, line = {}, first
  local empty = true
  for word in text:gmatch("%S+") do
    if not empty and M.text_width(line) + 1 + M.text_width(word) > width then
      lines[#lines + 1] = line
      line, empty = rest .. word, false
    else
      line, empty = (empty and line or line .. " ") .. word, false
    end
  end
  lines[#lines + 1] = line
  return table.concat(lines, "\n")
end

--- `label` in a column `column` wide, then `text` wrapped beside it; a label
--- too wide for its column puts the text on the next line.
function M.two_columns(label, text, column, width)
  local indent = (" "):rep(column)
  if M.text_width(label) + 2 > column then
    return label .. "\n" .. M.wrap(text, width, indent, indent)
  end
  return M.wrap(text, width, label .. (" "):rep(column - M.text_width(label)), indent)
end

local function number_in(detail, key)
  local value = type(detail) == "table" and detail[key] or nil
  return type(value) == "number" and M.number_text(value) or nil
end

local function word_in(detail, key)
  local value = type(detail) == "table" and detail[key] or nil
  return type(value) == "string" and value:find("%S") and M.one_line(value) or nil
end

-- What a 402 means for the user, by its code, or nil for a code not known.
local PAYMENT_TEXT = {
  plan_required = function(detail)
    local plan = word_in(detail, "required_plan") or "pro"
    local text = ("this needs the %s plan"):format(plan:sub(1, 1):upper() .. plan:sub(2))
    local current = word_in(detail, "plan_tier")
    if current then text = text .. (" (the organization is on the %s plan)"):format(current) end
    return text .. "; `extruct billing` shows the plan"
  end,
  payment_failed = function()
    return "the organization's last payment failed: update its payment method with Extruct to go on"
  end,
  insufficient_credits = function(detail)
    local required, available = number_in(detail, "required_credits"), number_in(detail, "available_credits")
    if required and available then
      return ("not enough credits: this needs %s, and %s %s available"):format(required, available,
        available == "1" and "is" or "are")
    end
    return "not enough credits for this request; `extruct user` shows how many are left"
  end,
}

--- The line that reports a failed command on stderr: "extruct: KIND:
--- message". A 402 says in words what the plan, the payment or the credits
--- lack, followed by the API's code; a 401 says where the command line's
--- token comes from.
function M.error_line(err)
  if errors.is_error(err) and err.kind == "payment" and PAYMENT_TEXT[err.code] then
    return M.one_line(("extruct: payment: %s [%s, HTTP 402]"):format(PAYMENT_TEXT[err.code](err.detail), err.code))
  end
  if errors.is_error(err) and err.kind == "auth" and err.status == 401 then
    local said = type(err.detail) == "string" and (" (server said: %s)"):format(errors.show(err.detail, 300)) or ""
    return M.one_line(("extruct: auth: the API rejected the token%s [HTTP 401]: set EXTRUCT_API_TOKEN to a valid"
      .. " API token, or pass --token-file PATH naming a file that holds one; `extruct user` checks it"):format(said))
  end
  return M.one_line(tostring(err))
end

local EPIPE = 32 -- (Linux, the BSDs and macOS alike)

-- The error of a failed write on stdout; `closed_pipe` when the reader
-- closed its end (`| head`: with SIGPIPE ignored, as a parent may leave it,
-- the write fails with EPIPE instead of ending the process).
local function output_error(why, code)
  local closed = code == EPIPE or tostring(why):find("Broken pipe", 1, true) ~= nil
  return errors.new("output", "cannot write to stdout: " .. tostring(why), { closed_pipe = closed or nil })
end

--- Writes its arguments on stream (stdout): true, or nil and an `output` error.
function M.write(stream, ...)
  local ok, why, code = stream:write(...)
  if not ok then return nil, output_error(why, code) end
  return true
end

function M.flush(stream)
  local ok, why, code = stream:flush()
  if not ok then return nil, output_error(why, code) end
  return true
end

--- Whether JSON goes out indented: --pretty, --compact, else whether stdout
--- is a terminal.
function M.pretty_json(opts, isatty)
  if opts.pretty then return true end
  if opts.compact then return false end
  return isatty(1) and true or false
end

return M
