// Package shell is ftpx's command interpreter: the interactive shell
// (line editing, history and tab completion from github.com/peterh/liner,
// Ctrl-C cancelling the running command) and the batch mode that runs a
// script, stopping at the first failure with its exit status.
//
// Every command has one method here, found through one table (commands.go)
// that also holds its usage and help. The one-shot file commands of
// cmd/ftpx (mkdir, rm, mv, stat, quota) run the same methods through
// Parse and Shell.Run, so both share one implementation.
//
// The package writes to the writers it is given and never exits the
// process; the transfers themselves are package client's.
package shell
