package sftpd

import (
	"slices"
	"strings"
	"testing"
)

// FuzzSplitWords: any command line a client sends splits without a panic,
// and the words it gives, quoted again, split back into the same words.
func FuzzSplitWords(f *testing.F) {
	for _, s := range []string{"md5sum a", `md5sum 'a b' "c\"d" e\ f`, "md5sum '", `"\`, "a\\\nb", "", "\t \n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		words, err := splitWords(line)
		if err != nil {
			return
		}
		quoted := make([]string, len(words))
		for i, w := range words {
			quoted[i] = "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
		}
		again, err := splitWords(strings.Join(quoted, " "))
		if err != nil || !slices.Equal(again, words) {
			t.Fatalf("%q: words %q, quoted and split again %q (%v)", line, words, again, err)
		}
	})
}
