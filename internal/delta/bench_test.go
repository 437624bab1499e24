package delta

import (
	"bufio"
	"bytes"
	"crypto/md5"
	"ftpx/internal/cputime"
	"io"
	"testing"
	"time"
)

// cpuMeter adds a cpu-MB/s metric to a benchmark: bytes per second of
// CPU time used by the whole process, which other load on the machine
// distorts less than the wall clock (ns/op and MB/s).
type cpuMeter struct {
	b     *testing.B
	bytes int64
	start time.Duration
}

func meterCPU(b *testing.B, bytes int64) *cpuMeter {
	b.SetBytes(bytes)
	b.ResetTimer()
	return &cpuMeter{b: b, bytes: bytes, start: cputime.Self()}
}

func (m *cpuMeter) stop() {
	m.b.StopTimer()
	if used := cputime.Self() - m.start; used > 0 {
		m.b.ReportMetric(float64(m.bytes)*float64(m.b.N)/used.Seconds()/1e6, "cpu-MB/s")
	}
}

// The benchmarks use a 256 MiB target (64 MiB for the no-match search)
// with BlockSize's block for its basis, as a real transfer would.
const benchSize = 256 << 20

var benchData []byte

func benchBasis() []byte {
	if benchData == nil {
		benchData = randBytes(100, benchSize)
	}
	return benchData
}

func benchSign(b *testing.B, basis []byte) *Signature {
	sig, err := Sign(bytes.NewReader(basis), int64(len(basis)), BlockSize(int64(len(basis))))
	if err != nil {
		b.Fatal(err)
	}
	return sig
}

func BenchmarkSign(b *testing.B) {
	basis := benchBasis()
	block := BlockSize(int64(len(basis)))
	m := meterCPU(b, int64(len(basis)))
	for range b.N {
		if _, err := Sign(bytes.NewReader(basis), int64(len(basis)), block); err != nil {
			b.Fatal(err)
		}
	}
	m.stop()
}

func benchDiff(b *testing.B, basis, target []byte) {
	sig := benchSign(b, basis)
	var st Stats
	b.ReportAllocs()
	m := meterCPU(b, int64(len(target)))
	for range b.N {
		var err error
		if st, err = Diff(io.Discard, bytes.NewReader(target), sig, Options{}); err != nil {
			b.Fatal(err)
		}
	}
	m.stop()
	b.ReportMetric(float64(st.Literal), "literal-bytes")
}

func BenchmarkDiffUnchanged(b *testing.B) {
	basis := benchBasis()
	benchDiff(b, basis, basis)
}

// BenchmarkDiffUnchangedMD5 is BenchmarkDiffUnchanged with an MD5 of the
// target on Options.Hash: the digest runs on another core, so this
// costs the slower of the two, not their sum.
func BenchmarkDiffUnchangedMD5(b *testing.B) {
	basis := benchBasis()
	sig := benchSign(b, basis)
	m := meterCPU(b, int64(len(basis)))
	for range b.N {
		if _, err := Diff(io.Discard, bytes.NewReader(basis), sig, Options{Hash: md5.New()}); err != nil {
			b.Fatal(err)
		}
	}
	m.stop()
}

// BenchmarkMD5 is the digest alone, for comparison.
func BenchmarkMD5(b *testing.B) {
	p := benchBasis()[:64<<20]
	b.SetBytes(int64(len(p)))
	for range b.N {
		md5.Sum(p)
	}
}

func BenchmarkDiffInsert(b *testing.B) {
	basis := benchBasis()
	benchDiff(b, basis, cat(basis[:100], randBytes(101, 1000), basis[100:]))
}

func BenchmarkDiffNoMatch(b *testing.B) {
	basis := benchBasis()[:64<<20]
	benchDiff(b, basis, randBytes(102, 64<<20))
}

func BenchmarkApply(b *testing.B) {
	basis := benchBasis()
	target := cat(basis[:100], randBytes(101, 1000), basis[100:])
	block := BlockSize(int64(len(basis)))
	var stream bytes.Buffer
	if _, err := Diff(&stream, bytes.NewReader(target), benchSign(b, basis), Options{}); err != nil {
		b.Fatal(err)
	}
	m := meterCPU(b, int64(len(target)))
	for range b.N {
		r := bufio.NewReader(bytes.NewReader(stream.Bytes()))
		if _, err := Apply(io.Discard, r, bytes.NewReader(basis), int64(len(basis)), block, int64(len(target))); err != nil {
			b.Fatal(err)
		}
	}
	m.stop()
}

func BenchmarkWeakSum(b *testing.B) {
	p := randBytes(103, 16<<10)
	b.SetBytes(int64(len(p)))
	for range b.N {
		weakSum(p)
	}
}

func BenchmarkStrongSum(b *testing.B) {
	p := randBytes(103, 16<<10)
	b.SetBytes(int64(len(p)))
	for range b.N {
		strongSum(p)
	}
}

// BenchmarkScan is the search loop alone over bytes that never pass the
// filter: the floor of BenchmarkDiffNoMatch.
func BenchmarkScan(b *testing.B) {
	buf := randBytes(5, 1<<20+8192)
	filter := make([]uint64, 4096)
	b.SetBytes(1 << 20)
	for range b.N {
		scan(buf, 8192, 0, 1<<20, 1, 2, filter, 4095)
	}
}
