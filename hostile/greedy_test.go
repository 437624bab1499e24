package hostile

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"ftpx/protocol"
	"ftpx/server"
)

// loopback returns the i-th loopback host byte to dial from, spreading
// connections over 127.0.0.10 .. 127.0.0.(10+n-1) so that the per-address
// connection limit stays out of tests about the global one.
func loopback(i, n int) byte { return byte(10 + i%n) }

// TestIdleAndSlowDripTimeout: a connection that sends nothing, and ones
// that drip a header one byte every 100 ms, are answered 275 and closed by
// the idle timeout (1 s); the neighbour is served meanwhile.
func TestIdleAndSlowDripTimeout(t *testing.T) {
	a := newArena(t, func(s *server.Server) { s.IdleTimeout = time.Second })
	idle := dial(t, a.ts.Addr, a.g)
	idleAuthed := login(t, a.ts, attacker, attackerPW, a.g)

	// A header of 200 bytes at 10 bytes a second would take 20 s.
	hdr := frame(padTo(200, `{"action":"pwd",`, `}`))
	drips := []struct {
		name string
		rc   *rawConn
		b    []byte
	}{
		{"slow-drip header", dial(t, a.ts.Addr, a.g), hdr},
		{"slow-drip header after auth", login(t, a.ts, attacker, attackerPW, a.g), hdr},
		{"slow-drip length prefix", dial(t, a.ts.Addr, a.g), prefix(200)},
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, d := range drips {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range d.b {
				select {
				case <-stop:
					return
				case <-time.After(100 * time.Millisecond):
				}
				if d.rc.write(d.b[i:i+1]) != nil {
					return // closed by the server
				}
			}
		}()
	}
	roundTrip(t, a.ts, neighbour, neighbourPW, "during-drip.txt")
	for _, c := range append([]struct {
		name string
		rc   *rawConn
		b    []byte
	}{{"idle", idle, nil}, {"idle after auth", idleAuthed, nil}}, drips...) {
		resp, _, err := c.rc.read()
		if err != nil || resp.Status != protocol.StatusTimeout {
			t.Errorf("%s: %d %s %v, want 275", c.name, resp.Status, resp.Msg, err)
		}
		if !c.rc.closedByServer(5 * time.Second) {
			t.Errorf("%s: left open after 275", c.name)
		}
	}
	close(stop)
	wg.Wait()
	roundTrip(t, a.ts, neighbour, neighbourPW, "after-drip.txt")
	a.escapes(t, "idle and slow drip")
}

// TestConnectionFlood opens 300 raw connections at once with MaxConns
// 256: the first 256 are greeted, the others get 270 and are closed. A
// normal client is refused while the server is full and served as soon as
// some of the flood goes away.
func TestConnectionFlood(t *testing.T) {
	a := newArena(t, func(s *server.Server) { s.MaxConns = 256 })
	var flood []*rawConn
	defer func() {
		for _, rc := range flood {
			rc.Close()
		}
	}()
	counts := map[protocol.Status]int{}
	var refused []*rawConn
	for i := range 300 {
		rc, err := dialFrom(a.ts.Addr, loopback(i, 10), nil)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		flood = append(flood, rc)
		counts[rc.hi.Status]++
		if rc.hi.Status == protocol.StatusTooManyConns {
			refused = append(refused, rc)
		}
	}
	if counts[protocol.StatusReady] != 256 || counts[protocol.StatusTooManyConns] != 44 {
		t.Errorf("300 connections with MaxConns 256: %v, want 256 greeted and 44 refused with 270", counts)
	}
	for i, rc := range refused {
		if !rc.closedByServer(5 * time.Second) {
			t.Errorf("refused connection %d left open", i)
		}
	}
	full, err := loginE(a.ts.Addr, neighbour, neighbourPW, nil)
	if err == nil {
		full.Close()
	}
	t.Logf("a normal client while 256 connections are open: %v", err)

	// Half of the flood goes away; the server notices and serves again.
	for _, rc := range flood[:150] {
		rc.Close()
	}
	if !waitFor(15*time.Second, func() bool {
		rc, err := loginE(a.ts.Addr, neighbour, neighbourPW, nil)
		if err != nil {
			return false
		}
		rc.Close()
		return true
	}) {
		t.Fatalf("a normal client is not served after the flood thinned out")
	}
	roundTrip(t, a.ts, neighbour, neighbourPW, "after-flood.txt")
	t.Logf("connection flood: 300 opened, %d greeted, %d refused with 270", counts[protocol.StatusReady], counts[protocol.StatusTooManyConns])
}

// openFDs counts this process's open file descriptors.
func openFDs(t testing.TB) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	return len(ents)
}

// vmRSS returns this process's resident set size in bytes (0 if unknown).
func vmRSS() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// TestAbusiveConnectionsLeakNothing runs 1000 abusive connections
// (garbage, half frames, oversized prefixes, cut puts, unread gets, ...)
// and checks that the goroutines and open file descriptors come back to
// their baseline once they are gone.
func TestAbusiveConnectionsLeakNothing(t *testing.T) {
	a := newArena(t, func(s *server.Server) { s.TransferTimeout = 2 * time.Second })
	mustWrite(t, a.home+"/big.bin", strings.Repeat("b", 4<<20))
	roundTrip(t, a.ts, neighbour, neighbourPW, "warm-up.txt") // pools, janitor
	runtime.GC()
	baseG, baseFD := runtime.NumGoroutine(), openFDs(t)

	abuses := []func(rc *rawConn) error{
		func(rc *rawConn) error { return rc.write([]byte("\x00\x00garbage garbage garbage")) },
		func(rc *rawConn) error { return rc.write([]byte{0, 0}) },
		func(rc *rawConn) error { return rc.write(append(prefix(100), `{"action":"pwd"`...)) },
		func(rc *rawConn) error { return rc.write(prefix(1<<32 - 1)) },
		func(rc *rawConn) error { return rc.write(prefix(0)) },
		func(rc *rawConn) error { return nil }, // greeting only
		func(rc *rawConn) error { return rc.write(frame([]byte("{not json"))) },
		func(rc *rawConn) error { return rc.write([]byte("GET / HTTP/1.1\r\n\r\n")) },
		func(rc *rawConn) error { // a put cut in the middle of its body
			if _, err := rc.do(obj("action", "auth", "username", attacker, "password", attackerPW)); err != nil {
				return err
			}
			if _, err := rc.do(obj("action", "put", "filename", "cut.bin", "size", 100000)); err != nil {
				return err
			}
			return rc.write(bytes.Repeat([]byte("c"), 5000))
		},
		func(rc *rawConn) error { // a get never read
			if _, err := rc.do(obj("action", "auth", "username", attacker, "password", attackerPW)); err != nil {
				return err
			}
			return rc.send(obj("action", "get", "filename", "big.bin"))
		},
	}
	const total, workers = 1000, 25
	var wg sync.WaitGroup
	errs := make(chan error, total)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < total; i += workers {
				rc, err := dialFrom(a.ts.Addr, loopback(w, 20), nil)
				if err != nil {
					errs <- err
					continue
				}
				if err := abuses[i%len(abuses)](rc); err != nil {
					errs <- fmt.Errorf("abuse %d: %w", i%len(abuses), err)
				}
				rc.Close()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("abusive client: %v", err)
	}
	const tolerance = 5
	var g, fds int
	settled := waitFor(20*time.Second, func() bool {
		runtime.GC()
		g, fds = runtime.NumGoroutine(), openFDs(t)
		return g <= baseG+tolerance && fds <= baseFD+tolerance
	})
	t.Logf("1000 abusive connections: goroutines %d -> %d, open fds %d -> %d", baseG, g, baseFD, fds)
	if !settled {
		buf := make([]byte, 1<<20)
		t.Errorf("goroutines or fds did not come back to baseline (+%d):\n%s", tolerance, buf[:runtime.Stack(buf, true)])
	}
	if n := panics(a.ts); n > 0 {
		t.Errorf("%d handler panics", n)
	}
	roundTrip(t, a.ts, neighbour, neighbourPW, "after-abuse.txt")
	a.escapes(t, "abusive connections")
}

// TestSlowDripMemory holds 1000 connections that drip a header one byte
// every 100 ms and logs the server's (this process's) peak memory; it
// asserts only a generous bound.
func TestSlowDripMemory(t *testing.T) {
	a := newArena(t, func(s *server.Server) {
		s.MaxConns = 1100
		s.IdleTimeout = time.Minute
	})
	const n = 1000
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	baseHeap, baseRSS := ms.HeapInuse, vmRSS()

	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := range n {
		d := net.Dialer{Timeout: ioTimeout, LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, loopback(i, 25))}}
		c, err := d.Dial("tcp", a.ts.Addr)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		conns = append(conns, c)
	}
	hdr := frame(padTo(200, `{"action":"pwd",`, `}`))
	var peakHeap uint64
	var peakRSS int64
	for i := range 20 { // 2 s of dripping: 20 bytes of a 204-byte frame each
		for _, c := range conns {
			c.SetWriteDeadline(time.Now().Add(ioTimeout))
			if _, err := c.Write(hdr[i : i+1]); err != nil {
				t.Fatalf("drip: %v", err)
			}
		}
		runtime.ReadMemStats(&ms)
		peakHeap = max(peakHeap, ms.HeapInuse)
		peakRSS = max(peakRSS, vmRSS())
		time.Sleep(100 * time.Millisecond)
	}
	// Every connection is still open and waiting: a request now completes.
	c := conns[0]
	c.SetDeadline(time.Now().Add(ioTimeout))
	if _, err := c.Write(hdr[20:]); err != nil {
		t.Fatal(err)
	}
	rc := &rawConn{c: c, r: bufio.NewReader(c)}
	if hi, _, err := rc.read(); err != nil || hi.Status != protocol.StatusReady {
		t.Fatalf("greeting: %+v %v", hi, err)
	}
	if resp, _, err := rc.read(); err != nil || resp.Status != protocol.StatusNotLoggedIn {
		t.Fatalf("the dripped pwd (before auth): %+v %v, want 262", resp, err)
	}
	roundTrip(t, a.ts, neighbour, neighbourPW, "during-drip.txt")
	mb := func(b int64) float64 { return float64(b) / (1 << 20) }
	t.Logf("slow drip: %d connections, peak HeapInuse %.1f MB (baseline %.1f MB), peak VmRSS %.1f MB (baseline %.1f MB)",
		n, mb(int64(peakHeap)), mb(int64(baseHeap)), mb(peakRSS), mb(baseRSS))
	if grow := int64(peakHeap) - int64(baseHeap); grow > 200<<20 {
		t.Errorf("1000 slow-drip connections grew the heap by %.1f MB, over 200 MB", mb(grow))
	}
}
