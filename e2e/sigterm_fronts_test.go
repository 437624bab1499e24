package e2e

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"ftpx/home"
	"ftpx/server"
)

// SIGINT/SIGTERM with a transfer running on every front end at once: the
// contract's "stop accepting, let running transfers finish for a bounded
// grace period, exit 0", through the real binaries on a local root.

// ftpConn is an FTP control connection driven by hand: the test needs
// the reply to each command, and a data connection it paces itself.
type ftpConn struct {
	c net.Conn
	r *bufio.Reader
}

// dialFTP connects to addr and reads the greeting; it returns the
// greeting's code (220 when the server serves the session).
func dialFTP(addr string) (*ftpConn, int, string, error) {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, 0, "", err
	}
	f := &ftpConn{c: c, r: bufio.NewReader(c)}
	code, text, err := f.reply(20 * time.Second)
	if err != nil {
		c.Close()
		return nil, 0, "", err
	}
	return f, code, text, nil
}

// reply reads one reply, a multi-line one whole, waiting up to wait.
func (f *ftpConn) reply(wait time.Duration) (int, string, error) {
	f.c.SetReadDeadline(time.Now().Add(wait))
	var lines []string
	for {
		l, err := f.r.ReadString('\n')
		if err != nil {
			return 0, strings.Join(lines, "\n"), err
		}
		l = strings.TrimRight(l, "\r\n")
		lines = append(lines, l)
		if len(l) >= 4 && l[3] == ' ' && (len(lines) == 1 || strings.HasPrefix(l, lines[0][:3])) {
			code, err := strconv.Atoi(l[:3])
			return code, strings.Join(lines, "\n"), err
		}
		if len(lines) == 1 && (len(l) < 4 || l[3] != '-') {
			return 0, l, fmt.Errorf("malformed reply %q", l)
		}
	}
}

// cmd sends one command line and reads its reply.
func (f *ftpConn) cmd(line string) (int, string, error) {
	f.c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := f.c.Write([]byte(line + "\r\n")); err != nil {
		return 0, "", err
	}
	return f.reply(20 * time.Second)
}

// must runs a command and fails the test unless the reply has code want.
func (f *ftpConn) must(t *testing.T, line string, want int) string {
	t.Helper()
	code, text, err := f.cmd(line)
	if err != nil || code != want {
		t.Fatalf("FTP %s: %d %q %v, want %d", strings.Fields(line)[0], code, text, err, want)
	}
	return text
}

// loginFTP logs in to addr as user; the connection is closed at the end
// of the test.
func loginFTP(t *testing.T, addr, user, password string) *ftpConn {
	t.Helper()
	f, code, text, err := dialFTP(addr)
	if err != nil || code != 220 {
		t.Fatalf("FTP greeting from %s: %d %q %v", addr, code, text, err)
	}
	t.Cleanup(func() { f.c.Close() })
	f.must(t, "USER "+user, 331)
	f.must(t, "PASS "+password, 230)
	return f
}

var epsvPort = regexp.MustCompile(`\(\|\|\|(\d+)\|\)`)

// loginFailsFTP reports how a new FTP session at addr fails: refused at
// connect, closed, or a greeting or login reply other than 220 and 230.
// It returns "" when the login succeeds.
func loginFailsFTP(addr, user, password string) string {
	f, code, text, err := dialFTP(addr)
	if err != nil {
		return "connect: " + err.Error()
	}
	defer f.c.Close()
	if code != 220 {
		return "greeting: " + text
	}
	if code, text, err = f.cmd("USER " + user); err != nil || code != 331 {
		return fmt.Sprintf("USER: %d %q %v", code, text, err)
	}
	if code, text, err = f.cmd("PASS " + password); err != nil || code != 230 {
		return fmt.Sprintf("PASS: %d %q %v", code, text, err)
	}
	return ""
}

// paced writes data through write, chunk bytes at a time at about rate
// bytes a second, counting what was written in sent; it returns the
// first error.
func paced(data []byte, chunk int, rate float64, sent *atomic.Int64, write func([]byte) (int, error)) error {
	start := time.Now()
	for off := 0; off < len(data); {
		n, err := write(data[off:min(off+chunk, len(data))])
		off += n
		sent.Add(int64(n))
		if err != nil {
			return err
		}
		time.Sleep(time.Until(start.Add(time.Duration(float64(off) / rate * float64(time.Second)))))
	}
	return nil
}

// partialSizes returns the size of each upload user's home holds as a
// partial, by transfer id (state files left out).
func partialSizes(root, user string) map[string]int64 {
	entries, _ := os.ReadDir(filepath.Join(root, user, home.PartialDir))
	sizes := map[string]int64{}
	for _, e := range entries {
		if fi, err := e.Info(); err == nil && fi.Mode().IsRegular() && !strings.Contains(e.Name(), ".") {
			sizes[e.Name()] = fi.Size()
		}
	}
	return sizes
}

// upload is how one of the three uploads ended.
type upload struct {
	err  error         // nil: it succeeded (FTP: 226, SFTP: Close nil, ftpx: exit 0)
	what string        // the reply, the exit status: what the client saw
	at   time.Time     // when it ended
	took time.Duration // from its start
}

// TestSigtermLetsAnUploadOnEachFrontEndFinish: one daemon serving the
// native protocol, FTP and SFTP on a local root, with an upload running
// on each (ftpx put at --limit-rate 4MB, an FTP STOR whose data
// connection the test paces, an SFTP upload in 32 KiB writes, each a few
// seconds long) and an idle FTP control connection and SFTP session
// beside them. SIGTERM once each upload has sent part of its bytes. Then
// the idle FTP connection gets 421, the idle SFTP session is closed, and
// a new login on each listener fails; each upload finishes (ftpx exits
// 0, the STOR gets 226, the SFTP Close returns nil), lands under its name
// with its MD5 and leaves no partial; and the daemon exits 0 once they
// are done, within its grace period (server.DefaultGracePeriod) plus a
// margin, without waiting the grace period out.
func TestSigtermLetsAnUploadOnEachFrontEndFinish(t *testing.T) {
	const rate = 4 << 20 // bytes a second, for each upload
	accounts := filepath.Join(t.TempDir(), "accounts.ini")
	addUser(t, accounts, "alex", sftpPassword, "")
	d := startDaemon(t, accounts, "--ftp-listen", "127.0.0.1:0", "--sftp-listen", "127.0.0.1:0")
	ftpAddr, f := d.ftpAddr(t), d.sftpFront(t)
	homeDir := filepath.Join(d.root, "alex")
	work := t.TempDir()
	env := []string{"FTPX_SERVER=" + d.addr, "FTPX_USER=alex", "FTPX_PASSWORD=" + sftpPassword}

	// 5 s, 4 s and 4 s at 4 MiB/s.
	nativeSum := writeSeeded(t, filepath.Join(work, "native.bin"), 20*mib+17, seeded(t, 9201))
	ftpData := randomBytes(seeded(t, 9202), 16*mib+33)
	sftpData := randomBytes(seeded(t, 9203), 16*mib+49)

	// The idle ones: logged in, nothing asked.
	idleFTP := loginFTP(t, ftpAddr, "alex", sftpPassword)
	_, idleSSH, idleSFTP := goSFTP(t, f, "alex", sftpPassword)
	idleSSHEnded := make(chan error, 1)
	go func() { idleSSHEnded <- idleSSH.Wait() }()

	// FTP: STOR on a passive data connection, up to 150.
	ftpc := loginFTP(t, ftpAddr, "alex", sftpPassword)
	ftpc.must(t, "TYPE I", 200)
	m := epsvPort.FindStringSubmatch(ftpc.must(t, "EPSV", 229))
	if m == nil {
		t.Fatal("EPSV reply without a port")
	}
	host, _, _ := net.SplitHostPort(ftpAddr)
	dataConn, err := net.DialTimeout("tcp", net.JoinHostPort(host, m[1]), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dataConn.Close() })
	ftpc.must(t, "STOR ftp.bin", 150)

	// SFTP: the file open for writing.
	_, _, sftpCl := goSFTP(t, f, "alex", sftpPassword)
	w, err := sftpCl.OpenFile("/sftp.bin", os.O_WRONLY|os.O_CREATE|os.O_TRUNC)
	if err != nil {
		t.Fatal(err)
	}

	// All three at once.
	start := time.Now()
	native := startFtpx(t, work, env, "--retries", "0", "--limit-rate", "4MB", "--json", "put", "native.bin")
	var ftpSent, sftpSent atomic.Int64
	ftpDone, sftpDone, nativeDone := make(chan upload, 1), make(chan upload, 1), make(chan upload, 1)
	go func() {
		err := paced(ftpData, 64<<10, rate, &ftpSent, dataConn.Write)
		if err == nil {
			err = dataConn.Close() // the end of the file
		}
		u := upload{err: err}
		if err == nil {
			var code int
			code, u.what, u.err = ftpc.reply(60 * time.Second)
			if u.err == nil && code != 226 {
				u.err = fmt.Errorf("reply %d, want 226", code)
			}
		}
		u.at = time.Now()
		u.took = u.at.Sub(start)
		ftpDone <- u
	}()
	go func() {
		err := paced(sftpData, 32<<10, rate, &sftpSent, w.Write)
		if err == nil {
			err = w.Close()
		}
		now := time.Now()
		sftpDone <- upload{err: err, what: fmt.Sprintf("Close: %v", err), at: now, took: now.Sub(start)}
	}()
	go func() {
		<-native.done
		now := time.Now()
		u := upload{what: fmt.Sprintf("exit %d", native.cmd.ProcessState.ExitCode()), at: now, took: now.Sub(native.started)}
		if code := native.cmd.ProcessState.ExitCode(); code != 0 {
			u.err = fmt.Errorf("ftpx put: exit %d: %s", code, strings.TrimSpace(native.err.String()))
		}
		nativeDone <- u
	}()

	// Each has sent part of its bytes: the FTP and SFTP senders count
	// theirs, and the server holds the three partials (the native one is
	// the one not named after the other two: theirs are named after the
	// user and the path).
	ftpID, sftpID := home.StreamID("alex", "/ftp.bin"), home.StreamID("alex", "/sftp.bin")
	waitUntil(t, 30*time.Second, "the three uploads to be under way", func() bool {
		held := partialSizes(d.root, "alex")
		var nativeHeld int64
		for id, n := range held {
			if id != ftpID && id != sftpID {
				nativeHeld += n
			}
		}
		return ftpSent.Load() >= mib && sftpSent.Load() >= mib && held[ftpID] > 0 && held[sftpID] > 0 && nativeHeld >= mib
	})
	for what, done := range map[string]chan upload{"ftpx put": nativeDone, "FTP STOR": ftpDone, "SFTP upload": sftpDone} {
		select {
		case u := <-done:
			t.Fatalf("the %s ended before SIGTERM: %s %v", what, u.what, u.err)
		default:
		}
	}
	t.Logf("SIGTERM %v after the start, with %d bytes of the FTP and %d of the SFTP upload sent, and partials of %v on the server",
		time.Since(start).Round(time.Millisecond), ftpSent.Load(), sftpSent.Load(), partialSizes(d.root, "alex"))
	sigterm := time.Now()
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "the server to begin its shutdown", func() bool { return strings.Contains(d.logText(), "shutting down") })

	// The idle ones are let go.
	if code, text, err := idleFTP.reply(10 * time.Second); err != nil || code != 421 {
		t.Errorf("the idle FTP connection after SIGTERM: %d %q %v, want 421", code, text, err)
	} else {
		t.Logf("the idle FTP connection: %q", text)
	}
	select {
	case err := <-idleSSHEnded:
		t.Logf("the idle SFTP session was closed by the server %v after SIGTERM (%v)", time.Since(sigterm).Round(time.Millisecond), err)
		if _, err := idleSFTP.Getwd(); err == nil {
			t.Error("the idle SFTP session still answers after it was closed")
		}
	case <-time.After(10 * time.Second):
		t.Error("the idle SFTP session is still open 10 s after SIGTERM")
	}

	// New logins fail on every listener.
	if _, errOut, code := ftpx(t, work, env, "--retries", "0", "ls"); code == 0 {
		t.Error("a new native session after SIGTERM: ls succeeded")
	} else {
		t.Logf("a new native session after SIGTERM: exit %d: %s", code, strings.TrimSpace(errOut))
	}
	if why := loginFailsFTP(ftpAddr, "alex", sftpPassword); why == "" {
		t.Error("a new FTP login after SIGTERM succeeded")
	} else {
		t.Logf("a new FTP login after SIGTERM: %s", why)
	}
	if _, sc, cl, err := goSFTPClientE(f, "alex", sftpPassword); err == nil {
		cl.Close()
		sc.Close()
		t.Error("a new SFTP session after SIGTERM was served")
	} else {
		t.Logf("a new SFTP session after SIGTERM: %v", err)
	}

	// The three uploads finish, well within the grace period.
	for _, up := range []struct {
		what string
		done chan upload
	}{{"ftpx put", nativeDone}, {"FTP STOR", ftpDone}, {"SFTP upload", sftpDone}} {
		select {
		case u := <-up.done:
			if u.err != nil {
				t.Errorf("the %s during the shutdown: %v (%s)\n%s", up.what, u.err, u.what, lastLogLines(d, 20))
			} else {
				t.Logf("the %s: %s; %v from its start, %v after SIGTERM", up.what, u.what, u.took.Round(time.Millisecond), u.at.Sub(sigterm).Round(time.Millisecond))
			}
		case <-time.After(time.Until(sigterm.Add(server.DefaultGracePeriod + 10*time.Second))):
			t.Fatalf("the %s still runs %v after SIGTERM", up.what, time.Since(sigterm).Round(time.Second))
		}
	}
	if res := onlyResult(t, native.out.String()); res.MD5 != nativeSum {
		t.Errorf("ftpx put --json: %+v, want md5 %s", res, nativeSum)
	}

	// The daemon exits 0 once they are done, not when the grace ends.
	bound := server.DefaultGracePeriod + 5*time.Second
	code, _ := d.waitExit(t, time.Until(sigterm.Add(bound)))
	took := time.Since(sigterm)
	waitUntil(t, 10*time.Second, "the server's last log line", func() bool { return strings.Contains(d.logText(), "msg=stopped") })
	t.Logf("the daemon exited %v after SIGTERM, status %d (grace %v, bound %v)", took.Round(time.Millisecond), code, server.DefaultGracePeriod, bound)
	if code != 0 {
		t.Errorf("exit %d after SIGTERM, want 0:\n%s", code, fromLine(d.logText(), "shutting down"))
	}
	if strings.Contains(d.logText(), "grace period over") {
		t.Errorf("the daemon waited its grace period out and cut connections:\n%s", fromLine(d.logText(), "shutting down"))
	}

	for name, want := range map[string]string{"native.bin": nativeSum, "ftp.bin": md5Bytes(ftpData), "sftp.bin": md5Bytes(sftpData)} {
		if got := md5File(t, filepath.Join(homeDir, name)); got != want {
			t.Errorf("%s on disk: md5 %s, want %s", name, got, want)
		}
	}
	if left := partialsOnServer(homeDir); len(left) != 0 {
		t.Errorf("partials left after the three uploads completed: %v (%d bytes held)", left, heldOnServer(d.root, "alex"))
	}
}
