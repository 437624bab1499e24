package hostile

import (
	"bytes"
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"ftpx/accounts"
	"ftpx/ftpxtest"
	"ftpx/home"
	"ftpx/internal/miniotest"
	"ftpx/internal/s3url"
	"ftpx/s3home"
	"ftpx/server"
)

// slowCompletes passes requests to a real MinIO, holding back each
// completion of a multipart upload (POST ?uploadId=) for a while: a store
// that takes its time to put an upload together.
type slowCompletes struct {
	next  http.RoundTripper
	delay time.Duration
}

func (s slowCompletes) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodPost && req.URL.Query().Has("uploadId") {
		select {
		case <-time.After(s.delay):
		case <-req.Context().Done():
			return nil, req.Context().Err()
		}
	}
	return s.next.RoundTrip(req)
}

// TestHTTPTusCommitOutlivesTheTransferTimeout: a tus PATCH that brings
// the last bytes of an upload to an object store whose completion of the
// upload takes longer (1.5 s) than the transfer timeout (300 ms) still
// places the file: the body's deadline (webd's bodyDeadline) ends with
// the body and cancels nothing while the store finishes.
func TestHTTPTusCommitOutlivesTheTransferTimeout(t *testing.T) {
	srv := miniotest.Start(t, 1)
	for _, kv := range srv.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	c, err := s3home.New(s3home.Config{Endpoint: srv.Endpoint, Transport: slowCompletes{http.DefaultTransport, 1500 * time.Millisecond},
		Timeout: 20 * time.Second, PartSize: 5 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.EnsureBucket(context.Background(), jailBucket, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	u, _ := s3url.Parse("s3://" + jailBucket + "/slow")
	ts := ftpxtest.NewServer(t, func(s *server.Server) {
		s.Homes = home.NewManagerOn(c.Homes(u))
		s.TransferTimeout = 300 * time.Millisecond
	})
	ts.AddUser(t, attacker, attackerPW, accounts.Unlimited)
	w := &webArena{arena: &arena{ts: ts}, base: ts.StartHTTP(t), client: &http.Client{Timeout: 60 * time.Second}}

	data := bytes.Repeat([]byte("slow store "), 1<<20) // 11 MiB: three parts
	loc := w.tusCreate(t, attacker, attackerPW, "/big.bin", data)
	a := w.tusPatch(t, attacker, attackerPW, loc, 0, bytes.NewReader(data))
	if a.code != 204 || a.header.Get("Upload-Offset") != strconv.Itoa(len(data)) {
		t.Fatalf("the PATCH whose commit outlives the transfer timeout: %d %v %s\n%s", a.code, a.header, a.body, lastLines([]byte(ts.Log()), 15))
	}
	if a = w.do(t, "GET", w.base+"/api/v1/files/big.bin", attacker, attackerPW, nil); a.code != 200 || !bytes.Equal(a.body, data) {
		t.Fatalf("big.bin: %d, %d bytes", a.code, len(a.body))
	}
}
