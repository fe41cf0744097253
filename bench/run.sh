#!/usr/bin/env bash
# Runs the benchmark: decode and encode speed, round trip, memory, waiting, concurrency,
# the export into SQLite, editor stalls and OpenResty throughput, on every
# interpreter in LUAS, against a loopback nginx it starts with its own
# configuration (and stops) and the mock server. Prints the tables and
# writes them to bench/results.md (bench/results-smoke.md with --smoke).
#
#   bench/run.sh [--smoke]      (make bench / make bench-smoke)
set -euo pipefail
cd "$(dirname "$0")/.."

smoke=""
out=bench/results.md
if [ "${1:-}" = --smoke ]; then
  smoke=--smoke
  out=bench/results-smoke.md
fi
LUAS=${LUAS:-"lua5.4 luajit"}

for lua in $LUAS; do make --no-print-directory build LUA="$lua" >/dev/null; done
mkdir -p build/bench
# One curl_loop per interpreter, linked with that Lua so that it can decode
# with lua-cjson: statically where the static library is there (as the
# interpreters themselves are built), exporting the Lua API to cjson.so.
lua_flags() {
  local pc=$1 lib=$1 libdir
  if [ "$1" = luajit ]; then lib=luajit-5.1; fi
  libdir=$(pkg-config --variable=libdir "$pc")
  if [ -f "$libdir/lib$lib.a" ]; then
    echo "$(pkg-config --cflags "$pc") $libdir/lib$lib.a -Wl,-E -ldl -lm"
  else
    echo "$(pkg-config --cflags --libs "$pc") -Wl,-E"
  fi
}
for lua in $LUAS; do
  cc -O2 -std=c99 -Wall -Wextra -Werror -pedantic -DCURL_LOOP_LUA -o "build/bench/curl_loop_$lua" bench/curl_loop.c \
    $(pkg-config --cflags --libs libcurl 2>/dev/null || echo -lcurl) $(lua_flags "$lua")
done

work=$(mktemp -d)
nginx_pid=""
cleanup() {
  if [ -n "$nginx_pid" ]; then kill "$nginx_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# nginx: the table header of spec/support/table.json for any table id, a
# 404 for tbl_missing, keep-alive for as many requests as the bench makes.
# Its workers may run as nobody, so the folder must be readable.
chmod 755 "$work"
mkdir -p "$work/www" "$work/logs"
cp spec/support/table.json "$work/www/table.json"
chmod 644 "$work/www/table.json"
port=$(lua5.4 -e 'local s = assert(require("socket").bind("127.0.0.1", 0)); local _, p = s:getsockname(); print(p); s:close()')
cat > "$work/nginx.conf" <<CONF
daemon on;
worker_processes 1;
pid $work/nginx.pid;
error_log $work/logs/error.log warn;
events { worker_connections 256; }
http {
  access_log off;
  keepalive_requests 10000000;
  keepalive_timeout 120s;
  client_body_temp_path $work/body;
  proxy_temp_path $work/proxy;
  fastcgi_temp_path $work/fastcgi;
  uwsgi_temp_path $work/uwsgi;
  scgi_temp_path $work/scgi;
  server {
    listen 127.0.0.1:$port;
    root $work/www;
    location = /v1/tables/tbl_missing {
      default_type application/json;
      return 404 '{"detail":"Table not found"}';
    }
    location /v1/tables/ {
      default_type application/json;
      try_files /table.json =404;
    }
  }
}
CONF
nginx -p "$work" -e "$work/logs/error.log" -c "$work/nginx.conf"
for _ in $(seq 50); do
  [ -s "$work/nginx.pid" ] && curl -sf "http://127.0.0.1:$port/v1/tables/x" >/dev/null && break
  sleep 0.1
done
nginx_pid=$(cat "$work/nginx.pid")

report=$(mktemp)
{
  echo "Machine: $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(nproc) cores;" \
    "$(uname -sr); $(date -u +%Y-%m-%d)"
  echo "Versions: $(lua5.4 -v 2>&1 | head -1); $(luajit -v 2>&1 | head -1);" \
    "lua-cjson $(dpkg-query -W -f='${Version}' lua-cjson 2>/dev/null);" \
    "dkjson $(dpkg-query -W -f='${Version}' lua-dkjson 2>/dev/null);" \
    "$(curl-config --version 2>/dev/null || echo libcurl);" \
    "cJSON $(dpkg-query -W -f='${Version}' libcjson-dev 2>/dev/null);" \
    "$(nginx -v 2>&1 | sed 's/.*: //')"
  echo
  for lua in $LUAS; do
    env LUA="$lua" LUA_PATH="bench/?.lua;lua/?.lua;lua/?/init.lua;./?.lua;;" LUA_CPATH="build/$lua/?.so;;" \
      "$lua" bench/decode.lua $smoke
    echo
  done
  for lua in $LUAS; do
    env LUA="$lua" LUA_PATH="bench/?.lua;lua/?.lua;lua/?/init.lua;./?.lua;;" LUA_CPATH="build/$lua/?.so;;" \
      "$lua" bench/encode.lua $smoke
    echo
  done
  for lua in $LUAS; do
    env LUA="$lua" LUA_PATH="bench/?.lua;lua/?.lua;lua/?/init.lua;./?.lua;;" LUA_CPATH="build/$lua/?.so;;" \
      "$lua" bench/roundtrip.lua "$port" "build/bench/curl_loop_$lua" $smoke
    echo
  done
  for lua in $LUAS; do
    env LUA="$lua" LUA_PATH="bench/?.lua;lua/?.lua;lua/?/init.lua;./?.lua;;" LUA_CPATH="build/$lua/?.so;;" \
      "$lua" bench/wait.lua $smoke
    echo
  done
  for lua in $LUAS; do
    env LUA="$lua" LUA_PATH="bench/?.lua;lua/?.lua;lua/?/init.lua;./?.lua;;" LUA_CPATH="build/$lua/?.so;;" \
      "$lua" bench/concurrency.lua $smoke
    echo
  done
  for lua in $LUAS; do
    env LUA="$lua" LUA_PATH="bench/?.lua;lua/?.lua;lua/?/init.lua;./?.lua;;" LUA_CPATH="build/$lua/?.so;;" \
      "$lua" bench/export.lua $smoke
    echo
  done
  # Neovim runs the LuaJIT build whichever interpreters LUAS names.
  make --no-print-directory build LUA=luajit >/dev/null
  env LUA=luajit LUA_PATH="bench/?.lua;lua/?.lua;lua/?/init.lua;./?.lua;;" LUA_CPATH="build/luajit/?.so;;" \
    luajit bench/editor.lua $smoke
  echo
  # OpenResty runs the LuaJIT build too.
  env LUA=luajit LUA_PATH="bench/?.lua;lua/?.lua;lua/?/init.lua;./?.lua;;" LUA_CPATH="build/luajit/?.so;;" \
    luajit bench/openresty.lua $smoke
} 2>&1 | tee "$report"
status=${PIPESTATUS[0]}
{ echo '```'; cat "$report"; echo '```'; } > "$out"
rm -f "$report"
echo "bench: results in $out"
exit "$status"
