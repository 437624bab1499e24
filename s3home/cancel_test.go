package s3home_test

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"ftpx/home"
	"ftpx/s3home"
)

// stallingTransport passes requests to the store until frozen; then it
// holds each one until its context ends, as a store that stopped
// answering does.
type stallingTransport struct {
	next   http.RoundTripper
	frozen atomic.Bool
	held   atomic.Int64 // requests held
}

func (s *stallingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if s.frozen.Load() {
		s.held.Add(1)
		<-r.Context().Done()
		return nil, r.Context().Err()
	}
	return s.next.RoundTrip(r)
}

// TestUploadEndsWithItsSession: an upload into a store that stopped
// answering gives up as soon as its session's context is done (the
// session was closed: Shutdown past its grace period, or Close), not
// after the client's timeout: the write waiting for a part slot and the
// finish waiting for the parts in flight both return.
// stalledUpload starts an upload of three parts (one at a time) under ctx
// (nil: no session) into a store that then stops answering: the first
// part is held there, the second waits for its slot. done gets how the
// upload ended.
func stalledUpload(t *testing.T, ctx context.Context) (c *s3home.Client, st *stallingTransport, fsys *s3home.FS, sink home.Sink, done chan error) {
	st = &stallingTransport{next: http.DefaultTransport}
	c = newClient(t, smallParts, func(cfg *s3home.Config) {
		cfg.Timeout = time.Minute
		cfg.Parallel = 1
		cfg.Transport = st
	})
	fsys = newTree(t, c)
	size := int64(4 * s3home.MinPartSize)
	sink, _, err := fsys.Upload(home.FreshID(), "/big.bin", home.UploadOptions{Size: size, Resumable: true, Ctx: ctx})
	if err != nil {
		t.Fatal(err)
	}
	st.frozen.Store(true)
	done = make(chan error, 2)
	go func() {
		_, err := sink.Write(randomData(int(3 * s3home.MinPartSize)))
		if err == nil {
			err = sink.Finish(true)
		}
		done <- err
	}()
	return c, st, fsys, sink, done
}

func TestUploadEndsWithItsSession(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, st, _, sink, done := stalledUpload(t, ctx)
	for st.held.Load() == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("the upload ended while the store held its part: %v", err)
	default:
	}
	t0 := time.Now()
	cancel()
	select {
	case err := <-done:
		if err == nil || !errors.Is(err, context.Canceled) && !errors.Is(err, home.ErrUnavailable) {
			t.Errorf("upload ended with %v, want the session's cancellation", err)
		}
		if d := time.Since(t0); d > 5*time.Second {
			t.Errorf("the upload took %v to give up after its session ended (timeout 1m)", d)
		}
		t.Logf("gave up %v after the session ended: %v", time.Since(t0).Round(time.Millisecond), err)
	case <-time.After(30 * time.Second):
		t.Fatal("the upload still waits 30 s after its session ended")
	}
	st.frozen.Store(false)
	sink.Abort()
}

// TestHaltEndsEveryCall: Halt (the daemon's shutdown, once its grace
// period is over) ends every call to a store that stopped answering, those
// of no session too (a stat, an upload opened without a session), and any
// later call fails at once, instead of each waiting out the timeout.
func TestHaltEndsEveryCall(t *testing.T) {
	c, st, fsys, _, done := stalledUpload(t, nil)
	go func() {
		_, err := fsys.Stat("/elsewhere.txt")
		done <- err
	}()
	for st.held.Load() < 2 {
		time.Sleep(10 * time.Millisecond)
	}
	t0 := time.Now()
	c.Halt()
	for i := 0; i < 2; i++ {
		select {
		case err := <-done:
			if err == nil {
				t.Errorf("a call held by the store succeeded after Halt")
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%d of 2 calls still wait 10 s after Halt (timeout 1m)", 2-i)
		}
	}
	t.Logf("both calls ended %v after Halt", time.Since(t0).Round(time.Millisecond))
	st.frozen.Store(false) // the store answers again; the client does not
	t1 := time.Now()
	if _, err := fsys.Stat("/big.bin"); err == nil || time.Since(t1) > time.Second {
		t.Errorf("a call after Halt: %v after %v, want a failure at once", err, time.Since(t1))
	}
}
