package client_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ftpx/accounts"
	"ftpx/client"
	"ftpx/client/internal/fake"
	"ftpx/ftpxtest"
	"ftpx/protocol"
)

// streamClient starts a real server with the user alex (quota) and
// returns it with a client logged in as alex.
func streamClient(t *testing.T, quota int64) (*ftpxtest.Server, *client.Client) {
	t.Helper()
	ts := ftpxtest.NewServer(t)
	ts.AddUser(t, "alex", "pw", quota)
	c, err := client.Dial(context.Background(), ts.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Auth(context.Background(), "alex", "pw"); err != nil {
		t.Fatal(err)
	}
	return ts, c
}

// unevenReader returns at most 1, 2, 3... 97 bytes per read, then again,
// scaled by step: what a pipe gives is whatever was written.
type unevenReader struct {
	r    io.Reader
	step int
	i    int
}

func (u *unevenReader) Read(p []byte) (int, error) {
	u.i = u.i%97 + 1
	return u.r.Read(p[:min(len(p), u.i*u.step)])
}

// endless gives zeros for ever.
type endless struct{}

func (endless) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// failingReader gives r's bytes, then err.
type failingReader struct {
	r   io.Reader
	err error
}

func (f failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		err = f.err
	}
	return n, err
}

func noPartials(t *testing.T, ts *ftpxtest.Server) bool {
	t.Helper()
	ents, _ := os.ReadDir(filepath.Join(ts.Home("alex"), ".ftpx-partial"))
	return len(ents) == 0
}

func TestPutStreamRoundTrip(t *testing.T) {
	ts, c := streamClient(t, accounts.Unlimited)
	for _, n := range []int{0, 1, 3<<20 + 1} {
		data := randomBytes(n)
		var p countingProgress
		res, err := c.PutStream(context.Background(), &unevenReader{r: bytes.NewReader(data), step: 1000}, "up.bin", &p)
		if err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		want := client.Result{Action: "put", Local: "-", Remote: "up.bin", Size: int64(n), Sent: int64(n), MD5: md5hex(data), Seconds: res.Seconds}
		if res != want {
			t.Fatalf("%d bytes: result %+v, want %+v", n, res, want)
		}
		if p.size != -1 || p.n != int64(n) || !p.finished {
			t.Errorf("%d bytes: progress started at %d, saw %d bytes, finished %v", n, p.size, p.n, p.finished)
		}
		if got, err := os.ReadFile(filepath.Join(ts.Home("alex"), "up.bin")); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%d bytes: the server holds %d (%v)", n, len(got), err)
		}
	}
	if !noPartials(t, ts) {
		t.Error("partials left")
	}
}

// TestPutStreamOverQuotaStopsSending: the server's 264 in the middle of
// an endless input stops the client; it does not send on until the
// server gives up on it.
func TestPutStreamOverQuotaStopsSending(t *testing.T) {
	ts, c := streamClient(t, 1<<20)
	res, err := c.PutStream(context.Background(), endless{}, "big.bin", nil)
	var se *client.StatusError
	if !errors.As(err, &se) || se.Status != protocol.StatusQuota || client.ExitCode(err) != client.ExitQuota {
		t.Fatalf("an endless input over a 1 MiB quota: %v, want 264 (exit 5)", err)
	}
	if res.Sent >= 64<<20 {
		t.Errorf("sent %d bytes after the 264", res.Sent)
	}
	if !strings.HasPrefix(err.Error(), "put big.bin: 264 quota exceeded") {
		t.Errorf("error %q", err)
	}
	if _, err := os.Stat(filepath.Join(ts.Home("alex"), "big.bin")); !os.IsNotExist(err) {
		t.Errorf("big.bin is there: %v", err)
	}
}

// TestPutStreamInputFailsGivesUp: an input that fails gives the put up:
// nothing is stored, and the connection goes on.
func TestPutStreamInputFailsGivesUp(t *testing.T) {
	ts, c := streamClient(t, accounts.Unlimited)
	in := failingReader{bytes.NewReader(randomBytes(300 << 10)), errors.New("input/output error")}
	_, err := c.PutStream(context.Background(), in, "f.bin", nil)
	if err == nil || client.ExitCode(err) != client.ExitFailure || err.Error() != "put -: input/output error" {
		t.Fatalf("a failing input: %v (exit %d), want put -: input/output error (exit 1)", err, client.ExitCode(err))
	}
	if _, err := os.Stat(filepath.Join(ts.Home("alex"), "f.bin")); !os.IsNotExist(err) {
		t.Errorf("f.bin is there: %v", err)
	}
	if !noPartials(t, ts) {
		t.Error("partials left")
	}
	if _, err := c.Ls(context.Background(), "/"); err != nil {
		t.Fatalf("ls after the given-up put: %v", err)
	}
}

// TestPutStreamCancelledWaitingForInput: a cancelled put returns at once,
// even while its input has nothing to give (a terminal, an idle pipe).
func TestPutStreamCancelledWaitingForInput(t *testing.T) {
	ts, c := streamClient(t, accounts.Unlimited)
	pr, pw := io.Pipe()
	t.Cleanup(func() { pw.Close() })
	go pw.Write(randomBytes(100 << 10))
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		waitUntil(t, func() bool { return !noPartials(t, ts) }) // the put has begun
		cancel()
	}()
	_, err := c.PutStream(ctx, pr, "f.bin", nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("a cancelled put: %v, want context.Canceled", err)
	}
	waitUntil(t, func() bool { return noPartials(t, ts) })
	if _, err := os.Stat(filepath.Join(ts.Home("alex"), "f.bin")); !os.IsNotExist(err) {
		t.Errorf("f.bin is there: %v", err)
	}
}

// TestPutStreamLostConnectionSaysNothingStored: exit 3, and the error
// says that standard input cannot be resumed.
func TestPutStreamLostConnectionSaysNothingStored(t *testing.T) {
	ts, c := streamClient(t, accounts.Unlimited)
	pr, pw := io.Pipe()
	go func() {
		pw.Write(randomBytes(1 << 20))
		waitUntil(t, func() bool { return !noPartials(t, ts) })
		ts.Close()
		for { // until the client stops reading
			if _, err := pw.Write(randomBytes(1 << 20)); err != nil {
				return
			}
		}
	}()
	_, err := c.PutStream(context.Background(), pr, "f.bin", nil)
	pr.Close()
	if client.ExitCode(err) != client.ExitConnection || !strings.HasSuffix(err.Error(), "(standard input cannot be resumed: nothing was stored)") {
		t.Fatalf("a lost connection: %v (exit %d), want exit 3 saying nothing was stored", err, client.ExitCode(err))
	}
}

// waitUntil polls ok for up to 5 seconds.
func waitUntil(t *testing.T, ok func() bool) {
	t.Helper()
	for range 100 {
		if ok() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Error("condition not met in 5 s")
}

// TestPutStreamToAnOlderServer: a server without streamed puts answers
// 274 (no size); the error says what that means.
func TestPutStreamToAnOlderServer(t *testing.T) {
	c := connect(t, fake.Start(t))
	_, err := c.PutStream(context.Background(), strings.NewReader("data"), "f.bin", nil)
	if want := "put f.bin: 274 invalid size (this server cannot take a file of unknown size: put a file instead)"; err == nil || err.Error() != want {
		t.Fatalf("stream to a server without streams: %v, want %s", err, want)
	}
	if _, err := c.Ls(context.Background(), "/"); err != nil {
		t.Fatalf("ls after the refusal: %v", err)
	}
}
