// Package ids makes unique ids in the shape of a uuid, cheaply: a request
// id for every frame of a pipelined batch, a partial's name for every
// small upload. Half of each id is drawn at random once per process, the
// other half counts, so an id is unique across processes (and servers
// sharing a store) without a getrandom call per id, as a random uuid
// (github.com/google/uuid) would make. Where an id must not be guessed,
// use a random uuid instead.
package ids

import (
	"crypto/rand"
	"encoding/hex"
	"sync/atomic"
)

var (
	count atomic.Uint64
	base  = func() string {
		var b [8]byte
		rand.Read(b[:])         // never fails on Linux
		b[6] = b[6]&0x0f | 0x40 // version 4
		s := hex.EncodeToString(b[:])
		return s[:8] + "-" + s[8:12] + "-" + s[12:16]
	}()
)

// New returns a new id: "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx".
func New() string {
	n := count.Add(1)
	var b [8]byte
	for i := range b {
		b[7-i] = byte(n >> (8 * i))
	}
	b[0] = b[0]&0x3f | 0x80 // the variant bits
	var s [36]byte
	copy(s[:], base)
	s[18] = '-'
	hex.Encode(s[19:23], b[:2])
	s[23] = '-'
	hex.Encode(s[24:], b[2:])
	return string(s[:])
}
