package ftpd_test

import (
	"bufio"
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"ftpx/accounts"
	"ftpx/ftpxtest"
	"ftpx/protocol"
	"ftpx/server"
)

func TestConnectionLimitsCountBothProtocols(t *testing.T) {
	ts, addr := setup(t, accounts.Unlimited, []string{"max_sessions = 2"}, func(s *server.Server) { s.MaxConns = 3 })
	// max_sessions counts the user's sessions of both protocols.
	c, r, _ := ftpxtest.DialNative(t, ts.Addr)
	if st := ftpxtest.NativeAuth(t, c, r, "alex", "pw"); st != protocol.StatusLoggedIn {
		t.Fatalf("native auth: %d", st)
	}
	one, _, _ := dialRaw(t, addr)
	one.login("alex", "pw")
	two, code, _ := dialRaw(t, addr)
	if code != 220 {
		t.Fatalf("third connection: %d", code)
	}
	two.cmd("USER alex")
	if code, text := two.cmd("PASS pw"); code != 530 || !strings.Contains(text, "at most 2") {
		t.Fatalf("third session of a user with max_sessions 2: %d %s", code, text)
	}
	// MaxConns counts the connections of both protocols: the fourth is
	// refused, by FTP (421) and by the native protocol alike.
	if _, code, text := dialRaw(t, addr); code != 421 {
		t.Fatalf("fourth connection over FTP: %d %s, want 421", code, text)
	}
	if _, _, hello := ftpxtest.DialNative(t, ts.Addr); hello.Status != protocol.StatusTooManyConns {
		t.Fatalf("fourth connection over the native protocol: %d", hello.Status)
	}
	one.cmd("QUIT")
	waitFor(t, "the FTP connection to be released", func() bool {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return false
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		l, _ := bufio.NewReader(c).ReadString('\n')
		return strings.HasPrefix(l, "220")
	})
}

func TestFailedFTPLoginsBanTheAddressForBoth(t *testing.T) {
	ts, addr := setup(t, accounts.Unlimited, nil, func(s *server.Server) {
		s.MaxLoginFailures = 2
		s.LoginDelay = time.Millisecond
	})
	rc, _, _ := dialRaw(t, addr)
	for range 2 {
		rc.cmd("USER alex")
		if code, _ := rc.cmd("PASS wrong"); code != 530 {
			t.Fatalf("wrong password: %d", code)
		}
	}
	rc.cmd("USER alex")
	if code, text := rc.cmd("PASS pw"); code != 530 || !strings.Contains(text, "until") {
		t.Fatalf("right password from a banned address: %d %s", code, text)
	}
	c, r, _ := ftpxtest.DialNative(t, ts.Addr)
	if st := ftpxtest.NativeAuth(t, c, r, "alex", "pw"); st != protocol.StatusBanned {
		t.Fatalf("native auth from the address banned through FTP: %d", st)
	}
}

func TestIdleTimeoutAndShutdownSay421(t *testing.T) {
	ts := newServer(t, func(s *server.Server) { s.IdleTimeout = 300 * time.Millisecond })
	addr := ts.StartFTP(t)
	rc, _, _ := dialRaw(t, addr)
	rc.login("alex", "pw")
	if code, text := rc.read(); code != 421 || !strings.Contains(text, "idle") {
		t.Fatalf("after the idle timeout: %d %s", code, text)
	}

	ts2 := newServer(t)
	ftp := startFTPServer(t, ts2)
	rc, _, _ = dialRaw(t, ftp.addr)
	rc.login("alex", "pw")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ftp.srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if code, text := rc.read(); code != 421 {
		t.Fatalf("at shutdown: %d %s", code, text)
	}
}

func TestRawCommandLines(t *testing.T) {
	ts, addr := setup(t, accounts.Unlimited, nil)
	rc, _, _ := dialRaw(t, addr)
	for line, want := range map[string]int{
		"LIST": 530, "RETR x": 530, "STOR x": 530, "PWD": 530, "CWD /": 530, "PASV": 530,
		"FEAT": 211, "SYST": 215, "NOOP": 200, "BOGU": 502, "BOGUS": 500, "": 500, "TOOLONGVERB x": 500, "PASS pw": 503,
	} {
		if code, text := rc.cmd(line); code != want {
			t.Errorf("%q before login: %d %s, want %d", line, code, text, want)
		}
	}
	rc.login("alex", "pw")
	for line, want := range map[string]int{
		"user alex":                       503, // lower case verbs work too
		"RETR":                            501,
		"PWD extra":                       501,
		"REST -1":                         501,
		"REST abc":                        501,
		"TYPE X":                          504,
		"OPTS HASH SHA-1":                 501,
		"PROT P":                          503, // before AUTH TLS
		"RETR missing":                    550,
		"RNTO x":                          503,
		"RETR a\x00b":                     553,
		"STOR x":                          425, // no PASV/PORT yet
		"\xff\xf4\xff\xf2ABOR":            226, // Telnet IP and Synch before ABOR
		"XMD5 missing":                    550,
		"MKD " + strings.Repeat("a", 300): 553,
	} {
		if code, text := rc.cmd(line); code != want {
			t.Errorf("%q: %d %s, want %d", line, code, text, want)
		}
	}
	// A line longer than the limit ends the session, alone.
	rc.c.Write([]byte("NOOP " + strings.Repeat("x", 10_000) + "\r\n"))
	if code, _ := rc.read(); code != 500 {
		t.Errorf("an over-long line: %d, want 500", code)
	}
	other, _, _ := dialRaw(t, addr)
	other.login("alex", "pw")
	if code, _ := other.cmd("PWD"); code != 257 {
		t.Error("another session suffered")
	}
	_ = ts
}

func TestStorOverRawDataConnection(t *testing.T) {
	ts, addr := setup(t, accounts.Unlimited, nil)
	rc, _, _ := dialRaw(t, addr)
	rc.login("alex", "pw")
	d := rc.pasv()
	if code, text := rc.cmd("STOR raw.bin"); code != 150 {
		t.Fatalf("STOR: %d %s", code, text)
	}
	data := randomBytes(100_000)
	d.Write(data)
	d.Close()
	if code, text := rc.read(); code != 226 || !strings.Contains(text, md5hex(data)) {
		t.Fatalf("STOR end: %d %s", code, text)
	}
	if b, _ := os.ReadFile(filepath.Join(ts.Home("alex"), "raw.bin")); md5hex(b) != md5hex(data) {
		t.Fatal("stored bytes differ")
	}
	// A data connection reset mid-upload keeps what the server received,
	// to resume, under no name.
	data = randomBytes(3 << 20)
	d = rc.pasv()
	if code, _ := rc.cmd("STOR cut.bin"); code != 150 {
		t.Fatal("STOR cut.bin")
	}
	d.Write(data[:3<<19])
	waitFor(t, "the server to write the first chunk", func() bool { return partialBytes(t, ts.Home("alex")) >= 1<<20 })
	d.(*net.TCPConn).SetLinger(0)
	d.Close()
	if code, _ := rc.read(); code != 426 {
		t.Fatalf("reset upload: %d, want 426", code)
	}
	code, text := rc.cmd("SIZE cut.bin")
	held, _ := strconv.Atoi(strings.TrimPrefix(text, "213 "))
	if code != 213 || held < 1<<20 || held > 3<<19 {
		t.Fatalf("SIZE of the cut upload: %s", text)
	}
	if code, _ := rc.cmd("MLST cut.bin"); code != 550 {
		t.Fatal("the cut upload is visible")
	}
	d = rc.pasv()
	rc.cmd("REST " + strconv.Itoa(held))
	if code, text := rc.cmd("STOR cut.bin"); code != 150 {
		t.Fatalf("REST %d + STOR: %d %s", held, code, text)
	}
	d.Write(data[held:])
	d.Close()
	if code, text := rc.read(); code != 226 || !strings.Contains(text, md5hex(data)) {
		t.Fatalf("resumed STOR: %d %s, want the md5 of the whole", code, text)
	}
}
