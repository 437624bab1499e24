package shell

import "testing"

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
