package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"ftpx/client"
	"ftpx/client/shell"
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
	return shell.WriteRecords(e.stdout, recs, anyBool(c, "json"))
}
