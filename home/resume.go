package home

import (
	"crypto/md5"
	"encoding"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/google/uuid"
)

// Held describes what the server holds of an interrupted upload.
type Held struct {
	Name      string    // the home path it is for
	Size      int64     // the whole file's declared size
	Offset    int64     // bytes held
	PrefixMD5 string    // lower-case hex MD5 of the bytes held
	Want      string    // the whole file's MD5 the upload was begun with (Put.Want), or ""
	MTime     time.Time // the mtime it was begun with (Put.MTime), or zero
}

// checkTransfer accepts only a uuid as a transfer id: it names a file.
func checkTransfer(id string) error {
	if _, err := uuid.Parse(id); err != nil || len(id) != 36 {
		return fmt.Errorf("transfer %q: %w", id, ErrBadTransfer)
	}
	return nil
}

// Breakpoint reports what the home holds of the transfer: ErrNotExist when
// nothing, ErrForeign when the id is held in another user's home, ErrBusy
// when another connection is uploading it. The partial may be in the home
// or in any folder.
func (h *Home) Breakpoint(transfer string) (Held, error) {
	return h.breakpoint(transfer, true)
}

// StreamHeld reports what the home holds of the user's stream upload to
// name (StreamID): for FTP's SIZE and REST, SFTP's stat and reput. A
// stream's id is its user's own, so no other home is looked in (with
// thousands of homes that look would cost more than the upload), and a
// partial held for another name is ErrNotExist.
func (h *Home) StreamHeld(name string) (Held, error) {
	held, err := h.breakpoint(StreamID(h.user, name), false)
	if err == nil && held.Name != name {
		return Held{}, fmt.Errorf("breakpoint %s: %w", name, ErrNotExist)
	}
	return held, err
}

// breakpoint is Breakpoint; elsewhere tells ErrForeign from ErrNotExist
// by looking in the other homes.
func (h *Home) breakpoint(transfer string, elsewhere bool) (Held, error) {
	if err := checkTransfer(transfer); err != nil {
		return Held{}, err
	}
	mt := h.holder(transfer)
	if err := h.claimFor(mt, transfer, true); err != nil {
		return Held{}, fmt.Errorf("breakpoint: %w", err)
	}
	defer h.unclaim(mt, transfer)
	st, err := h.held(mt, transfer, elsewhere)
	if err != nil {
		return Held{}, err
	}
	d := md5.New()
	if err := d.(encoding.BinaryUnmarshaler).UnmarshalBinary(st.MD5); err != nil {
		h.dropPartial(mt, transfer)
		return Held{}, fmt.Errorf("breakpoint: saved state: %w", ErrNotExist)
	}
	held := Held{Name: st.Name, Size: st.Size, Offset: st.Offset, PrefixMD5: hex.EncodeToString(d.Sum(nil)), Want: st.Want}
	if st.MTime != 0 {
		held.MTime = time.Unix(st.MTime, 0)
	}
	return held, nil
}

// holder returns the mount that has a saved state for the transfer id:
// the first that has, else the home.
func (h *Home) holder(id string) *mount {
	for _, mt := range h.mounts {
		if _, err := mt.fs.PartialState(id); err == nil {
			return mt
		}
	}
	return h.mounts[0]
}

// held loads the saved state of the transfer id in the mount mt, which
// the caller has claimed. A state that cannot be used (unreadable, or more
// than the data file holds, as after a crash of the machine) is dropped
// with its partial and reported as ErrNotExist; an id unknown here but
// held by another user in their home is ErrForeign when elsewhere is set.
func (h *Home) held(mt *mount, id string, elsewhere bool) (ResumePoint, error) {
	var st ResumePoint
	b, err := mt.fs.PartialState(id)
	if errors.Is(err, ErrNotExist) {
		if elsewhere && h.m != nil && mt == h.mounts[0] && h.m.heldElsewhere(h.user, id) {
			return st, fmt.Errorf("transfer %s: %w", id, ErrForeign)
		}
		return st, fmt.Errorf("transfer %s: %w", id, ErrNotExist)
	}
	if err != nil {
		return st, err
	}
	held := partialSize(mt, id)
	if json.Unmarshal(b, &st) != nil || st.Offset < 0 || st.Offset > st.Size || held < st.Offset {
		h.dropPartial(mt, id)
		return ResumePoint{}, fmt.Errorf("transfer %s: unusable saved state: %w", id, ErrNotExist)
	}
	if held > st.Offset && st.Offset < st.Size {
		catchUp(mt, id, &st)
	}
	return st, nil
}

// catchUp brings a saved state up to the end of its partial: a server
// killed between two checkpoints left bytes past the saved offset, which
// are hashed now (and the state saved again) so the upload resumes after
// them. Bytes past the declared size are left for ReopenPartial to cut.
// On any failure the state stays as it was: the upload then resumes at
// the older offset, which is still right.
func catchUp(mt *mount, id string, st *ResumePoint) {
	d := md5.New()
	if d.(encoding.BinaryUnmarshaler).UnmarshalBinary(st.MD5) != nil {
		return
	}
	r, err := mt.fs.ReadPartial(id, st.Offset)
	if err != nil {
		return
	}
	defer r.Close()
	n, _ := io.Copy(d, io.LimitReader(r, st.Size-st.Offset)) // a short read still gives a valid prefix
	if n == 0 {
		return
	}
	m, err := d.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		return
	}
	next := *st
	next.Offset, next.MD5, next.Updated = st.Offset+n, m, time.Now().UTC()
	if saveHeld(mt, id, next) == nil {
		*st = next
	}
}

// partialSize returns the size of the partial's data in mt, or -1 when
// there is none.
func partialSize(mt *mount, id string) int64 {
	if d, ok := mt.fs.(interface{ partialSize(string) int64 }); ok {
		return d.partialSize(id) // one stat, not a listing of every partial
	}
	ps, err := mt.fs.Partials()
	if err != nil {
		return -1
	}
	for _, p := range ps {
		if p.ID == id {
			return p.Size
		}
	}
	return -1
}

// dropPartial removes a partial at rest in mt (claimed by the caller) and
// takes its bytes off the usage.
func (h *Home) dropPartial(mt *mount, id string) {
	size := max(partialSize(mt, id), 0)
	if err := mt.fs.RemovePartial(id); err == nil || !errors.Is(err, ErrNotExist) {
		mt.acct.commit(0, -size)
	}
}

// saveHeld writes a partial's saved state.
func saveHeld(mt *mount, id string, st ResumePoint) error {
	return mt.fs.SavePartialState(id, st.Marshal())
}

// claimWait is how long a claim waits for another connection to let go of
// a transfer: a client that reconnects after a cut is often quicker than
// the server is to notice the old connection died.
var claimWait = 3 * time.Second

// claim marks the id as in use in the mount mt (by this home's user, or
// in a folder by any user), waiting up to claimWait for another holder to
// let go; then ErrBusy.
func (h *Home) claim(mt *mount, id string) error {
	if h.m == nil {
		return nil
	}
	deadline := time.Now().Add(claimWait)
	for !h.m.tryClaim(mt.claim, id) {
		if time.Now().After(deadline) {
			return fmt.Errorf("transfer %s: %w", id, ErrBusy)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

func (h *Home) unclaim(mt *mount, id string) {
	unclaimShared(mt, id)
	if h.m != nil {
		h.m.unclaim(mt.claim, id)
	}
}
