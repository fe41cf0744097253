-- One request of a client, whichever transport carries it: the host
-- (extruct.host) says which, the transport makes each exchange, and
-- extruct.redirect follows any redirects for both alike.
--
--   curl      libcurl (extruct.core's transfers), waited for as the host
--             allows: a task's yield, a yield to Neovim's loop, or a block
--   cosocket  nginx's cosockets (extruct.cosocket), where nginx lets the
--             code yield

local cosocket = require("extruct.cosocket")
local host = require("extruct.host")
local interrupt = require("extruct.interrupt")
local redirect = require("extruct.redirect")

local M = {}

local CANCELLED = "the client was closed while the request was in flight"

-- One exchange on libcurl (ctx: the client). The first goes to the path on
-- the base URL, which the core appends in C; a redirect's to its URL.
local function curl_exchange(client, method, target, path, body, credentials)
  local core_client = client._core
  if core_client == nil then return nil, "cancelled", CANCELLED end
  return host.transfer(core_client, method, target and redirect.url_of(target) or path, body, credentials)
end

-- One exchange on cosockets (ctx: { client, nginx }).
local function cosocket_exchange(ctx, method, target, path, body, credentials)
  local client = ctx[1]
  return cosocket.exchange(ctx[2], host.now, client, method, target or redirect.on_base(client._url, path), body,
    credentials)
end

--- One request of the client (extruct.client): the final response, or nil,
--- failure (a word of core.failures), message [, trace].
function M.perform(client, method, path, body)
  -- After Ctrl-C nothing new starts (extruct.interrupt): a request in flight
  -- ends as interrupted in the engine's wait, one asked for later here.
  if interrupt.pending() then
    return nil, "interrupted", interrupt.WORDS .. " before the request was sent"
  end
  -- (nginx: the host's API the cosocket transport drives)
  local how, nginx, message = host.transport(client._transport)
  if how == nil then return nil, nginx, message end
  if how == "cosocket" then
    local failure, why = cosocket.unsupported(client)
    if failure then return nil, failure, why end
    return redirect.follow(cosocket_exchange, { client, nginx }, client, method, path, body)
  end
  return redirect.follow(curl_exchange, client, client, method, path, body)
end

return M
