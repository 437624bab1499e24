package e2e

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"ftpx/protocol"

	"golang.org/x/crypto/ssh"
)

// The SFTP front end through the real binaries and OpenSSH's own
// clients: sftp, scp (which speaks SFTP since OpenSSH 9) and ssh for the
// one command served, md5sum.

const sftpPassword = "s3cret pass"

// sftpDaemon starts ftpx-server with alex (password sftpPassword) and the
// SFTP front end on a free port, with extra flags.
func sftpDaemon(t *testing.T, extra ...string) (*daemon, sftpFront) {
	t.Helper()
	accounts := filepath.Join(t.TempDir(), "accounts.ini")
	addUser(t, accounts, "alex", sftpPassword, "")
	d := startDaemon(t, accounts, append([]string{"--sftp-listen", "127.0.0.1:0"}, extra...)...)
	return d, d.sftpFront(t)
}

// localMD5sum runs the system's md5sum on name in dir and returns its line.
func localMD5sum(t *testing.T, dir, name string) string {
	t.Helper()
	cmd := exec.Command("md5sum", name)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		t.Skipf("skipped: md5sum: %v", err)
	}
	return string(out)
}

// TestSFTPOpenSSHPutGetScpAndMD5sum: OpenSSH's sftp puts and gets a
// random file (MD5 the same on the client, on the server's disk and back),
// scp -r -p copies a tree up and down (exit 0, trees equal, mtimes kept),
// and ssh md5sum answers in md5sum's own format what the local md5sum
// prints; a missing name is md5sum's error and any other command fails.
func TestSFTPOpenSSHPutGetScpAndMD5sum(t *testing.T) {
	d, f := sftpDaemon(t)
	if f.keyType != "ssh-ed25519" {
		t.Errorf("key_type=%s, want ssh-ed25519 (made on first start)", f.keyType)
	}
	work := t.TempDir()
	o := newOpenSSH(t, work, sftpPassword)
	home := filepath.Join(d.root, "alex")

	sum := writeSeeded(t, filepath.Join(work, "data.bin"), 5*mib+3, seeded(t, 9001))
	out := o.sftpBatch(t, f, "alex", "put data.bin\nput data.bin \"with space.bin\"\nls -l\nget data.bin back.bin\nget \"with space.bin\" back2.bin\n")
	for _, name := range []string{"data.bin", "with space.bin"} {
		if got := md5File(t, filepath.Join(home, name)); got != sum {
			t.Errorf("%s on the server's disk: md5 %s, want %s", name, got, sum)
		}
	}
	if !strings.Contains(out, fmt.Sprint(5*mib+3)) || !strings.Contains(out, "data.bin") {
		t.Errorf("sftp ls -l does not show data.bin with its size:\n%s", out)
	}
	for _, name := range []string{"back.bin", "back2.bin"} {
		if got := md5File(t, filepath.Join(work, name)); got != sum {
			t.Errorf("%s got by sftp: md5 %s, want %s", name, got, sum)
		}
	}
	if ents, _ := os.ReadDir(filepath.Join(home, ".ftpx-partial")); len(ents) != 0 {
		t.Errorf("partials left after complete uploads: %d", len(ents))
	}

	// ssh md5sum: the local md5sum's line, with the path as given.
	local := localMD5sum(t, work, "data.bin")
	stdout, stderr, code := o.run(t, "", "ssh", "-p", f.port, "alex@127.0.0.1", "md5sum", "data.bin", "'/with space.bin'")
	want := local + strings.Replace(local, "data.bin", "/with space.bin", 1)
	if code != 0 || stdout != want {
		t.Errorf("ssh md5sum: exit %d\nstdout %q\nwant   %q\nstderr %q", code, stdout, want, stderr)
	}
	stdout, stderr, code = o.run(t, "", "ssh", "-p", f.port, "alex@127.0.0.1", "md5sum", "data.bin", "missing.bin")
	if code != 1 || stdout != local || !strings.Contains(stderr, "md5sum: missing.bin: No such file or directory") {
		t.Errorf("ssh md5sum with a missing name: exit %d, stdout %q, stderr %q; want 1, the line of data.bin, md5sum's error", code, stdout, stderr)
	}
	for _, cmd := range []string{"ls", "cat data.bin", "sh -c 'md5sum data.bin'"} {
		stdout, stderr, code = o.run(t, "", "ssh", "-p", f.port, "alex@127.0.0.1", cmd)
		if code == 0 || stdout != "" {
			t.Errorf("ssh %q: exit %d, stdout %q, stderr %q; want a refusal with a non-zero status", cmd, code, stdout, stderr)
		}
	}

	// scp -r -p up and down.
	tree := filepath.Join(work, "tree")
	want2 := sftpTree(t, tree, 9002)
	old := time.Date(2015, 3, 4, 5, 6, 7, 0, time.UTC)
	if err := os.Chtimes(filepath.Join(tree, "sub", "b.bin"), old, old); err != nil {
		t.Fatal(err)
	}
	if stdout, stderr, code := o.run(t, "", "scp", "-r", "-p", "-P", f.port, "tree", "alex@127.0.0.1:/"); code != 0 {
		t.Fatalf("scp -r -p up: exit %d\n%s%s", code, stdout, stderr)
	}
	sameTree(t, "the tree on the server after scp -r", treeSums(t, filepath.Join(home, "tree")), want2)
	if fi, err := os.Stat(filepath.Join(home, "tree", "sub", "b.bin")); err != nil || !fi.ModTime().Equal(old) {
		t.Errorf("scp -p: tree/sub/b.bin on the server has mtime %v (%v), want %v", fi.ModTime(), err, old)
	}
	if stdout, stderr, code := o.run(t, "", "scp", "-r", "-P", f.port, "alex@127.0.0.1:/tree", "down"); code != 0 {
		t.Fatalf("scp -r down: exit %d\n%s%s", code, stdout, stderr)
	}
	sameTree(t, "the tree got back by scp -r", treeSums(t, filepath.Join(work, "down")), want2)
	if !strings.Contains(d.logText(), "protocol=sftp") {
		t.Error("the SFTP sessions are not logged with protocol=sftp")
	}
}

// TestSFTPHostKeyMatchesKeyscanAndSurvivesRestart: the fingerprint the
// daemon logs is what ssh-keyscan and ssh-keygen -l see of the live
// server; the key made on first start is kept (0600, under the root) and
// is the same after a restart; --sftp-host-key serves a key of the
// operator's (here ECDSA, made by ssh-keygen) and makes none.
func TestSFTPHostKeyMatchesKeyscanAndSurvivesRestart(t *testing.T) {
	needOpenSSH(t)
	accounts := filepath.Join(t.TempDir(), "accounts.ini")
	addUser(t, accounts, "alex", sftpPassword, "")
	root := filepath.Join(t.TempDir(), "root")
	d := startDaemonAt(t, root, "127.0.0.1:0", accounts, "--sftp-listen", "127.0.0.1:0")
	f1 := d.sftpFront(t)
	fp, kind := keyscan(t, f1)
	if fp != f1.fingerprint || kind != f1.keyType || kind != "ssh-ed25519" {
		t.Fatalf("ssh-keyscan + ssh-keygen -l: %s %s; the daemon logged %s %s", fp, kind, f1.fingerprint, f1.keyType)
	}
	keyFile := filepath.Join(root, ".ftpx-ssh", "ssh_host_ed25519_key")
	fi, err := os.Stat(keyFile)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the host key file: %v %v, want mode 0600", fi, err)
	}
	keyBytes, _ := os.ReadFile(keyFile)
	if got, _, typ := keygenL(t, keyFile); got != f1.fingerprint || typ != "ED25519" {
		t.Errorf("ssh-keygen -l of %s: %s %s, want %s ED25519", keyFile, got, typ, f1.fingerprint)
	}

	d.cmd.Process.Signal(syscall.SIGTERM)
	if code, _ := d.waitExit(t, 30*time.Second); code != 0 {
		t.Fatalf("exit %d after SIGTERM", code)
	}
	d2 := startDaemonAt(t, root, "127.0.0.1:0", accounts, "--sftp-listen", "127.0.0.1:0")
	f2 := d2.sftpFront(t)
	if f2.fingerprint != f1.fingerprint {
		t.Fatalf("after a restart the daemon logs %s, before %s", f2.fingerprint, f1.fingerprint)
	}
	if fp, _ := keyscan(t, f2); fp != f1.fingerprint {
		t.Fatalf("after a restart ssh-keyscan sees %s, before %s", fp, f1.fingerprint)
	}
	if after, _ := os.ReadFile(keyFile); string(after) != string(keyBytes) {
		t.Fatal("the host key file was rewritten by the restart")
	}
	// The key works for a login, not just a scan.
	o := newOpenSSH(t, t.TempDir(), sftpPassword)
	o.sftpBatch(t, f2, "alex", "pwd\n")

	// An operator's key: --sftp-host-key.
	own := filepath.Join(t.TempDir(), "host_ecdsa")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ecdsa", "-N", "", "-C", "operator key", "-f", own).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v %s", err, out)
	}
	wantFP, _, _ := keygenL(t, own+".pub")
	root3 := filepath.Join(t.TempDir(), "root3")
	d3 := startDaemonAt(t, root3, "127.0.0.1:0", accounts, "--sftp-listen", "127.0.0.1:0", "--sftp-host-key", own)
	f3 := d3.sftpFront(t)
	if f3.fingerprint != wantFP || f3.keyType != "ecdsa-sha2-nistp256" {
		t.Errorf("--sftp-host-key: the daemon logs %s %s, want %s ecdsa-sha2-nistp256", f3.fingerprint, f3.keyType, wantFP)
	}
	if fp, kind := keyscan(t, f3); fp != wantFP || kind != "ecdsa-sha2-nistp256" {
		t.Errorf("--sftp-host-key: ssh-keyscan sees %s %s, want %s", fp, kind, wantFP)
	}
	if _, err := os.Stat(filepath.Join(root3, ".ftpx-ssh")); !os.IsNotExist(err) {
		t.Errorf("with --sftp-host-key a key was made under the root anyway: %v", err)
	}
}

// TestSFTPConfigFileAndNativeClientShareFiles: sftp_listen in a config
// file works like the flag; a file put over SFTP is listed and got by the
// native client with the same MD5 (and its stat carries it), a file put
// natively is got over SFTP and summed by ssh md5sum alike; the metrics
// count the SFTP transfers under protocol="sftp".
func TestSFTPConfigFileAndNativeClientShareFiles(t *testing.T) {
	dir := t.TempDir()
	accounts := filepath.Join(dir, "accounts.ini")
	addUser(t, accounts, "alex", sftpPassword, "")
	metrics := freePort(t)
	cfg := writeFile(t, filepath.Join(dir, "ftpx.ini"), "sftp_listen = 127.0.0.1:0\nmetrics_listen = "+metrics+"\n")
	d := startDaemon(t, accounts, "--config", cfg)
	f := d.sftpFront(t)
	if f.addr == d.addr || f.addr == metrics {
		t.Fatalf("SFTP on %s: the native or the metrics address", f.addr)
	}
	work := t.TempDir()
	o := newOpenSSH(t, work, sftpPassword)
	env := []string{"FTPX_SERVER=" + d.addr, "FTPX_USER=alex", "FTPX_PASSWORD=" + sftpPassword}

	// SFTP in, native out.
	sum := writeSeeded(t, filepath.Join(work, "by-sftp.bin"), 2*mib+5, seeded(t, 9003))
	o.sftpBatch(t, f, "alex", "mkdir in\nput by-sftp.bin in/by-sftp.bin\n")
	out, errOut, code := ftpx(t, work, env, "ls", "--json", "in")
	if code != 0 || !strings.Contains(out, `"name":"by-sftp.bin"`) || !strings.Contains(out, fmt.Sprintf(`"size":%d`, 2*mib+5)) {
		t.Fatalf("ftpx ls of an SFTP upload: exit %d %s %s", code, out, errOut)
	}
	if out, errOut, code := ftpx(t, work, env, "--json", "get", "in/by-sftp.bin", "got-native.bin"); code != 0 || !strings.Contains(out, `"md5":"`+sum+`"`) {
		t.Fatalf("ftpx get of an SFTP upload: exit %d %s %s", code, out, errOut)
	}
	if got := md5File(t, filepath.Join(work, "got-native.bin")); got != sum {
		t.Fatalf("the native copy of the SFTP upload: md5 %s, want %s", got, sum)
	}
	if out, _, code := ftpx(t, work, env, "stat", "--json", "in/by-sftp.bin"); code != 0 || !strings.Contains(out, sum) {
		t.Errorf("ftpx stat of the SFTP upload does not carry its MD5 %s: exit %d %s", sum, code, out)
	}

	// Native in, SFTP out.
	sum2 := writeSeeded(t, filepath.Join(work, "by-native.bin"), 3*mib+1, seeded(t, 9004))
	if out, errOut, code := ftpx(t, work, env, "put", "by-native.bin"); code != 0 {
		t.Fatalf("ftpx put: exit %d %s %s", code, out, errOut)
	}
	o.sftpBatch(t, f, "alex", "get by-native.bin got-sftp.bin\n")
	if got := md5File(t, filepath.Join(work, "got-sftp.bin")); got != sum2 {
		t.Fatalf("the SFTP copy of the native upload: md5 %s, want %s", got, sum2)
	}
	if stdout, stderr, code := o.run(t, "", "ssh", "-p", f.port, "alex@127.0.0.1", "md5sum", "by-native.bin", "in/by-sftp.bin"); code != 0 ||
		stdout != sum2+"  by-native.bin\n"+sum+"  in/by-sftp.bin\n" {
		t.Errorf("ssh md5sum: exit %d %q %q", code, stdout, stderr)
	}

	res, err := http.Get("http://" + metrics + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	for _, want := range []string{
		`ftpx_transfers_total{direction="put",protocol="sftp",result="ok"} 1`,
		`ftpx_transfers_total{direction="get",protocol="sftp",result="ok"} 1`,
		`ftpx_transfer_bytes_total{direction="put",protocol="sftp",result="ok"} ` + promFloat(2*mib+5),
		`ftpx_transfer_bytes_total{direction="get",protocol="sftp",result="ok"} ` + promFloat(3*mib+1),
		`ftpx_auth_total{protocol="sftp",result="ok"} 3`,
		`ftpx_connections_total{protocol="sftp",result="accepted"} 3`,
		`ftpx_transfers_total{direction="put",protocol="ftpx",result="ok"} 1`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", body)
	}
}

// promFloat is n as the Prometheus text format writes a float.
func promFloat(n int64) string { return strconv.FormatFloat(float64(n), 'g', -1, 64) }

// TestSFTPSharesConnectionLimitWithNative: with --max-conns 2 and two
// native connections open, an SFTP connection is refused before the SSH
// handshake (OpenSSH exits 255); once one native connection ends an SFTP
// login works, and while it lasts a third native connection gets 270.
func TestSFTPSharesConnectionLimitWithNative(t *testing.T) {
	d, f := sftpDaemon(t, "--max-conns", "2")
	n1, n2 := dialSession(t, d.addr), dialSession(t, d.addr)
	for i, s := range []*session{n1, n2} {
		if s.hello.Status != protocol.StatusReady {
			t.Fatalf("native connection %d: greeting %d", i+1, s.hello.Status)
		}
	}
	o := newOpenSSH(t, t.TempDir(), sftpPassword)
	if stdout, stderr, code := o.run(t, "pwd\n", "sftp", "-P", f.port, "alex@127.0.0.1"); code != 255 {
		t.Errorf("sftp with 2 native connections open and --max-conns 2: exit %d, want 255\n%s%s", code, stdout, stderr)
	}
	if _, _, err := goSFTPE(f, "alex", sftpPassword); err == nil {
		t.Errorf("an SSH login with the limit reached succeeded")
	}
	waitUntil(t, 10*time.Second, "the 2 refused SFTP connections in the log", func() bool {
		return strings.Count(d.logText(), `msg="connection refused" protocol=sftp`) == 2
	})

	n1.c.Close()
	var sc *ssh.Client
	waitUntil(t, 10*time.Second, "an SFTP login once a native connection ended", func() bool {
		_, c, err := goSFTPE(f, "alex", sftpPassword)
		sc = c
		return err == nil
	})
	if s := dialSession(t, d.addr); s.hello.Status != protocol.StatusTooManyConns {
		t.Errorf("a native connection with 1 native and 1 SFTP open: greeting %d, want %d", s.hello.Status, protocol.StatusTooManyConns)
	}
	sc.Close()
	waitUntil(t, 10*time.Second, "a native login once the SFTP connection ended", func() bool {
		s := dialSession(t, d.addr)
		defer s.c.Close()
		return s.hello.Status == protocol.StatusReady
	})
	n2.c.Close()
}
