package iniline

import (
	"errors"
	"strings"
	"testing"
)

func TestScan(t *testing.T) {
	const bom = "\ufeff"
	for _, tc := range []struct {
		line string
		skip int
		want Line
	}{
		{"", 0, Line{Kind: Blank}},
		{" \t ", 0, Line{Kind: Blank}},
		{"; a comment", 0, Line{Kind: Blank}},
		{"  # a comment = with [brackets", 0, Line{Kind: Blank}},
		{bom, len(bom), Line{Kind: Blank}},
		{bom + "; c", len(bom), Line{Kind: Blank}},

		{"[alex]", 0, Line{Kind: Section, Name: "alex"}},
		{"  [ alex ]  ", 0, Line{Kind: Section, Name: "alex"}},
		{"[alex] ; c", 0, Line{Kind: Section, Name: "alex"}},
		{"[alex]# c", 0, Line{Kind: Section, Name: "alex"}},
		{"[]", 0, Line{Kind: Section}},
		{"[a=b]", 0, Line{Kind: Section, Name: "a=b"}},
		{bom + "[x]", len(bom), Line{Kind: Section, Name: "x"}},

		{"key = value", 0, Line{Kind: Key, Key: "key", Value: "value", Start: 6, End: 11}},
		{"key=value", 0, Line{Kind: Key, Key: "key", Value: "value", Start: 4, End: 9}},
		{"  Key Name \t=\t value  ", 0, Line{Kind: Key, Key: "Key Name", Value: "value", Start: 15, End: 20}},
		{"k =", 0, Line{Kind: Key, Key: "k", Start: 3, End: 3}},
		{"k =   ", 0, Line{Kind: Key, Key: "k", Start: 6, End: 6}},
		{"k = a = b", 0, Line{Kind: Key, Key: "k", Value: "a = b", Start: 4, End: 9}},
		{"k = v ; c", 0, Line{Kind: Key, Key: "k", Value: "v", Start: 4, End: 5}},
		{"k = v\t# c", 0, Line{Kind: Key, Key: "k", Value: "v", Start: 4, End: 5}},
		{"k = a;b#c", 0, Line{Kind: Key, Key: "k", Value: "a;b#c", Start: 4, End: 9}},
		{"k = ; c", 0, Line{Kind: Key, Key: "k", Start: 4, End: 4}},
		{"k =;c", 0, Line{Kind: Key, Key: "k", Start: 3, End: 3}},
		{"k = v\r", 0, Line{Kind: Key, Key: "k", Value: "v\r", Start: 4, End: 6}},
		{"k = v\u00a0", 0, Line{Kind: Key, Key: "k", Value: "v\u00a0", Start: 4, End: 7}},
		{`k = "a;b # c"`, 0, Line{Kind: Key, Key: "k", Value: "a;b # c", Start: 4, End: 13}},
		{`k = " padded "  ; c`, 0, Line{Kind: Key, Key: "k", Value: " padded ", Start: 4, End: 14}},
		{`k = ""`, 0, Line{Kind: Key, Key: "k", Start: 4, End: 6}},
		{`k = a "b"`, 0, Line{Kind: Key, Key: "k", Value: `a "b"`, Start: 4, End: 9}},
		{bom + "k=v", len(bom), Line{Kind: Key, Key: "k", Value: "v", Start: 5, End: 6}},
		{bom + "k=v", 0, Line{Kind: Key, Key: bom + "k", Value: "v", Start: 5, End: 6}},
	} {
		got, err := Scan(tc.line, tc.skip)
		if err != nil || got != tc.want {
			t.Errorf("Scan(%q, %d) = %+v, %v; want %+v", tc.line, tc.skip, got, err, tc.want)
		}
	}
}

func TestScanErrors(t *testing.T) {
	for _, tc := range []struct {
		line string
		msg  string
		syn  *SyntaxError // nil: not a SyntaxError
	}{
		{"[alex", `broken section line "[alex" (want [NAME])`, &SyntaxError{Section: true, Text: "[alex"}},
		{" [alex] x ", `broken section line "[alex] x" (want [NAME])`, &SyntaxError{Section: true, Text: "[alex] x"}},
		{"[a]b", `broken section line "[a]b" (want [NAME])`, &SyntaxError{Section: true, Text: "[a]b"}},
		{" password ", `broken line "password" (want key = value, or [NAME])`, &SyntaxError{Text: "password"}},
		{"= x", "missing key before '='", nil},
		{" \t= x", "missing key before '='", nil},
		{`k = "abc`, "k: missing closing quote", nil},
		{`k = "a"b`, "k: text after the closing quote", nil},
		{`k = "a" b ; c`, "k: text after the closing quote", nil},
	} {
		got, err := Scan(tc.line, 0)
		if err == nil {
			t.Errorf("Scan(%q) = %+v, want an error", tc.line, got)
			continue
		}
		if err.Error() != tc.msg {
			t.Errorf("Scan(%q) error %q, want %q", tc.line, err, tc.msg)
		}
		var syn *SyntaxError
		switch {
		case errors.As(err, &syn) != (tc.syn != nil):
			t.Errorf("Scan(%q) error %#v, want SyntaxError %v", tc.line, err, tc.syn)
		case tc.syn != nil && *syn != *tc.syn:
			t.Errorf("Scan(%q) error %+v, want %+v", tc.line, *syn, *tc.syn)
		}
	}
}

// FuzzScan: Scan never panics for any skip up to len(line), and a key line's
// Start and End frame its value as written, so that an editor can replace it.
func FuzzScan(f *testing.F) {
	for _, seed := range []string{
		"", "; c", "[alex]", " [ a ] # c", "[a", "[a] b", "k", "= v", "k = v", "k=v ; c", "k = a;b",
		`k = "a;b" # c`, `k = "a`, `k = "a" b`, "k =", "k = ;c", "\ufeffk = v", "\ufeff[x]", "k = v\u00a0",
	} {
		f.Add(seed, uint(0))
		if strings.HasPrefix(seed, "\ufeff") {
			f.Add(seed, uint(len("\ufeff")))
		}
	}
	f.Fuzz(func(t *testing.T, line string, skipSeed uint) {
		skip := int(skipSeed % uint(len(line)+1))
		l, err := Scan(line, skip)
		if err != nil {
			if l != (Line{}) {
				t.Fatalf("Scan(%q, %d) = %+v with error %v", line, skip, l, err)
			}
			return
		}
		switch l.Kind {
		case Blank, Section:
			if l.Key != "" || l.Value != "" || l.Start != 0 || l.End != 0 || l.Kind == Blank && l.Name != "" {
				t.Fatalf("Scan(%q, %d) = %+v", line, skip, l)
			}
		case Key:
			if l.Key == "" || l.Key != strings.TrimSpace(l.Key) {
				t.Fatalf("Scan(%q, %d): key %q", line, skip, l.Key)
			}
			if !(skip < l.Start && l.Start <= l.End && l.End <= len(line)) {
				t.Fatalf("Scan(%q, %d): Start %d, End %d", line, skip, l.Start, l.End)
			}
			if written := line[l.Start:l.End]; !strings.Contains(written, l.Value) ||
				written != l.Value && written != `"`+l.Value+`"` {
				t.Fatalf("Scan(%q, %d): line[Start:End] = %q, value %q", line, skip, written, l.Value)
			}
		default:
			t.Fatalf("Scan(%q, %d): kind %d", line, skip, l.Kind)
		}
	})
}
