package server

import (
	"bytes"
	"io"
	"math/rand/v2"
	"testing"
	"testing/iotest"
)

// Whatever the sizes of the reads on either side, connReader gives back
// the stream unchanged, and holds a buffer only while bytes are in it.
func TestConnReaderPassesTheStreamAndHoldsNoIdleBuffer(t *testing.T) {
	data := make([]byte, readBufSize+30_000)
	for i := range data {
		data[i] = byte(rand.Uint32())
	}
	for _, src := range []io.Reader{bytes.NewReader(data), iotest.OneByteReader(bytes.NewReader(data)), iotest.HalfReader(bytes.NewReader(data))} {
		r := newConnReader(src)
		var got []byte
		rng := rand.New(rand.NewPCG(1, 2))
		buf := make([]byte, readBufSize)
		for len(got) < len(data) {
			if rng.IntN(4) == 0 {
				if err := r.WaitIdle(); err != nil {
					t.Fatal(err)
				}
			}
			p := buf[:[]int{1, 4, 100, 7000, readBufSize}[rng.IntN(5)]]
			n, err := r.Read(p)
			got = append(got, p[:n]...)
			if err != nil && err != io.EOF {
				t.Fatal(err)
			}
			if r.Buffered() == 0 && r.bp != nil {
				t.Fatal("an empty reader holds a buffer")
			}
		}
		if !bytes.Equal(got, data) {
			t.Fatal("the stream changed")
		}
		if err := r.WaitIdle(); err != io.EOF {
			t.Fatalf("WaitIdle at the end: %v", err)
		}
	}
}
