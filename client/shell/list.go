package shell

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"ftpx/client"
	"ftpx/protocol"
)

// ListOptions are the flags of ls, the same in the shell and in the
// one-shot ftpx ls.
type ListOptions struct {
	Long      bool // -l: type, size, mtime, name
	Human     bool // -h: sizes in the units of stat and quota (KB, MB...), with Long
	Recursive bool // -R: every directory under the path, each under a "PATH:" line
	JSON      bool // one JSON array of {"name","size","is_dir","mtime"}
}

// List lists the remote path p (the current directory when empty) on w:
// what ls does in the shell and as a one-shot command. A file is listed
// alone, with or without Recursive.
func List(ctx context.Context, c *client.Client, w io.Writer, p string, opt ListOptions) error {
	if opt.Recursive {
		top := p
		if top == "" {
			top = "."
		}
		tree, isDir, err := c.LsTree(ctx, top)
		if err != nil {
			return err
		}
		if isDir {
			return writeTree(w, top, tree, opt)
		}
	}
	entries, err := c.Ls(ctx, p)
	if err != nil {
		return err
	}
	if opt.JSON {
		return writeJSON(w, entries)
	}
	writeListing(w, entries, opt)
	return nil
}

// writeJSON prints entries as one JSON array ("[]" for none).
func writeJSON(w io.Writer, entries []protocol.Entry) error {
	if entries == nil {
		entries = []protocol.Entry{}
	}
	return json.NewEncoder(w).Encode(entries)
}

// writeTree prints the tree under top as GNU ls -R does: the listing of
// top, then that of each directory under it in turn (a directory before
// what it holds), each under a "PATH:" line, a blank line between. With
// JSON it is one array whose names are paths relative to top. A
// directory the server could not list is reported after the rest.
func writeTree(w io.Writer, top string, tree []protocol.TreeEntry, opt ListOptions) error {
	if opt.JSON {
		out := make([]protocol.Entry, len(tree))
		for i, e := range tree {
			out[i] = protocol.Entry{Name: e.Path, Size: e.Size, IsDir: e.IsDir, MTime: e.MTime.Truncate(time.Second)} // to the second, as ls's
		}
		return writeJSON(w, out)
	}
	dirs := []string{""}
	held := map[string][]protocol.Entry{} // by directory, relative to top
	var errs []error
	for _, e := range tree {
		dir, name := "", e.Path
		if i := strings.LastIndexByte(e.Path, '/'); i >= 0 {
			dir, name = e.Path[:i], e.Path[i+1:]
		}
		held[dir] = append(held[dir], protocol.Entry{Name: name, Size: e.Size, IsDir: e.IsDir, MTime: e.MTime})
		switch {
		case !e.IsDir || e.Skip != "": // a loop or a link out of the home is not entered
		case e.Status != 0:
			errs = append(errs, &client.StatusError{Op: "ls", Path: under(top, e.Path), Status: e.Status})
		default:
			dirs = append(dirs, e.Path)
		}
	}
	for i, d := range dirs {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintln(w, client.Printable(under(top, d))+":")
		writeListing(w, held[d], opt)
	}
	return errors.Join(errs...)
}

// under is the path rel (relative to top) as ls -R names it: "./sub" under
// ".", "/sub" under "/".
func under(top, rel string) string {
	switch {
	case rel == "":
		return top
	case strings.HasSuffix(top, "/"):
		return top + rel
	}
	return top + "/" + rel
}

// writeListing prints entries: names only (directories with a trailing
// "/"), or with Long one line each: type, size (right-aligned), mtime,
// name. Names are escaped when they hold control characters.
func writeListing(w io.Writer, entries []protocol.Entry, opt ListOptions) {
	for _, e := range entries {
		name := client.Printable(e.Name)
		switch {
		case opt.Long:
			kind, size := "-", fmt.Sprintf("%12d", e.Size)
			if e.IsDir {
				kind = "d"
			}
			if opt.Human {
				size = fmt.Sprintf("%8s", protocol.HumanSize(e.Size))
			}
			fmt.Fprintf(w, "%s %s %s %s\n", kind, size, e.MTime.Local().Format("2006-01-02 15:04"), name)
		case e.IsDir:
			fmt.Fprintln(w, name+"/")
		default:
			fmt.Fprintln(w, name)
		}
	}
}
