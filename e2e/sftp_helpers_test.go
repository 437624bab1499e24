package e2e

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// The SFTP front end's helpers: its address and host key from the
// daemon's log, OpenSSH's clients run with a password and no terminal,
// and a Go client (github.com/pkg/sftp) for what OpenSSH cannot do.

var sftpLineRE = regexp.MustCompile(`msg="sftp listening" sftp_addr=(127\.0\.0\.1:\d+) host_key=(SHA256:[A-Za-z0-9+/]+) key_type=(\S+)`)

// sftpFront is what the daemon logged about its SFTP front end.
type sftpFront struct {
	addr        string // 127.0.0.1:PORT
	port        string
	fingerprint string // SHA256:..., as ssh-keygen -l prints it
	keyType     string // ssh-ed25519, ...
}

// sftpFront waits for the daemon to log its SFTP front end.
func (d *daemon) sftpFront(t *testing.T) sftpFront {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if m := sftpLineRE.FindStringSubmatch(d.logText()); m != nil {
			_, port, _ := net.SplitHostPort(m[1])
			return sftpFront{addr: m[1], port: port, fingerprint: m[2], keyType: m[3]}
		}
	}
	t.Fatalf("no sftp listening line in the log:\n%s", d.logText())
	return sftpFront{}
}

// needOpenSSH skips t when OpenSSH's clients are missing.
func needOpenSSH(t *testing.T) {
	t.Helper()
	for _, p := range []string{"ssh", "sftp", "scp", "ssh-keyscan", "ssh-keygen"} {
		if _, err := exec.LookPath(p); err != nil {
			t.Skipf("skipped: %s is not installed (Debian: openssh-client)", p)
		}
	}
}

// openssh runs OpenSSH's ssh, sftp and scp non-interactively with a
// password: SSH_ASKPASS answers it, with no terminal (a new session).
// sftp -b would force BatchMode, which disables passwords, so sftp gets
// its commands on standard input instead.
type openssh struct {
	askpass string
	dir     string // the working directory
}

func newOpenSSH(t *testing.T, dir, password string) *openssh {
	t.Helper()
	needOpenSSH(t)
	askpass := filepath.Join(t.TempDir(), "askpass.sh")
	script := "#!/bin/sh\nprintf '%s\\n' '" + strings.ReplaceAll(password, "'", `'\''`) + "'\n"
	if err := os.WriteFile(askpass, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	return &openssh{askpass: askpass, dir: dir}
}

// opts are the options every run gets: no config, no known hosts, no
// keys (public-key logins are not what these tests are about), passwords.
func (o *openssh) opts() []string {
	return []string{"-F", "/dev/null", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
		"-o", "LogLevel=ERROR", "-o", "PubkeyAuthentication=no", "-o", "PreferredAuthentications=password,keyboard-interactive",
		"-o", "ConnectTimeout=20", "-o", "NumberOfPasswordPrompts=1"}
}

// run runs prog (ssh, sftp or scp) with args after the common options and
// returns its output and exit status.
func (o *openssh) run(t *testing.T, stdin, prog string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(prog, append(o.opts(), args...)...)
	cmd.Dir = o.dir
	cmd.Env = append(os.Environ(), "SSH_ASKPASS="+o.askpass, "SSH_ASKPASS_REQUIRE=force", "DISPLAY=x")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(120 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("%s %q still running after 120 s\nstdout: %s\nstderr: %s", prog, args, out.String(), errb.String())
	}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return out.String(), errb.String(), ee.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return out.String(), errb.String(), 0
}

// sftpBatch feeds commands to OpenSSH's sftp as user@127.0.0.1 on f and
// fails the test unless it exits 0.
func (o *openssh) sftpBatch(t *testing.T, f sftpFront, user, commands string) string {
	t.Helper()
	out, errOut, code := o.run(t, commands, "sftp", "-P", f.port, user+"@127.0.0.1")
	if code != 0 {
		t.Fatalf("sftp: exit %d\ncommands:\n%s\nstdout: %s\nstderr: %s", code, commands, out, errOut)
	}
	return out
}

// keyscan returns what ssh-keygen -l says of the key ssh-keyscan fetches
// from the live server at f: its fingerprint and type.
func keyscan(t *testing.T, f sftpFront) (fingerprint, keyType string) {
	t.Helper()
	scan, err := exec.Command("ssh-keyscan", "-p", f.port, "127.0.0.1").Output()
	if err != nil || len(scan) == 0 {
		t.Fatalf("ssh-keyscan -p %s 127.0.0.1: %v %q", f.port, err, scan)
	}
	file := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(file, scan, 0o600); err != nil {
		t.Fatal(err)
	}
	fp, _, _ := keygenL(t, file)
	fields := strings.Fields(string(scan))
	if len(fields) < 3 {
		t.Fatalf("ssh-keyscan: %q", scan)
	}
	return fp, fields[1]
}

// keygenL runs ssh-keygen -l -f on a key file (known_hosts, a public or a
// private key) and returns the fingerprint, the bits and the type it
// prints.
func keygenL(t *testing.T, file string) (fingerprint, bits, kind string) {
	t.Helper()
	out, err := exec.Command("ssh-keygen", "-l", "-f", file).CombinedOutput()
	fields := strings.Fields(string(out))
	if err != nil || len(fields) < 3 || strings.Count(string(out), "\n") != 1 {
		t.Fatalf("ssh-keygen -l -f %s: %v %q", file, err, out)
	}
	return fields[1], fields[0], strings.Trim(fields[len(fields)-1], "()")
}

// goSFTP logs in to f with a password through golang.org/x/crypto/ssh,
// checking that the host key is the one the daemon logged, and returns
// the TCP connection (for cutting it), the SSH client and the SFTP client.
func goSFTP(t *testing.T, f sftpFront, user, password string) (net.Conn, *ssh.Client, *sftp.Client) {
	t.Helper()
	c, sc, err := goSFTPE(f, user, password)
	if err != nil {
		t.Fatalf("SFTP login as %s to %s: %v", user, f.addr, err)
	}
	cl, err := sftp.NewClientPipe(mustPipes(t, sc))
	if err != nil {
		t.Fatalf("sftp subsystem: %v", err)
	}
	t.Cleanup(func() { cl.Close(); sc.Close(); c.Close() })
	return c, sc, cl
}

// goSFTPClientE is goSFTP with an error instead of a failure; the caller
// closes the client (which leaves the connection open: close sc too).
func goSFTPClientE(f sftpFront, user, password string) (net.Conn, *ssh.Client, *sftp.Client, error) {
	c, sc, err := goSFTPE(f, user, password)
	if err != nil {
		return nil, nil, nil, err
	}
	cl, err := sftp.NewClient(sc)
	if err != nil {
		sc.Close()
		return nil, nil, nil, err
	}
	return c, sc, cl, nil
}

// lastLogLines returns the last n lines of the daemon's log.
func lastLogLines(d *daemon, n int) string {
	lines := strings.Split(strings.TrimRight(d.logText(), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// goSFTPE is the SSH login of goSFTP, with an error instead of a failure.
func goSFTPE(f sftpFront, user, password string) (net.Conn, *ssh.Client, error) {
	c, err := net.DialTimeout("tcp", f.addr, 20*time.Second)
	if err != nil {
		return nil, nil, err
	}
	c.SetDeadline(time.Now().Add(30 * time.Second))
	cfg := &ssh.ClientConfig{
		User: user,
		Auth: []ssh.AuthMethod{ssh.Password(password)},
		HostKeyCallback: func(_ string, _ net.Addr, key ssh.PublicKey) error {
			if got := ssh.FingerprintSHA256(key); got != f.fingerprint {
				return errors.New("host key " + got + ", the daemon logged " + f.fingerprint)
			}
			return nil
		},
	}
	conn, chans, reqs, err := ssh.NewClientConn(c, f.addr, cfg)
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	c.SetDeadline(time.Time{})
	return c, ssh.NewClient(conn, chans, reqs), nil
}

// mustPipes opens a session for the sftp subsystem and returns its pipes.
func mustPipes(t *testing.T, sc *ssh.Client) (io.Reader, io.WriteCloser) {
	t.Helper()
	s, err := sc.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	w, err := s.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RequestSubsystem("sftp"); err != nil {
		t.Fatalf("subsystem sftp: %v", err)
	}
	return r, w
}

// treeSums describes the tree under dir: every file's MD5 and every
// directory (as "dir/"), by slash-separated path.
func treeSums(t *testing.T, dir string) map[string]string {
	t.Helper()
	sums := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		switch {
		case rel == ".":
		case d.IsDir():
			sums[filepath.ToSlash(rel)+"/"] = "dir"
		case d.Type().IsRegular():
			sums[filepath.ToSlash(rel)] = md5File(t, p)
		default:
			sums[filepath.ToSlash(rel)] = "not a regular file: " + d.Type().String()
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", dir, err)
	}
	return sums
}

// sameTree fails the test when the trees' descriptions differ.
func sameTree(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	for p, w := range want {
		if g, ok := got[p]; !ok {
			t.Errorf("%s: %s missing", what, p)
		} else if g != w {
			t.Errorf("%s: %s is %s, want %s", what, p, g, w)
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			t.Errorf("%s: unexpected %s", what, p)
		}
	}
}

// sftpTree writes a tree for copies: nested directories, an empty one,
// names with spaces and unicode, an empty file and a few MiB, and
// returns its description.
func sftpTree(t *testing.T, dir string, seed uint64) map[string]string {
	t.Helper()
	r := seeded(t, seed)
	for i, name := range []string{"a.txt", "with space.txt", "sub/b.bin", "sub/deep/ünï.txt", "sub/deep/empty.txt", "big/3m.bin"} {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		n := int64(100 + 997*i)
		switch name {
		case "sub/deep/empty.txt":
			n = 0
		case "big/3m.bin":
			n = 3*mib + 11
		}
		writeSeeded(t, p, n, r)
	}
	if err := os.MkdirAll(filepath.Join(dir, "sub", "empty dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	return treeSums(t, dir)
}

// md5sumLine is one line of md5sum's output: "HEX  NAME".
var md5sumLine = regexp.MustCompile(`^([0-9a-f]{32})  (.+)$`)

// waitExit waits up to d for the daemon to exit and returns its status.
func (d *daemon) waitExit(t *testing.T, dur time.Duration) (int, time.Duration) {
	t.Helper()
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- d.cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode(), time.Since(start)
		}
		if err != nil {
			t.Fatalf("wait: %v", err)
		}
		return 0, time.Since(start)
	case <-time.After(dur):
		t.Fatalf("the server still runs %v after SIGTERM:\n%s", dur, d.logText())
		return -1, 0
	}
}

func atoi(t *testing.T, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		t.Fatalf("not a number: %q", s)
	}
	return n
}
