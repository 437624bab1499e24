package e2e

import (
	"bufio"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"ftpx/protocol"
)

// The daemon's production features, tested on the real binary: metrics,
// the systemd notification, the reload of the config on SIGHUP, run_as,
// and the systemd unit.

// session is a hand-made protocol session, to check frames the client
// does not show.
type session struct {
	t     *testing.T
	c     net.Conn
	r     *bufio.Reader
	hello protocol.Response
}

func dialSession(t *testing.T, addr string) *session {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(20 * time.Second))
	s := &session{t: t, c: c, r: bufio.NewReader(c)}
	s.hello = s.read()
	return s
}

func (s *session) read() protocol.Response {
	s.t.Helper()
	resp, err := protocol.ReadResponse(s.r, protocol.MaxResponseHeader)
	if err != nil {
		s.t.Fatalf("read: %v", err)
	}
	return *resp
}

func (s *session) do(req protocol.Request) protocol.Response {
	s.t.Helper()
	if err := protocol.WriteFrame(s.c, req); err != nil {
		s.t.Fatal(err)
	}
	return s.read()
}

// put uploads body as name, with its md5 up front.
func (s *session) put(name string, body []byte) protocol.Response {
	s.t.Helper()
	sum := md5.Sum(body)
	resp := s.do(protocol.Request{Action: "put", Filename: name, SizeField: protocol.Int64(int64(len(body))), MD5: hex.EncodeToString(sum[:])})
	if resp.Status != protocol.StatusReadyToSend {
		return resp
	}
	if _, err := s.c.Write(body); err != nil {
		s.t.Fatal(err)
	}
	return s.read()
}

// freePort returns a loopback address nobody listens on right now.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func writeFile(t *testing.T, path, content string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestMetricsEndpointShowsPutAndRefusedLogin(t *testing.T) {
	accounts := filepath.Join(t.TempDir(), "accounts.ini")
	addUser(t, accounts, "alex", "pw", "")
	metrics := freePort(t)
	cfg := writeFile(t, filepath.Join(t.TempDir(), "ftpx.ini"), "metrics_listen = "+metrics+"\n")
	d := startDaemon(t, accounts, "--config", cfg)
	if d.addr == metrics {
		t.Fatal("metrics on the file-transfer port")
	}
	if resp := dialSession(t, d.addr).do(protocol.Request{Action: "auth", Username: "alex", Password: "wrong"}); resp.Status != protocol.StatusWrongLogin {
		t.Fatalf("wrong password: %d", resp.Status)
	}
	s := dialSession(t, d.addr)
	if resp := s.do(protocol.Request{Action: "auth", Username: "alex", Password: "pw"}); resp.Status != protocol.StatusLoggedIn {
		t.Fatalf("auth: %d", resp.Status)
	}
	if resp := s.put("a.txt", []byte("hello metrics\n")); resp.Status != protocol.StatusMD5OK {
		t.Fatalf("put: %d %s", resp.Status, resp.Msg)
	}
	res, err := http.Get("http://" + metrics + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	for _, want := range []string{
		`ftpx_auth_total{protocol="ftpx",result="failed"} 1`,
		`ftpx_transfers_total{direction="put",protocol="ftpx",result="ok"} 1`,
		`ftpx_transfer_bytes_total{direction="put",protocol="ftpx",result="ok"} 14`,
		`ftpx_transfer_duration_seconds_count{direction="put",protocol="ftpx"} 1`,
		"go_goroutines ",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", body)
	}
}

func TestNotifyReadyAndReloadConfigOnHangup(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "notify.sock")
	l, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	t.Setenv("NOTIFY_SOCKET", sock)
	note := func() string {
		t.Helper()
		l.SetReadDeadline(time.Now().Add(10 * time.Second))
		b := make([]byte, 256)
		n, err := l.Read(b)
		if err != nil {
			t.Fatalf("no notification: %v", err)
		}
		return string(b[:n])
	}

	accounts := filepath.Join(dir, "accounts.ini")
	addUser(t, accounts, "alex", "pw", "")
	cfg := writeFile(t, filepath.Join(dir, "ftpx.ini"), "welcome = first words\ngoodbye = so long\n")
	logFile := filepath.Join(dir, "server.log")
	d := startDaemon(t, accounts, "--config", cfg, "--log-format", "json", "--log-file", logFile)
	if got := note(); got != "READY=1" {
		t.Fatalf("first notification %q, want READY=1", got)
	}
	s := dialSession(t, d.addr)
	if s.hello.Welcome != "first words" {
		t.Fatalf("greeting welcome %q", s.hello.Welcome)
	}
	if resp := s.do(protocol.Request{Action: "quit"}); resp.Status != protocol.StatusGoodbye || resp.Goodbye != "so long" {
		t.Fatalf("quit: %+v", resp)
	}

	motd := writeFile(t, filepath.Join(dir, "motd.txt"), "from a file\nsecond line\n")
	writeFile(t, cfg, "welcome_file = "+motd+"\ngoodbye = bye\nmax_conns = 7\n")
	d.cmd.Process.Signal(syscall.SIGHUP)
	if got := note(); got != "RELOADING=1" {
		t.Fatalf("notification %q, want RELOADING=1", got)
	}
	if got := note(); got != "READY=1" {
		t.Fatalf("notification %q, want READY=1", got)
	}
	s = dialSession(t, d.addr)
	if s.hello.Welcome != "from a file\nsecond line" {
		t.Errorf("welcome after the reload: %q", s.hello.Welcome)
	}
	if resp := s.do(protocol.Request{Action: "quit"}); resp.Goodbye != "bye" {
		t.Errorf("goodbye after the reload: %q", resp.Goodbye)
	}
	// The log goes out a burst at a time (internal/logbuf), a little after
	// READY=1: wait for the reload's lines.
	var log string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		b, _ := os.ReadFile(logFile)
		if log = string(b); strings.Contains(log, `"msg":"config changes that need a restart"`) {
			break
		}
	}
	if !strings.Contains(log, `"msg":"config reloaded","changed":["welcome","welcome_file","goodbye"]`) {
		t.Errorf("the log does not list the live changes:\n%s", log)
	}
	if !strings.Contains(log, `"msg":"config changes that need a restart","keys":["max_conns"]`) {
		t.Errorf("the log does not name max_conns as needing a restart:\n%s", log)
	}
}

func TestAnonymousNextToAnAccountNamedAnonymousRefusesToStart(t *testing.T) {
	dir := t.TempDir()
	accounts := filepath.Join(dir, "accounts.ini")
	addUser(t, accounts, "anonymous", "pw", "")
	cfg := writeFile(t, filepath.Join(dir, "ftpx.ini"), "anonymous_root = "+dir+"\n")
	out, err := exec.Command(filepath.Join(binDir, "ftpx-server"), "--config", cfg, "--listen", "127.0.0.1:0",
		"--root", filepath.Join(dir, "root"), "--accounts", accounts).CombinedOutput()
	if err == nil || !strings.Contains(string(out), `account named "anonymous"`) {
		t.Fatalf("started anyway, or unclear: %v %s", err, out)
	}
}

func TestRunAsDropsToTheUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skipf("run_as needs a server started as root; this test runs as uid %d", os.Geteuid())
	}
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skipf("no user nobody to drop to: %v", err)
	}
	uid, _ := strconv.Atoi(nobody.Uid)
	dir := t.TempDir()
	// The user must be able to reach the data root: open up the path to it.
	for p := dir; p != os.TempDir() && p != "/"; p = filepath.Dir(p) {
		os.Chmod(p, 0o755)
	}
	accounts := filepath.Join(dir, "accounts.ini")
	addUser(t, accounts, "alex", "pw", "")
	os.Chmod(accounts, 0o644) // readable after the switch, for a reload
	cfg := writeFile(t, filepath.Join(dir, "ftpx.ini"), "run_as = nobody\n")
	root := filepath.Join(dir, "root")
	d := startDaemonAt(t, root, "127.0.0.1:0", accounts, "--config", cfg)

	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", d.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if f := strings.Fields(line); len(f) == 5 && f[0] == "Uid:" {
			for _, id := range f[1:] {
				if id != nobody.Uid {
					t.Fatalf("server ids after the switch: %q, want all %s", line, nobody.Uid)
				}
			}
		}
	}
	s := dialSession(t, d.addr)
	if resp := s.do(protocol.Request{Action: "auth", Username: "alex", Password: "pw"}); resp.Status != protocol.StatusLoggedIn {
		t.Fatalf("auth: %d %s", resp.Status, resp.Msg)
	}
	if resp := s.put("a.txt", []byte("as nobody\n")); resp.Status != protocol.StatusMD5OK {
		t.Fatalf("put: %d %s\n%s", resp.Status, resp.Msg, d.logText())
	}
	fi, err := os.Stat(filepath.Join(root, "alex", "a.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if owner := fi.Sys().(*syscall.Stat_t).Uid; int(owner) != uid {
		t.Errorf("the uploaded file belongs to uid %d, want %d", owner, uid)
	}

	// A data root the user cannot use, or a user that does not exist: the
	// server refuses to start.
	closed := filepath.Join(dir, "closed")
	os.Mkdir(closed, 0o700)
	for _, tc := range []struct{ runAs, root, want string }{
		{"nobody", closed, "not usable"},
		{"no-such-user-ftpx", root, "run_as"},
	} {
		cfg := writeFile(t, filepath.Join(dir, "bad.ini"), "run_as = "+tc.runAs+"\n")
		out, err := exec.Command(filepath.Join(binDir, "ftpx-server"), "--config", cfg, "--listen", "127.0.0.1:0",
			"--root", tc.root, "--accounts", accounts).CombinedOutput()
		if err == nil || !strings.Contains(string(out), tc.want) {
			t.Errorf("run_as = %s on %s: %v %s, want a refusal naming %q", tc.runAs, tc.root, err, out, tc.want)
		}
	}
}

func TestSystemdUnitVerifies(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed")
	}
	unit, err := os.ReadFile("../contrib/ftpx-server.service")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(unit), "Type=notify") {
		t.Error("the unit is not Type=notify")
	}
	// verify checks that ExecStart exists: point it at the binary built here.
	path := filepath.Join(t.TempDir(), "ftpx-server.service")
	writeFile(t, path, strings.ReplaceAll(string(unit), "/usr/local/bin/ftpx-server", filepath.Join(binDir, "ftpx-server")))
	out, err := exec.Command(analyze, "verify", path).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// ftpx-server --version prints the release, the commit and the Go
// version, exits 0 and starts nothing.
func TestServerVersion(t *testing.T) {
	out, err := exec.Command(filepath.Join(binDir, "ftpx-server"), "--version").Output()
	if err != nil || !regexp.MustCompile(`^ftpx-server version \d+\.\d+\.\d+ \(commit \S+, go1\.\d+\S*\)\n$`).Match(out) {
		t.Errorf("ftpx-server --version: %v, %q", err, out)
	}
}
