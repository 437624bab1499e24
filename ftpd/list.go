package ftpd

import (
	"fmt"
	"io/fs"
	"path"
	"strings"
	"time"

	"ftpx/home"
)

// entry is one name of a listing and what it is.
type entry struct {
	path string // home path
	fi   fs.FileInfo
}

// entries lists a directory, or describes a single file. Names a reply
// line cannot carry (control characters: CR, LF...) are left out; no FTP
// command could name them anyway. Partial uploads are never listed.
func (c *session) entries(name string) ([]entry, error) {
	fi, err := c.home.FS.Stat(name)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return []entry{{name, fi}}, nil
	}
	infos, err := c.home.FS.ReadDir(name)
	if err != nil {
		return nil, err
	}
	out := make([]entry, 0, len(infos))
	for _, fi := range infos {
		if printable(fi.Name()) {
			out = append(out, entry{path.Join(name, fi.Name()), fi})
		}
	}
	return out, nil
}

// printable reports whether a name has no control character.
func printable(name string) bool {
	for i := 0; i < len(name); i++ {
		if name[i] < 0x20 || name[i] == 0x7f {
			return false
		}
	}
	return true
}

// longLine is an ls -l line, as clients parse LIST: times in UTC, with
// the year for those more than six months away.
func (c *session) longLine(e entry, now time.Time) string {
	mode := "-rw-r--r--"
	if e.fi.IsDir() {
		mode = "drwxr-xr-x"
	}
	if !c.home.Perms(e.path).Has(home.PermWrite) {
		mode = mode[:2] + "-" + mode[3:]
	}
	t := e.fi.ModTime().UTC()
	stamp := t.Format("Jan _2 15:04")
	if d := now.Sub(t); d > 180*24*time.Hour || d < -180*24*time.Hour {
		stamp = t.Format("Jan _2  2006")
	}
	size := e.fi.Size()
	if e.fi.IsDir() {
		size = 4096
	}
	return fmt.Sprintf("%s 1 ftp ftp %12d %s %s", mode, size, stamp, e.fi.Name())
}

// mlstFacts are the facts MLST and MLSD give (FEAT marks them all on).
const mlstFacts = "type*;size*;modify*;perm*;"

// facts is an MLSx fact line: type, size (files), modify (UTC) and perm,
// from the permissions in force at the path (RFC 3659, 7.5.5).
func (c *session) facts(name string, fi fs.FileInfo) string {
	p := c.home.Perms(name)
	var perm strings.Builder
	if fi.IsDir() {
		if p.Has(home.PermRead) {
			perm.WriteString("el")
		}
		if p.Has(home.PermWrite) {
			perm.WriteString("cm")
		}
		if p.Has(home.PermModify) {
			perm.WriteString("dfp")
		}
		return fmt.Sprintf("type=dir;modify=%s;perm=%s;", fi.ModTime().UTC().Format(mdtmLayout), perm.String())
	}
	if p.Has(home.PermRead) {
		perm.WriteString("r")
	}
	if p.Has(home.PermWrite | home.PermModify) {
		perm.WriteString("aw")
	}
	if p.Has(home.PermModify) {
		perm.WriteString("df")
	}
	return fmt.Sprintf("type=file;size=%d;modify=%s;perm=%s;", fi.Size(), fi.ModTime().UTC().Format(mdtmLayout), perm.String())
}

// handleList sends an ls -l listing of a directory (or one file).
func (c *session) handleList(arg string) error {
	return c.list("LIST", arg, func(b *strings.Builder, e entry, now time.Time) {
		b.WriteString(c.longLine(e, now))
	})
}

// handleNlst sends the names only.
func (c *session) handleNlst(arg string) error {
	return c.list("NLST", arg, func(b *strings.Builder, e entry, _ time.Time) {
		b.WriteString(e.fi.Name())
	})
}

// handleMlsd sends a machine listing of a directory (RFC 3659).
func (c *session) handleMlsd(arg string) error {
	name, err := c.readable(arg)
	if err == nil {
		err = c.home.CheckKind(name, true)
	}
	if err != nil {
		return c.fail("MLSD", arg, err)
	}
	return c.list("MLSD", arg, func(b *strings.Builder, e entry, _ time.Time) {
		b.WriteString(c.facts(e.path, e.fi) + " " + e.fi.Name())
	})
}

// list sends one line per entry of the path arg names over a data
// connection.
func (c *session) list(verb, arg string, line func(*strings.Builder, entry, time.Time)) error {
	p := arg
	if verb != "MLSD" {
		p = listArg(arg)
	}
	name, err := c.readable(p)
	if err != nil {
		return c.fail(verb, arg, err)
	}
	entries, err := c.entries(name)
	if err != nil {
		return c.fail(verb, arg, err)
	}
	var b strings.Builder
	now := time.Now()
	for _, e := range entries {
		line(&b, e, now)
		b.WriteString("\r\n")
	}
	return c.sendListing(verb, b.String())
}
