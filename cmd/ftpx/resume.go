package main

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"

	"ftpx/client"
	"ftpx/client/shell"
	"ftpx/protocol"
)

// resume continues the transfers recorded for --server and --user; with
// --list shows every record; with --cancel ID or --cancel-all gives them
// up.
func (e *env) resume(c *cli.Context) error {
	if c.NArg() > 0 {
		return client.Usagef("resume: takes no arguments")
	}
	records, err := e.records()
	if err != nil {
		return err
	}
	switch n := btoi(c.Bool("list")) + btoi(c.IsSet("cancel")) + btoi(c.Bool("cancel-all")); {
	case n > 1:
		return client.Usagef("resume: --list, --cancel and --cancel-all go alone")
	case c.Bool("list"):
		return e.listRecords(c, records)
	case c.IsSet("cancel"):
		r, err := records.Find(c.String("cancel"))
		if err != nil {
			return err
		}
		return e.cancel(c, records, []*client.Record{r})
	}
	if c.String("user") == "" {
		return client.Usagef("no user: give --user NAME or set FTPX_USER")
	}
	mine, others, bad, err := records.Pending(c.String("server"), c.String("user"))
	if err != nil {
		return err
	}
	for _, b := range bad {
		fmt.Fprintf(e.stderr, "ftpx: resume: %s: %s; removing it\n", client.Printable(b.File), oneLine(b.Err.Error()))
		records.RemoveFile(b.File)
	}
	quiet := anyBool(c, "quiet")
	if others > 0 && !quiet {
		fmt.Fprintf(e.stderr, "ftpx: resume: %d recorded transfers are for other servers or users (see resume --list)\n", others)
	}
	if c.Bool("cancel-all") {
		return e.cancel(c, records, mine)
	}
	if len(mine) == 0 {
		if !quiet && !anyBool(c, "json") {
			fmt.Fprintln(e.stderr, "ftpx: resume: nothing to resume")
		}
		return nil
	}
	cl, err := e.connect(c)
	if err != nil {
		return err
	}
	defer cl.Close()
	return e.failed(c, cl.ResumeAll(c.Context, mine, e.report(c, client.TransferOptions{})))
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// listRecords prints the records as a table, or with --json as one array.
// With a user (--user, FTPX_USER), it asks --server how much it holds of
// each of that user's puts.
func (e *env) listRecords(c *cli.Context, records *client.Records) error {
	recs, bad, err := records.List()
	if err != nil {
		return err
	}
	for _, b := range bad {
		fmt.Fprintf(e.stderr, "ftpx: resume: %s: %s\n", client.Printable(b.File), oneLine(b.Err.Error()))
	}
	var held map[string]client.Held
	if user, addr := c.String("user"), c.String("server"); user != "" && hasPut(recs, addr, user) {
		cl, err := e.connect(c)
		if err != nil {
			fmt.Fprintf(e.stderr, "ftpx: resume --list: cannot ask %s what it holds: %s\n", client.Printable(addr), oneLine(err.Error()))
		} else {
			held = cl.HeldOf(c.Context, recs)
			cl.Close()
		}
	}
	return shell.WriteRecords(e.stdout, recs, held, anyBool(c, "json"))
}

// hasPut reports whether a put of addr and user is among recs.
func hasPut(recs []*client.Record, addr, user string) bool {
	for _, r := range recs {
		if r.Direction == "put" && r.Server == addr && r.User == user {
			return true
		}
	}
	return false
}

// cancel gives up the recorded transfers: a put's partial on its server
// (connecting to it as its user: the password as for any command) and a
// get's local partial, then the records. It goes on after a failure and
// returns the failures joined.
func (e *env) cancel(c *cli.Context, records *client.Records, recs []*client.Record) error {
	if len(recs) == 0 {
		if !anyBool(c, "quiet") {
			fmt.Fprintln(e.stderr, "ftpx: resume: nothing to cancel")
		}
		return nil
	}
	conns := map[[2]string]*client.Client{}
	defer func() {
		for _, cl := range conns {
			cl.Close()
		}
	}()
	var fails []error
	enc := json.NewEncoder(e.stdout)
	for _, r := range recs {
		var cl *client.Client
		if r.Direction == "put" {
			key := [2]string{r.Server, r.User}
			if cl = conns[key]; cl == nil {
				var err error
				if cl, err = e.connectAs(c, r.Server, r.User); err != nil {
					fails = append(fails, err)
					continue
				}
				conns[key] = cl
			}
		}
		freed, err := records.Cancel(c.Context, cl, r)
		if err != nil {
			fails = append(fails, err)
			continue
		}
		if anyBool(c, "json") {
			enc.Encode(map[string]any{"action": "cancel", "id": r.ID, "direction": r.Direction, "local": r.Local, "remote": r.Remote, "freed": freed})
			continue
		}
		what := "its local partial file removed"
		if r.Direction == "put" {
			what = protocol.HumanSize(freed) + " freed on the server"
		}
		fmt.Fprintf(e.stdout, "cancelled %s %s: %s\n", r.Direction, client.Printable(r.Remote), what)
	}
	return errors.Join(fails...)
}
