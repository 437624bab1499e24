// Command ftpx-server is the ftpx daemon. It only turns flags and the
// config file into a server.Server and runs it; see package server.
package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"ftpx/internal/buildinfo"

	"github.com/urfave/cli/v2"
)

func main() {
	// SIGINT and SIGTERM are serve's to catch (see serve): a user add
	// waiting for a password still dies on Ctrl-C.
	os.Exit(run(context.Background(), os.Args, os.Stdin, os.Stdout, os.Stderr))
}

// run executes one command line and returns its exit status: 0, or 1
// after one line "ftpx-server: what is wrong" on stderr. serve runs until
// ctx ends or a SIGINT or SIGTERM comes.
func run(ctx context.Context, args []string, stdin *os.File, stdout, stderr io.Writer) int {
	if err := newApp(stdin, stdout, stderr).RunContext(ctx, args); err != nil {
		fmt.Fprintln(stderr, "ftpx-server:", err)
		return 1
	}
	return 0
}

// newApp defines the command line; what the commands read and print goes
// through stdin, stdout and stderr (the app's Reader, Writer, ErrWriter).
func newApp(stdin *os.File, stdout, stderr io.Writer) *cli.App {
	flags := serveFlags()
	app := &cli.App{
		Name:            "ftpx-server",
		Version:         buildinfo.String(),
		Usage:           "serve files over the ftpx protocol, every transfer verified by MD5",
		HideHelpCommand: true,
		// --folder NAME=DIR:read,write: commas belong to the value.
		DisableSliceFlagSeparator: true,
		EnableBashCompletion:      false,
		Reader:                    stdin,
		Writer:                    stdout,
		ErrWriter:                 stderr,
		Flags:                     flags,
		Action:                    serve,
		Commands: []*cli.Command{
			{Name: "serve", Usage: "run the server (the default)", Flags: flags, Action: serve},
			userCommand,
			partialsCommand,
		},
		ExitErrHandler: func(*cli.Context, error) {}, // run reports errors and exits
		OnUsageError:   usageError,
	}
	for _, cmd := range append(append(app.Commands, userCommand.Subcommands...), partialsCommand.Subcommands...) {
		cmd.OnUsageError = usageError
	}
	return app
}

// usageError turns a bad flag into one line, instead of the help text.
func usageError(_ *cli.Context, err error, _ bool) error {
	return fmt.Errorf("%w (see ftpx-server --help)", err)
}
