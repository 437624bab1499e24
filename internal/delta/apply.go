package delta

import (
	"errors"
	"fmt"
	"io"

	"ftpx/protocol"
)

// applyBuffer bounds Apply's one buffer, through which copied blocks and
// literals pass.
const applyBuffer = 1 << 20

// Apply reads one delta stream from r, up to and including its END and
// not one byte further, and writes the bytes it describes to w. basis
// holds the basis, basisSize bytes in blocks of block bytes (a geometry
// protocol.Delta.Valid accepts); COPY reads it through ReadAt.
//
// The stream must describe exactly want bytes: an instruction that would
// write past want is refused before anything of it is written, and an
// END before want is refused too, both wrapping ErrFormat. A stream cut
// short is io.ErrUnexpectedEOF; a basis shorter than basisSize is
// ErrBasis. Apply returns the bytes written to w.
func Apply(w io.Writer, r Reader, basis io.ReaderAt, basisSize int64, block int, want int64) (int64, error) {
	blocks, err := checkWire(basisSize, block)
	if err != nil {
		return 0, err
	}
	return ApplyFrom(w, NewDecoder(r, blocks), basis, basisSize, block, want)
}

// ApplyFrom is Apply reading the stream through dec, which the caller
// keeps: when w fails midway, dec.Drain reads the rest of the stream, so
// the connection it comes on stays in step.
func ApplyFrom(w io.Writer, dec *Decoder, basis io.ReaderAt, basisSize int64, block int, want int64) (int64, error) {
	if _, err := checkWire(basisSize, block); err != nil {
		return 0, err
	}
	return applyDecoder(w, dec, basis, basisSize, block, want)
}

// apply is Apply for any block size countBlocks accepts.
func apply(w io.Writer, r Reader, basis io.ReaderAt, basisSize int64, block int, want int64) (int64, error) {
	blocks, err := countBlocks(basisSize, block)
	if err != nil {
		return 0, err
	}
	return applyDecoder(w, NewDecoder(r, blocks), basis, basisSize, block, want)
}

// applyDecoder is ApplyFrom for any block size.
func applyDecoder(w io.Writer, dec *Decoder, basis io.ReaderAt, basisSize int64, block int, want int64) (int64, error) {
	if want < 0 {
		return 0, fmt.Errorf("delta: target of %d bytes: %w", want, ErrFormat)
	}
	var buf []byte
	var written int64
	for {
		in, err := dec.Next()
		if err != nil {
			return written, err
		}
		var n int64
		switch in.Op {
		case protocol.DeltaEnd:
			if written != want {
				return written, fmt.Errorf("delta: stream ends after %d of %d bytes: %w", written, want, ErrFormat)
			}
			return written, nil
		case protocol.DeltaCopy:
			off := int64(in.First) * int64(block)
			n = min(int64(in.First+in.Count)*int64(block), basisSize) - off
		case protocol.DeltaData:
			n = int64(in.Len)
		}
		if n > want-written {
			return written, fmt.Errorf("delta: stream writes more than %d bytes: %w", want, ErrFormat)
		}
		if buf == nil {
			buf = make([]byte, min(applyBuffer, max(want, 1)))
		}
		var m int64
		if in.Op == protocol.DeltaCopy {
			m, err = copyBasis(w, basis, int64(in.First)*int64(block), n, buf)
		} else {
			m, err = copyLiteral(w, dec, n, buf)
		}
		written += m
		if err != nil {
			return written, err
		}
	}
}

// copyBasis writes n bytes of the basis from off to w.
func copyBasis(w io.Writer, basis io.ReaderAt, off, n int64, buf []byte) (int64, error) {
	var done int64
	for done < n {
		p := buf[:min(int64(len(buf)), n-done)]
		k, err := basis.ReadAt(p, off+done)
		if k < len(p) {
			if err == nil || errors.Is(err, io.EOF) {
				return done, fmt.Errorf("delta: basis ends at %d: %w", off+done+int64(k), ErrBasis)
			}
			return done, fmt.Errorf("delta: reading basis: %w", err)
		}
		if _, err := w.Write(p); err != nil {
			return done, fmt.Errorf("delta: writing target: %w", err)
		}
		done += int64(len(p))
	}
	return done, nil
}

// copyLiteral writes the n literal bytes of the current DATA to w.
func copyLiteral(w io.Writer, dec *Decoder, n int64, buf []byte) (int64, error) {
	var done int64
	for done < n {
		p := buf[:min(int64(len(buf)), n-done)]
		if _, err := io.ReadFull(dec, p); err != nil {
			return done, unexpected(err)
		}
		if _, err := w.Write(p); err != nil {
			return done, fmt.Errorf("delta: writing target: %w", err)
		}
		done += int64(len(p))
	}
	return done, nil
}
