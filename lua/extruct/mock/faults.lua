--- extruct.mock.faults: what a queued fault does to the answer of the API
--- request it catches: another status, a delay, a made-up body, a redirect,
--- or a broken transfer (truncated, stalled, reset, trickled, chunked,
--- dropped). The control API (extruct.mock.control) queues them; the server
--- (extruct.mock.server) asks here before answering an API request.

local http = require("extruct.mock.http")
local json = require("extruct.mock.json")

local M = {}

local format = string.format
local detail = http.detail
local reason_phrase = http.reason_phrase

--- The values of a fault's `mode`, in the order the usage lists them.
M.MODES = { "truncate", "invalid_json", "html", "drop", "empty", "stall", "reset", "trickle", "chunked" }

--- The first queued fault whose path matches the request, consumed once;
--- nil when none does.
function M.take(queue, request)
  for i, fault in ipairs(queue) do
    if fault.path == nil or request.path:sub(1, #fault.path) == fault.path then
      fault.remaining = fault.remaining - 1
      if fault.remaining <= 0 then table.remove(queue, i) end
      return fault
    end
  end
end

--- A valid table body, for faults that mangle one. A request that changes
--- something is carried out first: the server did the work, the answer got
--- lost on the way.
local function sample_table_body(fake, request)
  request.count_poll = false
  local answer = fake:handle(request)
  if answer.status == 200 and request.segments[2] == "tables" then return answer.body end
  local demo = fake:table_header("tbl_demo")
  if demo then return json.encode(demo) end
  return json.encode({ id = "tbl_demo", status = { run_status = "idle", num_cells_in_progress = 0 } })
end

local HTML_PAGE = [[
<html>
<head><title>%d %s</title></head>
<body>
<center><h1>%d %s</h1></center>
<hr><center>nginx</center>
</body>
</html>
]]

--- The answer a fault stands for (its delay has already passed), given the
--- offline Extruct (extruct.mock.fake) that answers the real request.
function M.response(fake, request, fault)
  local response
  local status = fault.status
  if fault.mode == "drop" then
    return { drop = true, status = 0, headers = {} }
  elseif fault.mode == "truncate" then
    response = { status = status or 200, headers = {}, truncate = true,
                 body = fault.body or sample_table_body(fake, request) }
  elseif fault.mode == "invalid_json" then
    response = { status = status or 200, headers = {},
                 body = format('{"id": %s, "name": ', json.encode(request.segments[3] or "tbl_demo")) }
  elseif fault.mode == "html" then
    status = status or 200
    local reason = reason_phrase(status)
    response = { status = status, headers = {}, content_type = "text/html",
                 body = format(HTML_PAGE, status, reason, status, reason) }
  elseif fault.mode == "empty" then
    response = { status = status or 200, headers = {}, body = "" }
  elseif fault.mode == "stall" or fault.mode == "reset" or fault.mode == "trickle" or fault.mode == "chunked" then
    response = { status = status or 200, headers = {}, [fault.mode] = true,
                 body = fault.body or sample_table_body(fake, request) }
  elseif fault.location then
    response = detail(status or 302, reason_phrase(status or 302))
  elseif fault.body then
    response = { status = status or 200, headers = {}, body = fault.body }
  elseif fault.detail then
    response = detail(status or 200, fault.detail)
  elseif status and status >= 400 then
    response = detail(status, reason_phrase(status))
  else
    -- Only a delay, a header or a success status: the real answer, adjusted.
    request.count_poll = true
    response = fake:handle(request)
    if status then response.status = status end
  end
  if fault.retry_after then response.headers["Retry-After"] = fault.retry_after end
  if fault.content_type then response.content_type = fault.content_type end
  if fault.content_encoding then response.headers["Content-Encoding"] = fault.content_encoding end
  if fault.location then response.headers.Location = fault.location end
  return response
end

return M
