#!/usr/bin/env bash
# Runs each libFuzzer target for SECONDS, seeded from JSONTestSuite's y_
# files (copied to a temporary folder; response seeds get a status and
# headers in front, http1 seeds are whole HTTP responses in the framings the
# parser knows, encode seeds are programs that build a Lua value: see
# fuzz/encode_fuzz.c). Findings land in build/fuzz/findings/.
#
#   fuzz/run.sh SECONDS FUZZER...
set -uo pipefail
cd "$(dirname "$0")/.."

seconds=$1
shift
suite=${JSON_TEST_SUITE:-../shared/testdata/JSONTestSuite/test_parsing}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p build/fuzz/findings "$work/json" "$work/response" "$work/http1" "$work/encode"

if [ -f "$suite/y_structure_lonely_true.json" ]; then
  cp "$suite"/y_*.json "$work/json/"
else
  echo "NOTICE: $suite not found: seeding from spec/support/table.json only"
fi
cp spec/support/table.json "$work/json/"
for seed in "$work"/json/*; do
  { printf '\310\000HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-A: 1\r\nx-a: 2\r\n\r\n'
    cat "$seed"; } > "$work/response/$(basename "$seed")"
done

# http1: flags byte, split position (2 bytes), then the response
http1_seed() { printf '%b' "$2" > "$work/http1/$1"; }
http1_seed length '\000\040\000HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 7\r\n\r\n{"a":1}'
http1_seed chunked '\000\060\000HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=1\r\n[1,\r\n2\r\n2]\r\n0\r\nX-T: t\r\n\r\n'
http1_seed eof '\000\010\000HTTP/1.0 200 OK\r\nX-A: 1\r\nx-a: 2\r\n\r\n{"b":[true,null]}'
http1_seed continue '\000\020\000HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n'
http1_seed head '\001\000\000HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n'
http1_seed limits '\002\005\000HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n{"c":"0123456789ab"}'
http1_seed request '\001\000\000POST\000/v1/tables?x=1\000api.extruct.ai\000Accept: application/json\000X-A: 1\000{}'

# encode: op bytes (encode_fuzz.c's push_value): 0 a double from 8 bytes,
# 1 a decimal, 2/3 integers, 4/5 a string of up to 47 bytes, 6 a long one,
# 7 a boolean, 8 null, 9/10 an array, 11 an object (a key before each
# value), 12/13 close
encode_seed() { printf '%b' "$2" > "$work/encode/$1"; }
encode_seed doubles '\012\000\064\063\063\063\063\063\323\077\000\377\377\377\377\377\377\357\177\000\001\000\000\000\000\000\000\000\000\000\000\000\000\000\020\000\001\071\060\000\000\000\000\000\000\003\000\015'
encode_seed object '\013\003id\"\004\006a\"b\\\nc\001k\002\377\377\377\377\377\377\377\177\002nu\010\001t\007\001\001e\012\015\015'
encode_seed strings '\012\004\020\000\001\037\177/\303\251\342\200\250\\\"\t\r\b\f\006\004ab\n\"\100\005\000\015'
encode_seed nested '\012\012\013\001a\012\013\000\011\015\015\015\015\015'

status=0
for fuzzer in "$@"; do
  name=$(basename "$fuzzer")
  dict=fuzz/json.dict
  case $name in
    response*) seeds=$work/response ;;
    http1*) seeds=$work/http1 dict=fuzz/http1.dict ;;
    encode*) seeds=$work/encode dict="" ;;
    *) seeds=$work/json ;;
  esac
  mkdir -p "$work/corpus-$name"
  echo "== $name for ${seconds}s ($(ls "$seeds" | wc -l) seeds)"
  if "$fuzzer" -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
       ${dict:+-dict="$dict"} -print_final_stats=1 -artifact_prefix="build/fuzz/findings/$name-" \
       "$work/corpus-$name" "$seeds" 2> "$work/$name.log"; then
    grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb|^#[0-9]+.*DONE' "$work/$name.log" | tr '\n' ' '
    echo
    echo "ok: $name"
  else
    tail -n 60 "$work/$name.log"
    echo "FAILED: $name (input saved in build/fuzz/findings/)"
    status=1
  fi
done
exit $status
