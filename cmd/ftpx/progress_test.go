package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// testClock is a clock a test moves by hand.
type testClock struct{ t time.Time }

func (c *testClock) now() time.Time { return c.t }

// lastFrame is the bar as last drawn: what follows the last carriage
// return.
func lastFrame(out string) string {
	out = strings.TrimRight(out, "\n")
	return out[strings.LastIndex(out, "\r")+1:]
}

func TestBarSaysResumedAtAndCountsOnlyThisRun(t *testing.T) {
	var out bytes.Buffer
	clock := &testClock{t: time.Unix(1_000_000, 0)}
	b := &bar{w: &out, name: "big.iso", now: clock.now}
	b.Start(3<<20, 1<<20)
	if first := lastFrame(out.String()); !strings.Contains(first, "big.iso 1.0MB/3.0MB, resumed at 1.0MB") || !strings.Contains(first, "33%") {
		t.Errorf("first frame %q", first)
	}
	clock.t = clock.t.Add(time.Second)
	b.Add(1 << 20)
	// 1 MiB moved in 1 s, 1 MiB left: the bytes held before do not count.
	if got := b.status(clock.t, false); got != "big.iso 2.0MB/3.0MB 1.0MB/s ETA 1s, resumed at 1.0MB" {
		t.Errorf("status after 1 s: %q", got)
	}
	clock.t = clock.t.Add(time.Second)
	b.Add(1 << 20)
	b.Finish(nil)
	last := lastFrame(out.String())
	if !strings.Contains(last, "100%") || !strings.HasSuffix(strings.TrimSpace(last), "big.iso 3.0MB/3.0MB 1.0MB/s, resumed at 1.0MB") {
		t.Errorf("last frame %q", last)
	}
	if !strings.HasSuffix(out.String(), "\n") {
		t.Errorf("the finished bar does not end its line: %q", out.String())
	}
}

func TestBarUnitsArePowersOf1024(t *testing.T) {
	var out bytes.Buffer
	clock := &testClock{t: time.Unix(1_000_000, 0)}
	b := &bar{w: &out, name: "f", now: clock.now}
	b.Start(1_572_864, 0)
	clock.t = clock.t.Add(2 * time.Second)
	b.Add(1_048_576)
	if got := b.status(clock.t, false); got != "f 1.0MB/1.5MB 512.0KB/s ETA 1s" {
		t.Errorf("status %q", got)
	}
	if strings.Contains(out.String(), "resumed") || strings.Contains(out.String(), "kB") || strings.Contains(out.String(), "MiB") {
		t.Errorf("bar %q", out.String())
	}
}

// A stream (put -) has no total: the bar shows the bytes and the rate,
// never "unlimited" or an ETA.
func TestBarOfAStreamHasNoTotal(t *testing.T) {
	var out bytes.Buffer
	clock := &testClock{t: time.Unix(1_000_000, 0)}
	b := &bar{w: &out, name: "dir.tar", now: clock.now}
	b.Start(-1, 0)
	clock.t = clock.t.Add(2 * time.Second)
	b.Add(4 << 20)
	if got := b.status(clock.t, false); got != "dir.tar 4.0MB 2.0MB/s" {
		t.Errorf("status %q", got)
	}
	b.Finish(nil)
	if strings.Contains(out.String(), "unlimited") || strings.Contains(out.String(), "ETA") {
		t.Errorf("bar %q", out.String())
	}
}
