# shellcheck shell=bash disable=SC2034,SC2154
# (SC2034: the globals set here are used by the scripts that source this
# file; SC2154: the helpers for runs in pairs read the globals those scripts
# set, as described there)
# bench/lib.sh: helpers shared by the bench/*.sh scripts (sourced, not run).
#
# Settings, from the environment (bench/all.sh sets them for every script):
#   BENCH_SIZE_MIB  size of the big file (default 1024)
#   BENCH_FILES     number of 4 KiB files in the small-file tree (default 10000)
#   BENCH_RUNS      runs per figure; each figure is their median (default 3)
#   BENCH_TIMEOUT   seconds any one measured command may take (default 600)
#   BENCH_BIGFILE   an existing file of random bytes to use instead of making one
#   BENCH_TREE      an existing directory of BENCH_FILES small files to use
#   BENCH_ROWS      append the figures to this file (see row) for bench/all.sh
#   BENCH_SCRATCH   make the work directory there and do not delete it
#
# Small-file workloads always write into fresh directories and nothing is
# deleted before the end: on this file system creating files soon after
# deleting many is 10-50x slower for minutes.

bench_init() {
  cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
  size_mib=${BENCH_SIZE_MIB:-1024}
  files=${BENCH_FILES:-10000}
  runs=${BENCH_RUNS:-3}
  cmd_timeout=${BENCH_TIMEOUT:-600}
  tck=$(getconf CLK_TCK) # clock ticks per second, in /proc/PID/stat
  bin=bin
  if [ ! -x "$bin"/ftpx ] || [ ! -x "$bin"/ftpx-server ]; then make build >/dev/null; fi
  # BENCH_SCRATCH (set by bench/all.sh): work there and leave it, the
  # caller deletes it at the very end
  work=$(mktemp -d "${BENCH_SCRATCH:-${TMPDIR:-/tmp}}/ftpx-$1.XXXXXX")
  rows=${BENCH_ROWS:-$work/rows.tsv}
  own_rows=$work/own-rows.tsv
  : >"$own_rows"
  server_pids=()
  cleanup_hooks=()
  shopt -s inherit_errexit # a failure inside $(...) fails the assignment
  trap bench_cleanup EXIT
  trap 'exit 143' TERM
  trap 'exit 130' INT
  export FTPX_STATE_DIR=$work/state FTPX_USER=bench FTPX_PASSWORD=secret-bench
  printf '%s\n' "$FTPX_PASSWORD" | "$bin"/ftpx-server user add --password-stdin --accounts "$work/accounts.ini" bench >/dev/null
}

# on_exit CMD: run CMD (a string) at cleanup, before the servers are stopped.
on_exit() { cleanup_hooks+=("$1"); }

bench_cleanup() {
  local rc=$? pid hook
  set +e
  for hook in "${cleanup_hooks[@]}"; do eval "$hook"; done
  for pid in "${server_pids[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${server_pids[@]}"; do wait "$pid" 2>/dev/null; done
  [ -n "${BENCH_SCRATCH:-}" ] || rm -rf "$work"
  exit "$rc"
}

log() { printf '%s: %s\n' "$(basename "$0" .sh)" "$*" >&2; }

# start_server NAME [FLAG...]: an ftpx-server on a free loopback port with
# its own data root $work/NAME; sets server_addr, server_pid, server_root and
# exports FTPX_SERVER.
start_server() {
  local name=$1 i
  shift
  server_root=$work/$name
  "$bin"/ftpx-server --listen 127.0.0.1:0 --root "$server_root" --accounts "$work/accounts.ini" "$@" 2>"$work/$name.log" &
  server_pid=$!
  server_pids+=("$server_pid")
  for i in $(seq 100); do
    grep -q 'addr=' "$work/$name.log" && break
    kill -0 "$server_pid" 2>/dev/null || break
    [ "$i" -lt 100 ] && sleep 0.1
  done
  server_addr=$(grep -o ' addr=127.0.0.1:[0-9]*' "$work/$name.log" | head -1 | cut -d= -f2)
  if [ -z "$server_addr" ]; then
    log "ftpx-server $name did not start:"
    cat "$work/$name.log" >&2
    return 1
  fi
  export FTPX_SERVER=$server_addr
}

now() { date +%s.%N; }
# median of the numbers on stdin
median() { sort -g | awk '{a[NR]=$1} END {if (NR) print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
mbps() { awk -v b="$1" -v s="$2" 'BEGIN {printf "%.0f", b/s/1e6}'; }
per_s() { awk -v n="$1" -v s="$2" 'BEGIN {printf "%.0f", n/s}'; }
# time_of CMD...: seconds CMD takes (its stdout discarded), bounded by BENCH_TIMEOUT
time_of() {
  local t0 t1
  t0=$(now)
  timeout "$cmd_timeout" "$@" >/dev/null || return
  t1=$(now)
  # every run's time goes to the log, to judge the spread behind a median
  awk -v a="$t0" -v b="$t1" -v cmd="${*:1:4}" 'BEGIN {printf "  %8.3f s  %s\n", b-a, cmd > "/dev/stderr"; print b-a}'
}
# settle: flush dirty pages so that one workload's writeback does not land
# in the next one's timing (not timed itself)
settle() { sync; }
md5_of() { md5sum <"$1" | cut -d' ' -f1; }
# tree_md5 DIR: one MD5 over every file of DIR in name order
tree_md5() { (cd "$1" && find . -type f ! -name '.*' -printf '%P\n' | LC_ALL=C sort | xargs cat | md5sum | cut -d' ' -f1); }
count_files() { find "$1" -type f ! -name '.*' | wc -l; }

# big_file: path of a BENCH_SIZE_MIB file of random bytes (BENCH_BIGFILE, or
# one made now)
big_file() {
  if [ -n "${BENCH_BIGFILE:-}" ]; then echo "$BENCH_BIGFILE"; return; fi
  if [ ! -f "$work/src.bin" ]; then
    log "making a $size_mib MiB file of random bytes"
    head -c $((size_mib << 20)) /dev/urandom >"$work/src.bin"
  fi
  echo "$work/src.bin"
}

# make_tree DIR N: N files of 4 KiB of random bytes in the fresh directory DIR
make_tree() {
  mkdir -p "$1"
  head -c $(($2 * 4096)) /dev/urandom | split -b 4096 -a 6 -d - "$1/f"
}

# changed_version OLD NEW: NEW is OLD with 1,000 random bytes inserted at
# offset 4096 and 1 MiB rewritten with random bytes at the middle; OLD's
# bytes otherwise (what the delta workloads send onto OLD)
changed_version() {
  local bytes mid
  bytes=$(stat -c %s "$1")
  { head -c 4096 "$1"; head -c 1000 /dev/urandom; tail -c +4097 "$1"; } >"$2"
  mid=$(((bytes + 1000) / 2 - (1 << 19)))
  [ "$mid" -ge 5096 ] || mid=5096
  dd if=/dev/urandom of="$2" bs=1M count=1 iflag=fullblock seek="$mid" oflag=seek_bytes conv=notrunc status=none
  [ "$(stat -c %s "$2")" -eq $((bytes + 1000)) ] || { log "the new version has the wrong size"; return 1; }
}

# small_tree: path of the BENCH_FILES x 4 KiB tree (BENCH_TREE, or one made now)
small_tree() {
  if [ -n "${BENCH_TREE:-}" ]; then echo "$BENCH_TREE"; return; fi
  if [ ! -d "$work/tree" ]; then
    log "making $files files of 4 KiB"
    make_tree "$work/tree" "$files"
  fi
  echo "$work/tree"
}

# row KEY SHORT WHAT FIGURE UNIT [REF MODE [VS]]: one line of the results table.
# KEY names the row for other rows' ratios, SHORT is how a ratio names it.
# MODE "over": the ratio is FIGURE / REF's figure ("0.62x Go MD5");
# MODE "inv": REF's figure / FIGURE ("ftpx get / this = 1.85"), for peers.
# REF may list several keys separated by commas.
# VS: the text of the column "vs peer", a ratio the script computed itself
# against a peer it names ("1.23x rsync daemon": bench/rsync.sh's median of
# the per-pair ratios, the peer's time over ftpx's).
row() {
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "${6:-}" "${7:-}" "${8:-}" | tee -a "$own_rows" >>"$rows"
}

# print_table FILE [ONLY]: the rows of FILE as a markdown table, ratios
# resolved against every row of FILE (a missing reference shows as "-");
# with ONLY (another rows file), only the rows whose keys are in it.
print_table() {
  awk -F'\t' -v only="${2:-}" '
    BEGIN { if (only != "") while ((getline l < only) > 0) { split(l, f, "\t"); keep[f[1]] = 1 } }
    { n++; key[n]=$1; short[$1]=$2; what[n]=$3; fig[n]=$4; fv[$1]=$4; unit[n]=$5; ref[n]=$6; mode[n]=$7; vs[n]=$8 }
    function num(x) { return x ~ /^[0-9.]+$/ && x+0 > 0 }
    END {
      print "| what | figure | unit | vs peer | ratio vs reference |"
      print "|---|---:|---|---:|---|"
      for (i = 1; i <= n; i++) {
        if (only != "" && !(key[i] in keep)) continue
        r = ""
        m = split(ref[i], refs, ",")
        for (j = 1; j <= m; j++) {
          k = refs[j]
          if (!num(fig[i]) || !num(fv[k])) continue
          if (mode[i] == "inv") t = sprintf("%s / this = %.2f", short[k], fv[k]/fig[i])
          else t = sprintf("%.2fx %s", fig[i]/fv[k], short[k])
          r = r (r == "" ? "" : "; ") t
        }
        if (r == "") r = "-"
        v = vs[i] == "" ? "-" : vs[i]
        gsub(/\|/, "\\|", what[i])
        printf "| %s | %s | %s | %s | %s |\n", what[i], fig[i], unit[i], v, r
      }
    }' "$1"
}

# print_own_table TITLE: this script's rows, with ratios against every row
# of the run so far (BENCH_ROWS) when there is one.
print_own_table() {
  echo
  echo "$1"
  print_table "$rows" "$own_rows"
}

# --- alternating pairs, CPU seconds (bench/rsync.sh, bench/sftp.sh) ----------
#
# A script that runs ftpx and a peer in turns defines, for the workload
# being run (the globals kind, key and whatever else they need):
#   prep SIDE RUN     the side's destination, fresh or reset (not timed)
#   cmd SIDE RUN      sets the array c, the side's command
#   check SIDE RUN    the side's result is whole, or it fails (not timed)
#   side_pid SIDE     the server process whose CPU seconds count
# with SIDE ftpx or peer and RUN w (the warm-up), 1..BENCH_RUNS, or first
# (the untimed copy made before the runs when untimed_first is true), and
# sets res (the directory of the runs' figures) and peer (the peer's name
# in the column "vs peer").

# proc_cpu PID: clock ticks of PID (user + system) and of the children it
# has waited for
proc_cpu() {
  local st
  read -r -a st <"/proc/$1/stat"
  echo $((st[13] + st[14] + st[15] + st[16]))
}

# reap_wait PID: until PID has no child process left (the rsync daemon's
# and sshd's per-connection children end, and are waited for, just after
# the client does)
reap_wait() {
  local i c
  for i in $(seq 200); do
    c=$(cat "/proc/$1/task/$1/children" 2>/dev/null) || return 0
    [ -z "$c" ] && return 0
    sleep 0.05
  done
  log "warning: pid $1 still has children $c: its CPU seconds are short"
}

# timed SERVER_PID CMD...: runs CMD (stdout discarded, bounded by
# BENCH_TIMEOUT) and prints "WALL CLIENT_CPU SERVER_CPU" in seconds; logs
# them after side_tag. The client's CPU seconds are the children times of
# the subshell that waited for it (timeout, then the client and whatever
# it waited for: an ssh under sftp, scp or rsync); the server's the change
# in utime + stime + cutime + cstime of SERVER_PID once its children have
# ended and been reaped (an sshd's per-connection processes, and theirs,
# count in its cutime/cstime once waited for).
timed() {
  local pid=$1 s0 s1 r t0 t1 c
  shift
  s0=$(proc_cpu "$pid")
  # the subshell waits for timeout, which waits for CMD: the subshell's
  # children times are CMD's and its waited-for children's
  # shellcheck disable=SC2030,SC2031
  r=$(
    t0=$EPOCHREALTIME
    timeout "$cmd_timeout" "$@" >/dev/null || exit 1
    t1=$EPOCHREALTIME
    read -r -a st <"/proc/$BASHPID/stat"
    echo "$t0 $t1 $((st[15] + st[16]))"
  ) || { log "failed (or ran out of time): ${*:1:6}"; return 1; }
  reap_wait "$pid"
  s1=$(proc_cpu "$pid")
  read -r t0 t1 c <<<"$r"
  awk -v a="$t0" -v b="$t1" -v c="$c" -v s="$((s1 - s0))" -v t="$tck" -v cmd="${side_tag:-} ${*:1:8}" 'BEGIN {
    printf "  %8.3f s  client %6.2f s CPU  server %6.2f s CPU  %s\n", b - a, c / t, s / t, cmd > "/dev/stderr"
    printf "%.4f %.2f %.2f\n", b - a, c / t, s / t }'
}

# pairs: the warm-up pair, then BENCH_RUNS pairs, ftpx then the peer; each
# counted run's "WALL CLIENT SERVER" appended to $res/$key.ftpx|.peer
pairs() {
  local i s r
  : >"$res/$key.ftpx"
  : >"$res/$key.peer"
  if ${untimed_first:-false}; then
    log "$key: the first copy (not timed)"
    for s in ftpx peer; do
      prep "$s" first
      cmd "$s" first
      timeout "$cmd_timeout" "${c[@]}" >/dev/null
      check "$s" first
    done
  fi
  for i in w $(seq "$runs"); do
    for s in ftpx peer; do
      prep "$s" "$i"
      sync
      cmd "$s" "$i"
      side_tag="$s run $i:"
      [ "$i" = w ] && side_tag="$s warm-up:"
      r=$(timed "$(side_pid "$s")" "${c[@]}")
      check "$s" "$i"
      [ "$i" = w ] || echo "$r" >>"$res/$key.$s"
    done
  done
}

# pair_ratio FTPX_FILE PEER_FILE: the median over the pairs of the peer's
# time (first field) over ftpx's, logged with each pair's
pair_ratio() {
  local ratio
  ratio=$(paste -d' ' "$1" "$2" | awk '{print $(NF / 2 + 1) / $1}' | median)
  log "$key: ${peer}/ftpx per pair: $(paste -d' ' "$1" "$2" | awk '{printf "%.2f ", $(NF / 2 + 1) / $1}')-> $ratio"
  echo "$ratio"
}

# report UNIT PARTS FTPX_WHAT PEER_WHAT: the rows of one workload: ftpx's
# and the peer's medians (UNIT MB/s of $amount bytes, files/s of $n files,
# or s), in "vs peer" the median of the pairs' ratios; with PARTS holding
# cpu, their CPU seconds, and bytes, the bytes in $res/$key.ftpx|peer.bytes
report() {
  local unit=$1 parts=$2 fwhat=$3 pwhat=$4 f p ratio fig pfig fb pb ft pt
  f=$res/$key.ftpx p=$res/$key.peer
  ft=$(cut -d' ' -f1 "$f" | median)
  pt=$(cut -d' ' -f1 "$p" | median)
  log "$key: ftpx $ft s, $peer $pt s (medians)"
  ratio=$(pair_ratio "$f" "$p")
  case $unit in
  MB/s) fig=$(mbps "$amount" "$ft") pfig=$(mbps "$amount" "$pt") ;;
  files/s) fig=$(per_s "$n" "$ft") pfig=$(per_s "$n" "$pt") ;;
  s) fig=$(printf '%.3f' "$ft") pfig=$(printf '%.3f' "$pt") ;;
  esac
  row "$key-ftpx" "" "$fwhat" "$fig" "$unit" "" "" "$(printf '%.2fx %s' "$ratio" "$peer")"
  row "$key-peer" "$peer" "$pwhat" "$pfig" "$unit"
  if [[ $parts == *cpu* ]]; then
    cpu_row "$key-ftpx-cpu" "" "$fwhat" "$f" "$key-peer-cpu"
    cpu_row "$key-peer-cpu" "$peer CPU" "$pwhat" "$p"
  fi
  if [[ $parts == *bytes* ]]; then
    fb=$(cat "$f.bytes") pb=$(cat "$p.bytes")
    row "$key-ftpx-bytes" "" "$fwhat: bytes on the wire, both directions (one run)" "$(awk -v b="$fb" 'BEGIN {printf "%.1f", b / 1e3}')" kB "$key-peer-bytes" over
    row "$key-peer-bytes" "$peer bytes" "$pwhat: bytes on the wire, both directions (one run)" "$(awk -v b="$pb" 'BEGIN {printf "%.1f", b / 1e3}')" kB
  fi
}

# cpu_row KEY SHORT WHAT FILE [REF]: the median CPU seconds of FILE's runs
cpu_row() {
  local c s
  c=$(cut -d' ' -f2 "$4" | median)
  s=$(cut -d' ' -f3 "$4" | median)
  row "$1" "$2" "$3: CPU seconds (user+sys), client $(printf '%.2f' "$c") + server $(printf '%.2f' "$s") (medians)" "$(awk -v c="$c" -v s="$s" 'BEGIN {printf "%.2f", c + s}')" s "${5:-}" "${5:+over}"
}

# start_sshd: a private sshd on a free loopback port (bench/ftppeer.sh's
# start_peer), root logging in with the key $work/sshd/id (made here unless
# the caller made it), OpenSSH's sftp-server as its Subsystem sftp; sets
# ssh_port, sshd_pid, sshd_home (root's files for the workloads, default
# $work/sshd/data) and ssh_base (the ssh command without the port, for
# rsync -e). Needs root.
start_sshd() {
  local d=$work/sshd
  : "${sshd_home:=$d/data}"
  # HOME (SetEnv, below): bash, the remote command's shell, reads ~/.bashrc
  # when sshd starts it, and root's may do much (on this project's machine
  # `pyenv init`: 0.7 s of CPU and about 1 s per connection); an empty home
  # makes it the cost of a plain account's shell
  mkdir -p "$d" "$d/home" "$sshd_home" /run/sshd
  [ -f "$d/host_key" ] || ssh-keygen -q -t ed25519 -N '' -f "$d/host_key"
  [ -f "$d/id" ] || ssh-keygen -q -t ed25519 -N '' -f "$d/id"
  cp "$d/id.pub" "$d/authorized_keys"
  cat >"$d/sshd_config" <<EOC
ListenAddress 127.0.0.1
HostKey $d/host_key
PidFile $d/sshd.pid
AuthorizedKeysFile $d/authorized_keys
PermitRootLogin prohibit-password
AllowUsers root
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
UseDNS no
SetEnv HOME=$d/home
Subsystem sftp /usr/lib/openssh/sftp-server
EOC
  start_peer sshd ssh_port /usr/sbin/sshd -D -e -f "$d/sshd_config" -p @PORT@ || return 1
  sshd_pid=$peer_pid
  # for rsync -e, without the port (no spaces in the temp dir's path)
  ssh_base="ssh -F /dev/null -i $d/id -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR"
  # shellcheck disable=SC2086 # ssh_base is words
  if ! timeout 20 $ssh_base -p "$ssh_port" root@127.0.0.1 true; then
    tail -5 "$work/sshd.stderr" >&2
    return 1
  fi
}
