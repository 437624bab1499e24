#!/usr/bin/env bash
# bench/all.sh: every benchmark in one run (what `make bench` runs), and at
# the end one table of figures and ratios, also written to bench/results.md
# with the date, the command and the machine. In order:
#   bench/transfer.sh  1 GiB put (fsync, --fsync=false) and get, md5sum, Go MD5, dd
#   bench/files.sh     10,000 x 4 KiB: put -r, get -r; a script of 2,000 single gets
#   bench/cpu.sh       CPU seconds of client and server for each of those (one run each)
#   bench/ls.sh        ls of a 1,000-entry directory: p50/p99
#   bench/parallel.sh  100 clients x 10 MiB at once
#   bench/conns.sh     server RSS per idle authenticated connection (1,000)
#   bench/peers.sh     vsftpd, pyftpdlib (curl, lftp), same workloads
#   bench/ftp.sh       ftpx's FTP front end through the same curl and lftp commands
#   bench/s3.sh        the homes on MinIO: 1 GiB put/get, 10,000 x 4 KiB, next to minio-go alone
#   bench/sftp.sh      ftpx's SFTP front end and OpenSSH's sftp-server in alternating pairs,
#                      same OpenSSH clients: sftp put/get of 1 GiB (fsync, --fsync=false),
#                      scp -r up/down of 10,000 x 4 KiB; CPU seconds; RSS per idle SFTP
#                      session (1,000; OpenSSH's per-connection processes at 100)
#   bench/http.sh      the HTTP front end (--http-listen) next to ftpx put/get in the same
#                      run: tus uploads of 1 GiB by curl and a Go client (fsync and
#                      --fsync=false), curl downloads and Range; CPU seconds; RSS and
#                      goroutines per idle web session (1,000); headless Chromium
#                      uploading through the page
#   bench/rsync.sh     ftpx and rsync in alternating pairs: plain ftpx vs the rsync
#                      daemon, ftpx --tls vs rsync over ssh: 1 GiB put/get, 10,000 x
#                      4 KiB put -r/get -r, reruns on the unchanged tree, delta put/get
#                      of a changed 1 GiB file; bytes on the wire, CPU seconds
#   bench/gobench.sh   go test -bench of ./server and ./protocol
#   bench/resume.sh    resuming a 1 GiB put killed at 900 MiB
# One big file and one small-file tree are made first and shared. No small
# file is deleted before the end (see bench/lib.sh); the big files a step
# leaves (copies of the 1 GiB file, MinIO's parts) are deleted after it, a
# few dozen files, so that the run needs about 30 GB free rather than 80.
# Each step has a time limit; a step that fails or runs out of time is
# reported and the rest go on.
#
# Environment: BENCH_SIZE_MIB (1024), BENCH_FILES (10000), BENCH_RUNS (3),
# BENCH_CONNS (1000), BENCH_CLIENTS (100), BENCH_CLIENT_MIB (10),
# BENCH_LS_ENTRIES (1000), BENCH_SFTP_CONNS (BENCH_CONNS), BENCH_SFTP_SSH_CONNS
# (100), BENCH_WEB_SESSIONS (BENCH_CONNS), BENCH_BROWSER_RUNS (BENCH_RUNS), BENCH_ONLY (steps to run, e.g. "transfer files"),
# BENCH_RESULTS (bench/results.md; "-" for none), BENCH_NOTE (a line for
# the results, e.g. what else ran on the machine), GO (go).
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
# the settings given, for the results (before the defaults are filled in)
overrides=$(env | grep -E '^BENCH_(SIZE_MIB|FILES|RUNS|CONNS|CLIENTS|CLIENT_MIB|LS_ENTRIES|SFTP_CONNS|SFTP_SSH_CONNS|WEB_SESSIONS|BROWSER_RUNS|ONLY)=' | sort | tr '\n' ' ' || true)
export BENCH_SIZE_MIB=${BENCH_SIZE_MIB:-1024} BENCH_FILES=${BENCH_FILES:-10000} BENCH_RUNS=${BENCH_RUNS:-3}
scratch=$(mktemp -d "${TMPDIR:-/tmp}/ftpx-bench.XXXXXX")
chmod 711 "$scratch" # bench/peers.sh's FTP user reaches its home inside
# bench_init's cleanup removes $work; the scratch goes with it, last
export BENCH_SCRATCH=$scratch
bench_init all
on_exit "rm -rf '$scratch'"
results=${BENCH_RESULTS:-bench/results.md}
only=${BENCH_ONLY:-transfer files cpu ls parallel conns peers ftp s3 sftp http rsync gobench resume}
go=${GO:-go}
export BENCH_ROWS=$work/rows.tsv
: >"$BENCH_ROWS"

t_start=$(now)
date_start=$(date -u '+%Y-%m-%d %H:%M UTC')
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
free_start=$(df -h --output=avail "$scratch" | tail -1 | tr -d ' ')
make build >/dev/null

log "scratch: $scratch"
export BENCH_BIGFILE=$scratch/big.bin BENCH_TREE=$scratch/tree
log "making a $size_mib MiB file of random bytes and $files files of 4 KiB"
head -c $((size_mib << 20)) /dev/urandom >"$BENCH_BIGFILE"
make_tree "$BENCH_TREE" "$files"
settle

failed=()
# step NAME SECONDS CMD...: run CMD with its output shown and kept, bounded
step() {
  local name=$1 limit=$2 rc=0
  shift 2
  case " $only " in *" $name "*) ;; *) return 0 ;; esac
  log "=== $name (limit ${limit}s) ==="
  timeout -k 30 "$limit" "$@" 2>&1 | tee "$work/$name.log" || rc=$?
  if [ "$rc" -ne 0 ]; then
    if [ "$rc" -eq 124 ]; then failed+=("$name: ran out of time (${limit}s)"); else failed+=("$name: exit status $rc"); fi
    log "=== $name FAILED (exit status $rc); going on ==="
  fi
  find "$scratch" -type f -size +64M ! -path "$BENCH_BIGFILE" -delete 2>/dev/null || true
  log "$name: $(df -h --output=avail "$scratch" | tail -1 | tr -d ' ') free after it"
}

# the limits are for the default sizes on 2 cores, with room
step transfer 900 bench/transfer.sh
step files 900 bench/files.sh
step cpu 600 bench/cpu.sh
step ls 300 bench/ls.sh
step parallel 600 bench/parallel.sh
step conns 600 bench/conns.sh
step peers 2400 bench/peers.sh
step ftp 1200 bench/ftp.sh
step s3 1200 bench/s3.sh
# sftp.sh times creating files (scp -r up and down, some 26 copies of the tree) and
# deletes none: before rsync.sh, whose reruns delete many
step sftp 2400 bench/sftp.sh
# http.sh deletes each big file it makes once checked, and makes no small ones
step http 1500 bench/http.sh
# rsync.sh copies the small-file tree some 40 times: it comes after the
# other steps that time creating many files
step rsync 3600 bench/rsync.sh
# the Go benchmarks delete their files when done, and on ext4 without a
# journal creating files is slow for minutes after many were deleted
# (README, Performance): they come after every step that creates many
step gobench 600 bench/gobench.sh
# resume.sh writes no rows and deletes its scratch when done: it comes last
resume_cut=$((size_mib * 900 / 1024))
TMPDIR=$scratch step resume 600 bench/resume.sh "$size_mib" "$resume_cut"
if [ -s "$work/resume.log" ]; then
  whole=$(awk '/^put from scratch/ {print $NF}' "$work/resume.log")
  resumed=$(awk '/^rerun after the kill/ {print $6}' "$work/resume.log")
  if [ -n "$whole" ] && [ -n "$resumed" ]; then
    row resume-whole "from scratch" "ftpx put $size_mib MiB from scratch (bench/resume.sh, one run)" "$whole" s
    row resume "" "rerun of that put killed (SIGKILL) at $resume_cut MiB: resumes, verifies the whole file" "$resumed" s resume-whole over
  fi
fi

elapsed=$(awk -v a="$t_start" -v b="$(now)" 'BEGIN {printf "%.0f", (b-a)/60}')
machine="$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(awk '/MemTotal/ {printf "%.0f GiB RAM", $2/1048576}' /proc/meminfo), Linux $(uname -r), $("$go" env GOVERSION), $(findmnt -no FSTYPE --target "$scratch") file system"
command="make bench"
[ -n "${MAKELEVEL:-}" ] || command="bench/all.sh"
sizes=""
[ "$BENCH_SIZE_MIB $BENCH_FILES $BENCH_RUNS" = "1024 10000 3" ] || sizes=" (not the default sizes)"

{
  echo "## Performance"
  echo
  echo "Measured with \`$overrides$command\`$sizes on $date_start, in ${elapsed} minutes, on $machine."
  echo "Loopback only; each figure is the median of $runs runs unless it says otherwise"
  echo "(file: $size_mib MiB of random bytes; small files: $files x 4 KiB; MB/s = 10^6 bytes/s)."
  echo "Load average (1, 5, 15 min) at the start: $load_start; at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
  echo "Free space where the bench wrote: $free_start at the start."
  [ -z "${BENCH_NOTE:-}" ] || echo "$BENCH_NOTE"
  echo
  print_table "$BENCH_ROWS"
  echo
  echo "- ftpx put and get verify every file end to end by MD5; the server syncs each upload to disk"
  echo "  before acknowledging it unless started with \`--fsync=false\`, and \`ftpx get\` syncs what it"
  echo "  writes. vsftpd and pyftpdlib sync nothing, and \`curl -T\` uploads are not verified; rsync"
  echo "  checks each file with its own checksum, and syncs only with \`--fsync\` (each row says who syncs)."
  echo "- The column \"vs peer\" (bench/rsync.sh, bench/sftp.sh): ftpx and the peer it names ran the workload in"
  echo "  alternation (a warm-up pair, then $runs pairs); the ratio is the median of the pairs' ratios,"
  echo "  the peer's time over ftpx's: above 1, ftpx is faster. Plain ftpx is held against the rsync"
  echo "  daemon (rsync://, unencrypted), \`ftpx --tls\` against rsync over ssh. bench/sftp.sh holds"
  echo "  ftpx's SFTP front end against OpenSSH's sftp-server behind sshd, through the same OpenSSH"
  echo "  sftp and scp (OpenSSH's sftp-server syncs nothing; each row says who syncs)."
  echo "- Other peer ratios read \"ftpx X / this\": above 1, ftpx is faster. The ftpx FTP front end's rows"
  echo "  read \"1.10x vsftpd\": its figure over the peer's, through the same curl and lftp commands."
  echo "  Bytes on the wire (one more run through bench/cmd/tcpcount, both directions) and CPU"
  echo "  seconds (client + server, user + system) read \"0.50x rsync daemon bytes\": ftpx's over rsync's."
  echo "- Batch get: \`ftpx get -r\` of the tree (one tree listing, the small files pipelined), against"
  echo "  rsync download (bench/rsync.sh) and \`lftp mirror\`; bench/cmd/getmany runs client.Get in a"
  echo "  loop over one connection, one request at a time."
  echo "- HTTP front end (bench/http.sh): \"0.85x native put\" is the HTTP figure over ftpx put's (or get's)"
  echo "  measured in the same run against the same server; the server checks each tus upload's MD5"
  echo "  and syncs it unless started with \`--fsync=false\`; curl -o syncs nothing unless the row says so."
  for f in "${failed[@]}"; do echo "- FAILED: $f (its log was shown above)"; done
} >"$work/results.md"

echo
cat "$work/results.md"
if [ "$results" != - ]; then
  cp "$work/results.md" "$results"
  log "written to $results"
fi
[ ${#failed[@]} -eq 0 ]
