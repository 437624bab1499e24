package shell

import (
	"context"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"ftpx/client"
)

// completionTimeout bounds how long tab waits for a remote listing.
const completionTimeout = 5 * time.Second

// complete is liner's word completer: the first word completes to a
// command, the others to remote or local paths as the command takes
// them (remote names come from a listing by the server). Names that
// cannot be typed (control characters) are never offered.
func (s *Shell) complete(ctx context.Context, line string, pos int) (head string, items []string, tail string) {
	runes := []rune(line)
	before, tail := string(runes[:pos]), string(runes[pos:])
	start := wordStart(before)
	head, partial := before[:start], unescape(before[start:])
	words, err := splitWords(head)
	if err != nil {
		return head, nil, tail
	}
	kind := completeCommands
	if len(words) > 0 {
		cmd := lookup(words[0].text)
		if cmd == nil {
			return head, nil, tail
		}
		kind = cmd.compl
	}
	var names []string // candidate completions of partial, unquoted; directories end in "/"
	switch {
	case len(words) > 0 && strings.HasPrefix(partial, "-"):
		for _, f := range lookup(words[0].text).long {
			names = append(names, "--"+strings.TrimSuffix(f, "="))
		}
	case kind == completeCommands:
		for n := range commands {
			names = append(names, n)
		}
	case kind == completeRemote, kind == completeRemoteDirs:
		names = s.remoteNames(ctx, partial, kind == completeRemoteDirs)
	case kind == completeLocal, kind == completeLocalDirs:
		names = localNames(partial, kind == completeLocalDirs)
	}
	sort.Strings(names)
	for _, n := range names {
		if strings.HasPrefix(n, partial) && n != partial {
			items = append(items, quoteWord(n))
		}
	}
	if len(items) == 1 && !strings.HasSuffix(items[0], "/") {
		items[0] += " "
	}
	return head, items, tail
}

// wordStart returns where the last word of s begins: after the last
// blank that no backslash escapes.
func wordStart(s string) int {
	start := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case ' ', '\t':
			start = i + 1
		}
	}
	return start
}

// unescape removes the backslashes of a partly typed word.
func unescape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// remoteNames lists the remote directory partial is in, as completions
// of partial.
func (s *Shell) remoteNames(ctx context.Context, partial string, dirsOnly bool) []string {
	if s.c == nil {
		return nil
	}
	dir, _ := path.Split(partial)
	ctx, cancel := context.WithTimeout(ctx, completionTimeout)
	defer cancel()
	where := dir
	if where == "" {
		where = "."
	}
	entries, err := s.c.Ls(ctx, where)
	if err != nil {
		return nil
	}
	var names []string
	for _, e := range entries {
		if !typable(e.Name) || dirsOnly && !e.IsDir {
			continue
		}
		n := dir + e.Name
		if e.IsDir {
			n += "/"
		}
		names = append(names, n)
	}
	return names
}

// localNames lists the local directory partial is in.
func localNames(partial string, dirsOnly bool) []string {
	dir, _ := filepath.Split(partial)
	where := dir
	if where == "" {
		where = "."
	}
	entries, err := os.ReadDir(where)
	if err != nil {
		return nil
	}
	var names []string
	for _, e := range entries {
		isDir := e.IsDir()
		if e.Type()&os.ModeSymlink != 0 {
			fi, err := os.Stat(filepath.Join(where, e.Name()))
			isDir = err == nil && fi.IsDir()
		}
		if !typable(e.Name()) || dirsOnly && !isDir {
			continue
		}
		n := dir + e.Name()
		if isDir {
			n += "/"
		}
		names = append(names, n)
	}
	return names
}

// typable reports whether a name can be offered on the command line.
func typable(name string) bool {
	return name != "" && client.Printable(name) == name
}
