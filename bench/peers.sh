#!/usr/bin/env bash
# bench/peers.sh: the 1 GiB and 10,000 x 4 KiB workloads against other
# servers on this machine, so that ftpx/peer ratios come from one run
# (bench/all.sh runs this after the ftpx workloads; alone it prints the
# peers' figures without ratios):
#   vsftpd and pyftpdlib: curl -T (1 GiB upload, unverified); curl to a file
#     then md5sum, and curl | md5sum (1 GiB download, verified); lftp mirror
#     -R and lftp mirror (the small files, up and down), lftp's defaults;
#   rsync -a over ssh to a private sshd on 127.0.0.1:2222 (root, a key made
#     here): the big file and the tree, up and down.
# Missing tools are installed with apt-get (Debian packages; needs root);
# whatever cannot be installed or started is skipped with a message and a
# "skipped" row. No peer syncs to disk. Medians of BENCH_RUNS runs.
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
bench_init peers
ssh_port=${BENCH_SSH_PORT:-2222}
ftp_user=ftpxbench
is_root=false
[ "$(id -u)" -eq 0 ] && is_root=true

file=$(big_file)
bytes=$(stat -c %s "$file")
want=$(md5_of "$file")
tree=$(small_tree)
n=$(count_files "$tree")
want_tree=$(tree_md5 "$tree")
chmod 755 "$work" # the FTP user reaches its home under it
dl=$work/downloads
mkdir -p "$dl"
label="$size_mib MiB"

# --- installing ------------------------------------------------------------

have() {
  case $1 in
  vsftpd) [ -x /usr/sbin/vsftpd ] ;;
  openssh-server) [ -x /usr/sbin/sshd ] ;;
  openssh-client) command -v ssh >/dev/null && command -v ssh-keygen >/dev/null ;;
  python3-pyftpdlib) [ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import pyftpdlib' 2>/dev/null ;;
  *) command -v "$1" >/dev/null ;;
  esac
}

install_missing() {
  local missing=() p policy=false
  for p in curl lftp vsftpd python3-pyftpdlib rsync openssh-client openssh-server; do
    have "$p" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return
  if ! $is_root || ! command -v apt-get >/dev/null; then
    log "cannot install ${missing[*]} (needs root and apt-get): what needs them is skipped"
    return
  fi
  log "installing ${missing[*]} with apt-get (log: $work/apt.log)"
  # keep the packages' own services (vsftpd on :21, sshd on :22) from starting
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    policy=true
  fi
  apt_install() { DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y --no-install-recommends "$@" >>"$work/apt.log" 2>&1; }
  if ! apt_install "${missing[@]}"; then
    timeout 300 apt-get update >>"$work/apt.log" 2>&1 || true
    apt_install "${missing[@]}" || for p in "${missing[@]}"; do apt_install "$p" || log "could not install $p"; done
  fi
  if $policy; then rm -f /usr/sbin/policy-rc.d; fi
  for p in "${missing[@]}"; do have "$p" || log "$p is still missing: what needs it is skipped"; done
}
install_missing

# skip KEY WHAT REASON: a row for a figure that could not be measured
skip() {
  grep -q "^$1	" "$own_rows" && return # measured before the failure
  log "skipped: $2: $3"
  row "$1" - "$2" skipped "($3)"
}

# free_port: a loopback port that no socket uses, below the ephemeral range:
# outgoing connections take ports there, and the thousands of FTP data
# connections of a mirror leave them in TIME_WAIT
free_port() {
  local low used p
  low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
  used=" $(awk '$2 ~ /:/ {split($2, a, ":"); print a[2]}' /proc/net/tcp /proc/net/tcp6 2>/dev/null |
    while read -r h; do printf '%d ' $((16#$h)); done)"
  for p in $(shuf -i 10000-$((low - 1)) -n 100); do
    case $used in *" $p "*) continue ;; esac
    echo "$p"
    return
  done
  return 1
}

# start_peer NAME PORT_VAR CMD...: start CMD (in which the word @PORT@ becomes
# a free port) until it listens, three tries; sets PORT_VAR and peer_pid
start_peer() {
  local name=$1 var=$2 try p arg args
  shift 2
  for try in 1 2 3; do
    p=$(free_port)
    args=()
    for arg in "$@"; do args+=("${arg//@PORT@/$p}"); done
    "${args[@]}" 2>"$work/$name.stderr" &
    peer_pid=$!
    server_pids+=("$peer_pid")
    if wait_port "$p" "$peer_pid"; then
      printf -v "$var" "%s" "$p"
      return 0
    fi
    tail -3 "$work/$name.stderr" >&2
    kill "$peer_pid" 2>/dev/null || true
    log "$name did not start (try $try of 3)"
  done
  return 1
}

# wait_port PORT PID: until something listens on PORT (false if PID dies)
wait_port() {
  local i
  for i in $(seq 100); do
    (: >"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    kill -0 "$2" 2>/dev/null || return 1
    [ "$i" -lt 100 ] && sleep 0.1
  done
  return 1
}

# --- FTP servers -------------------------------------------------------------

lftp_script() { # PORT USER PASSWORD COMMAND
  printf 'set ftp:ssl-allow no; set net:max-retries 2; set net:timeout 60; set cmd:fail-exit yes; open -u %s,%s -p %s 127.0.0.1; %s' "$2" "$3" "$1" "$4"
}

# ftp_peer NAME TITLE PORT USER PASSWORD HOME: every FTP figure against one
# server whose user's files are under HOME
ftp_peer() {
  local name=$1 title=$2 port=$3 user=$4 pw=$5 home=$6 url s i
  url="ftp://$user:$pw@127.0.0.1:$port"
  if ! have curl; then
    skip "$name-up" "$title: curl -T upload, $label" "curl missing"
    skip "$name-down" "$title: curl to a file, then md5sum, $label" "curl missing"
    skip "$name-stream" "$title: curl piped into md5sum, $label" "curl missing"
  else
    settle
    log "$title: curl -T, $runs runs"
    s=$(for i in $(seq "$runs"); do time_of curl -sS --fail -T "$file" "$url/up$i.bin" || exit 1; done | median) || return 1
    [ "$(md5_of "$home/up1.bin")" = "$want" ] || { log "$title: the uploaded file differs"; return 1; }
    row "$name-up" - "$title: curl -T upload, $label (unverified)" "$(mbps "$bytes" "$s")" MB/s ftpx-put,ftpx-put-nofsync inv
    settle
    log "$title: curl to a file + md5sum, $runs runs"
    s=$(for i in $(seq "$runs"); do
      # shellcheck disable=SC2016 # $1 and $2 are bash -c's
      time_of bash -c 'curl -sS --fail -o "$1" "$2" && md5sum <"$1" >"$1.md5"' _ "$dl/$name-down$i.bin" "$url/up1.bin" || exit 1
      [ "$(cut -d' ' -f1 "$dl/$name-down$i.bin.md5")" = "$want" ] || { log "$title: download $i differs"; exit 1; }
    done | median) || return 1
    row "$name-down" - "$title: curl to a file, then md5sum, $label" "$(mbps "$bytes" "$s")" MB/s ftpx-get inv
    log "$title: curl | md5sum, $runs runs"
    s=$(for i in $(seq "$runs"); do
      # shellcheck disable=SC2016
      time_of bash -c 'set -o pipefail; curl -sS --fail "$1" | md5sum >"$2"' _ "$url/up1.bin" "$dl/$name-stream$i.md5" || exit 1
      [ "$(cut -d' ' -f1 "$dl/$name-stream$i.md5")" = "$want" ] || { log "$title: streamed download $i differs"; exit 1; }
    done | median) || return 1
    row "$name-stream" - "$title: curl piped into md5sum (streamed), $label" "$(mbps "$bytes" "$s")" MB/s ftpx-get inv
  fi

  if ! have lftp; then
    skip "$name-mup" "$title: lftp mirror -R, $n x 4 KiB" "lftp missing"
    skip "$name-mdown" "$title: lftp mirror, $n x 4 KiB" "lftp missing"
    return
  fi
  settle
  log "$title: lftp mirror -R, $n files, $runs runs"
  s=$(for i in $(seq "$runs"); do
    time_of lftp -c "$(lftp_script "$port" "$user" "$pw" "mirror -R $tree mup$i")" || exit 1
    [ "$(count_files "$home/mup$i")" -eq "$n" ] || { log "$title: mirror -R $i is incomplete"; exit 1; }
  done | median) || return 1
  row "$name-mup" - "$title: lftp mirror -R, $n x 4 KiB" "$(per_s "$n" "$s")" files/s ftpx-putr,ftpx-putr-nofsync inv
  settle
  log "$title: lftp mirror, $n files, $runs runs"
  s=$(for i in $(seq "$runs"); do
    time_of lftp -c "$(lftp_script "$port" "$user" "$pw" "mirror mup1 $dl/$name-mdown$i")" || exit 1
    [ "$(count_files "$dl/$name-mdown$i")" -eq "$n" ] || { log "$title: mirror $i is incomplete"; exit 1; }
  done | median) || return 1
  [ "$(tree_md5 "$dl/${name}-mdown1")" = "$want_tree" ] || { log "$title: mirrored tree differs"; return 1; }
  row "$name-mdown" - "$title: lftp mirror (download), $n x 4 KiB" "$(per_s "$n" "$s")" files/s ftpx-getr inv
}

skip_ftp() { # NAME TITLE REASON
  skip "$1-up" "$2: curl -T upload, $label" "$3"
  skip "$1-down" "$2: curl to a file, then md5sum, $label" "$3"
  skip "$1-stream" "$2: curl piped into md5sum, $label" "$3"
  skip "$1-mup" "$2: lftp mirror -R, $n x 4 KiB" "$3"
  skip "$1-mdown" "$2: lftp mirror, $n x 4 KiB" "$3"
}

run_vsftpd() {
  local title pw port home=$work/vsftpd/home
  title="vsftpd $(dpkg-query -W -f '${Version}' vsftpd 2>/dev/null | cut -d- -f1)"
  if ! $is_root; then skip_ftp vsftpd vsftpd "needs root for its user"; return; fi
  if ! have vsftpd; then skip_ftp vsftpd vsftpd "not installed"; return; fi
  if getent passwd "$ftp_user" >/dev/null && [ "$(getent passwd "$ftp_user" | cut -d: -f5)" != "ftpx bench" ]; then
    skip_ftp vsftpd "$title" "user $ftp_user exists and is not this script's"
    return
  fi
  pw=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
  mkdir -p "$home" "$work/vsftpd/empty"
  if ! getent passwd "$ftp_user" >/dev/null; then
    useradd --no-create-home --home-dir "$home" --shell /bin/sh --comment "ftpx bench" "$ftp_user"
  fi
  on_exit "userdel $ftp_user 2>/dev/null"
  usermod --home "$home" "$ftp_user" 2>/dev/null || true
  printf '%s:%s\n' "$ftp_user" "$pw" | chpasswd
  chown "$ftp_user" "$home"
  if ! runuser -u "$ftp_user" -- test -w "$home"; then
    skip_ftp vsftpd "$title" "$ftp_user cannot reach $home: a parent directory is private (set TMPDIR)"
    return
  fi
  cat >"$work/vsftpd/vsftpd.conf" <<EOF
listen=YES
listen_ipv6=NO
listen_address=127.0.0.1
background=NO
anonymous_enable=NO
local_enable=YES
write_enable=YES
local_umask=022
pasv_enable=YES
pasv_address=127.0.0.1
seccomp_sandbox=NO
isolate=NO
isolate_network=NO
secure_chroot_dir=$work/vsftpd/empty
pam_service_name=vsftpd
xferlog_enable=NO
vsftpd_log_file=$work/vsftpd/vsftpd.log
EOF
  if ! start_peer vsftpd port /usr/sbin/vsftpd "$work/vsftpd/vsftpd.conf" -olisten_port=@PORT@; then
    skip_ftp vsftpd "$title" "did not start"
    return
  fi
  ftp_peer vsftpd "$title" "$port" "$ftp_user" "$pw" "$home" || skip_ftp vsftpd "$title" "failed: see above"
  kill "$peer_pid"
}

run_pyftpdlib() {
  local title pw port home=$work/pyftpdlib/home
  title="pyftpdlib $(dpkg-query -W -f '${Version}' python3-pyftpdlib 2>/dev/null | cut -d- -f1)"
  if ! have python3-pyftpdlib; then skip_ftp pyftpdlib pyftpdlib "not installed"; return; fi
  pw=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
  mkdir -p "$home"
  # Debian's package, hence /usr/bin/python3 (not whatever python3 is first in PATH)
  if ! start_peer pyftpdlib port /usr/bin/python3 -m pyftpdlib -i 127.0.0.1 -p @PORT@ -w -d "$home" -u "$ftp_user" -P "$pw"; then
    skip_ftp pyftpdlib "$title" "did not start"
    return
  fi
  ftp_peer pyftpdlib "$title" "$port" "$ftp_user" "$pw" "$home" || skip_ftp pyftpdlib "$title" "failed: see above"
  kill "$peer_pid"
}

# --- rsync over ssh ----------------------------------------------------------

skip_rsync() {
  skip rsync-up "rsync -a over ssh, upload $label" "$1"
  skip rsync-down "rsync -a over ssh, download $label" "$1"
  skip rsync-tup "rsync -a over ssh, upload $n x 4 KiB" "$1"
  skip rsync-tdown "rsync -a over ssh, download $n x 4 KiB" "$1"
}

run_rsync() {
  local s i p pid d=$work/ssh remote=$work/rsync ssh
  if ! $is_root; then skip_rsync "needs root for a private sshd with root login"; return; fi
  for p in rsync openssh-server openssh-client; do
    have $p || { skip_rsync "$p not installed"; return; }
  done
  if (: >"/dev/tcp/127.0.0.1/$ssh_port") 2>/dev/null; then skip_rsync "port $ssh_port is taken"; return; fi
  mkdir -p "$d" "$remote" /run/sshd
  ssh-keygen -q -t ed25519 -N '' -f "$d/host_key"
  ssh-keygen -q -t ed25519 -N '' -f "$d/id"
  cp "$d/id.pub" "$d/authorized_keys"
  cat >"$d/sshd_config" <<EOF
Port $ssh_port
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
EOF
  /usr/sbin/sshd -D -e -f "$d/sshd_config" 2>"$d/sshd.log" &
  pid=$!
  server_pids+=("$pid")
  local ssh_args=(ssh -p "$ssh_port" -i "$d/id" -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR)
  ssh="${ssh_args[*]}" # for rsync -e (no spaces in the temp dir's path)
  if ! wait_port "$ssh_port" "$pid" || ! timeout 20 "${ssh_args[@]}" root@127.0.0.1 true; then
    tail -5 "$d/sshd.log" >&2
    skip_rsync "sshd did not start"
    return
  fi
  local title
  title="rsync $(rsync --version | head -1 | awk '{print $3}') -a over ssh"
  settle
  log "rsync: $label up, $runs runs"
  s=$(for i in $(seq "$runs"); do time_of rsync -a -e "$ssh" "$file" "root@127.0.0.1:$remote/up$i.bin" || exit 1; done | median) || return 1
  [ "$(md5_of "$remote/up1.bin")" = "$want" ] || { log "rsync: the uploaded file differs"; return 1; }
  row rsync-up - "$title: upload $label" "$(mbps "$bytes" "$s")" MB/s ftpx-put,ftpx-put-nofsync inv
  settle
  log "rsync: $label down, $runs runs"
  s=$(for i in $(seq "$runs"); do time_of rsync -a -e "$ssh" "root@127.0.0.1:$remote/up1.bin" "$dl/rsync-down$i.bin" || exit 1; done | median) || return 1
  [ "$(md5_of "$dl/rsync-down1.bin")" = "$want" ] || { log "rsync: the downloaded file differs"; return 1; }
  row rsync-down - "$title: download $label" "$(mbps "$bytes" "$s")" MB/s ftpx-get inv
  settle
  log "rsync: $n files up, $runs runs"
  s=$(for i in $(seq "$runs"); do
    time_of rsync -a -e "$ssh" "$tree/" "root@127.0.0.1:$remote/tup$i/" || exit 1
    [ "$(count_files "$remote/tup$i")" -eq "$n" ] || { log "rsync: upload $i is incomplete"; exit 1; }
  done | median) || return 1
  row rsync-tup "rsync upload" "$title: upload $n x 4 KiB" "$(per_s "$n" "$s")" files/s ftpx-putr,ftpx-putr-nofsync inv
  settle
  log "rsync: $n files down, $runs runs"
  s=$(for i in $(seq "$runs"); do
    time_of rsync -a -e "$ssh" "root@127.0.0.1:$remote/tup1/" "$dl/rsync-tdown$i/" || exit 1
    [ "$(count_files "$dl/rsync-tdown$i")" -eq "$n" ] || { log "rsync: download $i is incomplete"; exit 1; }
  done | median) || return 1
  [ "$(tree_md5 "$dl/rsync-tdown1")" = "$want_tree" ] || { log "rsync: the downloaded tree differs"; return 1; }
  row rsync-tdown "rsync download" "$title: download $n x 4 KiB" "$(per_s "$n" "$s")" files/s ftpx-getr inv
  kill "$pid"
}

run_vsftpd
run_pyftpdlib
run_rsync || skip_rsync "failed: see above"

print_own_table "peers: $label file and $n x 4 KiB files over loopback, median of $runs runs"
