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
# shellcheck source=bench/ftppeer.sh
. "$(dirname "$0")/ftppeer.sh"
bench_init peers
ssh_port=${BENCH_SSH_PORT:-2222}

ftp_init

# --- installing ------------------------------------------------------------

install_missing

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
  row rsync-tup - "$title: upload $n x 4 KiB" "$(per_s "$n" "$s")" files/s ftpx-putr,ftpx-putr-nofsync inv
  settle
  log "rsync: $n files down, $runs runs"
  s=$(for i in $(seq "$runs"); do
    time_of rsync -a -e "$ssh" "root@127.0.0.1:$remote/tup1/" "$dl/rsync-tdown$i/" || exit 1
    [ "$(count_files "$dl/rsync-tdown$i")" -eq "$n" ] || { log "rsync: download $i is incomplete"; exit 1; }
  done | median) || return 1
  [ "$(tree_md5 "$dl/rsync-tdown1")" = "$want_tree" ] || { log "rsync: the downloaded tree differs"; return 1; }
  row rsync-tdown - "$title: download $n x 4 KiB" "$(per_s "$n" "$s")" files/s ftpx-getr inv
  kill "$pid"
}

run_vsftpd
run_pyftpdlib
# BENCH_PEERS=ftp (bench/ftp.sh run alone): the FTP servers only
if [ "${BENCH_PEERS:-all}" != ftp ]; then run_rsync || skip_rsync "failed: see above"; fi

print_own_table "peers: $label file and $n x 4 KiB files over loopback, median of $runs runs"
