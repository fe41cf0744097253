rockspec_format = "3.0"
package = "extruct"
version = "0.1.0-1"
source = {
   url = "git+https://github.com/extruct-lua/extruct.git",
   tag = "v0.1.0",
}
description = {
   summary = "Lua client for the Extruct API (AI tables), with a C core on libcurl, cJSON and http-parser",
   detailed = [[
extruct fetches Extruct tables over a reused libcurl connection, decodes the
JSON straight into Lua tables in C, returns structured errors, and waits for
table runs to finish. Works on Lua 5.1 to 5.4 and LuaJIT. Needs nothing but
Lua from LuaRocks; the mock Extruct server for offline development is the
rock extruct-mock.
]],
   homepage = "https://github.com/extruct-lua/extruct",
   license = "MIT",
   labels = { "http", "json", "api", "extruct" },
}
-- Nothing LuaRocks would download: `luarocks make` works offline. The mock
-- server and its luasocket are the rock extruct-mock.
dependencies = {
   "lua >= 5.1, < 5.5",
}
external_dependencies = {
   -- Debian keeps curl/curl.h under a multiarch include folder that the
   -- compiler searches but LuaRocks does not; the library alone locates it.
   CURL = { library = "curl" },
   CJSON = { header = "cjson/cJSON.h", library = "cjson" },
   HTTP_PARSER = { header = "http_parser.h", library = "http_parser" },
}
build = {
   type = "builtin",
   modules = {
      ["extruct.core"] = {
         sources = { "src/core.c", "src/client.c", "src/json.c", "src/response.c", "src/clock.c",
                     "src/encode.c", "src/dtoa.c", "src/term.c", "src/transfer.c", "src/engine.c", "src/http1.c",
                     "src/file.c", "src/pool.c", "src/coroutine.c", "src/interrupt.c" },
         libraries = { "curl", "cjson", "http_parser" },
         incdirs = { "$(CURL_INCDIR)", "$(CJSON_INCDIR)", "$(HTTP_PARSER_INCDIR)" },
         libdirs = { "$(CURL_LIBDIR)", "$(CJSON_LIBDIR)", "$(HTTP_PARSER_LIBDIR)" },
      },
      ["extruct.api.account"] = "lua/extruct/api/account.lua",
      ["extruct.api.companies"] = "lua/extruct/api/companies.lua",
      ["extruct.api.deep_research"] = "lua/extruct/api/deep_research.lua",
      ["extruct.api.deep_search"] = "lua/extruct/api/deep_search.lua",
      ["extruct.api.export"] = "lua/extruct/api/export.lua",
      ["extruct.api.tables"] = "lua/extruct/api/tables.lua",
      ["extruct.api.waiting"] = "lua/extruct/api/waiting.lua",
      ["extruct.cells"] = "lua/extruct/cells.lua",
      ["extruct.cli.account"] = "lua/extruct/cli/account.lua",
      ["extruct.cli.args"] = "lua/extruct/cli/args.lua",
      ["extruct.cli.columns"] = "lua/extruct/cli/columns.lua",
      ["extruct.cli.companies"] = "lua/extruct/cli/companies.lua",
      ["extruct.cli.context"] = "lua/extruct/cli/context.lua",
      ["extruct.cli.deep_research"] = "lua/extruct/cli/deep_research.lua",
      ["extruct.cli.deep_search"] = "lua/extruct/cli/deep_search.lua",
      ["extruct.cli.docs"] = "lua/extruct/cli/docs.lua",
      ["extruct.cli.help"] = "lua/extruct/cli/help.lua",
      ["extruct.cli"] = "lua/extruct/cli/init.lua",
      ["extruct.cli.input"] = "lua/extruct/cli/input.lua",
      ["extruct.cli.json_text"] = "lua/extruct/cli/json_text.lua",
      ["extruct.cli.output"] = "lua/extruct/cli/output.lua",
      ["extruct.cli.paging"] = "lua/extruct/cli/paging.lua",
      ["extruct.cli.progress"] = "lua/extruct/cli/progress.lua",
      ["extruct.cli.records"] = "lua/extruct/cli/records.lua",
      ["extruct.cli.registry"] = "lua/extruct/cli/registry.lua",
      ["extruct.cli.research_report"] = "lua/extruct/cli/research_report.lua",
      ["extruct.cli.rows"] = "lua/extruct/cli/rows.lua",
      ["extruct.cli.tables"] = "lua/extruct/cli/tables.lua",
      ["extruct.cli.tasks"] = "lua/extruct/cli/tasks.lua",
      ["extruct.cli.waiting"] = "lua/extruct/cli/waiting.lua",
      ["extruct.client"] = "lua/extruct/client.lua",
      ["extruct.clock"] = "lua/extruct/clock.lua",
      ["extruct.cosocket"] = "lua/extruct/cosocket.lua",
      ["extruct.csv"] = "lua/extruct/csv.lua",
      ["extruct.database"] = "lua/extruct/database.lua",
      ["extruct.endpoint"] = "lua/extruct/endpoint.lua",
      ["extruct.engines"] = "lua/extruct/engines.lua",
      ["extruct.errors"] = "lua/extruct/errors.lua",
      ["extruct.domains"] = "lua/extruct/domains.lua",
      ["extruct.file_writer"] = "lua/extruct/file_writer.lua",
      ["extruct.export"] = "lua/extruct/export.lua",
      ["extruct.failures"] = "lua/extruct/failures.lua",
      ["extruct.filters"] = "lua/extruct/filters.lua",
      ["extruct.gather"] = "lua/extruct/gather.lua",
      ["extruct.health"] = "lua/extruct/health.lua",
      ["extruct.host"] = "lua/extruct/host.lua",
      extruct = "lua/extruct/init.lua",
      ["extruct.interrupt"] = "lua/extruct/interrupt.lua",
      ["extruct.nvim"] = "lua/extruct/nvim/init.lua",
      ["extruct.nvim.buffer"] = "lua/extruct/nvim/buffer.lua",
      ["extruct.nvim.companies_view"] = "lua/extruct/nvim/companies_view.lua",
      ["extruct.nvim.config"] = "lua/extruct/nvim/config.lua",
      ["extruct.nvim.float"] = "lua/extruct/nvim/float.lua",
      ["extruct.nvim.health"] = "lua/extruct/nvim/health.lua",
      ["extruct.nvim.list"] = "lua/extruct/nvim/list.lua",
      ["extruct.nvim.refresher"] = "lua/extruct/nvim/refresher.lua",
      ["extruct.nvim.table_view"] = "lua/extruct/nvim/table_view.lua",
      ["extruct.nvim.task_view"] = "lua/extruct/nvim/task_view.lua",
      ["extruct.nvim.text"] = "lua/extruct/nvim/text.lua",
      ["extruct.libuv"] = "lua/extruct/libuv.lua",
      ["extruct.poller"] = "lua/extruct/poller.lua",
      ["extruct.redirect"] = "lua/extruct/redirect.lua",
      ["extruct.retry"] = "lua/extruct/retry.lua",
      ["extruct.status"] = "lua/extruct/status.lua",
      ["extruct.text"] = "lua/extruct/text.lua",
      ["extruct.tasks"] = "lua/extruct/tasks.lua",
      ["extruct.transport"] = "lua/extruct/transport.lua",
      ["extruct.url"] = "lua/extruct/url.lua",
      ["extruct.waits"] = "lua/extruct/waits.lua",
   },
   install = {
      bin = {
         extruct = "bin/extruct",
      },
   },
   -- into the rock's folder (`luarocks show --rock-dir extruct`): the
   -- reference, the declarations of the C module for lua-language-server,
   -- and plugin/extruct.lua, which defines :Extruct (rocks.nvim puts a
   -- rock's copied folders on 'runtimepath')
   copy_directories = { "docs", "types", "plugin" },
}
test = {
   type = "command",
   command = "make test",
}
