# shellcheck shell=bash disable=SC2034,SC2046
# bench/ftppeer.sh: the FTP workloads, shared by bench/peers.sh (vsftpd,
# pyftpdlib) and bench/ftp.sh (ftpx's own FTP front end), so that every FTP
# server is measured by the very same curl and lftp commands (sourced after
# bench/lib.sh and bench_init, not run).

# ftp_init: the big file, the small-file tree and their digests
ftp_init() {
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
}

have() {
  case $1 in
  vsftpd) [ -x /usr/sbin/vsftpd ] ;;
  openssh-server) [ -x /usr/sbin/sshd ] ;;
  openssh-client) command -v ssh >/dev/null && command -v ssh-keygen >/dev/null ;;
  python3-pyftpdlib) [ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import pyftpdlib' 2>/dev/null ;;
  *) command -v "$1" >/dev/null ;;
  esac
}

# install_missing PACKAGE...: apt-get install those of the Debian packages
# PACKAGE that are missing (see have), as root; what is still missing after
# that is logged, and what needs it is skipped by the caller
install_missing() {
  local missing=() p policy=false
  for p in "$@"; do
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
# server whose user's files are under HOME. Its rows' ratios: against the
# ftpx rows ("ftpx X / this"), or with ftp_vs=peers against the same rows of
# vsftpd and pyftpdlib ("1.10x vsftpd"). ftp_parts limits what is measured
# (default: up down stream mup mdown).
ftp_peer() {
  local name=$1 title=$2 port=$3 user=$4 pw=$5 home=$6 url s i short
  local parts=" ${ftp_parts:-up down stream mup mdown} "
  short=${title%% *}
  url="ftp://$user:$pw@127.0.0.1:$port"
  if ! have curl; then
    skip "$name-up" "$title: curl -T upload, $label" "curl missing"
    skip "$name-down" "$title: curl to a file, then md5sum, $label" "curl missing"
    skip "$name-stream" "$title: curl piped into md5sum, $label" "curl missing"
  elif [[ $parts == *" up "* ]]; then
    settle
    log "$title: curl -T, $runs runs"
    s=$(for i in $(seq "$runs"); do time_of curl -sS --fail -T "$file" "$url/up$i.bin" || exit 1; done | median) || return 1
    [ "$(md5_of "$home/up1.bin")" = "$want" ] || { log "$title: the uploaded file differs"; return 1; }
    row "$name-up" "$short" "$title: curl -T upload, $label (unverified)" "$(mbps "$bytes" "$s")" MB/s $(ftp_refs up ftpx-put,ftpx-put-nofsync)
  fi
  if have curl && [[ $parts == *" down "* ]]; then
    settle
    log "$title: curl to a file + md5sum, $runs runs"
    s=$(for i in $(seq "$runs"); do
      # shellcheck disable=SC2016 # $1 and $2 are bash -c's
      time_of bash -c 'curl -sS --fail -o "$1" "$2" && md5sum <"$1" >"$1.md5"' _ "$dl/$name-down$i.bin" "$url/up1.bin" || exit 1
      [ "$(cut -d' ' -f1 "$dl/$name-down$i.bin.md5")" = "$want" ] || { log "$title: download $i differs"; exit 1; }
    done | median) || return 1
    row "$name-down" "$short" "$title: curl to a file, then md5sum, $label" "$(mbps "$bytes" "$s")" MB/s $(ftp_refs down ftpx-get)
  fi
  if have curl && [[ $parts == *" stream "* ]]; then
    log "$title: curl | md5sum, $runs runs"
    s=$(for i in $(seq "$runs"); do
      # shellcheck disable=SC2016
      time_of bash -c 'set -o pipefail; curl -sS --fail "$1" | md5sum >"$2"' _ "$url/up1.bin" "$dl/$name-stream$i.md5" || exit 1
      [ "$(cut -d' ' -f1 "$dl/$name-stream$i.md5")" = "$want" ] || { log "$title: streamed download $i differs"; exit 1; }
    done | median) || return 1
    row "$name-stream" "$short" "$title: curl piped into md5sum (streamed), $label" "$(mbps "$bytes" "$s")" MB/s $(ftp_refs stream ftpx-get)
  fi

  if ! have lftp; then
    skip "$name-mup" "$title: lftp mirror -R, $n x 4 KiB" "lftp missing"
    skip "$name-mdown" "$title: lftp mirror, $n x 4 KiB" "lftp missing"
    return
  fi
  if [[ $parts == *" mup "* ]]; then
  settle
  log "$title: lftp mirror -R, $n files, $runs runs"
  s=$(for i in $(seq "$runs"); do
    time_of lftp -c "$(lftp_script "$port" "$user" "$pw" "mirror -R $tree mup$i")" || exit 1
    [ "$(count_files "$home/mup$i")" -eq "$n" ] || { log "$title: mirror -R $i is incomplete"; exit 1; }
  done | median) || return 1
  row "$name-mup" "$short" "$title: lftp mirror -R, $n x 4 KiB" "$(per_s "$n" "$s")" files/s $(ftp_refs mup ftpx-putr,ftpx-putr-nofsync)
  fi
  [[ $parts == *" mdown "* ]] || return 0
  settle
  log "$title: lftp mirror, $n files, $runs runs"
  s=$(for i in $(seq "$runs"); do
    time_of lftp -c "$(lftp_script "$port" "$user" "$pw" "mirror mup1 $dl/$name-mdown$i")" || exit 1
    [ "$(count_files "$dl/$name-mdown$i")" -eq "$n" ] || { log "$title: mirror $i is incomplete"; exit 1; }
  done | median) || return 1
  [ "$(tree_md5 "$dl/${name}-mdown1")" = "$want_tree" ] || { log "$title: mirrored tree differs"; return 1; }
  row "$name-mdown" "$short" "$title: lftp mirror (download), $n x 4 KiB" "$(per_s "$n" "$s")" files/s $(ftp_refs mdown ftpx-getr)
}

# ftp_refs PART FTPX_KEYS: a row's references and ratio mode: the ftpx
# rows FTPX_KEYS ("ftpx put / this"), or with ftp_vs=peers the vsftpd and
# pyftpdlib rows of the same PART ("1.10x vsftpd")
ftp_refs() {
  if [ "${ftp_vs:-}" = peers ]; then
    echo "vsftpd-$1,pyftpdlib-$1 over"
  else
    echo "$2 inv"
  fi
}

skip_ftp() { # NAME TITLE REASON
  skip "$1-up" "$2: curl -T upload, $label" "$3"
  skip "$1-down" "$2: curl to a file, then md5sum, $label" "$3"
  skip "$1-stream" "$2: curl piped into md5sum, $label" "$3"
  skip "$1-mup" "$2: lftp mirror -R, $n x 4 KiB" "$3"
  skip "$1-mdown" "$2: lftp mirror, $n x 4 KiB" "$3"
}

