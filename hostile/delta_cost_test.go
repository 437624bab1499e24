package hostile

import (
	"fmt"
	"ftpx/internal/cputime"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"ftpx/ftpxtest"
	"ftpx/protocol"
	"ftpx/server"
)

// What a delta get costs the server: the CPU of searching a file for a
// signature built to be slow, and the memory of many sessions each
// holding the largest signature.

// zeros puts a sparse file of n zero bytes at name in dir.
func zeros(t testing.TB, dir, name string, n int64) {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(p, n); err != nil {
		t.Fatal(err)
	}
}

// TestDeltaGetHostileSignatureCPU: a signature whose weak sums are all
// equal to that of every window of the file (zeros) and whose strong sums
// never match would cost a lookup among 2^18 blocks and a block's strong
// sum at every byte. internal/delta caps what such false alarms cost: the
// get takes at most a few times the CPU of one against a signature that
// matches nothing. The CPU time is the whole process's (server and raw
// client) from getrusage.
func TestDeltaGetHostileSignatureCPU(t *testing.T) {
	const size = 64 << 20
	a := newDeltaArena(t)
	zeros(t, a.home, "zeros.bin", size)
	d := protocol.Delta{Block: 1024, Blocks: protocol.MaxDeltaBlocks, BasisSize: protocol.MaxDeltaBlocks * 1024}
	r := rand.New(rand.NewPCG(9, 9))
	equal := sigBody(d.Blocks, func(int) uint32 { return 0 }, func(int) uint64 { return r.Uint64() }) // a window of zeros sums to 0
	random := randomSums(d.Blocks, 2)
	rc := login(t, a.ts, attacker, attackerPW, a.g)

	measure := func(name string, get func() error) time.Duration {
		t.Helper()
		runtime.GC()
		cpu, wall := cputime.Self(), time.Now()
		if err := get(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		used := cputime.Self() - cpu
		t.Logf("%s: %.2f s of CPU, %.2f s wall", name, used.Seconds(), time.Since(wall).Seconds())
		return used
	}
	plain := measure("a plain get of 64 MiB", func() error {
		resp, err := rc.do(obj("action", "get", "filename", "zeros.bin"))
		if err != nil || resp.Status != protocol.StatusReadyToSend {
			return fmt.Errorf("%+v %v", resp, err)
		}
		rc.c.SetReadDeadline(time.Now().Add(time.Minute))
		if _, err := io.CopyN(io.Discard, rc.r, size); err != nil {
			return err
		}
		if resp.MD5 == "" {
			_, _, err = rc.read()
		}
		return err
	})
	deltaGet := func(sums []byte) func() error {
		return func() error {
			rc.write(append(frame(getDeltaHeader("zeros.bin", d)), sums...))
			ready, _, err := rc.read()
			if err != nil || ready.Status != protocol.StatusReadyToSend || ready.Delta == nil {
				return fmt.Errorf("%+v %v", ready, err)
			}
			ans, err := rc.readDelta(ready, d)
			if err == nil && ans.built != size {
				err = fmt.Errorf("the delta built %d bytes, want %d", ans.built, size)
			}
			return err
		}
	}
	benign := measure("a delta get of 64 MiB against 2^18 random sums", deltaGet(random))
	hostile := measure("a delta get of 64 MiB against 2^18 equal weak sums", deltaGet(equal))
	t.Logf("CPU: hostile %.1fx the benign delta, %.1fx the plain get", hostile.Seconds()/benign.Seconds(), hostile.Seconds()/max(plain.Seconds(), 0.01))
	if hostile > 10*benign+time.Second {
		t.Errorf("the hostile signature cost %v of CPU, the benign one %v: over 10x", hostile, benign)
	}
	inSync(t, rc)
	roundTrip(t, a.ts, neighbour, neighbourPW, "neighbour.txt")
}

// TestDeltaGetSignatureMemory: many sessions each send a get with the
// largest signature (3 MiB) and then read nothing, so that each holds its
// signature and its search's buffers while the server waits to write.
// The server's heap grows by a bounded amount per session, and comes back
// once they are gone.
func TestDeltaGetSignatureMemory(t *testing.T) {
	const sessions = 16
	a := newDeltaArena(t, func(s *server.Server) { s.TransferTimeout = time.Minute })
	zeros(t, a.home, "zeros.bin", 64<<20)
	for _, tc := range []struct {
		name string
		d    protocol.Delta
	}{
		{"2^18 sums of 1 KiB blocks", protocol.Delta{Block: 1024, Blocks: protocol.MaxDeltaBlocks, BasisSize: protocol.MaxDeltaBlocks * 1024}},
		{"2^18 sums of 16 MiB blocks", protocol.Delta{Block: protocol.MaxDeltaBlock, Blocks: protocol.MaxDeltaBlocks, BasisSize: protocol.MaxDeltaBlocks * protocol.MaxDeltaBlock}},
		{"one sum of a 16 MiB block", protocol.Delta{Block: protocol.MaxDeltaBlock, Blocks: 1, BasisSize: protocol.MaxDeltaBlock}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg := append(frame(getDeltaHeader("zeros.bin", tc.d)), randomSums(tc.d.Blocks, 3)...)
			heapGrowth(t, a.ts, sessions, func(rc *rawConn) error { return rc.write(msg) })
		})
	}
	// The header of the largest signature, and then nothing: what the
	// server sets aside for the sums before they come.
	t.Run("2^18 sums announced, none sent", func(t *testing.T) {
		d := protocol.Delta{Block: 1024, Blocks: protocol.MaxDeltaBlocks, BasisSize: protocol.MaxDeltaBlocks * 1024}
		heapGrowth(t, a.ts, sessions, func(rc *rawConn) error { return rc.send(getDeltaHeader("zeros.bin", d)) })
	})
}

// heapGrowth opens n sessions, runs hold on each, and measures how much
// the heap (HeapInuse) and the resident set grew while they are held,
// per session; it asserts a bound per session on the heap, and that the
// heap comes back once they are closed. The resident set is only logged:
// it keeps what earlier cases freed, and under -race it holds the
// detector's shadow memory too.
func heapGrowth(t *testing.T, ts *ftpxtest.Server, n int, hold func(rc *rawConn) error) {
	t.Helper()
	const perSession = 16 << 20
	mb := func(b int64) float64 { return float64(b) / (1 << 20) }
	heap := func() int64 {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return int64(ms.HeapInuse)
	}
	runtime.GC()
	baseHeap, baseRSS := heap(), vmRSS()
	closed := strings.Count(ts.Log(), `msg="connection closed"`)
	conns := make([]*rawConn, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rc, err := loginE(ts.Addr, attacker, attackerPW, nil)
			if err == nil {
				conns[i] = rc
				err = hold(rc)
			}
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("session: %v", err)
	}
	// The heap is sampled for three seconds: every session has read what
	// it holds and is blocked writing by then.
	var peakHeap, peakRSS int64
	for range 30 {
		peakHeap, peakRSS = max(peakHeap, heap()), max(peakRSS, vmRSS())
		time.Sleep(100 * time.Millisecond)
	}
	runtime.GC()
	held := heap()
	for _, rc := range conns {
		rc.Close()
	}
	growth := max(peakHeap, held) - baseHeap
	t.Logf("%d sessions: HeapInuse %.1f MB -> peak %.1f MB, %.1f MB after a GC with all held (%.1f MB per session); VmRSS %.1f MB -> peak %.1f MB (%.1f MB per session)",
		n, mb(baseHeap), mb(peakHeap), mb(held), mb(growth)/float64(n), mb(baseRSS), mb(peakRSS), mb(peakRSS-baseRSS)/float64(n))
	if growth > int64(n)*perSession {
		t.Errorf("the heap grew by %.1f MB per session, over %.0f MB", mb(growth)/float64(n), mb(perSession))
	}
	if !waitFor(20*time.Second, func() bool { return strings.Count(ts.Log(), `msg="connection closed"`)-closed >= n }) {
		t.Errorf("the server did not end the %d sessions", n)
	}
	var after int64
	if !waitFor(10*time.Second, func() bool { runtime.GC(); after = heap(); return after < baseHeap+16<<20 }) {
		t.Errorf("the heap did not come back: %.1f MB, baseline %.1f MB", mb(after), mb(baseHeap))
	}
	roundTrip(t, ts, neighbour, neighbourPW, "neighbour.txt")
}
