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
local redirect = require("extruct.redirect")

local M = {}

local CANCELLED = "the client was closed while the request was in flight"

--- One request of the client (extruct.client): the final response, or nil,
--- failure (a word of core.failures), message [, trace].
function M.perform(client, method, path, body)
  -- (nginx: the host's API the cosocket transport drives)
  local how, nginx, message = host.transport(client._transport)
  if how == nil then return nil, nginx, message end
  local exchange
  if how == "cosocket" then
    local failure, why = cosocket.unsupported(client)
    if failure then return nil, failure, why end
    exchange = function(verb, target, payload, credentials)
      return cosocket.exchange(nginx, host.now, client, verb, target, payload, credentials)
    end
  else
    exchange = function(verb, target, payload, credentials)
      local core_client = client._core
      if core_client == nil then return nil, "cancelled", CANCELLED end
      -- (the first exchange's target as given: appended to the base URL in C)
      return host.transfer(core_client, verb, target.relative or redirect.url_of(target), payload, credentials)
    end
  end
  return redirect.follow(exchange, method, redirect.on_base(client._url, path), body,
    function() return client._closed == true end, client._trace ~= nil)
end

return M
