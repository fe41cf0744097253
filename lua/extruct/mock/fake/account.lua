--- extruct.mock.fake.account: the account of the offline Extruct: its user,
--- plan, credits and billing, and the 402 answers they lead to.
--
-- Table mutations, Deep Search mutations and Deep Research need the Pro
-- plan: on another plan they answer 402 {"detail": {"error":
-- "plan_required", ...}}, and while a payment has failed, 402 with
-- "payment_failed". What spends credits (a run that queues cells, a Deep
-- Search, a Deep Research task) needs them: 402 "insufficient_credits" with
-- required_credits and available_credits. The mock never spends them: they
-- stay what the control API set.

local http = require("extruct.mock.http")
local state = require("extruct.mock.fake.state")

local M = {}

local format = string.format
local respond = http.respond

M.PLANS = { "free", "starter", "pro" }
M.DEFAULT_PLAN = "pro"
M.DEFAULT_CREDITS = 1000

--- A fresh account on `plan`.
function M.new(plan)
  return { plan = plan or M.DEFAULT_PLAN, credits = M.DEFAULT_CREDITS, payment_failed = false }
end

local function user(account)
  return {
    user_id = state.OWNER.id, email = state.OWNER.email, name = "Mock User",
    available_credits = account.credits, organization_id = "org_mock_0001",
    organization_name = "Mock organization", organization_slug = "mock-organization",
    organization_is_active = not account.payment_failed,
  }
end

--- What GET /v1/billing answers: the user and the subscription.
function M.billing(account)
  return {
    user = user(account),
    subscription = {
      plan_tier = account.plan,
      requires_subscription = account.plan == "free",
      status = account.payment_failed and "past_due" or "active",
    },
  }
end

local function payment_required(fields)
  return respond(402, { detail = fields })
end

--- nil when the account may use a Pro feature, else the 402 answer.
function M.gate(account)
  if account.payment_failed then
    return payment_required{ error = "payment_failed",
      message = "The last payment failed: update the payment method to continue." }
  end
  if account.plan ~= "pro" then
    return payment_required{ error = "plan_required", required_plan = "pro", plan_tier = account.plan,
      message = format("This needs the Pro plan; the organization is on the %s plan.", account.plan) }
  end
end

--- nil when the account has `needed` credits, else the 402 answer.
function M.need_credits(account, needed)
  if account.credits < needed then
    return payment_required{ error = "insufficient_credits", required_credits = needed,
      available_credits = account.credits,
      message = format("This needs %d credits; %d are available.", needed, account.credits) }
  end
end

M.ROUTES = {
  { { "v1", "healthcheck" }, { GET = function() return respond(200, { status = "ok" }) end }, public = true },
  { { "v1", "user" }, { GET = function(self) return respond(200, user(self.account)) end } },
  { { "v1", "billing" }, { GET = function(self) return respond(200, M.billing(self.account)) end } },
}

return M
