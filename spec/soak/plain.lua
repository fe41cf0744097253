-- The soak's plain Lua host (spec/soak/run.lua starts it, from the
-- checkout's root): extruct.gather at a concurrency of 8 to 64 over three
-- clients for SECONDS, every call judged (spec/soak/soak.lua); the result
-- as JSON in OUT.
--
-- Usage: lua5.4 spec/soak/plain.lua URL SECONDS SEED OUT
package.path = "./lua/?.lua;./lua/?/init.lua;./?.lua;" .. package.path
local interpreter = rawget(_G, "jit") and "luajit" or ("lua" .. _VERSION:match("%d+%.%d+"))
package.cpath = "./build/" .. interpreter .. "/?.so;" .. package.cpath

local extruct = require("extruct")
local soak = require("spec.soak.soak")

local url, seconds, seed, out = arg[1], tonumber(arg[2]), tonumber(arg[3]), arg[4]
local result = soak.run_host{ extruct = extruct, url = url, seconds = seconds, seed = seed, tag = "p" .. seed .. "-",
                              pid = soak.self_pid() }
local file = assert(io.open(out, "w"))
file:write(assert(extruct.encode(result)))
file:close()
