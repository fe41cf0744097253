--- extruct.cli.waiting: waiting for tables to go idle with a progress
--- report, for `tables wait` and `tables run --wait`, and the options that
--- shape the wait.

local args = require("extruct.cli.args")
local progress = require("extruct.cli.progress")
local registry = require("extruct.cli.registry")

local M = {}

-- wait_until_idle's default, which --max-interval must not undercut
local DEFAULT_INTERVAL = 5

--- The options of a wait, in the order of the help pages.
M.OPTIONS = {
  args.option{ name = "--interval", value = "S", type = args.SECONDS, help = "seconds between polls (default 5)" },
  args.option{
    name = "--max-interval", value = "S", type = args.SECONDS,
    help = "while a poll shows no change, the pause grows (x1.5) up to S seconds; any change resets it"
      .. " (default: the interval, so no growth)",
    check = function(opts, fail)
      local interval = opts.interval or DEFAULT_INTERVAL
      if opts.max_interval < interval then
        fail(("--max-interval (%g) must be at least --interval (%g)"):format(opts.max_interval, interval))
      end
    end,
  },
  args.option{ name = "--timeout", value = "S", type = args.SECONDS_OR_ZERO,
               help = "give up after S seconds, exit status 3 (default 900); 0 polls once" },
  args.option{ name = "--quiet", help = "no progress report" },
}

--- The exit status of a failed wait: 3 when time ran out.
local function exit_code_of(err)
  return err.kind == "timeout" and registry.EXIT_TIMEOUT or nil
end

--- Waits for table `id` to go idle, reporting progress on stderr, then
--- prints it as JSON: true, or nil, err and the exit status.
function M.wait_one(ctx, id)
  local opts, extruct = ctx.opts, ctx.extruct
  local client = ctx:client()
  local reporter = progress.reporter(ctx, id)
  local wait_opts = { interval = opts.interval, max_interval = opts.max_interval, timeout = opts.timeout }
  if not opts.quiet then
    wait_opts.on_progress = function(t) reporter:update(t) end
  end
  if reporter.tty and not opts.quiet then
    -- the bar's clocks keep moving between polls: redrawn every second
    wait_opts.sleep = function(pause)
      local wake_at = extruct.now() + pause
      while true do
        local left = wake_at - extruct.now()
        if left <= 0 then return end
        extruct.sleep(math.min(left, 1))
        reporter:tick()
      end
    end
  end
  local t, err = client:wait_until_idle(id, wait_opts)
  if not opts.quiet then reporter:finish() end
  if not t then return nil, err, exit_code_of(err) end
  return ctx:print_json(t)
end

--- Waits for several tables at once, a progress line each, then prints the
--- idle tables as JSON lines in the order given (those that went idle, also
--- when another failed).
function M.wait_many(ctx, ids)
  local opts, extruct = ctx.opts, ctx.extruct
  local client = ctx:client()
  local reporter = progress.multi_reporter(ctx, ids)
  local wait_opts = { interval = opts.interval, max_interval = opts.max_interval, timeout = opts.timeout,
                      concurrency = opts.concurrency }
  if not opts.quiet then
    wait_opts.on_progress = function(id, t) reporter:update(id, t) end
  end
  local tables, err = client:wait_all(ids, wait_opts)
  if not opts.quiet then reporter:finish() end
  local printed = {}
  for _, id in ipairs(ids) do
    local t = (tables or err.tables)[id]
    if t and extruct.is_idle(t) and not printed[id] then
      printed[id] = true
      local ok, why = ctx:print_json(t, opts.pretty and true or false)
      if not ok then return nil, why end
    end
  end
  if not tables then return nil, err, exit_code_of(err) end
  return true
end

return M
