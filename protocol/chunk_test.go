package protocol

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
)

// chunked builds a streamed body by hand: a chunk of each length given,
// filled with its index, then the end chunk.
func chunked(lengths ...int) []byte {
	var b []byte
	for i, n := range lengths {
		b = binary.BigEndian.AppendUint32(b, uint32(n))
		b = append(b, bytes.Repeat([]byte{byte(i)}, n)...)
	}
	return binary.BigEndian.AppendUint32(b, 0)
}

func TestChunkRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, 1000, MaxChunk, MaxChunk + 1, 3*MaxChunk + 17} {
		data := make([]byte, n)
		for i := range data {
			data[i] = byte(i * 7)
		}
		var wire bytes.Buffer
		w := NewChunkWriter(&wire)
		if k, err := w.Write(data); err != nil || k != n {
			t.Fatalf("%d bytes: wrote %d, %v", n, k, err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		chunks := (n + MaxChunk - 1) / MaxChunk
		if wire.Len() != n+4*chunks+4 {
			t.Fatalf("%d bytes: %d on the wire, want %d (%d chunks and the end)", n, wire.Len(), n+4*chunks+4, chunks)
		}
		wire.WriteString("next frame")
		got, err := io.ReadAll(NewChunkReader(&wire))
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%d bytes: read back %d, %v", n, len(got), err)
		}
		if wire.String() != "next frame" {
			t.Fatalf("%d bytes: the reader took %q past the end chunk", n, wire.String())
		}
	}
}

func TestChunkReaderRefuses(t *testing.T) {
	over := binary.BigEndian.AppendUint32(nil, MaxChunk+1)
	for _, c := range []struct {
		name string
		in   []byte
		want error
		got  int // bytes of body read before the error
	}{
		{"a chunk over MaxChunk", append(chunked(5)[:9], append(over, make([]byte, 100)...)...), ErrFormat, 5},
		{"a length of 0xffffffff", []byte{0xff, 0xff, 0xff, 0xff}, ErrFormat, 0},
		{"cut inside a chunk", chunked(100)[:50], io.ErrUnexpectedEOF, 46},
		{"cut inside a length", chunked(10)[:16], io.ErrUnexpectedEOF, 10},
		{"no end chunk", chunked(10)[:14], io.ErrUnexpectedEOF, 10},
		{"nothing at all", nil, io.ErrUnexpectedEOF, 0},
	} {
		r := NewChunkReader(bytes.NewReader(c.in))
		got, err := io.ReadAll(r)
		if !errors.Is(err, c.want) || len(got) != c.got {
			t.Errorf("%s: %d bytes, %v; want %d bytes, %v", c.name, len(got), err, c.got, c.want)
		}
		if _, again := r.Read(make([]byte, 10)); again != err {
			t.Errorf("%s: the error did not stick: %v, then %v", c.name, err, again)
		}
	}
}

func TestChunkReaderEndsAtTheEndChunk(t *testing.T) {
	r := NewChunkReader(bytes.NewReader(chunked()))
	if n, err := r.Read(make([]byte, 10)); n != 0 || err != io.EOF {
		t.Fatalf("an empty body: %d, %v; want 0, io.EOF", n, err)
	}
}

func TestChunkReaderLimit(t *testing.T) {
	body := chunked(300, 300, 300)
	r := NewChunkReader(bytes.NewReader(body))
	if _, err := io.ReadFull(r, make([]byte, 100)); err != nil {
		t.Fatal(err)
	}
	r.Limit(500)
	n, err := io.Copy(io.Discard, r)
	if n != 500 || !errors.Is(err, ErrChunkLimit) {
		t.Fatalf("limited to 500 more: %d, %v", n, err)
	}
	r = NewChunkReader(bytes.NewReader(body))
	r.Limit(900)
	if n, err := io.Copy(io.Discard, r); n != 900 || err != nil {
		t.Fatalf("a body of exactly the limit: %d, %v", n, err)
	}
}
