package delta

import (
	"math"

	"ftpx/protocol"
)

// maxPreferredBlock caps the square-root rule, as rsync does: past it a
// bigger block saves little signature but loses more to every change.
const maxPreferredBlock = 128 << 10

// BlockSize chooses the block size for a basis of size bytes. Like rsync
// it takes about the square root of the size (which balances signature
// bytes against the literal bytes one change costs), rounded up to a
// multiple of 8, within protocol.MinDeltaBlock and 128 KiB; when that
// would need more than protocol.MaxDeltaBlocks blocks, it takes the
// smallest size that fits instead. It returns 0 when no block size within
// protocol.MaxDeltaBlock can cover the basis: no delta is possible.
func BlockSize(size int64) int {
	if size < 0 || size > int64(protocol.MaxDeltaBlocks)*protocol.MaxDeltaBlock {
		return 0
	}
	block := int64(math.Sqrt(float64(size)))
	for block*block < size { // the float may round down
		block++
	}
	block = (block + 7) &^ 7
	block = min(max(block, protocol.MinDeltaBlock), maxPreferredBlock)
	if fit := ceilDiv(size, protocol.MaxDeltaBlocks); fit > block {
		block = fit
	}
	return int(block)
}

// ceilDiv is n/d rounded up, for n >= 0 and d > 0, without overflowing.
func ceilDiv(n, d int64) int64 {
	q := n / d
	if n%d != 0 {
		q++
	}
	return q
}

// countBlocks is the number of blocks of a basis of size bytes cut into
// blocks of block bytes. The package's own code works with any block of 1
// byte or more (tests use small ones to reach every path with small
// inputs); what travels must also satisfy protocol.Delta.Valid, which
// checkWire adds.
func countBlocks(size int64, block int) (int, error) {
	if block < 1 || block > protocol.MaxDeltaBlock || size < 0 {
		return 0, errGeometry
	}
	n := ceilDiv(size, int64(block))
	if n > protocol.MaxDeltaBlocks {
		return 0, errGeometry
	}
	return int(n), nil
}

// checkWire is countBlocks held to the protocol's limits.
func checkWire(size int64, block int) (int, error) {
	n, err := countBlocks(size, block)
	if err != nil {
		return 0, err
	}
	if d := (protocol.Delta{Block: block, Blocks: n, BasisSize: size}); !d.Valid() {
		return 0, errGeometry
	}
	return n, nil
}
