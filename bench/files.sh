#!/usr/bin/env bash
# bench/files.sh: a batch of 10,000 files of 4 KiB over one connection, in
# files/s: `ftpx put -r DIR` (server fsync on, and --fsync=false), and
# `ftpx get -r` of the tree it made (one tree listing, the small files
# pipelined), with bench/cmd/getmany for reference (client.Get in a loop
# over one connection, after one ls: one request at a time), and a batch
# script of single gets (`ftpx shell <SCRIPT`, one `get run1/FILE` a line, for
# the first 2,000 files of the tree: each line its own get). Every run
# writes into fresh directories, local and remote. The same workloads
# against rsync, run in alternation with it, are bench/rsync.sh's. Each
# figure is the median of BENCH_RUNS runs; BENCH_FILES sets the count.
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
bench_init files

tree=$(small_tree)
n=$(count_files "$tree")
want=$(tree_md5 "$tree")
go build -o "$work/getmany" ./bench/cmd/getmany

start_server fsync
fsync_root=$server_root/bench
fsync_addr=$server_addr
start_server nofsync --fsync=false
nofsync_root=$server_root/bench
nofsync_addr=$server_addr

# check DIR: DIR holds the whole tree
check() {
  local got
  got=$(count_files "$1")
  [ "$got" -eq "$n" ] || { log "$1: $got files, want $n"; exit 1; }
}

settle
log "ftpx put -r, $n files, server fsync, $runs runs"
export FTPX_SERVER=$fsync_addr
putr_s=$(for i in $(seq "$runs"); do time_of $bin/ftpx --quiet put -r "$tree" "run$i"; check "$fsync_root/run$i"; done | median)
settle
log "ftpx put -r, $n files, server --fsync=false, $runs runs"
export FTPX_SERVER=$nofsync_addr
putrnf_s=$(for i in $(seq "$runs"); do time_of $bin/ftpx --quiet put -r "$tree" "run$i"; check "$nofsync_root/run$i"; done | median)
settle

export FTPX_SERVER=$fsync_addr
log "ftpx get -r of the tree, $n files, $runs runs"
getr_s=$(for i in $(seq "$runs"); do time_of $bin/ftpx --quiet get -r run1 "$work/cliget$i"; check "$work/cliget$i"; done | median)
settle
log "getmany (client.Get in a loop, one connection), $runs runs"
getlib_s=$(for i in $(seq "$runs"); do time_of "$work/getmany" -addr "$fsync_addr" -user bench -remote run1 -local "$work/libget$i"; check "$work/libget$i"; done | median)

settle
# the first ns files of the tree, one get a line, in name order
ns=$((n < 2000 ? n : 2000))
(cd "$fsync_root/run1" && find . -type f ! -name '.*' -printf '%P\n' | LC_ALL=C sort | sed -n "1,${ns}p" | sed 's|^|get run1/|') >"$work/gets.ftpx"
script_want=$(cd "$tree" && find . -type f ! -name '.*' -printf '%P\n' | LC_ALL=C sort | sed -n "1,${ns}p" | xargs cat | md5sum | cut -d' ' -f1)
client=$PWD/$bin/ftpx # the runs cd into their directory
log "ftpx shell <script: a script of $ns single gets, $runs runs"
script_s=$(for i in $(seq "$runs"); do
  mkdir "$work/script$i"
  (cd "$work/script$i" && time_of "$client" shell <"$work/gets.ftpx")
  [ "$(tree_md5 "$work/script$i")" = "$script_want" ] || { log "$work/script$i: not the first $ns files of the tree"; exit 1; }
done | median)

for d in "$fsync_root/run1" "$nofsync_root/run1" "$work/cliget1" "$work/libget1"; do
  [ "$(tree_md5 "$d")" = "$want" ] || { log "$d differs from the source tree"; exit 1; }
done

row ftpx-putr "ftpx put -r" "ftpx put -r, $n x 4 KiB, one connection, server fsync" "$(per_s "$n" "$putr_s")" files/s gobench-PipelinedSmallFiles over
row ftpx-putr-nofsync "ftpx put -r no-fsync" "ftpx put -r, $n x 4 KiB, server --fsync=false" "$(per_s "$n" "$putrnf_s")" files/s ftpx-putr over
row ftpx-getr "ftpx get -r" "ftpx get -r of the tree, $n x 4 KiB, one connection" "$(per_s "$n" "$getr_s")" files/s
row ftpx-script-gets "script of gets" "script of $ns single gets (4 KiB), ftpx shell <script, one get a line, server fsync" "$(per_s "$ns" "$script_s")" files/s ftpx-getr over
row ftpx-getr-lib "client.Get loop" "client.Get x $n in a loop, one connection (bench/cmd/getmany)" "$(per_s "$n" "$getlib_s")" files/s ftpx-getr over

print_own_table "ftpx small files: $n x 4 KiB over one connection, loopback, median of $runs runs"
