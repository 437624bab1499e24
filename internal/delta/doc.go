// Package delta computes and applies rsync-style deltas: the side that
// holds an old version of a file (the basis) describes it by a Signature
// of per-block sums; the side that holds the new version (the target)
// scans it with a rolling checksum against that signature and writes a
// delta stream of instructions (copy these blocks of the basis, write
// these literal bytes); the basis side applies the stream to rebuild the
// target. The wire format and its limits are protocol/delta.go's; this
// package imports them and never restates them.
//
// Signatures and delta streams arrive from the network, so everything
// that parses them (ReadSignature, Decoder, Apply) checks each number
// against the limits before it allocates or writes, never reads past the
// end of what it parses, and tells a stream cut short
// (io.ErrUnexpectedEOF: resume later) from a malformed one (ErrFormat:
// refuse).
//
// delta does no I/O of its own beyond the readers and writers it is
// given, opens no files, and never logs: callers own the connection, the
// files and the whole-file digest that guards against a false match.
package delta

import (
	"errors"
	"fmt"
)

// ErrFormat is wrapped by every error about a malformed signature or
// delta stream: a bad opcode, an overlong varint, a block out of range, a
// COPY of no blocks, a DATA of no bytes or of more than
// protocol.MaxDeltaLiteral, a stream that writes more or fewer bytes than
// announced. A stream that merely stops early is io.ErrUnexpectedEOF
// instead, never ErrFormat.
var ErrFormat = errors.New("malformed delta")

// ErrBasis is wrapped when the basis holds fewer bytes than its announced
// size: it changed under the caller, which is neither the peer's fault
// nor a cut connection.
var ErrBasis = errors.New("delta basis shorter than announced")

// errGeometry is prebuilt so that refusing a header allocates nothing.
var errGeometry = fmt.Errorf("delta: block size, block count or basis size out of range: %w", ErrFormat)
