#!/usr/bin/env bash
# bench/transfer.sh: 1 GiB put and get over loopback with the real binaries,
# next to md5sum and Go's MD5 of the same file, measured in the same run.
# Each figure is the median of RUNS runs. Usage: bench/transfer.sh [SIZE_MiB] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
size_mib=${1:-1024}
runs=${2:-3}
bin=bin
[ -x $bin/ftpx ] && [ -x $bin/ftpx-server ] || make build >/dev/null

work=$(mktemp -d "${TMPDIR:-/tmp}/ftpx-bench.XXXXXX")
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

now() { date +%s.%N; }
# median of the numbers on stdin
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
mbps() { awk -v b="$1" -v s="$2" 'BEGIN {printf "%.0f", b/s/1e6}'; }

file=$work/src.bin
echo "making a $size_mib MiB file of random bytes..." >&2
head -c $((size_mib << 20)) /dev/urandom >"$file"
bytes=$(stat -c %s "$file")

printf 'secret-bench\n' | $bin/ftpx-server user add --password-stdin --accounts "$work/accounts.ini" bench >/dev/null
$bin/ftpx-server --listen 127.0.0.1:0 --root "$work/root" --accounts "$work/accounts.ini" 2>"$work/server.log" &
server_pid=$!
for _ in $(seq 100); do grep -q 'addr=' "$work/server.log" && break; sleep 0.1; done
addr=$(grep -o 'addr=127.0.0.1:[0-9]*' "$work/server.log" | head -1 | cut -d= -f2)
export FTPX_SERVER=$addr FTPX_USER=bench FTPX_PASSWORD=secret-bench

time_of() { local t0 t1; t0=$(now); "$@" >/dev/null; t1=$(now); awk -v a="$t0" -v b="$t1" 'BEGIN {print b-a}'; }

md5sum_s=$(for _ in $(seq "$runs"); do time_of md5sum "$file"; done | median)
go build -o "$work/md5file" ./bench/md5file
gomd5_s=$(for _ in $(seq "$runs"); do time_of "$work/md5file" "$file"; done | median)
dd_s=$(for _ in $(seq "$runs"); do time_of dd if="$file" of="$work/dd.bin" bs=1M conv=fsync status=none; rm -f "$work/dd.bin"; done | median)
put_s=$(for _ in $(seq "$runs"); do time_of $bin/ftpx --quiet put "$file" big.bin; done | median)
mkdir -p "$work/get"
get_s=$(for i in $(seq "$runs"); do time_of $bin/ftpx --quiet get big.bin "$work/get/big$i.bin"; rm -f "$work/get/big$i.bin"; done | median)

want=$(md5sum <"$file" | cut -d' ' -f1)
got=$(md5sum <"$work/root/bench/big.bin" | cut -d' ' -f1)
[ "$want" = "$got" ] || { echo "stored file differs" >&2; exit 1; }

md5sum_r=$(mbps "$bytes" "$md5sum_s")
gomd5_r=$(mbps "$bytes" "$gomd5_s")
dd_r=$(mbps "$bytes" "$dd_s")
put_r=$(mbps "$bytes" "$put_s")
get_r=$(mbps "$bytes" "$get_s")
echo
echo "ftpx transfer benchmark: $size_mib MiB file, loopback, median of $runs runs ($(nproc) cores)"
printf '%-28s %8s %10s %14s\n' "what" "MB/s" "seconds" "vs md5sum"
row() { printf '%-28s %8s %10.2f %13.2fx\n' "$1" "$2" "$3" "$(awk -v a="$2" -v b="$md5sum_r" 'BEGIN {print a/b}')"; }
row "md5sum (ceiling)" "$md5sum_r" "$md5sum_s"
row "Go crypto/md5 of the file" "$gomd5_r" "$gomd5_s"
row "dd conv=fsync (disk)" "$dd_r" "$dd_s"
row "ftpx put (verified)" "$put_r" "$put_s"
row "ftpx get (verified)" "$get_r" "$get_s"
