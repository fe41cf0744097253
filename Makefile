# extruct: build the C core for one Lua, run the specs, run the demo.
#
#   make                 build build/<LUA>/extruct/core.so   (LUA=lua5.4 by default)
#   make test            specs on every interpreter in LUAS  (lua5.4 and luajit)
#   make test LUA=luajit specs on one interpreter
#   make matrix          specs on all five: lua5.1 lua5.2 lua5.3 lua5.4 luajit
#   make demo            fetch a table and wait for it to go idle (mock server unless EXTRUCT_API_TOKEN is set)
#   make lint            luacheck
#
# `test` and `demo` first install missing Debian packages (scripts/deps.sh).

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

CC ?= cc
CFLAGS ?= -O2 -g
WARNINGS = -Wall -Wextra -Werror -pedantic -std=c99
CURL_CFLAGS := $(shell pkg-config --cflags libcurl 2>/dev/null)
CURL_LIBS := $(shell pkg-config --libs libcurl 2>/dev/null || echo -lcurl)
CJSON_CFLAGS := $(shell pkg-config --cflags libcjson 2>/dev/null | sed 's|-I/usr/include/cjson||')
CJSON_LIBS := $(shell pkg-config --libs libcjson 2>/dev/null || echo -lcjson)

# Headers of the chosen Lua; the module never links liblua (the host provides it).
lua_incdir = $(if $(filter luajit,$(1)),/usr/include/luajit-2.1,/usr/include/$(1))
LUA_INCDIR ?= $(call lua_incdir,$(LUA))

SOURCES = $(wildcard src/*.c)
HEADERS = $(wildcard src/*.h)
MODULE = build/$(LUA)/extruct/core.so

.PHONY: all build test test-one matrix print-matrix demo lint deps clean

all: build
build: $(MODULE)

$(MODULE): $(SOURCES) $(HEADERS) Makefile
	@test -f $(LUA_INCDIR)/lua.h || { echo "missing $(LUA_INCDIR)/lua.h: run 'make deps' or install the -dev package of $(LUA)"; exit 1; }
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARNINGS) -fPIC -shared -I$(LUA_INCDIR) $(CURL_CFLAGS) $(CJSON_CFLAGS) \
	  -o $@ $(SOURCES) $(CURL_LIBS) $(CJSON_LIBS) -lm $(LDFLAGS)

deps:
	@bash scripts/deps.sh

test: deps
	@status=0; for lua in $(LUAS); do \
	  $(MAKE) --no-print-directory test-one LUA=$$lua || status=1; \
	done; exit $$status

matrix:
	@$(MAKE) --no-print-directory test LUAS='$(MATRIX)'

print-matrix:
	@echo $(MATRIX)

# Runs the specs on $(LUA) only; `make test LUA=luajit` lands here through LUAS.
test-one: build
	@echo "== specs on $(LUA)"
	LUA=$(LUA) $(LUA) /usr/bin/busted --lpath='lua/?.lua;lua/?/init.lua' \
	  --cpath='build/$(LUA)/?.so' --output=$(BUSTED_OUTPUT) $(BUSTED_ARGS) $(SPEC)

demo: build
	@bash scripts/deps.sh runtime
	LUA=$(LUA) $(LUA) examples/demo.lua $(TABLE)

lint:
	luacheck lua spec bin examples

clean:
	rm -rf build
