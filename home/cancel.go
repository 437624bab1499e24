package home

import (
	"fmt"
)

// Cancel gives up an interrupted upload of this home's user: the partial
// (its data and saved state), in the home or in a folder, goes, and the
// bytes it held leave the quota at once. It returns those bytes.
//
// The transfer must be a uuid (ErrBadTransfer). Nothing held under it is
// ErrNotExist, or ErrForeign when another user's home holds it; an upload
// running on another connection keeps it (ErrBusy, after the wait a claim
// allows); a folder that does not allow write keeps it (ErrPermission).
func (h *Home) Cancel(transfer string) (int64, error) {
	if err := checkTransfer(transfer); err != nil {
		return 0, err
	}
	mt := h.holding(transfer)
	if err := h.claim(mt, transfer); err != nil {
		return 0, fmt.Errorf("cancel: %w", err)
	}
	defer h.unclaim(mt, transfer)
	size := partialSize(mt, transfer)
	if _, err := mt.fs.PartialState(transfer); err != nil && size < 0 {
		if h.m != nil && mt == h.mounts[0] && h.m.heldElsewhere(h.user, transfer) {
			return 0, fmt.Errorf("cancel: transfer %s: %w", transfer, ErrForeign)
		}
		return 0, fmt.Errorf("cancel: transfer %s: %w", transfer, ErrNotExist)
	}
	if !mt.perms.Has(PermWrite) {
		return 0, fmt.Errorf("cancel: transfer %s: needs write: %w", transfer, ErrPermission)
	}
	if err := mt.fs.RemovePartial(transfer); err != nil && size >= 0 {
		return 0, err
	}
	size = max(size, 0)
	mt.acct.commit(0, -size)
	return size, nil
}

// holding returns the mount that holds anything of the transfer id: a
// saved state (holder) or, failing that, a partial's data alone (its state
// lost); else the home.
func (h *Home) holding(id string) *mount {
	mt := h.holder(id)
	if _, err := mt.fs.PartialState(id); err == nil {
		return mt
	}
	for _, mt := range h.mounts {
		if partialSize(mt, id) >= 0 {
			return mt
		}
	}
	return h.mounts[0]
}
