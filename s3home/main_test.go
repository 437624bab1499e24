package s3home_test

import (
	"context"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"ftpx/home"
	"ftpx/home/hometest"
	"ftpx/internal/miniotest"
	"ftpx/internal/s3url"
	"ftpx/s3home"
)

func TestMain(m *testing.M) { os.Exit(miniotest.Main(m)) }

var trees atomic.Int64

// newClient returns a Client of the package's MinIO with its account, and
// the bucket "ftpx-test" made.
func newClient(t *testing.T, mod ...func(*s3home.Config)) *s3home.Client {
	t.Helper()
	srv := miniotest.Shared(t)
	srv.SetEnv(t)
	cfg := s3home.Config{Endpoint: srv.Endpoint, Timeout: 20 * time.Second}
	for _, f := range mod {
		f(&cfg)
	}
	c, err := s3home.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.EnsureBucket(context.Background(), "ftpx-test", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	return c
}

// newTree returns the FS of a fresh tree of its own.
func newTree(t *testing.T, c *s3home.Client) *s3home.FS {
	u, err := s3url.Parse("s3://ftpx-test/t" + strings.ReplaceAll(t.Name(), "/", "-") + "-" + string(rune('a'+trees.Add(1)%26)))
	if err != nil {
		t.Fatal(err)
	}
	fsys := c.Tree(u)
	t.Cleanup(func() { fsys.Close() })
	return fsys
}

// TestTreeConforms runs the checks every FS passes (the local one runs
// them in home) on a tree of the object store.
func TestTreeConforms(t *testing.T) {
	c := newClient(t)
	hometest.TestFS(t, func(t *testing.T) home.FS { return newTree(t, c) })
}
