package e2e

import (
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"ftpx/internal/miniotest"
	"ftpx/s3home"
	"ftpx/server"

	"github.com/google/uuid"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/pkg/sftp"
)

// Shutdown on an s3 root does not wait out S3 timeouts: a store that
// stops answering (every call would hang for s3home.DefaultTimeout, 30 s)
// while uploads run, then SIGTERM. The real binaries and a real MinIO,
// with a forwarder of the test's own between them that can be made to
// stall.
//
// The daemon's grace period (server.DefaultGracePeriod) is 30 s too, and
// the contract lets running transfers finish for that long. So the
// shutdown is checked twice: with the clients gone just after SIGTERM
// there is nothing left to wait for, and the daemon exits at once; with
// the clients still there it exits when the grace period ends, without a
// store call's timeout on top.

// stallLink is a TCP forwarder that can be made to stall: from then on
// every connection, old or new, stays open and no byte passes either
// way, so that what goes through it hangs rather than fails.
type stallLink struct {
	l         net.Listener
	target    string
	stalled   chan struct{} // closed by stall
	ended     chan struct{} // closed by end: every connection closed
	stallOnce sync.Once
	endOnce   sync.Once

	mu    sync.Mutex
	conns map[net.Conn]struct{}

	up   atomic.Int64 // bytes passed towards target
	held atomic.Int64 // what the stall caught: bytes kept from passing, connections never answered
}

func newStallLink(t *testing.T, target string) *stallLink {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	k := &stallLink{l: l, target: target, stalled: make(chan struct{}), ended: make(chan struct{}), conns: map[net.Conn]struct{}{}}
	t.Cleanup(k.end)
	go k.serve()
	return k
}

func (k *stallLink) addr() string { return k.l.Addr().String() }

// stall stops every byte from now on.
func (k *stallLink) stall() { k.stallOnce.Do(func() { close(k.stalled) }) }

// end closes the listener and every connection.
func (k *stallLink) end() {
	k.endOnce.Do(func() {
		k.l.Close()
		k.mu.Lock()
		for c := range k.conns {
			c.Close()
		}
		k.conns = nil
		k.mu.Unlock()
		close(k.ended)
	})
}

// track keeps c for end, or closes it if end came first.
func (k *stallLink) track(c net.Conn) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.conns == nil {
		c.Close()
		return false
	}
	k.conns[c] = struct{}{}
	return true
}

func (k *stallLink) isStalled() bool {
	select {
	case <-k.stalled:
		return true
	default:
		return false
	}
}

func (k *stallLink) serve() {
	for {
		c, err := k.l.Accept()
		if err != nil {
			return
		}
		if !k.track(c) {
			return
		}
		go k.forward(c)
	}
}

// forward connects c to the target, unless the link is stalled: then c
// is only held open.
func (k *stallLink) forward(c net.Conn) {
	if k.isStalled() {
		k.held.Add(1)
		return // accepted, never answered; end closes it
	}
	s, err := net.Dial("tcp", k.target)
	if err != nil || !k.track(s) {
		c.Close()
		return
	}
	go k.pipe(s, c, &k.up)
	go k.pipe(c, s, new(atomic.Int64))
}

// pipe copies src to dst until either ends or the link stalls; bytes read
// once it has stalled are kept, not passed.
func (k *stallLink) pipe(dst, src net.Conn, n *atomic.Int64) {
	buf := make([]byte, 32<<10)
	for {
		if k.isStalled() {
			return // src is no longer read: its sender's buffers fill
		}
		r, err := src.Read(buf)
		if r > 0 {
			if k.isStalled() {
				k.held.Add(1)
				return
			}
			w, werr := dst.Write(buf[:r])
			n.Add(int64(w))
			if werr != nil {
				src.Close()
				return
			}
		}
		if err != nil {
			dst.(*net.TCPConn).CloseWrite()
			return
		}
	}
}

// stalledUploads is an ftpx-server on a store behind a stallLink, with
// two uploads caught by the stall: ftpx put through clients (a plain
// forwarder the test may cut) and an SFTP upload.
type stalledUploads struct {
	d       *daemon
	store   *stallLink
	clients *stallLink // between ftpx and the daemon, never stalled
	s       *s3Setup   // for its view of the store, straight from MinIO
	put     *background
	sftpTCP net.Conn
	sftpErr chan error // the SFTP upload's end: its first failed write or close
}

// startStalledUploads starts the daemon and both uploads, stalls the
// store once both are under way, and returns when neither moves any more
// and the daemon has a store call hanging.
func startStalledUploads(t *testing.T) *stalledUploads {
	t.Helper()
	srv := miniotest.Shared(t)
	// The server inherits the credentials, never in argv, and dumps
	// every goroutine on SIGQUIT.
	for _, kv := range append(srv.Env(), "GOTRACEBACK=all") {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	mc, err := minio.New(srv.Addr, &minio.Options{Creds: credentials.NewStaticV4(miniotest.AccessKey, miniotest.SecretKey, "")})
	if err != nil {
		t.Fatal(err)
	}
	u := &stalledUploads{store: newStallLink(t, srv.Addr), sftpErr: make(chan error, 1)}
	u.s = &s3Setup{minio: srv, prefix: "stall-" + uuid.NewString()[:8], accounts: filepath.Join(t.TempDir(), "accounts.ini"), mc: mc}
	addUser(t, u.s.accounts, "alex", sftpPassword, "")
	u.d = startDaemonAt(t, "s3://"+s3Bucket+"/"+u.s.prefix, "127.0.0.1:0", u.s.accounts,
		"--s3-endpoint", "http://"+u.store.addr(), "--s3-part-size", "5MB", "--state-dir", t.TempDir(),
		"--sftp-listen", "127.0.0.1:0")
	t.Cleanup(u.store.end) // before the daemon's own clean-up: a store cut off fails at once
	f := u.d.sftpFront(t)
	u.clients = newStallLink(t, u.d.addr)

	// ftpx put of 96 MiB at 8 MB/s: 12 s, mid-transfer when the store stalls.
	work := t.TempDir()
	writeSeeded(t, filepath.Join(work, "big.bin"), 96*mib, seeded(t, 9101))
	env := []string{"FTPX_SERVER=" + u.clients.addr(), "FTPX_USER=alex", "FTPX_PASSWORD=" + sftpPassword}
	u.put = startFtpx(t, work, env, "--retries", "0", "--limit-rate", "8MB", "put", "big.bin")

	// SFTP: 64 MiB in 32 KiB writes, each acknowledged, about 8 MB/s.
	tcp, _, cl := goSFTP(t, f, "alex", sftpPassword)
	u.sftpTCP = tcp
	data := randomBytes(seeded(t, 9102), 64*mib)
	var acked atomic.Int64
	w, err := cl.OpenFile("/slow.bin", os.O_WRONLY|os.O_CREATE|os.O_TRUNC)
	if err != nil {
		t.Fatal(err)
	}
	go func() { u.sftpErr <- writeSlowly(w, data, &acked) }()

	waitUntil(t, 30*time.Second, "both uploads to be under way", func() bool {
		return u.clients.up.Load() >= 8*mib && acked.Load() >= 6*mib
	})
	u.store.stall()
	// Neither upload moves for a second, and the stall caught a store
	// call: the daemon waits on the store.
	last, since := [2]int64{}, time.Now()
	waitUntil(t, 20*time.Second, "both uploads to stall on the store", func() bool {
		now := [2]int64{u.clients.up.Load(), acked.Load()}
		if now != last {
			last, since = now, time.Now()
		}
		return time.Since(since) > time.Second && u.store.held.Load() > 0
	})
	select {
	case err := <-u.sftpErr:
		t.Fatalf("the SFTP upload ended before SIGTERM: %v", err)
	case <-u.put.done:
		t.Fatalf("ftpx put ended before SIGTERM: exit %d, %s", u.put.cmd.ProcessState.ExitCode(), u.put.err.String())
	default:
	}
	t.Logf("stalled with %d bytes of the put and %d of the SFTP upload sent", last[0], last[1])
	return u
}

// writeSlowly writes data to w in 32 KiB writes, about 8 MB/s, counting
// the bytes acknowledged, then closes w; it returns the first error.
func writeSlowly(w *sftp.File, data []byte, acked *atomic.Int64) error {
	const chunk = 32 << 10
	for off := 0; off < len(data); off += chunk {
		n, err := w.Write(data[off:min(off+chunk, len(data))])
		acked.Add(int64(n))
		if err != nil {
			return err
		}
		time.Sleep(4 * time.Millisecond)
	}
	return w.Close()
}

// sigterm signals the daemon and waits until it says it is shutting down.
func (u *stalledUploads) sigterm(t *testing.T) time.Time {
	t.Helper()
	sent := time.Now()
	u.d.cmd.Process.Signal(syscall.SIGTERM)
	waitUntil(t, 10*time.Second, "the server to begin its shutdown", func() bool { return strings.Contains(u.d.logText(), "shutting down") })
	return sent
}

// exitWithin waits for the daemon's exit, bound after SIGTERM (sent at
// sent). A daemon still running then is made to dump its goroutines
// (SIGQUIT, to its log) and the test fails with the dump, which shows
// the call it waits in.
func (u *stalledUploads) exitWithin(t *testing.T, sent time.Time, bound time.Duration) int {
	t.Helper()
	var dumped atomic.Bool
	timer := time.AfterFunc(time.Until(sent.Add(bound)), func() {
		dumped.Store(true)
		u.d.cmd.Process.Signal(syscall.SIGQUIT)
	})
	code, _ := u.d.waitExit(t, bound+30*time.Second)
	timer.Stop()
	took := time.Since(sent)
	if dumped.Load() {
		// The dump may still be on its way through the log's pipe.
		log, since := u.d.logText(), time.Now()
		for time.Since(since) < 500*time.Millisecond && time.Since(sent) < bound+30*time.Second {
			time.Sleep(50 * time.Millisecond)
			if now := u.d.logText(); now != log {
				log, since = now, time.Now()
			}
		}
		i := max(0, strings.Index(log, "SIGQUIT"))
		t.Fatalf("the server still ran %v after SIGTERM (store calls time out after %v, grace %v); its log:\n%s\nits goroutines in ftpx code:\n%s",
			bound, s3home.DefaultTimeout, server.DefaultGracePeriod, log[:i], ftpxGoroutines(log[i:]))
	}
	log := u.d.logText()
	t.Logf("the server exited %v after SIGTERM (bound %v), status %d; its log from the shutdown on:\n%s",
		took.Round(time.Millisecond), bound, code, fromLine(log, "shutting down"))
	return code
}

// fromLine is log from the start of the first line holding msg (all of
// it when none does).
func fromLine(log, msg string) string {
	i := strings.Index(log, msg)
	if i < 0 {
		return log
	}
	return log[strings.LastIndex(log[:i], "\n")+1:]
}

// ftpxGoroutines is the part of a goroutine dump that shows where ftpx
// code waits: the goroutines with a frame of ours, without the frames'
// addresses.
func ftpxGoroutines(dump string) string {
	var b strings.Builder
	for _, g := range strings.Split(dump, "\n\n") {
		if strings.Contains(g, "\nftpx/") || strings.Contains(g, "\nmain.") {
			b.WriteString(frameAddrs.ReplaceAllString(g, "") + "\n\n")
		}
	}
	return b.String()
}

var frameAddrs = regexp.MustCompile(` fp=0x[0-9a-f]+ sp=0x[0-9a-f]+ pc=0x[0-9a-f]+`)

// clientsFailed checks that neither upload succeeded, and that nothing
// is in the store under a name: MinIO listed directly, not through the
// stalled link.
func (u *stalledUploads) clientsFailed(t *testing.T) {
	t.Helper()
	if code := u.put.exited(t, 60*time.Second); code <= 0 {
		t.Errorf("ftpx put: exit %d, want an error status; stderr %q", code, u.put.err.String())
	} else {
		t.Logf("ftpx put: exit %d: %s", code, strings.TrimSpace(u.put.err.String()))
	}
	select {
	case err := <-u.sftpErr:
		if err == nil {
			t.Errorf("the SFTP upload succeeded through a stalled store")
		} else {
			t.Logf("SFTP upload: %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Errorf("the SFTP upload still runs 60 s after the server exited")
	}
	if got := u.s.stored(t); len(got) != 0 {
		t.Errorf("the store holds %v under alex's names; want nothing", got)
	}
}

// TestS3ShutdownOnStalledStoreEndsOnceClientsAreGone: the store stalls
// under an ftpx put and an SFTP upload, SIGTERM, and both clients'
// connections are cut. The server still tries to keep what arrived
// resumable (it saves each upload's state in the store), which the grace
// period allows (server.DefaultGracePeriod, 30 s); then its calls to the
// store are cut and it exits 0. The bound, the grace plus 10 s: a daemon
// that waits out the store's timeouts (30 s a call, several in a row)
// exits minutes later and fails.
func TestS3ShutdownOnStalledStoreEndsOnceClientsAreGone(t *testing.T) {
	bound := server.DefaultGracePeriod + 10*time.Second
	u := startStalledUploads(t)
	sent := u.sigterm(t)
	u.clients.end()
	u.sftpTCP.Close()
	if code := u.exitWithin(t, sent, bound); code != 0 {
		t.Errorf("exit %d after SIGTERM, want 0:\n%s", code, lastLogLines(u.d, 20))
	}
	u.clientsFailed(t)
}

// TestS3ShutdownOnStalledStoreEndsWithTheGracePeriod: the store stalls
// under an ftpx put and an SFTP upload, SIGTERM, and the clients stay.
// Their transfers are running, so the daemon may use its grace period
// (server.DefaultGracePeriod, 30 s); then it closes them and exits 0
// without a store call's timeout on top. The bound, the grace plus 10 s:
// a daemon that waits out one more store call once the grace is over
// (saving or aborting an upload: 30 s each) exits 60 s or more after
// SIGTERM and fails.
func TestS3ShutdownOnStalledStoreEndsWithTheGracePeriod(t *testing.T) {
	bound := server.DefaultGracePeriod + 10*time.Second
	u := startStalledUploads(t)
	sent := u.sigterm(t)
	if code := u.exitWithin(t, sent, bound); code != 0 {
		t.Errorf("exit %d after SIGTERM, want 0:\n%s", code, lastLogLines(u.d, 20))
	}
	u.clientsFailed(t)
}

// TestS3StalledStoreAtLoginAnswers287Soon: with the store frozen (it keeps
// connections open and answers nothing), a login answers 287 within
// s3home.ProbeTimeout (5 s), not after a transfer's 30 s store timeout, and
// ftpx exits 3.
func TestS3StalledStoreAtLoginAnswers287Soon(t *testing.T) {
	srv := miniotest.Shared(t)
	srv.SetEnv(t)
	store := newStallLink(t, srv.Addr)
	accounts := filepath.Join(t.TempDir(), "accounts.ini")
	addUser(t, accounts, "alex", "pw", "")
	d := startDaemonAt(t, "s3://"+s3Bucket+"/frozen-"+uuid.NewString()[:8], "127.0.0.1:0", accounts,
		"--s3-endpoint", "http://"+store.addr(), "--state-dir", t.TempDir())
	t.Cleanup(store.end)
	env := []string{"FTPX_SERVER=" + d.addr, "FTPX_USER=alex", "FTPX_PASSWORD=pw"}
	work := t.TempDir()
	store.stall()
	t0 := time.Now()
	_, errOut, code := ftpx(t, work, env, "--retries", "0", "ls")
	took := time.Since(t0)
	t.Logf("ls with the store frozen: exit %d after %v: %s", code, took.Round(time.Millisecond), strings.TrimSpace(errOut))
	if code != 3 || !strings.Contains(errOut, "287") {
		t.Errorf("ls with the store frozen: exit %d %q, want 3 and 287", code, errOut)
	}
	if took > 15*time.Second {
		t.Errorf("ls with the store frozen took %v; the login's store call is bounded by %v", took, s3home.ProbeTimeout)
	}
}
