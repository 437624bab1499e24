package client_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ftpx/client"
)

// groupGet gets remote into local with the group, collecting what Done is
// told in done.
func groupGet(t *testing.T, c *client.Client, g *client.GetGroup, remote, local string, done *[]string) error {
	t.Helper()
	return c.GetPaths(context.Background(), []string{remote}, local, client.TransferOptions{Group: g,
		Done: func(r client.Result) { *done = append(*done, r.Remote+">"+filepath.Base(r.Local)) }})
}

func TestGetGroupNamesItsFilesOnlyWhenFlushed(t *testing.T) {
	c := treeServer(t, true, map[string]string{"a": "A", "b": "BB", "c": "CCC"}, nil)
	dir := t.TempDir()
	g := client.NewGetGroup()
	var done []string
	for _, name := range []string{"a", "b"} {
		if err := groupGet(t, c, g, name, filepath.Join(dir, name), &done); err != nil {
			t.Fatal(err)
		}
	}
	// Small files wait unnamed (O_TMPFILE): nothing shows yet.
	if got := localState(t, dir); len(got) != 0 || len(done) > 0 || g.Len() != 2 {
		t.Fatalf("before the flush: %q, done %q, %d waiting (want nothing to see, nothing told)", got, done, g.Len())
	}
	// Another get to a name already waiting names what waits first.
	if err := groupGet(t, c, g, "c", filepath.Join(dir, "a"), &done); err != nil {
		t.Fatal(err)
	}
	if g.Len() != 1 || fmt.Sprint(done) != "[a>a b>b]" || readFile(t, filepath.Join(dir, "a")) != "A" {
		t.Fatalf("after a get to a waiting name: %d waiting, done %q", g.Len(), done)
	}
	// Any other get (here two sources) names what waits first, even one
	// that fails.
	if err := c.GetPaths(context.Background(), []string{"a", "b"}, filepath.Join(dir, "both"), client.TransferOptions{Group: g}); err == nil {
		t.Fatal("get a b into a missing directory succeeded")
	}
	if g.Len() != 0 || fmt.Sprint(done) != "[a>a b>b c>a]" {
		t.Fatalf("after a batch get: %d waiting, done %q", g.Len(), done)
	}
	if got := fmt.Sprint(localState(t, dir)); got != "[a=CCC b=BB]" {
		t.Errorf("in the end: %s", got)
	}
}

func TestGetGroupStopsAtAFileItCannotName(t *testing.T) {
	c := treeServer(t, true, map[string]string{"a": "A", "b": "BB", "c": "CCC"}, nil)
	dir := t.TempDir()
	g := client.NewGetGroup()
	var done []string
	for _, name := range []string{"a", "b", "c"} {
		if err := groupGet(t, c, g, name, filepath.Join(dir, name), &done); err != nil {
			t.Fatal(err)
		}
	}
	// b cannot replace a directory that is not empty.
	os.MkdirAll(filepath.Join(dir, "b", "in"), 0o755)
	err := g.Flush()
	var ge *client.GroupError
	if !errors.As(err, &ge) || ge.Index != 1 || !strings.HasPrefix(err.Error(), "get "+filepath.Join(dir, "b")+": rename ") {
		t.Fatalf("flush: %v, want a GroupError for file 1 (b)", err)
	}
	if client.ExitCode(err) != client.ExitFailure {
		t.Errorf("exit status %d", client.ExitCode(err))
	}
	// a is in place and told; b failed; c, after it, was dropped.
	if got := fmt.Sprint(localState(t, dir)); got != "[a=A b/ b/in/]" || fmt.Sprint(done) != "[a>a]" {
		t.Errorf("after the flush: %s, done %q", got, done)
	}
	// The group goes on: its next files number on.
	if err := groupGet(t, c, g, "c", filepath.Join(dir, "c"), &done); err != nil || g.Queued() != 4 {
		t.Fatalf("get after the failure: %v, %d queued", err, g.Queued())
	}
	if err := g.Flush(); err != nil || readFile(t, filepath.Join(dir, "c")) != "CCC" {
		t.Fatalf("flush: %v", err)
	}
}

func TestGetGroupFlushesWhenFull(t *testing.T) {
	files := map[string]string{}
	for i := range 513 {
		files[fmt.Sprintf("f%03d", i)] = fmt.Sprint(i)
	}
	c := treeServer(t, true, files, nil)
	dir := t.TempDir()
	g := client.NewGetGroup()
	var done []string
	for i := range 513 {
		name := fmt.Sprintf("f%03d", i)
		if err := groupGet(t, c, g, name, filepath.Join(dir, name), &done); err != nil {
			t.Fatal(err)
		}
	}
	// 512 were named when the 513th came.
	if g.Len() != 1 || len(done) != 512 || done[511] != "f511>f511" || readFile(t, filepath.Join(dir, "f511")) != "511" {
		t.Fatalf("%d waiting, %d told", g.Len(), len(done))
	}
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
