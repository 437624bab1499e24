#!/usr/bin/env bash
# bench/peers.sh: the 1 GiB and 10,000 x 4 KiB workloads against the FTP
# servers vsftpd and pyftpdlib on this machine, so that ftpx/peer ratios
# come from one run (bench/all.sh runs this after the ftpx workloads; alone
# it prints the peers' figures without ratios): curl -T (1 GiB upload,
# unverified); curl to a file then md5sum, and curl | md5sum (1 GiB
# download, verified); lftp mirror -R and lftp mirror (the small files, up
# and down), lftp's defaults. rsync (daemon and over ssh) is measured in
# bench/rsync.sh, in pairs with ftpx.
# Missing tools are installed with apt-get (Debian packages; needs root);
# whatever cannot be installed or started is skipped with a message and a
# "skipped" row. No peer syncs to disk. Medians of BENCH_RUNS runs.
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=bench/ftppeer.sh
. "$(dirname "$0")/ftppeer.sh"
bench_init peers

ftp_init

# --- installing ------------------------------------------------------------

install_missing curl lftp vsftpd python3-pyftpdlib

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

run_vsftpd
run_pyftpdlib

print_own_table "peers: $label file and $n x 4 KiB files over loopback, median of $runs runs"
