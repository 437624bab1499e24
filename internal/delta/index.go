package delta

import (
	"cmp"
	"math/bits"
	"slices"
)

// index finds the basis blocks whose weak sum equals a window's. It is
// built once per Diff and never allocates afterwards.
//
// A search asks it about every byte of a target that matches nothing, so
// the common answer, "no block", must be cheap. A filter answers it with
// one load and no call: a bitset of 128 to 256 bits per block (at most
// 1 MiB, which is still 32 bits per block at protocol.MaxDeltaBlocks),
// one bit per weak sum, addressed by a multiplicative hash; it passes
// between 1 in 256 and 1 in 32 windows that match nothing. (Two bits per
// sum would pass fewer, but the extra shifts cost more per byte than the
// lookups they save; a bigger filter saved nothing measurable.) What
// gets past it is looked up in buckets laid out flat (start offsets into
// one slice of block numbers), each sorted by weak sum, then strong sum,
// then block number: duplicate blocks cost nothing, a hostile signature
// that crowds one bucket or one weak sum costs a binary search, and
// among equal blocks the lowest number wins, every time.
type index struct {
	filter []uint64 // a power of two of words, at most 1<<17
	wmask  uint64   // len(filter)-1
	bshift uint     // the hash's top 64-bshift bits are the bucket
	start  []uint32 // bucket k holds ids[start[k]:start[k+1]]
	ids    []uint32
	weak   []uint32
	strong []uint64
}

// hashMul is 2^64 divided by the golden ratio: multiplying by it spreads
// weak sums that differ in few bits across the top bits of the product.
const hashMul = 0x9e3779b97f4a7c15

// The filter reads a weak sum's hash h at fixed places, so that the
// search loop shifts by constants: the bit is the top 6 bits, the word
// the 17 bits below them, masked to the filter's size.
const (
	filterBitShift  = 58
	filterWordShift = 41
	maxFilterWords  = 1 << (filterBitShift - filterWordShift)
	filterBitsPer   = 128 // filter bits per block, below the maximum
)

func weakHash(w uint32) uint64 { return uint64(w) * hashMul }

// newIndex indexes blocks 0..n-1 of the given sums (the short last block
// of a basis is left out: it can only match at the target's very end,
// which Diff checks directly).
func newIndex(weak []uint32, strong []uint64, n int) *index {
	x := &index{weak: weak, strong: strong}
	if n == 0 {
		return x
	}
	bucketBits := bits.Len(uint(n - 1)) // 1<<bucketBits >= n buckets
	x.bshift = uint(64 - bucketBits)
	words := min(1<<bucketBits*filterBitsPer/64, maxFilterWords)
	x.filter = make([]uint64, words)
	x.wmask = uint64(words - 1)
	x.start = make([]uint32, 1<<bucketBits+1)
	x.ids = make([]uint32, n)

	// Counting sort by bucket: count, prefix-sum, place.
	for i := range n {
		h := weakHash(weak[i])
		x.filter[h>>filterWordShift&x.wmask] |= 1 << (h >> filterBitShift)
		x.start[x.bucket(h)+1]++
	}
	for k := 1; k < len(x.start); k++ {
		x.start[k] += x.start[k-1]
	}
	next := slices.Clone(x.start[:len(x.start)-1])
	for i := range n {
		k := x.bucket(weakHash(weak[i]))
		x.ids[next[k]] = uint32(i)
		next[k]++
	}
	// Buckets were filled in block order; sort each by (weak, strong,
	// block). Most hold zero, one or two blocks.
	for k := 0; k+1 < len(x.start); k++ {
		if b := x.ids[x.start[k]:x.start[k+1]]; len(b) > 1 {
			slices.SortFunc(b, func(i, j uint32) int {
				if c := cmp.Compare(weak[i], weak[j]); c != 0 {
					return c
				}
				if c := cmp.Compare(strong[i], strong[j]); c != 0 {
					return c
				}
				return cmp.Compare(i, j)
			})
		}
	}
	return x
}

func (x *index) empty() bool { return len(x.ids) == 0 }

// bucket is h's bucket. With one bucket bshift is 64, and a shift by 64
// is 0 in Go.
func (x *index) bucket(h uint64) uint64 { return h >> x.bshift }

// candidates returns the range of ids whose weak sum is w, whose hash is
// h (an empty range when there is none).
func (x *index) candidates(w uint32, h uint64) (lo, hi int) {
	k := x.bucket(h)
	lo, hi = int(x.start[k]), int(x.start[k+1])
	lo = x.search(lo, hi, func(id uint32) bool { return x.weak[id] >= w })
	hi = x.search(lo, hi, func(id uint32) bool { return x.weak[id] > w })
	return lo, hi
}

// search is the first i in [lo, hi) where ok(ids[i]) holds (hi if none),
// for ok false then true along the range. Short ranges, the usual case,
// are scanned; long ones, which only a degenerate or hostile signature
// makes, are bisected.
func (x *index) search(lo, hi int, ok func(id uint32) bool) int {
	for hi-lo > 8 {
		mid := int(uint(lo+hi) >> 1)
		if ok(x.ids[mid]) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	for lo < hi && !ok(x.ids[lo]) {
		lo++
	}
	return lo
}

// find returns the lowest-numbered block among ids[lo:hi] (one weak
// sum's candidates) whose strong sum is the window's, or -1. hi32 is the
// high half of the window's strong sum; the low half is computed by lo32
// only when some block's high half matched.
func (x *index) find(lo, hi int, hi32 uint32, lo32 func() uint32) int {
	s := uint64(hi32) << 32
	i := x.search(lo, hi, func(id uint32) bool { return x.strong[id] >= s })
	if i == hi || x.strong[x.ids[i]]>>32 != uint64(hi32) {
		return -1
	}
	s |= uint64(lo32())
	i = x.search(i, hi, func(id uint32) bool { return x.strong[id] >= s })
	if i == hi || x.strong[x.ids[i]] != s {
		return -1
	}
	return int(x.ids[i])
}
