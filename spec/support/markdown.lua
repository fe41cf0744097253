-- The code blocks of a Markdown file, for the specs that run a page's
-- examples exactly as written (getting_started_spec, cli_examples_spec,
-- openresty_example_spec, the Neovim ones of docs/hosts.md).
local helpers = require("spec.helpers")

local M = {}

--- The fenced code blocks of the file at path, in order: a list of
--- { lang = the info string's first word ("" for none), text = the lines
--- between the fences, each ending in a newline, line = where it starts }.
function M.blocks(path)
  local text = assert(helpers.read_file(path), "cannot read " .. path)
  local blocks, block = {}, nil
  local n = 0
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    n = n + 1
    local fence, info = line:match("^(```+)%s*(%S*)")
    if block then
      if fence and fence == block.fence and info == "" then
        block.text = table.concat(block.lines)
        block.lines, block.fence = nil, nil
        blocks[#blocks + 1] = block
        block = nil
      else
        block.lines[#block.lines + 1] = line .. "\n"
      end
    elseif fence then
      block = { lang = info, fence = fence, lines = {}, line = n + 1 }
    end
  end
  assert(block == nil, path .. ": a code block is not closed")
  return blocks
end

--- The blocks of lang ("sh", "lua") only.
function M.blocks_of(path, lang)
  local found = {}
  for _, block in ipairs(M.blocks(path)) do
    if block.lang == lang then found[#found + 1] = block end
  end
  return found
end

return M
