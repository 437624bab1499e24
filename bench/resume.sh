#!/usr/bin/env bash
# bench/resume.sh: how long resuming a 1 GiB upload cut at 900 MiB takes,
# next to uploading it whole. The client is killed with SIGKILL once the
# server holds 900 MiB, then rerun. Usage: bench/resume.sh [SIZE_MiB] [CUT_MiB]
set -euo pipefail
cd "$(dirname "$0")/.."
size_mib=${1:-1024}
cut_mib=${2:-900}
bin=bin
[ -x $bin/ftpx ] && [ -x $bin/ftpx-server ] || make build >/dev/null

work=$(mktemp -d "${TMPDIR:-/tmp}/ftpx-resume.XXXXXX")
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN {printf "%.2f", b-a}'; }

head -c $((size_mib << 20)) /dev/urandom >"$work/src.bin"
printf 'secret-bench\n' | $bin/ftpx-server user add --password-stdin --accounts "$work/accounts.ini" bench >/dev/null
$bin/ftpx-server --listen 127.0.0.1:0 --root "$work/root" --accounts "$work/accounts.ini" 2>"$work/server.log" &
server_pid=$!
for _ in $(seq 100); do grep -q 'addr=' "$work/server.log" && break; sleep 0.1; done
export FTPX_SERVER=$(grep -o 'addr=127.0.0.1:[0-9]*' "$work/server.log" | head -1 | cut -d= -f2)
export FTPX_USER=bench FTPX_PASSWORD=secret-bench FTPX_STATE_DIR=$work/state

t0=$(now)
$bin/ftpx --quiet put "$work/src.bin" whole.bin
whole=$(elapsed "$t0")

$bin/ftpx --quiet put "$work/src.bin" cut.bin &
client=$!
partial() { find "$work/root/bench/.ftpx-partial" -type f ! -name '*.state*' -printf '%s\n' 2>/dev/null | sort -n | tail -1; }
while :; do
  held=$(partial); held=${held:-0}
  [ "$held" -ge $((cut_mib << 20)) ] && break
  kill -0 "$client" 2>/dev/null || { echo "the put ended before the cut" >&2; exit 1; }
  sleep 0.02
done
kill -9 "$client"; wait "$client" 2>/dev/null || true
held=$(partial)

t0=$(now)
out=$($bin/ftpx --json put "$work/src.bin" cut.bin)
resumed=$(elapsed "$t0")
offset=$(printf '%s' "$out" | grep -o '"offset":[0-9]*' | cut -d: -f2)
[ "$(md5sum <"$work/src.bin" | cut -d' ' -f1)" = "$(md5sum <"$work/root/bench/cut.bin" | cut -d' ' -f1)" ] || { echo "resumed file differs" >&2; exit 1; }

echo
echo "ftpx resume benchmark: $size_mib MiB put, client killed (SIGKILL) with $((held >> 20)) MiB held by the server"
printf '%-34s %10s\n' "what" "seconds"
printf '%-34s %10s\n' "put from scratch" "$whole"
printf '%-34s %10s   (resumed at offset %s MiB, MD5 of the whole file verified)\n' "rerun after the kill (resume)" "$resumed" "$((offset >> 20))"
awk -v a="$resumed" -v b="$whole" 'BEGIN {printf "resume / from scratch: %.2fx\n", a/b}'
