package s3home

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"time"

	"ftpx/home"
)

// An upload into the store is a home.Sink over one of the partials of
// partial.go. It holds its bytes only in whole parts, so its resume
// points go at part ends: at each part end the MD5 state is kept aside
// (a snap), and the latest snap whose part the store holds is saved when
// a resume point is due. Several servers may write the same names, so it
// places on condition: the name must still hold what was measured.

// placeConcurrency is how many files of a batch are measured or placed at
// once: the store has no syncfs, so a batch is as many single writes.
const placeConcurrency = 16

// PlaceConcurrency makes the FS a home.Concurrent.
func (t *FS) PlaceConcurrency() int { return placeConcurrency }

// sink is an upload's home.Sink.
type sink struct {
	t       *FS
	id      string
	name    string
	w       upload
	blind   bool   // not measured: taken to be a new name until a place says otherwise
	snaps   []snap // resume points at part ends, waiting for their part to be held
	snapped int64  // the last part end snapped
	saved   int64  // the offset of the saved resume point
}

// snap is the resume point at a part end.
type snap struct {
	at    int64
	state []byte
}

// Upload opens an upload's sink. An upload that cannot be resumed (a
// pipelined put) is not measured up front, which would cost a request
// before each file of a batch: it is taken to be new (the quota reserves
// its whole size), the place's condition - nothing there - checks that,
// and only when it fails is the name measured (a file found there needs
// modify). So a directory or a file at the name is refused at the place,
// after the body, where a pipelined put's answer comes anyway. The
// parent is checked in any case (a directory seen lately costs nothing).
func (t *FS) Upload(id, name string, o home.UploadOptions) (home.Sink, home.Target, error) {
	if _, err := t.partialKey("put", id, ""); err != nil {
		return nil, home.Target{}, err
	}
	blind := !o.Resumable && o.Offset == 0
	var tg home.Target
	var err error
	if blind {
		err = t.checkParent(name)
	} else {
		tg, err = home.MeasureTarget(t, name)
	}
	if err != nil {
		return nil, home.Target{}, err
	}
	var w upload
	if o.Offset == 0 {
		w, err = t.createObject(id, name, o)
	} else {
		w, err = t.reopenPartial(o.Ctx, id, o.Offset)
	}
	if err != nil {
		return nil, home.Target{}, err
	}
	tg.Blind = blind
	return &sink{t: t, id: id, name: name, w: w, blind: blind, snapped: o.Offset - 1, saved: o.Offset}, tg, nil
}

// checkParent refuses a name whose parent is missing or not a directory.
func (t *FS) checkParent(name string) error {
	if name == "/" {
		return fmt.Errorf("put %s: %w", name, home.ErrIsDir)
	}
	dir, err := t.Stat(path.Dir(name))
	switch {
	case errors.Is(err, home.ErrNotExist):
		return fmt.Errorf("put %s: parent directory: %w", name, err)
	case err != nil:
		return fmt.Errorf("put %s: %w", name, err)
	case !dir.IsDir():
		return fmt.Errorf("put %s: %w", name, home.ErrNotDir)
	}
	return nil
}

func (s *sink) Write(p []byte) (int, error) { return s.w.Write(p) }

// PartSize tells home where resume points can go: it splits writes there.
func (s *sink) PartSize() int64 { return s.w.PartSize() }

// Checkpoint snaps the resume point at a part end, and saves the latest
// snap whose part the store holds when one is due.
func (s *sink) Checkpoint(at int64, state func() home.ResumePoint, due bool) (int64, error) {
	if at > s.snapped && at%s.w.PartSize() == 0 {
		s.snaps = append(s.snaps, snap{at, state().Marshal()})
		s.snapped = at
	}
	if !due {
		return s.saved, nil
	}
	return s.saveHeld()
}

// saveHeld saves the latest snap whose part the store holds.
func (s *sink) saveHeld() (int64, error) {
	held, i := s.w.Held(), -1
	for j, sn := range s.snaps {
		if sn.at <= held {
			i = j
		}
	}
	if i < 0 {
		return s.saved, nil
	}
	sn := s.snaps[i]
	s.snaps = s.snaps[i+1:]
	if err := s.w.SaveState(sn.at, sn.state); err != nil {
		return s.saved, err
	}
	s.saved = sn.at
	return sn.at, nil
}

// Sync waits for the parts being uploaded, so that the checkpoint after
// it (home's Upload.Sync, for fsync@openssh.com) saves a resume point at
// the last whole part written. The part being filled stays in memory: the
// store takes no part smaller than the part size but the last.
func (s *sink) Sync() error { return s.w.waitParts() }

// Finish uploads what is buffered and waits for every part, whatever
// sync says: the store holds nothing it has not been sent.
func (s *sink) Finish(bool) error {
	err := s.w.Sync()
	if cerr := s.w.Close(); err == nil {
		err = cerr
	}
	return err
}

// Target measures the name, but the first time for a blind upload.
func (s *sink) Target() (home.Target, error) {
	if s.blind {
		s.blind = false
		return home.Target{Blind: true}, nil
	}
	fi, err := s.t.Stat(s.name)
	switch {
	case errors.Is(err, home.ErrNotExist):
		return home.Target{}, nil
	case err != nil:
		return home.Target{}, err
	case fi.IsDir():
		return home.Target{}, fmt.Errorf("put %s: %w", s.name, home.ErrIsDir)
	}
	return home.Target{Exists: true, Size: fi.Size(), Info: fi}, nil
}

// Place writes the file under its name on condition that the name still
// holds what t found (ErrChanged otherwise).
func (s *sink) Place(t home.Target, md5 string, _ bool) (fs.FileInfo, error) {
	was := t.Info
	if !t.Exists {
		was = nil
	}
	return nil, s.t.commitObject(s.id, s.name, md5, was)
}

// Suspend keeps the parts the store holds, and a resume point at the last
// of them. What was buffered past them is stored as a part of its own when
// the store takes one that small, so a client that dies loses at most the
// smallest part; else it is dropped, to be sent again.
func (s *sink) Suspend(point func() home.ResumePoint) (int64, error) {
	if at, ok := s.w.keep(); ok {
		if rp := point(); rp.Offset == at {
			s.snaps = append(s.snaps, snap{at, rp.Marshal()})
		}
	}
	err := s.w.Close() // waits for the parts in flight
	saved, serr := s.saveHeld()
	return saved, cmp.Or(err, serr)
}

// Abort makes the store forget the upload: its parts, memory and state.
func (s *sink) Abort() error {
	s.w.Close()
	return s.t.RemovePartial(s.id)
}

// Chtimes sets the modification time kept in name's metadata: the object
// is copied onto itself with it (MinIO changes only the metadata of a
// single-part object so copied; a multipart one is rewritten), its MD5
// moved into its metadata, where a copy keeps it.
func (t *FS) Chtimes(name string, mtime time.Time) error {
	k, err := t.key("mtime", name)
	if err != nil {
		return err
	}
	fi, err := t.stat("mtime", name, k)
	if err != nil {
		return err
	}
	if fi.dir {
		return nil // a directory's time is its marker's: not kept
	}
	t.knownSum(fi)
	meta := mtimeMeta(mtime)
	if fi.md5 != "" {
		meta[md5Meta] = fi.md5
	}
	return opErr("mtime", name, t.copyMeta(k, fi.etag, meta))
}
