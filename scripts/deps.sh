#!/usr/bin/env bash
# Installs the Debian packages extruct needs to build, run its demo and its
# tests. As root it installs what is missing with apt-get; otherwise it names
# the command to run and fails.
#
#   scripts/deps.sh          build + demo + tests
#   scripts/deps.sh runtime  build + demo only
set -euo pipefail

runtime=(gcc make pkg-config libcurl4-openssl-dev libcjson-dev libhttp-parser-dev ca-certificates
         lua5.4 liblua5.4-dev lua-socket)
# luajit2 is OpenResty's LuaJIT, the flavour that coexists with Debian's
# neovim and libnginx-mod-http-lua (the plain luajit package conflicts).
# neovim and nginx are the real hosts the specs load the module into.
testing=(luajit2 libluajit2-5.1-dev lua5.1 liblua5.1-0-dev lua5.2 liblua5.2-dev
         lua5.3 liblua5.3-dev lua-busted lua-cjson lua-check luarocks cmake
         neovim nginx libnginx-mod-http-lua curl)
# openssl and gzip stage the TLS and transfer-encoding faults of the specs;
# tmux and bsdutils (script) give the command-line specs a real terminal.
testing+=(openssl gzip tmux bsdutils)
# valgrind, clang and its sanitizer runtimes (libFuzzer) for the memory and
# fuzzing targets.
testing+=(valgrind clang libclang-rt-14-dev)
# make bench and bench-smoke compare against these peers
testing+=(lua-dkjson)

wanted=("${runtime[@]}")
if [ "${1:-all}" != runtime ]; then
  wanted+=("${testing[@]}")
fi

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
