#!/usr/bin/env bash
# bench/sftp.sh: ftpx's SFTP front end (ftpx-server --sftp-listen) side by
# side with OpenSSH's own sftp-server (/usr/lib/openssh/sftp-server, the
# Subsystem sftp of a private sshd on 127.0.0.1: lib.sh's start_sshd, root
# logging in with a key made here), through the same OpenSSH clients with
# the same options (-F /dev/null, that key, BatchMode, no host key checks;
# both servers have the same Ed25519 host key, and the cipher is what the
# client and each server agree on by default: logged, and in the title of
# the table). OpenSSH 9's scp speaks SFTP, so both servers see SFTP only.
#   sftp -b: put of the BENCH_SIZE_MIB file, with ftpx-server's default
#     fsync (the server syncs each upload before answering its close) and
#     with --fsync=false; OpenSSH's sftp-server syncs nothing unless the
#     client asks (sftp -f, not used). Each put is checked by
#     `ssh HOST md5sum FILE`, which ftpx answers from the MD5 it stored
#     while the file arrived and sshd by running md5sum over it (timed: the
#     rows "then ssh md5sum" add it to the put), and by md5sum of the file
#     on the server's disk (not timed).
#   sftp -b: get of that file (no side syncs), checked by md5sum of the
#     file got and, for ftpx, against `ssh HOST md5sum` of the file served.
#   The put (--fsync=false) and the get again with `-c aes128-gcm@openssh.com`
#     on both sides: one cipher for both (by default they differ: ftpx offers
#     no chacha20-poly1305 on amd64).
#   scp -r of the BENCH_FILES x 4 KiB tree up (ftpx with its fsync and with
#     --fsync=false) and down, each run into a fresh directory, checked by
#     the count and MD5 of the tree.
# Each workload: a warm-up pair (not counted), then BENCH_RUNS pairs, ftpx
# then OpenSSH (lib.sh's pairs); reported: the medians, and in the column
# "vs peer" the median of the pairs' ratios, OpenSSH's time over ftpx's
# (above 1, ftpx is faster); CPU seconds (user + system, medians) of the
# client (sftp or scp and the ssh it runs) and of the server (ftpx-server;
# sshd with its per-connection processes: its own children, the session's
# sshd and sftp-server, counted once reaped).
#
# Memory per idle SFTP session: bench/cmd/sftpidle logs BENCH_SFTP_CONNS
# (default BENCH_CONNS, else 1000) sessions in with the key, starts the sftp
# subsystem on each, asks each for its working directory (a REALPATH, as
# OpenSSH's sftp does before its prompt), and holds them. ftpx-server's VmRSS (/proc/PID/status)
# before them (20 sessions opened and closed first) and 2 s after the last
# one opened, on a fresh server (--max-conns and --max-conns-per-ip above
# N) each run, median of BENCH_RUNS runs. OpenSSH forks per connection:
# the VmRSS and the Pss (shared pages divided among the processes sharing
# them) summed over every process under sshd with BENCH_SFTP_SSH_CONNS
# (100, at most BENCH_SFTP_CONNS) sessions held, one run. Root logs in, so
# sshd keeps no privilege-separated child after the login: an sshd and an
# sftp-server per session, one process fewer than for another user.
#
# openssh-server and openssh-client are installed with apt-get when
# missing (as root); what cannot be installed or started gives "skipped"
# rows. The big files are deleted after each big-file workload; no small
# file is deleted.
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=bench/ftppeer.sh
. "$(dirname "$0")/ftppeer.sh"
bench_init sftp
ftp_init # file, bytes, want, tree, n, want_tree, dl, label, is_root
base=$(basename "$file")
tb=$(basename "$tree")
res=$work/res
mkdir -p "$res" "$work/batch"
conns=${BENCH_SFTP_CONNS:-${BENCH_CONNS:-1000}}
ssh_conns=${BENCH_SFTP_SSH_CONNS:-100}
[ "$ssh_conns" -le "$conns" ] || ssh_conns=$conns
peer="OpenSSH sftp-server" # the column "vs peer" (lib.sh's report)
amount=$bytes
go build -o "$work/sftpidle" ./bench/cmd/sftpidle

# --- the servers -----------------------------------------------------------------

why="" peer_why=""
install_missing openssh-client openssh-server
if ! have openssh-client || ! command -v sftp >/dev/null || ! command -v scp >/dev/null; then
  why="openssh-client (ssh, sftp, scp, ssh-keygen) not installed"
fi

# the client's key and the host key, for both servers
keys=$work/sshd
mkdir -p "$keys"
if [ -z "$why" ]; then
  ssh-keygen -q -t ed25519 -N '' -f "$keys/host_key"
  ssh-keygen -q -t ed25519 -N '' -f "$keys/id"
  "$bin"/ftpx-server user keys --accounts "$work/accounts.ini" "$FTPX_USER" "$keys/id.pub" >/dev/null
fi
ssh_opts=(-F /dev/null -i "$keys/id" -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR)

declare -A srv_port srv_pid srv_home
# ftpx_sftp NAME FLAG...: an ftpx-server (lib.sh's start_server) with its
# SFTP front end on a free loopback port, with the sshd's host key
ftpx_sftp() {
  local name=$1 i
  shift
  start_server "$name" --sftp-listen 127.0.0.1:0 --sftp-host-key "$keys/host_key" "$@" || return 1
  for i in $(seq 50); do
    grep -q 'sftp_addr=' "$work/$name.log" && break
    sleep 0.1
  done
  srv_port[$name]=$(grep -o 'sftp_addr=127.0.0.1:[0-9]*' "$work/$name.log" | head -1 | cut -d: -f2)
  if [ -z "${srv_port[$name]}" ]; then
    log "ftpx-server $name logged no sftp_addr:"
    cat "$work/$name.log" >&2
    return 1
  fi
  srv_pid[$name]=$server_pid
  srv_home[$name]=$server_root/$FTPX_USER
  mkdir -p "${srv_home[$name]}"
}
if [ -z "$why" ] && ! { ftpx_sftp fs && ftpx_sftp nf --fsync=false; }; then
  why="ftpx-server did not start"
fi

sshd_home=$work/sshd/data
if [ -n "$why" ]; then
  peer_why=$why
elif ! $is_root; then
  peer_why="needs root for a private sshd with root login"
elif ! have openssh-server; then
  peer_why="openssh-server not installed"
elif [ ! -x /usr/lib/openssh/sftp-server ]; then
  peer_why="no /usr/lib/openssh/sftp-server"
elif ! start_sshd; then
  peer_why="sshd did not start"
fi
# "OpenSSH 9.2p1", from "OpenSSH_9.2p1 Debian-2+deb12u10, OpenSSL 3.0.19 ..."
openssh=$(ssh -V 2>&1 | awk 'NR == 1 {sub(/,$/, "", $1); sub(/_/, " ", $1); print $1}' || true)

# side SIDE: the globals of ftpx's (the server fx) or OpenSSH's side: sp
# (port), su (user@host), sr (the remote path of the home: ftpx's SFTP
# root is the user's home, sshd's is /)
side() {
  if [ "$1" = ftpx ]; then
    sp=${srv_port[$fx]} su=$FTPX_USER@127.0.0.1 sr=""
  else
    sp=$ssh_port su=root@127.0.0.1 sr=$sshd_home
  fi
}
# home SIDE: the directory holding the side's server files
home() { if [ "$1" = ftpx ]; then echo "${srv_home[$fx]}"; else echo "$sshd_home"; fi; }
side_pid() { if [ "$1" = ftpx ]; then echo "${srv_pid[$fx]}"; else echo "$sshd_pid"; fi; }

# remote_md5 SIDE PATH: `ssh HOST md5sum PATH` on the side (PATH under its home)
remote_md5() {
  side "$1"
  timeout "$cmd_timeout" ssh "${ssh_opts[@]}" -p "$sp" "$su" md5sum "$sr/$2" </dev/null | awk '{print $1}'
}

# cipher SIDE: the cipher and key exchange ssh and the side agree on
# (ssh -v; its -v comes before -o LogLevel, and the first value counts)
cipher() {
  side "$1"
  timeout 20 ssh -v "${ssh_opts[@]}" -p "$sp" "$su" md5sum </dev/null 2>&1 >/dev/null |
    awk '/kex: algorithm:/ && !k {k = $4} /kex: server->client cipher:/ && !c {c = $5} END {print c " (kex " k ")"}'
}

# --- the workloads ---------------------------------------------------------------
#
# The globals of the workload being run: W (its name, also its directory
# on each side), kind (putbig, getbig, putr, getr), fx (the ftpx server's
# name), key (lib.sh's pairs and report).

# prep SIDE RUN: the side's destination, fresh; earlier runs' big files
# removed (a few files, never a tree)
prep() {
  local h
  h=$(home "$1")
  case $kind in
  putbig) rm -rf "${h:?}/$W" && mkdir -p "$h/$W/$2" ;;
  getbig) rm -rf "${dl:?}/$W/$1" && mkdir -p "$dl/$W/$1/$2" ;;
  putr) mkdir -p "$h/$W/$2" ;;
  getr) mkdir -p "$dl/$W/$1/$2" ;;
  esac
}

# cmd SIDE RUN: sets c, the side's command
cmd() {
  local s=$1 i=$2 b=$work/batch/$key.$1.$2
  side "$s"
  case $kind in
  putbig)
    echo "put $file $sr/$W/$i/$base" >"$b"
    c=(sftp "${ssh_opts[@]}" "${same_cipher[@]}" -P "$sp" -b "$b" "$su")
    ;;
  getbig)
    echo "get $sr/src/$base $dl/$W/$s/$i/$base" >"$b"
    c=(sftp "${ssh_opts[@]}" "${same_cipher[@]}" -P "$sp" -b "$b" "$su")
    ;;
  putr) c=(scp "${ssh_opts[@]}" -P "$sp" -r "$tree" "$su:$sr/$W/$i/") ;;
  getr) c=(scp "${ssh_opts[@]}" -P "$sp" -r "$su:$sr/src/$tb" "$dl/$W/$s/$i/") ;;
  esac
}

# check SIDE RUN: the side's result is whole, or the script fails; a put's
# `ssh md5sum` is timed, into $res/$key.SIDE.check
check() {
  local s=$1 i=$2 f got sum t0 t
  case $kind in
  putbig)
    t0=$EPOCHREALTIME
    sum=$(remote_md5 "$s" "$W/$i/$base")
    t=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.4f", b - a}')
    log "  then ssh md5sum: $t s"
    [ "$sum" = "$want" ] || { log "$W $s run $i: ssh md5sum says $sum, want $want"; return 1; }
    [ "$i" = w ] || echo "$t" >>"$res/$key.$s.check"
    f=$(home "$s")/$W/$i/$base
    got=$(md5_of "$f")
    [ "$got" = "$want" ] || { log "$W $s run $i: $f has MD5 $got, want $want"; return 1; }
    ;;
  getbig)
    f=$dl/$W/$s/$i/$base
    got=$(md5_of "$f")
    [ "$got" = "$want" ] || { log "$W $s run $i: $f has MD5 $got, want $want"; return 1; }
    if [ "$s" = ftpx ]; then
      sum=$(remote_md5 ftpx "src/$base")
      [ "$sum" = "$got" ] || { log "$W run $i: ftpx's ssh md5sum says $sum, the file got has $got"; return 1; }
    fi
    ;;
  putr | getr)
    if [ "$kind" = putr ]; then f=$(home "$s")/$W/$i/$tb; else f=$dl/$W/$s/$i/$tb; fi
    got=$(count_files "$f")
    [ "$got" -eq "$n" ] || { log "$W $s run $i: $f has $got files, want $n"; return 1; }
    got=$(tree_md5 "$f")
    [ "$got" = "$want_tree" ] || { log "$W $s run $i: $f differs from the source tree"; return 1; }
    ;;
  esac
}

# check_rows FTPX_WHAT PEER_WHAT: a put's rows with its ssh md5sum added,
# per run; "vs peer" the median of the pairs' ratios of those sums
check_rows() {
  local f=$res/$key.ftpx p=$res/$key.peer x ratio fc pc
  for x in "$f" "$p"; do
    paste -d' ' "$x" "$x.check" | awk '{print $1 + $4}' >"$x.total"
  done
  fc=$(median <"$f.check") pc=$(median <"$p.check")
  log "$key: ssh md5sum after the put: ftpx $fc s, OpenSSH $pc s (medians)"
  ratio=$(pair_ratio "$f.total" "$p.total")
  row "$key-check-ftpx" "" "$1, then ssh md5sum of it (the stored MD5: $(printf '%.2f' "$fc") s), both timed" "$(mbps "$amount" "$(median <"$f.total")")" MB/s "" "" "$(printf '%.2fx %s' "$ratio" "$peer")"
  row "$key-check-peer" "$peer put+md5sum" "$2, then ssh md5sum of it (md5sum reads the file: $(printf '%.2f' "$pc") s), both timed" "$(mbps "$amount" "$(median <"$p.total")")" MB/s
}

# wl NAME KIND FTPX_SERVER UNIT FTPX_WHAT PEER_WHAT: one workload, its rows
wl() {
  W=$1 kind=$2 fx=$3
  local unit=$4 fwhat="ftpx SFTP: $5" pwhat="$openssh sftp-server: $6" rc=0
  key=sftp-$W
  if [ -n "$peer_why" ]; then
    skip "$key-ftpx" "$fwhat" "$peer_why"
    skip "$key-peer" "$pwhat" "$peer_why"
    return
  fi
  settle
  log "=== $key: $fwhat / $pwhat: $runs pairs after a warm-up pair ==="
  # in a subshell, so that a failure ends this workload only
  set +e
  (
    set -e
    pairs
    report "$unit" cpu "$fwhat" "$pwhat"
    [ "$kind" != putbig ] || check_rows "$fwhat" "$pwhat"
  )
  rc=$?
  set -e
  if [ "$rc" -ne 0 ]; then
    skip "$key-ftpx" "$fwhat" "failed: see the log"
    skip "$key-peer" "$pwhat" "failed: see the log"
  fi
  # the big files of this workload are not needed any more
  case $kind in putbig | getbig) rm -rf "${srv_home[$fx]:?}/$W" "${sshd_home:?}/$W" "${dl:?}/$W" ;; esac
}

ciphers=""
same_cipher=() # ssh options of both sides' clients: -c CIPHER for the rows that set one
if [ -z "$peer_why" ]; then
  fx=nf
  ciphers="ftpx $(cipher ftpx), OpenSSH $(cipher peer)"
  log "negotiated: $ciphers"
  # what the gets read: for ftpx put through sftp, so that its MD5 is stored
  # (not timed)
  log "seeding the files the gets read"
  mkdir -p "${srv_home[nf]}/src" "$sshd_home/src"
  side ftpx
  echo "put $file /src/$base" >"$work/batch/seed"
  sftp "${ssh_opts[@]}" -P "$sp" -b "$work/batch/seed" "$su" >/dev/null
  cp -a "$tree" "${srv_home[nf]}/src/"
  cp -a -t "$sshd_home/src/" "$file" "$tree"
fi

wl putbig-fs putbig fs MB/s "sftp put, $label, server fsync (the default: the server syncs)" "sftp put, $label (no side syncs)"
wl putbig-nf putbig nf MB/s "sftp put, $label, server --fsync=false (no side syncs)" "sftp put, $label (no side syncs)"
wl getbig getbig nf MB/s "sftp get, $label (no side syncs)" "sftp get, $label (no side syncs)"
# The same with one cipher for both, chosen by the client: ftpx offers no
# chacha20-poly1305 on amd64, so by default the two servers above do not
# run the same one.
same_cipher=(-c aes128-gcm@openssh.com)
wl putbig-gcm putbig nf MB/s "sftp put, $label, -c aes128-gcm@openssh.com, server --fsync=false (no side syncs)" "sftp put, $label, -c aes128-gcm@openssh.com (no side syncs)"
wl getbig-gcm getbig nf MB/s "sftp get, $label, -c aes128-gcm@openssh.com (no side syncs)" "sftp get, $label, -c aes128-gcm@openssh.com (no side syncs)"
same_cipher=()
[ -n "$peer_why" ] || rm -f "${srv_home[nf]:?}/src/$base" "${sshd_home:?}/src/$base"
wl putr-fs putr fs files/s "scp -r up, $n x 4 KiB, server fsync (the server syncs each file)" "scp -r up, $n x 4 KiB (no side syncs)"
wl putr-nf putr nf files/s "scp -r up, $n x 4 KiB, server --fsync=false (no side syncs)" "scp -r up, $n x 4 KiB (no side syncs)"
wl getr getr nf files/s "scp -r down, $n x 4 KiB (no side syncs)" "scp -r down, $n x 4 KiB (no side syncs)"

# --- memory per idle session -----------------------------------------------------

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
pss_kib() { awk '/^Pss:/ {print $2}' "/proc/$1/smaps_rollup"; }
# descendants PID: every process under PID
descendants() {
  local c cs
  cs=$(cat /proc/"$1"/task/*/children 2>/dev/null || true)
  for c in $cs; do
    echo "$c"
    descendants "$c"
  done
}

# hold PORT USER N: bench/cmd/sftpidle holding N idle SFTP sessions, its
# pid in idle_pid, once all are open (its first line in $idle_out)
hold() {
  local i
  idle_out=$work/idle-$1-$3.out
  "$work/sftpidle" -addr "127.0.0.1:$1" -user "$2" -key "$keys/id" -n "$3" >"$idle_out" 2>>"$work/sftpidle.log" &
  idle_pid=$!
  for i in $(seq $((cmd_timeout * 10))); do
    if grep -q '^ready' "$idle_out"; then
      log "  $(head -1 "$idle_out")"
      return 0
    fi
    if ! kill -0 "$idle_pid" 2>/dev/null; then
      log "sftpidle failed: $(tail -3 "$work/sftpidle.log")"
      return 1
    fi
    sleep 0.1
  done
  log "sftpidle: $3 sessions not open after ${cmd_timeout}s"
  kill "$idle_pid"
  return 1
}
# unhold: the held sessions closed
unhold() {
  kill -TERM "$idle_pid"
  wait "$idle_pid" || { log "sftpidle: $(tail -3 "$work/sftpidle.log")"; return 1; }
}
field() { grep -o "$1=[0-9.]*" "$2" | head -1 | cut -d= -f2; }

# ftpx_rss RUN: one run on a fresh server; "BEFORE AFTER LOGINS_PER_S"
# appended to $res/rss.ftpx
ftpx_rss() {
  local name=rss$1 before after
  ftpx_sftp "$name" --max-conns $((conns + 100)) --max-conns-per-ip $((conns + 100))
  "$work/sftpidle" -addr "127.0.0.1:${srv_port[$name]}" -user "$FTPX_USER" -key "$keys/id" -n 20 -close >/dev/null
  sleep 2
  before=$(rss_kib "$server_pid")
  hold "${srv_port[$name]}" "$FTPX_USER" "$conns"
  sleep 2
  after=$(rss_kib "$server_pid")
  unhold
  kill "$server_pid"
  wait "$server_pid" 2>/dev/null || true
  log "run $1: ftpx-server VmRSS $before KiB before, $after KiB with $conns idle SFTP sessions: $(awk -v a="$before" -v b="$after" -v n="$conns" 'BEGIN {printf "%.1f", (b - a) / n}') KiB each"
  echo "$before $after $(field logins_per_s "$idle_out")" >>"$res/rss.ftpx"
}

if [ -n "$why" ]; then
  skip sftp-rss-ftpx "ftpx-server RSS per idle SFTP session" "$why"
else
  log "=== ftpx-server memory with $conns idle SFTP sessions: $runs runs, a fresh server each ==="
  : >"$res/rss.ftpx"
  set +e
  (
    set -e
    for i in $(seq "$runs"); do ftpx_rss "$i"; done
  )
  rc=$?
  set -e
  if [ "$rc" -ne 0 ]; then
    skip sftp-rss-ftpx "ftpx-server RSS per idle SFTP session" "failed: see the log"
  else
    b=$(cut -d' ' -f1 "$res/rss.ftpx" | median)
    a=$(cut -d' ' -f2 "$res/rss.ftpx" | median)
    per=$(awk -v n="$conns" '{print ($2 - $1) / n}' "$res/rss.ftpx" | median)
    row sftp-rss-ftpx "" "ftpx-server RSS per idle SFTP session (VmRSS with $conns sessions, less before them; median of $runs runs)" "$(printf '%.1f' "$per")" KiB sftp-rss-peer,sftp-pss-peer over
    row sftp-rss-ftpx-total "" "ftpx-server VmRSS with $conns idle SFTP sessions (before them: $(awk -v b="$b" 'BEGIN {printf "%.1f", b / 1024}') MiB)" "$(awk -v a="$a" 'BEGIN {printf "%.1f", a / 1024}')" MiB
    row sftp-logins-ftpx "" "ftpx SFTP logins per second while opening them (Ed25519 key and the sftp subsystem, 4 at a time)" "$(cut -d' ' -f3 "$res/rss.ftpx" | median | awk '{printf "%.0f", $1}')" logins/s sftp-logins-peer over
  fi
fi

# the same for OpenSSH: the processes under sshd while ssh_conns sessions
# are held
openssh_rss() {
  local pids p rss=0 pss=0 np
  reap_wait "$sshd_pid"
  hold "$ssh_port" root "$ssh_conns"
  sleep 2
  pids=$(descendants "$sshd_pid")
  np=$(echo "$pids" | wc -w)
  for p in $pids; do
    rss=$((rss + $(rss_kib "$p"))) pss=$((pss + $(pss_kib "$p")))
  done
  # shellcheck disable=SC2086 # pids is words
  log "  the first processes under sshd (VmRSS KiB, command): $(ps -o rss=,args= -p "$(echo $pids | cut -d' ' -f1-3 | tr ' ' ,)" | tr -s ' ' | paste -sd';')"
  unhold
  log "OpenSSH: $np processes under sshd for $ssh_conns sessions: VmRSS $rss KiB, Pss $pss KiB in all"
  echo "$np $rss $pss $(field logins_per_s "$idle_out")" >"$res/rss.peer"
}
if [ -n "$peer_why" ]; then
  skip sftp-rss-peer "OpenSSH RSS per idle SFTP session" "$peer_why"
else
  log "=== OpenSSH memory with $ssh_conns idle SFTP sessions (one run) ==="
  set +e
  (
    set -e
    openssh_rss
  )
  rc=$?
  set -e
  if [ "$rc" -eq 0 ]; then
    read -r np rss pss lps <"$res/rss.peer"
    row sftp-rss-peer "OpenSSH RSS" "$openssh: VmRSS summed over sshd's per-connection processes ($(awk -v p="$np" -v n="$ssh_conns" 'BEGIN {printf "%.0f", p / n}') per session: sshd and sftp-server; root, so no privilege-separated child), per idle SFTP session ($ssh_conns sessions, one run)" "$(awk -v r="$rss" -v n="$ssh_conns" 'BEGIN {printf "%.1f", r / n}')" KiB
    row sftp-pss-peer "OpenSSH Pss" "$openssh: Pss (shared pages divided among their users) summed over the same processes, per idle SFTP session" "$(awk -v r="$pss" -v n="$ssh_conns" 'BEGIN {printf "%.1f", r / n}')" KiB
    row sftp-logins-peer "OpenSSH logins/s" "$openssh: SFTP logins per second while opening them (Ed25519 key and the sftp subsystem, 4 at a time)" "$(printf '%.0f' "$lps")" logins/s
  else
    skip sftp-rss-peer "OpenSSH RSS per idle SFTP session" "failed: see the log"
  fi
fi

print_own_table "ftpx SFTP against $openssh sftp-server, same clients: $label file and $n x 4 KiB files, loopback${ciphers:+; $ciphers}; ratios (vs peer) are medians of $runs alternating pairs"
