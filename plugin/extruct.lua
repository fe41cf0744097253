-- :Extruct, defined when Neovim starts with this repository on
-- 'runtimepath'. Nothing else loads until the command is used: the module
-- (and its C core) is required on first use.
if vim.g.loaded_extruct then return end
vim.g.loaded_extruct = true

if vim.fn.has("nvim-0.7") ~= 1 then
  vim.api.nvim_err_writeln("extruct: the plugin needs Neovim 0.7 or later")
  return
end

vim.api.nvim_create_user_command("Extruct", function(args)
  require("extruct.nvim").command(args)
end, {
  nargs = "*",
  complete = function(...) return require("extruct.nvim").complete(...) end,
  desc = "Extruct: tables, companies, Deep Search and Deep Research",
})
