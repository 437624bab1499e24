package e2e

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"ftpx/server"
)

// TestHTTPSigtermDuringTusPatchResumesAfterRestart: a tus PATCH whose
// client sends 4 MiB of 16 and then stalls (the connection open) when
// the daemon gets SIGTERM. The daemon waits for it no longer than its
// grace period, closes it and exits; restarted on the same root, HEAD
// reports what it held, and a PATCH of the rest from there completes the
// upload with its MD5.
func TestHTTPSigtermDuringTusPatchResumesAfterRestart(t *testing.T) {
	accounts := filepath.Join(t.TempDir(), "accounts.ini")
	addUser(t, accounts, "alex", "pw", "")
	root := filepath.Join(t.TempDir(), "root")
	d := startDaemonAt(t, root, "127.0.0.1:0", accounts, "--http-listen", "127.0.0.1:0")
	base := d.webURL(t)
	data := randomBytes(seeded(t, 7101), 16*mib)
	sum := md5Bytes(data)
	upload := tusCreate(t, base, "alex", "pw", "/cut.bin", int64(len(data)), sum)
	u, err := url.Parse(upload)
	if err != nil {
		t.Fatal(err)
	}

	c, err := net.DialTimeout("tcp", u.Host, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "PATCH %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Basic %s\r\nTus-Resumable: 1.0.0\r\n"+
		"Content-Type: application/offset+octet-stream\r\nUpload-Offset: 0\r\nContent-Length: %d\r\n\r\n",
		u.Path, u.Host, base64.StdEncoding.EncodeToString([]byte("alex:pw")), len(data))
	const sent = 4 * mib
	if _, err := c.Write(data[:sent]); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 20*time.Second, "the server to hold part of the PATCH", func() bool { return heldOnServer(root, "alex") >= 2*mib })
	sigterm := time.Now()
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	code, _ := d.waitExit(t, server.DefaultGracePeriod+15*time.Second)
	took := time.Since(sigterm)
	t.Logf("the daemon exited %v after SIGTERM with status %d (grace %v), holding %d bytes", took.Round(time.Millisecond), code, server.DefaultGracePeriod, heldOnServer(root, "alex"))
	if code != 0 || !strings.Contains(d.logText(), "grace period over") {
		t.Fatalf("exit %d after SIGTERM; the log from the shutdown:\n%s", code, fromLine(d.logText(), "shutting down"))
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if b, err := io.ReadAll(c); err != nil && !strings.Contains(err.Error(), "reset") {
		t.Fatalf("the stalled PATCH's connection after the exit: %q %v", b, err)
	}

	d2 := startDaemonAt(t, root, "127.0.0.1:0", accounts, "--http-listen", "127.0.0.1:0")
	again := d2.webURL(t) + u.Path
	st, held := tusOffset(t, again, "alex", "pw")
	if st != 200 || held <= 0 || held > sent {
		t.Fatalf("HEAD after the restart: %d, Upload-Offset %d; want 200 and 0 < offset <= %d\n%s", st, held, sent, d2.logText())
	}
	t.Logf("after the restart the server holds %d of the %d bytes sent", held, sent)
	st, off, body := tusPatch(t, again, "alex", "pw", held, data[held:])
	if st != 204 || off != int64(len(data)) {
		t.Fatalf("PATCH of the rest after the restart: %d %d %s", st, off, body)
	}
	if got := md5File(t, filepath.Join(root, "alex", "cut.bin")); got != sum {
		t.Fatalf("cut.bin: md5 %s, want %s", got, sum)
	}
	if left := partialsOnServer(filepath.Join(root, "alex")); len(left) != 0 {
		t.Fatalf("partials left after the upload completed: %v", left)
	}
}

// TestHTTPSigtermLetsATusPatchFinish: a tus PATCH sending 16 MiB at 4
// MiB/s when the daemon gets SIGTERM goes on to its end within the grace
// period: 204 with the whole length, the file placed with its MD5 and no
// partial left; a new connection to the web front end is not served; and
// the daemon exits 0 once the PATCH is done, without waiting its grace
// period out.
func TestHTTPSigtermLetsATusPatchFinish(t *testing.T) {
	accounts := filepath.Join(t.TempDir(), "accounts.ini")
	addUser(t, accounts, "alex", "pw", "")
	d := startDaemon(t, accounts, "--http-listen", "127.0.0.1:0")
	base := d.webURL(t)
	data := randomBytes(seeded(t, 7102), 16*mib)
	sum := md5Bytes(data)
	upload := tusCreate(t, base, "alex", "pw", "/finish.bin", int64(len(data)), sum)
	u, err := url.Parse(upload)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.DialTimeout("tcp", u.Host, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "PATCH %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Basic %s\r\nTus-Resumable: 1.0.0\r\n"+
		"Content-Type: application/offset+octet-stream\r\nUpload-Offset: 0\r\nContent-Length: %d\r\n\r\n",
		u.Path, u.Host, base64.StdEncoding.EncodeToString([]byte("alex:pw")), len(data))
	var sent atomic.Int64
	sending := make(chan error, 1)
	go func() { sending <- paced(data, 64<<10, 4<<20, &sent, c.Write) }()
	waitUntil(t, 20*time.Second, "the server to hold part of the PATCH", func() bool { return heldOnServer(d.root, "alex") >= 2*mib })
	sigterm := time.Now()
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "the server to begin its shutdown", func() bool { return strings.Contains(d.logText(), "shutting down") })
	if resp, err := http.Get(base + "/api/v1/session"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 401 || resp.StatusCode == 200 {
			t.Errorf("a new request during the shutdown was served: %s", resp.Status)
		}
	}
	if err := <-sending; err != nil {
		t.Fatalf("sending the PATCH during the shutdown: %v after %d bytes", err, sent.Load())
	}
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || resp.StatusCode != 204 || resp.Header.Get("Upload-Offset") != strconv.Itoa(len(data)) {
		t.Fatalf("the PATCH's answer during the shutdown: %v %v\n%s", resp, err, fromLine(d.logText(), "shutting down"))
	}
	code, _ := d.waitExit(t, server.DefaultGracePeriod+15*time.Second)
	t.Logf("SIGTERM with %d of %d bytes sent; the daemon exited %v after it, status %d", sent.Load(), len(data), time.Since(sigterm).Round(time.Millisecond), code)
	if code != 0 || strings.Contains(d.logText(), "grace period over") {
		t.Fatalf("exit %d; the log from the shutdown:\n%s", code, fromLine(d.logText(), "shutting down"))
	}
	if got := md5File(t, filepath.Join(d.root, "alex", "finish.bin")); got != sum {
		t.Fatalf("finish.bin: md5 %s, want %s", got, sum)
	}
	if left := partialsOnServer(filepath.Join(d.root, "alex")); len(left) != 0 {
		t.Fatalf("partials left: %v", left)
	}
}
