package shell

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"ftpx/client"
	"ftpx/protocol"
)

// sources splits the arguments of get and put as cp does: with --to
// every argument is a source; otherwise, of two or more, the last is the
// destination.
func sources(a *Call) (srcs []word, dest string) {
	srcs = a.args
	if a.flags["to"] == "" && len(srcs) >= 2 {
		dest, srcs = srcs[len(srcs)-1].text, srcs[:len(srcs)-1]
	}
	return srcs, dest
}

func (s *Shell) put(ctx context.Context, a *Call) error {
	srcs, dest := sources(a)
	var locals []string
	for _, w := range srcs {
		if !w.glob {
			locals = append(locals, w.text)
			continue
		}
		matches, err := filepath.Glob(w.pattern)
		if err != nil {
			return client.Usagef("put %s: bad pattern", client.Printable(w.text))
		}
		matches = visible(matches, filepath.Base(w.pattern))
		if len(matches) == 0 {
			return fmt.Errorf("put %s: no such file or directory", client.Printable(w.text))
		}
		locals = append(locals, matches...)
	}
	opt, err := syncOptions("put", a)
	if err != nil {
		return err
	}
	return s.c.PutPaths(ctx, locals, dest, s.transferOptions(opt, a.has("json")))
}

func (s *Shell) get(ctx context.Context, a *Call) error {
	srcs, dest := sources(a)
	opt, err := syncOptions("get", a)
	if err != nil {
		return err
	}
	remotes, err := expandRemote(ctx, s.c, "get", srcs, opt.Recursive)
	if err != nil {
		return err
	}
	if s.gets.joining {
		opt.Group = s.gets.group
	}
	return s.c.GetPaths(ctx, remotes, dest, s.transferOptions(opt, a.has("json")))
}

// ExpandRemote replaces each remote pattern among the arguments of a
// one-shot op (get, rm) by the paths it matches, as the shell does with
// its own command lines: the user quoted the pattern for the local shell
// (ftpx get '*.log'), as with scp. A backslash makes a wildcard literal.
// Directories match only with dirs (-r).
func ExpandRemote(ctx context.Context, c *client.Client, op string, args []string, dirs bool) ([]string, error) {
	return expandRemote(ctx, c, op, argWords(args), dirs)
}

// expandRemote replaces each word that holds a wildcard by the remote
// paths it matches; a pattern that matches nothing fails the whole op,
// before anything is done.
func expandRemote(ctx context.Context, c *client.Client, op string, words []word, dirs bool) ([]string, error) {
	var paths []string
	for _, w := range words {
		if !w.glob {
			paths = append(paths, w.text)
			continue
		}
		matches, err := remoteGlob(ctx, c, op, w, dirs)
		if err != nil {
			return nil, err
		}
		paths = append(paths, matches...)
	}
	return paths, nil
}

// remoteGlob expands a pattern against the listing of its directory
// (wildcards in the last element only). Only files match (and
// directories too with dirs), and only names that are safe as local
// names.
func remoteGlob(ctx context.Context, c *client.Client, op string, w word, dirs bool) ([]string, error) {
	i := strings.LastIndex(w.pattern, "/")
	dirPat, base := w.pattern[:i+1], w.pattern[i+1:]
	dir := unescape(dirPat)
	if hasMeta(dirPat) {
		return nil, client.Usagef("%s %s: wildcards only in the last element of a remote path", op, client.Printable(w.text))
	}
	if _, err := path.Match(base, ""); err != nil {
		return nil, client.Usagef("%s %s: bad pattern", op, client.Printable(w.text))
	}
	where := strings.TrimSuffix(dir, "/")
	if where == "" {
		where = "."
		if dir == "/" {
			where = "/"
		}
	}
	entries, err := c.Ls(ctx, where)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if ok, _ := path.Match(base, e.Name); ok && (dirs || !e.IsDir) && typable(e.Name) && !strings.ContainsAny(e.Name, `/\`) && e.Name != ".." {
			names = append(names, dir+e.Name)
		}
	}
	names = visible(names, base)
	if len(names) == 0 {
		return nil, &client.StatusError{Op: op, Path: w.text, Status: protocol.StatusNotExist, Msg: "no remote file matches"}
	}
	return names, nil
}

// hasMeta reports whether an escaped pattern holds an unescaped wildcard.
func hasMeta(pattern string) bool {
	for i := 0; i < len(pattern); i++ {
		switch {
		case pattern[i] == '\\':
			i++
		case strings.IndexByte(globChars, pattern[i]) >= 0:
			return true
		}
	}
	return false
}

// visible drops the hidden names a pattern matched, as sh does, unless
// the pattern itself starts with a dot.
func visible(names []string, pattern string) []string {
	if strings.HasPrefix(pattern, ".") {
		return names
	}
	var out []string
	for _, n := range names {
		if !strings.HasPrefix(path.Base(filepath.ToSlash(n)), ".") {
			out = append(out, n)
		}
	}
	return out
}

func (s *Shell) resume(ctx context.Context, a *Call) error {
	st := s.cfg.Records
	if st == nil {
		return fmt.Errorf("resume: no state directory")
	}
	if a.has("list") {
		recs, bad, err := st.List()
		for _, b := range bad {
			fmt.Fprintf(s.errw, "ftpx: resume: %s: %s\n", client.Printable(b.File), oneLine(b.Err.Error()))
		}
		if err != nil {
			return err
		}
		return WriteRecords(s.out, recs, s.c.HeldOf(ctx, recs), s.cfg.JSON || a.has("json"))
	}
	mine, _, bad, err := st.Pending(s.cfg.Server, s.cfg.User)
	for _, b := range bad {
		fmt.Fprintf(s.errw, "ftpx: resume: %s: %s; removing it\n", client.Printable(b.File), oneLine(b.Err.Error()))
		st.RemoveFile(b.File)
	}
	if err != nil {
		return err
	}
	if len(mine) == 0 {
		if !s.batch {
			fmt.Fprintln(s.errw, "resume: nothing to resume")
		}
		return nil
	}
	return s.c.ResumeAll(ctx, mine, s.transferOptions(client.TransferOptions{}, a.has("json")))
}

// WriteRecords prints resume points as a table, or as one JSON array.
// held, when not nil, says what the server holds of each put (by record
// id), shown in the HELD column and as "server_held" in JSON.
func WriteRecords(w io.Writer, recs []*client.Record, held map[string]client.Held, asJSON bool) error {
	if asJSON {
		type listed struct {
			*client.Record
			ServerHeld *int64 `json:"server_held,omitempty"`
		}
		out := []listed{}
		for _, r := range recs {
			l := listed{Record: r}
			if h, ok := held[r.ID]; ok && h.Note == "" {
				l.ServerHeld = &h.Bytes
			}
			out = append(out, l)
		}
		return json.NewEncoder(w).Encode(out)
	}
	if len(recs) == 0 {
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tDIRECTION\tLOCAL\tREMOTE\tOFFSET/SIZE\tHELD\tUPDATED")
	for _, r := range recs {
		h, ok := held[r.ID]
		shown := "-"
		switch {
		case ok && h.Note != "":
			shown = h.Note
		case ok:
			shown = fmt.Sprint(h.Bytes)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s@%s:%s\t%d/%d\t%s\t%s\n", r.ID, r.Direction, client.Printable(r.Local),
			client.Printable(r.User), client.Printable(r.Server), client.Printable(r.Remote), r.Offset, r.Size,
			shown, r.Updated.Local().Format("2006-01-02 15:04:05"))
	}
	return tw.Flush()
}
