package server

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

type countingWriter struct {
	bytes.Buffer
	writes int
	fail   error
}

func (c *countingWriter) Write(p []byte) (int, error) {
	if c.fail != nil {
		return 0, c.fail
	}
	c.writes++
	return c.Buffer.Write(p)
}

// Small writes wait for a flush and go out together, in order; a reader
// of the connection flushes first; big writes pass through; a write
// failure sticks.
func TestConnWriterGathersWrites(t *testing.T) {
	dst := &countingWriter{}
	w := &connWriter{dst: dst, timeout: func() time.Duration { return time.Second }, setDL: func(time.Time) error { return nil }}
	var want bytes.Buffer
	for i := range 100 {
		s := strings.Repeat(string(rune('a'+i%26)), i)
		w.Write([]byte(s))
		want.WriteString(s)
	}
	b, err := w.ReadIn(strings.NewReader("from a file"), 11)
	if err != nil || string(b) != "from a file" {
		t.Fatalf("ReadIn: %q, %v", b, err)
	}
	want.WriteString("from a file")
	if dst.writes != 0 {
		t.Fatalf("%d writes before any flush", dst.writes)
	}
	r := flushingReader{strings.NewReader("x"), w}
	r.Read(make([]byte, 1))
	if dst.writes != 1 || !bytes.Equal(dst.Bytes(), want.Bytes()) || w.bp != nil {
		t.Fatalf("after a read: %d writes, %d bytes, buffer held %v", dst.writes, dst.Len(), w.bp != nil)
	}
	big := bytes.Repeat([]byte{1}, outBufSize)
	w.Write([]byte("head"))
	w.Write(big)
	if dst.writes != 3 || dst.Len() != want.Len()+4+outBufSize {
		t.Fatalf("a big write: %d writes, %d bytes", dst.writes, dst.Len())
	}
	dst.fail = errors.New("reset")
	w.Write([]byte("lost"))
	if err := w.Flush(); err == nil {
		t.Fatal("a failed flush reported nothing")
	}
	if _, err := w.Write([]byte("more")); err == nil {
		t.Fatal("a write after a failure succeeded")
	}
}
