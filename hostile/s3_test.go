package hostile

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
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

// The jail on an object store: every request the server's S3 client
// sends to a real MinIO is watched on its way (a RoundTripper around the
// real transport, not a mock), and every key it reads, writes, lists or
// copies from must be under the attacker's home, PREFIX/mallory/,
// whatever path the attacker sends.

const (
	jailBucket = "ftpx-jail"
	jailPrefix = "srv"
)

// recorder passes requests on and keeps every key they name.
type recorder struct {
	next http.RoundTripper
	mu   sync.Mutex
	on   bool
	keys []string // "METHOD key" for each object a request names
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	if r.on {
		for _, k := range keysOf(req) {
			r.keys = append(r.keys, req.Method+" "+k)
		}
	}
	r.mu.Unlock()
	return r.next.RoundTrip(req)
}

// keysOf returns the keys (or key prefixes) a request to the bucket names:
// its path, a list's prefix and start, a copy's source. A request on the
// bucket itself names "" and one on another bucket "?BUCKET".
func keysOf(req *http.Request) []string {
	p := req.URL.Path // path-style: /BUCKET/KEY, decoded
	bucket, key, _ := strings.Cut(strings.TrimPrefix(p, "/"), "/")
	if bucket != jailBucket {
		return []string{"?" + bucket}
	}
	var ks []string
	q := req.URL.Query()
	if key != "" || (!q.Has("prefix") && !q.Has("delete")) {
		ks = append(ks, key)
	}
	for _, param := range []string{"prefix", "start-after", "marker"} {
		if q.Has(param) {
			ks = append(ks, q.Get(param))
		}
	}
	if src := req.Header.Get("X-Amz-Copy-Source"); src != "" {
		if u, err := url.PathUnescape(src); err == nil {
			src = u
		}
		sb, sk, _ := strings.Cut(strings.TrimPrefix(src, "/"), "/")
		if sb != jailBucket {
			sk = "?" + sb
		}
		ks = append(ks, sk)
	}
	if q.Has("delete") && req.Body != nil && req.GetBody != nil {
		if body, err := req.GetBody(); err == nil {
			b, _ := io.ReadAll(body)
			for _, part := range strings.Split(string(b), "<Key>")[1:] {
				k, _, _ := strings.Cut(part, "</Key>")
				ks = append(ks, k)
			}
		}
	}
	return ks
}

func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := r.keys
	r.keys = nil
	return k
}

func (r *recorder) record(on bool) {
	r.mu.Lock()
	r.on = on
	r.mu.Unlock()
}

// TestS3AttackPathsStayInTheHomePrefix runs the attack corpus with every
// path-taking action against a server whose homes are in a MinIO bucket,
// and checks the answers (as on a local root) and every key the server
// asked the store for.
func TestS3AttackPathsStayInTheHomePrefix(t *testing.T) {
	srv := miniotest.Start(t, 1)
	srv.SetEnv(t)
	rec := &recorder{next: http.DefaultTransport}
	c, err := s3home.New(s3home.Config{Endpoint: srv.Endpoint, Transport: rec, Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.EnsureBucket(context.Background(), jailBucket, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	u, _ := s3url.Parse("s3://" + jailBucket + "/" + jailPrefix)
	homes := home.NewManagerOn(c.Homes(u))
	ts := ftpxtest.NewServer(t, func(s *server.Server) { s.Homes = homes })
	ts.AddUser(t, attacker, attackerPW, accounts.Unlimited)
	ts.AddUser(t, victim, victimPW, accounts.Unlimited)
	mc, err := minio.New(srv.Addr, &minio.Options{Creds: credentials.NewStaticV4(miniotest.AccessKey, miniotest.SecretKey, "")})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	put := func(key, data string) {
		t.Helper()
		if _, err := mc.PutObject(ctx, jailBucket, key, strings.NewReader(data), int64(len(data)), minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	bobRC := login(t, ts, victim, victimPW, nil)
	bobRC.Close()
	put(jailPrefix+"/"+victim+"/secret.txt", bobSecret)
	put(jailPrefix+"/outside.txt", outsideSecret) // in the root, outside every home
	mine := jailPrefix + "/" + attacker + "/"
	// reset puts the attacker's home back to its fixture, with the test's
	// own client (not watched).
	reset := func() {
		t.Helper()
		var old []minio.ObjectInfo
		for o := range mc.ListObjects(ctx, jailBucket, minio.ListObjectsOptions{Prefix: mine, Recursive: true}) {
			if o.Err == nil && !strings.HasPrefix(o.Key, mine+home.PartialDir+"/") && o.Key != mine {
				old = append(old, o)
			}
		}
		for _, o := range old {
			mc.RemoveObject(ctx, jailBucket, o.Key, minio.RemoveObjectOptions{})
		}
		for _, k := range []string{"a/", "a/b/", "a/b/c/"} {
			put(mine+k, "")
		}
		put(mine+"a/f.txt", insideA)
		put(mine+"top.txt", insideTop)
		put(mine+"mvsrc.txt", insideMvsrc)
	}
	g := &guard{}
	g.add("the victim's secret", []byte("BOB-SECRET-c4d1e8"))
	g.add("the secret beside the homes", []byte("OUTSIDE-SECRET-5b0c1e9d"))

	rec.record(true)
	var tl tally
	paths := corpus()
	for _, p := range paths {
		reset()
		// A session of its own for each path: reset changed the home
		// behind the server's back, which a session's memory of the
		// directories it saw lately (s3home/dirs.go) would not know.
		rc := login(t, ts, attacker, attackerPW, g)
		tl.paths++
		for _, act := range pathActions {
			resp, err := act.run(rc, p.wire)
			if err != nil {
				t.Fatalf("%s %s: connection broken: %v", act.name, p.label, err)
			}
			tl.add(resp.Status)
			p.judge(t, act.name, resp)
		}
		for _, k := range rec.take() {
			method, key, _ := strings.Cut(k, " ")
			if !strings.HasPrefix(key, mine) {
				tl.escapes++
				t.Errorf("ESCAPE (%s): the server asked the store for %s %q, outside %s", p.label, method, key, mine)
			}
		}
		for _, l := range g.takeLeaks() {
			tl.escapes++
			t.Errorf("ESCAPE (%s): %s", p.label, l)
		}
		rc.Close()
	}
	rec.record(false)
	for key, want := range map[string]string{jailPrefix + "/" + victim + "/secret.txt": bobSecret, jailPrefix + "/outside.txt": outsideSecret} {
		obj, err := mc.GetObject(ctx, jailBucket, key, minio.GetObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(obj)
		if err != nil || !bytes.Equal(b, []byte(want)) {
			t.Errorf("%s changed: %q %v", key, b, err)
		}
	}
	if n := panics(ts); n > 0 {
		t.Errorf("%d handler panics in the server log", n)
	}
	tl.log(t, "attack paths on an object store")
}
