package shell

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"

	"github.com/peterh/liner"

	"ftpx/client"
	"ftpx/protocol"
)

// RunTerminal runs the interactive shell on the process's terminal
// (liner reads os.Stdin and writes the prompt to os.Stdout) until quit,
// Ctrl-D, or a lost connection the user does not want back (exit status
// 3); it returns the exit status. A failure is reported on one line and
// the session goes on. Ctrl-C cancels the running command and returns to
// the prompt (an interrupted transfer keeps its resume point); at the
// prompt it clears the line.
func (s *Shell) RunTerminal(ctx context.Context) int {
	ln := liner.NewLiner()
	defer ln.Close()
	ln.SetCtrlCAborts(true)
	ln.SetTabCompletionStyle(liner.TabPrints)
	ln.SetWordCompleter(func(line string, pos int) (string, []string, string) {
		return s.complete(ctx, line, pos)
	})
	s.loadHistory(ln)

	// Between prompts the terminal sends Ctrl-C as SIGINT: it cancels the
	// running command, not the shell.
	intr := make(chan os.Signal, 1)
	signal.Notify(intr, os.Interrupt)
	defer signal.Stop(intr)

	for ctx.Err() == nil {
		line, err := ln.Prompt(s.prompt())
		switch {
		case errors.Is(err, liner.ErrPromptAborted):
			continue
		case err == io.EOF:
			fmt.Fprintln(s.out)
			return client.ExitOK
		case err != nil:
			fmt.Fprintf(s.errw, "ftpx: shell: %v\n", err)
			return client.ExitFailure
		}
		if strings.TrimSpace(line) != "" {
			ln.AppendHistory(line)
			s.saveHistory(ln)
		}
		err = s.interruptible(ctx, intr, func(ctx context.Context) error { return s.Exec(ctx, line) })
		if s.quitting {
			return client.ExitOK
		}
		if err == nil {
			continue
		}
		s.report(err)
		if errors.Is(err, Interrupted) && strings.Contains(" get put resume ", " "+firstWord(line)+" ") {
			fmt.Fprintln(s.errw, "(the transfer can be resumed: run the same command again, or resume)")
		}
		if lostConnection(err) && !s.reconnect(ctx, ln, intr) {
			return client.ExitConnection
		}
	}
	return client.ExitFailure
}

// lostConnection reports whether err ended the connection (the server
// went away, or closed it with 270, 275, 276 or 285), rather than being
// the answer to a request in a session that goes on: 287 (the server's
// storage is unavailable) and 280 (a transfer busy) also exit 3, worth
// retrying later, but there is nothing to reconnect.
func lostConnection(err error) bool {
	if client.ExitCode(err) != client.ExitConnection || errors.Is(err, context.Canceled) {
		return false
	}
	var se *client.StatusError
	return !errors.As(err, &se) || se.Status != protocol.StatusUnavailable && se.Status != protocol.StatusTransferBusy
}

// reconnect asks whether to reconnect after the retries ran out, and
// does; it reports false when the user declines.
func (s *Shell) reconnect(ctx context.Context, ln *liner.State, intr <-chan os.Signal) bool {
	for ctx.Err() == nil {
		ans, err := ln.Prompt("connection lost; reconnect? [Y/n] ")
		if err != nil {
			return false
		}
		switch strings.ToLower(strings.TrimSpace(ans)) {
		case "n", "no":
			return false
		case "", "y", "yes":
		default:
			continue
		}
		if err := s.interruptible(ctx, intr, s.c.Reconnect); err != nil {
			s.report(err)
			continue
		}
		fmt.Fprintln(s.errw, "reconnected")
		return true
	}
	return false
}

// interruptible runs f with a context that Ctrl-C (a signal on intr)
// cancels with the cause Interrupted.
func (s *Shell) interruptible(parent context.Context, intr <-chan os.Signal, f func(context.Context) error) error {
	for len(intr) > 0 { // a Ctrl-C from before this command
		<-intr
	}
	ctx, cancel := context.WithCancelCause(parent)
	defer cancel(nil)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		select {
		case <-intr:
			cancel(Interrupted)
		case <-done:
		}
	}()
	err := f(ctx)
	close(done)
	wg.Wait()
	return err
}

// prompt is "user@server:/dir> ".
func (s *Shell) prompt() string {
	return fmt.Sprintf("%s@%s:%s> ", client.Printable(s.cfg.User), client.Printable(s.cfg.Server), client.Printable(s.c.Cwd()))
}

func (s *Shell) loadHistory(ln *liner.State) {
	if s.cfg.History == "" {
		return
	}
	if f, err := os.Open(s.cfg.History); err == nil {
		ln.ReadHistory(f)
		f.Close()
	}
}

// saveHistory rewrites the history file (liner keeps the last 1000
// lines), atomically.
func (s *Shell) saveHistory(ln *liner.State) {
	if s.cfg.History == "" {
		return
	}
	dir := filepath.Dir(s.cfg.History)
	if os.MkdirAll(dir, 0o700) != nil {
		return
	}
	f, err := os.CreateTemp(dir, ".history-*")
	if err != nil {
		return
	}
	_, err = ln.WriteHistory(f)
	if cerr := f.Close(); err == nil && cerr == nil {
		if os.Rename(f.Name(), s.cfg.History) == nil {
			return
		}
	}
	os.Remove(f.Name())
}
