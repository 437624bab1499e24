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
	"strings"
	"sync"
	"time"

	"ftpx/internal/xfer"
)

// Upload is a file being put: its bytes in a Sink of the kind its tree
// chose (sink.go), hashed as they are written, and a reservation on the
// user's quota. It ends with exactly one Commit, Abort or (for a
// resumable upload) Suspend. An Upload is not safe for concurrent use.
type Upload struct {
	h        *Home
	mt       *mount // the mount name is in: its FS holds the bytes, its account the quota
	name     string // the final home path
	in       string // name within the mount
	id       string // the partial's id: the transfer id, or a fresh one
	resume   bool   // a transfer id was given: the partial outlives the upload
	size     int64  // declared
	reserved int64  // on the quota: what is left to send, less the size of the file it replaces
	base     int64  // bytes the partial held when this upload began (already counted as used)
	written  int64  // bytes written by this upload, after base
	saved    int64  // the offset of the resume point the sink holds
	savedAt  time.Time
	part     int64 // the sink keeps bytes in parts of this size: writes are split at their ends (0: none)
	sink     Sink
	md5      hash.Hash
	done     bool     // committed, suspended, failed or aborted
	released bool     // the claim on id is given back
	space    *promise // the room promised on the file system (space.go); nil when it cannot tell
	want     string   // Put.Want
	mtime    int64    // Put.MTime, Unix seconds; 0: none
}

// Put describes an upload to BeginUpload.
type Put struct {
	Size int64 // the whole file's size, declared
	// Transfer, when not empty, is the client's transfer id (a uuid): the
	// partial is kept under that id when the upload is suspended, so a
	// later BeginUpload with the same id and an Offset equal to what
	// Breakpoint reports appends to it. Offset 0 starts over, discarding
	// what was held. Without a transfer id, Offset must be 0.
	Transfer string
	Offset   int64
	// MTime is the modification time the file keeps (zero: the time it
	// is placed).
	MTime time.Time
	// Stream marks an upload whose size is known only when its bytes end
	// (BeginStream): Size is what it starts from, and grows.
	Stream bool
	// Want is the whole file's MD5 (lower-case hex) when the client gives
	// it up front. It is kept in the resume point with MTime (Held), for
	// a client that names them once, when the upload is created.
	Want string
	// Shared asks for an upload that every server sharing the store can
	// resume from its creation, however small: a store that would hold a
	// small file in memory until it is whole stores its bytes and resume
	// point as for a big one (a tus upload is created before its bytes
	// come, perhaps to another server).
	Shared bool
}

// A resumable upload saves its resume point as soon as it begins, then
// every checkpointBytes or checkpointTime, whichever comes first. A server
// killed between two checkpoints loses nothing that reached the partial
// file: the next Breakpoint hashes what lies past the last checkpoint
// (catchUp).
const (
	checkpointBytes = 64 << 20
	checkpointTime  = time.Second
)

// BeginUpload checks that name can be written (the mount it is in allows
// write, and modify too when a file is there: else ErrPermission; not a
// directory: ErrIsDir; its parent exists and is a directory: else
// ErrNotExist / ErrNotDir), reserves what is left to send on the quota,
// less the size of a file it will replace (ErrQuota if used+reserved plus
// that would pass the limit), checks that the file system can take what
// is left to send and still keep MinFreeSpace free (ErrNoSpace, as a
// *SpaceError), and opens the upload's sink in the tree. Nothing changes
// when it fails.
func (h *Home) BeginUpload(name string, p Put) (*Upload, error) {
	size, transfer, offset := p.Size, p.Transfer, p.Offset
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
	id := transfer
	if id == "" {
		id = FreshID()
	} else if err := checkTransfer(transfer); err != nil {
		return nil, err
	}
	if err := h.claimFor(mt, id, transfer != ""); err != nil {
		return nil, fmt.Errorf("put %s: %w", name, err)
	}
	u := &Upload{h: h, mt: mt, name: name, in: in, id: id, resume: transfer != "", size: size, md5: md5.New(), want: p.Want}
	if !p.MTime.IsZero() {
		u.mtime = p.MTime.Unix()
	}
	t, err := u.open(p)
	if err != nil {
		h.unclaim(mt, id)
		return nil, err
	}
	if err := u.admit(t); err != nil {
		u.drop()
		return nil, err
	}
	if u.resume && offset == 0 && size > 0 { // a Stream (size 0 so far) saves at its first checkpoint
		// At once: a server killed in the first second then still knows
		// the partial, and catches up with what it holds.
		u.checkpoint(0, true)
	}
	return u, nil
}

// open opens the upload's sink: a new one, or (p.Offset > 0) the partial
// held under u.id, which must be for the same name and size and hold
// exactly p.Offset bytes at its last resume point.
func (u *Upload) open(p Put) (Target, error) {
	h, mt, offset := u.h, u.mt, p.Offset
	o := UploadOptions{Size: u.size, Offset: offset, Resumable: u.resume, Durable: h.durable(), MTime: p.MTime, Stream: p.Stream, Shared: p.Shared, Ctx: h.ctx}
	if offset == 0 {
		if u.resume {
			h.dropPartial(mt, u.id) // start over: what was held goes
		}
		sink, t, err := mt.fs.Upload(u.id, u.in, o)
		if err != nil {
			return Target{}, mt.rename(err, u.in)
		}
		u.sink, u.savedAt = sink, time.Now()
		u.part = partSize(sink)
		return t, nil
	}
	st, err := h.held(mt, u.id, !p.Stream) // a stream's id is its user's own
	switch {
	case errors.Is(err, ErrNotExist):
		return Target{}, fmt.Errorf("put %s: offset %d, nothing held: %w", u.name, offset, ErrBadOffset)
	case err != nil:
		return Target{}, err
	case st.Name != u.name || st.Size != u.size || st.Offset != offset:
		return Target{}, fmt.Errorf("put %s: offset %d of %d, held %d of %d for %s: %w", u.name, offset, u.size, st.Offset, st.Size, st.Name, ErrBadOffset)
	}
	if err := u.md5.(encoding.BinaryUnmarshaler).UnmarshalBinary(st.MD5); err != nil {
		h.dropPartial(mt, u.id)
		return Target{}, fmt.Errorf("put %s: saved state: %w", u.name, ErrBadOffset)
	}
	had := partialSize(mt, u.id) // more than offset after a crash between checkpoints
	sink, t, err := mt.fs.Upload(u.id, u.in, o)
	if err != nil {
		return Target{}, mt.rename(err, u.in)
	}
	mt.acct.commit(0, -(had - offset)) // the bytes cut off past the checkpoint
	u.sink, u.base, u.saved, u.savedAt = sink, offset, offset, time.Now()
	u.part = partSize(sink)
	return t, nil
}

// admit checks what the upload would replace (t) against the mount's
// permissions, the free space and the quota, and reserves. A blind target
// refused for want of room is measured, and checked again with what it
// replaces.
func (u *Upload) admit(t Target) error {
	err := u.admitAs(t)
	if t.Blind && (errors.Is(err, ErrQuota) || errors.Is(err, ErrNoSpace)) {
		// A blind sink's first Target is blind again (its place takes
		// that one): the next one measures.
		var merr error
		for try := 0; t.Blind && try < 2 && merr == nil; try++ {
			t, merr = u.sink.Target()
		}
		if err = merr; err == nil {
			err = u.admitAs(t)
		}
	}
	return err
}

func (u *Upload) admitAs(t Target) error {
	h, mt := u.h, u.mt
	if t.Exists && !mt.perms.Has(PermModify) {
		return fmt.Errorf("put %s: %w", u.name, because(ErrPermission, "needs "+((PermWrite|PermModify)&^mt.perms).String()))
	}
	left := u.size - u.base
	counted := max(left-t.Size, 0)
	space, err := h.checkSpace(mt, left, counted)
	if err != nil {
		return fmt.Errorf("put %s: %w", u.name, err)
	}
	if err := mt.acct.reserve(counted); err != nil {
		space.end()
		return fmt.Errorf("put %s: %w", u.name, err)
	}
	u.reserved, u.space = counted, space
	return nil
}

// drop undoes an upload that could not begin: a resumed partial is kept
// as it was, anything else goes.
func (u *Upload) drop() {
	u.done = true
	if u.base > 0 {
		u.sink.Suspend(u.resumePoint)
	} else {
		u.sink.Abort()
	}
	u.release()
}

// partSize returns the part size of a sink that keeps its bytes in
// whole parts, or 0.
func partSize(s Sink) int64 {
	if p, ok := s.(interface{ PartSize() int64 }); ok {
		return p.PartSize()
	}
	return 0
}

// Write writes p to the sink and adds it to the MD5. Writing past the
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
	n := 0
	for len(p) > 0 {
		chunk := p
		if u.part > 0 && u.resume { // a part end inside p: a resume point may go there
			at := u.base + u.written
			if k := u.part - at%u.part; int64(len(chunk)) > k {
				chunk = chunk[:k]
			}
		}
		m, err := u.sink.Write(chunk)
		u.md5.Write(chunk[:m])
		u.written += int64(m)
		n += m
		if err == nil && m < len(chunk) {
			err = io.ErrShortWrite
		}
		if err != nil {
			return n, opErr("put", u.name, err)
		}
		u.checkpoint(u.base+u.written, false)
		p = p[m:]
	}
	return n, over
}

// Receive reads the rest of the body from r (what is left to the declared
// size) into the sink. The MD5 runs on another goroutine while the next
// chunk is read and the last one written; resume points are saved as it
// goes. On a read error every byte received is written and hashed, so a
// resumable upload keeps them; a write error comes back wrapped like
// Write's. It returns the bytes written.
func (u *Upload) Receive(r io.Reader) (int64, error) {
	if u.done {
		return 0, fmt.Errorf("put %s: %w", u.name, fs.ErrClosed)
	}
	start := u.base + u.written
	left := u.size - start
	res, err := xfer.Copy(u.sink, r, left, xfer.Options{Hash: u.md5,
		AfterHash: func(hashed int64) { u.checkpoint(start+hashed, false) }})
	u.written += res.Written
	if xfer.IsWrite(err) {
		return res.Written, opErr("put", u.name, errors.Unwrap(err))
	}
	return res.Written, errors.Unwrap(err) // the reader's own error, or nil
}

// checkpoint tells the sink of a resumable upload that the first at
// bytes are written and hashed (all of them, when now), with a resume
// point due every checkpointBytes or checkpointTime.
func (u *Upload) checkpoint(at int64, now bool) {
	u.space.wrote(at - u.base)
	if !u.resume {
		return
	}
	due := now || at-u.saved >= checkpointBytes || at != u.saved && time.Since(u.savedAt) >= checkpointTime
	saved, err := u.sink.Checkpoint(at, func() ResumePoint { return u.pointAt(at) }, due)
	if err == nil && saved != u.saved { // a failure is best effort: the next one tries again
		u.saved, u.savedAt = saved, time.Now()
	}
}

// Sync makes the bytes written so far as durable as the sink can before
// the commit and saves a resume point at them. It returns the offset up
// to which both hold: every byte written where the sink can sync its
// bytes (a partial file), the last stored part's end where it keeps bytes
// in whole parts (an object store).
func (u *Upload) Sync() (int64, error) {
	if u.done {
		return 0, fmt.Errorf("put %s: %w", u.name, fs.ErrClosed)
	}
	if !u.resume {
		return u.saved, nil
	}
	if d, ok := u.sink.(interface{ Sync() error }); ok {
		if err := d.Sync(); err != nil {
			return u.saved, opErr("sync", u.name, err)
		}
	}
	at := u.base + u.written
	saved, err := u.sink.Checkpoint(at, func() ResumePoint { return u.pointAt(at) }, true)
	if err != nil {
		return u.saved, opErr("sync", u.name, err)
	}
	u.saved, u.savedAt = saved, time.Now()
	return saved, nil
}

// resumePoint describes the upload after every byte written so far.
func (u *Upload) resumePoint() ResumePoint { return u.pointAt(u.base + u.written) }

// pointAt describes the upload after its first at bytes, which the MD5
// has just covered.
func (u *Upload) pointAt(at int64) ResumePoint {
	m, _ := u.md5.(encoding.BinaryMarshaler).MarshalBinary()
	return ResumePoint{Name: u.name, Size: u.size, Offset: at, MD5: m, Updated: time.Now().UTC(), Want: u.want, MTime: u.mtime}
}

// Size returns the whole file's declared size.
func (u *Upload) Size() int64 { return u.size }

// Saved returns the offset of the resume point the upload holds: after
// Suspend, where a later upload of the same transfer goes on (on an
// object store, the end of the last part it keeps).
func (u *Upload) Saved() int64 { return u.saved }

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
// and that its MD5 equals want, in any case (else ErrMD5); then it has the
// sink finish (synced), places the file under its name, replacing a file
// atomically, and counts it on the quota. On any failure the partial is
// removed, the reservation released, and nothing appears or changes
// under the name.
func (u *Upload) Commit(want string) error {
	durable := u.h.durable()
	if err := u.verify(want, durable); err != nil {
		return err
	}
	a := u.mt.acct
	a.tree.Lock()
	defer a.tree.Unlock()
	return u.place(durable)
}

// verify checks size and MD5 and finishes the sink, syncing it when
// asked; on failure the upload is over (see fail).
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
	if err := u.sink.Finish(sync); err != nil {
		return u.fail(opErr("put", u.name, err))
	}
	return nil
}

// place puts a finished upload under its name and counts it, under the
// account's tree lock (held by the caller), so that two commits never
// count the same file: what is at the name is measured, the change is
// counted (refused with ErrQuota when it would pass the limit), and the
// bytes are placed. A store that places on condition may find the name
// changed since it was measured (another server put a file there): the
// count is undone and it starts over.
func (u *Upload) place(durable bool) error {
	t, err := u.sink.Target()
	for try := 1; err == nil; try++ {
		var delta int64
		if delta, err = u.count(t); err != nil {
			break
		}
		var fi fs.FileInfo
		if fi, err = u.sink.Place(t, u.Sum(), durable); err == nil {
			u.placed(fi)
			return nil
		}
		u.mt.acct.commit(-u.reserved, -delta) // undo: the reservation back, the count off
		if !errors.Is(err, ErrChanged) || try == placeTries {
			break
		}
		t, err = u.sink.Target()
	}
	return u.fail(err)
}

// count turns the reservation into usage for placing the upload over t:
// the quota then counts the new file and no longer what it replaces. It
// returns the change in usage.
func (u *Upload) count(t Target) (int64, error) {
	if t.Exists && !u.mt.perms.Has(PermModify) {
		// Made meanwhile by someone else: replacing it needs modify.
		return 0, fmt.Errorf("put %s: needs modify: %w", u.name, ErrPermission)
	}
	// The reservation counted the file this replaces as it was at the
	// start; if it has shrunk or gone since, the new file may not fit.
	delta := u.size - u.base - t.Size
	if err := u.mt.acct.commitChecked(u.reserved, delta); err != nil {
		return 0, fmt.Errorf("put %s: %w", u.name, err)
	}
	return delta, nil
}

// placed ends an upload whose file is in place (fi: what is there now).
func (u *Upload) placed(fi fs.FileInfo) {
	u.done = true
	if fi != nil {
		u.h.RememberSum(fi, u.Sum())
	}
	u.release()
}

// CommitBatch commits several uploads of this home with two syncs of the
// file system in all, instead of two for each file: each upload is checked
// (size and MD5, wants[i]) and finished, then the data of all is synced,
// then the uploads of each account are counted together and placed (as
// many at once as the tree's Concurrent says), then the names are synced.
// errs[i] is upload i's outcome; an upload that fails changes nothing
// under its name, as with Commit. Only when the final sync succeeds are
// the files durable; if it fails, every error is that failure.
func (h *Home) CommitBatch(ups []*Upload, wants []string) []error {
	errs := make([]error, len(ups))
	var accts []*account
	byAcct := map[*account][]int{}
	for i, u := range ups {
		if errs[i] = u.verify(wants[i], false); errs[i] == nil {
			if byAcct[u.mt.acct] == nil {
				accts = append(accts, u.mt.acct)
			}
			byAcct[u.mt.acct] = append(byAcct[u.mt.acct], i)
		}
	}
	if err := h.sync(); err != nil {
		for i, u := range ups {
			if errs[i] == nil {
				errs[i] = u.fail(err)
			}
		}
		return errs
	}
	for _, a := range accts {
		a.tree.Lock()
		placeBatch(ups, byAcct[a], errs)
		a.tree.Unlock()
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

// placeBatch places the uploads idx of ups, all of one account whose
// tree lock the caller holds: measured, counted in one change when they
// all fit (else each alone), and placed. What did not go in is counted
// off again; a name another server changed meanwhile goes through place
// alone.
func placeBatch(ups []*Upload, idx []int, errs []error) {
	par := 1
	if c, ok := ups[idx[0]].mt.fs.(Concurrent); ok {
		par = max(c.PlaceConcurrency(), 1)
	}
	ts := make([]Target, len(ups))
	parallel(len(idx), par, func(k int) {
		i := idx[k]
		var err error
		if ts[i], err = ups[i].sink.Target(); err == nil && ts[i].Exists && !ups[i].mt.perms.Has(PermModify) {
			err = fmt.Errorf("put %s: needs modify: %w", ups[i].name, ErrPermission)
		}
		if err != nil {
			errs[i] = ups[i].fail(err)
		}
	})
	var ok []int
	var reserved, added int64
	for _, i := range idx {
		if errs[i] == nil {
			ok = append(ok, i)
			reserved += ups[i].reserved
			added += ups[i].size - ups[i].base - ts[i].Size
		}
	}
	if len(ok) == 0 {
		return
	}
	a := ups[ok[0]].mt.acct
	if a.commitChecked(reserved, added) != nil {
		for _, i := range ok { // not all of them fit: each tries alone, in order
			errs[i] = ups[i].place(false)
		}
		return
	}
	fis := make([]fs.FileInfo, len(ups))
	parallel(len(ok), par, func(k int) {
		i := ok[k]
		fis[i], errs[i] = ups[i].sink.Place(ts[i], ups[i].Sum(), false)
	})
	var back, off int64
	for _, i := range ok {
		if errs[i] != nil {
			back += ups[i].reserved
			off += ups[i].size - ups[i].base - ts[i].Size
		}
	}
	if back != 0 || off != 0 {
		a.commit(-back, -off)
	}
	for _, i := range ok {
		switch {
		case errs[i] == nil:
			ups[i].placed(fis[i])
		case errors.Is(errs[i], ErrChanged):
			errs[i] = ups[i].place(false)
		default:
			errs[i] = ups[i].fail(opErr("put", ups[i].name, errs[i]))
		}
	}
}

// parallel runs f(i) for every i in [0, n), par at a time.
func parallel(n, par int, f func(i int)) {
	if par <= 1 {
		for i := range n {
			f(i)
		}
		return
	}
	sem := make(chan struct{}, par)
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

// fail ends the upload after a failed Commit and returns err.
func (u *Upload) fail(err error) error {
	u.Abort()
	return err
}

// Abort drops the sink's bytes and resume point and releases the
// reservation. It is idempotent, and does nothing after Commit.
func (u *Upload) Abort() error {
	if u.done {
		return nil
	}
	u.done = true
	err := u.sink.Abort()
	if err != nil && !errors.Is(err, ErrNotExist) {
		err = opErr("abort", u.name, err)
	} else {
		err = nil
	}
	u.mt.acct.commit(u.reserved, -u.base) // the held bytes are gone too
	u.release()
	return err
}

// Suspend ends an upload that was cut off. A resumable one (it has a
// transfer id) keeps what its sink holds and a resume point there, so a
// later BeginUpload can append from Breakpoint's offset; the bytes it
// holds stay counted on the quota. Any other upload is aborted.
func (u *Upload) Suspend() error {
	if u.done {
		return nil
	}
	if !u.resume {
		return u.Abort()
	}
	u.done = true
	saved, err := u.sink.Suspend(u.resumePoint)
	if err == nil {
		u.saved = saved
	}
	// Kept bytes count as used; where the reservation was smaller (it
	// replaces a file) they may not fit, and then they go. A quota kept
	// in a store that does not answer (the outage that suspended the
	// upload, as likely as not) cannot refuse them: they stay, and are
	// counted once the store is back.
	switch cerr := u.mt.acct.commitChecked(u.reserved, saved-u.base); {
	case cerr == nil:
	case errors.Is(cerr, ErrQuota):
		u.mt.acct.commit(u.reserved, 0)
		u.mt.fs.RemovePartial(u.id)
		u.mt.acct.commit(0, -u.base)
		err = cmp.Or(err, cerr)
	default:
		u.mt.acct.commitWhenBack(u.reserved, saved-u.base)
		err = cmp.Or(err, cerr)
	}
	u.release()
	if err != nil {
		return opErr("suspend", u.name, err)
	}
	return nil
}

// release gives back the claim on the partial's id and the promised
// space, once.
func (u *Upload) release() {
	if !u.released {
		u.released = true
		u.h.unclaim(u.mt, u.id)
		u.space.end()
	}
}
