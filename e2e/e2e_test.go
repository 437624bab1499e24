package e2e

import (
	"bufio"
	"bytes"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"ftpx/internal/miniotest"
	"ftpx/protocol"
)

var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ftpx-e2e-bin")
	if err != nil {
		panic(err)
	}
	binDir = dir
	for _, cmd := range []string{"ftpx", "ftpx-server"} {
		out, err := exec.Command("go", "build", "-o", filepath.Join(dir, cmd), "ftpx/cmd/"+cmd).CombinedOutput()
		if err != nil {
			os.RemoveAll(dir)
			panic("build " + cmd + ": " + err.Error() + "\n" + string(out))
		}
	}
	code := miniotest.Main(m) // and stop the package's MinIO, if a test started it
	os.RemoveAll(dir)
	os.Exit(code)
}

// daemon is a running ftpx-server process.
type daemon struct {
	addr, root, accounts string
	cmd                  *exec.Cmd
	log                  *bytes.Buffer // written by the goroutine reading stderr: use logText
	logMu                sync.Mutex
}

// addUser runs `ftpx-server user add` with the password on stdin.
func addUser(t *testing.T, accounts, name, password, quota string) {
	t.Helper()
	args := []string{"user", "add", "--password-stdin", "--accounts", accounts}
	if quota != "" {
		args = append(args, "--quota", quota)
	}
	cmd := exec.Command(filepath.Join(binDir, "ftpx-server"), append(args, name)...)
	cmd.Stdin = strings.NewReader(password + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("user add %s: %v\n%s", name, err, out)
	}
}

var (
	addrRE   = regexp.MustCompile(`\baddr=(127\.0\.0\.1:\d+)`)
	addrJSON = regexp.MustCompile(`"addr":"(127\.0\.0\.1:\d+)"`)
)

// startDaemon runs ftpx-server on a free port and waits for its address.
func startDaemon(t *testing.T, accounts string, extra ...string) *daemon {
	t.Helper()
	return startDaemonAt(t, filepath.Join(t.TempDir(), "root"), "127.0.0.1:0", accounts, extra...)
}

// startDaemonAt runs ftpx-server on root, listening on listen (a restart
// after a kill passes the same root and address).
func startDaemonAt(t *testing.T, root, listen, accounts string, extra ...string) *daemon {
	t.Helper()
	d := &daemon{root: root, accounts: accounts, log: new(bytes.Buffer)}
	args := append([]string{"--listen", listen, "--root", d.root, "--accounts", accounts}, extra...)
	d.cmd = exec.Command(filepath.Join(binDir, "ftpx-server"), args...)
	// A pipe of our own, not StderrPipe's, which Wait closes: a test that
	// waits for the server to exit would lose its last lines.
	stderr, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	d.cmd.Stderr = w
	err = d.cmd.Start()
	w.Close()
	if err != nil {
		stderr.Close()
		t.Fatal(err)
	}
	found, exited := make(chan string, 2), make(chan struct{})
	go func() {
		defer stderr.Close()
		sc := bufio.NewScanner(stderr)
		sent := false
		for sc.Scan() {
			d.logMu.Lock()
			d.log.WriteString(sc.Text() + "\n")
			d.logMu.Unlock()
			if m := addrRE.FindStringSubmatch(sc.Text()); m != nil && !sent {
				found <- m[1]
				sent = true
			}
		}
		close(exited)
	}()
	t.Cleanup(func() {
		d.cmd.Process.Signal(syscall.SIGTERM)
		d.cmd.Wait()
	})
	if i := slices.Index(extra, "--log-file"); i >= 0 { // the address is logged there instead
		go func() {
			for range 300 {
				b, _ := os.ReadFile(extra[i+1])
				if m := addrJSON.FindSubmatch(b); m != nil {
					found <- string(m[1])
					return
				}
				time.Sleep(100 * time.Millisecond)
			}
		}()
	}
	select {
	case d.addr = <-found:
	case <-exited:
		t.Fatalf("server exited before listening:\n%s", d.logText())
	case <-time.After(30 * time.Second):
		t.Fatal("server did not log its address")
	}
	return d
}

// logText returns what the server has written to stderr so far.
func (d *daemon) logText() string {
	d.logMu.Lock()
	defer d.logMu.Unlock()
	return d.log.String()
}

// ftpx runs the client and returns stdout, stderr and the exit status.
func ftpx(t *testing.T, dir string, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "ftpx"), args...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "FTPX_STATE_DIR="+filepath.Join(dir, ".state")), env...)
	return runCmd(t, cmd)
}

// runCmd runs cmd and returns its standard output, standard error and
// exit status; a command that cannot be run fails the test.
func runCmd(t *testing.T, cmd *exec.Cmd) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

func writeRandom(t *testing.T, path string, n int) string {
	t.Helper()
	b := make([]byte, n)
	rand.Read(b)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

func md5File(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

func TestEndToEnd(t *testing.T) {
	accounts := filepath.Join(t.TempDir(), "accounts.ini")
	addUser(t, accounts, "alex", "s3cret pass", "1MB")
	d := startDaemon(t, accounts)
	work := t.TempDir()
	env := []string{"FTPX_SERVER=" + d.addr, "FTPX_USER=alex", "FTPX_PASSWORD=s3cret pass"}

	sum := writeRandom(t, filepath.Join(work, "data.bin"), 300_000)
	if _, errOut, code := ftpx(t, work, env, "put", "data.bin"); code != 0 {
		t.Fatalf("put: exit %d: %s", code, errOut)
	}
	if got := md5File(t, filepath.Join(d.root, "alex", "data.bin")); got != sum {
		t.Fatalf("stored md5 %s, want %s", got, sum)
	}

	out, errOut, code := ftpx(t, work, env, "ls", "--json")
	var entries []map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &entries) != nil || len(entries) != 1 || entries[0]["name"] != "data.bin" || entries[0]["size"] != float64(300_000) {
		t.Fatalf("ls --json: exit %d %q %s", code, out, errOut)
	}

	out, errOut, code = ftpx(t, work, env, "--json", "get", "data.bin", "copy.bin")
	var res map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &res) != nil || res["md5"] != sum || res["action"] != "get" {
		t.Fatalf("get --json: exit %d %q %s", code, out, errOut)
	}
	if got := md5File(t, filepath.Join(work, "copy.bin")); got != sum {
		t.Fatalf("downloaded md5 %s, want %s", got, sum)
	}

	// put -r of a tree, then a cp-like listing.
	os.MkdirAll(filepath.Join(work, "tree", "sub", "empty"), 0o755)
	writeRandom(t, filepath.Join(work, "tree", "a.txt"), 10)
	subSum := writeRandom(t, filepath.Join(work, "tree", "sub", "b.txt"), 20)
	if _, errOut, code := ftpx(t, work, env, "put", "-r", "tree"); code != 0 {
		t.Fatalf("put -r: exit %d: %s", code, errOut)
	}
	if got := md5File(t, filepath.Join(d.root, "alex", "tree", "sub", "b.txt")); got != subSum {
		t.Fatalf("tree/sub/b.txt md5 %s", got)
	}
	if fi, err := os.Stat(filepath.Join(d.root, "alex", "tree", "sub", "empty")); err != nil || !fi.IsDir() {
		t.Fatalf("empty directory not created: %v", err)
	}
}

func TestExitStatuses(t *testing.T) {
	accounts := filepath.Join(t.TempDir(), "accounts.ini")
	addUser(t, accounts, "alex", "pw", "100KB")
	d := startDaemon(t, accounts)
	work := t.TempDir()
	env := []string{"FTPX_SERVER=" + d.addr, "FTPX_USER=alex", "FTPX_PASSWORD=pw"}
	writeRandom(t, filepath.Join(work, "big.bin"), 200_000)
	writeRandom(t, filepath.Join(work, "small.bin"), 1000)

	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	closedAddr := closed.Addr().String()
	closed.Close()

	lying := lyingServer(t)

	for _, tc := range []struct {
		name string
		env  []string
		args []string
		want int
		msg  string // a piece of the one-line error
	}{
		{"ok", env, []string{"put", "small.bin"}, 0, ""},
		{"missing remote file", env, []string{"get", "missing.txt"}, 1, "256"},
		{"missing local file", env, []string{"put", "nothing-here.bin"}, 1, "nothing-here.bin"},
		{"usage", env, []string{"get"}, 2, ""},
		{"unknown flag", env, []string{"ls", "--bogus"}, 2, ""},
		{"no server", append(env, "FTPX_SERVER="+closedAddr), []string{"ls"}, 3, ""},
		{"wrong password", append(env, "FTPX_PASSWORD=nope"), []string{"ls"}, 4, "253"},
		{"quota", env, []string{"put", "big.bin"}, 5, "264"},
		{"md5 mismatch", append(env, "FTPX_SERVER="+lying), []string{"get", "x.bin"}, 6, "265"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, errOut, code := ftpx(t, work, tc.env, tc.args...)
			if code != tc.want {
				t.Fatalf("exit %d, want %d; stderr: %s", code, tc.want, errOut)
			}
			if code != 0 && !strings.HasPrefix(errOut, "ftpx: ") && code != 2 {
				t.Fatalf("error line %q does not start with ftpx:", errOut)
			}
			if !strings.Contains(errOut, tc.msg) {
				t.Fatalf("stderr %q does not mention %q", errOut, tc.msg)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(work, "x.bin")); !os.IsNotExist(err) {
		t.Fatalf("a file from the lying server is under its final name: %v", err)
	}
	if _, err := os.Stat(filepath.Join(d.root, "alex", "big.bin")); !os.IsNotExist(err) {
		t.Fatalf("the over-quota file exists on the server")
	}
}

// fakeServer serves a hand-written server on loopback for tests of the
// client against servers that misbehave: it greets with hello, accepts any
// login, and passes every other request to handle, which answers it and
// returns false to close the connection.
func fakeServer(t *testing.T, hello protocol.Response, handle func(c net.Conn, req *protocol.Request) bool) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				protocol.WriteFrame(c, hello)
				for {
					req, err := protocol.ReadRequest(c, protocol.MaxRequestHeader)
					if err != nil {
						return
					}
					if req.Action == "auth" {
						protocol.WriteFrame(c, protocol.Response{ID: req.ID, Status: protocol.StatusLoggedIn, Msg: "ok"})
					} else if !handle(c, req) {
						return
					}
				}
			}()
		}
	}()
	return l.Addr().String()
}

// lyingServer answers every get with a body whose md5 frame is wrong.
func lyingServer(t *testing.T) string {
	hello := protocol.Response{Status: protocol.StatusReady, Msg: "ready", Version: "liar/1"}
	return fakeServer(t, hello, func(c net.Conn, req *protocol.Request) bool {
		switch req.Action {
		case "get":
			body := []byte("honest bytes, dishonest digest")
			protocol.WriteFrame(c, protocol.Response{ID: req.ID, Status: protocol.StatusReadyToSend, Msg: "ready", Size: protocol.Int64(int64(len(body)))})
			c.Write(body)
			protocol.WriteFrame(c, protocol.Response{ID: req.ID, Status: protocol.StatusOK, Msg: "md5", MD5: strings.Repeat("0", 32)})
		case "stat":
			protocol.WriteFrame(c, protocol.Response{ID: req.ID, Status: protocol.StatusNotExist, Msg: "no"})
		default:
			protocol.WriteFrame(c, protocol.Response{ID: req.ID, Status: protocol.StatusGoodbye, Msg: "bye"})
			io.Copy(io.Discard, c)
			return false
		}
		return true
	})
}

func TestServerCommands(t *testing.T) {
	dir := t.TempDir()
	accounts := filepath.Join(dir, "accounts.ini")
	server := filepath.Join(binDir, "ftpx-server")
	run := func(stdin string, args ...string) (string, int) {
		cmd := exec.Command(server, args...)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return string(out), ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return string(out), 0
	}
	if out, code := run("pw-one\n", "user", "add", "--quota", "100MB", "--password-stdin", "--accounts", accounts, "one"); code != 0 {
		t.Fatalf("user add: %d %s", code, out)
	}
	if fi, err := os.Stat(accounts); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("accounts file mode: %v %v", fi.Mode(), err)
	}
	if out, code := run("pw\n", "user", "add", "--password-stdin", "--accounts", accounts, "one"); code != 1 || strings.Count(strings.TrimSpace(out), "\n") != 0 {
		t.Fatalf("adding an existing user: exit %d, %q; want 1 and one line", code, out)
	}
	for _, args := range [][]string{{"passwd", "--password-stdin"}, {"del"}} {
		if out, code := run("pw\n", append(append([]string{"user"}, args...), "--accounts", accounts, "ghost")...); code != 1 {
			t.Fatalf("user %s of an unknown user: exit %d %q", args[0], code, out)
		}
	}
	run("pw-two\n", "user", "add", "--password-stdin", "--accounts", accounts, "two")
	os.MkdirAll(filepath.Join(dir, "data", "one", "sub"), 0o700)
	os.WriteFile(filepath.Join(dir, "data", "one", "sub", "f"), make([]byte, 1500), 0o600)
	if out, _ := run("", "user", "list", "--accounts", accounts); out != "one\t100MB\ntwo\tunlimited\n" {
		t.Fatalf("user list: %q", out)
	}
	if out, _ := run("", "user", "list", "--used", "--root", filepath.Join(dir, "data"), "--accounts", accounts); out != "one\t100MB\t1500B\ntwo\tunlimited\t0B\n" {
		t.Fatalf("user list --used: %q", out)
	}
	if out, code := run("", "user", "del", "--accounts", accounts, "two"); code != 0 {
		t.Fatalf("user del: %d %s", code, out)
	}
	if out, _ := run("", "user", "list", "--used", "--accounts", accounts, "--root", filepath.Join(dir, "data")); out != "one\t100MB\t1500B\n" {
		t.Fatalf("user list after del: %q", out)
	}

	bad := filepath.Join(dir, "bad.ini")
	os.WriteFile(bad, []byte("listen = 127.0.0.1:0\n\nmax_conns = many\n"), 0o644)
	if out, code := run("", "--config", bad); code != 1 || !strings.Contains(out, "bad.ini:3:") {
		t.Fatalf("bad config: exit %d %q, want 1 naming bad.ini:3", code, out)
	}
	broken := filepath.Join(dir, "broken.ini")
	os.WriteFile(broken, []byte("[alex]\npassword = x\nquota = lots\n"), 0o600)
	if out, code := run("", "--listen", "127.0.0.1:0", "--root", dir, "--accounts", broken); code != 1 || !strings.Contains(out, "broken.ini:3:") {
		t.Fatalf("malformed accounts: exit %d %q, want 1 naming broken.ini:3", code, out)
	}
}

func TestReloadOnHangupAndCleanExit(t *testing.T) {
	accounts := filepath.Join(t.TempDir(), "accounts.ini")
	addUser(t, accounts, "first", "pw1", "")
	logFile := filepath.Join(t.TempDir(), "server.log")
	d := startDaemon(t, accounts, "--log-format", "json", "--log-file", logFile)
	work := t.TempDir()
	env := []string{"FTPX_SERVER=" + d.addr, "FTPX_USER=late", "FTPX_PASSWORD=pw2"}
	if _, _, code := ftpx(t, work, env, "ls"); code != 4 {
		t.Fatalf("unknown user: exit %d, want 4", code)
	}
	addUser(t, accounts, "late", "pw2", "")
	d.cmd.Process.Signal(syscall.SIGHUP)
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, errOut, code := ftpx(t, work, env, "ls")
		if code == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("user added before SIGHUP still refused: %d %s", code, errOut)
		}
		time.Sleep(50 * time.Millisecond)
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	if err := d.cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
	b, _ := os.ReadFile(logFile)
	var sawAddr, sawAuth bool
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		sawAddr = sawAddr || rec["addr"] == d.addr
		sawAuth = sawAuth || rec["msg"] == "auth failed" && rec["user"] == "late"
	}
	if !sawAddr || !sawAuth {
		t.Fatalf("JSON log lacks the address or the failed auth:\n%s", b)
	}
}

func TestPutManySmallFilesPipelined(t *testing.T) {
	accounts := filepath.Join(t.TempDir(), "accounts.ini")
	addUser(t, accounts, "alex", "pw", "")
	d := startDaemon(t, accounts)
	work := t.TempDir()
	env := []string{"FTPX_SERVER=" + d.addr, "FTPX_USER=alex", "FTPX_PASSWORD=pw"}
	sums := map[string]string{}
	for i := range 500 {
		dir := filepath.Join(work, "many", fmt.Sprintf("d%d", i%7))
		os.MkdirAll(dir, 0o755)
		name := filepath.Join(dir, fmt.Sprintf("f%03d", i))
		sums[name] = writeRandom(t, name, 100+i*37)
	}
	out, errOut, code := ftpx(t, work, env, "--json", "put", "-r", "many")
	if code != 0 || strings.Count(out, "\n") != 500 {
		t.Fatalf("put -r of 500 small files: exit %d, %d result lines: %s", code, strings.Count(out, "\n"), errOut)
	}
	for local, sum := range sums {
		rel, _ := filepath.Rel(work, local)
		if got := md5File(t, filepath.Join(d.root, "alex", rel)); got != sum {
			t.Fatalf("%s: md5 %s, want %s", rel, got, sum)
		}
	}
	// And back, as a batch get (pipelined too).
	os.Mkdir(filepath.Join(work, "back"), 0o755)
	if _, errOut, code := ftpx(t, work, env, "shell", "-c", "get many/d3/* back"); code != 0 {
		t.Fatalf("batch get: exit %d: %s", code, errOut)
	}
	got := 0
	for local, sum := range sums {
		if filepath.Base(filepath.Dir(local)) != "d3" {
			continue
		}
		got++
		if md5File(t, filepath.Join(work, "back", filepath.Base(local))) != sum {
			t.Fatalf("back/%s differs", filepath.Base(local))
		}
	}
	if ents, _ := os.ReadDir(filepath.Join(work, "back")); len(ents) != got {
		t.Fatalf("%d files in back/, want %d (no partial left)", len(ents), got)
	}
}
