package home

import (
	"fmt"
	"time"
)

// A Claimer is an FS whose transfer ids are claimed across every server
// sharing its store (an object store's lock objects, which lapse when the
// server holding them dies), so that an interrupted upload is resumed by
// one connection at a time whichever server it reaches.
type Claimer interface {
	// Claim takes the id, or reports false when another server holds it.
	Claim(id string) (bool, error)
	// Unclaim lets go of an id this FS holds; others are left alone.
	Unclaim(id string)
}

// claimFor claims the transfer id in the mount mt for this process and,
// when the id is one a client named (shared) and mt's FS is a Claimer,
// across servers too, waiting up to claimWait for another holder to let
// go. A fresh id no other server can know needs no shared claim.
func (h *Home) claimFor(mt *mount, id string, shared bool) error {
	if err := h.claim(mt, id); err != nil {
		return err
	}
	c, ok := mt.fs.(Claimer)
	if !shared || !ok {
		return nil
	}
	deadline := time.Now().Add(claimWait)
	for {
		got, err := c.Claim(id)
		switch {
		case err != nil:
			h.unclaim(mt, id)
			return fmt.Errorf("transfer %s: %w", id, err)
		case got:
			return nil
		case time.Now().After(deadline):
			h.unclaim(mt, id)
			return fmt.Errorf("transfer %s: %w", id, ErrBusy)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// unclaimShared lets go of a shared claim on id, if mt's FS holds one.
func unclaimShared(mt *mount, id string) {
	if c, ok := mt.fs.(Claimer); ok {
		c.Unclaim(id)
	}
}
