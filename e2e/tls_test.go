package e2e

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// freeAddr returns a loopback address with a port nobody listens on now,
// for a server that must come back on the same address.
func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func TestTLSAutoPinnedOnFirstUseInAScript(t *testing.T) {
	accounts := filepath.Join(t.TempDir(), "accounts.ini")
	addUser(t, accounts, "alex", "pw", "")
	addr := freeAddr(t)
	d := startDaemonAt(t, filepath.Join(t.TempDir(), "root"), addr, accounts, "--tls", "auto")
	if !strings.Contains(d.logText(), "fingerprint=SHA256:") {
		t.Fatalf("no fingerprint logged:\n%s", d.logText())
	}
	// The SHA-1 one too, as lftp shows it: the hex that openssl prints.
	if _, err := exec.LookPath("openssl"); err == nil {
		out, err := exec.Command("openssl", "x509", "-in", filepath.Join(d.root, ".ftpx-tls", "cert.pem"), "-noout", "-fingerprint", "-sha1").Output()
		_, hex, _ := strings.Cut(strings.TrimSpace(string(out)), "=")
		if err != nil || hex == "" || !strings.Contains(d.logText(), "fingerprint_sha1=SHA1:"+hex+" ") {
			t.Errorf("the logged SHA-1 fingerprint is not openssl's %q (%v):\n%s", hex, err, d.logText())
		}
	}
	work := t.TempDir()
	cfgDir := filepath.Join(work, "cfg")
	env := []string{"FTPX_SERVER=" + addr, "FTPX_USER=alex", "FTPX_PASSWORD=pw", "FTPX_CONFIG_DIR=" + cfgDir}
	sum := writeRandom(t, filepath.Join(work, "f.bin"), 200_000)

	// Unknown and unverifiable, no terminal, no --trust-new-server: refused.
	if _, errOut, code := ftpx(t, work, env, "--tls", "put", "f.bin"); code != 1 || !strings.Contains(errOut, "SHA256:") {
		t.Fatalf("first use without --trust-new-server: exit %d: %s", code, errOut)
	}
	if _, errOut, code := ftpx(t, work, env, "--tls", "--trust-new-server", "put", "f.bin"); code != 0 {
		t.Fatalf("first use with --trust-new-server: exit %d: %s", code, errOut)
	}
	pins, _ := os.ReadFile(filepath.Join(cfgDir, "known_servers"))
	if !strings.HasPrefix(string(pins), addr+" SHA256:") {
		t.Fatalf("known_servers: %q", pins)
	}
	// Pinned: FTPX_TLS=1 is enough from now on.
	if _, errOut, code := ftpx(t, work, append(env, "FTPX_TLS=1"), "get", "f.bin", "back.bin"); code != 0 || md5File(t, filepath.Join(work, "back.bin")) != sum {
		t.Fatalf("pinned get: exit %d: %s", code, errOut)
	}

	// Another certificate at the same address: refused, naming both,
	// whatever the flags say.
	d.cmd.Process.Signal(syscall.SIGTERM)
	d.cmd.Wait()
	startDaemonAt(t, filepath.Join(t.TempDir(), "root2"), addr, accounts, "--tls", "auto")
	_, errOut, code := ftpx(t, work, env, "--tls", "--trust-new-server", "ls")
	if code != 1 || strings.Count(errOut, "SHA256:") != 2 || !strings.Contains(errOut, strings.Fields(string(pins))[1]) {
		t.Fatalf("changed certificate: exit %d: %s", code, errOut)
	}
}

func TestRequireTLSRefusesPlaintextClient(t *testing.T) {
	dir := t.TempDir()
	accounts := filepath.Join(dir, "accounts.ini")
	addUser(t, accounts, "alex", "pw", "")
	conf := filepath.Join(dir, "server.ini")
	os.WriteFile(conf, []byte("tls = auto\nrequire_tls = true\n"), 0o644)
	d := startDaemon(t, accounts, "--config", conf)
	work := t.TempDir()
	env := []string{"FTPX_SERVER=" + d.addr, "FTPX_USER=alex", "FTPX_PASSWORD=pw", "FTPX_CONFIG_DIR=" + filepath.Join(work, "cfg")}
	_, errOut, code := ftpx(t, work, env, "ls")
	if code == 0 || !strings.Contains(errOut, "283") {
		t.Fatalf("plaintext client against require_tls: exit %d: %s", code, errOut)
	}
	if _, errOut, code := ftpx(t, work, env, "--tls", "--trust-new-server", "ls"); code != 0 {
		t.Fatalf("TLS client against require_tls: exit %d: %s", code, errOut)
	}
}

func TestResumeOverTLSAfterCut(t *testing.T) {
	accounts := filepath.Join(t.TempDir(), "accounts.ini")
	addUser(t, accounts, "alex", "pw", "")
	d := startDaemon(t, accounts, "--tls", "auto")
	work := t.TempDir()
	cfgDir := filepath.Join(work, "cfg")
	base := []string{"FTPX_USER=alex", "FTPX_PASSWORD=pw", "FTPX_CONFIG_DIR=" + cfgDir, "FTPX_TLS=1"}
	// The pin is for the address the client dials: the proxy's.
	p := newCutProxy(t, d.addr, true, []int64{3 << 20, 5 << 20})
	defer p.close()
	env := append(base, "FTPX_SERVER="+p.addr())
	sum := writeRandom(t, filepath.Join(work, "big.bin"), 8<<20)
	out, errOut, code := ftpx(t, work, env, "--trust-new-server", "--retry-delay", "10ms", "--json", "put", "big.bin")
	if code != 0 {
		t.Fatalf("put over TLS through cuts: exit %d: %s", code, errOut)
	}
	if got := md5File(t, filepath.Join(d.root, "alex", "big.bin")); got != sum {
		t.Fatalf("stored md5 %s, want %s", got, sum)
	}
	if r := onlyResult(t, out); r.MD5 != sum {
		t.Fatalf("--json: %+v", r)
	}
	p.mu.Lock()
	cuts := p.cuts
	p.mu.Unlock()
	if cuts < 1 || p.counted.Load() >= 2*(8<<20) {
		t.Fatalf("cuts %d, bytes through the proxy %d", cuts, p.counted.Load())
	}
}
