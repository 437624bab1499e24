package client

import (
	"context"
	"sync"
	"time"
)

// limiter caps a byte rate (--limit-rate). Callers move at most chunk()
// bytes, then call wait, which sleeps until the bytes moved so far are
// due at the rate. After a pause longer than a second it starts afresh,
// so an idle moment never banks credit for a long burst. A nil *limiter
// does not limit.
type limiter struct {
	rate int64 // bytes per second

	mu    sync.Mutex
	start time.Time
	n     int64 // bytes accounted since start
}

// newLimiter returns a limiter for rate bytes per second, or nil (no cap)
// for a rate of zero or less.
func newLimiter(rate int64) *limiter {
	if rate <= 0 {
		return nil
	}
	return &limiter{rate: rate}
}

// chunk is how many bytes to move between waits: a tenth of a second's
// worth, at least 1 KiB and at most the copy buffer.
func (l *limiter) chunk() int {
	if l == nil {
		return bufSize
	}
	return int(min(max(l.rate/10, 1<<10), bufSize))
}

// readCap is chunk for a copy that picks its own chunk size when there
// is no limit (xfer.Options.Chunk): 0 then.
func (l *limiter) readCap() int {
	if l == nil {
		return 0
	}
	return l.chunk()
}

// wait accounts n bytes just moved and sleeps as long as the rate asks,
// or until ctx is done.
func (l *limiter) wait(ctx context.Context, n int) error {
	if l == nil || n <= 0 {
		return nil
	}
	l.mu.Lock()
	now := time.Now()
	if l.start.IsZero() || now.Sub(l.due()) > time.Second {
		l.start, l.n = now, 0
	}
	l.n += int64(n)
	d := time.Until(l.due())
	l.mu.Unlock()
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// due is when the bytes accounted so far may all have been moved.
func (l *limiter) due() time.Time {
	return l.start.Add(time.Duration(float64(l.n) / float64(l.rate) * float64(time.Second)))
}
