package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync/atomic"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"ftpx/client"
	"ftpx/client/shell"
)

// shellCommands are "ftpx shell" and the one-shot file commands, which
// run the shell's own implementation of ls, mkdir, rm, mv, stat and quota
// (its flags too: ls -lhR is the same in both).
func (e *env) shellCommands(cmd func(*cli.Command) *cli.Command) []*cli.Command {
	file := func(name string, aliases ...string) *cli.Command {
		args, summary := shell.Usage(name)
		return cmd(&cli.Command{Name: name, Aliases: aliases, Usage: summary, ArgsUsage: args,
			SkipFlagParsing: true, Action: e.fileCommand(name)})
	}
	return []*cli.Command{
		file("ls"), file("mkdir"), file("rm"), file("mv"), file("stat"), file("quota", "df"),
		{
			Name:      "shell",
			Usage:     "an interactive session, or (stdin not a terminal, -c, -f) a batch script",
			ArgsUsage: " ",
			Description: "Interactive: a prompt with line editing, history (kept under the state dir) and tab completion;\n" +
				"Ctrl-C cancels the running command. Batch: one command a line, # comments; the first failure stops\n" +
				"the script with its exit status (\"ftpx: line N: ...\"), unless the line starts with \"-\".\n" +
				"Type help in the shell for the commands.",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "c", Usage: "run `COMMANDS` (separated by ; or newlines) and exit"},
				&cli.StringFlag{Name: "f", Usage: "run the commands of `SCRIPT` and exit"},
			},
			OnUsageError:    func(_ *cli.Context, err error, _ bool) error { return client.Usagef("%v", err) },
			HideHelpCommand: true,
			Action:          e.shell,
		},
	}
}

// fileCommand runs one shell command as a one-shot command: its
// arguments are checked before connecting.
func (e *env) fileCommand(name string) cli.ActionFunc {
	return func(c *cli.Context) error {
		call, err := shell.Parse(name, c.Args().Slice())
		if errors.Is(err, shell.ErrHelp) {
			return shell.Help(e.stdout, name)
		}
		if err != nil {
			return err
		}
		cl, err := e.connect(c)
		if err != nil {
			return err
		}
		defer cl.Close()
		cfg := e.shellConfig(c, cl)
		cfg.LongListing = true // ftpx ls is long by default, the shell's ls short
		return shell.New(cfg).Run(c.Context, call)
	}
}

func (e *env) shell(c *cli.Context) error {
	if c.NArg() > 0 {
		return client.Usagef("shell: unexpected argument %q (use -c 'CMD; CMD' or -f SCRIPT)", c.Args().First())
	}
	var script shell.Script
	interactive := false
	switch {
	case c.IsSet("c") && c.IsSet("f"):
		return client.Usagef("shell: give -c or -f, not both")
	case c.IsSet("c"):
		script = shell.Commands(c.String("c"))
	case c.IsSet("f"):
		f, err := os.Open(c.String("f"))
		if err != nil {
			return fmt.Errorf("shell -f %s: %w", client.Printable(c.String("f")), errors.Unwrap(err))
		}
		defer f.Close()
		script = shell.LinesOf(f)
	case isTerminal(e.stdin) && isTerminal(e.stdout):
		interactive = true
	default:
		script = shell.LinesOf(e.input())
	}
	cl, err := e.connect(c)
	if err != nil {
		return err
	}
	defer cl.Close()
	sh := shell.New(e.shellConfig(c, cl))
	if interactive {
		// The server's welcome is for people: shown here, never in
		// --json output or in batch mode.
		if w := cl.Greeting().Welcome; w != "" && !anyBool(c, "json") && !anyBool(c, "quiet") {
			for _, line := range strings.Split(strings.TrimRight(w, "\n"), "\n") {
				fmt.Fprintln(e.stdout, client.Printable(line)) // escaped: the server is not trusted
			}
		}
		return exitStatus(sh.RunTerminal(c.Context))
	}
	ctx, stop := cancelOnInterrupt(c.Context)
	defer stop()
	e.where = sh.Where
	return exitStatus(sh.RunBatch(ctx, script))
}

// shellConfig is what a shell (or a one-shot file command) works with.
func (e *env) shellConfig(c *cli.Context, cl *client.Client) shell.Config {
	cfg := shell.Config{Client: cl, Server: c.String("server"), User: c.String("user"),
		Stdout: e.stdout, Stderr: e.stderr, JSON: anyBool(c, "json")}
	opt := e.report(c, client.TransferOptions{})
	cfg.Progress, cfg.Warn = opt.Progress, opt.Warn
	if records, err := e.records(); err == nil {
		cfg.Records, cfg.History = records, filepath.Join(records.Dir, "history")
	}
	return cfg
}

// exitStatus is a status already reported: run exits with it and prints
// nothing more.
type exitStatus int

func (s exitStatus) Error() string { return "" }

func isTerminal(v any) bool {
	f, ok := v.(*os.File)
	return ok && f != nil && term.IsTerminal(int(f.Fd()))
}

// interruptible makes Ctrl-C (SIGINT) cancel a one-shot command. The
// interactive shell handles it itself: there, it cancels only the
// running command.
func interruptible(c *cli.Command) {
	var stop func()
	c.Before = func(x *cli.Context) error {
		x.Context, stop = cancelOnInterrupt(x.Context)
		return nil
	}
	c.After = func(*cli.Context) error {
		if stop != nil {
			stop()
		}
		return nil
	}
}

// interrupted is set when Ctrl-C cancelled a one-shot command or a batch
// script: it exits 130, saying how to continue.
var interrupted atomic.Bool

// cancelOnInterrupt returns ctx cancelled by the first SIGINT (which sets
// interrupted), and the function that stops listening for it.
func cancelOnInterrupt(parent context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancel(parent)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt)
	go func() {
		select {
		case <-sig:
			interrupted.Store(true)
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, func() {
		signal.Stop(sig)
		cancel()
	}
}
