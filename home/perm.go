package home

import (
	"fmt"

	"ftpx/protocol"
)

// Perm is a set of permissions on the home or one of its folders.
type Perm = protocol.Perm

// The permissions: read allows ls, get and stat; write allows put of a new
// file and mkdir; modify allows rm, mv and put over an existing file.
const (
	PermRead   = protocol.PermRead
	PermWrite  = protocol.PermWrite
	PermModify = protocol.PermModify
	PermAll    = protocol.PermAll
)

// Allowed returns nil when the session may do what needs want on the home
// path name, judged by the permissions of the mount name is in (a folder's
// mount point is in the folder), else an error wrapping ErrPermission.
func (h *Home) Allowed(name string, want Perm) error {
	mt, _ := h.route(name)
	if !mt.perms.Has(want) {
		return fmt.Errorf("%s: %w", name, because(ErrPermission, "needs "+(want&^mt.perms).String()))
	}
	return nil
}

// Perms returns the permissions in force at the home path name.
func (h *Home) Perms(name string) Perm {
	mt, _ := h.route(name)
	return mt.perms
}
