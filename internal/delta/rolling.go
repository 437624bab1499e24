package delta

import (
	"encoding/binary"
	"hash/crc32"
)

// The weak checksum is rsync's: over a block x_0..x_{L-1},
// a = sum x_i and b = sum (L-i)*x_i, both mod 2^16, weak = a | b<<16.
// Sliding the window one byte costs two additions (see differ.search),
// which is what makes a byte-granular search affordable.
//
// The accumulators are kept in uint32 and only their low 16 bits are
// read: 2^16 divides 2^32, so wrapping in 32 bits is still exact mod 2^16.

// SWAR constants for weakSum: the bytes of a uint64 spread into four
// 16-bit lanes (even bytes in one word, odd bytes in another), so that
// plain 64-bit additions sum 4 bytes at once, and one multiplication by
// ones16 sums a word's lanes into its top lane.
const (
	lanes16 = 0x00ff00ff00ff00ff
	ones16  = 0x0001000100010001
)

// weakSum is the weak checksum of p, with L = len(p), at several bytes
// per cycle where the textbook loop does about one (each byte's b waits
// for the previous a). Split p into 8-byte groups j = 0..m-1 with sums
// S_j, and let C_k be the sum over the groups of their k-th byte; then
// over the groups
//
//	b = sum_j sum_k (8m - 8j - k) x_jk = 8*sum_j (m-1-j) S_j + 8*a - sum_k k C_k
//
// The first sum is a running sum of running sums (two dependent
// additions per group), S_j is one multiplication, and the C_k add up in
// 16-bit lanes, flushed before they can overflow (256 groups of bytes
// below 256). A tail of fewer than 8 bytes is added the textbook way.
// Few live values, so that the compiler keeps them all in registers.
func weakSum(p []byte) uint32 {
	var a, b, k uint32 // sum S_j, sum (m-1-j) S_j, sum k C_k
	for len(p) >= 16 {
		q := p[:min(len(p)/16, 128)*16]
		p = p[len(q):]
		var ce, co uint64 // C_k of the even bytes (0, 2, 4, 6) and the odd ones, in lanes
		for i := 0; i < len(q); i += 16 {
			g := q[i : i+16 : i+16]
			w0 := binary.LittleEndian.Uint64(g[:8])
			w1 := binary.LittleEndian.Uint64(g[8:])
			e0, o0 := w0&lanes16, (w0>>8)&lanes16
			e1, o1 := w1&lanes16, (w1>>8)&lanes16
			ce += e0 + e1
			co += o0 + o1
			b += a
			a += uint32(((e0 + o0) * ones16) >> 48)
			b += a
			a += uint32(((e1 + o1) * ones16) >> 48)
		}
		k += laneDot(ce, 0) + laneDot(co, 1)
	}
	b = 8*b + 8*a - k
	for _, x := range p {
		a += uint32(x)
		b += a
	}
	return a&0xffff | b<<16
}

// laneDot is sum_i (k0 + 2i) * lane_i for the four 16-bit lanes of v: the
// lanes hold the column sums of bytes k0, k0+2, k0+4 and k0+6.
func laneDot(v uint64, k0 uint32) uint32 {
	var s uint32
	for i := range uint32(4) {
		s += (k0 + 2*i) * uint32(v>>(16*i)&0xffff)
	}
	return s
}

// castagnoli is built once: crc32 uses the SSE4.2 instruction for it.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// strongHi and strongLo are the two halves of the strong checksum: CRC-32C
// in the high 32 bits, CRC-32 (IEEE) in the low. Both run at memory speed
// with the CPU's CRC and carry-less multiply instructions; a search
// computes the high half first and the low one only when the high one
// matched, which halves the cost of a false alarm.
func strongHi(p []byte) uint32 { return crc32.Checksum(p, castagnoli) }
func strongLo(p []byte) uint32 { return crc32.ChecksumIEEE(p) }

// strongSum is the strong checksum of p.
func strongSum(p []byte) uint64 {
	return uint64(strongHi(p))<<32 | uint64(strongLo(p))
}
