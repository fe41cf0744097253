--- extruct.cli.account: the commands about the account and the API itself
--- (`extruct user`, `extruct health`), one entry each (see
--- extruct.cli.registry for the shape of an entry).

local output = require("extruct.cli.output")

local M = {}

local PRETTY, COMPACT = output.PRETTY, output.COMPACT

M.commands = {}
local function command(entry) M.commands[#M.commands + 1] = entry end

command{
  words = { "user" },
  summary = "print the token's user, organization and credits as JSON",
  options = { PRETTY, COMPACT },
  help = [[
Prints who the API token belongs to (GET /v1/user: the user's id and email,
their organization, the credits available) as one JSON document on stdout.
A quick check that the token works: a rejected one exits 1 with an `auth`
error.
]],
  examples = {
    "extruct user --pretty",
    "extruct user | jq .available_credits",
  },
  run = function(ctx)
    local user, err = ctx:client():get_user()
    if not user then return nil, err end
    if user == true then
      ctx:note("extruct: the API answered without a body: no user to print")
      return true
    end
    return ctx:print_json(user)
  end,
}

command{
  words = { "health" },
  summary = "ask the API whether it is up; print its answer as JSON",
  options = { PRETTY, COMPACT },
  help = [[
Asks the API for its health report (GET /v1/healthcheck) and prints it as
one JSON document on stdout. The exit status is the answer for scripts: 0
when the API answered, 1 when it failed or could not be reached. The token
is needed, as for every command.
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
