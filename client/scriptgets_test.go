package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"ftpx/accounts"
	"ftpx/ftpxtest"
	"ftpx/protocol"
)

// scriptServer starts a real server whose user has the files named, each
// holding its own name, and returns a client logged in to it and the
// user's home.
func scriptServer(t *testing.T, names ...string) (*Client, string) {
	t.Helper()
	ts := ftpxtest.NewServer(t)
	ts.AddUser(t, "alex", "pw", accounts.Unlimited)
	home := ts.Home("alex")
	os.MkdirAll(home, 0o755)
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(home, n), []byte(n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	c, err := Dial(ctx, ts.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Auth(ctx, "alex", "pw"); err != nil {
		t.Fatal(err)
	}
	return c, home
}

// dirNames returns the names in dir, sorted.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// A file that vanished between the ls and the pipelined get: the files
// before it are named and told, its error comes back with its index, none
// after it is named, and the connection is still in step.
func TestGetHaltingStopsAtAMissingFile(t *testing.T) {
	c, _ := scriptServer(t, "a", "b", "d", "e")
	dir := t.TempDir()
	var tops []target
	for _, n := range []string{"a", "b", "c", "d", "e"} {
		tops = append(tops, target{n, filepath.Join(dir, n)})
	}
	var done []string
	ctx := context.Background()
	n, err := c.getHalting(ctx, tops, func(i int, r Result) { done = append(done, fmt.Sprintf("%d:%s", i, r.Remote)) })
	var ge *GroupError
	var se *StatusError
	if !errors.As(err, &ge) || ge.Index != 2 || !errors.As(err, &se) || se.Status != protocol.StatusNotExist || se.Path != "c" {
		t.Fatalf("getHalting: %d, %v; want a GroupError for target 2 (c), 256", n, err)
	}
	if n != 3 || fmt.Sprint(done) != "[0:a 1:b]" {
		t.Errorf("settled %d, told %q; want 3 and a, b", n, done)
	}
	if got := dirNames(t, dir); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("in the directory: %q, want a and b only", got)
	}
	for _, name := range []string{"a", "b"} {
		if b, _ := os.ReadFile(filepath.Join(dir, name)); string(b) != name {
			t.Errorf("%s holds %q", name, b)
		}
	}
	entries, err := c.Ls(ctx, ".")
	if err != nil || len(entries) != 4 {
		t.Fatalf("ls after: %d entries, %v; want the 4 files", len(entries), err)
	}
}

// GetRun pipelines the gets up to the first whose local name exists, and
// leaves that one and the rest alone.
func TestGetRunStopsBeforeAnExistingLocalFile(t *testing.T) {
	c, _ := scriptServer(t, "a", "b", "c", "d")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "c"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	var gets []OneGet
	for _, n := range []string{"a", "b", "c", "d"} {
		gets = append(gets, OneGet{n, filepath.Join(dir, n)})
	}
	var done []string
	n, err := c.GetRun(context.Background(), gets, &Listings{}, func(i int, r Result) { done = append(done, fmt.Sprintf("%d:%s", i, r.Remote)) })
	if err != nil || n != 2 || fmt.Sprint(done) != "[0:a 1:b]" {
		t.Fatalf("GetRun: %d, %v, told %q; want 2 gets, a and b", n, err, done)
	}
	if got := dirNames(t, dir); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("in the directory: %q", got)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "c")); string(b) != "mine" {
		t.Errorf("c holds %q, want it untouched", b)
	}
}

// Runs sharing their Listings list a directory once: a file removed on
// the server after the first run's ls is still asked for, pipelined, and
// fails as a lone get of it would, under its own index.
func TestGetRunSharesItsListings(t *testing.T) {
	c, home := scriptServer(t, "a", "b", "c")
	dir := t.TempDir()
	ctx := context.Background()
	l := &Listings{}
	nop := func(int, Result) {}
	if n, err := c.GetRun(ctx, []OneGet{{"a", filepath.Join(dir, "a")}}, l, nop); n != 1 || err != nil {
		t.Fatalf("first run: %d, %v", n, err)
	}
	os.Remove(filepath.Join(home, "c"))
	n, err := c.GetRun(ctx, []OneGet{{"b", filepath.Join(dir, "b")}, {"c", filepath.Join(dir, "c")}}, l, nop)
	var ge *GroupError
	if !errors.As(err, &ge) || ge.Index != 1 || err.Error() != "get c: 256 file does not exist" || n != 2 {
		t.Fatalf("second run: %d, %v; want a GroupError for c, 256", n, err)
	}
	if got := dirNames(t, dir); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("in the directory: %q", got)
	}
}

// cutProxy forwards one connection to addr and cuts it once it has
// passed limit bytes from the server.
func cutProxy(t *testing.T, addr string, limit int64) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		in, err := l.Accept()
		if err != nil {
			return
		}
		out, err := net.Dial("tcp", addr)
		if err != nil {
			in.Close()
			return
		}
		go io.Copy(out, in)
		io.CopyN(in, out, limit)
		in.Close()
		out.Close()
	}()
	return l.Addr().String()
}

// A connection lost in the middle: the files settled before are named,
// none after, and the count tells the caller where to go on one by one.
func TestGetHaltingLeavesTheRestAfterALostConnection(t *testing.T) {
	ts := ftpxtest.NewServer(t)
	ts.AddUser(t, "alex", "pw", accounts.Unlimited)
	home := ts.Home("alex")
	os.MkdirAll(home, 0o755)
	body := make([]byte, 8<<10)
	dir := t.TempDir()
	var tops []target
	for i := range 20 {
		name := fmt.Sprintf("f%02d", i)
		body[0] = byte(i)
		os.WriteFile(filepath.Join(home, name), body, 0o644)
		tops = append(tops, target{name, filepath.Join(dir, name)})
	}
	ctx := context.Background()
	c, err := Dial(ctx, cutProxy(t, ts.Addr, 80<<10)) // about half the bodies
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Auth(ctx, "alex", "pw"); err != nil {
		t.Fatal(err)
	}
	told := 0
	n, err := c.getHalting(ctx, tops, func(i int, r Result) {
		if i == told && r.Remote == tops[i].src {
			told++
		}
	})
	if err != nil || n == 0 || n >= len(tops) || told != n {
		t.Fatalf("getHalting: %d settled, %d told in order, %v; want some, not all, no error", n, told, err)
	}
	t.Logf("settled %d of %d before the cut", n, len(tops))
	names := dirNames(t, dir)
	if len(names) != n || names[n-1] != tops[n-1].src {
		t.Fatalf("in the directory: %q, want the first %d files", names, n)
	}
	for i, name := range names {
		b, _ := os.ReadFile(filepath.Join(dir, name))
		if len(b) != len(body) || b[0] != byte(i) {
			t.Errorf("%s: %d bytes, first %d", name, len(b), b[0])
		}
	}
}
