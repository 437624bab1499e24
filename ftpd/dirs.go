package ftpd

import (
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"time"

	"ftpx/home"
)

// handlePwd reports the current directory ("/" is the home root).
func (c *session) handlePwd(string) error {
	return c.reply(257, quote(c.cwd)+" is the current directory")
}

// handleCwd changes the current directory; no argument goes to the home
// root.
func (c *session) handleCwd(arg string) error {
	if arg == "" {
		arg = "/"
	}
	name, err := c.resolve(arg)
	if err != nil {
		return c.fail("CWD", arg, err)
	}
	fi, err := c.home.FS.Stat(name)
	if err != nil {
		return c.fail("CWD", arg, err)
	}
	if !fi.IsDir() {
		return c.fail("CWD", arg, home.ErrNotDir)
	}
	c.cwd = name
	return c.reply(250, "directory changed to "+quote(name))
}

// handleCdup goes to the parent directory. At the home's root it stays
// there and answers 250, as a chrooted FTP server does (Python's ftplib
// sends CDUP for cwd('..')).
func (c *session) handleCdup(string) error {
	if c.cwd == "/" {
		return c.reply(250, "directory changed to "+quote("/"))
	}
	return c.handleCwd("..")
}

// handleMkd creates a directory (write permission).
func (c *session) handleMkd(arg string) error {
	name, err := c.resolve(arg)
	if err == nil {
		err = c.home.Allowed(name, home.PermWrite)
	}
	if err == nil {
		err = c.home.FS.Mkdir(name, false)
	}
	if err != nil {
		return c.fail("MKD", arg, err)
	}
	return c.reply(257, quote(name)+" created")
}

// handleRmd removes an empty directory (modify permission).
func (c *session) handleRmd(arg string) error {
	name, err := c.resolve(arg)
	if err == nil {
		err = c.home.CheckKind(name, true)
	}
	if err == nil {
		err = c.home.Remove(name, false)
	}
	if err != nil {
		return c.fail("RMD", arg, err)
	}
	if c.cwd == name || strings.HasPrefix(c.cwd, name+"/") {
		c.cwd = path.Dir(name)
	}
	return c.reply(250, quote(name)+" removed")
}

// handleDele removes a file (modify permission); the bytes it held leave
// the quota at once.
func (c *session) handleDele(arg string) error {
	name, err := c.resolve(arg)
	if err == nil {
		err = c.home.CheckKind(name, false)
	}
	if err == nil {
		err = c.home.Remove(name, false)
	}
	if err != nil {
		return c.fail("DELE", arg, err)
	}
	return c.reply(250, quote(name)+" deleted")
}

// handleRnfr names what the next command, RNTO, renames.
func (c *session) handleRnfr(arg string) error {
	name, err := c.resolve(arg)
	if err == nil {
		_, err = c.home.FS.Stat(name)
	}
	if err != nil {
		return c.fail("RNFR", arg, err)
	}
	c.renameFrom = name
	return c.reply(350, "ready for RNTO")
}

// handleRnto renames what RNFR named (modify permission at both names).
func (c *session) handleRnto(arg string) error {
	if c.renameFrom == "" {
		return c.reply(503, "send RNFR first")
	}
	to, err := c.resolve(arg)
	if err == nil {
		err = c.home.Rename(c.renameFrom, to)
	}
	if err != nil {
		return c.fail("RNTO", arg, err)
	}
	c.log.Info("mv done", "path", c.renameFrom, "to", to)
	return c.reply(250, "renamed to "+quote(to))
}

// handleSize gives a file's size; for a name with an interrupted upload
// held, the bytes held, which is where APPE (or REST+STOR) resumes: curl
// -C - and lftp put -c ask SIZE first.
func (c *session) handleSize(arg string) error {
	name, err := c.readable(arg)
	if err != nil {
		return c.fail("SIZE", arg, err)
	}
	if held, ok := c.held(name); ok {
		return c.reply(213, strconv.FormatInt(held, 10))
	}
	fi, err := c.home.FS.Stat(name)
	if err == nil && fi.IsDir() {
		err = fmt.Errorf("%s: %w", name, home.ErrIsDir)
	}
	if err != nil {
		return c.fail("SIZE", arg, err)
	}
	return c.reply(213, strconv.FormatInt(fi.Size(), 10))
}

// handleMdtm gives a file's modification time, in UTC (RFC 3659).
func (c *session) handleMdtm(arg string) error {
	name, err := c.readable(arg)
	if err != nil {
		return c.fail("MDTM", arg, err)
	}
	fi, err := c.home.FS.Stat(name)
	if err != nil {
		return c.fail("MDTM", arg, err)
	}
	return c.reply(213, fi.ModTime().UTC().Format(mdtmLayout))
}

const mdtmLayout = "20060102150405"

// handleMfmt sets a file's modification time (draft-somers-ftp-mfxx):
// "MFMT YYYYMMDDHHMMSS[.sss] PATH", in UTC, so that clients that mirror a
// tree up (lftp mirror -R) keep its times. It needs write. The reply
// gives the time the name has afterwards, as MDTM would: an object store
// keeps none for a directory, and a file system may clamp a time.
func (c *session) handleMfmt(arg string) error {
	mtime, p, err := parseMfmt(arg)
	if err != nil {
		return c.reply(501, "MFMT needs a time, YYYYMMDDHHMMSS[.sss] in UTC between 1678 and 2262, and a path")
	}
	name, err := c.resolve(p)
	if err == nil {
		err = c.home.SetMTime(name, mtime)
	}
	var fi fs.FileInfo
	if err == nil {
		fi, err = c.home.FS.Stat(name)
	}
	if err != nil {
		return c.fail("MFMT", p, err)
	}
	return c.reply(213, "Modify="+fi.ModTime().UTC().Format(mdtmLayout)+"; "+p)
}

// handleMlst describes one name on the control connection (RFC 3659).
func (c *session) handleMlst(arg string) error {
	name, err := c.readable(arg)
	if err != nil {
		return c.fail("MLST", arg, err)
	}
	fi, err := c.home.FS.Stat(name)
	if err != nil {
		return c.fail("MLST", arg, err)
	}
	return c.reply(250, "listing "+name+"\n"+c.facts(name, fi)+" "+name+"\nEnd")
}

// handleStat reports the session's state, or lists a path on the control
// connection.
func (c *session) handleStat(arg string) error {
	if arg == "" {
		mode := "clear"
		if c.tls {
			mode = "TLS"
		}
		user := "(not logged in)"
		if c.login != nil {
			user = c.login.User
		}
		return c.reply(211, fmt.Sprintf("ftpx FTP server status:\nlogged in as %s\ncontrol connection: %s\ndata connections: %s\ncurrent directory: %s\nEnd",
			user, mode, map[bool]string{true: "TLS (PROT P)", false: "clear"}[c.protected], c.cwd))
	}
	p := listArg(arg)
	name, err := c.readable(p)
	if err != nil {
		return c.fail("STAT", arg, err)
	}
	entries, err := c.entries(name)
	if err != nil {
		return c.fail("STAT", arg, err)
	}
	var b strings.Builder
	b.WriteString("status of " + name + ":\n")
	now := time.Now()
	for _, e := range entries {
		b.WriteString(c.longLine(e, now))
		b.WriteString("\n")
	}
	b.WriteString("End")
	return c.reply(213, b.String())
}

// readable resolves p (the current directory when empty) and checks read
// permission there.
func (c *session) readable(p string) (string, error) {
	name, err := c.resolve(p)
	if err == nil {
		err = c.home.Allowed(name, home.PermRead)
	}
	return name, err
}

// quote puts a path in double quotes, doubling any inside (RFC 959).
func quote(p string) string {
	return `"` + strings.ReplaceAll(p, `"`, `""`) + `"`
}
