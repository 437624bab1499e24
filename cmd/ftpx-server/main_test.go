package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"ftpx/accounts"
	"ftpx/client"
	"ftpx/conf"
	"ftpx/protocol"

	"github.com/urfave/cli/v2"
	"golang.org/x/crypto/ssh"
)

// ftpxServer runs one command line in-process with stdin as its standard
// input, and returns what it printed and its exit status.
func ftpxServer(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	in := writeFile(t, filepath.Join(t.TempDir(), "stdin"), stdin)
	f, err := os.Open(in)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out, errOut strings.Builder
	code = run(context.Background(), append([]string{"ftpx-server"}, args...), f, &out, &errOut)
	return out.String(), errOut.String(), code
}

func writeFile(t *testing.T, path, content string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// addUser adds name with password pw (bcrypt's cheapest cost: tests log in
// often) to the accounts file.
func addUser(t *testing.T, accountsFile, name, pw string, flags ...string) {
	t.Helper()
	args := append([]string{"user", "add", "--password-stdin", "--bcrypt-cost", "4", "--accounts", accountsFile}, flags...)
	if out, errOut, code := ftpxServer(t, pw+"\n", append(args, name)...); code != 0 || out != "" || errOut != "" {
		t.Fatalf("user add %s: exit %d, %q, %q", name, code, out, errOut)
	}
}

// --version prints the release, the commit and the Go version, and exits 0.
func TestVersion(t *testing.T) {
	out, errOut, code := ftpxServer(t, "", "--version")
	if code != 0 || errOut != "" || !regexp.MustCompile(`^ftpx-server version \d+\.\d+\.\d+ \(commit \S+, go1\.\d+\S*\)\n$`).MatchString(out) {
		t.Errorf("ftpx-server --version: exit %d, %q, stderr %q", code, out, errOut)
	}
}

// The user commands, as the contract says: add creates the file (0600),
// a second add of a name and passwd, del or quota of an unknown one fail
// with exit 1 and one line, list prints NAME<TAB>QUOTA.
func TestUserCommands(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "accounts.ini")
	addUser(t, file, "one", "pw-one", "--quota", "100MB")
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("accounts file: %v, %v; want mode 0600", fi, err)
	}
	addUser(t, file, "two", "pw-two")
	for _, tc := range []struct {
		stdin string
		args  []string // after "user", before --accounts
		name  []string // after --accounts
		want  string
	}{
		{"pw\n", []string{"add", "--password-stdin", "--bcrypt-cost", "4"}, []string{"one"}, "user one: user already exists (as one)"},
		{"pw\n", []string{"add", "--password-stdin", "--bcrypt-cost", "4"}, []string{"ONE"}, "user ONE: user already exists (as one)"},
		{"pw\n", []string{"passwd", "--password-stdin", "--bcrypt-cost", "4"}, []string{"ghost"}, "user ghost: no such user"},
		{"", []string{"del"}, []string{"ghost"}, "user ghost: no such user"},
		{"", []string{"quota"}, []string{"ghost", "1GB"}, "user ghost: no such user"},
		{"", []string{"quota"}, []string{"one", "lots"}, `user quota: "lots" is not a size (e.g. 512, 100MB, 1.5GB, unlimited)`},
		{"", []string{"add"}, []string{"three"}, "no terminal to ask for the password: use --password-stdin"},
		{"", []string{"add", "--password-stdin", "--bcrypt-cost", "4"}, []string{"three"}, "--password-stdin: no password on standard input"},
		{"pw\n", []string{"add", "--quota", "lots", "--password-stdin", "--bcrypt-cost", "4"}, []string{"three"}, `--quota: "lots" is not a size (e.g. 512, 100MB, 1.5GB, unlimited)`},
	} {
		args := slices.Concat([]string{"user"}, tc.args, []string{"--accounts", file}, tc.name)
		out, errOut, code := ftpxServer(t, tc.stdin, args...)
		if code != 1 || out != "" || errOut != "ftpx-server: "+tc.want+"\n" {
			t.Errorf("ftpx-server %q: exit %d, %q, stderr %q; want 1 and %q", args, code, out, errOut, tc.want)
		}
	}

	if out, errOut, code := ftpxServer(t, "", "user", "quota", "--accounts", file, "one", "2GB"); code != 0 || out != "user one: quota 2GB\n" || errOut != "" {
		t.Errorf("user quota: exit %d, %q, %q", code, out, errOut)
	}
	if _, errOut, code := ftpxServer(t, "pw-new\n", "user", "passwd", "--password-stdin", "--bcrypt-cost", "4", "--accounts", file, "one"); code != 0 || errOut != "" {
		t.Errorf("user passwd: exit %d, %q", code, errOut)
	}
	store, err := accounts.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Authenticate("one", "pw-new"); err != nil {
		t.Errorf("the new password: %v", err)
	}
	if _, err := store.Authenticate("one", "pw-one"); err == nil {
		t.Error("the old password still logs in")
	}

	keyFile := writeFile(t, filepath.Join(dir, "keys"), authorizedKey(t)+"\n")
	if out, errOut, code := ftpxServer(t, "", "user", "keys", "--accounts", file, "one", keyFile); code != 0 || out != "user one: 1 key(s)\n" || errOut != "" {
		t.Errorf("user keys: exit %d, %q, %q", code, out, errOut)
	}

	root := filepath.Join(dir, "data")
	os.MkdirAll(filepath.Join(root, "one", "sub"), 0o700)
	writeFile(t, filepath.Join(root, "one", "sub", "f"), strings.Repeat("x", 1500))
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"list", "--accounts", file}, "one\t2GB\ntwo\tunlimited\n"},
		{[]string{"list", "--used", "--root", root, "--accounts", file}, "one\t2GB\t1500B\ntwo\tunlimited\t0B\n"},
		{[]string{"list", "--used", "--config", writeFile(t, filepath.Join(dir, "ftpx.ini"), "root = data\naccounts = accounts.ini\n")}, "one\t2GB\t1500B\ntwo\tunlimited\t0B\n"},
	} {
		if out, errOut, code := ftpxServer(t, "", append([]string{"user"}, tc.args...)...); code != 0 || out != tc.want || errOut != "" {
			t.Errorf("user %q: exit %d, %q, %q; want %q", tc.args, code, out, errOut, tc.want)
		}
	}

	if out, errOut, code := ftpxServer(t, "", "user", "del", "--accounts", file, "two"); code != 0 || out != "" || errOut != "" {
		t.Errorf("user del: exit %d, %q, %q", code, out, errOut)
	}
	if out, _, _ := ftpxServer(t, "", "user", "list", "--accounts", file); out != "one\t2GB\n" {
		t.Errorf("user list after del: %q", out)
	}
}

// authorizedKey returns a new public key as an authorized_keys line.
func authorizedKey(t *testing.T) string {
	pub, _, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key))) + " test@ftpx"
}

// partials on a root without any: the heading alone; rm needs a choice.
func TestPartialsOnAnEmptyRoot(t *testing.T) {
	root := t.TempDir()
	os.Mkdir(filepath.Join(root, "alex"), 0o700)
	noAccounts := filepath.Join(root, "none.ini")
	for _, tc := range []struct {
		args       []string
		code       int
		out, fails string
	}{
		{[]string{"list"}, 0, "USER  ID  NAME  BYTES  AGE\n", ""},
		{[]string{"list", "alex"}, 0, "USER  ID  NAME  BYTES  AGE\n", ""},
		{[]string{"rm", "--older-than", "0s"}, 0, "0 removed, 0B freed\n", ""},
		{[]string{"list", "nobody"}, 1, "", `ftpx-server: partials: no user or transfer id "nobody" (an id needs 8 characters at least)` + "\n"},
		{[]string{"rm"}, 1, "", "ftpx-server: partials rm: name a USER or an ID, or give --older-than (partials rm --older-than 0s removes every one)\n"},
	} {
		args := append([]string{"partials", tc.args[0], "--root", root, "--accounts", noAccounts}, tc.args[1:]...)
		out, errOut, code := ftpxServer(t, "", args...)
		if code != tc.code || out != tc.out || errOut != tc.fails {
			t.Errorf("ftpx-server %q: exit %d, %q, %q; want %d, %q, %q", args, code, out, errOut, tc.code, tc.out, tc.fails)
		}
	}
}

// Every setting of conf's table is a flag of serve, before or after the
// command, a switch when the setting is true or false.
func TestEverySettingIsAFlag(t *testing.T) {
	app := newApp(nil, nil, nil)
	serveCmd := app.Command("serve")
	for _, flags := range [][]cli.Flag{app.Flags, serveCmd.Flags} {
		byName := map[string]cli.Flag{}
		for _, f := range flags {
			byName[f.Names()[0]] = f
		}
		if len(byName) != len(conf.Settings())+1 {
			t.Errorf("%d flags, want one per setting and --config (%d)", len(byName), len(conf.Settings())+1)
		}
		for _, s := range conf.Settings() {
			f, ok := byName[s.Flag()]
			_, isBool := f.(*cli.BoolFlag)
			if !ok || isBool != s.Bool {
				t.Errorf("setting %s: flag --%s %T", s.Key, s.Flag(), f)
			}
		}
	}
	out, _, code := ftpxServer(t, "", "serve", "--help")
	for _, want := range []string{"--require-tls ", "--metrics-listen ADDR ", "--max-login-failures N ", "--welcome TEXT ", "--anonymous-root DIR ", "--fsync "} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("serve --help (exit %d) does not show %q:\n%s", code, want, out)
		}
	}
}

// A bad flag stops serve before it listens: exit 1 and one line, in the
// words the config file's check uses.
func TestServeRefusesABadFlag(t *testing.T) {
	root := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--max-conns", "lots"}, `--max-conns: "lots" is not a number`},
		{[]string{"serve", "--max-conns", "0"}, `--max-conns: 0 is too small (at least 1)`},
		{[]string{"--idle-timeout", "soon", "serve"}, `--idle-timeout: "soon" is not a duration (e.g. 30s, 5m, 1h)`},
		{[]string{"--listen", "nowhere"}, `--listen: "nowhere" is not an address (want HOST:PORT, e.g. 127.0.0.1:2121)`},
		{[]string{"--metrics-listen", "nowhere"}, `--metrics-listen: "nowhere" is not an address (want HOST:PORT, e.g. 127.0.0.1:9121)`},
		{[]string{"--min-free-space", "plenty"}, `--min-free-space: "plenty" is neither auto nor a size (e.g. 0, 500MB, 2GB)`},
		{[]string{"--s3-part-size", "1MB"}, `--s3-part-size: 1MB is outside 5MB to 5GB`},
		{[]string{"--log-format", "xml"}, `--log-format: "xml" is neither text nor json`},
		{[]string{"--require-tls"}, `require_tls needs tls = auto or tls_cert and tls_key`},
		{[]string{"--require-tls=maybe"}, `invalid boolean value "maybe" for -require-tls: parse error (see ftpx-server --help)`},
		{[]string{"serve", "extra"}, `serve: unexpected argument "extra" (flags come before arguments, and serve takes none)`},
	} {
		args := append(tc.args, "--root", root, "--accounts", filepath.Join(root, "none.ini"))
		out, errOut, code := ftpxServer(t, "", args...)
		if code != 1 || out != "" || errOut != "ftpx-server: "+tc.want+"\n" {
			t.Errorf("ftpx-server %q: exit %d, %q, stderr %q; want 1 and %q", args, code, out, errOut, tc.want)
		}
	}
}

// A bad config file stops serve with the file, the line and what is wrong,
// in the words a flag with that value gets.
func TestServeRefusesABadConfigFile(t *testing.T) {
	dir := t.TempDir()
	unknown := writeFile(t, filepath.Join(dir, "unknown.ini"), "listen = 127.0.0.1:0\nbogus = 1\n")
	bad := writeFile(t, filepath.Join(dir, "bad.ini"), "listen = 127.0.0.1:0\n\nmax_conns = lots\n")
	for _, tc := range []struct{ file, want string }{
		{unknown, unknown + `:2: unknown key "bogus"`},
		{bad, bad + `:3: max_conns: "lots" is not a number`},
	} {
		out, errOut, code := ftpxServer(t, "", "--config", tc.file, "--root", dir)
		if code != 1 || out != "" || errOut != "ftpx-server: "+tc.want+"\n" {
			t.Errorf("--config %s: exit %d, %q, stderr %q; want 1 and %q", tc.file, code, out, errOut, tc.want)
		}
	}
}

// daemon is a serve running in-process.
type daemon struct {
	addr   string
	log    *syncBuffer
	cancel context.CancelFunc
	code   chan int
}

// syncBuffer is a log that the server writes while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var listening = regexp.MustCompile(`msg=listening addr=(\S+)`)

// startServe runs serve with args until the test ends, and returns once
// it has logged the address it listens on.
func startServe(t *testing.T, args ...string) *daemon {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	d := &daemon{log: &syncBuffer{}, cancel: cancel, code: make(chan int, 1)}
	var stdout strings.Builder
	go func() { d.code <- run(ctx, append([]string{"ftpx-server", "serve"}, args...), nil, &stdout, d.log) }()
	t.Cleanup(func() { d.stop(t) })
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if m := listening.FindStringSubmatch(d.log.String()); m != nil {
			d.addr = m[1]
			return d
		}
		select {
		case code := <-d.code:
			d.code <- code
			t.Fatalf("serve %q exited %d before listening:\n%s", args, code, d.log)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve %q logged no address:\n%s", args, d.log)
		}
	}
}

// stop ends run's context, as SIGTERM would, and checks serve stopped
// cleanly: exit 0, "stopped" logged.
func (d *daemon) stop(t *testing.T) {
	t.Helper()
	d.cancel()
	select {
	case code := <-d.code:
		d.code <- code
		if code != 0 || !strings.Contains(d.log.String(), "msg=stopped") || strings.Contains(d.log.String(), "ftpx-server:") {
			t.Errorf("serve exited %d:\n%s", code, d.log)
		}
	case <-time.After(40 * time.Second):
		t.Fatalf("serve did not stop:\n%s", d.log)
	}
}

// dial connects a client to d; the test closes it.
func dial(t *testing.T, d *daemon) *client.Client {
	t.Helper()
	c, err := client.Dial(context.Background(), d.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// authStatus logs in as user and returns the server's answer.
func authStatus(t *testing.T, c *client.Client, user, password string) protocol.Status {
	t.Helper()
	err := c.Auth(context.Background(), user, password)
	var refused *client.StatusError
	switch {
	case err == nil:
		return protocol.StatusLoggedIn
	case errors.As(err, &refused):
		return refused.Status
	}
	t.Fatalf("auth %s: %v", user, err)
	return 0
}

// Flags win over the config file, which wins over the defaults; the
// context's end stops the server cleanly.
func TestFlagsOverrideTheConfigFile(t *testing.T) {
	dir := t.TempDir()
	file := writeFile(t, filepath.Join(dir, "accounts.ini"), "")
	cfg := writeFile(t, filepath.Join(dir, "ftpx.ini"),
		"listen = 127.0.0.1:1\nwelcome = from the file\nanonymous_root = "+t.TempDir()+"\nrequire_tls = true\n")
	d := startServe(t, "--config", cfg, "--listen", "127.0.0.1:0", "--welcome", `from\nthe flag`, "--require-tls=false",
		"--root", filepath.Join(dir, "data"), "--accounts", file)
	c := dial(t, d)
	if got := c.Greeting().Welcome; got != "from\nthe flag" {
		t.Errorf("welcome %q, want the flag's", got)
	}
	// The file's anonymous_root, without TLS (--require-tls=false).
	if st := authStatus(t, c, "anonymous", "guest"); st != protocol.StatusLoggedIn {
		t.Errorf("anonymous auth: %d, want %d", st, protocol.StatusLoggedIn)
	}
	d.stop(t)
}

// A switch given alone turns its setting on, over the file's false.
func TestSwitchAloneTurnsItOn(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "accounts.ini")
	addUser(t, file, "alex", "pw")
	cfg := writeFile(t, filepath.Join(dir, "ftpx.ini"), "tls = auto\nrequire_tls = false\n")
	d := startServe(t, "--config", cfg, "--require-tls", "--listen", "127.0.0.1:0", "--root", filepath.Join(dir, "data"), "--accounts", file)
	if st := authStatus(t, dial(t, d), "alex", "pw"); st != protocol.StatusTLSRequired {
		t.Errorf("auth without TLS under --require-tls: %d, want %d", st, protocol.StatusTLSRequired)
	}
}

// One server per local root: a second serve on it is refused while the
// first runs, and starts once the first has stopped.
func TestOneServerPerRoot(t *testing.T) {
	dir := t.TempDir()
	args := []string{"--listen", "127.0.0.1:0", "--root", filepath.Join(dir, "data"), "--accounts", filepath.Join(dir, "accounts.ini")}
	writeFile(t, filepath.Join(dir, "accounts.ini"), "")
	d := startServe(t, args...)
	_, errOut, code := ftpxServer(t, "", args...)
	want := "ftpx-server: root " + filepath.Join(dir, "data") + " is served by another ftpx-server (process "
	if code != 1 || !strings.HasPrefix(errOut, want) || strings.Count(errOut, "\n") != 1 {
		t.Errorf("a second server on the root: exit %d, %q; want 1 and %q...", code, errOut, want)
	}
	d.stop(t)
	startServe(t, args...)
}

// SIGHUP reads the config file again and lays the flags over it, as at
// start: a flag keeps winning over a value changed in the file.
func TestReloadKeepsTheFlagsOverTheFile(t *testing.T) {
	dir := t.TempDir()
	file := writeFile(t, filepath.Join(dir, "accounts.ini"), "")
	cfg := writeFile(t, filepath.Join(dir, "ftpx.ini"), "welcome = file first\n")
	d := startServe(t, "--config", cfg, "--welcome", "from the flag", "--listen", "127.0.0.1:0", "--root", filepath.Join(dir, "data"), "--accounts", file)
	if st := authStatus(t, dial(t, d), "anonymous", "guest"); st == protocol.StatusLoggedIn {
		t.Fatal("anonymous logged in before anonymous_root was set")
	}
	writeFile(t, cfg, "welcome = file second\nanonymous_root = "+t.TempDir()+"\n")
	// serve catches SIGHUP from before it logs its address.
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(d.log.String(), `msg="config reloaded"`); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no reload logged:\n%s", d.log)
		}
	}
	c := dial(t, d)
	if got := c.Greeting().Welcome; got != "from the flag" {
		t.Errorf("welcome after the reload %q, want the flag's", got)
	}
	if st := authStatus(t, c, "anonymous", "guest"); st != protocol.StatusLoggedIn {
		t.Errorf("anonymous auth after the reload set anonymous_root: %d", st)
	}
}
