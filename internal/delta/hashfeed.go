package delta

import (
	"hash"
	"sync"
)

// hashFeed runs a hash on its own goroutine over the slices it is given,
// in order, so that a slow digest (MD5: about 0.5 GB/s) of the target
// overlaps the diff instead of adding to it. The slices are not copied:
// the owner must call wait before it overwrites any of them.
type hashFeed struct {
	h       hash.Hash
	chunks  chan []byte
	pending sync.WaitGroup // chunks sent and not yet hashed
	done    chan struct{}  // closed when the goroutine has returned
}

func startHashFeed(h hash.Hash) *hashFeed {
	f := &hashFeed{h: h, chunks: make(chan []byte, 64), done: make(chan struct{})}
	go func() {
		defer close(f.done)
		for p := range f.chunks {
			f.h.Write(p) // a hash.Hash never fails
			f.pending.Done()
		}
	}()
	return f
}

// write queues p for the hash.
func (f *hashFeed) write(p []byte) {
	f.pending.Add(1)
	f.chunks <- p
}

// wait returns when every queued slice has been hashed.
func (f *hashFeed) wait() { f.pending.Wait() }

// stop hashes what is queued and ends the goroutine.
func (f *hashFeed) stop() {
	close(f.chunks)
	<-f.done
}
