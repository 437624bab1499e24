package shell

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"ftpx/client"
)

func TestSplitWordsQuotesAndGlobs(t *testing.T) {
	for _, tc := range []struct {
		line  string
		texts []string
		globs []bool
		pats  []string
	}{
		{line: "put  a.txt\tb", texts: []string{"put", "a.txt", "b"}, globs: []bool{false, false, false}},
		{line: `put "my file.txt" 'it''s'`, texts: []string{"put", "my file.txt", "its"}, globs: []bool{false, false, false}},
		{line: `put *.log`, texts: []string{"put", "*.log"}, globs: []bool{false, true}, pats: []string{"put", "*.log"}},
		{line: `put "*".log`, texts: []string{"put", "*.log"}, globs: []bool{false, false}, pats: []string{"put", `\*.log`}},
		{line: `get a\ b*`, texts: []string{"get", "a b*"}, globs: []bool{false, true}, pats: []string{"get", "a b*"}},
		{line: `rm "a\"b"`, texts: []string{"rm", `a"b`}, globs: []bool{false, false}},
		{line: `ls ""`, texts: []string{"ls", ""}, globs: []bool{false, false}},
		{line: "   ", texts: []string{}, globs: []bool{}},
	} {
		words, err := splitWords(tc.line)
		if err != nil {
			t.Fatalf("%q: %v", tc.line, err)
		}
		texts, globs, pats := []string{}, []bool{}, []string{}
		for _, w := range words {
			texts, globs, pats = append(texts, w.text), append(globs, w.glob), append(pats, w.pattern)
		}
		if !slices.Equal(texts, tc.texts) || !slices.Equal(globs, tc.globs) || tc.pats != nil && !slices.Equal(pats, tc.pats) {
			t.Errorf("%q: texts %q globs %v patterns %q", tc.line, texts, globs, pats)
		}
	}
	for _, bad := range []string{`put "a`, `put 'a`, `put a\`} {
		if _, err := splitWords(bad); client.ExitCode(err) != client.ExitUsage {
			t.Errorf("%q: %v, want a usage error", bad, err)
		}
	}
}

func TestSplitCommandsKeepsQuotedSemicolons(t *testing.T) {
	got := splitCommands(`mkdir a; put "x;y" 'p;q'; ls a\;b` + "\nquit")
	want := []string{"mkdir a", ` put "x;y" 'p;q'`, ` ls a\;b`, "quit"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestParseChecksFlagsAndArguments(t *testing.T) {
	for _, tc := range []struct {
		args  []string
		ok    bool
		flags []string
		pos   []string
	}{
		{args: []string{"mkdir", "-p", "a", "b"}, ok: true, flags: []string{"p"}, pos: []string{"a", "b"}},
		{args: []string{"rm", "-r", "--", "-odd"}, ok: true, flags: []string{"r"}, pos: []string{"-odd"}},
		{args: []string{"put", "-r", "--to", "dir", "a"}, ok: true, flags: []string{"r", "to"}, pos: []string{"a"}},
		{args: []string{"put", "--to=dir", "a"}, ok: true, flags: []string{"to"}, pos: []string{"a"}},
		{args: []string{"ls", "a", "-l"}, ok: false}, // flags come first: "-l" is a second path
		{args: []string{"df", "--json"}, ok: true, flags: []string{"json"}},
		{args: []string{"ls", "-lhR", "d"}, ok: true, flags: []string{"l", "h", "R"}, pos: []string{"d"}},
		{args: []string{"ls", "-h", "-R"}, ok: true, flags: []string{"h", "R"}}, // -h: sizes, not help
		{args: []string{"ls", "-lr"}},
		{args: []string{"mkdir"}},
		{args: []string{"mv", "a"}},
		{args: []string{"mv", "a", "b", "c"}},
		{args: []string{"rm", "-x", "a"}},
		{args: []string{"stat", "--bogus", "a"}},
		{args: []string{"put", "--to"}},
		{args: []string{"frobnicate"}},
	} {
		a, err := Parse(tc.args[0], tc.args[1:])
		if !tc.ok {
			if client.ExitCode(err) != client.ExitUsage {
				t.Errorf("%q: %v, want a usage error", tc.args, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%q: %v", tc.args, err)
		}
		for _, f := range tc.flags {
			if !a.has(f) {
				t.Errorf("%q: flag %s not set", tc.args, f)
			}
		}
		if got := a.texts(); !slices.Equal(got, tc.pos) && len(got)+len(tc.pos) > 0 {
			t.Errorf("%q: arguments %q, want %q", tc.args, got, tc.pos)
		}
	}
	for _, args := range [][]string{{"stat", "--help"}, {"mkdir", "-h"}, {"ls", "--help"}} {
		if _, err := Parse(args[0], args[1:]); !errors.Is(err, ErrHelp) {
			t.Errorf("%q: %v, want help", args, err)
		}
	}
}

func TestLocalCommandsNeedNoServer(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	os.Mkdir("sub", 0o755)
	os.WriteFile(filepath.Join("sub", "f.txt"), []byte("hello"), 0o644)
	var out, errOut bytes.Buffer
	s := New(Config{Stdout: &out, Stderr: &errOut})
	code := s.RunBatch(context.Background(), Commands("lcd sub; lpwd; lls; help mv; ls"))
	if code != client.ExitFailure {
		t.Fatalf("exit %d, want 1 (ls needs a server)", code)
	}
	wd, _ := os.Getwd()
	if !strings.HasPrefix(out.String(), wd+"\nf.txt\nusage: mv SRC DST\n") {
		t.Errorf("stdout %q", out.String())
	}
	if errOut.String() != "ftpx: line 5: ls: not connected\n" {
		t.Errorf("stderr %q", errOut.String())
	}
}

func TestCompletionOffersCommandsAndLocalNames(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	os.Mkdir("some dir", 0o755)
	os.WriteFile("some.txt", nil, 0o644)
	s := New(Config{})
	if head, items, _ := s.complete(context.Background(), "mk", 2); head != "" || !slices.Equal(items, []string{"mkdir "}) {
		t.Errorf("command: %q %q", head, items)
	}
	head, items, tail := s.complete(context.Background(), "lcd so x", 6)
	if head != "lcd " || tail != " x" || !slices.Equal(items, []string{`some\ dir/`}) {
		t.Errorf("lcd: %q %q %q", head, items, tail)
	}
	if _, items, _ := s.complete(context.Background(), "put some", 8); !slices.Equal(items, []string{`some\ dir/`, "some.txt"}) {
		t.Errorf("put: %q", items)
	}
}
