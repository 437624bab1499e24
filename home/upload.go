package home

import (
	"cmp"
	"crypto/md5"
	"encoding"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"time"

	"github.com/google/uuid"

	"ftpx/internal/xfer"
)

// Upload is a file being put: a partial file under PartialDir, hashed
// as it is written, and a reservation on the user's quota. It ends with
// exactly one Commit, Abort or (for a resumable upload) Suspend. An Upload
// is not safe for concurrent use.
type Upload struct {
	h        *Home
	mt       *mount    // the mount name is in: its FS holds the partial, its account the quota
	name     string    // the final home path
	in       string    // name within the mount
	id       string    // the partial's name under PartialDir: the transfer id, or a fresh uuid
	resume   bool      // a transfer id was given: the partial outlives the upload
	size     int64     // declared
	reserved int64     // on the quota: what is left to send, less the size of the file it replaces
	base     int64     // bytes the partial held when this upload began (already counted as used)
	written  int64     // bytes written by this upload, after base
	saved    int64     // base+written at the last saved state
	savedAt  time.Time // when it was saved
	f        WriteFile
	whole    *wholeFile // f, when the upload is an unnamed file in its directory (whole.go)
	there    there      // what place found at the name, for whole
	md5      hash.Hash
	done     bool     // committed, suspended, failed or aborted
	released bool     // the claim on id is given back
	space    *promise // the room promised on the file system (space.go); nil when it cannot tell
	snaps    []partSnap
	blind    bool // begun on an object store without measuring the name (object.go)
}

// A resumable upload saves its state (the offset and the MD5 state of the
// bytes before it) as soon as it begins, then every checkpointBytes or
// checkpointTime, whichever comes first. A server killed between two
// checkpoints loses nothing that reached the partial file: the next
// Breakpoint hashes what lies past the last checkpoint (catchUp).
const (
	checkpointBytes = 64 << 20
	checkpointTime  = time.Second
)

// BeginUpload checks that name can be written (the mount it is in allows
// write, and modify too when a file is there: else ErrPermission; not a
// directory: ErrIsDir;
// its parent exists and is a directory: else ErrNotExist / ErrNotDir),
// reserves what is left to send on the quota, less the size of a file it
// will replace (ErrQuota if used+reserved plus that would pass the limit),
// checks that the file system can take what is left to send and still
// keep MinFreeSpace free (ErrNoSpace, as a *SpaceError), and creates or
// reopens the partial file. Nothing changes when it fails.
//
// transfer, when not empty, is the client's transfer id (a uuid): the
// partial is kept under that id when the upload is suspended, so a later
// BeginUpload with the same id and offset (which must equal what
// Breakpoint reports) appends to it. offset 0 starts over, discarding what
// was held. Without a transfer id, offset must be 0.
func (h *Home) BeginUpload(name string, size int64, transfer string, offset int64) (*Upload, error) {
	if size < 0 {
		return nil, fmt.Errorf("put %s: negative size %d: %w", name, size, ErrSize)
	}
	if offset < 0 || offset > size || offset > 0 && transfer == "" {
		return nil, fmt.Errorf("put %s: offset %d of %d: %w", name, offset, size, ErrBadOffset)
	}
	mt, in := h.route(name)
	if !mt.perms.Has(PermWrite) {
		return nil, fmt.Errorf("put %s: %w", name, because(ErrPermission, "needs write"))
	}
	if transfer == "" && size <= wholeMax {
		if u, err := h.beginWhole(mt, name, in, size); err != errNoWhole {
			return u, err
		}
	}
	if _, ok := mt.fs.(ObjectFS); ok && transfer == "" {
		return h.beginObject(mt, name, in, size)
	}
	exists, replaces, err := h.checkTarget(mt, name, in)
	if err != nil {
		return nil, err
	}
	want := PermWrite
	if exists {
		want |= PermModify
	}
	if !mt.perms.Has(want) {
		return nil, fmt.Errorf("put %s: %w", name, because(ErrPermission, "needs "+(want&^mt.perms).String()))
	}
	space, err := h.checkSpace(mt, size-offset, max(size-offset-replaces, 0))
	if err != nil {
		return nil, fmt.Errorf("put %s: %w", name, err)
	}
	id := transfer
	if id == "" {
		id = uuid.NewString()
	} else if err := checkTransfer(transfer); err != nil {
		return nil, err
	}
	if err := h.claimFor(mt, id, transfer != ""); err != nil {
		space.end()
		return nil, fmt.Errorf("put %s: %w", name, err)
	}
	u := &Upload{h: h, mt: mt, name: name, in: in, id: id, resume: transfer != "", size: size, md5: md5.New(), space: space}
	if err := u.open(offset, replaces); err != nil {
		space.end()
		h.unclaim(mt, id)
		return nil, err
	}
	return u, nil
}

// checkTarget checks that name (in within the mount mt) can be written,
// and returns whether something is there and the bytes the quota counts
// for the file it would replace.
func (h *Home) checkTarget(mt *mount, name, in string) (bool, int64, error) {
	if in == "/" {
		return false, 0, fmt.Errorf("put %s: %w", name, because(ErrIsDir, "a file cannot replace a directory"))
	}
	dir, err := h.FS.Stat(path.Dir(name))
	switch {
	case errors.Is(err, ErrNotExist):
		return false, 0, fmt.Errorf("put %s: parent directory: %w", name, err)
	case err != nil:
		return false, 0, fmt.Errorf("put %s: %w", name, err)
	case !dir.IsDir():
		return false, 0, fmt.Errorf("put %s: %w", name, ErrNotDir)
	}
	fi, err := h.FS.Stat(name)
	switch {
	case err == nil && fi.IsDir():
		return false, 0, fmt.Errorf("put %s: %w", name, because(ErrIsDir, "a file cannot replace a directory"))
	case err != nil && !errors.Is(err, ErrNotExist):
		return false, 0, fmt.Errorf("put %s: %w", name, err)
	}
	n, err := mt.lsize(in)
	if errors.Is(err, ErrNotExist) {
		return false, 0, nil
	}
	return true, n, err
}

// open reserves the quota and creates the partial (offset 0) or reopens it
// where the held bytes end.
func (u *Upload) open(offset, replaces int64) error {
	h, mt := u.h, u.mt
	u.reserved = max(u.size-offset-replaces, 0)
	if offset == 0 {
		if u.resume {
			h.dropPartial(mt, u.id) // start over: what was held goes
		}
		if err := mt.acct.reserve(u.reserved); err != nil {
			return fmt.Errorf("put %s: %w", u.name, err)
		}
		f, err := createPartial(mt.fs, u.id, u.in, u.size)
		if err != nil {
			mt.acct.release(u.reserved)
			return err
		}
		u.f = f
		if u.resume && u.size > 0 { // a Stream (size 0 so far) saves at its first checkpoint
			// At once: a server killed in the first second then still
			// knows the partial, and catches up with what it holds.
			u.saveState(0)
		}
		return nil
	}
	st, err := h.held(mt, u.id)
	switch {
	case errors.Is(err, ErrNotExist):
		return fmt.Errorf("put %s: offset %d, nothing held: %w", u.name, offset, ErrBadOffset)
	case err != nil:
		return err
	case st.Name != u.name || st.Size != u.size || st.Offset != offset:
		return fmt.Errorf("put %s: offset %d of %d, held %d of %d for %s: %w", u.name, offset, u.size, st.Offset, st.Size, st.Name, ErrBadOffset)
	}
	if err := u.md5.(encoding.BinaryUnmarshaler).UnmarshalBinary(st.MD5); err != nil {
		h.dropPartial(mt, u.id)
		return fmt.Errorf("put %s: saved state: %w", u.name, ErrBadOffset)
	}
	if err := mt.acct.reserve(u.reserved); err != nil {
		return fmt.Errorf("put %s: %w", u.name, err)
	}
	had := partialSize(mt, u.id) // more than offset after a crash between checkpoints
	f, err := mt.fs.ReopenPartial(u.id, offset)
	if err != nil {
		mt.acct.release(u.reserved)
		return err
	}
	mt.acct.commit(0, -(had - offset)) // the bytes cut off past the checkpoint
	u.f, u.base, u.saved, u.savedAt = f, offset, offset, time.Now()
	return nil
}

// Write writes p to the partial and adds it to the MD5. Writing past the
// declared size writes up to it and fails with ErrSize.
func (u *Upload) Write(p []byte) (int, error) {
	if u.done {
		return 0, fmt.Errorf("put %s: %w", u.name, fs.ErrClosed)
	}
	var over error
	if left := u.size - u.base - u.written; int64(len(p)) > left {
		p = p[:left]
		over = fmt.Errorf("put %s: body longer than %d bytes: %w", u.name, u.size, ErrSize)
	}
	if pf, ok := u.f.(PartFile); ok && u.resume {
		if n, err, ok := u.splitAtPart(pf, p); ok { // a part end inside p: a checkpoint may go there
			return n, cmp.Or(err, over)
		}
	}
	n, err := u.f.Write(p)
	u.md5.Write(p[:n])
	u.written += int64(n)
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	if err != nil {
		return n, opErr("put", u.name, err)
	}
	u.checkpoint(u.base + u.written)
	return n, over
}

// Receive reads the rest of the body from r (what is left to the declared
// size) into the partial. The MD5 runs on another goroutine while the next
// chunk is read and the last one written, and the disk writes the file as
// it fills; resume points are saved as it goes. On a read error
// every byte received is written and hashed, so a resumable upload keeps
// them; a write error comes back wrapped like Write's. It returns the
// bytes written.
func (u *Upload) Receive(r io.Reader) (int64, error) {
	if u.done {
		return 0, fmt.Errorf("put %s: %w", u.name, fs.ErrClosed)
	}
	start := u.base + u.written
	left := u.size - start
	u.writeback()
	res, err := xfer.Copy(u.f, r, left, xfer.Options{Hash: u.md5,
		AfterHash: func(hashed int64) { u.checkpoint(start + hashed) }})
	u.written += res.Written
	if xfer.IsWrite(err) {
		return res.Written, opErr("put", u.name, errors.Unwrap(err))
	}
	return res.Written, errors.Unwrap(err) // the reader's own error, or nil
}

// writeback has the disk write a partial on local disk as it fills
// (xfer.WritebackWriter), so the sync at the commit finds little to do.
// Without that sync (fsync = false) the kernel writes it back when it
// will, as it would any file.
func (u *Upload) writeback() {
	if f, ok := u.f.(*os.File); ok && u.h.durable() {
		u.f = xfer.NewWritebackWriter(f)
	}
}

// checkpoint saves the state of a resumable upload whose MD5 covers the
// first at bytes (all of them in the partial), when one is due.
func (u *Upload) checkpoint(at int64) {
	u.space.wrote(at - u.base)
	if pf, ok := u.f.(PartFile); ok && u.resume {
		u.partCheckpoint(pf, at, false) // best effort, as below
		return
	}
	if !u.resume || at == u.saved || at-u.saved < checkpointBytes && time.Since(u.savedAt) < checkpointTime {
		return
	}
	u.saveState(at) // best effort: the next one tries again
}

// Written returns the number of bytes this upload has written (after the
// offset it resumed from).
func (u *Upload) Written() int64 { return u.written }

// Offset returns where this upload began: the bytes already held.
func (u *Upload) Offset() int64 { return u.base }

// Sum returns the lower-case hex MD5 of what was written so far.
func (u *Upload) Sum() string {
	var b [md5.Size]byte
	return hex.EncodeToString(u.md5.Sum(b[:0]))
}

// Commit checks that the whole declared size was written (else ErrSize)
// and that its MD5 equals want, in any case (else ErrMD5); then it syncs
// the partial, renames it onto the name, replacing a file atomically,
// syncs the directory, and counts it on the quota. On any failure the
// partial is removed, the reservation released, and nothing appears or
// changes under the name.
func (u *Upload) Commit(want string) error {
	durable := u.h.durable()
	if err := u.verify(want, durable); err != nil {
		return err
	}
	return u.place(durable)
}

// verify checks size and MD5 and closes the partial, syncing it first
// when asked; on failure the upload is over (see fail).
func (u *Upload) verify(want string, sync bool) error {
	if u.done {
		return fmt.Errorf("put %s: %w", u.name, fs.ErrClosed)
	}
	if u.base+u.written != u.size {
		return u.fail(fmt.Errorf("put %s: body of %d bytes, %d declared: %w", u.name, u.base+u.written, u.size, ErrSize))
	}
	if got := u.Sum(); !strings.EqualFold(got, want) {
		return u.fail(fmt.Errorf("put %s: md5 %s, client sent %q: %w", u.name, got, want, ErrMD5))
	}
	var err error
	if sync || isPartFile(u.f) { // a PartFile uploads its last part
		err = u.f.Sync()
	}
	if cerr := u.f.Close(); err == nil {
		err = cerr
	}
	u.f = nil
	if err != nil {
		return u.fail(opErr("put", u.name, err))
	}
	return nil
}

// place renames a verified partial onto its name and counts it.
func (u *Upload) place(durable bool) error {
	if o, ok := u.mt.fs.(ObjectFS); ok {
		return u.placeObject(o)
	}
	a := u.mt.acct
	a.tree.Lock()
	defer a.tree.Unlock()
	old, exists, err := u.replaced()
	if err != nil {
		return u.fail(err)
	}
	if exists && !u.mt.perms.Has(PermModify) {
		// Made meanwhile by someone else: replacing it needs modify.
		return u.fail(fmt.Errorf("put %s: needs modify: %w", u.name, ErrPermission))
	}
	// The reservation counted the file this replaces as it was at the
	// start; if it has shrunk or gone since, the new file may not fit.
	if err := a.commitChecked(u.reserved, u.size-u.base-old); err != nil {
		return u.fail(fmt.Errorf("put %s: %w", u.name, err))
	}
	fi, err := u.commitFile(durable)
	if err != nil {
		a.commit(0, -(u.size - u.base - old)) // undo; fail gives back what was held
		a.reserve(u.reserved)
		return u.fail(err)
	}
	u.done = true
	if u.resume {
		u.mt.fs.RemovePartial(u.id) // the saved state; the data is in place
	}
	if fi != nil {
		u.h.RememberSum(fi, u.Sum())
	}
	u.release()
	return nil
}

// commitFile puts the verified data under its name and returns what is
// there now (nil if that cannot be told).
func (u *Upload) commitFile(durable bool) (fs.FileInfo, error) {
	if w := u.whole; w != nil {
		u.whole = nil
		return u.mt.fs.(*dirFS).linkWhole(w, u.there, u.id, u.in, durable)
	}
	if err := u.mt.fs.CommitPartial(u.id, u.in, durable); err != nil {
		return nil, err
	}
	fi, _ := u.h.FS.Stat(u.name)
	return fi, nil
}

// CommitBatch commits several uploads of this home with two syncs of the
// file system in all, instead of two for each file: each upload is checked
// (size and MD5, wants[i]) and closed, then the data of all is synced,
// then each is renamed into place, then the renames are synced. errs[i]
// is upload i's outcome; an upload that fails changes nothing under its
// name, as with Commit. Only when the final sync succeeds are the files
// durable; if it fails, every error is that failure.
func (h *Home) CommitBatch(ups []*Upload, wants []string) []error {
	if objectBatchOf(ups) {
		return h.commitObjects(ups, wants)
	}
	errs := make([]error, len(ups))
	for i, u := range ups {
		errs[i] = u.verify(wants[i], false)
	}
	if err := h.sync(); err != nil {
		for i, u := range ups {
			if errs[i] == nil {
				errs[i] = u.fail(err)
			}
		}
		return errs
	}
	for i, u := range ups {
		if errs[i] == nil {
			errs[i] = u.place(false)
		}
	}
	if err := h.sync(); err != nil {
		for i := range errs {
			if errs[i] == nil {
				errs[i] = err
			}
		}
	}
	return errs
}

// replaced returns the bytes the quota counts for what is now at the
// name (0 for nothing; CommitPartial refuses a directory) and whether
// anything is there.
func (u *Upload) replaced() (int64, bool, error) {
	if u.whole != nil { // one stat in the directory already open, kept for the link
		t, err := u.mt.fs.(*dirFS).target(u.whole, u.name)
		u.there = t
		return t.size, t.exists, err
	}
	n, err := u.mt.lsize(u.in)
	if errors.Is(err, ErrNotExist) {
		return 0, false, nil
	}
	return n, err == nil, err
}

// fail ends the upload after a failed Commit and returns err.
func (u *Upload) fail(err error) error {
	u.Abort()
	return err
}

// Abort removes the partial and releases the reservation. It is
// idempotent, and does nothing after Commit.
func (u *Upload) Abort() error {
	if u.done {
		return nil
	}
	u.done = true
	var err error
	if u.f != nil {
		err = u.f.Close()
		u.f = nil
	}
	if u.whole != nil {
		u.whole.discard() // an unnamed file: nothing to remove
		u.whole = nil
	} else if rerr := u.mt.fs.RemovePartial(u.id); rerr != nil && !errors.Is(rerr, ErrNotExist) {
		err = rerr
	} else if err != nil {
		err = opErr("abort", u.name, err)
	}
	u.mt.acct.commit(u.reserved, -u.base) // the held bytes are gone too
	u.release()
	return err
}
