// Command ftpx-server is the ftpx daemon. It only turns flags and the
// config file into a server.Server and runs it; see package server.
package main

import (
	"fmt"
	"ftpx/internal/buildinfo"
	"os"

	"github.com/urfave/cli/v2"
)

func main() {
	app := &cli.App{
		Name:            "ftpx-server",
		Version:         buildinfo.String(),
		Usage:           "serve files over the ftpx protocol, every transfer verified by MD5",
		HideHelpCommand: true,
		// --folder NAME=DIR:read,write: commas belong to the value.
		DisableSliceFlagSeparator: true,
		EnableBashCompletion:      false,
		Flags:                     serveFlags,
		Action:                    serve,
		Commands: []*cli.Command{
			{Name: "serve", Usage: "run the server (the default)", Flags: serveFlags, Action: serve},
			userCommand,
			partialsCommand,
		},
		ExitErrHandler: func(*cli.Context, error) {},
		OnUsageError:   usageError,
	}
	for _, cmd := range append(append(app.Commands, userCommand.Subcommands...), partialsCommand.Subcommands...) {
		cmd.OnUsageError = usageError
	}
	if err := app.Run(os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "ftpx-server:", err)
		os.Exit(1)
	}
}

// usageError turns a bad flag into one line, instead of the help text.
func usageError(_ *cli.Context, err error, _ bool) error {
	return fmt.Errorf("%w (see ftpx-server --help)", err)
}
