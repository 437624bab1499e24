#!/usr/bin/env bash
# bench/s3.sh: ftpx with its homes on MinIO (bin/minio, made by make minio)
# next to minio-go alone against the same MinIO, in the same run: a
# BENCH_SIZE_MIB put and get, and BENCH_FILES x 4 KiB put. minio-go
# (bench/cmd/s3bench) moves the same bytes with the concurrency ftpx's
# server uses: the multipart put with the same part size and parts in
# flight, the small files as many at once as the server commits of a
# pipelined batch. Each figure is the median of BENCH_RUNS runs; the
# ratios are ftpx / minio-go (goal: 0.8 or more). Then what sync costs on
# the store: the big file changed (lib.sh changed_version) put onto its old
# version (a delta: the server reads the old object's ranges from the
# store and writes the new object whole), and a rerun of put -r of the
# unchanged tree, each with the bytes between client and server counted
# (bench/cmd/tcpcount).
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
bench_init s3

part_mib=16 # the server's default s3_part_size
parts=4     # its parts in flight (s3home.DefaultParallel)
batch=16    # small files it writes at once (home's objectBatch)

make minio >/dev/null
go build -o "$work/s3bench" ./bench/cmd/s3bench
big=$(big_file)
tree=$(small_tree)
n=$(count_files "$tree")
sum=$(md5_of "$big")

export AWS_ACCESS_KEY_ID=ftpx-bench AWS_SECRET_ACCESS_KEY=ftpx-bench-secret
port=$("$work/s3bench" freeport)
endpoint=http://127.0.0.1:$port
MINIO_ROOT_USER=$AWS_ACCESS_KEY_ID MINIO_ROOT_PASSWORD=$AWS_SECRET_ACCESS_KEY MINIO_BROWSER=off MINIO_UPDATE=off \
  "$bin"/minio server --quiet --address "127.0.0.1:$port" "$work/minio" >"$work/minio.log" 2>&1 &
server_pids+=($!)
start_server s3 --root s3://bench-ftpx --s3-endpoint "$endpoint" --s3-part-size "${part_mib}MB" --state-dir "$work/state-s3"
# the bucket minio-go writes to, made through a second server (it makes
# its bucket at start)
start_server s3-minio-go --root s3://bench-minio-go --s3-endpoint "$endpoint" --state-dir "$work/state-mg"
export FTPX_SERVER=$(grep -o 'addr=127.0.0.1:[0-9]*' "$work/s3.log" | head -1 | cut -d= -f2)
s3b=("$work/s3bench" -endpoint "$endpoint" -bucket bench-minio-go)

settle
log "ftpx put, $size_mib MiB, homes on MinIO, $runs runs"
put_s=$(for i in $(seq "$runs"); do time_of $bin/ftpx --quiet put "$big" "big$i.bin"; done | median)
log "minio-go put, $size_mib MiB, part ${part_mib} MiB, $parts in flight, $runs runs"
mgput_s=$(for i in $(seq "$runs"); do time_of "${s3b[@]}" -part $((part_mib << 20)) -par "$parts" put "$big" "big$i.bin"; done | median)
settle
log "ftpx get, $size_mib MiB, $runs runs"
get_s=$(for i in $(seq "$runs"); do time_of $bin/ftpx --quiet get big1.bin "$work/got$i.bin"; rm -f "$work/got$i.bin"; done | median)
log "minio-go get, $size_mib MiB, $runs runs"
mgget_s=$(for i in $(seq "$runs"); do time_of "${s3b[@]}" get big1.bin "$work/mg$i.bin"; rm -f "$work/mg$i.bin"; done | median)
log "minio-go get with MD5 and fsync (what ftpx get guarantees), $size_mib MiB, $runs runs"
mggetv_s=$(for i in $(seq "$runs"); do time_of "${s3b[@]}" -verify get big1.bin "$work/mg$i.bin" 2>/dev/null; rm -f "$work/mg$i.bin"; done | median)
$bin/ftpx --quiet get big1.bin "$work/check.bin"
[ "$(md5_of "$work/check.bin")" = "$sum" ] || { log "the file got back differs"; exit 1; }
rm -f "$work/check.bin"
settle
log "ftpx put -r, $n x 4 KiB, $runs runs"
small_s=$(for i in $(seq "$runs"); do time_of $bin/ftpx --quiet put -r "$tree" "run$i"; done | median)
got=$($bin/ftpx ls run1 | wc -l)
[ "$got" -eq "$n" ] || { log "run1 holds $got files, want $n"; exit 1; }
log "minio-go, $n x 4 KiB, $batch at once, $runs runs"
mgsmall_s=$(for i in $(seq "$runs"); do time_of "${s3b[@]}" -par "$batch" small "$tree" "run$i"; done | median)

settle
log "the changed version of the big file, put onto its old version (a delta), $runs runs"
changed_version "$big" "$work/changed.bin"
want_changed=$(md5_of "$work/changed.bin")
dput_s=$(for i in $(seq "$runs"); do
  $bin/ftpx --quiet put "$big" "delta$i.bin" # the old version, not timed
  time_of $bin/ftpx --quiet put "$work/changed.bin" "delta$i.bin"
done | median)
$bin/ftpx --quiet get delta1.bin "$work/check.bin"
[ "$(md5_of "$work/check.bin")" = "$want_changed" ] || { log "the delta put stored another file"; exit 1; }
rm -f "$work/check.bin"
log "rerun of put -r of the unchanged tree, $runs runs"
rerun_s=$(for i in $(seq "$runs"); do time_of $bin/ftpx --quiet put -r "$tree" "run1"; done | median)
go build -o "$work/tcpcount" ./bench/cmd/tcpcount
"$work/tcpcount" -target "${FTPX_SERVER}" -out "$work/count" >"$work/count.addr" 2>/dev/null &
count_pid=$!
for _ in $(seq 50); do [ -s "$work/count.addr" ] && break; sleep 0.1; done
counted=$(head -1 "$work/count.addr")
$bin/ftpx --quiet put "$big" "deltac.bin"
: >"$work/count"
$bin/ftpx --quiet --server "$counted" put "$work/changed.bin" "deltac.bin"
$bin/ftpx --quiet --server "$counted" put -r "$tree" "run1"
kill "$count_pid" 2>/dev/null; wait "$count_pid" 2>/dev/null || true
dput_kb=$(awk 'NR == 1 {printf "%.1f", ($4 + $6) / 1000}' "$work/count")
rerun_kb=$(awk 'NR == 2 {printf "%.1f", ($4 + $6) / 1000}' "$work/count")

row s3-mg-put "minio-go put" "minio-go PutObject, $size_mib MiB to MinIO (part $part_mib MiB, $parts in flight)" "$(mbps $((size_mib << 20)) "$mgput_s")" MB/s
row s3-put "ftpx put (s3)" "ftpx put, $size_mib MiB, homes on the same MinIO (multipart, verified)" "$(mbps $((size_mib << 20)) "$put_s")" MB/s s3-mg-put over
row s3-put-s "ftpx whole put (s3)" "ftpx put, $size_mib MiB, homes on the same MinIO: seconds" "$(awk -v s="$put_s" 'BEGIN {printf "%.3f", s}')" s
row s3-mg-get "minio-go get" "minio-go GetObject, $size_mib MiB from MinIO to a local file" "$(mbps $((size_mib << 20)) "$mgget_s")" MB/s
row s3-mg-getv "minio-go get+MD5+fsync" "minio-go GetObject, $size_mib MiB, hashed (MD5) and synced to disk as ftpx get does" "$(mbps $((size_mib << 20)) "$mggetv_s")" MB/s
row s3-get "ftpx get (s3)" "ftpx get, $size_mib MiB from the same MinIO (verified, synced)" "$(mbps $((size_mib << 20)) "$get_s")" MB/s s3-mg-get,s3-mg-getv over
row s3-mg-small "minio-go small PUTs" "minio-go PutObject x $n x 4 KiB, $batch at once" "$(per_s "$n" "$mgsmall_s")" files/s
row s3-small "ftpx put -r (s3)" "ftpx put -r, $n x 4 KiB, one connection, homes on the same MinIO" "$(per_s "$n" "$small_s")" files/s s3-mg-small over

print_own_table "ftpx on MinIO next to minio-go alone, loopback, median of $runs runs"
row s3-dput "ftpx delta put (s3)" "ftpx put of the changed $size_mib MiB file onto its old version, homes on the same MinIO" "$(awk -v s="$dput_s" 'BEGIN {printf "%.3f", s}')" s s3-put-s
row s3-dput-kb "ftpx delta put (s3) bytes" "ftpx put of the changed $size_mib MiB file onto its old version, homes on MinIO: bytes between client and server (one run)" "$dput_kb" kB
row s3-rerun "ftpx put -r rerun (s3)" "ftpx put -r rerun of the unchanged $n x 4 KiB tree, homes on the same MinIO" "$(awk -v s="$rerun_s" 'BEGIN {printf "%.3f", s}')" s
row s3-rerun-kb "ftpx put -r rerun (s3) bytes" "ftpx put -r rerun of the unchanged tree, homes on MinIO: bytes between client and server (one run)" "$rerun_kb" kB
