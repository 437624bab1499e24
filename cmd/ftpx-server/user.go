package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strings"

	"ftpx/accounts"
	"ftpx/conf"
	"ftpx/protocol"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"
)

var accountsFlag = &cli.StringFlag{Name: "accounts", Value: conf.Default().Accounts, Usage: "accounts `FILE`"}
var passwordStdinFlag = &cli.BoolFlag{Name: "password-stdin", Usage: "read the password as one line from standard input"}
var costFlag = &cli.IntFlag{Name: "bcrypt-cost", Usage: "bcrypt cost of the hash (4-31; each step doubles the work of every login)", DefaultText: "10"}

var userCommand = &cli.Command{
	Name:  "user",
	Usage: "manage the accounts file",
	Subcommands: []*cli.Command{
		{
			Name: "add", Usage: "add a user", ArgsUsage: "NAME",
			Flags: []cli.Flag{&cli.StringFlag{Name: "quota", Usage: "quota `SIZE` (B, KB, MB, GB, TB)"}, passwordStdinFlag, costFlag, accountsFlag},
			Action: func(c *cli.Context) error {
				name, err := oneName(c)
				if err != nil {
					return err
				}
				quota := accounts.Unlimited
				if c.IsSet("quota") {
					if quota, err = protocol.ParseSize(c.String("quota")); err != nil {
						return fmt.Errorf("--quota: %w", err)
					}
				}
				pw, err := readPassword(c)
				if err != nil {
					return err
				}
				return accounts.AddUser(c.String("accounts"), name, pw, quota, c.Int("bcrypt-cost"))
			},
		},
		{
			Name: "passwd", Usage: "set a user's password", ArgsUsage: "NAME",
			Flags: []cli.Flag{passwordStdinFlag, costFlag, accountsFlag},
			Action: func(c *cli.Context) error {
				name, err := oneName(c)
				if err != nil {
					return err
				}
				if _, err := existing(c.String("accounts"), name); err != nil {
					return err
				}
				pw, err := readPassword(c)
				if err != nil {
					return err
				}
				return accounts.SetPassword(c.String("accounts"), name, pw, c.Int("bcrypt-cost"))
			},
		},
		{
			Name: "del", Usage: "delete a user (the home stays on disk)", ArgsUsage: "NAME",
			Flags: []cli.Flag{accountsFlag},
			Action: func(c *cli.Context) error {
				name, err := oneName(c)
				if err != nil {
					return err
				}
				return accounts.DeleteUser(c.String("accounts"), name)
			},
		},
		{
			Name: "list", Usage: "print NAME<TAB>QUOTA for each user",
			Flags: []cli.Flag{accountsFlag},
			Action: func(c *cli.Context) error {
				if c.NArg() > 0 {
					return fmt.Errorf("user list: unexpected argument %q", c.Args().First())
				}
				store, err := accounts.Load(c.String("accounts"))
				if err != nil {
					return err
				}
				for _, a := range store.Users() {
					fmt.Printf("%s\t%s\n", a.Name, protocol.FormatSize(a.Quota))
				}
				return nil
			},
		},
	},
}

func oneName(c *cli.Context) (string, error) {
	if c.NArg() != 1 {
		return "", fmt.Errorf("user %s: expected one NAME, got %d arguments", c.Command.Name, c.NArg())
	}
	return c.Args().First(), nil
}

// existing checks that name is in the file before asking for a password.
func existing(path, name string) (accounts.Account, error) {
	store, err := accounts.Load(path)
	if err != nil {
		return accounts.Account{}, err
	}
	a, ok := store.Lookup(name)
	if !ok {
		return a, fmt.Errorf("user %s: %w", name, accounts.ErrNoUser)
	}
	return a, nil
}

// readPassword takes one line from stdin with --password-stdin, or asks
// twice without echo on a terminal.
func readPassword(c *cli.Context) (string, error) {
	if c.Bool("password-stdin") {
		line, err := bufio.NewReader(os.Stdin).ReadString('\n')
		if err != nil && line == "" {
			return "", errors.New("--password-stdin: no password on standard input")
		}
		pw := strings.TrimRight(line, "\r\n")
		if pw == "" {
			return "", errors.New("--password-stdin: empty password")
		}
		return pw, nil
	}
	fd := int(os.Stdin.Fd())
	if !term.IsTerminal(fd) {
		return "", errors.New("no terminal to ask for the password: use --password-stdin")
	}
	var pws [2]string
	for i, prompt := range []string{"Password: ", "Again: "} {
		fmt.Fprint(os.Stderr, prompt)
		b, err := term.ReadPassword(fd)
		fmt.Fprintln(os.Stderr)
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
