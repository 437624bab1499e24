#!/usr/bin/env bash
# bench/conns.sh: server memory per idle authenticated connection. A fresh
# server (--max-conns 2000 --max-conns-per-ip 2000) per run; bench/cmd/idleconns
# reads its VmRSS, opens and authenticates BENCH_CONNS (1000) connections,
# holds them idle and reads VmRSS again. Each figure is the median of
# BENCH_RUNS runs. Logins/s is bcrypt's pace on this machine (the accounts
# file's default cost).
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
bench_init conns
conns=${BENCH_CONNS:-1000}
go build -o "$work/idleconns" ./bench/cmd/idleconns

for i in $(seq "$runs"); do
  start_server "srv$i" --max-conns 2000 --max-conns-per-ip 2000
  log "run $i: $conns idle authenticated connections"
  timeout "$cmd_timeout" "$work/idleconns" -addr "$server_addr" -user bench -pid "$server_pid" -n "$conns" | tee -a "$work/out" >&2
  kill "$server_pid"
  wait "$server_pid" 2>/dev/null || true
done

field() { grep -o "$1=[0-9.]*" "$work/out" | cut -d= -f2 | median; }
row rss-idle "RSS with idle conns" "ftpx-server VmRSS with $conns idle authenticated connections" "$(field rss_after_kib | awk '{printf "%.1f", $1/1024}')" MiB
row rss-base "RSS before" "ftpx-server VmRSS before them (after a few logins)" "$(field rss_before_kib | awk '{printf "%.1f", $1/1024}')" MiB
row rss-per-conn "RSS per conn" "ftpx-server RSS per idle authenticated connection" "$(field per_conn_kib | awk '{printf "%.1f", $1}')" KiB
row logins "logins/s" "logins per second while opening them (bcrypt, 4 at a time)" "$(field logins_per_s | awk '{printf "%.0f", $1}')" logins/s

print_own_table "ftpx idle connections: $conns, median of $runs runs"
