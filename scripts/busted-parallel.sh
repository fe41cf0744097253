#!/usr/bin/env bash
# Runs spec files in JOBS busted processes at once and prints their reports
# one after another; fails when any process fails.
#
#   scripts/busted-parallel.sh JOBS COMMAND... -- SPEC_FILE...
#
# COMMAND is the busted command line without the files (an interpreter, a
# valgrind or env prefix included). The files are dealt out in turn, so
# each process gets every JOBS-th one. Specs mostly wait (for servers, for
# the short timeouts they are about) or, under the memory tools, use one
# core each: on two cores, two or three processes finish in about half the
# time of one.
set -uo pipefail
jobs=$1
shift
command=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do command+=("$1"); shift; done
shift || true
files=("$@")
[ "${#files[@]}" -gt 0 ] || { echo "busted-parallel: no spec files" >&2; exit 2; }
[ "$jobs" -ge 1 ] 2>/dev/null || jobs=1
logs=$(mktemp -d)
pids=()
for ((j = 0; j < jobs; j++)); do
  group=()
  for ((i = j; i < ${#files[@]}; i += jobs)); do group+=("${files[i]}"); done
  [ "${#group[@]}" -gt 0 ] || continue
  "${command[@]}" "${group[@]}" >"$logs/$j.log" 2>&1 &
  pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
for ((j = 0; j < jobs; j++)); do [ -f "$logs/$j.log" ] && cat "$logs/$j.log"; done
rm -rf "$logs"
exit $status
