package protocol

import (
	"fmt"
	"strings"
)

// Perm is a set of permissions on a user's home or one of its folders, as
// the accounts file spells them: "read" (ls, get, stat), "write" (put of a
// new file, mkdir) and "modify" (rm, mv, put over an existing file).
type Perm uint8

const (
	PermRead Perm = 1 << iota
	PermWrite
	PermModify

	PermAll = PermRead | PermWrite | PermModify
)

var permNames = []struct {
	p    Perm
	name string
}{{PermRead, "read"}, {PermWrite, "write"}, {PermModify, "modify"}}

// ParsePerms reads a comma-separated list of permission names, without
// spaces ("read,write"). Each name may appear once; the list is not empty.
func ParsePerms(s string) (Perm, error) {
	if s == "" {
		return 0, fmt.Errorf("no permissions (want read, write and/or modify, comma-separated)")
	}
	var p Perm
next:
	for _, name := range strings.Split(s, ",") {
		for _, n := range permNames {
			if name == n.name {
				if p&n.p != 0 {
					return 0, fmt.Errorf("permission %q is given twice", name)
				}
				p |= n.p
				continue next
			}
		}
		return 0, fmt.Errorf("unknown permission %q (want read, write or modify)", name)
	}
	return p, nil
}

// String returns the permissions as ParsePerms reads them ("read,write"),
// or "none".
func (p Perm) String() string {
	var names []string
	for _, n := range permNames {
		if p&n.p != 0 {
			names = append(names, n.name)
		}
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ",")
}

// Has reports whether p includes every permission of q.
func (p Perm) Has(q Perm) bool { return p&q == q }
