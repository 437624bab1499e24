package s3home

import (
	"path"
	"time"
)

// An upload checks that its parent is a directory, which on an object
// store takes two requests (no object at the name, then something under
// it). A pipelined batch puts many files into few directories, so an FS
// remembers the directories it saw for dirTTL and answers their Stat
// without asking. Another server's rm -r of one shows here up to dirTTL
// late, and only as a directory that exists and is empty: a listing, a
// get or a file's Stat always asks the store. This FS's own rm and mv
// forget every directory at once.
const dirTTL = 2 * time.Second

// seenDir returns the directory name as seen within dirTTL, or nil.
func (t *FS) seenDir(name string) *info {
	t.mu.Lock()
	defer t.mu.Unlock()
	d := t.dirs[name]
	if d == nil || time.Since(d.seen) > dirTTL {
		return nil
	}
	return d
}

// sawDir records that name is the directory d, now.
func (t *FS) sawDir(name string, d *info) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.dirs) >= maxDirs {
		clear(t.dirs)
	}
	d.seen = time.Now()
	t.dirs[name] = d
}

// forgetDirs forgets every directory seen or made: one may have gone or
// moved.
func (t *FS) forgetDirs() {
	t.mu.Lock()
	clear(t.dirs)
	clear(t.made)
	t.mu.Unlock()
}

// A file must not be written where a directory is (MinIO would then hide
// the directory's content from listings), which costs a listing of the
// name before each small file. But a directory this FS made was empty
// then, and what it holds since that is a directory, this FS made too:
// a file written into it needs no listing unless its name is one of
// those. (Another server making a directory of the same name at the same
// moment is the race any check before a write has.)

// madeDir records that this FS made the directory name, empty.
func (t *FS) madeDir(name string) {
	t.sawDir(name, &info{name: path.Base(name), dir: true, mtime: time.Now()})
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.made) >= maxDirs {
		clear(t.made)
	}
	t.made[name] = true
}

// surelyNoDir reports whether name is known not to be a directory: its
// parent was made by this FS and name was not.
func (t *FS) surelyNoDir(name string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.made[path.Dir(name)] && !t.made[name]
}

// maxDirs bounds the directories an FS remembers.
const maxDirs = 1024
