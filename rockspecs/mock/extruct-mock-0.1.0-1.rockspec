-- (In rockspecs/mock/, out of the folders where `luarocks make` looks for
-- a rockspec by itself: there it finds extruct's alone.)
rockspec_format = "3.0"
package = "extruct-mock"
version = "0.1.0-1"
source = {
   url = "git+https://github.com/extruct-lua/extruct.git",
   tag = "v0.1.0",
}
description = {
   summary = "A mock Extruct API server, for developing and testing clients of Extruct offline",
   detailed = [[
extruct-mock serves an offline Extruct API on a loopback port: tables whose
runs progress as they are polled, companies, Deep Search and Deep Research
tasks, the account, and faults on demand. No token or credits. The mock of
the extruct Lua client (the rock extruct), which its specs and examples use.
]],
   homepage = "https://github.com/extruct-lua/extruct",
   license = "MIT",
   labels = { "http", "mock", "api", "extruct" },
}
dependencies = {
   "lua >= 5.1, < 5.5",
   -- extruct.text and extruct.domains, pure Lua, come from the client's rock
   "extruct == 0.1.0",
   "luasocket",
}
build = {
   type = "builtin",
   modules = {
      ["extruct.mock.command"] = "lua/extruct/mock/command.lua",
      ["extruct.mock.control"] = "lua/extruct/mock/control.lua",
      ["extruct.mock.fake.account"] = "lua/extruct/mock/fake/account.lua",
      ["extruct.mock.fake.answers"] = "lua/extruct/mock/fake/answers.lua",
      ["extruct.mock.fake.companies"] = "lua/extruct/mock/fake/companies.lua",
      ["extruct.mock.fake.deep_research"] = "lua/extruct/mock/fake/deep_research.lua",
      ["extruct.mock.fake.deep_search"] = "lua/extruct/mock/fake/deep_search.lua",
      ["extruct.mock.fake.fixtures"] = "lua/extruct/mock/fake/fixtures.lua",
      ["extruct.mock.fake"] = "lua/extruct/mock/fake/init.lua",
      ["extruct.mock.fake.state"] = "lua/extruct/mock/fake/state.lua",
      ["extruct.mock.fake.tables"] = "lua/extruct/mock/fake/tables.lua",
      ["extruct.mock.fake.validation"] = "lua/extruct/mock/fake/validation.lua",
      ["extruct.mock.faults"] = "lua/extruct/mock/faults.lua",
      ["extruct.mock.http"] = "lua/extruct/mock/http.lua",
      ["extruct.mock"] = "lua/extruct/mock/init.lua",
      ["extruct.mock.json"] = "lua/extruct/mock/json.lua",
      ["extruct.mock.server"] = "lua/extruct/mock/server.lua",
   },
   install = {
      bin = {
         ["extruct-mock"] = "bin/extruct-mock",
      },
   },
   copy_directories = {},
}
