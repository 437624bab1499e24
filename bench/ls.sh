#!/usr/bin/env bash
# bench/ls.sh: round trip of `ls` of a directory of BENCH_LS_ENTRIES (1000)
# entries: bench/cmd/lsrtt makes 1000 client.Ls calls over one connection;
# p50 and p99 are the medians over BENCH_RUNS runs.
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
bench_init ls
entries=${BENCH_LS_ENTRIES:-1000}
calls=${BENCH_LS_CALLS:-1000}
go build -o "$work/lsrtt" ./bench/cmd/lsrtt

start_server ls
make_tree "$work/lsdir" "$entries"
timeout "$cmd_timeout" $bin/ftpx --quiet put -r "$work/lsdir" lsdir
for i in $(seq "$runs"); do
  log "run $i: $calls ls of $entries entries"
  timeout "$cmd_timeout" "$work/lsrtt" -addr "$server_addr" -user bench -path lsdir -calls "$calls" -want "$entries" | tee -a "$work/out" >&2
done

field() { grep -o "$1=[0-9.]*" "$work/out" | cut -d= -f2 | median | awk '{printf "%.2f", $1}'; }
row ls-p50 "ls p50" "ls of a $entries-entry directory, round trip p50 ($calls calls)" "$(field p50_ms)" ms
row ls-p99 "ls p99" "ls of a $entries-entry directory, round trip p99" "$(field p99_ms)" ms ls-p50 over

print_own_table "ftpx ls: $entries entries, $calls calls over one connection, median of $runs runs"
