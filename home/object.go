package home

import (
	"crypto/md5"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sync"
	"time"

	"github.com/google/uuid"
)

// An object store (package s3home) has no rename and no syncfs, and
// several servers may share it. Its FS therefore writes a partial towards
// its final name (a multipart upload, or a small file held until it is
// verified), places it with one conditional write that fails with
// ErrChanged when another server changed the name since it was measured,
// and holds the bytes of a big upload only in whole parts. The methods
// here are the upload path for such an FS; the local one never takes it.

// ObjectFS is an FS on an object store.
type ObjectFS interface {
	FS
	// CreateObject starts the partial id of size bytes, to be placed at
	// name (in the FS's own paths). It returns a PartFile.
	CreateObject(id, name string, size int64) (WriteFile, error)
	// CommitObject places the verified partial id at name with its MD5,
	// on condition that name still holds was (nil: nothing there); else
	// it fails with ErrChanged and the partial stays for another try.
	// name's parent must exist (ErrNotExist).
	CommitObject(id, name, md5 string, was fs.FileInfo) error
}

// A PartFile is a partial upload that its store holds in whole parts only
// (an object store's multipart upload): written bytes reach the store
// when the part they are in is uploaded. The upload saves its resume
// state at part ends only, once they are held, so that the saved MD5
// state always covers exactly the bytes the store has.
type PartFile interface {
	WriteFile
	// PartSize is the size of every part but the last: parts end at its
	// multiples, counted from the start of the file.
	PartSize() int64
	// Held returns how many bytes from the start are in the store for
	// sure: every part up to there is uploaded.
	Held() int64
	// SaveState saves state as the upload's resume state at offset at (a
	// part end, at most Held), with the store's record of those parts.
	SaveState(at int64, state []byte) error
}

// Sync of a PartFile uploads what is buffered and waits for every part:
// an upload calls it before Commit in any case; Close without Sync (a
// suspended upload) keeps only the parts already held.

// createPartial starts the partial of u in its mount: towards its name on
// an object store, else a plain partial file.
func createPartial(fsys FS, id, name string, size int64) (WriteFile, error) {
	if o, ok := fsys.(ObjectFS); ok {
		return o.CreateObject(id, name, size)
	}
	return fsys.CreatePartial(id)
}

// isPartFile reports whether f holds its bytes in parts.
func isPartFile(f WriteFile) bool {
	_, ok := f.(PartFile)
	return ok
}

// partSnap is the MD5 state at a part end, waiting for the store to hold
// that part before it is saved.
type partSnap struct {
	at  int64
	md5 []byte
}

// partCheckpoint is checkpoint for a PartFile: at each part end the MD5
// state is kept aside, and the latest one whose part the store holds is
// saved when a checkpoint is due (or at once when final).
func (u *Upload) partCheckpoint(pf PartFile, at int64, final bool) error {
	if at > u.saved && at%pf.PartSize() == 0 && (len(u.snaps) == 0 || u.snaps[len(u.snaps)-1].at < at) {
		if m, err := u.md5.(encoding.BinaryMarshaler).MarshalBinary(); err == nil {
			u.snaps = append(u.snaps, partSnap{at, m})
		}
	}
	held, i := pf.Held(), -1
	for j, s := range u.snaps {
		if s.at <= held {
			i = j
		}
	}
	if i < 0 {
		return nil
	}
	s := u.snaps[i]
	if !final && s.at-u.saved < checkpointBytes && time.Since(u.savedAt) < checkpointTime {
		return nil
	}
	u.snaps = u.snaps[i+1:]
	st := partialState{Name: u.name, Size: u.size, Offset: s.at, MD5: s.md5, Updated: time.Now().UTC()}
	b, err := marshalState(st)
	if err == nil {
		err = pf.SaveState(s.at, b)
	}
	if err != nil {
		return err
	}
	u.saved, u.savedAt = s.at, time.Now()
	return nil
}

// suspendParts is Suspend for a PartFile: the store keeps the parts it
// holds, and the upload's state is saved at the last of them; what was
// buffered past it is dropped, to be sent again.
func (u *Upload) suspendParts(pf PartFile) error {
	u.done = true
	err := u.f.Close() // waits for the parts in flight
	u.f = nil
	if serr := u.partCheckpoint(pf, u.base+u.written, true); err == nil {
		err = serr
	}
	kept := u.saved - u.base
	if cerr := u.mt.acct.commitChecked(u.reserved, kept); cerr != nil {
		// Kept bytes count as used; where the reservation was smaller
		// they may not fit, and then they go.
		u.mt.acct.commit(u.reserved, 0)
		u.mt.fs.RemovePartial(u.id)
		u.mt.acct.commit(0, -u.base)
		err = cerr
	}
	u.release()
	if err != nil {
		return opErr("suspend", u.name, err)
	}
	return nil
}

// placeTries bounds how often a commit to an object store measures the
// name again after another server changed it.
const placeTries = 4

// placeObject is place for an ObjectFS: the name is measured, the quota
// counts the change ahead of the write (so a crash between the two leaves
// more counted, never less), and the write is conditional on what was
// measured; if another server (or another upload of this one) changed
// the name meanwhile, the count is undone and it starts over. The
// conditional write, not the account's tree lock, keeps two commits to
// one name from counting the same file.
func (u *Upload) placeObject(o ObjectFS) error {
	a := u.mt.acct
	var err error
	for try := 0; try < placeTries; try++ {
		was, delta := fs.FileInfo(nil), u.size-u.base
		if !u.blind {
			if was, delta, err = u.measure(o); err != nil {
				return u.fail(err)
			}
		}
		u.blind = false // if the name was not free after all, measure it
		if err = a.commitChecked(u.reserved, delta); err != nil {
			return u.fail(fmt.Errorf("put %s: %w", u.name, err))
		}
		if err = u.commitObject(o, was); err == nil {
			return nil
		}
		a.commit(-u.reserved, -delta) // undo: the reservation back, the count off
		if !errors.Is(err, ErrChanged) {
			break
		}
	}
	return u.fail(err)
}

// commitObject writes the upload under its name, if the name still holds
// was, and ends the upload when it did.
func (u *Upload) commitObject(o ObjectFS, was fs.FileInfo) error {
	if err := o.CommitObject(u.id, u.in, u.Sum(), was); err != nil {
		return err
	}
	u.done = true
	u.release()
	return nil
}

// measure returns what is at the upload's name (nil for nothing) and what
// placing the upload there adds to the quota.
func (u *Upload) measure(o ObjectFS) (fs.FileInfo, int64, error) {
	was, err := o.Stat(u.in)
	switch {
	case errors.Is(err, ErrNotExist):
		return nil, u.size - u.base, nil
	case err != nil:
		return nil, 0, err
	case was.IsDir():
		return nil, 0, fmt.Errorf("put %s: %w", u.name, ErrIsDir)
	case !u.mt.perms.Has(PermModify):
		// Made meanwhile by someone else: replacing it needs modify.
		return nil, 0, fmt.Errorf("put %s: needs modify: %w", u.name, ErrPermission)
	}
	return was, u.size - u.base - was.Size(), nil
}

// objectBatch is how many files of a pipelined batch are measured or
// written at once on an object store: it has no syncfs, so a batch is as
// many parallel single writes.
const objectBatch = 16

// parallel runs f(i) for every i in [0, n), objectBatch at a time.
func parallel(n int, f func(i int)) {
	sem := make(chan struct{}, objectBatch)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			f(i)
		}()
	}
	wg.Wait()
}

// commitObjects is CommitBatch for uploads into object stores: every
// upload is verified; then, for the uploads of each account, the names
// are measured in parallel, the quota counts them all in one change, and
// the files are written in parallel, each on its own condition. Whatever
// did not go in is counted off again in one change; a name another
// server changed meanwhile goes through placeObject alone.
func (h *Home) commitObjects(ups []*Upload, wants []string) []error {
	errs := make([]error, len(ups))
	byAcct := make(map[*account][]int)
	var order []*account
	for i, u := range ups {
		if errs[i] = u.verify(wants[i], false); errs[i] == nil {
			if byAcct[u.mt.acct] == nil {
				order = append(order, u.mt.acct)
			}
			byAcct[u.mt.acct] = append(byAcct[u.mt.acct], i)
		}
	}
	for _, a := range order {
		idx := byAcct[a]
		was := make([]fs.FileInfo, len(ups))
		delta := make([]int64, len(ups))
		parallel(len(idx), func(k int) {
			i := idx[k]
			if ups[i].blind {
				delta[i] = ups[i].size // commitObject's condition checks the name is free
				return
			}
			var err error
			if was[i], delta[i], err = ups[i].measure(ups[i].mt.fs.(ObjectFS)); err != nil {
				errs[i] = ups[i].fail(err)
			}
		})
		var reserved, added int64
		var ok []int
		for _, i := range idx {
			if errs[i] == nil {
				ok = append(ok, i)
				reserved += ups[i].reserved
				added += delta[i]
			}
		}
		if len(ok) == 0 {
			continue
		}
		if a.commitChecked(reserved, added) != nil {
			// Not all of them fit: each tries alone, in order.
			for _, i := range ok {
				errs[i] = ups[i].place(false)
			}
			continue
		}
		parallel(len(ok), func(k int) {
			i := ok[k]
			errs[i] = ups[i].commitObject(ups[i].mt.fs.(ObjectFS), was[i])
		})
		var back, off int64
		for _, i := range ok {
			if errs[i] != nil {
				back += ups[i].reserved
				off += delta[i]
			}
		}
		if back != 0 || off != 0 {
			a.commit(-back, -off)
		}
		for _, i := range ok {
			switch {
			case errors.Is(errs[i], ErrChanged):
				ups[i].blind = false
				errs[i] = ups[i].place(false)
			case errs[i] != nil:
				errs[i] = ups[i].fail(errs[i])
			}
		}
	}
	return errs
}

// objectBatchOf reports whether every upload of a batch goes to an object
// store, which commitObjects then places.
func objectBatchOf(ups []*Upload) bool {
	for _, u := range ups {
		if _, ok := u.mt.fs.(ObjectFS); !ok {
			return false
		}
	}
	return len(ups) > 0
}

// splitAtPart writes p in two when a part end falls inside it, so that
// the MD5 state at that end can be kept for a checkpoint; ok is false
// when p needs no split.
func (u *Upload) splitAtPart(pf PartFile, p []byte) (n int, err error, ok bool) {
	at := u.base + u.written
	k := pf.PartSize() - at%pf.PartSize() // bytes to the next part end
	if int64(len(p)) <= k {
		return 0, nil, false
	}
	n, err = u.Write(p[:k])
	if err != nil {
		return n, err, true
	}
	m, err := u.Write(p[k:])
	return n + m, err, true
}

// saveHeld saves the upload's state: through its PartFile, which records
// the parts with it, or beside its partial file.
func (u *Upload) saveHeld(st partialState) error {
	if pf, ok := u.f.(PartFile); ok {
		b, err := marshalState(st)
		if err != nil {
			return err
		}
		return pf.SaveState(st.Offset, b)
	}
	return saveHeld(u.mt, u.id, st)
}

func marshalState(st partialState) ([]byte, error) { return json.Marshal(st) }

// beginObject is BeginUpload for an upload without a transfer id (a
// pipelined put) into an object store. Its name is not measured up
// front, which would cost two requests one after the other for each file
// of a batch: it is taken to be free (the quota reserves the whole size),
// and the commit's condition - nothing there - checks that; only when it
// fails is the name measured, and a file found there needs modify. So a
// directory or a file at the name is refused at the commit, after the
// body, where a pipelined put's answer comes anyway. The parent is
// checked here (a directory seen lately costs nothing).
func (h *Home) beginObject(mt *mount, name, in string, size int64) (*Upload, error) {
	if in == "/" {
		return nil, fmt.Errorf("put %s: %w", name, ErrIsDir)
	}
	dir, err := h.FS.Stat(path.Dir(name))
	switch {
	case errors.Is(err, ErrNotExist):
		return nil, fmt.Errorf("put %s: parent directory: %w", name, err)
	case err != nil:
		return nil, fmt.Errorf("put %s: %w", name, err)
	case !dir.IsDir():
		return nil, fmt.Errorf("put %s: %w", name, ErrNotDir)
	}
	id := uuid.NewString()
	if err := h.claim(mt, id); err != nil {
		return nil, fmt.Errorf("put %s: %w", name, err)
	}
	u := &Upload{h: h, mt: mt, name: name, in: in, id: id, size: size, md5: md5.New(), blind: true}
	if err := u.open(0, 0); err != nil {
		h.unclaim(mt, id)
		return nil, err
	}
	return u, nil
}
