package home

import "hash"

// Hashing and writing a big upload one after the other costs their sum;
// on two cores they can overlap. A hasher is a goroutine that hashes the
// chunk the Upload is writing to the file at the same time. It lives as
// long as its upload (stop ends it) and allocates nothing per chunk.
type hasher struct {
	h    hash.Hash
	in   chan []byte
	done chan struct{}
}

const (
	minParallelUpload = 4 << 20  // uploads smaller than this hash inline
	minParallelHash   = 64 << 10 // and so do small writes
)

func newHasher(h hash.Hash) *hasher {
	x := &hasher{h: h, in: make(chan []byte), done: make(chan struct{})}
	go func() {
		for b := range x.in {
			x.h.Write(b)
			x.done <- struct{}{}
		}
	}()
	return x
}

// start hashes b on the hasher's goroutine; b must not change until wait.
func (x *hasher) start(b []byte) { x.in <- b }

// wait returns once the chunk given to start is hashed.
func (x *hasher) wait() { <-x.done }

// stop ends the goroutine; the hash stays usable.
func (x *hasher) stop() { close(x.in) }
