package server

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// rateConn is a session's connection, which can be slowed down to a
// user's upload rate (what it reads) and download rate (what it writes)
// once they have logged in. Without limits it adds nothing: ReadFrom hands
// a file to the TCP connection's own (sendfile).
type rateConn struct {
	net.Conn
	up, down atomic.Pointer[bucket] // nil: no limit
}

// setRates limits reads to up and writes to down bytes per second (0 for
// no limit).
func (c *rateConn) setRates(up, down int64) {
	c.up.Store(newBucket(up))
	c.down.Store(newBucket(down))
}

func (c *rateConn) Read(p []byte) (int, error) {
	b := c.up.Load()
	if b == nil {
		return c.Conn.Read(p)
	}
	n, err := c.Conn.Read(p[:min(len(p), b.piece())])
	b.pay(n)
	return n, err
}

func (c *rateConn) Write(p []byte) (int, error) {
	b := c.down.Load()
	if b == nil {
		return c.Conn.Write(p)
	}
	var done int
	for done < len(p) {
		n, err := c.Conn.Write(p[done:min(len(p), done+b.piece())])
		done += n
		b.pay(n)
		if err != nil {
			return done, err
		}
	}
	return done, nil
}

// ReadFrom lets io.Copy from a file use sendfile when no limit is set.
func (c *rateConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok && c.down.Load() == nil {
		return rf.ReadFrom(r)
	}
	return io.Copy(writerOnly{c}, r)
}

// writerOnly hides ReadFrom, so that io.Copy does not come back to it.
type writerOnly struct{ io.Writer }

// bucket paces bytes to a rate: each payment moves the time the bytes so
// far are due; a payment ahead of it sleeps until then. A short burst is
// allowed after an idle spell, no more.
type bucket struct {
	rate int64 // bytes per second

	mu  sync.Mutex
	due time.Time
}

// burst is how far behind the schedule an idle connection may fall, and
// so how much it may then send at once: a tenth of a second's worth.
const burst = 100 * time.Millisecond

func newBucket(rate int64) *bucket {
	if rate <= 0 {
		return nil
	}
	return &bucket{rate: rate}
}

// piece is the most one read or write moves before it pays: an eighth of
// a second's worth, at least 1 KiB, so pauses stay short and even.
func (b *bucket) piece() int {
	return int(max(b.rate/8, 1<<10))
}

func (b *bucket) pay(n int) {
	if n <= 0 {
		return
	}
	b.mu.Lock()
	now := time.Now()
	if b.due.Before(now.Add(-burst)) {
		b.due = now.Add(-burst)
	}
	b.due = b.due.Add(time.Duration(int64(n) * int64(time.Second) / b.rate))
	wait := b.due.Sub(now)
	b.mu.Unlock()
	if wait > 0 {
		time.Sleep(wait)
	}
}

// RateReader returns r slowed to rate bytes per second (0: r itself), as
// a native session's reads are once its user has logged in: for a front
// end that limits a body rather than a connection (the HTTP API).
func RateReader(r io.Reader, rate int64) io.Reader {
	b := newBucket(rate)
	if b == nil {
		return r
	}
	return &rateReader{r: r, b: b}
}

type rateReader struct {
	r io.Reader
	b *bucket
}

func (rr *rateReader) Read(p []byte) (int, error) {
	n, err := rr.r.Read(p[:min(len(p), rr.b.piece())])
	rr.b.pay(n)
	return n, err
}
