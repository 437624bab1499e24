package shell

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"

	"ftpx/client"
)

// Config is what a Shell works with.
type Config struct {
	Client *client.Client // logged in; nil for commands that need no server
	Server string         // host:port, for the prompt and the resume points
	User   string
	// Records holds the resume points (resume); nil: none.
	Records *client.Records
	// History, when set, is the file the interactive shell keeps its
	// history in.
	History string

	Stdout, Stderr io.Writer
	JSON           bool // results as JSON (ls, stat, quota, one line per transfer)
	// LongListing makes ls long without -l: the one-shot ftpx ls, whose
	// default it is.
	LongListing bool
	// Progress, when set, returns the progress display of one transfer.
	// Batch mode never shows progress.
	Progress func(remote string) client.Progress
	// Warn, when set, is told what a transfer skipped (symlinked
	// directories, special files), one line.
	Warn func(msg string)
}

// Shell runs command lines against one client.
type Shell struct {
	cfg      Config
	c        *client.Client
	out      io.Writer
	errw     io.Writer
	batch    bool
	quitting bool
	line     atomic.Int64 // the line of the batch script running, 0 outside one
	gets     heldGets     // a batch script's consecutive gets
	// listings: what the runs of gets since the last other line listed
	// (runGets); nil after any other line, which may change remote files.
	listings *client.Listings
}

// New returns a shell for cfg.
func New(cfg Config) *Shell {
	return &Shell{cfg: cfg, c: cfg.Client, out: cfg.Stdout, errw: cfg.Stderr}
}

// Run runs a parsed command.
func (s *Shell) Run(ctx context.Context, a *Call) (err error) {
	if !a.cmd.local && s.c == nil {
		return fmt.Errorf("%s: not connected", a.cmd.name)
	}
	return a.cmd.run(s, ctx, a)
}

// Exec parses and runs one command line; a blank line does nothing.
func (s *Shell) Exec(ctx context.Context, line string) error {
	words, err := splitWords(line)
	if err != nil || len(words) == 0 {
		return err
	}
	a, err := parseWords(words[0].text, words[1:])
	if errors.Is(err, ErrHelp) {
		return Help(s.out, words[0].text)
	}
	if err != nil {
		return err
	}
	return s.Run(ctx, a)
}

// Script reads a script: one command a line; blank lines and lines
// starting with "#" are skipped.
type Script struct {
	Next func() (string, error) // the next line, io.EOF at the end
	// Ready reports whether Next would return without waiting for input;
	// nil: it never waits.
	Ready func() bool
}

// LinesOf returns the lines of r as a Script.
func LinesOf(r io.Reader) Script {
	br := bufio.NewReaderSize(r, 64<<10) // room for a run of gets (runGets)
	return Script{Next: func() (string, error) {
		line, err := br.ReadString('\n')
		if err == io.EOF && line != "" {
			err = nil
		}
		return strings.TrimRight(line, "\r\n"), err
	}, Ready: func() bool {
		b, _ := br.Peek(br.Buffered())
		return bytes.IndexByte(b, '\n') >= 0
	}}
}

// Commands returns the commands of "ftpx shell -c": separated by ";" or
// newlines.
func Commands(text string) Script {
	lines := splitCommands(text)
	return Script{Next: func() (string, error) {
		if len(lines) == 0 {
			return "", io.EOF
		}
		l := lines[0]
		lines = lines[1:]
		return l, nil
	}}
}

// RunBatch runs a script with no prompt and no progress, stopping at the
// first failure: it reports it on stderr as "ftpx: line N: ..." and
// returns its exit status. A line starting with "-" may fail without
// stopping the script (its failure is still reported). It returns 0 when
// the script ends or runs quit.
//
// Consecutive gets of one file each are made durable and named together
// (client.GetGroup), their output held until then: the files wait until
// a line that is not such a get, the end of the script, a failure, or a
// wait for the next line (a program may feed the script a line at a
// time), and those report only once every file of the lines before them
// is in place.
// A run of plain gets of small files to new local names goes pipelined
// (runGets).
func (s *Shell) RunBatch(ctx context.Context, script Script) int {
	s.batch = true
	s.cfg.Progress = nil
	s.gets = heldGets{group: client.NewGetGroup()}
	lines := &scriptLines{script: script}
	for {
		if s.gets.group.Len() > 0 && !lines.ready() {
			// The next line is not there yet: whoever feeds the script
			// may be waiting for what the gets before it did.
			if code := s.flushGets(); code != client.ExitOK {
				return code
			}
		}
		l := lines.next()
		n, text, err := l.n, l.text, l.err
		if err == io.EOF {
			return s.flushGets()
		}
		if err != nil {
			if code := s.flushGets(); code != client.ExitOK {
				return code
			}
			fmt.Fprintf(s.errw, "ftpx: line %d: %s\n", n, oneLine(err.Error()))
			return client.ExitFailure
		}
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		if s.c != nil && !l.oneByOne && plainGet(text) {
			if code, stop := s.runGets(ctx, lines, l.scriptLine); stop {
				return code
			}
			continue
		}
		s.gets.joining = joinsGroup(text)
		if !s.gets.joining {
			if code := s.flushGets(); code != client.ExitOK {
				return code
			}
		}
		if !plainGet(text) {
			s.listings = nil
		}
		mayFail := strings.HasPrefix(text, "-")
		if mayFail {
			text = strings.TrimSpace(text[1:])
		}
		s.line.Store(int64(n))
		mark := s.gets.group.Queued()
		err = s.Exec(ctx, text)
		if err == nil && ctx.Err() != nil {
			err = fmt.Errorf("%s: %w", firstWord(text), context.Cause(ctx))
		}
		if ge := (*client.GroupError)(nil); errors.As(err, &ge) {
			return s.groupFailed(ge) // a get before this line failed: this one did not run
		}
		s.gets.ran(scriptLine{n, text}, mark)
		if err != nil && !mayFail {
			if code := s.flushGets(); code != client.ExitOK {
				return code
			}
		}
		s.reportLine(scriptLine{n, text}, err)
		if s.quitting {
			return client.ExitOK
		}
		if err != nil && !mayFail {
			return client.ExitCode(err)
		}
	}
}

// heldGets is what a batch script's consecutive gets share: the group
// their files wait in, and the lines they came from (lines[i] queued the
// group's file number base+i).
type heldGets struct {
	group   *client.GetGroup
	joining bool // the line running may leave its file in the group
	lines   []scriptLine
	base    int
}

// ran notes the line that just ran when it left a file in the group
// (which had queued mark files before it), and forgets the lines whose
// files are in place.
func (g *heldGets) ran(l scriptLine, mark int) {
	if g.group.Queued() > mark {
		g.lines = append(g.lines, l)
	}
	g.trim()
}

// trim forgets the lines whose files the group has put in place.
func (g *heldGets) trim() {
	placed := g.group.Queued() - g.group.Len()
	g.lines, g.base = g.lines[placed-g.base:], placed
}

// scriptLine is a line of a batch script: its number and its command.
type scriptLine struct {
	n    int
	text string
}

// joinsGroup reports whether a script line (trimmed) may leave its file
// waiting in the group of gets: a get that stops the script when it
// fails. Any other line (one starting with "-" too) runs once the files
// waiting are in place.
func joinsGroup(text string) bool {
	return firstWord(text) == "get"
}

// flushGets puts the files waiting in the group in place and prints what
// their lines print; when one cannot be, it reports it under its line and
// returns its exit status.
func (s *Shell) flushGets() int {
	g := &s.gets
	if g.group == nil {
		return client.ExitOK
	}
	err := g.group.Flush()
	if ge := (*client.GroupError)(nil); errors.As(err, &ge) {
		return s.groupFailed(ge)
	}
	g.trim()
	return client.ExitOK
}

// groupFailed reports a file of the group that could not be put in place
// under the line that got it, and returns its exit status.
func (s *Shell) groupFailed(ge *client.GroupError) int {
	s.reportLine(s.gets.lines[ge.Index-s.gets.base], ge.Err)
	return client.ExitCode(ge.Err)
}

// reportLine prints each failure err holds as "ftpx: line N: COMMAND: ...".
func (s *Shell) reportLine(l scriptLine, err error) {
	for _, msg := range client.ErrorLines(err) {
		if !strings.HasPrefix(msg, l.text) {
			msg = client.Printable(l.text) + ": " + msg
		}
		fmt.Fprintf(s.errw, "ftpx: line %d: %s\n", l.n, msg)
	}
}

// Where is "line N: " while a batch script runs its line N, else "": what
// the script's failure lines start with, for the lines printed from
// elsewhere while it runs (a retry of a lost connection).
func (s *Shell) Where() string {
	if n := s.line.Load(); n > 0 {
		return fmt.Sprintf("line %d: ", n)
	}
	return ""
}

// report prints each failure an error joins on its own line.
func (s *Shell) report(err error) {
	for _, line := range client.ErrorLines(err) {
		fmt.Fprintln(s.errw, line)
	}
}

// oneLine keeps a message on one line whatever it holds.
func oneLine(s string) string {
	return strings.NewReplacer("\n", " ", "\r", " ").Replace(s)
}

// Interrupted is the cause of a command cancelled by Ctrl-C. It counts as
// a cancellation (errors.Is(err, context.Canceled)), so an interrupted
// transfer keeps its resume point.
var Interrupted error = interrupted{}

type interrupted struct{}

func (interrupted) Error() string        { return "interrupted" }
func (interrupted) Is(target error) bool { return target == context.Canceled }

// transferOptions adds the progress display, the warnings and, with
// JSON, one line per finished transfer.
func (s *Shell) transferOptions(opt client.TransferOptions, asJSON bool) client.TransferOptions {
	opt.Progress, opt.Warn = s.cfg.Progress, s.cfg.Warn
	switch {
	case s.cfg.JSON || asJSON:
		opt.Progress = nil
		enc := json.NewEncoder(s.out)
		opt.Done = func(r client.Result) { enc.Encode(r) }
		opt.Removed = func(r client.Removal) { enc.Encode(r) }
	case opt.DryRun:
		opt.Progress = nil
		opt.Done = func(r client.Result) { fmt.Fprintln(s.out, DryRunLine(r)) }
		opt.Removed = func(r client.Removal) { fmt.Fprintln(s.out, RemovalLine(r)) }
	}
	return opt
}

func homeDir() string {
	h, err := os.UserHomeDir()
	if err != nil {
		return "/"
	}
	return h
}
