package client

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"ftpx/protocol"
)

// inside reports whether p is dest or under it, lexically.
func inside(dest, p string) bool {
	rel, err := filepath.Rel(dest, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../") && !filepath.IsAbs(rel)
}

func TestPlanTreeRefusesNamesThatLeaveTheTarget(t *testing.T) {
	c := &Client{cwd: "/"}
	top := target{"docs", filepath.Join("out", "docs")}
	entries := []protocol.TreeEntry{
		{Path: "ok.txt", Size: 3},
		{Path: "sub", IsDir: true},
		{Path: "sub/ünï cödé.txt", Size: 1},
		{Path: "..", IsDir: true},
		{Path: "../escape", Size: 1},
		{Path: "sub/../../escape2", Size: 1},
		{Path: "/abs", Size: 1},
		{Path: "sub//x", Size: 1},
		{Path: `back\slash`, Size: 1},
		{Path: "nul\x00name", Size: 1},
		{Path: "term\x1b[2Jname", Size: 1},
		{Path: "nl\nname", Size: 1},
		{Path: "c1\u0085name", Size: 1},
		{Path: "bad\xffutf8", Size: 1},
		{Path: strings.Repeat("n", 256), Size: 1},
		{Path: ".ftpx-partial", IsDir: true},
		{Path: "orphan/x", Size: 1},       // no such directory listed
		{Path: "ok.txt/x", Size: 1},       // under a file
		{Path: "ok.txt", Size: 3},         // twice
		{Path: "neg", Size: -5},           // a lie about the size
		{Path: "evil\x1b", IsDir: true},   // refused directory: what is under it goes silently
		{Path: "evil\x1b/inner", Size: 1}, //
		{Path: "loop", IsDir: true, Skip: protocol.SkipLoop},
		{Path: "loop/x", Size: 1},
		{Path: "out", Skip: protocol.SkipLink},
		{Path: "fifo", Skip: protocol.SkipSpecial},
		{Path: "locked", IsDir: true, Status: protocol.StatusPermission},
		{Path: "locked/x", Size: 1},
		{Path: "empty", IsDir: true},
	}
	var reported []error
	var warned []string
	plan := c.planTree(top, entries, func(err error) { reported = append(reported, err) }, func(m string) { warned = append(warned, m) })
	var got []string
	for _, it := range plan {
		if !inside(top.dest, it.dest) {
			t.Errorf("%q lands outside the target: %s", it.src, it.dest)
		}
		got = append(got, it.src+" -> "+filepath.ToSlash(it.dest))
	}
	want := []string{
		"docs -> out/docs",
		"docs/ok.txt -> out/docs/ok.txt",
		"docs/sub -> out/docs/sub",
		"docs/sub/ünï cödé.txt -> out/docs/sub/ünï cödé.txt",
		"docs/empty -> out/docs/empty",
	}
	if !slices.Equal(got, want) {
		t.Errorf("plan:\n got %q\nwant %q", got, want)
	}
	if len(reported) != 18 {
		t.Errorf("%d names reported, want 18", len(reported))
	}
	for _, err := range reported {
		line := ErrorLines(err)
		if len(line) != 1 || strings.ContainsFunc(line[0], func(r rune) bool { return r < 0x20 || r == 0x7f || r == 0x85 }) {
			t.Errorf("report not one escaped line: %q", line)
		}
		if ExitCode(err) != ExitFailure {
			t.Errorf("%v: exit %d", err, ExitCode(err))
		}
	}
	if len(warned) != 3 {
		t.Errorf("warnings %q", warned)
	}
	t.Logf("reported:\n%s", strings.Join(ErrorLines(errorsJoin(reported)), "\n"))
}

func errorsJoin(errs []error) error {
	var f failures
	for _, e := range errs {
		f.add(e)
	}
	return f.err()
}

// FuzzTreeAnswer feeds a tree answer frame to the client's checks: what a
// server says may be refused, but no step may land outside the target,
// and a directory must come before what it holds.
func FuzzTreeAnswer(f *testing.F) {
	f.Add([]byte(`{"status_code":260,"status_msg":"ok","tree":[{"path":"a","is_dir":true},{"path":"a/b","size":3},{"path":"../x"}]}`))
	f.Add([]byte(`{"status_code":260,"tree":[{"path":"a\\\\b"},{"path":"/etc/passwd"},{"path":"a/../../x","is_dir":true},{"path":"..\u0000"}]}`))
	f.Add([]byte(`{"status_code":260,"tree":[{"path":"d","is_dir":true,"skip":"loop"},{"path":"d/x"},{"path":"e","is_dir":true,"status_code":263}]}`))
	dest := filepath.Join("target", "tree")
	f.Fuzz(func(t *testing.T, b []byte) {
		var resp protocol.Response
		if protocol.Decode(b, &resp) != nil {
			return
		}
		c := &Client{cwd: "/home/sub"}
		made := map[string]bool{dest: true}
		for _, it := range c.planTree(target{"r", dest}, resp.Tree, func(error) {}, func(string) {}) {
			if !inside(dest, it.dest) {
				t.Fatalf("%q lands outside: %q", it.src, it.dest)
			}
			if !made[filepath.Dir(it.dest)] && it.dest != dest {
				t.Fatalf("%q comes before its directory", it.dest)
			}
			if it.dir {
				made[it.dest] = true
			}
			for _, e := range strings.Split(strings.TrimPrefix(it.src, "r"), "/")[1:] {
				if checkName(e) != nil {
					t.Fatalf("unchecked element %q in %q", e, it.src)
				}
			}
		}
	})
}
