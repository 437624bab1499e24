package home

import (
	"errors"
	"path"
	"strings"
	"testing"
	"unicode/utf8"

	"ftpx/protocol"
)

func TestResolve(t *testing.T) {
	long := strings.Repeat("a", protocol.MaxNameLen)
	tests := []struct {
		cwd, p string
		want   string
		err    error
	}{
		{"/", "", "/", nil},
		{"/a/b", "", "/a/b", nil},
		{"/", "a", "/a", nil},
		{"/a", "b", "/a/b", nil},
		{"/a", "/b", "/b", nil},
		{"/a/b", "..", "/a", nil},
		{"/a/b", "../c", "/a/c", nil},
		{"/", "a/./b//c", "/a/b/c", nil},
		{"/", "a/../b", "/b", nil},
		{"/", "a/b/", "/a/b", nil},
		{"/", "./", "/", nil},
		{"/", "//", "/", nil},
		{"/a", "/", "/", nil},
		{"/", "%2e%2e", "/%2e%2e", nil},
		{"/", "...", "/...", nil},
		{"/", "..a", "/..a", nil},
		{"/", ".hidden", "/.hidden", nil},
		{"/", "héllo wörld.txt", "/héllo wörld.txt", nil},
		{"/", long, "/" + long, nil},
		{"/", "a/..", "/", nil},

		{"/", "..", "", ErrOutside},
		{"/", "../x", "", ErrOutside},
		{"/", "/a/../../b", "", ErrOutside},
		{"/a", "../..", "", ErrOutside},
		{"/a", "../../etc/passwd", "", ErrOutside},
		{"/a/b", "/..", "", ErrOutside},

		{"/", "a\x00b", "", ErrBadPath},
		{"/", "a\nb", "", ErrBadPath},
		{"/", "a\rb", "", ErrBadPath},
		{"/", "\x1f", "", ErrBadPath},
		{"/", "a\x7fb", "", ErrBadPath},
		{"/", `a\b`, "", ErrBadPath},
		{"/", `..\..\x`, "", ErrBadPath},
		{"/", "a\xffb", "", ErrBadPath},
		{"/", "\xc3", "", ErrBadPath},
		{"/", long + "a", "", ErrBadPath},
		{"/", "x/" + long + "a/y", "", ErrBadPath},
		{"/", strings.Repeat("a/", protocol.MaxPathLen/2) + "a", "", ErrBadPath},
		{"/a\x00", "b", "", ErrBadPath},

		{"/", PartialDir, "", ErrPermission},
		{"/", "/" + PartialDir + "/x", "", ErrPermission},
		{"/", "a/" + PartialDir, "", ErrPermission},
		{"/", PartialDir + "/..", "", ErrPermission},
		{"/" + PartialDir, "x", "", ErrPermission},
	}
	for _, tt := range tests {
		got, err := Resolve(tt.cwd, tt.p)
		if tt.err != nil {
			if !errors.Is(err, tt.err) {
				t.Errorf("Resolve(%q, %q) = %q, %v; want error %v", tt.cwd, tt.p, got, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("Resolve(%q, %q) = %q, %v; want %q", tt.cwd, tt.p, got, err, tt.want)
		}
	}
}

func TestResolveLongJoinRefused(t *testing.T) {
	cwd, err := Resolve("/", strings.Repeat("d/", 2000))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := Resolve(cwd, strings.Repeat("e/", 1000)); !errors.Is(err, ErrBadPath) {
		t.Fatalf("joined path of more than MaxPathLen: got %d bytes, %v", len(got), err)
	}
}

func FuzzResolve(f *testing.F) {
	for _, s := range [][2]string{
		{"/", ""}, {"/a", ".."}, {"/a/b", "../../x"}, {"/", "a/./b//c"},
		{"/", "%2e%2e"}, {"/", "a\x00b"}, {"/", `a\b`}, {"/x", "/" + PartialDir},
		{"", "../" + PartialDir + "/.."}, {"/a", "\xff"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, cwd, p string) {
		cwd, err := Resolve("/", cwd)
		if err != nil {
			return
		}
		got, err := Resolve(cwd, p)
		if err != nil {
			if got != "" {
				t.Fatalf("error %v with result %q", err, got)
			}
			return
		}
		switch {
		case !strings.HasPrefix(got, "/"):
			t.Fatalf("Resolve(%q, %q) = %q: not absolute", cwd, p, got)
		case path.Clean(got) != got:
			t.Fatalf("Resolve(%q, %q) = %q: not clean", cwd, p, got)
		case !utf8.ValidString(got):
			t.Fatalf("Resolve(%q, %q) = %q: invalid UTF-8", cwd, p, got)
		case len(got) > protocol.MaxPathLen:
			t.Fatalf("Resolve(%q, %q): %d bytes", cwd, p, len(got))
		}
		for _, e := range strings.Split(got[1:], "/") {
			if e == ".." || e == PartialDir || len(e) > protocol.MaxNameLen {
				t.Fatalf("Resolve(%q, %q) = %q: element %q", cwd, p, got, e)
			}
		}
		for i := 0; i < len(got); i++ {
			if c := got[i]; c < 0x20 || c == 0x7f || c == '\\' {
				t.Fatalf("Resolve(%q, %q) = %q: byte %#x", cwd, p, got, c)
			}
		}
	})
}
