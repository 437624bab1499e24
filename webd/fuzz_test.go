package webd

import (
	"encoding/base64"
	"strings"
	"testing"
)

// FuzzTusMetadata feeds Upload-Metadata values to parseMetadata: it never
// panics, and what it accepts has a destination and a 32-hex-digit MD5.
func FuzzTusMetadata(f *testing.F) {
	b := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	sum := "0123456789abcdef0123456789ABCDEF"
	for _, s := range []string{
		"path " + b("/a.txt") + ",md5 " + b(sum),
		"path " + b("/docs/a b.pdf") + ",md5 " + b(sum) + ",mtime " + b("1700000000"),
		"filename " + b("x") + ",path " + b("/x") + ",md5 " + b(sum) + ",flag",
		"path " + b("../../x") + ",md5 " + b(sum),
		"path ,md5 " + b(sum),
		"path " + b("/a") + ",path " + b("/b") + ",md5 " + b(sum),
		"md5 " + b(sum),
		"path " + b("/a") + ",md5 " + b(sum[:31]),
		"path " + b("/a") + ",md5 " + b(sum) + ",mtime " + b("-1"),
		"path /a!,md5 zz",
		" , ,,",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		m, err := parseMetadata(v)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("an error without a message")
			}
			return
		}
		if m.path == "" {
			t.Fatalf("accepted %q without a path", v)
		}
		if len(m.md5) != 32 || strings.Trim(m.md5, "0123456789abcdef") != "" {
			t.Fatalf("accepted %q with md5 %q", v, m.md5)
		}
		if !m.mtime.IsZero() && m.mtime.Unix() < 0 {
			t.Fatalf("accepted %q with mtime %v", v, m.mtime)
		}
	})
}
