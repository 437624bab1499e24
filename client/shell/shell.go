package shell

import (
	"bufio"
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
}

// LinesOf returns the lines of r as a Script.
func LinesOf(r io.Reader) Script {
	br := bufioReader(r)
	return Script{Next: func() (string, error) {
		line, err := br.ReadString('\n')
		if err == io.EOF && line != "" {
			err = nil
		}
		return strings.TrimRight(line, "\r\n"), err
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
func (s *Shell) RunBatch(ctx context.Context, script Script) int {
	s.batch = true
	s.cfg.Progress = nil
	for n := 1; ; n++ {
		line, err := script.Next()
		if err == io.EOF {
			return client.ExitOK
		}
		if err != nil {
			fmt.Fprintf(s.errw, "ftpx: line %d: %s\n", n, oneLine(err.Error()))
			return client.ExitFailure
		}
		text := strings.TrimSpace(line)
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		mayFail := strings.HasPrefix(text, "-")
		if mayFail {
			text = strings.TrimSpace(text[1:])
		}
		s.line.Store(int64(n))
		err = s.Exec(ctx, text)
		if err == nil && ctx.Err() != nil {
			err = fmt.Errorf("%s: %w", firstWord(text), context.Cause(ctx))
		}
		for _, msg := range client.ErrorLines(err) {
			if !strings.HasPrefix(msg, text) {
				msg = client.Printable(text) + ": " + msg
			}
			fmt.Fprintf(s.errw, "ftpx: line %d: %s\n", n, msg)
		}
		if s.quitting {
			return client.ExitOK
		}
		if err != nil && !mayFail {
			return client.ExitCode(err)
		}
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

func bufioReader(r io.Reader) *bufio.Reader {
	if br, ok := r.(*bufio.Reader); ok {
		return br
	}
	return bufio.NewReader(r)
}

func homeDir() string {
	h, err := os.UserHomeDir()
	if err != nil {
		return "/"
	}
	return h
}
