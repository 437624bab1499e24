package shell

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"ftpx/client"
)

// command is one entry of the table: its usage, its help, the flags it
// takes and the method that runs it.
type command struct {
	name    string
	args    string // the usage after the name
	summary string
	detail  string
	bools   string   // one-letter boolean flags: "-l", "-rp"
	long    []string // long flags; a name ending in "=" takes a value ("--to DIR")
	min     int      // positional arguments
	max     int      // -1: any number
	local   bool     // needs no server
	compl   completion
	run     func(s *Shell, ctx context.Context, a *Call) error
}

// completion says what tab completes in a command's arguments.
type completion int

const (
	completeNothing completion = iota
	completeRemote
	completeRemoteDirs
	completeLocal
	completeLocalDirs
	completeCommands
)

var commands map[string]*command

var aliases = map[string]string{"df": "quota", "exit": "quit", "bye": "quit", "?": "help", "dir": "ls"}

func init() {
	commands = map[string]*command{}
	for _, c := range []*command{
		{name: "ls", args: "[-l] [-h] [-R] [--json] [PATH]", summary: "list a remote directory (-l: type, size, mtime; -h: sizes in KB, MB...; -R: recursive)",
			detail: "The shell's ls shows names (directories end in /); ftpx ls is long (-l) by default. -h shows sizes\nin B, KB, MB, GB, TB (powers of 1024), as stat and quota do. -R lists every directory under PATH,\neach under a PATH: line, as ls -R does; with --json, one array whose names are paths relative to\nPATH. Flags combine: ls -lhR.",
			bools:  "lhR", long: []string{"json"}, max: 1, compl: completeRemote, run: (*Shell).ls},
		{name: "cd", args: "[PATH]", summary: "change the remote directory (no PATH: the home root)", max: 1, compl: completeRemoteDirs, run: (*Shell).cd},
		{name: "pwd", summary: "print the remote directory", run: (*Shell).pwd},
		{name: "get", args: "[-r] [--delete] [-c|--checksum] [-I|--ignore-times] [-n|--dry-run] [--json] [--to LOCAL_DIR] REMOTE... [LOCAL]", summary: "download files, or trees with -r (REMOTE may be a pattern: get *.log)",
			detail: "Destinations follow cp: one file lands at LOCAL, or inside it when it is a directory; several land\ninside LOCAL, which must be a directory (default: the local directory). --to creates LOCAL_DIR.\n-r copies remote trees, empty directories included: get -r DIR lands at DIR, or inside LOCAL when it\nis an existing directory; names from the server never leave it, and local symlinks are not followed.\nFiles keep the server's mtime. With -r, files the local tree has (same size and mtime) are skipped\nand older versions are updated by a delta; " + syncHelp + "\nAn interrupted get resumes when run again.",
			bools:  "rcIn", long: []string{"to=", "json", "delete", "checksum", "ignore-times", "dry-run"}, min: 1, max: -1, compl: completeRemote, run: (*Shell).get},
		{name: "put", args: "[-r] [--delete] [-c|--checksum] [-I|--ignore-times] [-n|--dry-run] [--json] [--to REMOTE_DIR] LOCAL... [REMOTE]", summary: "upload files, or trees with -r (LOCAL may be a pattern: put *.log)",
			detail: "Destinations follow cp: one file lands at REMOTE, or inside it when it is a directory; several land\ninside REMOTE, which must be a directory (default: the remote directory). --to creates REMOTE_DIR,\nand put -r --to DIR TREE always syncs into DIR/TREE. Files keep their mtime. With -r, files the\nserver has (same size and mtime) are skipped and older versions are updated by a delta; " + syncHelp + "\nA batch is refused up front when it cannot fit in the quota.",
			bools:  "rcIn", long: []string{"to=", "json", "delete", "checksum", "ignore-times", "dry-run"}, min: 1, max: -1, compl: completeLocal, run: (*Shell).put},
		{name: "resume", args: "[--list] [--json]", summary: "continue every interrupted transfer to this server", long: []string{"list", "json"}, run: (*Shell).resume},
		{name: "mkdir", args: "[-p] PATH...", summary: "make remote directories (-p: with parents, no error if they exist)", bools: "p", min: 1, max: -1, compl: completeRemoteDirs, run: (*Shell).mkdir},
		{name: "rm", args: "[-r] PATH...", summary: "remove remote files or empty directories (-r: whole trees; PATH may be a pattern: rm *.tmp)", bools: "r", min: 1, max: -1, compl: completeRemote, run: (*Shell).rm},
		{name: "mv", args: "SRC DST", summary: "rename or move a remote file or directory (into DST when it is a directory)", min: 2, max: 2, compl: completeRemote, run: (*Shell).mv},
		{name: "stat", args: "[--json] PATH...", summary: "show size, mtime and MD5 (computed by the server)", long: []string{"json"}, min: 1, max: -1, compl: completeRemote, run: (*Shell).stat},
		{name: "quota", args: "[--json]", summary: "show the space used and the quota (alias: df)", long: []string{"json"}, run: (*Shell).quota},
		{name: "lcd", args: "[DIR]", summary: "change the local directory (no DIR: your home)", max: 1, local: true, compl: completeLocalDirs, run: (*Shell).lcd},
		{name: "lls", args: "[-l] [-h] [PATH]", summary: "list a local directory", bools: "lh", max: 1, local: true, compl: completeLocal, run: (*Shell).lls},
		{name: "lpwd", summary: "print the local directory", local: true, run: (*Shell).lpwd},
		{name: "help", args: "[CMD]", summary: "list the commands, or explain one", max: 1, local: true, compl: completeCommands, run: (*Shell).help},
		{name: "quit", summary: "end the session (also: exit, bye, Ctrl-D)", local: true, run: (*Shell).quit},
	} {
		commands[c.name] = c
	}
}

func lookup(name string) *command {
	if a, ok := aliases[name]; ok {
		name = a
	}
	return commands[name]
}

// Call is a parsed command line, ready to run.
type Call struct {
	cmd   *command
	flags map[string]string
	args  []word
}

func (a *Call) has(flag string) bool { _, ok := a.flags[flag]; return ok }

// texts returns the positional arguments as typed (unquoted).
func (a *Call) texts() []string {
	out := make([]string, len(a.args))
	for i, w := range a.args {
		out[i] = w.text
	}
	return out
}

// ErrHelp is returned by Parse for -h or --help: show Help(name).
var ErrHelp = errors.New("help requested")

// Parse checks a command and its arguments without touching the network:
// an unknown command, flag or a wrong number of arguments is a
// *client.UsageError. Flags come before the other arguments; "--" ends
// them.
func Parse(name string, args []string) (*Call, error) {
	return parseWords(name, argWords(args))
}

func parseWords(name string, words []word) (*Call, error) {
	cmd := lookup(name)
	if cmd == nil {
		return nil, client.Usagef("%s: unknown command (try help)", client.Printable(name))
	}
	a := &Call{cmd: cmd, flags: map[string]string{}}
	for i := 0; i < len(words); i++ {
		w := words[i].text
		switch {
		case w == "--":
			a.args = append(a.args, words[i+1:]...)
			i = len(words)
		case w == "--help" || w == "-h" && !strings.ContainsRune(cmd.bools, 'h'): // ls -h is for sizes
			return nil, ErrHelp
		case strings.HasPrefix(w, "--"):
			flag, value, hasValue := strings.Cut(w[2:], "=")
			switch {
			case contains(cmd.long, flag):
				if hasValue {
					return nil, client.Usagef("%s: --%s takes no value", cmd.name, flag)
				}
				a.flags[flag] = ""
			case contains(cmd.long, flag+"="):
				if !hasValue {
					if i+1 >= len(words) {
						return nil, client.Usagef("%s: --%s needs a value", cmd.name, flag)
					}
					i++
					value = words[i].text
				}
				if value == "" {
					return nil, client.Usagef("%s: --%s needs a value", cmd.name, flag)
				}
				a.flags[flag] = value
			default:
				return nil, client.Usagef("%s: unknown flag %s (usage: %s)", cmd.name, client.Printable(w), usage(cmd))
			}
		case strings.HasPrefix(w, "-") && len(w) > 1 && len(a.args) == 0:
			for _, r := range w[1:] {
				if !strings.ContainsRune(cmd.bools, r) {
					return nil, client.Usagef("%s: unknown flag -%c (usage: %s)", cmd.name, r, usage(cmd))
				}
				a.flags[string(r)] = ""
			}
		default:
			a.args = append(a.args, words[i])
		}
	}
	if len(a.args) < cmd.min || cmd.max >= 0 && len(a.args) > cmd.max {
		return nil, client.Usagef("%s: wrong number of arguments (usage: %s)", cmd.name, usage(cmd))
	}
	return a, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func usage(c *command) string {
	if c.args == "" {
		return c.name
	}
	return c.name + " " + c.args
}

// Help writes the help of one command, or the list of all with none.
func Help(w io.Writer, name string) error {
	if name != "" {
		c := lookup(name)
		if c == nil {
			return client.Usagef("help: %s: unknown command", client.Printable(name))
		}
		fmt.Fprintf(w, "usage: %s\n%s\n", usage(c), c.summary)
		if c.detail != "" {
			fmt.Fprintln(w, c.detail)
		}
		return nil
	}
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintln(w, "Commands (help CMD for more; paths are remote unless the command starts with l):")
	for _, n := range names {
		fmt.Fprintf(w, "  %-42s %s\n", usage(commands[n]), commands[n].summary)
	}
	fmt.Fprintln(w, "Ctrl-C cancels the running command (an interrupted transfer resumes when run again).")
	return nil
}

func (s *Shell) help(_ context.Context, a *Call) error {
	return Help(s.out, strings.Join(a.texts(), ""))
}

func (s *Shell) quit(context.Context, *Call) error {
	s.quitting = true
	return nil
}

// Usage returns a command's arguments and one-line summary, for the
// one-shot commands' help.
func Usage(name string) (args, summary string) {
	if c := lookup(name); c != nil {
		return c.args, c.summary
	}
	return "", ""
}
