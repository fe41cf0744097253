--- extruct.cli.waiting: waiting with a progress report on stderr, for
--- tables to go idle (`tables wait`, `tables run --wait`) and for Deep
--- Search and Deep Research tasks to end; and the options that shape a
--- wait.

local args = require("extruct.cli.args")
local waits = require("extruct.waits")
local progress = require("extruct.cli.progress")
local registry = require("extruct.cli.registry")

local M = {}

--- The options of a wait, in the order of the help pages, their help
--- naming the client's defaults for it: { interval, max_interval (nil:
--- the interval), timeout }.
function M.options(defaults)
  local interval = defaults.interval
  return {
    args.option{ name = "--interval", value = "S", type = args.SECONDS,
                 help = ("seconds between polls (default %g)"):format(interval) },
    args.option{
      name = "--max-interval", value = "S", type = args.SECONDS,
      help = "while a poll shows no change, the pause grows (x1.5) up to S seconds; any change resets it"
        .. (defaults.max_interval and (" (default %g, or the interval when that is longer)"):format(defaults.max_interval)
            or " (default: the interval, so no growth)"),
      check = function(opts, fail)
        local given = opts.interval or interval
        if not waits.intervals_agree(given, opts.max_interval) then
          fail(("--max-interval (%g) must be at least --interval (%g)"):format(opts.max_interval, given))
        end
      end,
    },
    args.option{ name = "--timeout", value = "S", type = args.SECONDS_OR_ZERO,
                 help = ("give up after S seconds, exit status 3 (default %g); 0 polls once"):format(defaults.timeout) },
    args.option{ name = "--quiet", short = "-q", help = "no progress report" },
  }
end

--- The options of waiting for a table (wait_until_idle's defaults).
M.OPTIONS = M.options(waits.DEFAULTS.table)

--- A check for commands that wait only with --wait: the options among
--- `wait_options` need it.
function M.need_wait(wait_options)
  return function(opts, fail, spelled)
    if opts.wait then return end
    for _, spec in ipairs(wait_options) do
      if spelled[spec.key] then fail(("option %s needs --wait"):format(spelled[spec.key])) end
    end
  end
end

--- The exit status of a failed wait: 3 when time ran out (nil: the usual).
function M.exit_code_of(err)
  return err.kind == "timeout" and registry.EXIT_TIMEOUT or nil
end

-- The options for a client's wait from the command's, reporting to
-- `reporter` after every poll; on a terminal the pauses are cut into
-- seconds so the clocks on the line keep moving.
local function wait_options(ctx, reporter, extra)
  local opts, extruct = ctx.opts, ctx.extruct
  local wait_opts = { interval = opts.interval, max_interval = opts.max_interval, timeout = opts.timeout }
  for key, value in pairs(extra or {}) do wait_opts[key] = value end
  if opts.quiet then return wait_opts end
  wait_opts.on_progress = function(t) reporter:update(t) end
  if reporter.tty then
    wait_opts.sleep = function(pause)
      local wake_at = extruct.now() + pause
      while true do
        local left = wake_at - extruct.now()
        if left <= 0 or extruct.interrupted() then return end
        extruct.sleep(math.min(left, 1))
        reporter:tick()
      end
    end
  end
  return wait_opts
end

--- Waits for table `id` to go idle, reporting progress on stderr, then
--- prints it as JSON: true, or nil, err and the exit status.
function M.wait_one(ctx, id)
  local reporter = progress.reporter(ctx, id)
  local t, err = ctx:client():wait_until_idle(id, wait_options(ctx, reporter))
  if not ctx.opts.quiet then reporter:finish() end
  if not t then return nil, err, M.exit_code_of(err) end
  return ctx:print_json(t)
end

--- Waits for a task with client[method] (wait_deep_search,
--- wait_deep_research), reporting `summarize(task)` on stderr after every
--- poll. Returns the finished task, or nil, err and the exit status (a
--- task that ended failed is an error of kind `failed`: exit status 1).
function M.wait_task(ctx, id, method, summarize)
  local client = ctx:client()
  local reporter = progress.reporter(ctx, id, summarize)
  local task, err = client[method](client, id, wait_options(ctx, reporter))
  if not ctx.opts.quiet then reporter:finish() end
  if not task then return nil, err, M.exit_code_of(err) end
  return task
end

--- Waits for several tables at once, a progress line each, then prints the
--- idle tables as JSON lines in the order given (those that went idle, also
--- when another failed).
function M.wait_many(ctx, ids)
  local opts, extruct = ctx.opts, ctx.extruct
  local reporter = progress.multi_reporter(ctx, ids)
  local wait_opts = { interval = opts.interval, max_interval = opts.max_interval, timeout = opts.timeout,
                      concurrency = opts.concurrency }
  if not opts.quiet then
    wait_opts.on_progress = function(t, info) reporter:update(info.id, t) end
  end
  local tables, err = ctx:client():wait_all(ids, wait_opts)
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
  if not tables then return nil, err, M.exit_code_of(err) end
  return true
end

return M
