// Command ftpx is the client of the ftpx file-transfer server: it lists,
// uploads and downloads files, verifying every transfer by MD5.
//
// This file holds main and the error reporting; commands.go defines the
// command line; the protocol and the cp-like destinations live in package
// client.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"ftpx/client"
)

const exitStatuses = `Exit status:
  0  everything asked for succeeded
  1  a transfer or command failed (the generic failure)
  2  usage error
  3  could not connect, or the connection was lost and retries ran out (worth retrying later)
  4  authentication failed
  5  quota exceeded
  6  MD5 verification failed
  130  interrupted by Ctrl-C (SIGINT): the same command, or ftpx resume, continues it (not put -)
When several things fail, the status is that of the first failure.`

// exitInterrupted is the status after Ctrl-C, as shells give a command
// killed by SIGINT (128 + 2).
const exitInterrupted = 130

func main() {
	// A run is short and its heap small: collecting a quarter as often
	// saves the CPU a batch of small files spent in the collector (7% of
	// a put -r of 10,000 files), for a few more MiB held.
	debug.SetGCPercent(400)
	// SIGINT is left to each command (see interruptible): the shell
	// handles it itself.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	code := run(ctx, os.Args, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes one command line and returns its exit status, having
// written every failure to stderr, one line each: "ftpx: put x: 264 ...".
func run(ctx context.Context, args []string, stdin *os.File, stdout, stderr io.Writer) int {
	err := newApp(stdin, stdout, stderr).RunContext(ctx, args)
	if interrupted.Load() {
		fmt.Fprintln(stderr, "ftpx: interrupted; "+onInterrupt)
		return exitInterrupted
	}
	var reported exitStatus
	if errors.As(err, &reported) {
		return int(reported)
	}
	for _, line := range client.ErrorLines(err) {
		fmt.Fprintln(stderr, "ftpx: "+line)
	}
	return client.ExitCode(err)
}

// onInterrupt is what the line after Ctrl-C says of the transfer: a
// command whose transfer cannot be continued sets its own.
var onInterrupt = "run the same command again, or ftpx resume, to continue"

// oneLine keeps a message on one line whatever it holds.
func oneLine(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c == '\n' || c == '\r' {
			b[i] = ' '
		}
	}
	return string(b)
}
