package hostile

import (
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"ftpx/ftpxtest"
	"ftpx/protocol"
)

// committedBytes sums the regular files of a home outside the partial
// directory: what is in place under names.
func committedBytes(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() && d.Name() == ".ftpx-partial" {
			return filepath.SkipDir
		}
		if d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// TestQuotaUnderRace runs 30 puts of one user over 10 connections at once,
// half of random sizes, some cut in the middle of the body (with and
// without transfer ids), many of them replacing each other's files. The
// bytes in place never pass the quota (sampled on disk all along, and the
// server's own "used" too); at the end the home's usage on disk equals
// what the quota action reports, and every file in place is exactly one
// of the bodies that got 258 under its name.
func TestQuotaUnderRace(t *testing.T) {
	const (
		user, pw = "racer", "pw-racer"
		limit    = 2 << 20
		workers  = 10
		perConn  = 3
		names    = 12
	)
	ts := ftpxtest.NewServer(t)
	ts.AddUser(t, user, pw, limit)
	home := ts.Home(user)
	var conns atomic.Int64 // connections opened as the user, to know when the server has seen them all close
	connect := func() (*rawConn, error) {
		rc, err := loginE(ts.Addr, user, pw, nil)
		if err == nil {
			conns.Add(1)
		}
		return rc, err
	}

	type putPlan struct {
		name     string
		body     []byte
		cut      bool
		transfer string
	}
	plans := make([]putPlan, workers*perConn)
	for i := range plans {
		r := rand.New(rand.NewPCG(20261123, uint64(i)))
		size := 500_000
		if i%2 == 0 {
			size = 1 + r.IntN(700_000)
		}
		body := make([]byte, size)
		for j := range body {
			body[j] = byte(r.Uint32())
		}
		p := putPlan{name: fmt.Sprintf("f%02d.bin", i%names), body: body}
		switch i % 5 {
		case 3:
			p.cut = true
		case 4:
			p.cut = true
			p.transfer = fmt.Sprintf("00000abc-0000-4000-8000-%012x", i)
		}
		plans[i] = p
	}

	// The monitor samples the bytes in place and the server's "used".
	mon, err := connect()
	if err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	var overDisk, overUsed, maxDisk, samples int64
	monDone := make(chan struct{})
	go func() {
		defer close(monDone)
		for !stop.Load() {
			samples++
			// A walk is not atomic: a file replaced by a smaller one after
			// the walk passed it and another grown into the freed space
			// before the walk reaches it would add up two moments. Only a
			// second walk over the limit right after counts.
			if n := committedBytes(home); n > limit {
				if m := committedBytes(home); m > limit {
					overDisk = max(overDisk, min(n, m)-limit)
				}
			} else {
				maxDisk = max(maxDisk, n)
			}
			resp, err := mon.do(obj("action", "quota"))
			if err == nil && resp.Used != nil && *resp.Used > limit {
				overUsed = max(overUsed, *resp.Used-limit)
			}
		}
	}()

	var mu sync.Mutex
	results := map[string][]string{}
	okSums := map[string]map[string]bool{} // name -> md5s of bodies stored with 258
	overQuota := 0
	var wg sync.WaitGroup
	errs := make(chan error, len(plans))
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var rc *rawConn
			defer func() {
				if rc != nil {
					rc.Close()
				}
			}()
			for k := range perConn {
				p := plans[w*perConn+k]
				if rc == nil {
					var err error
					if rc, err = connect(); err != nil {
						errs <- err
						return
					}
				}
				kv := []any{"action", "put", "filename", p.name, "size", len(p.body)}
				if p.transfer != "" {
					kv = append(kv, "transfer", p.transfer)
				}
				first, err := rc.do(obj(kv...))
				if err != nil {
					errs <- err
					return
				}
				st := first.Status
				if st == protocol.StatusReadyToSend {
					if p.cut {
						rc.write(p.body[:len(p.body)/2])
						rc.Close()
						rc = nil
						st = 0 // cut
					} else {
						// In chunks, so that the uploads interleave.
						for off := 0; off < len(p.body); off += 64 << 10 {
							rc.write(p.body[off:min(off+64<<10, len(p.body))])
						}
						rc.send(obj("md5", md5hex(p.body)))
						last, _, err := rc.read()
						if err != nil {
							errs <- err
							return
						}
						st = last.Status
					}
				}
				mu.Lock()
				switch {
				case st != 0:
					results[p.name] = append(results[p.name], fmt.Sprint(int(st)))
				case p.transfer != "":
					results[p.name] = append(results[p.name], "cut+held")
				default:
					results[p.name] = append(results[p.name], "cut")
				}
				switch st {
				case protocol.StatusQuota:
					overQuota++
				case protocol.StatusMD5OK:
					if okSums[p.name] == nil {
						okSums[p.name] = map[string]bool{}
					}
					okSums[p.name][md5hex(p.body)] = true
				case 0, protocol.StatusReadyToSend:
				default:
					errs <- fmt.Errorf("put %s (%d bytes): %d", p.name, len(p.body), st)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	stop.Store(true)
	<-monDone
	mon.Close()
	close(errs)
	for err := range errs {
		t.Errorf("racer: %v", err)
	}

	// Wait until the server has seen every connection of the user close
	// (the cut puts end with Abort or Suspend then).
	if !waitFor(20*time.Second, func() bool {
		n := 0
		for _, l := range strings.Split(ts.Log(), "\n") {
			if strings.Contains(l, `msg="connection closed"`) && strings.Contains(l, "user="+user) {
				n++
			}
		}
		return int64(n) == conns.Load()
	}) {
		t.Fatalf("the server has not closed all %d connections", conns.Load())
	}
	rc, err := connect()
	if err != nil {
		t.Fatal(err)
	}
	resp, err := rc.do(obj("action", "quota"))
	if err != nil || resp.Used == nil {
		t.Fatalf("quota: %+v %v", resp, err)
	}
	used, disk, committed := *resp.Used, homeUsage(t, home), committedBytes(home)
	if used != disk {
		t.Errorf("quota says %d bytes used, the home holds %d (regular files, partial data included, *.state excluded)", used, disk)
	}
	if committed > limit || used > limit {
		t.Errorf("at the end: %d bytes in place, %d used, limit %d", committed, used, limit)
	}
	if overDisk > 0 || overUsed > 0 {
		t.Errorf("during the race: %d bytes in place over the quota, the server's used %d bytes over", overDisk, overUsed)
	}
	// Every file in place is one whole body that was acknowledged.
	ents, _ := os.ReadDir(home)
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		b, _ := os.ReadFile(filepath.Join(home, e.Name()))
		if !okSums[e.Name()][md5hex(b)] {
			t.Errorf("%s: %d bytes in place that no acknowledged put sent", e.Name(), len(b))
		}
	}
	rc.Close()
	if len(okSums) == 0 {
		t.Errorf("no put succeeded: the race tested nothing")
	}
	t.Logf("quota race: answers by name %v", results)
	t.Logf("quota race: %d disk samples, most in place %d of %d; at the end %d in place, %d used (= %d on disk, partials included)",
		samples, maxDisk, limit, committed, used, disk)
	t.Logf("concurrent over-quota attempts: %d, bytes over quota: %d", overQuota, max(overDisk, overUsed))
}
