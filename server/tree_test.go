package server_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ftpx/accounts"
	"ftpx/ftpxtest"
	"ftpx/protocol"
)

// tree sends a tree request and reads its frames to the last, returning
// the frames and every entry.
func (rc *raw) tree(path string) ([]protocol.Response, []protocol.TreeEntry) {
	rc.t.Helper()
	rc.send(protocol.Request{ID: "t-1", Action: protocol.ActionTree, Path: path})
	var frames []protocol.Response
	var all []protocol.TreeEntry
	for {
		resp := rc.read()
		if resp.ID != "t-1" {
			rc.t.Fatalf("frame %d of the tree answers id %q", len(frames), resp.ID)
		}
		frames = append(frames, resp)
		all = append(all, resp.Tree...)
		if !resp.More {
			return frames, all
		}
		if resp.Status != protocol.StatusOK {
			rc.t.Fatalf("a frame with more and status %d", resp.Status)
		}
	}
}

func TestTreeListsEverythingUnderADirectory(t *testing.T) {
	ts := ftpxtest.NewServer(t)
	ts.AddUser(t, "alex", "pw", accounts.Unlimited)
	rc := login(t, ts, "alex", "pw")
	home := ts.Home("alex")
	for name, body := range map[string]string{"d/a.txt": "aa", "d/sub/b.txt": "bbb", "d/sub/deeper/c": "", "top.txt": "t"} {
		os.MkdirAll(filepath.Join(home, filepath.Dir(name)), 0o755)
		os.WriteFile(filepath.Join(home, name), []byte(body), 0o644)
	}
	os.Mkdir(filepath.Join(home, "d", "empty"), 0o755)
	os.Symlink("..", filepath.Join(home, "d", "sub", "up"))
	os.Symlink(t.TempDir(), filepath.Join(home, "d", "out"))

	frames, got := rc.tree("d")
	if len(frames) != 1 || frames[0].Status != protocol.StatusOK || frames[0].Path != "/d" {
		t.Fatalf("frames %+v", frames)
	}
	var lines []string
	for _, e := range got {
		lines = append(lines, fmt.Sprintf("%s %d %v %s %d", e.Path, e.Size, e.IsDir, e.Skip, e.Status))
	}
	want := "a.txt 2 false  0|empty 0 true  0|out 0 false link 0|sub 0 true  0|sub/b.txt 3 false  0|" +
		"sub/deeper 0 true  0|sub/deeper/c 0 false  0|sub/up 0 true loop 0"
	if strings.Join(lines, "|") != want {
		t.Errorf("tree d:\n got %s\nwant %s", strings.Join(lines, "|"), want)
	}

	if frames, got := rc.tree("d/empty"); len(frames) != 1 || frames[0].Status != protocol.StatusOK || len(got) != 0 {
		t.Errorf("tree of an empty directory: %+v", frames)
	}
	for path, st := range map[string]protocol.Status{"top.txt": protocol.StatusNotDir, "nothing": protocol.StatusNotExist,
		"../..": protocol.StatusPermission, "d/out": protocol.StatusPermission, "a\x01b": protocol.StatusBadPath} {
		if frames, _ := rc.tree(path); len(frames) != 1 || frames[0].Status != st {
			t.Errorf("tree %q: %+v, want one frame with %d", path, frames, st)
		}
	}
	// The session goes on.
	if resp := rc.do(protocol.Request{Action: "ls", Path: "d"}); resp.Status != protocol.StatusOK || len(resp.Entries) != 4 {
		t.Fatalf("ls after tree: %d %d", resp.Status, len(resp.Entries))
	}
}

func TestTreeSplitsABigAnswerIntoFrames(t *testing.T) {
	ts := ftpxtest.NewServer(t)
	ts.AddUser(t, "alex", "pw", accounts.Unlimited)
	rc := login(t, ts, "alex", "pw")
	dir := filepath.Join(ts.Home("alex"), "big")
	long := strings.Repeat("n", 200)
	const n = 4000 // about 1.2 MB of entries
	for i := range n {
		sub := filepath.Join(dir, fmt.Sprintf("d%02d", i%40))
		os.MkdirAll(sub, 0o755)
		if err := os.WriteFile(filepath.Join(sub, fmt.Sprintf("%s%04d", long, i)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	frames, got := rc.tree("/big")
	if len(frames) < 2 || len(got) != n+40 {
		t.Fatalf("%d frames, %d entries; want several frames and %d entries", len(frames), len(got), n+40)
	}
	for i, f := range frames {
		if f.Status != protocol.StatusOK || f.More != (i < len(frames)-1) || f.Path != "/big" {
			t.Errorf("frame %d: status %d more %v path %q", i, f.Status, f.More, f.Path)
		}
	}
	seen := map[string]bool{}
	for _, e := range got {
		if seen[e.Path] {
			t.Fatalf("%s listed twice", e.Path)
		}
		if dir := filepath.Dir(e.Path); dir != "." && !seen[dir] {
			t.Fatalf("%s comes before its directory", e.Path)
		}
		seen[e.Path] = true
	}
}

func TestTreeNeedsReadPermission(t *testing.T) {
	ts := ftpxtest.NewServer(t)
	drop := t.TempDir()
	os.WriteFile(filepath.Join(drop, "private"), []byte("p"), 0o644)
	ts.AddUserWith(t, "alex", "pw", accounts.Unlimited, "folder.drop = "+drop+" write")
	rc := login(t, ts, "alex", "pw")
	if frames, _ := rc.tree("/drop"); frames[0].Status != protocol.StatusPermission {
		t.Errorf("tree of a write-only folder: %d", frames[0].Status)
	}
	_, got := rc.tree("/")
	if len(got) != 1 || got[0].Path != "drop" || got[0].Status != protocol.StatusPermission {
		t.Errorf("tree / with a write-only folder: %+v", got)
	}
	if resp := rc.do(protocol.Request{Action: "tree"}); resp.Status != protocol.StatusOK {
		t.Errorf("tree without a path (the current directory): %d", resp.Status)
	}
}
