-- The account: who the token belongs to, its plan, and whether the API is up.
-- extruct.client installs these methods on every client.

local endpoint = require("extruct.endpoint")

local NO_OPTIONS = endpoint.with_retry_options{}

-- The module-level shortcuts of these methods, on the default client.
---@class extruct
---@field get_user fun(opts?: extruct.Options): table?, extruct.Error?
---@field healthcheck fun(opts?: extruct.Options): table|true|nil, extruct.Error?

---@class extruct.Client
local methods = {}

--- GET /v1/user: the user, their organization and available credits.
---@param opts? extruct.Options
---@return table? user The user, their organization and available_credits
---@return extruct.Error? err
function methods:get_user(opts)
  opts = endpoint.check_options(opts, NO_OPTIONS, "extruct.get_user")
  return endpoint.call(self, "GET", "/v1/user", opts, { answer = "object" })
end

--- GET /v1/healthcheck: the API's own health report (true when it answers
--- with no body: a 2xx is the news). It needs no token: a client made
--- without one asks too (and sends no Authorization header).
---@param opts? extruct.Options
---@return table|true|nil report The API's health report
---@return extruct.Error? err
function methods:healthcheck(opts)
  opts = endpoint.check_options(opts, NO_OPTIONS, "extruct.healthcheck")
  return endpoint.call(self, "GET", "/v1/healthcheck", opts, { answer = "object", optional = true, anonymous = true })
end

-- The module-level shortcut of get_billing, on the default client.
---@class extruct
---@field get_billing fun(opts?: extruct.Options): extruct.Billing?, extruct.Error?

---@class extruct.Billing
---@field user table user_id, email, available_credits, organization_id, organization_is_active, ...
---@field subscription table plan_tier, requires_subscription, ...

--- GET /v1/billing: the user and the subscription (its plan_tier, and
--- whether one is required), as Extruct's own command line reads them.
---@param opts? extruct.Options
---@return extruct.Billing|nil billing
---@return extruct.Error? err
function methods:get_billing(opts)
  opts = endpoint.check_options(opts, NO_OPTIONS, "extruct.get_billing")
  return endpoint.call(self, "GET", "/v1/billing", opts, { answer = "object" })
end

return methods
