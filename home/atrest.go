package home

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"time"
)

// The operator's view of interrupted uploads (ftpx-server partials): a
// partial is kept until its client resumes or cancels it, or until
// partial_max_age; the server never drops one because the disk is full.
// These functions read and remove them in a tree (a home or a folder
// directory) directly, without a Manager.

// AtRest is an interrupted upload kept in a tree.
type AtRest struct {
	ID      string
	Name    string    // the home path it is for; "" when its saved state is lost
	Size    int64     // bytes held
	Of      int64     // the whole file's declared size; 0 when unknown
	ModTime time.Time // last written (its data or its saved state)
}

// PartialsIn lists the interrupted uploads kept in the tree dir. A tree
// without any lists none.
func PartialsIn(dir string) ([]AtRest, error) {
	fsys, err := Dir(dir)
	if err != nil {
		return nil, err
	}
	defer fsys.Close()
	d := fsys.(*dirFS)
	parts, err := d.Partials()
	if err != nil {
		return nil, err
	}
	out := make([]AtRest, 0, len(parts))
	for _, p := range parts {
		a := AtRest{ID: p.ID, Size: p.Size, ModTime: p.ModTime}
		var st ResumePoint
		if b, err := d.PartialState(p.ID); err == nil && json.Unmarshal(b, &st) == nil {
			a.Name, a.Of = st.Name, st.Size
		}
		if fi, err := d.root.Stat(PartialDir + "/" + p.ID + stateSuffix); err == nil && fi.ModTime().After(a.ModTime) {
			a.ModTime = fi.ModTime()
		}
		out = append(out, a)
	}
	return out, nil
}

// RemovePartialIn removes the interrupted upload id (its data and saved
// state) from the tree dir and returns the bytes it held. A running
// server counts them as used until every session of the user has ended.
func RemovePartialIn(dir, id string) (int64, error) {
	fsys, err := Dir(dir)
	if err != nil {
		return 0, err
	}
	defer fsys.Close()
	d := fsys.(*dirFS)
	p, err := partial("rm", id)
	if err != nil {
		return 0, err
	}
	fi, err := d.root.Lstat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return 0, fmt.Errorf("partial %s: %w", id, ErrNotExist)
	case err != nil:
		return 0, opErr("rm", "partial "+id, err)
	case !fi.Mode().IsRegular():
		return 0, fmt.Errorf("partial %s: not a regular file: %w", id, ErrPermission)
	}
	if err := d.RemovePartial(id); err != nil {
		return 0, err
	}
	return fi.Size(), nil
}
