package accounts

import (
	"fmt"
	"path/filepath"
	"strings"

	"ftpx/internal/s3url"
	"ftpx/protocol"
)

// Folder is a directory of the server that a user sees in the home as
// /NAME: `folder.NAME = DIR PERMS [quota=SIZE]` in the user's section.
type Folder struct {
	Name     string        // one path element, as ValidName allows
	Dir      string        // absolute, or s3://BUCKET[/PREFIX] on the server's object store
	Perms    protocol.Perm // what the user may do in it
	Quota    int64         // its own limit, when OwnQuota: bytes, or Unlimited
	OwnQuota bool          // quota= was given; else what is written in it counts on the home's quota
}

// Value returns the folder as the accounts file writes it: "DIR PERMS"
// and " quota=SIZE" when it has a quota of its own.
func (f Folder) Value() string {
	v := f.Dir + " " + f.Perms.String()
	if f.OwnQuota {
		v += " quota=" + protocol.FormatSize(f.Quota)
	}
	return v
}

// parseFolder reads the value of folder.NAME: DIR PERMS [quota=SIZE]. DIR
// is everything before the permissions, so it may hold spaces.
func parseFolder(name, v string) (Folder, error) {
	f := Folder{Name: name}
	if !ValidName(name) || name == ".ftpx-partial" {
		return f, fmt.Errorf("invalid folder name %q (1-64 of A-Z a-z 0-9 . _ -, not starting with . or -)", name)
	}
	rest := strings.TrimSpace(v)
	last := func() string {
		i := strings.LastIndexAny(rest, " \t")
		if i < 0 {
			w := rest
			rest = ""
			return w
		}
		w := rest[i+1:]
		rest = strings.TrimRight(rest[:i], " \t")
		return w
	}
	w := last()
	if q, ok := strings.CutPrefix(w, "quota="); ok {
		n, err := protocol.ParseSize(q)
		if err != nil {
			return f, fmt.Errorf("quota: %v", err)
		}
		f.Quota, f.OwnQuota = n, true
		w = last()
	}
	p, err := protocol.ParsePerms(w)
	if err != nil {
		return f, fmt.Errorf("%v (want DIR PERMS [quota=SIZE], e.g. /srv/team read,write)", err)
	}
	f.Perms = p
	switch {
	case rest == "":
		return f, fmt.Errorf("no directory (want DIR PERMS [quota=SIZE], e.g. /srv/team read,write)")
	case s3url.Is(rest):
		u, err := s3url.Parse(rest)
		if err != nil {
			return f, err
		}
		f.Dir = u.String()
		return f, nil
	case !filepath.IsAbs(rest):
		return f, fmt.Errorf("directory %q is not absolute", rest)
	}
	f.Dir = filepath.Clean(rest)
	return f, nil
}

// parseRate reads a transfer rate in bytes per second, as a size ("10MB"),
// of at least MinRate.
func parseRate(v string) (int64, error) {
	n, err := protocol.ParseSize(v)
	switch {
	case err != nil:
		return 0, err
	case n < MinRate:
		return 0, fmt.Errorf("%s is below the minimum of %s per second", v, protocol.FormatSize(MinRate))
	}
	return n, nil
}

// MinRate is the lowest rate limit a user can be given: slower peers
// would run into the transfer timeout.
const MinRate = 4 << 10
