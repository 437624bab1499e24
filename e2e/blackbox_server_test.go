package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestBrokenAccountsFileOnHangup: a SIGHUP with a broken accounts file
// keeps the accounts the server had, says where the file is broken, and
// a later good file is taken.
func TestBrokenAccountsFileOnHangup(t *testing.T) {
	d, work, env := shellSetup(t, "")
	good, _ := os.ReadFile(d.accounts)
	os.WriteFile(d.accounts, append(append([]byte{}, good...), "[broken\nquota = lots\n"...), 0o600)
	d.cmd.Process.Signal(syscall.SIGHUP)
	waitUntil(t, 10*time.Second, "the failed reload in the log", func() bool {
		return strings.Contains(d.logText(), "accounts reload failed; keeping the old accounts")
	})
	if line := bytes.Count(good, []byte("\n")) + 1; !strings.Contains(d.logText(), "accounts.ini:"+itoa(int64(line))+": broken section line") {
		t.Fatalf("the log does not say where the file is broken:\n%s", d.logText())
	}
	if _, errOut, code := ftpx(t, work, env, "ls"); code != 0 {
		t.Fatalf("ls after a broken reload: exit %d %s", code, errOut)
	}
	os.WriteFile(d.accounts, good, 0o600)
	addUser(t, d.accounts, "bob", "pw-bob", "")
	d.cmd.Process.Signal(syscall.SIGHUP)
	bob := []string{"FTPX_SERVER=" + d.addr, "FTPX_USER=bob", "FTPX_PASSWORD=pw-bob"}
	waitUntil(t, 10*time.Second, "bob to be let in", func() bool { _, _, code := ftpx(t, work, bob, "ls"); return code == 0 })
}

// TestUserDelOfALoggedInUser: user del and a reload let a running
// transfer of that user finish, end their sessions at their next
// request, and refuse them from then on.
func TestUserDelOfALoggedInUser(t *testing.T) {
	d, work, env := shellSetup(t, "")
	r := seeded(t, 1517)
	sum := writeSeeded(t, filepath.Join(work, "big.bin"), 12*mib, r)
	if _, errOut, code := ftpx(t, work, env, "put", "big.bin", "seen.bin"); code != 0 {
		t.Fatal(errOut)
	}

	sh := exec.Command(filepath.Join(binDir, "ftpx"), "shell")
	sh.Dir = work
	sh.Env = append(append(os.Environ(), "FTPX_STATE_DIR="+filepath.Join(work, ".state")), env...)
	stdin, _ := sh.StdinPipe()
	stdout, _ := sh.StdoutPipe()
	var stderr bytes.Buffer
	sh.Stderr = &stderr
	if err := sh.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sh.Process.Kill(); sh.Wait() })
	lines := bufio.NewReader(stdout)
	io.WriteString(stdin, "ls\n")
	if line, err := lines.ReadString('\n'); err != nil || !strings.Contains(line, "seen.bin") {
		t.Fatalf("the shell's first ls: %q %v", line, err)
	}

	get := startFtpx(t, work, env, "--limit-rate", "4MB", "get", "seen.bin", "got.bin")
	waitUntil(t, 30*time.Second, "the get to be under way", func() bool { n, _ := localPartial(work, "got.bin"); return n > 0 })
	cmd := exec.Command(filepath.Join(binDir, "ftpx-server"), "user", "del", "--accounts", d.accounts, "alex")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("user del: %v %s", err, out)
	}
	d.cmd.Process.Signal(syscall.SIGHUP)
	waitUntil(t, 10*time.Second, "the reload", func() bool { return strings.Contains(d.logText(), "accounts reloaded") })

	if code := get.exited(t, 60*time.Second); code != 0 || md5File(t, filepath.Join(work, "got.bin")) != sum {
		t.Fatalf("the get running while the user was removed: exit %d %s", code, get.err.String())
	}
	io.WriteString(stdin, "ls\n")
	stdin.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { io.Copy(io.Discard, lines); done <- sh.Wait() }()
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatal("the shell did not end")
	}
	want(t, "the removed user's next command", sh.ProcessState.ExitCode(), stderr.String(), 1, "ftpx: line 2: ls: 262 not authenticated (the account was removed)\n")
	_, errOut, code := ftpx(t, work, env, "ls")
	want(t, "a new login of the removed user", code, errOut, 4, "ftpx: auth alex: 253 wrong username or password\n")
}

// TestTwoServersOnOneRoot: a second server on a root already served
// refuses to start, naming the first.
func TestTwoServersOnOneRoot(t *testing.T) {
	d, _, _ := shellSetup(t, "")
	cmd := exec.Command(filepath.Join(binDir, "ftpx-server"), "--listen", "127.0.0.1:0", "--root", d.root, "--accounts", d.accounts)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("a second server on one root: %v %s", err, out)
	}
	want := "ftpx-server: root " + d.root + " is served by another ftpx-server (process " + itoa(int64(d.cmd.Process.Pid)) + "): two servers on one local root would each count the quotas alone; stop it first, or give this one another root\n"
	if string(out) != want {
		t.Fatalf("second server said %q, want %q", out, want)
	}
}

// TestSigtermDuringABigUploadThenResume: a server stopped (SIGTERM) while
// a big put runs keeps what arrived; after its restart the put resumes
// from there, by itself when the client is still retrying, or when it is
// run again.
func TestSigtermDuringABigUploadThenResume(t *testing.T) {
	t.Run("client gone, put run again", func(t *testing.T) {
		d, work, env := shellSetup(t, "")
		sum := writeSeeded(t, filepath.Join(work, "big.bin"), 48*mib, seeded(t, 1518))
		b := startFtpx(t, work, env, "--limit-rate", "8MB", "put", "big.bin")
		waitUntil(t, 30*time.Second, "the server to hold 8 MiB", func() bool { return heldOnServer(d.root, "alex") >= 8*mib })
		d.cmd.Process.Signal(syscall.SIGTERM)
		b.kill()
		if err := d.cmd.Wait(); err != nil {
			t.Fatalf("server after SIGTERM: %v", err)
		}
		startDaemonAt(t, d.root, d.addr, d.accounts)
		out, errOut, code := ftpx(t, work, env, "--json", "put", "big.bin")
		if res := onlyResult(t, out); code != 0 || res.Offset < 8*mib || res.MD5 != sum {
			t.Fatalf("put after the restart: exit %d %+v %s", code, res, errOut)
		}
	})
	t.Run("grace period over, client retrying", func(t *testing.T) {
		d, work, env := shellSetup(t, "")
		sum := writeSeeded(t, filepath.Join(work, "big.bin"), 64*mib, seeded(t, 1519))
		b := startFtpx(t, work, env, "--limit-rate", "2MB", "put", "big.bin") // 32 s: more than the 30 s of grace
		waitUntil(t, 30*time.Second, "the put to be under way", func() bool { return heldOnServer(d.root, "alex") >= 1*mib })
		d.cmd.Process.Signal(syscall.SIGTERM)
		if err := d.cmd.Wait(); err != nil {
			t.Fatalf("server after SIGTERM: %v", err)
		}
		// The log is copied from the server's stderr by another goroutine:
		// wait for its last line before reading it.
		waitUntil(t, 10*time.Second, "the server's last log line", func() bool { return strings.Contains(d.logText(), "msg=stopped") })
		if !strings.Contains(d.logText(), "grace period over") {
			t.Fatalf("the put ended within the grace period:\n%s", d.logText())
		}
		d2 := startDaemonAt(t, d.root, d.addr, d.accounts)
		if code := b.exited(t, 120*time.Second); code != 0 {
			t.Fatalf("the retrying put: exit %d %s", code, b.err.String())
		}
		if got := md5File(t, filepath.Join(d.root, "alex", "big.bin")); got != sum {
			t.Fatalf("stored md5 %s, want %s", got, sum)
		}
		if !strings.Contains(d2.logText(), `msg="put done"`) || !strings.Contains(d2.logText(), " offset=") {
			t.Fatalf("the restarted server did not finish a resumed put:\n%s", d2.logText())
		}
	})
}

// TestUserQuotaTakenOnHangup: `ftpx-server user quota` changes an
// existing user's quota in the accounts file; a running server takes it on
// SIGHUP: a put refused at the old quota then fits.
func TestUserQuotaTakenOnHangup(t *testing.T) {
	d, work, env := shellSetup(t, "64KB")
	sum := writeRandom(t, filepath.Join(work, "big.bin"), 100<<10)
	if _, errOut, code := ftpx(t, work, env, "put", "big.bin"); code != 5 || !strings.Contains(errOut, "264 quota exceeded") {
		t.Fatalf("a 100 KB put over a 64 KB quota: exit %d %s", code, errOut)
	}
	out, err := exec.Command(filepath.Join(binDir, "ftpx-server"), "user", "quota", "--accounts", d.accounts, "alex", "1MB").CombinedOutput()
	if err != nil || string(out) != "user alex: quota 1MB\n" {
		t.Fatalf("user quota: %v %q", err, out)
	}
	d.cmd.Process.Signal(syscall.SIGHUP)
	waitUntil(t, 10*time.Second, "the reload", func() bool { return strings.Contains(d.logText(), "accounts reloaded") })
	if _, errOut, code := ftpx(t, work, env, "put", "big.bin"); code != 0 {
		t.Fatalf("the put after the quota was raised: exit %d %s", code, errOut)
	}
	if got := md5File(t, filepath.Join(d.root, "alex", "big.bin")); got != sum {
		t.Errorf("big.bin on the server: md5 %s, want %s", got, sum)
	}
	if out, _, _ := ftpx(t, work, env, "--json", "quota"); !strings.Contains(out, `"quota":1048576`) {
		t.Errorf("ftpx quota after the change: %s", out)
	}
}

// TestJSONPrintsFailedTransfersToo: with --json, a transfer that fails
// prints {"action","remote","error","status","exit"} on stdout, as the
// lines of those that succeed are, as the contract says; its error line
// still goes to stderr and the exit status is the failure's.
func TestJSONPrintsFailedTransfersToo(t *testing.T) {
	_, work, env := shellSetup(t, "64KB")
	writeRandom(t, filepath.Join(work, "small.bin"), 1000)
	writeRandom(t, filepath.Join(work, "big.bin"), 100<<10)
	line := func(out string) map[string]any {
		var m map[string]any
		if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &m); err != nil {
			t.Fatalf("stdout %q: not one JSON object: %v", out, err)
		}
		return m
	}
	out, errOut, code := ftpx(t, work, env, "--json", "put", "small.bin")
	if m := line(out); code != 0 || m["md5"] == nil {
		t.Fatalf("put that fits: exit %d %s %s", code, out, errOut)
	}
	out, errOut, code = ftpx(t, work, env, "--json", "put", "big.bin")
	if code != 5 || !strings.Contains(errOut, "put big.bin: 264 quota exceeded") {
		t.Fatalf("put over the quota: exit %d, stderr %q", code, errOut)
	}
	if m := line(out); m["action"] != "put" || m["remote"] != "big.bin" || m["status"] != float64(264) || m["exit"] != float64(5) ||
		!strings.Contains(fmt.Sprint(m["error"]), "quota exceeded") {
		t.Errorf("the failure's JSON: %s", out)
	}
	out, _, code = ftpx(t, work, env, "--json", "get", "nothere.bin")
	if m := line(out); code != 1 || m["action"] != "get" || m["remote"] != "nothere.bin" || m["exit"] != float64(1) || m["status"] == float64(0) {
		t.Errorf("get of a missing file: exit %d, stdout %s", code, out)
	}
}

// TestGetToStandardOutput: `ftpx get FILE -` writes the file, and nothing
// else, to standard output, its MD5 checked; a missing file writes
// nothing there.
func TestGetToStandardOutput(t *testing.T) {
	_, work, env := shellSetup(t, "")
	sum := writeRandom(t, filepath.Join(work, "big.bin"), 3<<20+77)
	if _, errOut, code := ftpx(t, work, env, "put", "big.bin"); code != 0 {
		t.Fatalf("put: exit %d %s", code, errOut)
	}
	out, errOut, code := ftpx(t, work, env, "get", "big.bin", "-")
	if got := fmt.Sprintf("%x", md5.Sum([]byte(out))); code != 0 || errOut != "" || len(out) != 3<<20+77 || got != sum {
		t.Fatalf("get big.bin -: exit %d, %d bytes on stdout (md5 %s, want %s), stderr %q", code, len(out), got, sum, errOut)
	}
	if _, err := os.Stat(filepath.Join(work, "-")); !os.IsNotExist(err) {
		t.Errorf("a local file named - was written: %v", err)
	}
	out, errOut, code = ftpx(t, work, env, "get", "nothere.bin", "-")
	if code != 1 || out != "" || !strings.Contains(errOut, "get nothere.bin: ") {
		t.Errorf("get of a missing file to -: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if _, _, code := ftpx(t, work, env, "get", "-r", "big.bin", "-"); code != 2 {
		t.Errorf("get -r to -: exit %d, want 2 (usage)", code)
	}
}
