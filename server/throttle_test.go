package server

import (
	"testing"
	"time"
)

func TestThrottleDelaysThenBansAddress(t *testing.T) {
	th := newThrottle(5, time.Minute, 100*time.Millisecond)
	now := time.Unix(1_000_000, 0)
	var delays []time.Duration
	for i := range 5 {
		d, banned := th.fail("10.0.0.1", "alice", now)
		delays = append(delays, d)
		if banned != (i == 4) {
			t.Fatalf("failure %d: banned %v", i+1, banned)
		}
	}
	want := []time.Duration{0, 0, 0, 100 * time.Millisecond, 200 * time.Millisecond}
	for i := range want {
		if delays[i] != want[i] {
			t.Fatalf("delays %v, want %v", delays, want)
		}
	}
	if _, banned := th.banned("10.0.0.1", now.Add(59*time.Second)); !banned {
		t.Fatal("not banned within the ban time")
	}
	if _, banned := th.banned("10.0.0.1", now.Add(61*time.Second)); banned {
		t.Fatal("still banned after the ban time")
	}
	// The real user, from elsewhere, is slowed (the user's count) but
	// never banned, and a success clears the counts.
	if _, banned := th.banned("10.0.0.2", now); banned {
		t.Fatal("another address is banned")
	}
	if d, banned := th.fail("10.0.0.2", "alice", now); banned || d == 0 {
		t.Fatalf("alice from another address after 5 failures: delay %v banned %v", d, banned)
	}
	th.succeed("10.0.0.2", "alice")
	if d, _ := th.fail("10.0.0.2", "alice", now); d != 0 {
		t.Fatalf("delay after a success: %v", d)
	}
}

func TestThrottleDelayCapped(t *testing.T) {
	th := newThrottle(1000, time.Hour, time.Second)
	now := time.Unix(1_000_000, 0)
	var d time.Duration
	for range 50 {
		d, _ = th.fail("10.0.0.1", "u", now)
	}
	if d != maxDelay {
		t.Fatalf("delay after 50 failures: %v, want %v", d, maxDelay)
	}
}
