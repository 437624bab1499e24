package hostile

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"ftpx/accounts"
	"ftpx/ftpxtest"
	"ftpx/home"
	"ftpx/internal/miniotest"
	"ftpx/internal/s3url"
	"ftpx/s3home"
	"ftpx/server"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// TestDeltaPutSeeksOnObjectStore: on an object store, a delta put reads
// its basis through ranged GETs, one more each time a COPY does not
// follow the one before. A delta that jumps back and forth costs a GET
// per instruction (a few bytes on the wire each); what that costs is
// bounded by the put's declared size (a COPY writes at least one block),
// and so by the quota. This measures it: GETs of the basis per COPY.
func TestDeltaPutSeeksOnObjectStore(t *testing.T) {
	srv := miniotest.Start(t, 1)
	srv.SetEnv(t)
	// Every byte MinIO sends the server's S3 client is counted, read or
	// not: a GET cut short by a seek has sent more than was read.
	var received atomic.Int64
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		return countedConn{c, &received}, err
	}
	rec := &recorder{next: tr}
	c, err := s3home.New(s3home.Config{Endpoint: srv.Endpoint, Transport: rec, Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.EnsureBucket(context.Background(), jailBucket, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	u, _ := s3url.Parse("s3://" + jailBucket + "/" + jailPrefix)
	ts := ftpxtest.NewServer(t, func(s *server.Server) { s.Homes = home.NewManagerOn(c.Homes(u)) })
	ts.AddUser(t, attacker, attackerPW, accounts.Unlimited)
	mc, err := minio.New(srv.Addr, &minio.Options{Creds: credentials.NewStaticV4(miniotest.AccessKey, miniotest.SecretKey, "")})
	if err != nil {
		t.Fatal(err)
	}
	rc := login(t, ts, attacker, attackerPW, nil)
	basis := pseudoRandom(5, basisSize)
	key := jailPrefix + "/" + attacker + "/" + basisName
	if _, err := mc.PutObject(context.Background(), jailBucket, key, bytes.NewReader(basis), basisSize, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	const blocks = basisSize / 1024
	jumps := stream{}
	var want []byte
	for i := range 1024 { // 1 MiB, a block at a time, from either end in turn
		j := i / 2
		if i%2 == 1 {
			j = blocks - 1 - i/2
		}
		jumps = jumps.copy(uint64(j), 1)
		want = append(want, basis[j*1024:(j+1)*1024]...)
	}
	for _, tc := range []struct {
		name   string
		s      stream
		want   []byte
		copies int
	}{
		{"the basis in order", stream{}.copy(0, blocks).end(), basis, 1},
		{"its blocks from either end in turn", jumps.end(), want, 1024},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sig, err := rc.signature(basisName)
			if err != nil || sig.Status != 260 {
				t.Fatalf("signature: %+v %v", sig, err)
			}
			rec.take()
			rec.record(true)
			before := received.Load()
			start := time.Now()
			rc.do(putDeltaHeader(basisName, int64(len(tc.want)), deltaJSON(*sig.Delta)))
			rc.write(tc.s)
			rc.send(obj("md5", md5hex(tc.want)))
			resp, _, err := rc.read()
			took := time.Since(start)
			rec.record(false)
			if err != nil || resp.Status != 258 {
				t.Fatalf("%+v %v, want 258", resp, err)
			}
			gets := 0
			for _, k := range rec.take() {
				if k == "GET "+key {
					gets++
				}
			}
			t.Logf("a delta of %d bytes, %d copies: %d GETs of the basis, %.1f MB from the store, %.2f s",
				len(tc.s), tc.copies, gets, float64(received.Load()-before)/(1<<20), took.Seconds())
			if gets > tc.copies+2 {
				t.Errorf("%d GETs of the basis for %d copies", gets, tc.copies)
			}
		})
	}
}

// countedConn counts the bytes read from a connection.
type countedConn struct {
	net.Conn
	n *atomic.Int64
}

func (c countedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.n.Add(int64(n))
	return n, err
}
