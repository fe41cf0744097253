#!/usr/bin/env bash
# Runs each libFuzzer target for SECONDS, seeded from JSONTestSuite's y_
# files (copied to a temporary folder; response seeds get a status and
# headers in front). Findings land in build/fuzz/findings/.
#
#   fuzz/run.sh SECONDS FUZZER...
set -uo pipefail
cd "$(dirname "$0")/.."

seconds=$1
shift
suite=${JSON_TEST_SUITE:-../shared/testdata/JSONTestSuite/test_parsing}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p build/fuzz/findings "$work/json" "$work/response"

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

status=0
for fuzzer in "$@"; do
  name=$(basename "$fuzzer")
  case $name in response*) seeds=$work/response ;; *) seeds=$work/json ;; esac
  mkdir -p "$work/corpus-$name"
  echo "== $name for ${seconds}s ($(ls "$seeds" | wc -l) seeds)"
  if "$fuzzer" -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
       -dict=fuzz/json.dict -print_final_stats=1 -artifact_prefix="build/fuzz/findings/$name-" \
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
