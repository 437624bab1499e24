package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"ftpx/internal/buildinfo"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"ftpx/client"
	"ftpx/client/shell"
	"ftpx/protocol"
)

// newApp defines the command line. Actions check their arguments before
// anything touches the network, so usage errors never need a server.
func newApp(stdin *os.File, stdout, stderr io.Writer) *cli.App {
	usage := func(_ *cli.Context, err error, _ bool) error {
		if strings.HasPrefix(err.Error(), "flag provided but not defined: -") {
			return client.Usagef("%v (a name that starts with - goes after --, or as ./NAME)", err)
		}
		return client.Usagef("%v", err)
	}
	to := &cli.StringFlag{Name: "to", Usage: "put every item inside `DIR`, creating it when missing"}
	getTo := &cli.StringFlag{Name: "to", Usage: "get every item inside the local `DIR`, creating it when missing"}
	recursive := &cli.BoolFlag{Name: "recursive", Aliases: []string{"r"}, Usage: "copy directories recursively"}
	jsonLines := &cli.BoolFlag{Name: "json", Usage: "print one JSON object a line for each finished transfer"}
	syncFlags := []cli.Flag{
		&cli.BoolFlag{Name: "delete", Usage: "with -r: remove from the destination tree what the source tree does not have"},
		&cli.BoolFlag{Name: "checksum", Aliases: []string{"c"}, Usage: "with -r: skip files whose MD5 (not size and mtime) is the same at the destination"},
		&cli.BoolFlag{Name: "ignore-times", Aliases: []string{"I"}, Usage: "with -r: send every file, even those the destination has"},
		&cli.BoolFlag{Name: "dry-run", Aliases: []string{"n"}, Usage: "print what would be sent, skipped or removed, and change nothing"},
	}
	cmd := func(c *cli.Command) *cli.Command {
		c.OnUsageError, c.HideHelpCommand = usage, true
		interruptible(c)
		return c
	}
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr}
	return &cli.App{
		Name:        "ftpx",
		Version:     buildinfo.String(),
		Usage:       "copy files to and from an ftpx server, verified by MD5",
		Description: "Remote paths are relative to the remote current directory (the home root for one-shot\ncommands); / is the user's home root. Destinations follow cp; get -r and put -r copy whole\ntrees.\n\n" + exitStatuses,
		Writer:      stdout,
		ErrWriter:   stderr,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "server", Value: "127.0.0.1:2121", EnvVars: []string{"FTPX_SERVER"}, Usage: "connect to `ADDR` (host:port)"},
			&cli.StringFlag{Name: "user", EnvVars: []string{"FTPX_USER"}, Usage: "user `NAME`"},
			&cli.BoolFlag{Name: "password-stdin", Usage: "read the password from one line of standard input (else FTPX_PASSWORD, else a prompt)"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no progress bars or warnings"},
			&cli.BoolFlag{Name: "json", Usage: "print results as JSON on stdout"},
			&cli.IntFlag{Name: "retries", Value: client.DefaultRetries, Usage: "reconnect and resume up to `N` times in a row after a lost connection"},
			&cli.DurationFlag{Name: "retry-delay", Value: client.DefaultRetryDelay, Usage: "wait `DURATION` before the first retry, doubling each time up to 30s"},
			&cli.StringFlag{Name: "limit-rate", Usage: "cap the transfer rate at `RATE` bytes per second (e.g. 500KB, 10MB)"},
			&cli.BoolFlag{Name: "tls", EnvVars: []string{"FTPX_TLS"}, Usage: "switch to TLS (starttls) before logging in"},
			&cli.StringFlag{Name: "ca", Usage: "verify the server against the CA certificates in `FILE` (PEM) instead of the system's"},
			&cli.BoolFlag{Name: "trust-new-server", Usage: "with --tls, pin an unverifiable server's certificate on first use without asking"},
		},
		Commands: append([]*cli.Command{
			cmd(&cli.Command{Name: "get", Usage: "download files or (with -r) trees", ArgsUsage: "REMOTE [LOCAL] | --to LOCAL_DIR REMOTE...",
				Description: "Destinations follow cp: get REMOTE writes its base name in the local directory; get REMOTE LOCAL\n" +
					"writes LOCAL, or LOCAL/BASE when LOCAL is a directory. get -r DIR [LOCAL] copies a remote tree,\n" +
					"empty directories included, to LOCAL (default: DIR's base name), or to LOCAL/BASE when LOCAL is an\n" +
					"existing directory; an existing tree is merged into, and symlinks inside it are never followed.\n" +
					"Every file is verified by MD5 and keeps the server's mtime. With -r, files the local tree\n" +
					"already has (same size and mtime; --checksum: same MD5) are skipped, and a file whose older\n" +
					"version is there comes as a delta. Run again after a crash, a batch resumes the file cut off.\n" +
					"REMOTE may be a pattern, quoted for the local shell: get '*.log' gets every match (\\* is a literal *).",
				Flags: append([]cli.Flag{getTo, jsonLines, recursive}, syncFlags...), Action: e.get}),
			cmd(&cli.Command{Name: "put", Usage: "upload files or (with -r) trees", ArgsUsage: "LOCAL [REMOTE] | --to REMOTE_DIR LOCAL... | - REMOTE",
				Description: "Destinations follow cp: put FILE lands as its base name in the remote directory; put FILE REMOTE\n" +
					"lands at REMOTE, or inside it when it is a directory. put -r DIR [REMOTE] copies a tree; --to DIR\n" +
					"always lands the tree at DIR/BASE (put -r --to /backup logs syncs into /backup/logs).\n" +
					"Every file is verified by MD5 and keeps its mtime. With -r, files the server already has (same\n" +
					"size and mtime; --checksum: same MD5) are skipped, and a file whose older version is there goes\n" +
					"as a delta: only the changed regions travel.\n" +
					"put - REMOTE uploads standard input (tar c dir | ftpx put - dir.tar), verified by MD5 like any put;\n" +
					"it cannot be resumed: a transfer cut off stores nothing.",
				Flags: append([]cli.Flag{to, jsonLines, recursive}, syncFlags...), Action: e.put}),
			cmd(&cli.Command{Name: "resume", Usage: "continue every interrupted transfer recorded for this server and user",
				Description: "Interrupted transfers are recorded under $FTPX_STATE_DIR (default $XDG_STATE_HOME/ftpx,\nelse ~/.local/state/ftpx). Running the same get or put again also resumes it.\n--cancel ID and --cancel-all give transfers up: the server drops what it holds of a put (its\nbytes leave the quota at once), a get's local partial file goes, and so does the record.",
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "list", Usage: "show the recorded transfers (of every server and user) instead, with what --server holds of --user's puts"},
					&cli.StringFlag{Name: "cancel", Usage: "give up the transfer `ID` (or a unique start of it, as --list shows it): the server's partial goes, and its bytes leave the quota"},
					&cli.BoolFlag{Name: "cancel-all", Usage: "give up every transfer recorded for --server and --user"},
					&cli.BoolFlag{Name: "json", Usage: "print JSON"},
				}, Action: e.resume}),
		}, e.shellCommands(cmd)...),
		HideHelpCommand: true,
		OnUsageError:    usage,
		ExitErrHandler:  func(*cli.Context, error) {}, // run reports errors and exits
		Action: func(c *cli.Context) error {
			if c.Args().First() == "help" {
				return cli.ShowAppHelp(c)
			}
			if c.Args().Present() {
				return client.Usagef("unknown command %q", c.Args().First())
			}
			return client.Usagef("no command given")
		},
	}
}

// env is what the actions print to and read from.
type env struct {
	stdin          *os.File
	in             *bufio.Reader // stdin, buffered once: the password line and a batch script share it
	stdout, stderr io.Writer
	// where, when set, says where a retry happens: "line 3: " in a
	// batch script, as its failure lines say.
	where func() string
}

// input returns standard input, buffered.
func (e *env) input() *bufio.Reader {
	if e.in == nil {
		e.in = bufio.NewReader(e.stdin)
	}
	return e.in
}

func (e *env) get(c *cli.Context) error {
	args, opt := c.Args().Slice(), client.TransferOptions{To: c.String("to"), Recursive: c.Bool("recursive")}
	if err := syncOptions(c, &opt); err != nil {
		return err
	}
	var local string
	switch {
	case opt.To != "" && len(args) == 0:
		return client.Usagef("get: want --to LOCAL_DIR REMOTE...")
	case opt.To == "" && (len(args) < 1 || len(args) > 2):
		return client.Usagef("get: want REMOTE [LOCAL] (or --to LOCAL_DIR REMOTE...)")
	case opt.To == "" && len(args) == 2:
		args, local = args[:1], args[1]
	}
	if local == "-" && (opt.Recursive || opt.DryRun || anyBool(c, "json")) {
		return client.Usagef("get: - (standard output) takes one file, without -r, --dry-run or --json")
	}
	cl, err := e.connect(c)
	if err != nil {
		return err
	}
	defer cl.Close()
	// '*.log', quoted for the local shell, is the shell's pattern: each
	// match is got as if named (get A B ... lands them side by side).
	remotes, err := shell.ExpandRemote(c.Context, cl, "get", args, opt.Recursive)
	if err != nil {
		return e.failed(c, err)
	}
	if local == "-" {
		if len(remotes) != 1 {
			return client.Usagef("get: - (standard output) takes one file; %s matches %d", client.Printable(args[0]), len(remotes))
		}
		// The file alone on stdout, verified at its end; nothing else
		// is printed there.
		_, err := cl.GetTo(c.Context, remotes[0], e.stdout)
		return err
	}
	return e.failed(c, cl.GetPaths(c.Context, remotes, local, e.report(c, opt)))
}

func (e *env) put(c *cli.Context) error {
	args := c.Args().Slice()
	opt := client.TransferOptions{To: c.String("to"), Recursive: c.Bool("recursive")}
	if err := syncOptions(c, &opt); err != nil {
		return err
	}
	var remote string
	switch {
	case opt.To != "" && len(args) == 0:
		return client.Usagef("put: want --to REMOTE_DIR LOCAL...")
	case opt.To == "" && (len(args) < 1 || len(args) > 2):
		return client.Usagef("put: want LOCAL [REMOTE] (or --to REMOTE_DIR LOCAL...)")
	case opt.To == "" && len(args) == 2:
		args, remote = args[:1], args[1]
	}
	if slices.Contains(args, "-") {
		return e.putStdin(c, args, remote, opt)
	}
	cl, err := e.connect(c)
	if err != nil {
		return err
	}
	defer cl.Close()
	return e.failed(c, cl.PutPaths(c.Context, args, remote, e.report(c, opt)))
}

// putStdin uploads standard input to remote: put - REMOTE. args are the
// sources, one of them "-".
func (e *env) putStdin(c *cli.Context, args []string, remote string, opt client.TransferOptions) error {
	switch {
	case len(args) > 1 || opt.To != "" || opt.Recursive || opt.DryRun:
		return client.Usagef("put -: standard input is one file, put alone: no other sources, -r, --to or --dry-run")
	case remote == "":
		return client.Usagef("put -: name the remote file (put - REMOTE)")
	}
	onInterrupt = "standard input cannot be resumed: nothing was stored"
	cl, err := e.connect(c) // the password may be the first line of standard input: read before the file
	if err != nil {
		return err
	}
	defer cl.Close()
	opt = e.report(c, opt)
	var p client.Progress
	if opt.Progress != nil {
		p = opt.Progress(remote)
	}
	res, err := cl.PutStream(c.Context, e.input(), remote, p)
	if err != nil {
		return e.failed(c, err)
	}
	if opt.Done != nil {
		opt.Done(res)
	}
	return nil
}

// syncOptions reads --delete, --checksum, --ignore-times and --dry-run;
// the first three need -r.
func syncOptions(c *cli.Context, opt *client.TransferOptions) error {
	opt.Delete, opt.Checksum, opt.IgnoreTimes, opt.DryRun = c.Bool("delete"), c.Bool("checksum"), c.Bool("ignore-times"), c.Bool("dry-run")
	for _, f := range []string{"delete", "checksum", "ignore-times"} {
		if c.Bool(f) && !opt.Recursive {
			return client.Usagef("%s: --%s needs -r", c.Command.Name, f)
		}
	}
	return nil
}

// report wires --json, --quiet, --dry-run's lines and the progress bars
// into opt.
func (e *env) report(c *cli.Context, opt client.TransferOptions) client.TransferOptions {
	asJSON, quiet := anyBool(c, "json"), anyBool(c, "quiet")
	switch {
	case asJSON:
		enc := json.NewEncoder(e.stdout)
		opt.Done = func(r client.Result) { enc.Encode(r) }
		opt.Removed = func(r client.Removal) { enc.Encode(r) }
	case opt.DryRun:
		opt.Done = func(r client.Result) { fmt.Fprintln(e.stdout, shell.DryRunLine(r)) }
		opt.Removed = func(r client.Removal) { fmt.Fprintln(e.stdout, shell.RemovalLine(r)) }
	}
	if !quiet {
		opt.Warn = func(msg string) { fmt.Fprintln(e.stderr, "ftpx: warning: "+client.Printable(msg)) }
	}
	if f, ok := e.stderr.(*os.File); ok && !quiet && !asJSON && term.IsTerminal(int(f.Fd())) {
		opt.Progress = func(remote string) client.Progress { return &bar{w: f, name: client.Printable(remote)} }
	}
	return opt
}

// failed prints, with --json, a JSON object on stdout for each failed
// transfer in err (beside the lines of those that succeeded: a script
// reads both in one place), and returns err, whose lines go to stderr.
func (e *env) failed(c *cli.Context, err error) error {
	if err != nil && anyBool(c, "json") {
		enc := json.NewEncoder(e.stdout)
		for _, f := range client.Failures(err) {
			enc.Encode(f)
		}
	}
	return err
}

// anyBool reports whether a boolean flag is set on the command or on the
// app: "ftpx --json ls" and "ftpx ls --json" are the same.
func anyBool(c *cli.Context, name string) bool {
	for _, x := range c.Lineage() {
		if x.Bool(name) {
			return true
		}
	}
	return false
}

// connect dials --server and logs in as --user. The password comes from
// --password-stdin, FTPX_PASSWORD, or a prompt on a terminal, in that
// order; it is looked for before dialing.
func (e *env) connect(c *cli.Context) (*client.Client, error) {
	return e.connectAs(c, c.String("server"), c.String("user"))
}

// connectAs is connect to addr as user.
func (e *env) connectAs(c *cli.Context, addr, user string) (*client.Client, error) {
	if user == "" {
		return nil, client.Usagef("no user: give --user NAME or set FTPX_USER")
	}
	cfg, err := e.config(c)
	if err != nil {
		return nil, err
	}
	password, err := e.password(c.Bool("password-stdin"), user, addr)
	if err != nil {
		return nil, err
	}
	cfg.Addr, cfg.User, cfg.Password = addr, user, password
	return client.Connect(c.Context, cfg)
}

// config reads the flags that shape transfers: retries, the rate cap and
// where resume points live. Notices go to stderr unless --quiet; a line
// for each retry always does.
func (e *env) config(c *cli.Context) (client.Config, error) {
	cfg := client.Config{Retry: client.RetryPolicy{Retries: c.Int("retries"), Delay: c.Duration("retry-delay")}}
	if cfg.Retry.Retries < 0 || cfg.Retry.Delay < 0 {
		return cfg, client.Usagef("--retries and --retry-delay cannot be negative")
	}
	if r := c.String("limit-rate"); r != "" {
		rate, err := protocol.ParseSize(r)
		if err != nil {
			return cfg, client.Usagef("--limit-rate: %v", err)
		}
		cfg.RateLimit = max(rate, 0) // "unlimited" is -1
	}
	if !anyBool(c, "quiet") {
		cfg.Notice = func(msg string) { fmt.Fprintln(e.stderr, "ftpx: "+oneLine(msg)) }
	}
	// --quiet silences progress and notices, not retries.
	cfg.Retrying = func(msg string) {
		where := ""
		if e.where != nil {
			where = e.where()
		}
		fmt.Fprintln(e.stderr, "ftpx: "+where+oneLine(msg))
	}
	records, err := e.records()
	if err != nil && cfg.Notice != nil {
		cfg.Notice("warning: interrupted transfers will not be resumable: " + err.Error())
	}
	cfg.Records = records
	if c.Bool("tls") || c.IsSet("ca") || c.Bool("trust-new-server") {
		cfg.TLS = &client.TLSOptions{CA: c.String("ca"), TrustNew: c.Bool("trust-new-server"), Ask: e.askTrust}
	}
	return cfg, nil
}

// askTrust shows an unverifiable server's fingerprint and asks, on a
// terminal, whether to trust it; without a terminal the answer is no.
func (e *env) askTrust(addr, fingerprint string) bool {
	if e.stdin == nil || !term.IsTerminal(int(e.stdin.Fd())) {
		return false
	}
	fmt.Fprintf(e.stderr, "The server %s has a certificate that cannot be verified.\n"+
		"Its fingerprint is %s\n"+
		"(the server logs it at start: \"tls ready\" fingerprint=...).\n"+
		"Trust it and remember it? [y/N] ", addr, fingerprint)
	line, _ := e.input().ReadString('\n')
	answer := strings.ToLower(strings.TrimSpace(line))
	return answer == "y" || answer == "yes"
}

// records is the store of resume points.
func (e *env) records() (*client.Records, error) {
	dir, err := client.DefaultStateDir()
	if err != nil {
		return nil, err
	}
	return &client.Records{Dir: dir}, nil
}

func (e *env) password(fromStdin bool, user, addr string) (string, error) {
	if fromStdin {
		line, err := e.input().ReadString('\n')
		line = strings.TrimRight(line, "\r\n")
		if line == "" && err != nil {
			return "", client.Usagef("--password-stdin: no password on standard input")
		}
		return line, nil
	}
	if p := os.Getenv("FTPX_PASSWORD"); p != "" {
		return p, nil
	}
	if e.stdin != nil && term.IsTerminal(int(e.stdin.Fd())) {
		fmt.Fprintf(e.stderr, "Password for %s@%s: ", user, addr)
		b, err := term.ReadPassword(int(e.stdin.Fd()))
		fmt.Fprintln(e.stderr)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		return string(b), nil
	}
	return "", client.Usagef("no password: set FTPX_PASSWORD, use --password-stdin, or run on a terminal")
}
