#!/usr/bin/env bash
# bench/parallel.sh: BENCH_CLIENTS (100) clients, each on its own
# connection, moving BENCH_CLIENT_MIB (10) MiB at once: half download, half
# upload (bench/cmd/parallel). Aggregate MB/s, p50/p99 completion time, and
# the aggregate over one client alone moving the same mix (a put then a
# get); medians of BENCH_RUNS runs. The server runs with its default fsync.
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
bench_init parallel
clients=${BENCH_CLIENTS:-100}
client_mib=${BENCH_CLIENT_MIB:-10}
gets=$((clients / 2))
go build -o "$work/parallel" ./bench/cmd/parallel

start_server par --max-conns $((clients + 50)) --max-conns-per-ip $((clients + 50))
settle
log "$clients clients x $client_mib MiB ($gets gets, $((clients - gets)) puts), $runs runs"
timeout "$cmd_timeout" "$work/parallel" -addr "$server_addr" -user bench -clients "$clients" -gets "$gets" \
  -size-mib "$client_mib" -runs "$runs" -dir "$work/scratch" | tee "$work/out" >&2

field() { grep -o "$1=[0-9.]*" "$work/out" | cut -d= -f2; }
what="$clients clients x $client_mib MiB at once ($gets get, $((clients - gets)) put)"
row par-single "one client" "one client alone: put then get of $client_mib MiB, one connection" "$(field single_mbps)" MB/s
row par-agg "aggregate" "$what: aggregate" "$(field aggregate_mbps)" MB/s par-single over
row par-p50 "p50" "$what: completion time p50" "$(field p50_s)" s
row par-p99 "p99" "$what: completion time p99" "$(field p99_s)" s par-p50 over

print_own_table "ftpx concurrency: $what, loopback, median of $runs runs"
