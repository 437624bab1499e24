package home

import (
	"io/fs"
	"path"
)

// entryInfo describes e, an entry of the directory at r (opened through
// the root). The entry's own stat is the one its ReadDir already made,
// relative to the directory (an os.Root directory lstats each entry at
// once): a stat through the root would walk every element of the path
// again, for each entry. Only a symlink is resolved through the root, so
// that an inside one shows its target and one out of the home, or
// dangling, is never followed (unfollowed). ok is false for an entry that
// vanished.
func (d *dirFS) entryInfo(r string, e fs.DirEntry) (fi fs.FileInfo, ok bool) {
	li, err := e.Info()
	if err != nil {
		return nil, false
	}
	if li.Mode()&fs.ModeSymlink == 0 {
		return li, true
	}
	if fi, err := d.root.Stat(path.Join(r, e.Name())); err == nil {
		return fi, true
	}
	return unfollowed{li}, true
}
