#!/usr/bin/env bash
# bench/cpu.sh: where the time of each ftpx workload goes, measured in the
# run that the figures come from: the CPU seconds (user + system) of the
# client (from its wait status) and of the server (/proc/PID/stat) for a
# 1 GiB put and get and for put -r and get -r of the small-file tree, one
# run each, next to the CPU seconds of md5sum over the same file. A side
# whose CPU is close to the wall time is the limit; when neither is, the
# disk is (compare dd conv=fsync in bench/transfer.sh).
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
bench_init cpu

file=$(big_file)
tree=$(small_tree)
n=$(count_files "$tree")
tck=$(getconf CLK_TCK)
start_server cpu

server_cpu() { awk -v t="$tck" '{print ($14 + $15) / t}' "/proc/$server_pid/stat"; }

# cpu_of CMD...: runs CMD and prints "wall client-CPU server-CPU" in
# seconds. The client's CPU is read from the children times of the shell
# that waited for it.
cpu_of() {
  local s0 s1 t0 t1 c
  settle
  s0=$(server_cpu)
  t0=$(now)
  c=$(timeout "$cmd_timeout" bash -c '"$@" >/dev/null || exit 1; awk -v t='"$tck"' "{print (\$16 + \$17) / t}" /proc/$$/stat' _ "$@")
  t1=$(now)
  s1=$(server_cpu)
  awk -v a="$t0" -v b="$t1" -v c="$c" -v s0="$s0" -v s1="$s1" -v cmd="${*:1:4}" 'BEGIN {
    printf "  %8.3f s wall, client %.2f s CPU, server %.2f s CPU  %s\n", b - a, c, s1 - s0, cmd > "/dev/stderr"
    printf "%.3f %.3f %.3f\n", b - a, c, s1 - s0 }'
}

log "md5sum of the file"
md5=$(cpu_of md5sum "$file")
row cpu-md5 "md5sum CPU" "md5sum of the $size_mib MiB file: CPU seconds (user+sys)" "$(echo "$md5" | awk '{printf "%.2f", $2}')" s

# Whether writing to this disk slows down when both cores are busy, as
# the two sides of a put keep them: dd conv=fsync alone, then while two
# md5sum loops run.
log "dd conv=fsync alone, then beside two md5sum"
settle
dd_alone=$(time_of dd if="$file" of="$work/dd-alone.bin" bs=1M conv=fsync status=none)
settle
busy() { while :; do md5sum "$file" >/dev/null; done; }
busy &
m1=$!
busy &
m2=$!
dd_busy=$(time_of dd if="$file" of="$work/dd-busy.bin" bs=1M conv=fsync status=none)
kill "$m1" "$m2"
wait "$m1" "$m2" 2>/dev/null || true
row cpu-dd "dd alone" "dd bs=1M conv=fsync of the file, alone" "$(printf '%.2f' "$dd_alone")" s
row cpu-dd-busy "" "dd bs=1M conv=fsync of the file while two md5sum loops keep both cores busy" "$(printf '%.2f' "$dd_busy")" s cpu-dd over

# rows NAME WHAT FIGURES [PER]: the client, server and wall rows of one
# workload; with PER (a file count), in microseconds per file
rows() {
  local name=$1 what=$2 f=$3 per=${4:-}
  read -r wall c s <<<"$f"
  if [ -n "$per" ]; then
    row "$name-wall" "" "$what: wall time per file" "$(awk -v x="$wall" -v n="$per" 'BEGIN {printf "%.0f", x / n * 1e6}')" us/file
    row "$name-client" "" "$what: client CPU per file" "$(awk -v x="$c" -v n="$per" 'BEGIN {printf "%.0f", x / n * 1e6}')" us/file
    row "$name-server" "" "$what: server CPU per file" "$(awk -v x="$s" -v n="$per" 'BEGIN {printf "%.0f", x / n * 1e6}')" us/file
  else
    row "$name-wall" "" "$what: wall time" "$(printf '%.2f' "$wall")" s
    row "$name-client" "" "$what: client CPU" "$(printf '%.2f' "$c")" s cpu-md5 over
    row "$name-server" "" "$what: server CPU" "$(printf '%.2f' "$s")" s cpu-md5 over
  fi
}

log "put, get, put -r, get -r: one run each"
rows cpu-put "ftpx put $size_mib MiB (server fsync)" "$(cpu_of $bin/ftpx --quiet put "$file" big.bin)"
rows cpu-get "ftpx get $size_mib MiB (verified, synced)" "$(cpu_of $bin/ftpx --quiet get big.bin "$work/got.bin")"
[ "$(md5_of "$work/got.bin")" = "$(md5_of "$file")" ] || { log "the file got differs"; exit 1; }
rows cpu-putr "ftpx put -r $n x 4 KiB" "$(cpu_of $bin/ftpx --quiet put -r "$tree" tree)" "$n"
rows cpu-getr "ftpx get -r $n x 4 KiB" "$(cpu_of $bin/ftpx --quiet get -r tree "$work/tree-got")" "$n"
[ "$(count_files "$work/tree-got")" -eq "$n" ] || { log "get -r got $(count_files "$work/tree-got") files, want $n"; exit 1; }

print_own_table "ftpx CPU per process: one run each, loopback"
