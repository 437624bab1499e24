package e2e

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// seeded returns the test's random source, logging its seed so a failure
// can be replayed.
func seeded(t *testing.T, seed uint64) *rand.Rand {
	t.Logf("random seed %d", seed)
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// writeSeeded writes n bytes drawn from r to path and returns their MD5.
func writeSeeded(t *testing.T, path string, n int64, r *rand.Rand) string {
	t.Helper()
	var key [32]byte
	for i := range key {
		key[i] = byte(r.Uint32())
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := md5.New()
	if _, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(rand.NewChaCha8(key), n)); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// background is an ftpx process the test may kill.
type background struct {
	cmd      *exec.Cmd
	out, err bytes.Buffer
	done     chan struct{}
	started  time.Time
}

// startFtpx starts the client like ftpx does (same directory, same state
// directory), without waiting for it.
func startFtpx(t *testing.T, dir string, env []string, args ...string) *background {
	t.Helper()
	b := &background{done: make(chan struct{}), started: time.Now()}
	b.cmd = exec.Command(filepath.Join(binDir, "ftpx"), args...)
	b.cmd.Dir = dir
	b.cmd.Env = append(append(os.Environ(), "FTPX_STATE_DIR="+filepath.Join(dir, ".state")), env...)
	b.cmd.Stdout, b.cmd.Stderr = &b.out, &b.err
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { b.cmd.Wait(); close(b.done) }()
	t.Cleanup(b.kill)
	return b
}

// kill sends SIGKILL and waits for the process to be gone.
func (b *background) kill() {
	b.cmd.Process.Kill()
	<-b.done
}

// exited waits up to d for the process to end and returns its status.
func (b *background) exited(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case <-b.done:
		return b.cmd.ProcessState.ExitCode()
	case <-time.After(d):
		t.Fatalf("ftpx %q still running after %v", b.cmd.Args[1:], d)
		return -1
	}
}

// waitUntil polls cond every few milliseconds for up to d.
func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// heldOnServer is the size of the data the server holds in user's
// interrupted uploads (its partials, not their saved states).
func heldOnServer(root, user string) int64 {
	entries, _ := os.ReadDir(filepath.Join(root, user, ".ftpx-partial"))
	var n int64
	for _, e := range entries {
		if fi, err := e.Info(); err == nil && fi.Mode().IsRegular() && !strings.Contains(e.Name(), ".") {
			n += fi.Size()
		}
	}
	return n
}

// localPartial returns the size and mtime of the partial file of a get to
// dir/name (0 when there is none).
func localPartial(dir, name string) (int64, time.Time) {
	matches, _ := filepath.Glob(filepath.Join(dir, "."+name+".ftpx-part-*"))
	for _, m := range matches {
		if fi, err := os.Stat(m); err == nil {
			return fi.Size(), fi.ModTime()
		}
	}
	return 0, time.Time{}
}

// stateRecords returns the resume records under dir's state directory.
func stateRecords(t *testing.T, dir string) []map[string]any {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, ".state", "*.json"))
	var recs []map[string]any
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var r map[string]any
		if json.Unmarshal(b, &r) == nil {
			recs = append(recs, r)
		}
	}
	return recs
}

// recordOffset is the offset of the resume record of a transfer in that
// direction under dir (-1 if there is none).
func recordOffset(t *testing.T, dir, direction string) int64 {
	for _, r := range stateRecords(t, dir) {
		if r["direction"] == direction {
			off, _ := r["offset"].(float64)
			return int64(off)
		}
	}
	return -1
}

// result is one line of "ftpx --json" for a transfer.
type result struct {
	Action, Local, Remote, MD5 string
	Size, Offset, Sent         int64
	Skipped                    bool // sync: the destination had the file
}

func parseResults(t *testing.T, out string) []result {
	t.Helper()
	var rs []result
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var r result
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("--json line %q: %v", line, err)
		}
		rs = append(rs, r)
	}
	return rs
}

// onlyResult parses the one --json line of a single transfer.
func onlyResult(t *testing.T, out string) result {
	t.Helper()
	rs := parseResults(t, out)
	if len(rs) != 1 {
		t.Fatalf("want one --json line, got %q", out)
	}
	return rs[0]
}

// watchFinalName lists dir until the returned stop is called and reports
// (t.Errorf) any moment when a file named name is there with other than
// size bytes and the MD5 sum: an incomplete file under its final name.
// stop returns how many listings were made.
func watchFinalName(t *testing.T, dir, name string, size int64, sum string) (stop func() int) {
	var (
		quit     = make(chan struct{})
		wg       sync.WaitGroup
		listings atomic.Int64
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		var checked time.Time // mtime of the last file whose MD5 was verified
		for {
			select {
			case <-quit:
				return
			default:
			}
			entries, _ := os.ReadDir(dir)
			listings.Add(1)
			for _, e := range entries {
				if e.Name() != name {
					continue
				}
				fi, err := e.Info()
				if err != nil {
					continue // renamed away between listing and stat
				}
				if fi.Size() != size {
					t.Errorf("%s appeared with %d bytes, want %d", name, fi.Size(), size)
					return
				}
				if !fi.ModTime().Equal(checked) {
					if got := md5Of(filepath.Join(dir, name)); got != "" && got != sum {
						t.Errorf("%s appeared with md5 %s, want %s", name, got, sum)
						return
					}
					checked = fi.ModTime()
				}
			}
			time.Sleep(time.Millisecond)
		}
	}()
	return func() int {
		close(quit)
		wg.Wait()
		return int(listings.Load())
	}
}

func md5Of(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	h := md5.New()
	if _, err := io.Copy(h, f); err != nil {
		return ""
	}
	return hex.EncodeToString(h.Sum(nil))
}

// cutProxy forwards connections to target and cuts each of the first
// len(plan) of them (both sides) once plan[i] bytes have gone through it
// in the transfer's direction: client to server for a put, server to
// client for a get. Later connections pass untouched. It counts every
// byte it forwards in that direction.
type cutProxy struct {
	l      net.Listener
	target string
	upload bool

	mu      sync.Mutex
	plan    []int64
	conns   int
	cuts    int
	counted atomic.Int64
	wg      sync.WaitGroup
}

func newCutProxy(t *testing.T, target string, upload bool, plan []int64) *cutProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{l: l, target: target, upload: upload, plan: plan}
	p.wg.Add(1)
	go p.serve()
	return p
}

func (p *cutProxy) addr() string { return p.l.Addr().String() }

// close stops accepting and waits for the connections to end.
func (p *cutProxy) close() {
	p.l.Close()
	p.wg.Wait()
}

func (p *cutProxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		limit := int64(-1)
		if len(p.plan) > 0 {
			limit, p.plan = p.plan[0], p.plan[1:]
		}
		p.conns++
		p.mu.Unlock()
		p.wg.Add(1)
		go p.pipe(c, limit)
	}
}

// pipe forwards one connection; a negative limit never cuts.
func (p *cutProxy) pipe(client net.Conn, limit int64) {
	defer p.wg.Done()
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		client.Close()
		return
	}
	var once sync.Once
	cut := func() { once.Do(func() { client.Close(); server.Close() }) }
	src, dst := server, client
	if p.upload {
		src, dst = client, server
	}
	var inner sync.WaitGroup
	inner.Add(1)
	go func() { // the other direction, untouched
		defer inner.Done()
		io.Copy(src, dst)
		cut()
	}()
	buf := make([]byte, 32<<10)
	var sent int64
	for {
		n, rerr := src.Read(buf)
		if limit >= 0 && sent+int64(n) >= limit {
			n = int(limit - sent)
			rerr = io.EOF
			p.mu.Lock()
			p.cuts++
			p.mu.Unlock()
		}
		if n > 0 {
			w, werr := dst.Write(buf[:n])
			sent += int64(w)
			p.counted.Add(int64(w))
			if werr != nil {
				break
			}
		}
		if rerr != nil {
			break
		}
	}
	cut()
	inner.Wait()
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
