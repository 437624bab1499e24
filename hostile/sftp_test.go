package hostile

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"ftpx/accounts"
	"ftpx/ftpxtest"
	"ftpx/server"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// The SFTP front end under attack: connection floods before the SSH
// handshake, malformed SFTP packets after the login, and everything but
// SFTP and md5sum asked of the SSH server.

// sftpRoundTrip checks that a fresh, well-behaved SFTP client is served:
// a put and a get of the same bytes (github.com/pkg/sftp).
func sftpRoundTrip(t testing.TB, addr, user, pw, name string) {
	t.Helper()
	sc, err := sshLogin(addr, user, pw)
	if err != nil {
		t.Fatalf("well-behaved SFTP login as %s: %v", user, err)
	}
	defer sc.Close()
	cl, err := sftp.NewClient(sc)
	if err != nil {
		t.Fatalf("well-behaved sftp subsystem: %v", err)
	}
	defer cl.Close()
	sftpPutGet(t, cl, name)
}

// sftpPutGet puts 100 KB under name and gets them back.
func sftpPutGet(t testing.TB, cl *sftp.Client, name string) {
	t.Helper()
	body := bytes.Repeat([]byte("round trip "+name+"\n"), 100_000/(len(name)+12))
	w, err := cl.Create("/" + name)
	if err == nil {
		_, err = w.Write(body)
		if cerr := w.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		t.Fatalf("well-behaved SFTP put %s: %v", name, err)
	}
	r, err := cl.Open("/" + name)
	if err != nil {
		t.Fatalf("well-behaved SFTP get %s: %v", name, err)
	}
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("well-behaved SFTP get %s: %d bytes (want %d), md5 %s (want %s), %v", name, len(got), len(body), md5hex(got), md5hex(body), err)
	}
}

// TestSFTPUnauthenticatedFlood opens 200 raw connections to the SFTP
// port with MaxConns 121 and one user already in: 120 get the server's
// SSH banner, the other 80 are closed before it. A legitimate login is
// refused while the server is full; then a quarter of the admitted send
// garbage, a quarter a packet announcing 2^31 bytes, a quarter a
// malformed packet, and those are closed by the server; the rest send
// nothing. Through it all the user logged in before is served, the heap
// stays bounded and comes back, no panic; when the flood goes away a new
// login is served.
func TestSFTPUnauthenticatedFlood(t *testing.T) {
	const maxConns, flood = 121, 200
	// A server of its own, with no session but the one opened below, so
	// that the count of free places is exact.
	ts := ftpxtest.NewServer(t, func(s *server.Server) { s.MaxConns = maxConns })
	ts.AddUser(t, neighbour, neighbourPW, accounts.Unlimited)
	addr := ts.StartSFTP(t)
	early, err := sshLogin(addr, neighbour, neighbourPW)
	if err != nil {
		t.Fatal(err)
	}
	defer early.Close()
	earlyCl, err := sftp.NewClient(early)
	if err != nil {
		t.Fatal(err)
	}
	defer earlyCl.Close()

	heap := func() int64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return int64(ms.HeapInuse)
	}
	mb := func(b int64) float64 { return float64(b) / (1 << 20) }
	base := heap()

	var admitted []net.Conn
	refused := 0
	defer func() {
		for _, c := range admitted {
			c.Close()
		}
	}()
	for i := range flood {
		d := net.Dialer{Timeout: ioTimeout, LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, loopback(i, 10))}}
		c, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		line, err := bufio.NewReader(c).ReadString('\n')
		c.SetReadDeadline(time.Time{})
		switch {
		case strings.HasPrefix(line, "SSH-2.0-ftpx"):
			admitted = append(admitted, c)
		case line == "" && err != nil && !isTimeout(err):
			refused++
			c.Close()
		default:
			c.Close()
			t.Fatalf("connection %d: %q %v: neither the banner nor closed", i, line, err)
		}
	}
	if len(admitted) != maxConns-1 || refused != flood-(maxConns-1) {
		t.Errorf("%d connections with MaxConns %d and one session open: %d got the banner, %d closed; want %d and %d",
			flood, maxConns, len(admitted), refused, maxConns-1, flood-(maxConns-1))
	}
	if sc, err := sshLogin(addr, neighbour, neighbourPW); err == nil {
		sc.Close()
		t.Errorf("a login succeeded with the server full")
	}

	r := rand.New(rand.NewPCG(7, 11))
	garbage := make([]byte, 1000)
	for i := range garbage {
		garbage[i] = byte(r.Uint32())
	}
	huge := append([]byte("SSH-2.0-evil\r\n"), 0x80, 0, 0, 0, 4, 1, 2, 3, 4, 5, 6, 7, 8)
	malformed := append([]byte("SSH-2.0-evil\r\n"), 0, 0, 0, 100, 4)
	malformed = append(malformed, garbage[:99]...)
	var closedByServer, silent []net.Conn
	for i, c := range admitted {
		var b []byte
		switch i % 4 {
		case 0:
			b = garbage
		case 1:
			b = huge
		case 2:
			b = malformed
		default:
			silent = append(silent, c)
			continue
		}
		c.SetWriteDeadline(time.Now().Add(ioTimeout))
		c.Write(b) // the server may close before it has read it all
		closedByServer = append(closedByServer, c)
	}
	peak := heap()
	for i, c := range closedByServer {
		c.SetReadDeadline(time.Now().Add(15 * time.Second))
		if _, err := io.Copy(io.Discard, c); err != nil && isTimeout(err) {
			t.Errorf("misbehaving connection %d (%s) is still open after 15 s", i, [...]string{"garbage", "2^31 length", "malformed packet"}[i%3])
		}
	}
	for i, c := range silent[:5] {
		c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		if _, err := c.Read(make([]byte, 1)); err == nil || !isTimeout(err) {
			t.Errorf("silent connection %d: %v, want it still open (the handshake timeout is 30 s)", i, err)
		}
	}
	sftpPutGet(t, earlyCl, "during-flood.bin")

	for _, c := range admitted {
		c.Close()
	}
	admitted = nil
	if !waitFor(20*time.Second, func() bool {
		sc, err := sshLogin(addr, neighbour, neighbourPW)
		if err != nil {
			return false
		}
		sc.Close()
		return true
	}) {
		t.Fatalf("no login is served after the flood went away")
	}
	sftpRoundTrip(t, addr, neighbour, neighbourPW, "after-flood.bin")
	var after int64
	if !waitFor(10*time.Second, func() bool { after = heap(); return after < base+16<<20 }) {
		t.Errorf("the heap did not come back: %.1f MB, %.1f MB before the flood", mb(after), mb(base))
	}
	if peak-base > 64<<20 {
		t.Errorf("the heap grew by %.1f MB with %d connections held", mb(peak-base), maxConns-1)
	}
	if got := strings.Count(ts.Log(), `msg="connection refused" protocol=sftp`); got < refused {
		t.Errorf("%d refused SFTP connections logged, %d refused", got, refused)
	}
	if n := panics(ts); n != 0 || strings.Contains(ts.Log(), "panic") {
		t.Errorf("the server logged %d panics", n)
	}
	t.Logf("SFTP flood: %d connections, %d admitted, %d refused; heap %.1f MB -> %.1f MB held -> %.1f MB after",
		flood, maxConns-1, refused, mb(base), mb(peak), mb(after))
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// TestSFTPNoShellNoForwardingNoOtherCommand: the SSH server gives a
// logged-in user SFTP and md5sum only: no shell, no pty, no other
// subsystem, no agent or X11 forwarding, no port forwarding either way,
// and any other command (a shell line included) exits non-zero with
// nothing of the system in its output; SFTP still works on the same
// connection afterwards.
func TestSFTPNoShellNoForwardingNoOtherCommand(t *testing.T) {
	a := newArena(t)
	addr := a.ts.StartSFTP(t)
	a.before = snapshot(t, a.top, a.skip...)
	sc, err := sshLogin(addr, attacker, attackerPW)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	session := func() *ssh.Session {
		t.Helper()
		s, err := sc.NewSession()
		if err != nil {
			t.Fatalf("session channel: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	if err := session().Shell(); err == nil {
		t.Error("a shell was started")
	}
	if err := session().RequestPty("xterm", 24, 80, ssh.TerminalModes{}); err == nil {
		t.Error("a pty was given")
	}
	if err := session().RequestSubsystem("netconf"); err == nil {
		t.Error("the subsystem netconf was started")
	}
	for _, r := range []string{"auth-agent-req@openssh.com", "x11-req", "env"} {
		if ok, err := session().SendRequest(r, true, nil); ok {
			t.Errorf("%s was accepted (%v)", r, err)
		}
	}
	if c, err := sc.Dial("tcp", a.ts.Addr); err == nil {
		c.Close()
		t.Error("a direct-tcpip channel (local port forwarding) was opened")
	}
	if l, err := sc.Listen("tcp", "127.0.0.1:0"); err == nil {
		l.Close()
		t.Error("tcpip-forward (remote port forwarding) was accepted")
	}
	for _, cmd := range []string{"sh", "ls -la /", "cat /etc/passwd", "md5sum /etc/passwd; cat /etc/passwd",
		"md5sum $(cat /etc/passwd)", "md5sum `cat /etc/passwd`", "/usr/bin/md5sum /etc/passwd", "MD5SUM top.txt",
		"md5sum ../../outside/secret.txt", "md5sum\t'../" + victim + "/secret.txt'", "md5sum 'unterminated"} {
		out, code, err := execOn(sc, cmd)
		if err != nil {
			t.Fatalf("exec %q: %v", cmd, err)
		}
		a.g.check("exec output", out)
		if code == 0 {
			t.Errorf("exec %q: exit 0 with %q, want a refusal", cmd, out)
		}
	}
	if out, code, err := execOn(sc, "md5sum top.txt"); err != nil || code != 0 || string(out) != md5hex([]byte(insideTop))+"  top.txt\n" {
		t.Errorf("exec md5sum top.txt: exit %d %q %v", code, out, err)
	}
	c, err := openSFTP(sc, a.g)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if v, err := c.init(3); err != nil || v.typ != fxpVersion {
		t.Fatalf("SFTP after the refusals: %s %v", v, err)
	}
	if !strings.Contains(a.ts.Log(), "channel refused") {
		t.Error("the refused direct-tcpip channel is not logged")
	}
	if n := panics(a.ts); n != 0 {
		t.Errorf("the server logged %d panics", n)
	}
	a.escapes(t, "no shell, no forwarding")
}
