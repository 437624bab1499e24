package sftpd_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"ftpx/accounts"
	"ftpx/sftpd"
)

// openssh runs OpenSSH's clients against the SFTP front end, logging in
// with alex's password without a terminal: the password comes from an
// SSH_ASKPASS script, which SSH_ASKPASS_REQUIRE=force makes ssh use, and
// the clients run in a session of their own (no controlling tty). sftp -b
// would force BatchMode, which disables passwords: sftp's commands are fed
// on standard input instead.
type openssh struct {
	t    *testing.T
	host string
	port string
	env  []string
}

// newOpenSSH skips the test when a client is missing.
func newOpenSSH(t *testing.T, addr string, bins ...string) *openssh {
	t.Helper()
	for _, b := range bins {
		if _, err := exec.LookPath(b); err != nil {
			t.Skipf("%s is not installed (Debian: apt-get install openssh-client); skipping the OpenSSH test", b)
		}
	}
	askpass := filepath.Join(t.TempDir(), "askpass.sh")
	if err := os.WriteFile(askpass, []byte("#!/bin/sh\necho "+password+"\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SSH_AUTH_SOCK=") && !strings.HasPrefix(kv, "SSH_ASKPASS") && !strings.HasPrefix(kv, "DISPLAY=") {
			env = append(env, kv)
		}
	}
	env = append(env, "SSH_ASKPASS="+askpass, "SSH_ASKPASS_REQUIRE=force", "DISPLAY=x")
	host, port, _ := net.SplitHostPort(addr)
	return &openssh{t: t, host: host, port: port, env: env}
}

// options are every client's: no configuration file, no known hosts, no
// keys or agent, passwords only.
func (o *openssh) options() []string {
	return []string{
		"-F", "/dev/null",
		"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
		"-o", "PubkeyAuthentication=no", "-o", "PreferredAuthentications=password",
		"-o", "NumberOfPasswordPrompts=1", "-o", "ConnectTimeout=10",
	}
}

// run runs bin with args, stdin as its standard input, and returns its
// standard output, standard error and exit status.
func (o *openssh) run(stdin, bin string, args ...string) (stdout, stderr string, status int) {
	o.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = o.env
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		status = ee.ExitCode()
	default:
		o.t.Fatalf("%s: %v", bin, err)
	}
	if ctx.Err() != nil {
		o.t.Fatalf("%s %q timed out; stderr: %s", bin, args, errOut.String())
	}
	return out.String(), errOut.String(), status
}

// sftp feeds commands to OpenSSH's sftp and returns its output.
func (o *openssh) sftp(commands ...string) (stdout, stderr string, status int) {
	o.t.Helper()
	args := append(o.options(), "-P", o.port, user+"@"+o.host)
	return o.run(strings.Join(commands, "\n")+"\n", "sftp", args...)
}

func (o *openssh) scp(args ...string) (stdout, stderr string, status int) {
	o.t.Helper()
	return o.run("", "scp", append(append(o.options(), "-P", o.port), args...)...)
}

func (o *openssh) ssh(command ...string) (stdout, stderr string, status int) {
	o.t.Helper()
	return o.run("", "ssh", append(append(o.options(), "-p", o.port, user+"@"+o.host), command...)...)
}

// answer returns the lines sftp printed for command (echoed as
// "sftp> command" when its commands come on standard input).
func answer(out, command string) []string {
	_, after, ok := strings.Cut(out, "sftp> "+command+"\n")
	if !ok {
		return nil
	}
	after, _, _ = strings.Cut(after, "sftp> ")
	return strings.Fields(after)
}

func TestOpenSSHSftpPutGetLsMkdirRenameRm(t *testing.T) {
	ts, addr := setup(t, accounts.Unlimited)
	o := newOpenSSH(t, addr, "sftp")
	h := ts.Home(user)
	local := t.TempDir()
	a := randomBytes(20, 1<<20+4321)
	b := []byte("a small text file\n")
	os.WriteFile(filepath.Join(local, "a.bin"), a, 0o644)
	os.WriteFile(filepath.Join(local, "b.txt"), b, 0o644)

	out, stderr, _ := o.sftp(
		"mkdir /docs",
		"put "+filepath.Join(local, "a.bin")+" /docs/a.bin",
		"put "+filepath.Join(local, "b.txt")+" /docs/b.txt",
		"ls -1 /docs",
	)
	if got := answer(out, "ls -1 /docs"); strings.Join(got, " ") != "/docs/a.bin /docs/b.txt" {
		t.Errorf("ls after two puts: %q; want [/docs/a.bin /docs/b.txt]\n%s\nstderr: %s", got, out, stderr)
	}
	if got := fileMD5(t, filepath.Join(h, "docs", "a.bin")); got != md5hex(a) {
		t.Errorf("a.bin as put by sftp: md5 %s, want %s", got, md5hex(a))
	}
	if got, _ := os.ReadFile(filepath.Join(h, "docs", "b.txt")); !bytes.Equal(got, b) {
		t.Errorf("b.txt as put by sftp: %q", got)
	}

	out, stderr, _ = o.sftp(
		"rename /docs/b.txt /docs/c.txt",
		"get /docs/a.bin "+filepath.Join(local, "a.back"),
		"get /docs/c.txt "+filepath.Join(local, "c.back"),
		"rm /docs/c.txt",
		"ls -1 /docs",
	)
	if got := answer(out, "ls -1 /docs"); strings.Join(got, " ") != "/docs/a.bin" {
		t.Errorf("ls after rename and rm: %q; want [/docs/a.bin]\n%s\nstderr: %s", got, out, stderr)
	}
	if got := fileMD5(t, filepath.Join(local, "a.back")); got != md5hex(a) {
		t.Errorf("a.bin as got by sftp: md5 %s, want %s", got, md5hex(a))
	}
	if got, _ := os.ReadFile(filepath.Join(local, "c.back")); !bytes.Equal(got, b) {
		t.Errorf("c.txt as got by sftp: %q, want b.txt's bytes", got)
	}
	if got := names(t, filepath.Join(h, "docs")); strings.Join(got, " ") != "a.bin" {
		t.Errorf("docs holds %q, want [a.bin]", got)
	}

	// A refused command says why and leaves the rest of the session working.
	_, stderr, _ = o.sftp("get /docs/none.bin "+filepath.Join(local, "none"), "rmdir /docs")
	if !strings.Contains(stderr, `"/docs/none.bin" not found`) {
		t.Errorf("get of a missing file: stderr %q; want not found", stderr)
	}
	if _, err := os.Stat(filepath.Join(h, "docs", "a.bin")); err != nil {
		t.Errorf("rmdir of a non-empty directory removed it: %v", err)
	}
}

// put -f makes OpenSSH's sftp send fsync@openssh.com before it closes the
// file: the server syncs the upload and answers it.
func TestOpenSSHSftpPutWithFsync(t *testing.T) {
	ts, addr := setup(t, accounts.Unlimited)
	o := newOpenSSH(t, addr, "sftp")
	src := filepath.Join(t.TempDir(), "f.bin")
	data := randomBytes(21, 2<<20+77)
	os.WriteFile(src, data, 0o644)
	out, stderr, status := o.sftp("put -f "+src+" /f.bin", "ls -l /f.bin")
	if status != 0 || strings.Contains(strings.ToLower(stderr), "sync") || !strings.Contains(out, "2097229") {
		t.Errorf("put -f: status %d\n%s\nstderr: %s", status, out, stderr)
	}
	if got := fileMD5(t, filepath.Join(ts.Home(user), "f.bin")); got != md5hex(data) {
		t.Errorf("f.bin put with -f: md5 %s, want %s", got, md5hex(data))
	}
	waitFor(t, "the server to log the fsync of every byte", func() bool {
		return strings.Contains(ts.Log(), "msg=fsync ") && strings.Contains(ts.Log(), "path=/f.bin bytes=2097229 synced=2097229")
	})
}

func TestOpenSSHSftpReputAndRegetResume(t *testing.T) {
	ts, addr := setup(t, accounts.Unlimited)
	o := newOpenSSH(t, addr, "sftp")
	h := ts.Home(user)
	local := t.TempDir()
	data := randomBytes(21, 3<<20+99)
	src := filepath.Join(local, "big.bin")
	os.WriteFile(src, data, 0o644)

	// An upload cut off at 1 MiB by a failed connection; reput continues it.
	c := dial(t, ts, addr)
	cutUpload(t, dial(t, ts, addr), "/big.bin", data, 1<<20, c)
	out, stderr, _ := o.sftp("reput " + src + " /big.bin")
	if !strings.Contains(out, "Resuming upload of "+src+" to /big.bin") {
		t.Errorf("reput did not resume (the server's stat did not show the bytes held):\n%s\nstderr: %s", out, stderr)
	}
	if got := fileMD5(t, filepath.Join(h, "big.bin")); got != md5hex(data) {
		t.Errorf("after reput: md5 %s, want %s (stderr %q)", got, md5hex(data), stderr)
	}
	if out, want := md5sumOf(t, c.ssh, "/big.bin"), md5hex(data)+"  /big.bin\n"; out != want {
		t.Errorf("md5sum after reput: %q, want %q", out, want)
	}

	// A download that stopped at 1 MiB + 7; reget continues it.
	dst := filepath.Join(local, "big.back")
	os.WriteFile(dst, data[:1<<20+7], 0o644)
	out, stderr, _ = o.sftp("reget /big.bin " + dst)
	if !strings.Contains(out, "Resuming /big.bin to "+dst) {
		t.Errorf("reget did not resume:\n%s\nstderr: %s", out, stderr)
	}
	if got := fileMD5(t, dst); got != md5hex(data) {
		t.Errorf("after reget: md5 %s, want %s (stderr %q)", got, md5hex(data), stderr)
	}
}

// tree writes a small tree under dir with fixed mtimes and returns the
// relative paths of its files with their contents.
func tree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{
		"a.txt":             []byte("top-level file\n"),
		"sub/b.bin":         randomBytes(22, 300<<10),
		"sub/deeper/c.bin":  randomBytes(23, 70<<10+1),
		"sub/deeper/d.txt":  []byte(""),
		"other/e with s.md": []byte("a name with spaces\n"),
	}
	for i, name := range []string{"a.txt", "sub/b.bin", "sub/deeper/c.bin", "sub/deeper/d.txt", "other/e with s.md"} {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, files[name], 0o644); err != nil {
			t.Fatal(err)
		}
		mt := time.Date(2015, 6, 7, 8, 9, 10+i, 0, time.UTC)
		os.Chtimes(p, mt, mt)
	}
	return files
}

// compareTree checks that dir holds exactly files, with the mtimes of the
// same files under ref.
func compareTree(t *testing.T, what, dir, ref string, files map[string][]byte) {
	t.Helper()
	seen := map[string]bool{}
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		seen[rel] = true
		want, ok := files[rel]
		got, rerr := os.ReadFile(p)
		switch {
		case !ok:
			t.Errorf("%s: unexpected %s", what, rel)
		case rerr != nil || !bytes.Equal(got, want):
			t.Errorf("%s: %s has %d bytes (md5 %s), want %d (md5 %s)", what, rel, len(got), md5hex(got), len(want), md5hex(want))
		}
		fi, _ := os.Stat(p)
		ri, rerr := os.Stat(filepath.Join(ref, rel))
		if rerr == nil && fi != nil && !fi.ModTime().Equal(ri.ModTime()) {
			t.Errorf("%s: %s mtime %v, want %v", what, rel, fi.ModTime().UTC(), ri.ModTime().UTC())
		}
		return nil
	})
	if err != nil {
		t.Errorf("%s: %v", what, err)
	}
	for rel := range files {
		if !seen[rel] {
			t.Errorf("%s: %s missing", what, rel)
		}
	}
}

func TestOpenSSHScpRecursiveKeepsTreeAndMtimes(t *testing.T) {
	ts, addr := setup(t, accounts.Unlimited)
	o := newOpenSSH(t, addr, "scp")
	src := filepath.Join(t.TempDir(), "tree")
	files := tree(t, src)

	_, stderr, status := o.scp("-r", "-p", src, user+"@"+o.host+":/")
	if status != 0 {
		t.Errorf("scp -r -p up: exit %d: %s", status, stderr)
	}
	compareTree(t, "on the server", filepath.Join(ts.Home(user), "tree"), src, files)

	back := t.TempDir()
	_, stderr, status = o.scp("-r", "-p", user+"@"+o.host+":/tree", back)
	if status != 0 {
		t.Errorf("scp -r -p down: exit %d: %s", status, stderr)
	}
	compareTree(t, "back", filepath.Join(back, "tree"), src, files)

	c := dial(t, ts, addr)
	for rel, b := range files {
		if out, want := md5sumOf(t, c.ssh, "/tree/"+rel), md5hex(b)+"  /tree/"+rel+"\n"; out != want {
			t.Errorf("md5sum of a file put by scp: %q, want %q", out, want)
		}
	}
}

func TestOpenSSHSshMd5sumMatchesLocalMd5sum(t *testing.T) {
	ts, addr := setup(t, accounts.Unlimited)
	o := newOpenSSH(t, addr, "ssh", "md5sum")
	local := t.TempDir()
	data := randomBytes(24, 2<<20+17)
	os.WriteFile(filepath.Join(local, "f.bin"), data, 0o644)
	dial(t, ts, addr).put(t, "/f.bin", data)

	cmd := exec.Command("md5sum", "f.bin")
	cmd.Dir = local
	want, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	out, stderr, status := o.ssh("md5sum", "f.bin")
	if status != 0 || out != string(want) {
		t.Errorf("ssh md5sum f.bin: exit %d, %q (stderr %q); want 0, %q as the local md5sum prints it", status, out, stderr, want)
	}
	out, _, status = o.ssh("md5sum", "/f.bin")
	if status != 0 || out != md5hex(data)+"  /f.bin\n" {
		t.Errorf("ssh md5sum /f.bin: exit %d, %q", status, out)
	}

	// Anything else is refused with a non-zero status; so is a shell.
	if out, stderr, status := o.ssh("ls", "/"); status == 0 || out != "" {
		t.Errorf("ssh ls /: exit %d, stdout %q, stderr %q; want a non-zero exit status", status, out, stderr)
	}
	if out, stderr, status := o.ssh(); status == 0 || out != "" {
		t.Errorf("ssh with no command (a shell): exit %d, stdout %q, stderr %q; want a non-zero exit status", status, out, stderr)
	}
}

func TestOpenSSHKeyscanFingerprintIsTheHostKeys(t *testing.T) {
	ts, addr := setup(t, accounts.Unlimited)
	o := newOpenSSH(t, addr, "ssh-keyscan", "ssh-keygen")
	out, stderr, status := o.run("", "ssh-keyscan", "-p", o.port, "-t", "ed25519", o.host)
	if status != 0 || !strings.Contains(out, " ssh-ed25519 ") {
		t.Fatalf("ssh-keyscan: exit %d, %q, stderr %q; want an ssh-ed25519 key", status, out, stderr)
	}
	keys := filepath.Join(t.TempDir(), "keys")
	os.WriteFile(keys, []byte(out), 0o644)
	out, stderr, status = o.run("", "ssh-keygen", "-lf", keys)
	fields := strings.Fields(out)
	if status != 0 || len(fields) < 4 {
		t.Fatalf("ssh-keygen -lf: exit %d, %q, stderr %q", status, out, stderr)
	}
	key, err := sftpd.LoadHostKey("", ts.Root)
	if err != nil {
		t.Fatal(err)
	}
	if want := sftpd.Fingerprint(key); fields[1] != want || fields[len(fields)-1] != "(ED25519)" {
		t.Errorf("ssh-keygen -l of the scanned key: %q; want fingerprint %s (ED25519)", out, want)
	}
}
