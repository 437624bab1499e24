package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"ftpx/client"
)

// resume continues the transfers recorded for --server and --user, or
// with --list shows every record.
func (e *env) resume(c *cli.Context) error {
	if c.NArg() > 0 {
		return client.Usagef("resume: takes no arguments")
	}
	records, err := e.records()
	if err != nil {
		return err
	}
	if c.Bool("list") {
		return e.listRecords(c, records)
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
	return cl.ResumeAll(c.Context, mine, e.report(c, client.TransferOptions{}))
}

// listRecords prints the records as a table, or with --json as one array.
func (e *env) listRecords(c *cli.Context, records *client.Records) error {
	recs, bad, err := records.List()
	if err != nil {
		return err
	}
	for _, b := range bad {
		fmt.Fprintf(e.stderr, "ftpx: resume: %s: %s\n", client.Printable(b.File), oneLine(b.Err.Error()))
	}
	if anyBool(c, "json") {
		if recs == nil {
			recs = []*client.Record{}
		}
		return json.NewEncoder(e.stdout).Encode(recs)
	}
	if len(recs) == 0 {
		return nil
	}
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tDIRECTION\tLOCAL\tREMOTE\tOFFSET/SIZE\tUPDATED")
	for _, r := range recs {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s@%s:%s\t%d/%d\t%s\n", r.ID, r.Direction, client.Printable(r.Local),
			client.Printable(r.User), client.Printable(r.Server), client.Printable(r.Remote), r.Offset, r.Size,
			r.Updated.Local().Format("2006-01-02 15:04:05"))
	}
	return w.Flush()
}
