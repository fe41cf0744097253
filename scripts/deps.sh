#!/usr/bin/env bash
# Installs the Debian packages extruct needs. As root it installs what is
# missing with apt-get; otherwise it names the command to run and fails.
#
#   scripts/deps.sh demo   build the module, run `make demo` and `make workflow`
#                          (the C toolchain, libcurl, cJSON, http-parser, Lua 5.4,
#                          luasocket for the mock server)
#   scripts/deps.sh test   demo + what `make test` needs (busted, the other
#                          interpreters, LuaRocks, CMake, Neovim, nginx, valgrind,
#                          LuaDBI, sqlite3, PostgreSQL ...)
#   scripts/deps.sh all    test + the fuzzing and benchmark targets (clang,
#                          dkjson); the default
#
# `runtime` is another name for `demo`. The demo's interpreter is $LUA
# (lua5.4 unless set: `make demo LUA=luajit` gets LuaJIT and its headers).
set -euo pipefail

# The packages of one interpreter: its command and its headers.
interpreter_packages() {
  case "$1" in
    luajit) echo luajit2 libluajit2-5.1-dev ;;
    lua5.1) echo lua5.1 liblua5.1-0-dev ;;
    lua5.2 | lua5.3 | lua5.4) echo "$1" "lib$1-dev" ;;
    *)
      echo "extruct: LUA must be one of lua5.1, lua5.2, lua5.3, lua5.4, luajit; got '$1'" >&2
      return 2
      ;;
  esac
}
build=(gcc make pkg-config libcurl4-openssl-dev libcjson-dev libhttp-parser-dev ca-certificates
       lua-socket)
# luajit2 is OpenResty's LuaJIT, the flavour that coexists with Debian's
# neovim and libnginx-mod-http-lua (the plain luajit package conflicts).
# neovim and nginx are the real hosts the specs load the module into.
testing=(luajit2 libluajit2-5.1-dev lua5.1 liblua5.1-0-dev lua5.2 liblua5.2-dev
         lua5.3 liblua5.3-dev lua-busted lua-cjson lua-check luarocks cmake
         neovim nginx libnginx-mod-http-lua curl)
# openssl and gzip stage the TLS and transfer-encoding faults of the specs;
# tmux and bsdutils (script) give the command-line specs a real terminal;
# jq reads the JSON of docs/cli.md's examples, and checks --pretty.
testing+=(openssl gzip tmux bsdutils jq)
# valgrind runs oom_spec's harness and `make valgrind`.
testing+=(valgrind)
# The database export (tables export): LuaDBI's drivers, the sqlite3 shell
# the specs read the files with (and the bench compares with), and a
# PostgreSQL server the specs start as their own.
testing+=(lua-dbi-sqlite3 lua-dbi-postgresql sqlite3 postgresql)
# clang and its sanitizer runtimes (libFuzzer) for the fuzzing targets.
extra=(clang libclang-rt-14-dev)
# make bench and bench-smoke compare against these peers
extra+=(lua-dkjson)

case "${1:-all}" in
  demo | runtime)
    interpreter=$(interpreter_packages "${LUA:-lua5.4}") || exit 2
    read -r -a interpreter <<<"$interpreter"
    wanted=("${build[@]}" "${interpreter[@]}")
    ;;
  test) wanted=("${build[@]}" lua5.4 liblua5.4-dev "${testing[@]}") ;;
  all) wanted=("${build[@]}" lua5.4 liblua5.4-dev "${testing[@]}" "${extra[@]}") ;;
  *)
    echo "usage: scripts/deps.sh [demo|test|all]" >&2
    exit 2
    ;;
esac

missing=()
for pkg in "${wanted[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "extruct: installing missing packages: ${missing[*]}" >&2
if [ "$(id -u)" -ne 0 ]; then
  echo "extruct: not root; run:  sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "extruct: packages installed" >&2
