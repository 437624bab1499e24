#!/usr/bin/env bash
# bench/http.sh: the HTTP front end (ftpx-server --http-listen, package
# webd) next to the native protocol in the same run, over loopback, plain:
#   uploads of the BENCH_SIZE_MIB file: ftpx put (the native protocol; the
#     client hashes as it sends), tus with curl (md5sum first, then POST
#     creation with path and md5, then one PATCH of the whole file with
#     curl -T: figures "upload only" and "md5sum + upload") and tus with
#     bench/cmd/tusput (Go: reads the file once for its MD5, then one
#     PATCH); each against a server syncing uploads (the default) and one
#     started with --fsync=false. The server checks every tus upload's MD5
#     before placing it; every stored file is checked by md5sum (not timed).
#   downloads: ftpx get (syncs what it writes), curl -o of
#     GET /api/v1/files/PATH (syncs nothing), curl -o then `sync FILE`, and
#     curl -r of the second half (Range); each checked by md5sum.
#   In each run the workloads go one after the other (native first), so
#   that every ratio compares figures taken minutes apart at most; each
#   figure is the median of BENCH_RUNS runs. CPU seconds (user + system) of
#   the client (the command and what it waited for) and of ftpx-server
#   (/proc/PID/stat), medians.
#   idle web sessions: bench/cmd/websessions logs in N = BENCH_WEB_SESSIONS
#     (default BENCH_CONNS, else 1000) sessions, each on its own connection
#     closed after the login, and reads the server's VmRSS and Threads
#     (/proc) and go_goroutines and go_memstats_heap_inuse_bytes
#     (--metrics-listen) before and 2 s after; then 3N more, and reads
#     again (the cost of one more session, apart from what the first burst
#     of logins grew once); then checks every session is still logged in.
#     A fresh server each run, median of BENCH_RUNS runs.
#   the browser: bench/cmd/webbench drives headless Chromium (chromedp) to
#     log in through the page, set the page's file input to the big file
#     and wait for the upload's li.upload[data-state=done]; it reports the
#     page's hashing and upload phases (from the times data-state changed).
#     Skipped (a row says why) without chromium or without the page
#     (webd/page/app.js).
# Usage: bench/http.sh (BENCH_SIZE_MIB, BENCH_RUNS, ...: see bench/lib.sh;
# BENCH_WEB_SESSIONS; BENCH_BROWSER_RUNS, default BENCH_RUNS; CHROMIUM,
# default /usr/bin/chromium).
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=bench/ftppeer.sh
. "$(dirname "$0")/ftppeer.sh" # free_port, skip
bench_init http
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
file=$(big_file)
bytes=$(stat -c %s "$file")
want=$(md5_of "$file")
half=$((bytes / 2))
want_half=$(tail -c +$((half + 1)) "$file" | md5sum | cut -d' ' -f1)
sessions=${BENCH_WEB_SESSIONS:-${BENCH_CONNS:-1000}}
browser_runs=${BENCH_BROWSER_RUNS:-$runs}
chromium=${CHROMIUM:-/usr/bin/chromium}
label="$size_mib MiB"
res=$work/res
dl=$work/dl
mkdir -p "$res" "$dl"
go build -o "$work/tusput" ./bench/cmd/tusput
go build -o "$work/websessions" ./bench/cmd/websessions

# start_http NAME FLAG...: lib.sh's start_server with the HTTP front end
# and the metrics on free loopback ports; sets http_url, metrics_url (and
# start_server's globals)
start_http() {
  local name=$1 i mport
  shift
  mport=$(free_port)
  start_server "$name" --http-listen 127.0.0.1:0 --metrics-listen "127.0.0.1:$mport" "$@" || return 1
  for i in $(seq 50); do
    grep -q 'http_addr=' "$work/$name.log" && break
    sleep 0.1
  done
  http_url=http://$(grep -o 'http_addr=127.0.0.1:[0-9]*' "$work/$name.log" | head -1 | cut -d= -f2)
  [ "$http_url" != http:// ] || { log "ftpx-server $name logged no http_addr"; cat "$work/$name.log" >&2; return 1; }
  metrics_url=http://127.0.0.1:$mport/metrics
  mkdir -p "$server_root/$FTPX_USER"
}

# tus-curl.sh BASE_URL FILE DEST_PATH PHASES_FILE: md5sum of FILE, then tus
# creation and one PATCH of the whole file with curl; appends "MD5_SECONDS
# UPLOAD_SECONDS" to PHASES_FILE
cat >"$work/tus-curl.sh" <<'EOS'
#!/usr/bin/env bash
set -euo pipefail
base=$1 file=$2 dest=$3 phases=$4
auth=(-u "$FTPX_USER:$FTPX_PASSWORD")
t0=$EPOCHREALTIME
md5=$(md5sum <"$file" | cut -d' ' -f1)
t1=$EPOCHREALTIME
meta="path $(printf %s "$dest" | base64 -w0),md5 $(printf %s "$md5" | base64 -w0)"
loc=$(curl -sS -f "${auth[@]}" -X POST -H 'Tus-Resumable: 1.0.0' -H "Upload-Length: $(stat -c %s "$file")" \
  -H "Upload-Metadata: $meta" -o /dev/null -D - "$base/api/v1/uploads/" | tr -d '\r' | awk -F': ' 'tolower($1) == "location" {print $2}')
[ -n "$loc" ] || { echo "tus-curl: no Location" >&2; exit 1; }
code=$(curl -sS "${auth[@]}" -X PATCH -H 'Tus-Resumable: 1.0.0' -H 'Content-Type: application/offset+octet-stream' \
  -H 'Upload-Offset: 0' -H 'Expect:' -T "$file" -o /dev/null -w '%{http_code}' "$base$loc")
[ "$code" = 204 ] || { echo "tus-curl: PATCH answered $code" >&2; exit 1; }
t2=$EPOCHREALTIME
echo "$t0 $t1 $t2" | awk '{printf "%.4f %.4f\n", $2 - $1, $3 - $2}' >>"$phases"
EOS
chmod +x "$work/tus-curl.sh"

start_http fs
fs_pid=$server_pid fs_addr=$server_addr fs_url=$http_url fs_home=$server_root/$FTPX_USER
start_http nf --fsync=false
nf_pid=$server_pid nf_addr=$server_addr nf_url=$http_url nf_home=$server_root/$FTPX_USER
curl_auth=(-u "$FTPX_USER:$FTPX_PASSWORD")

# measure KEY PID CMD...: one timed run (lib.sh's timed) of CMD against the
# server PID, its "WALL CLIENT SERVER" appended to $res/KEY
measure() {
  local key=$1 pid=$2 r
  shift 2
  side_tag="$key:"
  r=$(timed "$pid" "$@")
  echo "$r" >>"$res/$key"
}
# stored FILE: FILE is the big file, or the script fails; then it is removed
stored() {
  [ "$(md5_of "$1")" = "$want" ] || { log "$1 differs from the source"; exit 1; }
  rm -f "$1"
}

log "$runs runs of: md5sum; put with ftpx, tus curl and tus Go (server fsync, then --fsync=false); get with ftpx, curl, curl + sync, curl -r of the second half"
for i in $(seq "$runs"); do
  settle
  measure md5sum "$fs_pid" md5sum "$file"
  for s in fs nf; do
    if [ "$s" = fs ]; then pid=$fs_pid addr=$fs_addr url=$fs_url h=$fs_home; else pid=$nf_pid addr=$nf_addr url=$nf_url h=$nf_home; fi
    settle
    export FTPX_SERVER=$addr
    measure "native-put-$s" "$pid" "$bin"/ftpx --quiet put "$file" "native$i.bin"
    stored "$h/native$i.bin"
    settle
    measure "tus-curl-$s" "$pid" "$work/tus-curl.sh" "$url" "$file" "/curl$i.bin" "$res/tus-curl-$s.phases"
    stored "$h/curl$i.bin"
    settle
    measure "tus-go-$s" "$pid" "$work/tusput" -url "$url" -file "$file" -path "/go$i.bin" -report "$res/tus-go-$s.phases"
    stored "$h/go$i.bin"
  done
  # the file to download, put once per run (not timed)
  export FTPX_SERVER=$fs_addr
  "$bin"/ftpx --quiet put "$file" "src.bin"
  settle
  measure native-get "$fs_pid" "$bin"/ftpx --quiet get src.bin "$dl/native.bin"
  stored "$dl/native.bin"
  settle
  measure curl-get "$fs_pid" curl -sS -f "${curl_auth[@]}" -o "$dl/curl.bin" "$fs_url/api/v1/files/src.bin"
  stored "$dl/curl.bin"
  settle
  # shellcheck disable=SC2016 # expanded by sh -c
  measure curl-get-sync "$fs_pid" sh -c 'curl -sS -f -u "$FTPX_USER:$FTPX_PASSWORD" -o "$1" "$2" && sync "$1"' - "$dl/curlsync.bin" "$fs_url/api/v1/files/src.bin"
  stored "$dl/curlsync.bin"
  settle
  measure curl-range "$fs_pid" curl -sS -f "${curl_auth[@]}" -r "$half-" -o "$dl/range.bin" "$fs_url/api/v1/files/src.bin"
  [ "$(md5_of "$dl/range.bin")" = "$want_half" ] || { log "the second half got by curl -r differs"; exit 1; }
  rm -f "$dl/range.bin" "$fs_home/src.bin"
done

med() { cut -d' ' -f"$2" "$res/$1" | median; }   # med KEY FIELD (1 wall, 2 client, 3 server)
mb() { mbps "${2:-$bytes}" "$(med "$1" 1)"; }
# cpu KEY: "client C + server S" and their sum, from the medians
cpu_text() { printf 'CPU seconds: client %.2f + server %.2f' "$(med "$1" 2)" "$(med "$1" 3)"; }
cpu_sum() { awk -v c="$(med "$1" 2)" -v s="$(med "$1" 3)" 'BEGIN {printf "%.2f", c + s}'; }
phase() { cut -d' ' -f"$2" "$res/$1.phases" | median; } # phase KEY FIELD
go_phase() { grep -oE "(^| )$2=[0-9.]+" "$res/$1.phases" | cut -d= -f2 | median; } # anchored: hashing_cpu_renderer_s holds cpu_renderer_s

row http-md5sum "md5sum" "md5sum of the $label file" "$(mb md5sum)" MB/s
for s in fs nf; do
  if [ "$s" = fs ]; then sync_text="server fsync (default)" sfx=""; else sync_text="server --fsync=false" sfx=" no-fsync"; fi
  n=native-put-$s
  row "http-$n" "native put$sfx" "ftpx put $label (native protocol, the client hashes as it sends), $sync_text" "$(mb "$n")" MB/s
  row "http-$n-cpu" "native put$sfx CPU" "ftpx put, $sync_text: $(cpu_text "$n")" "$(cpu_sum "$n")" s
  k=tus-curl-$s
  up=$(phase "$k" 2)
  row "http-$k-up" "" "tus upload with curl (POST creation, one PATCH -T of the file; server checks the MD5), upload only, $sync_text" "$(mbps "$bytes" "$up")" MB/s "http-$n" over
  row "http-$k" "" "tus with curl: md5sum ($(printf '%.2f' "$(phase "$k" 1)") s) + upload, $sync_text" "$(mb "$k")" MB/s "http-$n" over
  row "http-$k-cpu" "" "tus with curl, md5sum + upload, $sync_text: $(cpu_text "$k")" "$(cpu_sum "$k")" s "http-$n-cpu" over
  k=tus-go-$s
  row "http-$k-up" "" "tus upload by bench/cmd/tusput (Go, one PATCH of the file), upload only, $sync_text" "$(mbps "$bytes" "$(go_phase "$k" patch_s)")" MB/s "http-$n" over
  row "http-$k" "" "tus by bench/cmd/tusput: MD5 ($(printf '%.2f' "$(go_phase "$k" md5_s)") s) + upload, $sync_text" "$(mb "$k")" MB/s "http-$n" over
  row "http-$k-cpu" "" "tus by bench/cmd/tusput, MD5 + upload, $sync_text: $(cpu_text "$k")" "$(cpu_sum "$k")" s "http-$n-cpu" over
done
row http-native-get "native get" "ftpx get $label (native protocol, verified; the client syncs the file)" "$(mb native-get)" MB/s
row http-native-get-cpu "native get CPU" "ftpx get: $(cpu_text native-get)" "$(cpu_sum native-get)" s
row http-curl-get "" "curl -o of GET /api/v1/files (syncs nothing)" "$(mb curl-get)" MB/s http-native-get over
row http-curl-get-sync "" "curl -o of GET /api/v1/files, then sync FILE" "$(mb curl-get-sync)" MB/s http-native-get over
row http-curl-get-cpu "" "curl -o: $(cpu_text curl-get)" "$(cpu_sum curl-get)" s http-native-get-cpu over
row http-curl-range "" "curl -r $half- (Range, the second half: $((bytes - half)) bytes)" "$(mb curl-range $((bytes - half)))" MB/s http-native-get over

# --- idle web sessions -------------------------------------------------------------
log "idle web sessions: $sessions, $runs runs, a fresh server each"
for i in $(seq "$runs"); do
  start_http "sess$i" --max-conns 8000 --max-conns-per-ip 8000
  timeout "$cmd_timeout" "$work/websessions" -url "$http_url" -metrics "$metrics_url" -user "$FTPX_USER" -pid "$server_pid" -n "$sessions" -n2 $((4 * sessions)) | tee -a "$res/sessions" >&2
  kill "$server_pid"
  wait "$server_pid" 2>/dev/null || true
done
field() { grep -o " $1=[-0-9.]*" "$res/sessions" | cut -d= -f2 | median; }
row http-session-kib "" "ftpx-server RSS per idle logged-in web session: VmRSS with $sessions sessions (their connections closed) less before them, over $sessions (median of $runs runs; goal <= 4 KiB)" "$(printf '%.2f' "$(field per_session_kib)")" KiB
row http-session-marginal "" "the same from $sessions to $((4 * sessions)) sessions: (VmRSS with $((4 * sessions)) - with $sessions) / $((3 * sessions)), the cost of one more session apart from what the first burst of logins grew (VmRSS $(field rss_before_kib | awk '{printf "%.1f", $1 / 1024}') -> $(field rss_after_kib | awk '{printf "%.1f", $1 / 1024}') -> $(field rss_after2_kib | awk '{printf "%.1f", $1 / 1024}') MiB)" "$(printf '%.2f' "$(field marginal_per_session_kib)")" KiB
row http-session-heap "" "go_memstats_heap_inuse_bytes per session, $sessions to $((4 * sessions)) (first $sessions: $(printf '%.0f' "$(field heap_per_session_b)") B; garbage not yet collected included)" "$(printf '%.0f' "$(field marginal_heap_per_session_b)")" B
row http-session-goroutines "" "goroutines with $((4 * sessions)) idle sessions less before them (go_goroutines $(field goroutines_before) -> $(field goroutines_after) with $sessions -> $(field goroutines_after2); threads $(field threads_before) -> $(field threads_after) with $sessions)" "$(awk -v a="$(field goroutines_after2)" -v b="$(field goroutines_before)" 'BEGIN {print a - b}')" goroutines
row http-session-logins "" "web logins per second while making them (POST /api/v1/login, a connection each, 4 at a time)" "$(printf '%.0f' "$(field logins_per_s)")" logins/s

# --- the browser -------------------------------------------------------------------
why=""
if [ ! -x "$chromium" ]; then
  why="no chromium at $chromium"
elif [ ! -f webd/page/app.js ]; then
  why="the page (webd/page/app.js) is not in this tree"
elif [ ! -d bench/cmd/webbench ] || ! go build -o "$work/webbench" ./bench/cmd/webbench; then
  why="bench/cmd/webbench does not build"
fi
if [ -z "$why" ]; then
  log "the browser: $browser_runs uploads of the $label file through the page"
  for i in $(seq "$browser_runs"); do
    settle
    measure browser "$fs_pid" "$work/webbench" -url "$fs_url" -user "$FTPX_USER" -file "$file" -chromium "$chromium" \
      -profile "$work/chromium$i" -server-pid "$fs_pid" -probe -report "$res/browser.phases"
    stored "$fs_home/$(basename "$file")"
    rm -rf "$work/chromium$i"
  done
  bp() { go_phase browser "$1"; }
  row http-browser "" "headless Chromium: the page hashes ($(printf '%.2f' "$(bp hash_s)") s) and uploads the $label file (tus, one PATCH), server fsync; from setting the file input to data-state=done" "$(mbps "$bytes" "$(bp total_s)")" MB/s http-native-put-fs over
  row http-browser-hash "" "the page's MD5 of the file (data-state hashing)" "$(mbps "$bytes" "$(bp hash_s)")" MB/s http-md5sum over
  row http-browser-up "" "the page's upload (data-state uploading until done, the server's fsync and MD5 check included)" "$(mbps "$bytes" "$(bp upload_s)")" MB/s http-native-put-fs over
  bc=$(bp cpu_chromium_s) bsv=$(med browser 3)
  row http-browser-cpu "" "the browser's upload: CPU seconds: Chromium $(printf '%.2f' "$bc") (renderer $(printf '%.2f' "$(bp cpu_renderer_s)"), browser process $(printf '%.2f' "$(bp cpu_browser_s)"), network service $(printf '%.2f' "$(bp cpu_networkservice_s)"); from its start to data-state=done) + server $(printf '%.2f' "$bsv")" "$(awk -v c="$bc" -v s="$bsv" 'BEGIN {printf "%.2f", c + s}')" s
  for ph in hashing uploading; do
    pc() { printf '%.2f' "$(bp "${ph}_cpu_$1_s")"; }
    row "http-browser-$ph-cpu" "" "the page's $ph phase: CPU seconds: Chromium's renderer $(pc renderer) + browser process $(pc browser) + network service $(pc networkservice) + server $(pc server)" "$(awk -v a="$(pc renderer)" -v b="$(pc browser)" -v c="$(pc networkservice)" -v d="$(pc server)" 'BEGIN {printf "%.2f", a + b + c + d}')" s
  done
  row http-browser-read "Blob slices" "probe in the page after the upload: reading the file alone as the page does (8 MiB Blob slices, arrayBuffer(), in turn)" "$(mbps "$bytes" "$(bp probe_read_s)")" MB/s
  row http-browser-md5js "" "probe in the page: md5.js alone (an 8 MiB buffer in memory hashed until the file's size went through)" "$(mbps "$bytes" "$(bp probe_md5_s)")" MB/s http-md5sum over
  row http-browser-stream "" "probe in the page: reading the file alone through file.stream() (chunks of $(bp probe_stream_chunks | awk -v b="$bytes" '{printf "%.0f", b / $1 / 1024}') KiB on average)" "$(mbps "$bytes" "$(bp probe_stream_s)")" MB/s http-browser-read over
  row http-browser-both "" "probe in the page: reading and md5.js in turn, 8 MiB at a time (the page's hashing loop without its progress updates)" "$(mbps "$bytes" "$(bp probe_both_s)")" MB/s
else
  skip http-browser "headless Chromium upload through the page" "$why"
fi

print_own_table "ftpx HTTP front end against the native protocol: $label file, loopback, plain HTTP, median of $runs runs ($(nproc) cores; load average $load_start at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end)"
