std = "max"
max_line_length = 130
files["spec/"] = { std = "+busted" }
-- the Neovim plugin runs inside Neovim, whose `vim` is a global
files["lua/extruct/nvim/"] = { globals = { "vim" } }
files["plugin/"] = { globals = { "vim" } }
exclude_files = { "build/", "luarocks-tree/" }
