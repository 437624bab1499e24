package home

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"time"

	"ftpx/internal/xfer"
)

// PartialInfo describes one partial upload's data file.
type PartialInfo struct {
	ID      string
	Size    int64
	ModTime time.Time
}

// stateSuffix names the file beside a partial that holds its saved state.
const stateSuffix = ".state"

// isStateFile reports whether the root-relative path p is a partial's
// saved state, which the quota does not count: it is the server's
// bookkeeping, a few hundred bytes, rewritten as the upload goes.
func isStateFile(p string) bool {
	return strings.HasPrefix(p, PartialDir+"/") && (strings.HasSuffix(p, stateSuffix) || strings.HasSuffix(p, stateSuffix+".tmp"))
}

func (d *dirFS) reopenPartial(id string, offset int64) (*os.File, error) {
	p, err := partial("resume", id)
	if err != nil {
		return nil, err
	}
	f, err := d.root.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		return nil, opErr("resume", "partial "+id, err)
	}
	fi, err := f.Stat()
	if err == nil && fi.Size() < offset {
		err = ErrSize
	}
	if err == nil {
		err = f.Truncate(offset)
	}
	if err == nil {
		_, err = f.Seek(offset, io.SeekStart)
	}
	if err != nil {
		f.Close()
		return nil, opErr("resume", "partial "+id, err)
	}
	return f, nil
}

func (d *dirFS) ReadPartial(id string, offset int64) (io.ReadCloser, error) {
	p, err := partial("resume", id)
	if err != nil {
		return nil, err
	}
	f, err := d.root.Open(p)
	if err != nil {
		return nil, opErr("resume", "partial "+id, err)
	}
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		f.Close()
		return nil, opErr("resume", "partial "+id, err)
	}
	return f, nil
}

func (d *dirFS) RemovePartial(id string) error {
	p, err := partial("abort", id)
	if err != nil {
		return err
	}
	if err := d.root.Remove(p + stateSuffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return opErr("abort", "partial "+id, err)
	}
	return opErr("abort", "partial "+id, d.root.Remove(p))
}

func (d *dirFS) SavePartialState(id string, state []byte) error {
	p, err := partial("save", id)
	if err != nil {
		return err
	}
	tmp := p + stateSuffix + ".tmp"
	if err := d.root.WriteFile(tmp, state, filePerm); err != nil {
		return opErr("save", "partial "+id, err)
	}
	return opErr("save", "partial "+id, d.root.Rename(tmp, p+stateSuffix))
}

func (d *dirFS) PartialState(id string) ([]byte, error) {
	p, err := partial("load", id)
	if err != nil {
		return nil, err
	}
	b, err := d.root.ReadFile(p + stateSuffix)
	if err != nil {
		return nil, opErr("load", "partial "+id, err)
	}
	return b, nil
}

// partialSize is the size of the partial id's data, -1 when there is
// none: what Partials lists for it.
func (d *dirFS) partialSize(id string) int64 {
	p, err := partial("stat", id)
	if err != nil {
		return -1
	}
	fi, err := d.root.Lstat(p)
	if err != nil || !fi.Mode().IsRegular() {
		return -1
	}
	return fi.Size()
}

func (d *dirFS) Partials() ([]PartialInfo, error) {
	dir, err := d.root.Open(PartialDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, opErr("list", "partials", err)
	}
	defer dir.Close()
	ents, err := dir.ReadDir(-1)
	if err != nil {
		return nil, opErr("list", "partials", err)
	}
	var out []PartialInfo
	for _, e := range ents {
		if !e.Type().IsRegular() || isStateFile(PartialDir+"/"+e.Name()) {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue // removed meanwhile
		}
		out = append(out, PartialInfo{ID: e.Name(), Size: fi.Size(), ModTime: fi.ModTime()})
	}
	return out, nil
}

// Upload opens an upload's sink: an unnamed file in the name's own
// directory when it is small and cannot be resumed (whole.go), else a
// named partial, PartialDir/id.
func (d *dirFS) Upload(id, name string, o UploadOptions) (Sink, Target, error) {
	if !o.Resumable && o.Offset == 0 && o.Size <= wholeMax && !d.noWhole.Load() {
		if s, t, err := d.openWhole(name, o.MTime); err != errNoWhole {
			return s, t, err
		}
	}
	t, err := MeasureTarget(d, name)
	if err != nil {
		return nil, Target{}, err
	}
	var f *os.File
	if o.Offset == 0 {
		f, err = d.createPartial(id)
	} else {
		f, err = d.reopenPartial(id, o.Offset)
	}
	if err != nil {
		return nil, Target{}, err
	}
	s := &partialSink{d: d, id: id, name: name, f: f, w: f, mtime: o.MTime, saved: o.Offset, stated: o.Offset > 0}
	if o.Durable {
		// The disk writes the partial as it fills, so the sync at the
		// commit finds little to do; without that sync the kernel writes
		// it back when it will, as it would any file.
		s.wb = xfer.NewWritebackWriter(f)
		s.w = s.wb
	}
	return s, t, nil
}

// partialSink is an upload into the named partial file PartialDir/id:
// the kind every resumable upload takes, and any other that cannot be an
// unnamed file. Its resume point is saved beside it (id.state).
type partialSink struct {
	d      *dirFS
	id     string
	name   string // in the tree
	f      *os.File
	w      io.Writer // f, or wb over it
	wb     *xfer.WritebackWriter
	mtime  time.Time
	saved  int64 // the offset of the saved resume point
	stated bool  // a resume point is saved: it goes when the file is placed
}

func (s *partialSink) Write(p []byte) (int, error) { return s.w.Write(p) }

// Checkpoint saves the resume point when one is due: every byte written
// is in the partial file.
func (s *partialSink) Checkpoint(at int64, state func() ResumePoint, due bool) (int64, error) {
	if !due {
		return s.saved, nil
	}
	if err := s.d.SavePartialState(s.id, state().Marshal()); err != nil {
		return s.saved, err
	}
	s.saved, s.stated = at, true
	return at, nil
}

// Sync makes every byte written so far durable in the partial file.
func (s *partialSink) Sync() error {
	if s.f == nil {
		return fs.ErrClosed
	}
	return s.f.Sync()
}

// Finish gives the file its modification time, syncs it when asked and
// closes it.
func (s *partialSink) Finish(sync bool) error {
	var err error
	if s.wb != nil {
		s.wb.Stop()
	}
	if !s.mtime.IsZero() {
		err = xfer.SetMTime(s.f, s.mtime)
	}
	if sync && err == nil {
		err = s.f.Sync()
	}
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	s.f = nil
	return err
}

func (s *partialSink) Target() (Target, error) { return MeasureTarget(s.d, s.name) }

// Place renames the partial onto the name, atomically replacing a file
// (durable: then syncs its directory).
func (s *partialSink) Place(_ Target, _ string, durable bool) (fs.FileInfo, error) {
	p, err := partial("put", s.id)
	if err != nil {
		return nil, err
	}
	r, err := rel("put", s.name)
	if err != nil {
		return nil, err
	}
	// Through the root: a symlink out of the home gives ErrOutside here,
	// before anything is renamed.
	fi, err := s.d.root.Stat(r)
	switch {
	case err == nil && fi.IsDir():
		return nil, fmt.Errorf("put %s: %w", s.name, because(ErrIsDir, "a file cannot replace a directory"))
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return nil, opErr("put", s.name, err)
	}
	if err := s.d.root.Rename(p, r); err != nil {
		return nil, opErr("put", s.name, err)
	}
	if s.stated {
		s.d.root.Remove(p + stateSuffix) // best effort: a state without data is swept
	}
	if durable {
		dir, err := s.d.root.Open(path.Dir(r))
		if err != nil {
			return nil, opErr("put", s.name, err)
		}
		err = dir.Sync()
		dir.Close()
		if err != nil {
			return nil, opErr("put", s.name, err)
		}
	}
	fi, _ = s.d.root.Stat(r)
	return fi, nil
}

// Suspend closes the partial and saves the resume point at its end.
func (s *partialSink) Suspend(state func() ResumePoint) (int64, error) {
	err := s.close()
	st := state()
	if serr := s.d.SavePartialState(s.id, st.Marshal()); serr != nil {
		return s.saved, serr
	}
	return st.Offset, err
}

// Abort closes and removes the partial and its resume point.
func (s *partialSink) Abort() error {
	s.close()
	return s.d.RemovePartial(s.id)
}

func (s *partialSink) close() error {
	if s.f == nil {
		return nil
	}
	if s.wb != nil {
		s.wb.Stop()
	}
	err := s.f.Close()
	s.f = nil
	return err
}

// Chtimes sets the modification time of the file name.
func (d *dirFS) Chtimes(name string, mtime time.Time) error {
	r, err := rel("mtime", name)
	if err != nil {
		return err
	}
	return opErr("mtime", name, d.root.Chtimes(r, time.Time{}, mtime))
}
