package home

import (
	"fmt"
	"time"
)

// readOnly is an FS that refuses every change with ErrPermission: the
// anonymous tree. The permission checks come first; this is the floor
// under them.
type readOnly struct{ FS }

func (readOnly) refuse(op, name string) error {
	return fmt.Errorf("%s %s: %w", op, name, because(ErrPermission, "read only"))
}

func (r readOnly) Mkdir(name string, _ bool) error { return r.refuse("mkdir", name) }
func (r readOnly) Remove(name string) error        { return r.refuse("rm", name) }
func (r readOnly) RemoveAll(name string) (int64, error) {
	return 0, r.refuse("rm", name)
}
func (r readOnly) Rename(oldname, _ string) error { return r.refuse("mv", oldname) }
func (r readOnly) Upload(_, name string, _ UploadOptions) (Sink, Target, error) {
	return nil, Target{}, r.refuse("put", name)
}
func (r readOnly) Chtimes(name string, _ time.Time) error     { return r.refuse("mtime", name) }
func (r readOnly) RemovePartial(id string) error              { return r.refuse("abort", "partial "+id) }
func (r readOnly) SavePartialState(id string, _ []byte) error { return r.refuse("save", "partial "+id) }
func (r readOnly) Sync() error                                { return nil }
