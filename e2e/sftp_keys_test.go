package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSFTPKeysThroughTheCommands: user add --ssh-key sets a user's keys,
// OpenSSH's sftp -b (batch mode: keys only) logs in with that key and
// not with another; user keys replaces them (the daemon takes them on
// SIGHUP), and an empty file removes them, leaving the password.
func TestSFTPKeysThroughTheCommands(t *testing.T) {
	needOpenSSH(t)
	dir := t.TempDir()
	keygen := func(name string) string {
		t.Helper()
		k := filepath.Join(dir, name)
		if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name+"@test", "-f", k).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v %s", err, out)
		}
		return k
	}
	k1, k2 := keygen("k1"), keygen("k2")
	accounts := filepath.Join(dir, "accounts.ini")
	cmd := exec.Command(filepath.Join(binDir, "ftpx-server"), "user", "add", "--password-stdin", "--accounts", accounts, "--ssh-key", k1+".pub", "alex")
	cmd.Stdin = strings.NewReader(sftpPassword + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("user add --ssh-key: %v\n%s", err, out)
	}
	if b, _ := os.ReadFile(accounts); strings.Count(string(b), "ssh_key") != 1 || !strings.Contains(string(b), "k1@test") {
		t.Fatalf("accounts file after user add --ssh-key:\n%s", b)
	}
	d := startDaemon(t, accounts, "--sftp-listen", "127.0.0.1:0")
	f := d.sftpFront(t)
	login := func(key string) int {
		t.Helper()
		c := exec.Command("sftp", "-F", "/dev/null", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
			"-o", "LogLevel=ERROR", "-o", "IdentitiesOnly=yes", "-i", key, "-P", f.port, "-b", "-", "alex@127.0.0.1")
		c.Stdin = strings.NewReader("pwd\n")
		c.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		out, err := c.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(out), "Remote working directory: /") {
			t.Fatalf("sftp with %s: %s", key, out)
		}
		return 0
	}
	if code := login(k1); code != 0 {
		t.Fatalf("login with the key user add set: exit %d", code)
	}
	if code := login(k2); code == 0 {
		t.Fatal("another key logged in")
	}

	reload := func() {
		t.Helper()
		n := strings.Count(d.logText(), `msg="accounts reloaded"`)
		d.cmd.Process.Signal(syscall.SIGHUP)
		for deadline := time.Now().Add(20 * time.Second); strings.Count(d.logText(), `msg="accounts reloaded"`) == n; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("no reload logged:\n%s", d.logText())
			}
		}
	}
	if out, code := serverCmd(t, "user", "keys", "--accounts", accounts, "alex", k2+".pub"); code != 0 || !strings.Contains(out, "1 key") {
		t.Fatalf("user keys: exit %d %s", code, out)
	}
	reload()
	if login(k1) == 0 || login(k2) != 0 {
		t.Fatal("after user keys k2: want k2 in and k1 out")
	}

	empty := filepath.Join(dir, "none.pub")
	os.WriteFile(empty, nil, 0o600)
	if out, code := serverCmd(t, "user", "keys", "--accounts", accounts, "alex", empty); code != 0 || !strings.Contains(out, "0 key") {
		t.Fatalf("user keys of an empty file: exit %d %s", code, out)
	}
	reload()
	if login(k2) == 0 {
		t.Fatal("a removed key still logs in")
	}
	if b, _ := os.ReadFile(accounts); strings.Contains(string(b), "ssh_key") {
		t.Fatalf("ssh_key lines left:\n%s", b)
	}
	o := newOpenSSH(t, dir, sftpPassword)
	if out := o.sftpBatch(t, f, "alex", "pwd\n"); !strings.Contains(out, "Remote working directory: /") {
		t.Fatalf("password login after the keys went: %s", out)
	}
}
