package xfer

import (
	"bytes"
	"crypto/md5"
	"encoding"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// trickle returns at most k bytes a Read, as a socket does.
type trickle struct {
	r io.Reader
	k int
}

func (t trickle) Read(p []byte) (int, error) { return t.r.Read(p[:min(len(p), t.k)]) }

func TestCopyMovesAndHashesEveryByte(t *testing.T) {
	sizes := []int{0, 1, 4095, smallSize, ChunkSize, ChunkSize + 1, 3*ChunkSize + 12345, 9 * ChunkSize}
	for _, n := range sizes {
		for _, chunk := range []int{0, 1000, ChunkSize / 3} {
			data := randomBytes(n, uint64(n))
			var dst bytes.Buffer
			h := md5.New()
			var hashedAt []int64
			res, err := Copy(&dst, trickle{bytes.NewReader(data), 100 << 10}, int64(n), Options{
				Hash: h, Chunk: chunk,
				AfterHash: func(p int64) { hashedAt = append(hashedAt, p) },
			})
			if err != nil {
				t.Fatalf("n=%d chunk=%d: %v", n, chunk, err)
			}
			want := md5.Sum(data)
			if !bytes.Equal(dst.Bytes(), data) || !bytes.Equal(h.Sum(nil), want[:]) {
				t.Fatalf("n=%d chunk=%d: bytes or md5 differ", n, chunk)
			}
			if res.Read != int64(n) || res.Written != int64(n) || res.Hashed != int64(n) {
				t.Fatalf("n=%d chunk=%d: result %+v", n, chunk, res)
			}
			if n > 0 && hashedAt[len(hashedAt)-1] != int64(n) {
				t.Fatalf("n=%d: last AfterHash %d", n, hashedAt[len(hashedAt)-1])
			}
		}
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// The hash state seen by AfterHash is that of exactly the prefix counted:
// a checkpoint taken there is valid.
func TestAfterHashSeesThePrefixState(t *testing.T) {
	data := randomBytes(5*ChunkSize+99, 3)
	h := md5.New()
	_, err := Copy(io.Discard, bytes.NewReader(data), int64(len(data)), Options{Hash: h, AfterHash: func(p int64) {
		st, _ := h.(encoding.BinaryMarshaler).MarshalBinary()
		g := md5.New()
		g.(encoding.BinaryUnmarshaler).UnmarshalBinary(st)
		want := md5.Sum(data[:p])
		if !bytes.Equal(g.Sum(nil), want[:]) {
			t.Errorf("state at %d is not the prefix's", p)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
}

// A reader that fails: what it gave is still written and hashed.
func TestCopyReadErrorKeepsWhatArrived(t *testing.T) {
	data := randomBytes(4*ChunkSize, 5)
	cut := 2*ChunkSize + 777
	h := md5.New()
	var dst bytes.Buffer
	res, err := Copy(&dst, io.LimitReader(bytes.NewReader(data), int64(cut)), int64(len(data)), Options{Hash: h})
	if !errors.Is(err, io.ErrUnexpectedEOF) || IsWrite(err) {
		t.Fatalf("err %v, want a read-side unexpected EOF", err)
	}
	want := md5.Sum(data[:cut])
	if res.Written != int64(cut) || res.Hashed != int64(cut) || !bytes.Equal(dst.Bytes(), data[:cut]) || !bytes.Equal(h.Sum(nil), want[:]) {
		t.Fatalf("result %+v, %d bytes in dst", res, dst.Len())
	}
}

// A writer that fails: reading stops soon after, and the hash covers
// exactly what was written.
func TestCopyWriteErrorStopsAndHashesThePrefix(t *testing.T) {
	data := randomBytes(20*ChunkSize, 6)
	limit := 3*ChunkSize + 100
	var got []byte
	boom := errors.New("disk full")
	w := writerFunc(func(p []byte) (int, error) {
		k := min(len(p), limit-len(got))
		got = append(got, p[:k]...)
		if k < len(p) {
			return k, boom
		}
		return k, nil
	})
	h := md5.New()
	src := bytes.NewReader(data)
	res, err := Copy(w, src, int64(len(data)), Options{Hash: h})
	if !errors.Is(err, boom) || !IsWrite(err) {
		t.Fatalf("err %v, want the write error", err)
	}
	want := md5.Sum(data[:limit])
	if res.Written != int64(limit) || res.Hashed != int64(limit) || !bytes.Equal(h.Sum(nil), want[:]) {
		t.Fatalf("result %+v", res)
	}
	// The reader looks for a failure between chunks: one waiting for a
	// free buffer when the write fails reads one more chunk into the
	// buffer the failed writer gives back. Beyond the chunk that failed,
	// at most Buffers+1.
	if res.Read > int64(limit)+(Buffers+1)*ChunkSize {
		t.Fatalf("read %d bytes after the writer failed at %d", res.Read, limit)
	}
}

func TestCopyAfterReadErrorStops(t *testing.T) {
	data := randomBytes(6*ChunkSize, 8)
	stop := errors.New("cancelled")
	calls := 0
	res, err := Copy(io.Discard, bytes.NewReader(data), int64(len(data)), Options{AfterRead: func(int) error {
		calls++
		if calls == 2 {
			return stop
		}
		return nil
	}})
	if !errors.Is(err, stop) || res.Read != 2*ChunkSize || res.Written != 2*ChunkSize {
		t.Fatalf("err %v, result %+v", err, res)
	}
}

func TestCopyLeavesNoGoroutine(t *testing.T) {
	before := runtime.NumGoroutine()
	data := randomBytes(8*ChunkSize, 9)
	for range 20 {
		Copy(io.Discard, bytes.NewReader(data), int64(len(data)), Options{Hash: md5.New()})
		Copy(writerFunc(func(p []byte) (int, error) { return 0, io.ErrClosedPipe }), bytes.NewReader(data), int64(len(data)), Options{Hash: md5.New()})
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Fatalf("%d goroutines, %d before", n, before)
	}
}

func TestAlignedBuffer(t *testing.T) {
	for _, n := range []int{1, Align, ChunkSize} {
		if b := AlignedBuffer(n); len(b) != n || alignOf(b) != 0 {
			t.Fatalf("AlignedBuffer(%d): len %d, address mod %d = %d", n, len(b), Align, alignOf(b))
		}
	}
}

// WritebackWriter writes the same bytes as a plain file would, from any
// starting offset and in writes of any size, and the file holds them all
// after Sync.
func TestWritebackWriterWritesEveryByte(t *testing.T) {
	data := randomBytes(20*ChunkSize+333, 11)
	for _, start := range []int{0, 1000, writebackEvery - 1} {
		path := filepath.Join(t.TempDir(), "f")
		if err := os.WriteFile(path, data[:start], 0o644); err != nil {
			t.Fatal(err)
		}
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.Seek(int64(start), 0)
		w := NewWritebackWriter(f)
		for pos, k := start, 0; pos < len(data); pos += k {
			k = min([]int{5000, ChunkSize, 3 * ChunkSize, 7}[pos%4], len(data)-pos)
			if n, err := w.Write(data[pos : pos+k]); n != k || err != nil {
				t.Fatalf("Write(%d) = %d, %v", k, n, err)
			}
		}
		if err := w.Sync(); err != nil {
			t.Fatal(err)
		}
		w.Close()
		if w.asked <= int64(start) {
			t.Errorf("start %d: no writeback was started", start)
		}
		if got, _ := os.ReadFile(path); !bytes.Equal(got, data) {
			t.Fatalf("start %d: the file differs", start)
		}
	}
}
