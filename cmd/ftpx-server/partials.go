package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"ftpx/accounts"
	"ftpx/conf"
	"ftpx/home"
	"ftpx/protocol"

	"github.com/urfave/cli/v2"
)

// inUse is how recently a partial must have been written for rm to leave
// it alone: a running server may be writing it.
const inUse = time.Minute

var partialsFlags = []cli.Flag{
	&cli.StringFlag{Name: "root", Value: conf.Default().Root, Usage: "data root `DIR`, where the homes are"},
	&cli.StringFlag{Name: "accounts", Value: conf.Default().Accounts, Usage: "accounts `FILE`, for the folders (skipped when it cannot be read)"},
	&cli.StringFlag{Name: "config", Usage: "take root and accounts (unless given) from this config `FILE`"},
	&cli.DurationFlag{Name: "older-than", Usage: "only partials last written longer ago than `DURATION` (e.g. 24h)"},
}

var partialsCommand = &cli.Command{
	Name:  "partials",
	Usage: "list or remove interrupted uploads kept for resuming",
	Description: "Interrupted uploads are kept (and counted on their user's quota) until the client resumes or\n" +
		"cancels them (ftpx resume --cancel), or until partial_max_age; the server never drops one because\n" +
		"the disk is full. These commands read the data root directly; USER names a home (all its\n" +
		"partials), ID a transfer (or the start of one, 8 characters at least).",
	Subcommands: []*cli.Command{
		{
			Name: "list", Usage: "print USER, ID, NAME, BYTES and AGE of each interrupted upload", ArgsUsage: "[USER|ID...]",
			Flags: partialsFlags,
			Action: func(c *cli.Context) error {
				found, err := findPartials(c)
				if err != nil {
					return err
				}
				return writePartials(c.App.Writer, found, time.Now())
			},
		},
		{
			Name: "rm", Usage: "remove the chosen interrupted uploads; their users' clients then start over", ArgsUsage: "USER|ID...",
			Flags: partialsFlags,
			Action: func(c *cli.Context) error {
				if c.NArg() == 0 && !c.IsSet("older-than") {
					return errors.New("partials rm: name a USER or an ID, or give --older-than (partials rm --older-than 0s removes every one)")
				}
				found, err := findPartials(c)
				if err != nil {
					return err
				}
				return removePartials(c.App.Writer, found, time.Now())
			},
		},
	},
}

// partialAt is one interrupted upload and the tree it is kept in.
type partialAt struct {
	home.AtRest
	owner string // the user, or "folder:DIR"
	dir   string
}

// findPartials lists the partials of every home under the root and of
// every folder of the accounts file, keeping those the arguments and
// --older-than choose.
func findPartials(c *cli.Context) ([]partialAt, error) {
	root, accountsFile := c.String("root"), c.String("accounts")
	if c.IsSet("config") {
		cfg, err := conf.Load(c.String("config"))
		if err != nil {
			return nil, err
		}
		if !c.IsSet("root") {
			root = cfg.Root
		}
		if !c.IsSet("accounts") {
			accountsFile = cfg.Accounts
		}
	}
	trees, err := trees(root, accountsFile)
	if err != nil {
		return nil, err
	}
	var all []partialAt
	for _, t := range trees {
		parts, err := home.PartialsIn(t.dir)
		if err != nil {
			fmt.Fprintf(c.App.ErrWriter, "ftpx-server: partials: %s: %v\n", t.owner, err)
			continue
		}
		for _, p := range parts {
			all = append(all, partialAt{AtRest: p, owner: t.owner, dir: t.dir})
		}
	}
	cutoff := time.Now().Add(-c.Duration("older-than"))
	var chosen []partialAt
	for _, p := range all {
		if c.IsSet("older-than") && !p.ModTime.Before(cutoff) {
			continue
		}
		chosen = append(chosen, p)
	}
	if c.NArg() == 0 {
		return chosen, nil
	}
	matches := func(p partialAt, arg string) bool {
		return p.owner == arg || len(arg) >= 8 && strings.HasPrefix(p.ID, arg)
	}
	var picked []partialAt
	for _, arg := range c.Args().Slice() {
		if !slices.ContainsFunc(trees, func(t tree) bool { return t.owner == arg }) &&
			!slices.ContainsFunc(all, func(p partialAt) bool { return matches(p, arg) }) {
			return nil, fmt.Errorf("partials: no user or transfer id %q (an id needs 8 characters at least)", arg)
		}
		for _, p := range chosen {
			if matches(p, arg) && !slices.ContainsFunc(picked, func(q partialAt) bool { return q.ID == p.ID && q.dir == p.dir }) {
				picked = append(picked, p)
			}
		}
	}
	return picked, nil
}

// tree is a directory that may hold partials: a home or a folder.
type tree struct{ owner, dir string }

// trees returns the homes under root and the folders of the accounts file.
func trees(root, accountsFile string) ([]tree, error) {
	ents, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("root: %w", err)
	}
	var out []tree
	for _, e := range ents {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			out = append(out, tree{owner: e.Name(), dir: filepath.Join(root, e.Name())})
		}
	}
	store, err := accounts.Load(accountsFile)
	if err != nil {
		return out, nil // no folders to look at
	}
	for _, a := range store.Users() {
		for _, f := range a.Folders {
			owner := "folder:" + filepath.Clean(f.Dir)
			if !slices.ContainsFunc(out, func(t tree) bool { return t.owner == owner }) {
				out = append(out, tree{owner: owner, dir: filepath.Clean(f.Dir)})
			}
		}
	}
	return out, nil
}

// writePartials prints one line per partial, oldest first.
func writePartials(w io.Writer, parts []partialAt, now time.Time) error {
	slices.SortStableFunc(parts, func(a, b partialAt) int { return a.ModTime.Compare(b.ModTime) })
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "USER\tID\tNAME\tBYTES\tAGE")
	for _, p := range parts {
		name := p.Name
		if name == "" {
			name = "?"
		} else if p.Of > 0 {
			name = fmt.Sprintf("%s (of %s)", quoteName(name), protocol.FormatSize(p.Of))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", quoteName(p.owner), p.ID, name, p.Size, age(now.Sub(p.ModTime)))
	}
	return tw.Flush()
}

// removePartials removes each partial not written within inUse, one line
// each, and a total.
func removePartials(w io.Writer, parts []partialAt, now time.Time) error {
	var n int
	var bytes int64
	var fails []error
	for _, p := range parts {
		if now.Sub(p.ModTime) < inUse {
			fmt.Fprintf(w, "skipped %s %s: written %s ago, maybe by a running upload (try again later)\n", quoteName(p.owner), p.ID, age(now.Sub(p.ModTime)))
			continue
		}
		freed, err := home.RemovePartialIn(p.dir, p.ID)
		if err != nil {
			fails = append(fails, fmt.Errorf("partials rm %s %s: %w", p.owner, p.ID, err))
			continue
		}
		n++
		bytes += freed
		fmt.Fprintf(w, "removed %s %s %s (%s)\n", quoteName(p.owner), p.ID, quoteName(p.Name), protocol.HumanSize(freed))
	}
	fmt.Fprintf(w, "%d removed, %s freed\n", n, protocol.HumanSize(bytes))
	return errors.Join(fails...)
}

// age rounds a duration for people: 42s, 3m, 5h07m, 12d.
func age(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(max(d, 0).Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

// quoteName shows a name as is when it is printable, else quoted.
func quoteName(s string) string {
	if strings.ContainsFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return fmt.Sprintf("%q", s)
	}
	return s
}
