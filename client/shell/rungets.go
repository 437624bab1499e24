package shell

import (
	"context"
	"errors"
	"strings"

	"ftpx/client"
)

// A batch script's run of plain gets ("get REMOTE [LOCAL]", one after
// the other) is read ahead and given to client.GetRun, which gets the
// leading ones it can pipelined; the lines it leaves run one by one as
// before (GetGroup). Reading ahead never waits for input: a program that
// feeds the script a line at a time still sees each line run.

// runMax is the most lines of gets read ahead at a time: a GetGroup's.
const runMax = 512

// scriptLines reads a script's lines and keeps those read ahead.
type scriptLines struct {
	script Script
	n      int        // the number of the last line read from the script
	ahead  []readLine // read, not yet run
}

// readLine is one line of a script, or the failure to read it.
type readLine struct {
	scriptLine
	err      error
	oneByOne bool // a get to run without read-ahead: a run left it
}

// next returns the next line to run.
func (r *scriptLines) next() readLine {
	if len(r.ahead) > 0 {
		l := r.ahead[0]
		r.ahead = r.ahead[1:]
		return l
	}
	r.n++
	text, err := r.script.Next()
	return readLine{scriptLine: scriptLine{r.n, strings.TrimSpace(text)}, err: err}
}

// ready reports whether next returns without waiting for input.
func (r *scriptLines) ready() bool {
	return len(r.ahead) > 0 || r.script.Ready == nil || r.script.Ready()
}

// getsAfter returns first and the plain gets that follow it, as far as
// they can be read without waiting (blank lines and comments skipped); the
// first other line stays to be run next.
func (r *scriptLines) getsAfter(first scriptLine) []scriptLine {
	run := []scriptLine{first}
	for len(run) < runMax && r.ready() {
		l := r.next()
		switch {
		case l.err == nil && (l.text == "" || strings.HasPrefix(l.text, "#")):
			continue
		case l.err != nil || l.oneByOne || !plainGet(l.text):
			r.ahead = append([]readLine{l}, r.ahead...)
			return run
		}
		run = append(run, l.scriptLine)
	}
	return run
}

// oneByOne puts lines back, to run next, each on its own.
func (r *scriptLines) oneByOne(lines []scriptLine) {
	back := make([]readLine, len(lines), len(lines)+len(r.ahead))
	for i, l := range lines {
		back[i] = readLine{scriptLine: l, oneByOne: true}
	}
	r.ahead = append(back, r.ahead...)
}

// plainGet reports whether a script line (trimmed) is "get REMOTE
// [LOCAL]": no flag, no pattern.
func plainGet(text string) bool {
	_, ok := plainGetArgs(text)
	return ok
}

// plainGetArgs returns what a plain get gets (see plainGet).
func plainGetArgs(text string) (client.OneGet, bool) {
	words, err := splitWords(text)
	if err != nil || len(words) < 2 || len(words) > 3 || words[0].text != "get" {
		return client.OneGet{}, false
	}
	g := client.OneGet{Remote: words[1].text}
	if len(words) == 3 {
		g.Local = words[2].text
	}
	for _, w := range words[1:] {
		if w.glob || strings.HasPrefix(w.text, "-") {
			return client.OneGet{}, false
		}
	}
	return g, true
}

// runGets runs first, a plain get, with the plain gets read after it:
// those client.GetRun gets pipelined are reported as their lines would
// be; it puts the others back to run one by one. With stop, the script
// ends with code: a file could not be got.
func (s *Shell) runGets(ctx context.Context, r *scriptLines, first scriptLine) (code int, stop bool) {
	run := r.getsAfter(first)
	if code := s.flushGets(); code != client.ExitOK {
		r.oneByOne(run) // never run: the script ends here
		return code, true
	}
	gets := make([]client.OneGet, len(run))
	for i, l := range run {
		gets[i], _ = plainGetArgs(l.text)
	}
	s.line.Store(int64(first.n))
	done := s.transferOptions(client.TransferOptions{}, false).Done
	if s.listings == nil {
		s.listings = &client.Listings{}
	}
	n, err := s.c.GetRun(ctx, gets, s.listings, func(_ int, res client.Result) {
		if done != nil {
			done(res)
		}
	})
	if ge := (*client.GroupError)(nil); errors.As(err, &ge) {
		s.reportLine(run[ge.Index], ge.Err)
		return client.ExitCode(ge.Err), true
	}
	r.oneByOne(run[n:])
	return client.ExitOK, false
}
