package ftpd_test

import (
	"bufio"
	"bytes"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"ftpx/accounts"
	"ftpx/ftpd"
	"ftpx/ftpxtest"
	"ftpx/server"
)

// The FTP front end is tested with clients nobody here wrote: Python's
// ftplib (FTP and FTP_TLS), curl, and lftp where it is installed, each run
// as a subprocess against a real server on loopback; and with a raw
// control connection (rawConn) where a test needs exact bytes.

// setup starts a native server with the FTP front end and a user alex
// (password "pw", the given quota and extra account lines).
func setup(t testing.TB, quota int64, lines []string, opts ...ftpxtest.Option) (*ftpxtest.Server, string) {
	t.Helper()
	ts := ftpxtest.NewServer(t, opts...)
	ts.AddUserWith(t, "alex", "pw", quota, lines...)
	return ts, ts.StartFTP(t)
}

// pyPrelude is put before every Python script: connection helpers, and
// code(), which runs an ftplib call and returns its reply code.
const pyPrelude = `
import ftplib, hashlib, io, os, socket, ssl, sys, threading, time
host, port = os.environ["FTP_HOST"], int(os.environ["FTP_PORT"])
def context():
    ctx = ssl.create_default_context(cafile=os.environ.get("FTP_CA"))
    return ctx
def connect(user="alex", pw="pw", tls=False):
    f = ftplib.FTP_TLS(context=context()) if tls else ftplib.FTP()
    f.connect(host, port, timeout=30)
    if user:
        f.login(user, pw)
    return f
def code(fn, *args, **kw):
    try:
        return str(fn(*args, **kw))[:3]
    except ftplib.all_errors as e:
        return str(e)[:3]
def md5(b):
    return hashlib.md5(b).hexdigest()
def get(f, name, rest=None):
    out = io.BytesIO()
    f.retrbinary("RETR " + name, out.write, rest=rest)
    return out.getvalue()
def partial_bytes():
    d = os.environ["PARTIALS"]
    if not os.path.isdir(d):
        return 0
    return sum(os.path.getsize(os.path.join(d, n)) for n in os.listdir(d) if not n.endswith((".state", ".tmp")))
def wait_partial(n):
    for i in range(2000):
        if partial_bytes() >= n:
            return
        time.sleep(0.01)
    print("FAIL: the server never held %d bytes" % n)
    sys.exit(1)
def check(what, got, want):
    if got != want:
        print("FAIL %s: got %r, want %r" % (what, got, want))
        sys.exit(1)
`

// python runs script (after pyPrelude) against the FTP server at addr and
// returns its output; a failing script fails the test.
func python(t *testing.T, addr, script string, env ...string) string {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed")
	}
	host, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command(py, "-c", pyPrelude+script)
	cmd.Env = append(append(os.Environ(), "FTP_HOST="+host, "FTP_PORT="+port), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	return string(out)
}

// curl runs curl with args and returns stdout and its exit status.
func curl(t *testing.T, args ...string) (string, int) {
	t.Helper()
	bin, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl is not installed")
	}
	cmd := exec.Command(bin, append([]string{"-sS", "--max-time", "60"}, args...)...)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	err = cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		t.Logf("curl %s: exit %d: %s", strings.Join(args, " "), ee.ExitCode(), stderr.String())
		return out.String(), ee.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return out.String(), 0
}

// lftp runs an lftp script against addr as alex, or skips the test when
// lftp is not installed (Debian's package: apt-get install lftp).
func lftp(t *testing.T, addr, script string) string {
	t.Helper()
	bin, err := exec.LookPath("lftp")
	if err != nil {
		t.Skip("lftp is not installed (apt-get install lftp); skipping the lftp test")
	}
	host, port, _ := net.SplitHostPort(addr)
	full := "set cmd:fail-exit yes; set net:max-retries 1; set net:timeout 30; set ftp:ssl-allow no; open -u alex,pw -p " + port + " " + host + "; " + script
	out, err := exec.Command(bin, "-c", full).CombinedOutput()
	if err != nil {
		t.Fatalf("lftp: %v\n%s", err, out)
	}
	return string(out)
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func md5hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

func writeTemp(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// rawConn is a hand-made FTP control connection.
type rawConn struct {
	t testing.TB
	c net.Conn
	r *bufio.Reader
}

func dialRaw(t testing.TB, addr string) (*rawConn, int, string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(30 * time.Second))
	rc := &rawConn{t: t, c: c, r: bufio.NewReader(c)}
	code, text := rc.read()
	return rc, code, text
}

// read reads one reply, multi-line ones whole, and returns its code and
// text (lines joined by "\n").
func (rc *rawConn) read() (int, string) {
	rc.t.Helper()
	var lines []string
	for {
		l, err := rc.r.ReadString('\n')
		if err != nil {
			rc.t.Fatalf("read reply: %v (so far %q)", err, lines)
		}
		l = strings.TrimRight(l, "\r\n")
		lines = append(lines, l)
		if len(l) >= 4 && l[3] == ' ' && (len(lines) == 1 || strings.HasPrefix(l, lines[0][:3])) {
			code, _ := strconv.Atoi(l[:3])
			return code, strings.Join(lines, "\n")
		}
		if len(lines) == 1 && (len(l) < 4 || l[3] != '-') {
			rc.t.Fatalf("malformed reply %q", l)
		}
	}
}

// cmd sends one command line and reads its reply.
func (rc *rawConn) cmd(line string) (int, string) {
	rc.t.Helper()
	if _, err := rc.c.Write([]byte(line + "\r\n")); err != nil {
		rc.t.Fatal(err)
	}
	return rc.read()
}

// login logs alex in, or fails the test.
func (rc *rawConn) login(user, pw string) {
	rc.t.Helper()
	if code, text := rc.cmd("USER " + user); code != 331 {
		rc.t.Fatalf("USER: %d %s", code, text)
	}
	if code, text := rc.cmd("PASS " + pw); code != 230 {
		rc.t.Fatalf("PASS: %d %s", code, text)
	}
}

// pasv opens a passive data connection (EPSV) and returns it once the
// server has accepted... the caller sends the transfer command next.
func (rc *rawConn) pasv() net.Conn {
	rc.t.Helper()
	code, text := rc.cmd("EPSV")
	if code != 229 {
		rc.t.Fatalf("EPSV: %d %s", code, text)
	}
	i := strings.Index(text, "(|||")
	port, _ := strconv.Atoi(strings.TrimSuffix(text[i+4:], "|)"))
	host, _, _ := net.SplitHostPort(rc.c.RemoteAddr().String())
	d, err := net.Dial("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		rc.t.Fatal(err)
	}
	rc.t.Cleanup(func() { d.Close() })
	return d
}

// withTLS gives the server the --tls auto certificate, kept under dir,
// and returns the certificate's PEM file for the clients to trust.
func withTLS(t *testing.T, require bool) (ftpxtest.Option, string) {
	t.Helper()
	dir := t.TempDir()
	cert, err := server.AutoCert(dir)
	if err != nil {
		t.Fatal(err)
	}
	return func(s *server.Server) {
		s.TLSConfig = server.TLSConfig(cert)
		s.RequireTLS = require
	}, filepath.Join(dir, server.AutoCertDir, "cert.pem")
}

// waitFor polls cond, for at most 20 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// newServer starts a native server with the user alex (password "pw").
func newServer(t *testing.T, opts ...ftpxtest.Option) *ftpxtest.Server {
	t.Helper()
	ts := ftpxtest.NewServer(t, opts...)
	ts.AddUser(t, "alex", "pw", accounts.Unlimited)
	return ts
}

// ftpServer is an FTP front end a test stops itself.
type ftpServer struct {
	srv  *ftpd.Server
	addr string
}

func startFTPServer(t *testing.T, ts *ftpxtest.Server) ftpServer {
	t.Helper()
	fs := &ftpd.Server{Core: ts.Server, Logger: ts.Server.Logger}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go fs.Serve(l)
	t.Cleanup(func() { fs.Close() })
	return ftpServer{fs, l.Addr().String()}
}
