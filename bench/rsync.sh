#!/usr/bin/env bash
# bench/rsync.sh: ftpx against rsync, each workload run by both in turns.
# Plain ftpx is held against the rsync daemon (rsync://, unencrypted, each
# file checked by rsync's own checksum), ftpx over TLS (--tls, server --tls
# auto) against rsync over ssh (-e ssh, a private sshd on 127.0.0.1):
#   put and get of the BENCH_SIZE_MIB file; the ftpx put with the server's
#     --fsync=false against plain rsync, and with its default fsync against
#     rsync --fsync; the get (whose client syncs) against rsync with and
#     without --fsync;
#   put -r and get -r of the BENCH_FILES x 4 KiB tree (put -r likewise
#     twice), each run into a fresh directory;
#   a rerun of put -r and of get -r onto the unchanged copy made (untimed)
#     before the runs;
#   delta put and delta get: a new version of the big file (1,000 random
#     bytes inserted at offset 4096, 1 MiB rewritten in the middle) put onto
#     and got onto the old version, reset (untimed) before each run.
# The commands, with D the fresh destination directory of one run:
#   ftpx [--tls --trust-new-server] put FILE /D/F      rsync -a [--fsync] FILE PEER/D/F
#   ftpx get /src/F D/F                                rsync -a [--fsync] PEER/src/F D/F
#   ftpx put -r --to /D TREE                           rsync -a [--fsync] TREE PEER/D/
#   ftpx get -r --to D /src/TREE                       rsync -a PEER/src/TREE D/
#   (rerun: the same with D the same each time; delta: put NEW onto /D/F,
#   get /dsrc/F onto D/F, both holding the old version)
# where PEER is rsync://127.0.0.1:PORT/bench (a daemon this script starts
# with its own config: --no-detach, use chroot = no, uid/gid root as root)
# or root@127.0.0.1:DIR with -e 'ssh -p PORT -i KEY ...' (a private sshd
# on a free port, a key made here; needs root; the sessions get an empty
# HOME so that root's ~/.bashrc, which bash reads for ssh commands, costs
# nothing).
#
# Each workload: one warm-up pair (not counted), then BENCH_RUNS pairs, ftpx
# then rsync; each run's destination is reset or fresh, then `sync` (not
# timed); every run's time is logged, and its result checked (MD5 of the
# file, count and MD5 of the tree). Reported: ftpx's median, rsync's
# median, and in the column "vs peer" the median of the pairs' ratios
# (rsync's time / ftpx's: above 1, ftpx is faster).
#
# CPU seconds (user + system) of every run, client and server, reported
# for the small-file and delta workloads (medians): the client's are the
# children times of the subshell that waited for it (timeout, then the
# client and whatever it waited for: rsync's ssh and its own forked
# receiver); the server's are the change in utime + stime + cutime + cstime
# of ftpx-server, of the rsync daemon, or of sshd (the listener), read
# from /proc/PID/stat once the connection's processes have ended and been
# reaped: the daemon's and sshd's children (and their own children:
# rsync's receiver, sshd's session and the rsync --server under it) count
# in their parent's cutime/cstime once waited for.
#
# Bytes on the wire: one more run of each workload (not timed) through
# bench/cmd/tcpcount, a forwarder that counts what each connection carries
# both ways, for ftpx, the daemon (rsync://127.0.0.1:FORWARDER) and ssh
# (ssh -p FORWARDER); reported in kB (10^3 bytes), both directions added
# (the --fsync variants are not counted: same bytes).
#
# rsync, openssh-server and openssh-client are installed with apt-get when
# missing (as root); whatever cannot be installed or started gives
# "skipped" rows, and the rest goes on. A big-file run deletes the file of
# the side's run before it, and a workload's big files are deleted when it
# is done (a few files; no small file is deleted by this script). The
# reruns come last, after both modes' other workloads (see run_reruns).
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=bench/ftppeer.sh
. "$(dirname "$0")/ftppeer.sh"
bench_init rsync
ftp_init # file, bytes, want, tree, n, want_tree, dl, label, is_root
export FTPX_CONFIG_DIR=$work/client-config # the TLS servers are pinned there
base=$(basename "$file")
tb=$(basename "$tree")
res=$work/res
mkdir -p "$res"
go build -o "$work/tcpcount" ./bench/cmd/tcpcount

# --- the servers -----------------------------------------------------------------

declare -A srv_addr srv_pid srv_home
# ftpx_server NAME FLAG...: an ftpx-server for the workloads
ftpx_server() {
  local name=$1
  shift
  start_server "$name" "$@" || return 1
  srv_addr[$name]=$server_addr
  srv_pid[$name]=$server_pid
  srv_home[$name]=$server_root/$FTPX_USER
  mkdir -p "${srv_home[$name]}"
}

rsync_ok=true rsync_why="" has_fsync=false ssh_ok=true ssh_why="" rsyncd_port="" ssh_port=""
install_missing rsync openssh-client openssh-server
if ! have rsync; then
  rsync_ok=false rsync_why="rsync not installed"
  ssh_ok=false ssh_why="rsync not installed"
else
  # (reading all of the output: with pipefail, head or grep -q would fail on SIGPIPE)
  rsync_version=$(rsync --version | awk 'NR == 1 {print $3}')
  if rsync --help 2>/dev/null | grep -e '--fsync' >/dev/null; then has_fsync=true; fi
fi

# the rsync daemon, with its module "bench" in $work/rsyncd/data
rsyncd_home=$work/rsyncd/data
start_rsyncd() {
  mkdir -p "$rsyncd_home"
  {
    echo "use chroot = no"
    echo "reverse lookup = no"
    echo "log file = $work/rsyncd/rsyncd.log"
    echo "[bench]"
    echo "  path = $rsyncd_home"
    echo "  read only = no"
    if $is_root; then
      echo "  uid = root"
      echo "  gid = root"
    fi
  } >"$work/rsyncd/rsyncd.conf"
  start_peer rsyncd rsyncd_port rsync --daemon --no-detach "--config=$work/rsyncd/rsyncd.conf" --port=@PORT@ --address=127.0.0.1 || return 1
  rsyncd_pid=$peer_pid
}
if $rsync_ok && ! start_rsyncd; then
  rsync_ok=false rsync_why="the rsync daemon did not start"
fi

# a private sshd for rsync -e ssh, root logging in with a key made here
# (lib.sh's start_sshd)
sshd_home=$work/sshd/data
if ! $ssh_ok; then
  :
elif ! $is_root; then
  ssh_ok=false ssh_why="needs root for a private sshd with root login"
elif ! have openssh-server || ! have openssh-client; then
  ssh_ok=false ssh_why="openssh-server or openssh-client not installed"
elif ! start_sshd; then
  ssh_ok=false ssh_why="sshd did not start"
fi

# --- the workloads ---------------------------------------------------------------
#
# The globals of the workload being run: W (its name, also its directory
# on each side), kind, fx (the ftpx server's name), fx_flags, pr_flags (rsync's
# --fsync), mode (d: daemon, s: ssh), pr_port and fx_addr (the forwarder's
# during the counting run).

# pr_url PATH: rsync's name of PATH under the peer's home
pr_url() {
  if [ "$mode" = d ]; then echo "rsync://127.0.0.1:$pr_port/bench/$1"; else echo "root@127.0.0.1:$pr_home/$1"; fi
}
# home SIDE: the directory holding the side's server files
home() { if [ "$1" = ftpx ]; then echo "${srv_home[$fx]}"; else echo "$pr_home"; fi; }

# prep SIDE RUN: the side's destination, fresh or reset to the old version;
# earlier runs' big files removed (a few files, never a tree)
prep() {
  local h d
  h=$(home "$1")
  case $kind in
  putbig)
    rm -rf "${h:?}/$W"
    mkdir -p "$h/$W/$2"
    ;;
  getbig) rm -rf "${dl:?}/$W/$1" && mkdir -p "$dl/$W/$1/$2" ;;
  putr) mkdir -p "$h/$W/$2" ;;
  getr) mkdir -p "$dl/$W/$1/$2" ;;
  reput) mkdir -p "$h/$W" ;;
  reget) mkdir -p "$dl/$W/$1" ;;
  dput | dget)
    if [ "$kind" = dput ]; then d=$h/$W; else d=$dl/$W/$1; fi
    mkdir -p "$d"
    rm -f "$d/$base"
    cp "$file" "$d/$base"
    touch -d '2001-02-03 04:05:06' "$d/$base" # not the new file's mtime
    ;;
  esac
}

# cmd SIDE RUN: sets c, the side's command
cmd() {
  local s=$1 i=$2 ssh_e=()
  [ "$mode" = s ] && ssh_e=(-e "$ssh_base -p $pr_port")
  if [ "$s" = ftpx ]; then
    c=("$bin"/ftpx --quiet --server "$fx_addr" "${fx_flags[@]}")
    case $kind in
    putbig) c+=(put "$file" "/$W/$i/$base") ;;
    getbig) c+=(get "/src/$base" "$dl/$W/ftpx/$i/$base") ;;
    putr) c+=(put -r --to "/$W/$i" "$tree") ;;
    getr) c+=(get -r --to "$dl/$W/ftpx/$i" "/src/$tb") ;;
    reput) c+=(put -r --to "/$W" "$tree") ;;
    reget) c+=(get -r --to "$dl/$W/ftpx" "/src/$tb") ;;
    dput) c+=(put "$new" "/$W/$base") ;;
    dget) c+=(get "/dsrc/$base" "$dl/$W/ftpx/$base") ;;
    esac
  else
    c=(rsync -a "${pr_flags[@]}" "${ssh_e[@]}")
    case $kind in
    putbig) c+=("$file" "$(pr_url "$W/$i/$base")") ;;
    getbig) c+=("$(pr_url "src/$base")" "$dl/$W/peer/$i/$base") ;;
    putr) c+=("$tree" "$(pr_url "$W/$i/")") ;;
    getr) c+=("$(pr_url "src/$tb")" "$dl/$W/peer/$i/") ;;
    reput) c+=("$tree" "$(pr_url "$W/")") ;;
    reget) c+=("$(pr_url "src/$tb")" "$dl/$W/peer/") ;;
    dput) c+=("$new" "$(pr_url "$W/$base")") ;;
    dget) c+=("$(pr_url "dsrc/$base")" "$dl/$W/peer/$base") ;;
    esac
  fi
}

# check SIDE RUN: the side's result is whole, or the script fails
check() {
  local h f got w=$want
  h=$(home "$1")
  case $kind in
  putbig) f=$h/$W/$2/$base ;;
  getbig) f=$dl/$W/$1/$2/$base ;;
  putr) f=$h/$W/$2/$tb ;;
  getr) f=$dl/$W/$1/$2/$tb ;;
  reput) f=$h/$W/$tb ;;
  reget) f=$dl/$W/$1/$tb ;;
  dput) f=$h/$W/$base w=$want_new ;;
  dget) f=$dl/$W/$1/$base w=$want_new ;;
  esac
  if [ -d "$f" ]; then
    got=$(count_files "$f")
    [ "$got" -eq "$n" ] || { log "$W $1 run $2: $f has $got files, want $n"; return 1; }
    got=$(tree_md5 "$f")
    [ "$got" = "$want_tree" ] || { log "$W $1 run $2: $f differs from the source tree"; return 1; }
  else
    [ -f "$f" ] || { log "$W $1 run $2: no $f"; return 1; }
    got=$(md5_of "$f")
    [ "$got" = "$w" ] || { log "$W $1 run $2: $f has MD5 $got, want $w"; return 1; }
  fi
}

side_pid() { if [ "$1" = ftpx ]; then echo "${srv_pid[$fx]}"; else echo "$pr_pid"; fi; }

# count_bytes: one more run of each side through bench/cmd/tcpcount; the
# total bytes (both directions) in $res/$key.ftpx.bytes|.peer.bytes
count_bytes() {
  local s target rc tpid addr out i
  for s in ftpx peer; do
    if [ "$s" = ftpx ]; then target=$fx_addr; elif [ "$mode" = d ]; then target=127.0.0.1:$rsyncd_port; else target=127.0.0.1:$ssh_port; fi
    out=$res/$key.$s.conns
    prep "$s" count
    sync
    "$work/tcpcount" -target "$target" -out "$out" >"$out.addr" 2>>"$work/tcpcount.log" &
    tpid=$!
    for i in $(seq 100); do
      [ -s "$out.addr" ] && break
      sleep 0.05
    done
    addr=$(head -1 "$out.addr")
    [ -n "$addr" ] || { log "tcpcount did not start"; kill "$tpid"; return 1; }
    (
      # through the forwarder: another address, so another pin for TLS
      fx_addr=$addr pr_port=${addr##*:}
      export FTPX_CONFIG_DIR=$work/client-config-count-$key
      cmd "$s" count
      timeout "$cmd_timeout" "${c[@]}" >/dev/null
    ) && rc=0 || rc=$?
    kill -TERM "$tpid"
    wait "$tpid" || true
    [ "$rc" -eq 0 ] || { log "$key: the counted run of $s failed"; return 1; }
    check "$s" count
    awk '{up += $4; down += $6; if ($NF == "open") open++}
      END {printf "  bytes on the wire: up %d, down %d, %d connections%s\n", up, down, NR, (open ? ", " open " still open at the end" : "") > "/dev/stderr"
        print up + down}' "$out" >"$res/$key.$s.bytes"
  done
}

# wl NAME KIND FTPX_SERVER RSYNC_FLAG UNIT PARTS FTPX_WHAT RSYNC_WHAT: one
# workload, its rows. RSYNC_FLAG: --fsync or -; PARTS: "bytes cpu", a
# subset, or -: what to measure beyond the times.
wl() {
  W=$mode-$1 kind=$2 fx=$3
  local pflag=$4 unit=$5 parts=$6 fwhat="$fxl $7" pwhat="$prl $8" rc=0
  key=rsync-$W
  untimed_first=false # pairs (lib.sh): the reruns need a first copy
  case $kind in reput | reget) untimed_first=true ;; esac
  if [ -n "$mode_why" ]; then
    skip "$key-ftpx" "$fwhat" "$mode_why"
    skip "$key-peer" "$pwhat" "$mode_why"
    return
  fi
  if [ "$pflag" = --fsync ] && ! $has_fsync; then
    skip "$key-ftpx" "$fwhat" "rsync $rsync_version has no --fsync (3.2.4 and later do)"
    skip "$key-peer" "$pwhat" "rsync $rsync_version has no --fsync (3.2.4 and later do)"
    return
  fi
  pr_flags=()
  [ "$pflag" = - ] || pr_flags=("$pflag")
  fx_addr=${srv_addr[$fx]}
  settle
  log "=== $key: $fwhat / $pwhat: $runs pairs after a warm-up pair ==="
  # in a subshell, so that a failure ends this workload only
  set +e
  (
    set -e
    pairs
    [[ $parts != *bytes* ]] || count_bytes
    report "$unit" "$parts" "$fwhat" "$pwhat"
  )
  rc=$?
  set -e
  if [ "$rc" -ne 0 ]; then
    skip "$key-ftpx" "$fwhat" "failed: see the log"
    skip "$key-peer" "$pwhat" "failed: see the log"
  fi
  # the big files of this workload are not needed any more
  case $kind in putbig | getbig | dput | dget) rm -rf "${srv_home[$fx]:?}/$W" "${pr_home:?}/$W" "${dl:?}/$W" ;; esac
}

# the new version of the big file, for the delta workloads (lib.sh)
new=$work/delta/$base
make_new_version() {
  mkdir -p "$work/delta"
  changed_version "$file" "$new"
}
log "making the new version of the $label file (1,000 bytes inserted at 4096, 1 MiB rewritten at the middle)"
make_new_version
want_new=$(md5_of "$new")

# seed HOME: what the gets read, in a server's home (not timed)
seed() {
  mkdir -p "$1/src" "$1/dsrc"
  cp "$file" "$1/src/$base"
  cp -a "$tree" "$1/src/"
  cp "$new" "$1/dsrc/$base"
}

# setup_mode d|s: the globals of plain ftpx against the rsync daemon (d) or
# of ftpx --tls against rsync over ssh (s); the ftpx servers the first time
declare -A mode_skip=([d]="" [s]="") mode_started=([d]=false [s]=false)
$rsync_ok || mode_skip[d]=$rsync_why
$ssh_ok || mode_skip[s]=$ssh_why
setup_mode() {
  mode=$1
  if [ "$mode" = d ]; then
    peer="rsync daemon" fxl="ftpx" prl="rsync -a, daemon (rsync://):" fx_flags=()
    pr_home=$rsyncd_home pr_pid=${rsyncd_pid:-} pr_port=${rsyncd_port:-}
    nf=nf fs=fs
  else
    peer="rsync over ssh" fxl="ftpx --tls" prl="rsync -a -e ssh:" fx_flags=(--tls --trust-new-server)
    pr_home=$sshd_home pr_pid=${sshd_pid:-} pr_port=${ssh_port:-}
    nf=tlsnf fs=tlsfs
  fi
  amount=$bytes
  if [ -z "${mode_skip[$mode]}" ] && ! ${mode_started[$mode]}; then
    mode_started[$mode]=true
    if [ "$mode" = d ]; then
      ftpx_server nf --fsync=false && ftpx_server fs || mode_skip[d]="ftpx-server did not start"
    else
      ftpx_server tlsnf --tls auto --fsync=false && ftpx_server tlsfs --tls auto || mode_skip[s]="ftpx-server did not start"
    fi
    if [ -z "${mode_skip[$mode]}" ]; then
      seed "${srv_home[$nf]}"
      seed "$pr_home"
    fi
  fi
  mode_why=${mode_skip[$mode]}
  [ -n "$mode_why" ] || log "=== $fxl against $peer (rsync $rsync_version) ==="
}

# run_main d|s: every workload but the reruns
run_main() {
  setup_mode "$1"
  wl putbig-nf putbig "$nf" - MB/s bytes "put $label, server --fsync=false (no side syncs)" "upload $label (no side syncs)"
  wl putbig-fs putbig "$fs" --fsync MB/s - "put $label, server fsync (the default: the server syncs)" "--fsync upload $label (the receiving side syncs)"
  wl getbig getbig "$nf" - MB/s bytes "get $label (the client syncs)" "download $label (no side syncs)"
  wl getbig-fs getbig "$nf" --fsync MB/s - "get $label (the client syncs)" "--fsync download $label (the client syncs)"
  wl putr-nf putr "$nf" - files/s "bytes cpu" "put -r, $n x 4 KiB, server --fsync=false (no side syncs)" "upload $n x 4 KiB (no side syncs)"
  wl putr-fs putr "$fs" --fsync files/s cpu "put -r, $n x 4 KiB, server fsync (the server syncs)" "--fsync upload $n x 4 KiB (the receiver syncs each file)"
  wl getr getr "$nf" - files/s "bytes cpu" "get -r, $n x 4 KiB (the client syncs)" "download $n x 4 KiB (no side syncs)"
  wl dput dput "$nf" - s "bytes cpu" "put of the changed $label file onto its old version, server --fsync=false" "upload of the changed $label file onto its old version (no side syncs)"
  wl dget dget "$nf" - s "bytes cpu" "get of the changed $label file onto its old local version (the client syncs)" "download of the changed $label file onto its old local version (no side syncs)"
  if [ -z "$mode_why" ]; then rm -rf "${srv_home[$nf]:?}/src/$base" "${srv_home[$nf]:?}/dsrc" "$pr_home/src/$base" "$pr_home/dsrc"; fi
}

# run_reruns d|s: the reruns, last: until ftpx skips unchanged files, its
# rerun replaces every file of the tree, deleting as many, and on this file
# system creating files is slower for minutes after many were deleted
# (README, Performance): the workloads that create files come first
run_reruns() {
  setup_mode "$1"
  wl reput reput "$nf" - s "bytes cpu" "put -r rerun onto the unchanged copy, $n x 4 KiB, server --fsync=false" "upload rerun onto the unchanged copy, $n x 4 KiB"
  wl reget reget "$nf" - s "bytes cpu" "get -r rerun onto the unchanged local copy, $n x 4 KiB" "download rerun onto the unchanged local copy, $n x 4 KiB"
}

run_main d
run_main s
run_reruns d
run_reruns s

print_own_table "ftpx against rsync: $label file and $n x 4 KiB files, loopback; ratios (vs peer) are medians of $runs alternating pairs"
