package shell

import (
	"fmt"
	"io"
	"testing"
)

// Which script lines leave their file waiting in the group of gets, and
// which name the waiting files first.
func TestJoinsGroup(t *testing.T) {
	for line, want := range map[string]bool{
		"get dir/f0001":          true,
		"get dir/f0001 copy.bin": true,
		"get\tdir/f0001":         true,
		"get --json a":           true, // GetPaths decides: one file waits
		"get -r tree":            true, // GetPaths names the waiting files first
		"-get missing.txt":       false,
		"lcd sub":                false,
		"lls":                    false,
		"put a":                  false,
		"resume":                 false,
		"quit":                   false,
		"getx a":                 false,
		"help get":               false,
	} {
		if got := joinsGroup(line); got != want {
			t.Errorf("joinsGroup(%q) = %v, want %v", line, got, want)
		}
	}
}

// Which script lines a run of pipelined gets may hold.
func TestPlainGet(t *testing.T) {
	for line, want := range map[string]bool{
		"get dir/f0001":        true,
		"get dir/f0001 copy":   true,
		`get "a b" c`:          true,
		"get a b c":            false,
		"get -r tree":          false,
		"get --json a":         false,
		"get a -":              false,
		"get *.log":            false,
		"-get a":               false,
		"get":                  false,
		"lls":                  false,
		`get "unterminated`:    false,
		"getx a":               false,
		"get dir/f0001 local/": true,
	} {
		if got := plainGet(line); got != want {
			t.Errorf("plainGet(%q) = %v, want %v", line, got, want)
		}
	}
}

// Reading ahead takes the plain gets that follow, skips blank lines and
// comments, keeps the first other line for next, and never reads a line
// that is not there yet.
func TestGetsAfterReadsOnlyWhatIsThere(t *testing.T) {
	lines := []string{"get a", "", "# c", "get b", "lls", "get c", "get d", "get e"}
	avail := 7 // "get e" has not come yet
	read := 0
	r := &scriptLines{script: Script{
		Next: func() (string, error) {
			if read == len(lines) {
				return "", io.EOF
			}
			read++
			return lines[read-1], nil
		},
		Ready: func() bool { return read < avail },
	}}
	first := r.next()
	if got := fmt.Sprint(r.getsAfter(first.scriptLine)); got != "[{1 get a} {4 get b}]" {
		t.Fatalf("first run: %s", got)
	}
	if l := r.next(); l.n != 5 || l.text != "lls" {
		t.Fatalf("after the first run: line %d %q, want 5 lls", l.n, l.text)
	}
	first = r.next()
	if got := fmt.Sprint(r.getsAfter(first.scriptLine)); got != "[{6 get c} {7 get d}]" || read != 7 {
		t.Fatalf("second run: %s, %d lines read (want 7: line 8 is not there)", got, read)
	}
	r.oneByOne([]scriptLine{{7, "get d"}})
	if l := r.next(); l.n != 7 || !l.oneByOne {
		t.Fatalf("put back: %+v", l)
	}
}
