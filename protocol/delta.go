package protocol

import "time"

// A file sent onto an older version of itself travels as a delta
// (PROTOCOL.md, "Deltas"): the side that holds the old version (the
// basis) describes it by the sums of its blocks (a signature), and the
// other side sends only instructions to copy blocks of the basis, and the
// bytes the basis does not have.
//
// A signature body is Blocks sums of DeltaSumSize bytes each: the block's
// rolling (weak) checksum, 4 bytes big-endian, then its strong checksum,
// 8 bytes big-endian. Every block is Block bytes but the last, which
// holds what is left of the basis.
//
// A delta body is a sequence of instructions, each one byte of opcode and
// its arguments as unsigned varints (encoding/binary):
//
//	DeltaEnd                      the last instruction
//	DeltaCopy  FIRST COUNT        blocks FIRST .. FIRST+COUNT-1 of the basis
//	DeltaData  LEN BYTES          LEN (1..MaxDeltaLiteral) bytes to write as they are
//
// What the instructions write must be exactly the file (from the
// request's offset), no more, no less.

// Delta describes the basis of a signature or of a delta body.
type Delta struct {
	Block     int   `json:"block"`      // bytes per block
	Blocks    int   `json:"blocks"`     // sums in the signature: BasisSize/Block rounded up
	BasisSize int64 `json:"basis_size"` // the basis's size
	// BasisMTime is the basis's modification time as the server sees it,
	// in a signature's answer; a put's delta echoes it, so that the server
	// can tell the basis has not changed since.
	BasisMTime *time.Time `json:"basis_mtime,omitempty"`
}

// Delta instruction opcodes.
const (
	DeltaEnd  = 0x00
	DeltaCopy = 0x01
	DeltaData = 0x02
)

// Delta limits, enforced on whatever the peer sends.
const (
	// DeltaSumSize is the bytes of one block's sums in a signature.
	DeltaSumSize = 12
	// MinDeltaBlock and MaxDeltaBlock bound the block size.
	MinDeltaBlock = 1 << 10
	MaxDeltaBlock = 16 << 20
	// MaxDeltaBlocks bounds the blocks of one signature (3 MiB of sums):
	// a basis needs MaxDeltaBlocks*MaxDeltaBlock bytes (4 TiB) or less.
	MaxDeltaBlocks = 1 << 18
	// MaxDeltaLiteral bounds the bytes of one DeltaData instruction.
	MaxDeltaLiteral = 1 << 20
	// MinDeltaSize is the smallest file sent as a delta: below it a
	// signature's round trip costs more than it saves.
	MinDeltaSize = 64 << 10
)

// Valid reports whether d describes a signature a peer may send: a block
// size within the limits and the number of blocks its basis needs, at
// most MaxDeltaBlocks.
func (d *Delta) Valid() bool {
	if d == nil || d.Block < MinDeltaBlock || d.Block > MaxDeltaBlock || d.BasisSize < 0 ||
		d.Blocks < 0 || d.Blocks > MaxDeltaBlocks {
		return false
	}
	return int64(d.Blocks) == (d.BasisSize+int64(d.Block)-1)/int64(d.Block)
}

// SignatureBytes is the length of the signature body d announces.
func (d *Delta) SignatureBytes() int64 { return int64(d.Blocks) * DeltaSumSize }
