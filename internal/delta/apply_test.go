package delta

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"

	"ftpx/protocol"
)

// stream assembles a delta stream from instructions written as values:
// a byte is an opcode or raw byte, an int a varint, a []byte raw bytes.
func stream(parts ...any) []byte {
	var out []byte
	for _, p := range parts {
		switch v := p.(type) {
		case byte:
			out = append(out, v)
		case int:
			out = binary.AppendUvarint(out, uint64(v))
		case uint64:
			out = binary.AppendUvarint(out, v)
		case []byte:
			out = append(out, v...)
		default:
			panic("stream: bad part")
		}
	}
	return out
}

const (
	end  = byte(protocol.DeltaEnd)
	cp   = byte(protocol.DeltaCopy)
	data = byte(protocol.DeltaData)
)

func TestApplyRefusesMalformed(t *testing.T) {
	basis := randBytes(30, 3000) // blocks of 1024: 0, 1, and 2 of 952 bytes
	const block = 1024
	long := bytes.Repeat([]byte{'x'}, protocol.MaxDeltaLiteral+1)
	for _, c := range []struct {
		name   string
		stream []byte
		want   int64
	}{
		{"bad opcode", stream(byte(3)), 10},
		{"opcode 0xff", stream(byte(0xff), 1, 1), 10},
		{"copy past the last block", stream(cp, 3, 1, end), 1024},
		{"copy count past the last block", stream(cp, 2, 2, end), 2000},
		{"copy count huge", stream(cp, 1, uint64(1)<<63, end), 5000},
		{"copy first huge", stream(cp, uint64(1)<<63, 1, end), 5000},
		{"copy count 0", stream(cp, 0, 0, end), 0},
		{"data len 0", stream(data, 0, end), 0},
		{"data len over the limit", stream(data, protocol.MaxDeltaLiteral+1, long, end), int64(len(long))},
		{"varint of 11 bytes", stream(cp, bytes.Repeat([]byte{0x80}, 10), []byte{0}, 1, end), 5000},
		{"varint over 64 bits", stream(cp, bytes.Repeat([]byte{0xff}, 9), []byte{0x02}, 1, end), 5000},
		{"copy writes more than want", stream(cp, 0, 1, end), 1000},
		{"data writes more than want", stream(data, 5, []byte("hello"), end), 4},
		{"second instruction writes more than want", stream(data, 5, []byte("hello"), cp, 2, 1, end), 900},
		{"end before want", stream(cp, 0, 1, end), 1025},
		{"end of an empty stream before want", stream(end), 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, err := applyBytes(t, basis, c.stream, block, c.want)
			if !errors.Is(err, ErrFormat) || errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("err %v, want ErrFormat", err)
			}
			if int64(len(out)) > c.want {
				t.Fatalf("wrote %d bytes past want %d", len(out), c.want)
			}
		})
	}
}

func TestApplyTruncated(t *testing.T) {
	basis := randBytes(31, 3000)
	target := cat(basis[1024:2048], []byte("literal bytes"), basis[2048:])
	full, _ := diffBytes(t, basis, target, 1024)
	for cut := range len(full) {
		_, err := applyThen(t, basis, full[:cut], "", 1024, int64(len(target)))
		if !errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, ErrFormat) {
			t.Fatalf("stream cut at %d of %d: %v, want io.ErrUnexpectedEOF", cut, len(full), err)
		}
	}
	for _, s := range [][]byte{stream(cp, []byte{0x80}), stream(data, 5, []byte("hel")), stream(data)} {
		if _, err := applyThen(t, basis, s, "", 1024, 100); !errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, ErrFormat) {
			t.Fatalf("stream %x: %v, want io.ErrUnexpectedEOF", s, err)
		}
	}
}

func TestApplyValid(t *testing.T) {
	basis := randBytes(32, 3000)
	s := stream(cp, 2, 1, data, 3, []byte("abc"), cp, 0, 2, end)
	got, err := applyBytes(t, basis, s, 1024, 952+3+2048)
	if err != nil {
		t.Fatal(err)
	}
	if want := cat(basis[2048:], []byte("abc"), basis[:2048]); !bytes.Equal(got, want) {
		t.Fatal("rebuilt bytes differ")
	}
}

// TestApplyReadsNothingPastEnd: what follows END on the connection is
// still there after Apply, even when the stream and what follows arrive
// in one read.
func TestApplyReadsNothingPastEnd(t *testing.T) {
	basis := randBytes(33, 3000)
	in := cat(stream(data, 2, []byte("hi"), cp, 1, 1, end), []byte("next frame"))
	r := bufio.NewReader(bytes.NewReader(in))
	var out bytes.Buffer
	if _, err := Apply(&out, r, bytes.NewReader(basis), 3000, 1024, 1026); err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(r)
	if string(rest) != "next frame" {
		t.Fatalf("left in the reader: %q", rest)
	}
}

func TestApplyShortBasis(t *testing.T) {
	basis := randBytes(34, 2000)
	_, err := applyBytes(t, basis[:1500], stream(cp, 1, 1, end), 1024, 976)
	if err == nil {
		t.Fatal("no error")
	}
	// Called with the announced size, but the basis holds less.
	var out bytes.Buffer
	_, err = Apply(&out, bufio.NewReader(bytes.NewReader(stream(cp, 1, 1, end))), bytes.NewReader(basis[:1500]), 2000, 1024, 976)
	if !errors.Is(err, ErrBasis) || errors.Is(err, ErrFormat) || errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("basis shorter than announced: %v, want ErrBasis", err)
	}
}

func TestApplyRefusesBadGeometry(t *testing.T) {
	for _, g := range []struct {
		size  int64
		block int
	}{{1000, 0}, {1000, protocol.MinDeltaBlock - 1}, {1000, protocol.MaxDeltaBlock + 1}, {-1, 1024},
		{int64(protocol.MaxDeltaBlocks)*1024 + 1, 1024}} {
		_, err := Apply(io.Discard, bufio.NewReader(bytes.NewReader(stream(end))), bytes.NewReader(nil), g.size, g.block, 0)
		if !errors.Is(err, ErrFormat) {
			t.Errorf("size %d block %d: %v, want ErrFormat", g.size, g.block, err)
		}
	}
}

// TestDecoderDrain: a refused stream is read to its END, DATA skipped,
// and no further.
func TestDecoderDrain(t *testing.T) {
	in := cat(stream(data, 5, []byte("hello"), cp, 0, 1, data, 1, []byte("!"), end), []byte("after"))
	r := bufio.NewReader(bytes.NewReader(in))
	if err := NewDecoder(r, 1).Drain(); err != nil {
		t.Fatal(err)
	}
	if rest, _ := io.ReadAll(r); string(rest) != "after" {
		t.Fatalf("left %q", rest)
	}
	r = bufio.NewReader(bytes.NewReader(stream(data, 5, []byte("hel"))))
	if err := NewDecoder(r, 1).Drain(); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("drain of a cut stream: %v", err)
	}
}

// TestDecoderReadsData: DATA bytes come through Read, partly or wholly.
func TestDecoderReadsData(t *testing.T) {
	r := bufio.NewReader(bytes.NewReader(stream(data, 5, []byte("hello"), data, 3, []byte("abc"), end)))
	dec := NewDecoder(r, 0)
	in, err := dec.Next()
	if err != nil || in.Op != protocol.DeltaData || in.Len != 5 {
		t.Fatalf("%+v %v", in, err)
	}
	p := make([]byte, 2)
	if _, err := io.ReadFull(dec, p); err != nil || string(p) != "he" {
		t.Fatalf("read %q %v", p, err)
	}
	in, err = dec.Next() // skips "llo"
	if err != nil || in.Len != 3 {
		t.Fatalf("%+v %v", in, err)
	}
	all, err := io.ReadAll(dec)
	if err != nil || string(all) != "abc" {
		t.Fatalf("read %q %v", all, err)
	}
	if in, err := dec.Next(); err != nil || in.Op != protocol.DeltaEnd {
		t.Fatalf("%+v %v", in, err)
	}
}
