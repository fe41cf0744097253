-- Writes the command-line reference, docs/cli.md, from the command registry
-- (lua/extruct/cli/): `lua5.4 scripts/cli-doc.lua docs/cli.md` (`make
-- cli-doc`), or to stdout without a path. Needs no build: the registry and
-- the help pages are plain Lua.

local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
package.path = here .. "/../lua/?.lua;" .. here .. "/../lua/?/init.lua;" .. package.path

local docs = require("extruct.cli.docs")
local registry = require("extruct.cli.registry")

local text = docs.markdown(registry.standard())
local path = arg and arg[1]
if not path then
  io.write(text)
  return
end
-- written beside, then renamed: a failure leaves the old file whole
local scratch = path .. ".new"
local file = assert(io.open(scratch, "wb"))
assert(file:write(text))
assert(file:close())
assert(os.rename(scratch, path))
