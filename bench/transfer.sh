#!/usr/bin/env bash
# bench/transfer.sh: 1 GiB put and get over loopback with the real binaries,
# next to md5sum and Go's MD5 of the same file (the ceiling of a verified
# transfer) and dd conv=fsync (the disk), measured in the same run; put both
# with the server's default fsync and with --fsync=false.
# Each figure is the median of RUNS runs. Usage: bench/transfer.sh [SIZE_MiB] [RUNS]
# (or BENCH_SIZE_MIB, BENCH_RUNS; see bench/lib.sh).
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
BENCH_SIZE_MIB=${1:-${BENCH_SIZE_MIB:-1024}}
BENCH_RUNS=${2:-${BENCH_RUNS:-3}}
bench_init transfer

file=$(big_file)
bytes=$(stat -c %s "$file")
want=$(md5_of "$file")
go build -o "$work/md5file" ./bench/md5file

start_server fsync
fsync_root=$server_root/bench
fsync_addr=$server_addr
start_server nofsync --fsync=false
nofsync_root=$server_root/bench
nofsync_addr=$server_addr
start_server tls --tls auto
tls_root=$server_root/bench
tls_addr=$server_addr
export FTPX_CONFIG_DIR=$work/client-config # the TLS server is pinned there on first use

# Every run writes a new file: nothing big is deleted before the end.
log "md5sum, Go MD5, dd conv=fsync, $runs runs each"
md5sum_s=$(for _ in $(seq "$runs"); do time_of md5sum "$file"; done | median)
gomd5_s=$(for _ in $(seq "$runs"); do time_of "$work/md5file" "$file"; done | median)
settle
dd_s=$(for i in $(seq "$runs"); do time_of dd if="$file" of="$work/dd$i.bin" bs=1M conv=fsync status=none; done | median)
settle
log "ftpx put (fsync), $runs runs"
export FTPX_SERVER=$fsync_addr
put_s=$(for i in $(seq "$runs"); do time_of $bin/ftpx --quiet put "$file" "big$i.bin"; done | median)
settle
log "ftpx put (--fsync=false), $runs runs"
export FTPX_SERVER=$nofsync_addr
putnf_s=$(for i in $(seq "$runs"); do time_of $bin/ftpx --quiet put "$file" "big$i.bin"; done | median)
settle
log "ftpx get, $runs runs"
mkdir -p "$work/get"
export FTPX_SERVER=$fsync_addr
get_s=$(for i in $(seq "$runs"); do time_of $bin/ftpx --quiet get "big$i.bin" "$work/get/big$i.bin"; done | median)
settle
log "ftpx put and get over TLS (--tls auto), $runs runs each"
export FTPX_SERVER=$tls_addr
tlsput_s=$(for i in $(seq "$runs"); do time_of $bin/ftpx --quiet --tls --trust-new-server put "$file" "big$i.bin"; done | median)
settle
mkdir -p "$work/gettls"
tlsget_s=$(for i in $(seq "$runs"); do time_of $bin/ftpx --quiet --tls get "big$i.bin" "$work/gettls/big$i.bin"; done | median)

for f in "$fsync_root/big1.bin" "$nofsync_root/big1.bin" "$work/get/big1.bin" "$tls_root/big1.bin" "$work/gettls/big1.bin"; do
  [ "$(md5_of "$f")" = "$want" ] || { log "$f differs from the source"; exit 1; }
done

label="$((size_mib)) MiB"
row md5sum md5sum "md5sum of the $label file" "$(mbps "$bytes" "$md5sum_s")" MB/s
row go-md5 "Go MD5" "Go crypto/md5 of the file (ceiling of a verified transfer)" "$(mbps "$bytes" "$gomd5_s")" MB/s md5sum over
row dd dd "dd bs=1M conv=fsync of the file (disk)" "$(mbps "$bytes" "$dd_s")" MB/s
row ftpx-put "ftpx put" "ftpx put $label, server fsync (default)" "$(mbps "$bytes" "$put_s")" MB/s go-md5,dd over
row ftpx-put-nofsync "ftpx put no-fsync" "ftpx put $label, server --fsync=false" "$(mbps "$bytes" "$putnf_s")" MB/s go-md5 over
row ftpx-get "ftpx get" "ftpx get $label (verified)" "$(mbps "$bytes" "$get_s")" MB/s go-md5,md5sum over
row ftpx-put-tls "ftpx put TLS" "ftpx put $label over TLS 1.3, server fsync" "$(mbps "$bytes" "$tlsput_s")" MB/s ftpx-put,md5sum over
row ftpx-get-tls "ftpx get TLS" "ftpx get $label over TLS 1.3 (verified)" "$(mbps "$bytes" "$tlsget_s")" MB/s ftpx-get,md5sum over

print_own_table "ftpx transfer benchmark: $label file, loopback, median of $runs runs ($(nproc) cores)"
