#!/usr/bin/env bash
# bench/gobench.sh: the Go benchmarks of ./server and ./protocol (in-process
# server, no CLI), each run BENCH_RUNS times (-count); a row per benchmark
# with the median of its MB/s, else of its other X/s metric, else of ns/op.
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
bench_init gobench
go=${GO:-go}

"$go" test -run '^$' -bench . -benchmem -count "$runs" ./server ./protocol | tee "$work/out" >&2
awk '
  /^pkg:/ { pkg = $2; sub(/.*\//, "", pkg) }
  /^Benchmark/ {
    name = $1; sub(/-[0-9]+$/, "", name); sub(/^Benchmark/, "", name)
    v = ""; u = ""
    for (i = 3; i < NF; i += 2) if ($(i+1) == "MB/s") { v = $i; u = "MB/s" }
    if (v == "") for (i = 3; i < NF; i += 2) if ($(i+1) ~ /\/s$/) { v = $i; u = $(i+1) }
    if (v == "") { v = $3; u = "ns/op" }
    print pkg "\t" name "\t" u "\t" v
  }' "$work/out" >"$work/all.tsv"
cut -f1-3 "$work/all.tsv" | awk '!seen[$0]++' | while IFS=$'\t' read -r pkg name unit; do
  figure=$(awk -F'\t' -v p="$pkg" -v n="$name" -v u="$unit" '$1 == p && $2 == n && $3 == u {print $4}' "$work/all.tsv" | median | awk '{printf "%.0f", $1}')
  row "gobench-$name" "Go bench $name" "go test -bench: $pkg.Benchmark$name (in-process server, no CLI)" "$figure" "$unit"
done

print_own_table "Go benchmarks (./server, ./protocol), median of $runs runs"
