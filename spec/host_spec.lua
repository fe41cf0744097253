-- The host is decided in one place (lua/extruct/host.lua): no other module
-- of the library reads nginx's `ngx` or Neovim's `vim`, but the cosocket
-- transport (nginx's by nature, given `ngx` by the host) and :checkhealth
-- (Neovim's by nature). lua/extruct/nvim/, the Neovim plugin's user
-- interface, is an editor plugin built on the library, not part of it.
local ALLOWED = {
  ["lua/extruct/host.lua"] = true,
  ["lua/extruct/cosocket.lua"] = true,
  ["lua/extruct/health.lua"] = true,
}

-- The words `ngx` and `vim` in a Lua source, comments left out (as names,
-- in _G.ngx, or as strings for rawget).
local function references(text)
  text = text:gsub("%-%-%[(=*)%[.-%]%1%]", ""):gsub("%-%-[^\n]*", "")
  local found = {}
  for word in text:gmatch("%f[%w_]([%a_][%w_]*)%f[^%w_]") do
    if word == "ngx" or word == "vim" then found[#found + 1] = word end
  end
  return found
end

describe("the host", function()
  it("is read from the ngx and vim globals by extruct.host alone (and the cosocket transport, :checkhealth)", function()
    local readers = {}
    local pipe = assert(io.popen("find lua/extruct -name '*.lua' -not -path 'lua/extruct/nvim/*' | sort"))
    for path in pipe:lines() do
      local f = assert(io.open(path, "rb"))
      local refs = references(f:read("*a"))
      f:close()
      if #refs > 0 and not ALLOWED[path] then readers[#readers + 1] = path .. " (" .. refs[1] .. ")" end
    end
    pipe:close()
    assert.same({}, readers)
    assert.same({ "ngx", "vim" }, references('local a = rawget(_G, "ngx") -- vim\nlocal b = vim.uv'))
  end)
end)
