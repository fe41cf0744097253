--- extruct.cli.account: the commands about the account and the API itself
--- (`extruct user`, `extruct billing`, `extruct health`), one entry each
--- (see extruct.cli.registry for the shape of an entry).

local args = require("extruct.cli.args")
local output = require("extruct.cli.output")

local M = {}

local PRETTY, COMPACT = output.PRETTY, output.COMPACT

local json_style_needs_json = output.json_style_needs_json

local JSON_OPTIONS = {
  args.option{ name = "--json", help = "print the API's answer as one JSON document instead" },
  PRETTY, COMPACT,
}

local function text_of(value)
  local text = output.field_text(value)
  return text:find("%S") and text or nil
end

local function with_id(text, id)
  id = text_of(id)
  if text and id then return ("%s (%s)"):format(text, id) end
  return text or id
end

--- The lines about a user (as GET /v1/user and the `user` of GET
--- /v1/billing give it), each { label, text }, added to `lines`.
function M.user_lines(user, lines)
  lines = lines or {}
  if type(user) ~= "table" then return lines end
  local name, email = text_of(user.name), text_of(user.email)
  local who = name and email and ("%s <%s>"):format(name, email) or name or email
  who = with_id(who, user.user_id or user.id)
  if who then lines[#lines + 1] = { "user", who } end
  local organization = with_id(text_of(user.organization_name), user.organization_id)
  if organization then
    if user.organization_is_active == true then
      organization = organization .. ", active"
    elseif user.organization_is_active == false then
      organization = organization .. ", inactive"
    end
    lines[#lines + 1] = { "organization", organization }
  end
  if type(user.available_credits) == "number" then
    lines[#lines + 1] = { "credits", output.number_text(user.available_credits) .. " available" }
  end
  return lines
end

--- The line about a subscription (of GET /v1/billing): { "plan", "pro,
--- subscription active" }, or nil when it says nothing.
function M.plan_line(subscription)
  if type(subscription) ~= "table" then return nil end
  local parts = { text_of(subscription.plan_tier) or "unknown plan" }
  local status = text_of(subscription.status)
  if status then parts[#parts + 1] = "subscription " .. status end
  if subscription.requires_subscription == true then parts[#parts + 1] = "a subscription is required" end
  return { "plan", table.concat(parts, ", ") }
end

-- Prints the lines as two aligned columns, or a word when there are none.
local function print_lines(ctx, lines, what)
  if #lines == 0 then
    ctx:note(("extruct: the API's answer says nothing about %s (`--json` prints it as it is)"):format(what))
    return true
  end
  local rows = {}
  for i, line in ipairs(lines) do rows[i] = { line[1], line[2] } end
  return ctx:print((output.aligned(rows):gsub("\n$", "")))
end

M.commands = {}
local function command(entry) M.commands[#M.commands + 1] = entry end

command{
  words = { "user" },
  summary = "print the token's user, organization and credits",
  options = JSON_OPTIONS,
  check = json_style_needs_json,
  help = [[
Prints who the API token belongs to (GET /v1/user) on stdout, a line each:
  user          Ada Lovelace <ada@example.com> (usr_0001)
  organization  Analytical Engines (org_0001), active
  credits       1000 available
or with --json the API's answer as one JSON document. A quick check that
the token works: a rejected one exits 1 with an `auth` error. `extruct
billing` adds the plan.
]],
  examples = {
    "extruct user",
    "extruct user --json | jq .available_credits",
  },
  run = function(ctx, _, opts)
    local user, err = ctx:client():get_user()
    if not user then return nil, err end
    if opts.json then return ctx:print_json(user) end
    return print_lines(ctx, M.user_lines(user), "the user")
  end,
}

command{
  words = { "billing" },
  summary = "print the plan and subscription, the user and credits",
  options = JSON_OPTIONS,
  check = json_style_needs_json,
  help = [[
Prints the plan of the token's organization and its subscription, then the
user as `extruct user` does (GET /v1/billing), a line each:
  plan          pro, subscription active
  user          Ada Lovelace <ada@example.com> (usr_0001)
  organization  Analytical Engines (org_0001), active
  credits       1000 available
or with --json the API's answer ({user, subscription}) as one JSON
document. Table changes, Deep Search and Deep Research need the Pro plan;
on another plan they exit 1 saying so.
]],
  examples = {
    "extruct billing",
    "extruct billing --json | jq -r .subscription.plan_tier",
  },
  run = function(ctx, _, opts)
    local billing, err = ctx:client():get_billing()
    if not billing then return nil, err end
    if opts.json then return ctx:print_json(billing) end
    local lines = {}
    lines[1] = M.plan_line(billing.subscription)
    M.user_lines(billing.user, lines)
    return print_lines(ctx, lines, "the plan or the user")
  end,
}

command{
  words = { "health" },
  summary = "ask the API whether it is up; print its answer as JSON",
  options = { PRETTY, COMPACT },
  needs_token = false,
  help = [[
Asks the API for its health report (GET /v1/healthcheck) and prints it as
one JSON document on stdout. The exit status is the answer for scripts: 0
when the API answered, 1 when it failed or could not be reached. No token
is needed: without one, none is sent.
]],
  examples = { "extruct health --request-timeout 5 >/dev/null && echo up" },
  run = function(ctx)
    local report, err = ctx:client():healthcheck()
    if report == nil then return nil, err end
    if report == true then
      ctx:note("extruct: the API is up (it answered without a body)")
      return true
    end
    return ctx:print_json(report)
  end,
}

return M
