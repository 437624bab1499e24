package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"ftpx/accounts"
	"ftpx/conf"
	"ftpx/home"
	"ftpx/internal/s3url"
	"ftpx/protocol"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"
)

var accountsFlag = &cli.StringFlag{Name: "accounts", Value: conf.Default().Accounts, Usage: "accounts `FILE`, or s3://BUCKET/KEY for one kept in an object store"}

// accountsFlags name the accounts file of every user command: --accounts,
// else the server's config file's, and the store of an s3:// one.
var accountsFlags = []cli.Flag{accountsFlag,
	&cli.StringFlag{Name: "config", Usage: "take accounts, s3_endpoint and s3_region (and root) from the server's config `FILE`; flags override it"},
	&cli.StringFlag{Name: "s3-endpoint", Usage: "object store `URL` of an s3:// accounts file; credentials from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or ~/.aws/credentials"},
	&cli.StringFlag{Name: "s3-region", Usage: "object store `REGION`", DefaultText: conf.Default().S3Region}}
var passwordStdinFlag = &cli.BoolFlag{Name: "password-stdin", Usage: "read the password as one line from standard input"}
var costFlag = &cli.IntFlag{Name: "bcrypt-cost", Usage: "bcrypt cost of the hash (4-31; each step doubles the work of every login)", DefaultText: "10"}

var userCommand = &cli.Command{
	Name:  "user",
	Usage: "manage the accounts file",
	Subcommands: []*cli.Command{
		{
			Name: "add", Usage: "add a user", ArgsUsage: "NAME",
			Flags: append([]cli.Flag{&cli.StringFlag{Name: "quota", Usage: "quota `SIZE` (B, KB, MB, GB, TB)"}, passwordStdinFlag, costFlag,
				&cli.StringSliceFlag{Name: "folder", Usage: "mount the server's DIR in the home as /NAME with PERMS (read,write,modify), optionally :quota=SIZE; repeatable", DefaultText: "NAME=DIR:PERMS"},
				&cli.StringFlag{Name: "ssh-key", Usage: "public keys that log in over SFTP, from `KEYFILE` (OpenSSH authorized_keys format)"}}, accountsFlags...),
			Action: func(c *cli.Context) error {
				name, err := oneName(c)
				if err != nil {
					return err
				}
				src, err := userAccounts(c)
				if err != nil {
					return err
				}
				quota := accounts.Unlimited
				if c.IsSet("quota") {
					if quota, err = protocol.ParseSize(c.String("quota")); err != nil {
						return fmt.Errorf("--quota: %w", err)
					}
				}
				var folders []accounts.Folder
				for _, v := range c.StringSlice("folder") {
					f, err := parseFolderFlag(v)
					if err != nil {
						return err
					}
					folders = append(folders, f)
				}
				var keys []string
				if c.IsSet("ssh-key") {
					if keys, err = readKeys(c.String("ssh-key")); err != nil {
						return err
					}
				}
				pw, err := readPassword(c)
				if err != nil {
					return err
				}
				if err := accounts.AddUser(c.Context, src, name, pw, quota, c.Int("bcrypt-cost"), folders...); err != nil || len(keys) == 0 {
					return err
				}
				return accounts.SetKeys(c.Context, src, name, keys)
			},
		},
		{
			Name: "passwd", Usage: "set a user's password", ArgsUsage: "NAME",
			Flags: append([]cli.Flag{passwordStdinFlag, costFlag}, accountsFlags...),
			Action: func(c *cli.Context) error {
				name, err := oneName(c)
				if err != nil {
					return err
				}
				src, err := userAccounts(c)
				if err != nil {
					return err
				}
				if _, err := existing(c.Context, src, name); err != nil {
					return err
				}
				pw, err := readPassword(c)
				if err != nil {
					return err
				}
				return accounts.SetPassword(c.Context, src, name, pw, c.Int("bcrypt-cost"))
			},
		},
		{
			Name: "quota", Usage: "set a user's quota (a running server takes it on SIGHUP, or by itself from an s3:// accounts file)", ArgsUsage: "NAME SIZE",
			Description: "SIZE is B, KB, MB, GB or TB (1024-based), or unlimited.",
			Flags:       accountsFlags,
			Action: func(c *cli.Context) error {
				if c.NArg() != 2 {
					return fmt.Errorf("user quota: want NAME SIZE")
				}
				name := c.Args().Get(0)
				quota, err := protocol.ParseSize(c.Args().Get(1))
				if err != nil {
					return fmt.Errorf("user quota: %w", err)
				}
				src, err := userAccounts(c)
				if err != nil {
					return err
				}
				if err := accounts.SetQuota(c.Context, src, name, quota); err != nil {
					return err
				}
				fmt.Fprintf(c.App.Writer, "user %s: quota %s\n", name, protocol.FormatSize(quota))
				return nil
			},
		},
		{
			Name: "keys", Usage: "replace a user's SFTP public keys with those in KEYFILE (authorized_keys format; an empty file removes them)", ArgsUsage: "NAME KEYFILE",
			Flags: accountsFlags,
			Action: func(c *cli.Context) error {
				if c.NArg() != 2 {
					return fmt.Errorf("user keys: want NAME KEYFILE")
				}
				name, file := c.Args().Get(0), c.Args().Get(1)
				keys, err := readKeys(file)
				if err != nil {
					return err
				}
				src, err := userAccounts(c)
				if err != nil {
					return err
				}
				if err := accounts.SetKeys(c.Context, src, name, keys); err != nil {
					return err
				}
				fmt.Fprintf(c.App.Writer, "user %s: %d key(s)\n", name, len(keys))
				return nil
			},
		},
		{
			Name: "del", Usage: "delete a user (the home stays on disk)", ArgsUsage: "NAME",
			Flags: accountsFlags,
			Action: func(c *cli.Context) error {
				name, err := oneName(c)
				if err != nil {
					return err
				}
				src, err := userAccounts(c)
				if err != nil {
					return err
				}
				return accounts.DeleteUser(c.Context, src, name)
			},
		},
		{
			Name: "list", Usage: "print NAME<TAB>QUOTA for each user (with --used, a third column: the bytes in ROOT/NAME)",
			Flags: append([]cli.Flag{
				&cli.BoolFlag{Name: "used", Usage: "add the space each user uses, read from the data root"},
				&cli.StringFlag{Name: "root", Value: conf.Default().Root, Usage: "data root `DIR`, where the homes are"}}, accountsFlags...),
			Action: func(c *cli.Context) error {
				if c.NArg() > 0 {
					return fmt.Errorf("user list: unexpected argument %q", c.Args().First())
				}
				cfg, err := userConfig(c)
				if err != nil {
					return err
				}
				src, err := accountsSource(cfg)
				if err != nil {
					return err
				}
				store, err := accounts.LoadFrom(c.Context, src)
				if err != nil {
					return err
				}
				root := cfg.Root
				usageOf := func(name string) (int64, error) { return usage(filepath.Join(root, name)) }
				if c.Bool("used") && s3url.Is(root) {
					if usageOf, err = storeUsage(root, cfg); err != nil {
						return fmt.Errorf("user list: %w", err)
					}
				}
				for _, a := range store.Users() {
					if !c.Bool("used") {
						fmt.Fprintf(c.App.Writer, "%s\t%s\n", a.Name, protocol.FormatSize(a.Quota))
						continue
					}
					used, err := usageOf(a.Name)
					if err != nil {
						return fmt.Errorf("user list: %s: %w", a.Name, err)
					}
					fmt.Fprintf(c.App.Writer, "%s\t%s\t%s\n", a.Name, protocol.FormatSize(a.Quota), protocol.FormatSize(used))
				}
				return nil
			},
		},
	},
}

// parseFolderFlag reads --folder NAME=DIR:PERMS[:quota=SIZE].
func parseFolderFlag(v string) (accounts.Folder, error) {
	bad := func(why string) (accounts.Folder, error) {
		return accounts.Folder{}, fmt.Errorf("--folder %q: %s (want NAME=DIR:PERMS, e.g. shared=/srv/team:read,write)", v, why)
	}
	name, rest, ok := strings.Cut(v, "=")
	if !ok || name == "" {
		return bad("no NAME=")
	}
	f := accounts.Folder{Name: name}
	if i := strings.LastIndexByte(rest, ':'); i >= 0 && strings.HasPrefix(rest[i+1:], "quota=") {
		q, err := protocol.ParseSize(strings.TrimPrefix(rest[i+1:], "quota="))
		if err != nil {
			return bad(err.Error())
		}
		f.Quota, f.OwnQuota, rest = q, true, rest[:i]
	}
	i := strings.LastIndexByte(rest, ':')
	if i < 0 {
		return bad("no :PERMS")
	}
	perms, err := protocol.ParsePerms(rest[i+1:])
	if err != nil {
		return bad(err.Error())
	}
	f.Dir, f.Perms = rest[:i], perms
	return f, nil
}

// usage returns the bytes in regular files under dir (0 when it does not
// exist yet), as the server counts them for the quota.
func usage(dir string) (int64, error) {
	fsys, err := home.Dir(dir)
	if errors.Is(err, home.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer fsys.Close()
	return fsys.Usage()
}

func oneName(c *cli.Context) (string, error) {
	if c.NArg() != 1 {
		return "", fmt.Errorf("user %s: expected one NAME, got %d arguments", c.Command.Name, c.NArg())
	}
	return c.Args().First(), nil
}

// userConfig is what a user command reads: the server's config file
// (--config) or the defaults, with --accounts, --s3-endpoint, --s3-region
// and --root over it, as serve layers them.
func userConfig(c *cli.Context) (conf.Config, error) {
	cfg := conf.Default()
	if c.IsSet("config") {
		var err error
		if cfg, err = conf.Load(c.String("config")); err != nil {
			return cfg, err
		}
	}
	for name, field := range map[string]*string{"accounts": &cfg.Accounts, "s3-endpoint": &cfg.S3Endpoint, "s3-region": &cfg.S3Region, "root": &cfg.Root} {
		if c.IsSet(name) {
			*field = c.String(name)
		}
	}
	return cfg, nil
}

// userAccounts returns the accounts file a user command edits.
func userAccounts(c *cli.Context) (accounts.Source, error) {
	cfg, err := userConfig(c)
	if err != nil {
		return nil, err
	}
	return accountsSource(cfg)
}

// existing checks that name is in the file before asking for a password.
func existing(ctx context.Context, src accounts.Source, name string) (accounts.Account, error) {
	store, err := accounts.LoadFrom(ctx, src)
	if err != nil {
		return accounts.Account{}, err
	}
	a, ok := store.Lookup(name)
	if !ok {
		return a, fmt.Errorf("user %s: %w", name, accounts.ErrNoUser)
	}
	return a, nil
}

// readPassword takes one line from stdin (the app's Reader) with
// --password-stdin, or asks twice without echo on a terminal.
func readPassword(c *cli.Context) (string, error) {
	if c.Bool("password-stdin") {
		line, err := bufio.NewReader(c.App.Reader).ReadString('\n')
		if err != nil && line == "" {
			return "", errors.New("--password-stdin: no password on standard input")
		}
		pw := strings.TrimRight(line, "\r\n")
		if pw == "" {
			return "", errors.New("--password-stdin: empty password")
		}
		return pw, nil
	}
	stdin, _ := c.App.Reader.(*os.File)
	if stdin == nil || !term.IsTerminal(int(stdin.Fd())) {
		return "", errors.New("no terminal to ask for the password: use --password-stdin")
	}
	var pws [2]string
	for i, prompt := range []string{"Password: ", "Again: "} {
		fmt.Fprint(c.App.ErrWriter, prompt)
		b, err := term.ReadPassword(int(stdin.Fd()))
		fmt.Fprintln(c.App.ErrWriter)
		if err != nil {
			return "", err
		}
		pws[i] = string(b)
	}
	if pws[0] != pws[1] {
		return "", errors.New("the passwords do not match")
	}
	if pws[0] == "" {
		return "", errors.New("empty password")
	}
	return pws[0], nil
}

// readKeys reads the public keys of an authorized_keys file.
func readKeys(file string) ([]string, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	keys, err := accounts.ParseKeys(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return keys, nil
}
