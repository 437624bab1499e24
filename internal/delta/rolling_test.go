package delta

import (
	"math/rand/v2"
	"testing"
)

// weakReference is the checksum exactly as the protocol defines it.
func weakReference(p []byte) uint32 {
	var a, b uint32
	l := uint32(len(p))
	for i, x := range p {
		a += uint32(x)
		b += (l - uint32(i)) * uint32(x)
	}
	return a&0xffff | (b&0xffff)<<16
}

func TestWeakSumMatchesDefinition(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for n := range 300 {
		p := make([]byte, n)
		for i := range p {
			p[i] = byte(rng.Uint32())
		}
		if got, want := weakSum(p), weakReference(p); got != want {
			t.Fatalf("len %d random: weakSum %#x, definition %#x", n, got, want)
		}
		for i := range p {
			p[i] = 0xff
		}
		if got, want := weakSum(p), weakReference(p); got != want {
			t.Fatalf("len %d of 0xff: weakSum %#x, definition %#x", n, got, want)
		}
	}
	big := make([]byte, 1<<20+7)
	for i := range big {
		big[i] = byte(rng.Uint32())
	}
	if got, want := weakSum(big), weakReference(big); got != want {
		t.Fatalf("1 MiB: weakSum %#x, definition %#x", got, want)
	}
}

// TestRollMatchesRecompute slides a window across random bytes with the
// same update differ.search uses and compares it with a fresh sum.
func TestRollMatchesRecompute(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	data := make([]byte, 5000)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	for _, l := range []int{1, 2, 7, 16, 1024, 4000} {
		w := weakSum(data[:l])
		a, b := w&0xffff, w>>16
		for p := 0; p+l < len(data); p++ {
			out, in := uint32(data[p]), uint32(data[p+l])
			a += in - out
			b += a - uint32(l)*out
			got := a&0xffff | b<<16
			if want := weakReference(data[p+1 : p+1+l]); got != want {
				t.Fatalf("L=%d at %d: rolled %#x, recomputed %#x", l, p+1, got, want)
			}
		}
	}
}
