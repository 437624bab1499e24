package client

import (
	"context"
	"fmt"
	"ftpx/internal/cputime"
	"os"
	"path/filepath"
	"testing"

	"ftpx/accounts"
	"ftpx/ftpxtest"
)

// BenchmarkTreeListing lists a tree of 10,000 files with the tree action
// (one answer) and with one ls per directory (what a client does with a
// server that has no tree action), for three shapes: one directory, 1,000
// directories of 10, and a chain 200 deep with 50 files at each level.
// It is what decided the tree action: see PROTOCOL.md.
func BenchmarkTreeListing(b *testing.B) {
	shapes := []struct {
		name string
		dir  func(i int) string // the directory of file i
	}{
		{"flat-1x10000", func(int) string { return "t" }},
		{"wide-1000x10", func(i int) string { return fmt.Sprintf("t/d%03d/e%d", i%100, i%1000/100) }},
		{"deep-200x50", func(i int) string {
			p := "t"
			for range i / 50 {
				p += "/d"
			}
			return p
		}},
	}
	for _, sh := range shapes {
		ts := ftpxtest.NewServer(b)
		ts.AddUser(b, "bench", "pw", accounts.Unlimited)
		home := ts.Home("bench")
		for i := range 10000 {
			d := filepath.Join(home, sh.dir(i))
			os.MkdirAll(d, 0o755)
			if err := os.WriteFile(filepath.Join(d, fmt.Sprintf("f%05d", i)), []byte("x"), 0o644); err != nil {
				b.Fatal(err)
			}
		}
		ctx := context.Background()
		c, err := Dial(ctx, ts.Addr)
		if err != nil {
			b.Fatal(err)
		}
		if err := c.Auth(ctx, "bench", "pw"); err != nil {
			b.Fatal(err)
		}
		for _, how := range []string{"tree", "ls"} {
			b.Run(sh.name+"/"+how, func(b *testing.B) {
				c.noTree = how == "ls"
				cpu0 := cputime.Self()
				for b.Loop() {
					entries, isDir, err := c.remoteTree(ctx, "t", false)
					if err != nil || !isDir || len(entries) < 10000 {
						b.Fatalf("%d entries, %v", len(entries), err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/tree")
				// Client and server share the process: their CPU time
				// together, which a loaded machine does not inflate.
				b.ReportMetric(float64((cputime.Self()-cpu0).Microseconds())/1000/float64(b.N), "cpu-ms/tree")
			})
		}
		c.Close()
	}
}
