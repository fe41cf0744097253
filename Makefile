# extruct: build the C core for one Lua, run the specs, run the demo.
#
#   make                 build build/<LUA>/extruct/core.so   (LUA=lua5.4 by default)
#   make test            specs on every interpreter in LUAS  (lua5.4 and luajit)
#   make test LUA=luajit specs on one interpreter
#   make unit            specs outside spec/integration/ (no Neovim, OpenResty or out-of-memory
#                        harness) on LUA only, installing nothing: the quick inner loop,
#                        UNIT_JOBS busted processes at once (default 3)
#   make integration     the specs of spec/integration/ on LUA only (real hosts and installs)
#   make matrix          specs on all five: lua5.1 lua5.2 lua5.3 lua5.4 luajit
#   make demo            fetch a table and wait for it to go idle (mock server unless EXTRUCT_API_TOKEN is set)
#   make workflow        create a table, add rows, run, export CSV, delete (the same)
#   make lint            luacheck
#   make bench           decode, round trip, memory and waiting against lua-cjson, dkjson, libcurl,
#                        socket.http and curl, on every interpreter in LUAS (bench/README.md)
#   make bench-smoke     the same with tiny sizes, to check every part runs (no timing asserted)
#   make valgrind        in-process specs (MEMORY_SPECS) on lua5.4 under valgrind memcheck (errors, definite leaks
#                        fail); this and the next two run MEMORY_JOBS busted processes at once (default 2)
#   make asan            in-process specs on lua5.4 with the module built with ASan + UBSan
#   make gc-stress       in-process specs on lua5.4 and luajit with the collector at its most aggressive
#   make fuzz            each libFuzzer target for FUZZ_TIME seconds (default 300)
#   make fuzz-smoke      the same, FUZZ_SMOKE_TIME seconds each (default 20)
#   make soak            the three hosts (plain Lua 5.4, nginx with 4 workers, headless Neovim) against a
#                        seeded faulty echo server, SOAK_SECONDS each (default 60); prints the totals
#                        table and fails on any call that did not end as its plan says (spec/soak/run.lua)
#
# `demo` and `workflow` first install the Debian packages they miss
# (scripts/deps.sh demo), `test` those of the specs (scripts/deps.sh test),
# the memory, fuzz and bench targets every one (scripts/deps.sh all).

LUA ?= lua5.4
LUAS ?= lua5.4 luajit
# Every interpreter the module supports: `make matrix` tests them all.
MATRIX = lua5.1 lua5.2 lua5.3 lua5.4 luajit
# `make test LUA=luajit` tests that one interpreter.
ifeq ($(origin LUA),command line)
LUAS := $(LUA)
endif
BUSTED_OUTPUT ?= utfTerminal
BUSTED_ARGS ?=
SPEC ?= spec
# The memory targets' specs: MEMORY_SPECS (below) unless given, in
# MEMORY_JOBS busted processes at once (each uses a core).
MEMORY_SPEC ?= $(MEMORY_SPECS)
MEMORY_JOBS ?= 2

CC ?= cc
CFLAGS ?= -O2 -g
WARNINGS = -Wall -Wextra -Werror -pedantic -std=c99
CURL_CFLAGS := $(shell pkg-config --cflags libcurl 2>/dev/null)
CURL_LIBS := $(shell pkg-config --libs libcurl 2>/dev/null || echo -lcurl)
CJSON_CFLAGS := $(shell pkg-config --cflags libcjson 2>/dev/null | sed 's|-I/usr/include/cjson||')
CJSON_LIBS := $(shell pkg-config --libs libcjson 2>/dev/null || echo -lcjson)
# Debian's libhttp-parser-dev ships no pkg-config file; use one if present.
HTTP_PARSER_CFLAGS := $(shell pkg-config --cflags http-parser 2>/dev/null)
HTTP_PARSER_LIBS := $(shell pkg-config --libs http-parser 2>/dev/null || echo -lhttp_parser)

# Headers of the chosen Lua; the module never links liblua (the host provides it).
lua_incdir = $(if $(filter luajit,$(1)),/usr/include/luajit-2.1,/usr/include/$(1))
LUA_INCDIR ?= $(call lua_incdir,$(LUA))

SOURCES = $(wildcard src/*.c)
HEADERS = $(wildcard src/*.h)
MODULE = build/$(LUA)/extruct/core.so

.PHONY: all build test test-one matrix print-matrix demo workflow lint deps deps-demo deps-test clean bench bench-smoke valgrind asan \
        gc-stress fuzz fuzz-smoke soak

all: build
build: $(MODULE)

$(MODULE): $(SOURCES) $(HEADERS) Makefile
	@test -f $(LUA_INCDIR)/lua.h || { echo "missing $(LUA_INCDIR)/lua.h: run 'make deps' or install the -dev package of $(LUA)"; exit 1; }
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARNINGS) -fPIC -shared -I$(LUA_INCDIR) $(CURL_CFLAGS) $(CJSON_CFLAGS) $(HTTP_PARSER_CFLAGS) \
	  -o $@ $(SOURCES) $(CURL_LIBS) $(CJSON_LIBS) $(HTTP_PARSER_LIBS) -lm $(LDFLAGS)

deps:
	@bash scripts/deps.sh all

deps-demo:
	@LUA=$(LUA) bash scripts/deps.sh demo

deps-test:
	@bash scripts/deps.sh test

test: deps-test
	@status=0; for lua in $(LUAS); do \
	  $(MAKE) --no-print-directory test-one LUA=$$lua || status=1; \
	done; exit $$status

matrix:
	@$(MAKE) --no-print-directory test LUAS='$(MATRIX)'

print-matrix:
	@echo $(MATRIX)

# The specs outside spec/integration/, on $(LUA) only and without `deps`:
# the quick inner loop. Most of their time is spent waiting (on servers, on
# short timeouts the specs are about), not computing, so UNIT_JOBS busted
# processes (default 3) each take every UNIT_JOBS-th file, at once, and
# their reports follow one another; UNIT_JOBS=1 runs them all in one.
.PHONY: unit
# The slowest first (each about 2 to 7 s on two cores), so that dealing the
# files out in turn spreads them over the processes; then the rest.
UNIT_SLOW = spec/export_spec.lua spec/cli_examples_spec.lua spec/linear_text_spec.lua spec/gather_spec.lua \
            spec/cli_wait_spec.lua spec/mock_server_spec.lua spec/faults_spec.lua spec/hostile_spec.lua \
            spec/cli_account_spec.lua
UNIT_SPECS = $(UNIT_SLOW) $(filter-out $(UNIT_SLOW),$(sort $(filter-out spec/integration/%,$(shell find spec -name '*_spec.lua'))))
UNIT_JOBS ?= 3
unit: build
	@echo "== specs on $(LUA), $(UNIT_JOBS) busted processes at once"
	@bash scripts/busted-parallel.sh $(UNIT_JOBS) env LUA=$(LUA) $(LUA) /usr/bin/busted \
	  --lpath='lua/?.lua;lua/?/init.lua' --cpath='build/$(LUA)/?.so' --output=$(BUSTED_OUTPUT) $(BUSTED_ARGS) \
	  -- $(UNIT_SPECS)

# The specs of spec/integration/ on $(LUA), one at a time: each starts
# hosts (nginx, Neovim, PostgreSQL, luarocks builds) of its own.
.PHONY: integration
integration: build
	@$(MAKE) --no-print-directory test-one SPEC='$(sort $(wildcard spec/integration/*_spec.lua))'

# What the memory targets (valgrind, asan, gc-stress) run: the specs whose
# work happens in the busted process, where the instrumented module and the
# aggressive collector are. The command-line specs (cli_*) run bin/extruct
# as a child, and docs, rockspec and annotations specs read files: the
# tools would only watch busted wait for them.
MEMORY_SPECS = $(filter-out spec/cli_% spec/docs_spec.lua spec/rockspec_spec.lua spec/annotations_spec.lua,$(UNIT_SPECS))

# Runs the specs on $(LUA) only; `make test LUA=luajit` lands here through LUAS.
test-one: build
	@echo "== specs on $(LUA)"
	LUA=$(LUA) $(LUA) /usr/bin/busted --lpath='lua/?.lua;lua/?/init.lua' \
	  --cpath='build/$(LUA)/?.so' --output=$(BUSTED_OUTPUT) $(BUSTED_ARGS) $(SPEC)

# The packages first, then a new make builds: the flags above come from
# pkg-config, which a fresh machine gets from deps.sh.
demo: deps-demo
	@$(MAKE) --no-print-directory build LUA=$(LUA)
	LUA=$(LUA) $(LUA) examples/demo.lua $(TABLE)

workflow: deps-demo
	@$(MAKE) --no-print-directory build LUA=$(LUA)
	LUA=$(LUA) $(LUA) examples/workflow.lua

lint:
	luacheck lua plugin spec bin examples bench

# docs/cli.md, the command-line reference, is made from the command registry.
.PHONY: cli-doc
cli-doc:
	$(LUA) scripts/cli-doc.lua docs/cli.md

bench: deps
	LUAS="$(LUAS)" bash bench/run.sh

bench-smoke: deps
	LUAS="$(LUAS)" bash bench/run.sh --smoke

# ---- memory and hostile input --------------------------------------------
# These run the suite in the busted process only: the mock server, compilers
# and luarocks that specs start are not traced.
BUSTED = /usr/bin/busted --lpath='lua/?.lua;lua/?/init.lua' --output=$(BUSTED_OUTPUT) $(BUSTED_ARGS)

valgrind: deps
	@$(MAKE) --no-print-directory build LUA=lua5.4
	@echo "== specs on lua5.4 under valgrind"
	@bash scripts/busted-parallel.sh $(MEMORY_JOBS) env LUA=lua5.4 valgrind --quiet --error-exitcode=99 \
	  --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite --keep-debuginfo=yes \
	  --num-callers=40 --suppressions=spec/support/valgrind.supp \
	  lua5.4 $(BUSTED) --cpath='build/lua5.4/?.so' -- $(MEMORY_SPEC)

# The module only is instrumented; lua5.4 loads the ASan runtime first.
# Leaks are valgrind's part: LeakSanitizer would also judge every compiler
# and server the specs start, which inherit LD_PRELOAD.
ASAN_MODULE = build/asan/extruct/core.so
$(ASAN_MODULE): $(SOURCES) $(HEADERS) Makefile
	@mkdir -p $(dir $@)
	gcc -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer \
	  $(WARNINGS) -fPIC -shared -I/usr/include/lua5.4 $(CURL_CFLAGS) $(CJSON_CFLAGS) $(HTTP_PARSER_CFLAGS) \
	  -o $@ $(SOURCES) $(CURL_LIBS) $(CJSON_LIBS) $(HTTP_PARSER_LIBS) -lm

asan: deps $(ASAN_MODULE)
	@echo "== specs on lua5.4 with ASan + UBSan"
	@bash scripts/busted-parallel.sh $(MEMORY_JOBS) env LUA=lua5.4 LD_PRELOAD="$$(gcc -print-file-name=libasan.so)" \
	  ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:strict_string_checks=1:check_initialization_order=1 \
	  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	  lua5.4 $(BUSTED) --cpath='build/asan/?.so' -- $(MEMORY_SPEC)

# libFuzzer targets: the decode path, the encode path (cJSON reads every
# output back), response handling and the HTTP/1.1 parser, built with
# clang and linked with liblua5.4 (test binaries; the module never is).
FUZZ_TIME ?= 300
FUZZ_SMOKE_TIME ?= 20
FUZZERS = build/fuzz/decode_fuzz build/fuzz/encode_fuzz build/fuzz/response_fuzz build/fuzz/http1_fuzz
build/fuzz/%: fuzz/%.c $(SOURCES) $(HEADERS) Makefile
	@mkdir -p $(dir $@)
	clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined $(WARNINGS) \
	  -I/usr/include/lua5.4 -Isrc $(CURL_CFLAGS) $(CJSON_CFLAGS) $(HTTP_PARSER_CFLAGS) -o $@ $< $(SOURCES) \
	  -llua5.4 $(CURL_LIBS) $(CJSON_LIBS) $(HTTP_PARSER_LIBS) -lm

fuzz: deps $(FUZZERS)
	@bash fuzz/run.sh $(FUZZ_TIME) $(FUZZERS)

fuzz-smoke: deps $(FUZZERS)
	@bash fuzz/run.sh $(FUZZ_SMOKE_TIME) $(FUZZERS)

gc-stress: deps
	@status=0; for lua in lua5.4 luajit; do \
	  $(MAKE) --no-print-directory build LUA=$$lua || exit 1; \
	  echo "== specs on $$lua, collector at its most aggressive"; \
	  bash scripts/busted-parallel.sh $(MEMORY_JOBS) env LUA=$$lua $$lua $(BUSTED) --cpath="build/$$lua/?.so" \
	    --helper=spec/support/gc_stress.lua -- $(MEMORY_SPEC) || status=1; \
	done; exit $$status

# The soak: each host for SOAK_SECONDS (CI runs it with 20: about 70 s in
# all), SOAK_HOSTS of plain, nginx and neovim, SOAK_SEED to repeat a run
# (the run prints its seed).
SOAK_SECONDS ?= 60
SOAK_HOSTS ?= plain,nginx,neovim
SOAK_SEED ?=
soak: deps-test
	@$(MAKE) --no-print-directory build LUA=lua5.4
	@$(MAKE) --no-print-directory build LUA=luajit
	lua5.4 spec/soak/run.lua $(SOAK_SECONDS) $(SOAK_HOSTS) $(SOAK_SEED)

clean:
	rm -rf build
