package logbuf

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// countingBuffer counts the writes it takes.
type countingBuffer struct {
	mu     sync.Mutex
	b      bytes.Buffer
	writes int
}

func (c *countingBuffer) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writes++
	return c.b.Write(p)
}

func (c *countingBuffer) snapshot() (string, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.b.String(), c.writes
}

// TestABurstGoesOutInOneWriteSoon: 500 lines written together reach the
// file in a few writes, every line whole and in order, within a few Delays.
func TestABurstGoesOutInOneWriteSoon(t *testing.T) {
	var dst countingBuffer
	w := New(&dst)
	var want strings.Builder
	for i := range 500 {
		line := fmt.Sprintf("line %d\n", i)
		want.WriteString(line)
		if _, err := w.Write([]byte(line)); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, writes := dst.snapshot()
		if got == want.String() {
			if writes > 3 {
				t.Errorf("500 lines in %d writes", writes)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 5 s the file holds %d bytes of %d", len(got), want.Len())
		}
		time.Sleep(time.Millisecond)
	}
}

// TestFlushWritesAtOnce: Flush empties what is held.
func TestFlushWritesAtOnce(t *testing.T) {
	var dst countingBuffer
	w := New(&dst)
	w.Write([]byte("last words\n"))
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if got, _ := dst.snapshot(); got != "last words\n" {
		t.Fatalf("after Flush: %q", got)
	}
}
