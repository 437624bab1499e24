#!/usr/bin/env bash
# bench/ftp.sh: ftpx's FTP front end (ftpx-server --ftp-listen) through the
# same curl and lftp commands as vsftpd and pyftpdlib (bench/ftppeer.sh):
# RETR and STOR of the big file (curl -T; curl to a file, then md5sum;
# curl | md5sum) and of the 10,000 x 4 KiB tree (lftp mirror -R, lftp
# mirror), with the server's fsync on (the default) and, for the uploads,
# --fsync=false, as vsftpd and pyftpdlib do not sync. Ratios are against
# vsftpd's and pyftpdlib's rows of the same run: bench/all.sh runs
# bench/peers.sh first; run alone, this script runs peers.sh's FTP servers
# itself. Medians of BENCH_RUNS runs.
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=bench/ftppeer.sh
. "$(dirname "$0")/ftppeer.sh"
bench_init ftp
ftp_init

if ! grep -q '^vsftpd-up	' "$rows" 2>/dev/null; then
  log "no vsftpd/pyftpdlib figures in this run yet: measuring them first (bench/peers.sh)"
  BENCH_ROWS=$rows BENCH_BIGFILE=$file BENCH_TREE=$tree bench/peers.sh >&2 ||
    log "bench/peers.sh failed: the ratios will be missing"
fi

# ftpx_ftp NAME TITLE PARTS FLAG...: an ftpx-server with --ftp-listen and
# the FTP workloads PARTS against it
ftpx_ftp() {
  local name=$1 title=$2 parts=$3 port
  shift 3
  start_server "$name" --ftp-listen 127.0.0.1:0 "$@" || { skip_ftp "$name" "$title" "did not start"; return; }
  port=$(grep -o 'ftp_addr=127.0.0.1:[0-9]*' "$work/$name.log" | head -1 | cut -d: -f2)
  mkdir -p "$server_root/$FTPX_USER"
  ftp_vs=peers ftp_parts=$parts ftp_peer "$name" "$title" "$port" "$FTPX_USER" "$FTPX_PASSWORD" "$server_root/$FTPX_USER" ||
    skip_ftp "$name" "$title" "failed: see above"
  kill "$server_pid"
}

ftpx_ftp ftpxftp "ftpx FTP front end (server fsync)" "up down stream mup mdown"
ftpx_ftp ftpxftp-nofsync "ftpx FTP front end (--fsync=false)" "up mup" --fsync=false

print_own_table "ftpx FTP front end: $label file and $n x 4 KiB files over loopback, median of $runs runs; ratios: ftpx FTP / peer"
