package s3home

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"ftpx/home"

	"github.com/minio/minio-go/v7"
)

// A tree's quota account is its usage object, PartialDir/usage.json:
// the bytes the tree holds (files and the parts of suspended uploads)
// and each server's lease, the bytes promised to that server's uploads in
// flight. It changes only by conditional writes (If-Match its ETag, read
// again and retried on 412), so servers never lose each other's changes,
// and every change that adds bytes checks that used plus every lease stays
// within the limit. A server takes a lease larger than one upload needs
// and hands it out locally, so that a batch of small files costs one
// write to reserve and one to commit; it renews its lease while it lives
// and gives back what it no longer needs. The lease of a server that
// died lapses after leaseTTL and is dropped by the next writer.

const (
	usageName  = "usage.json"
	leaseTTL   = 30 * time.Second
	renewEvery = 10 * time.Second
	// leaseLinger is how long an unused lease is kept for the next
	// upload before it is given back.
	leaseLinger = 2 * time.Second
	// leaseChunk bounds what a lease takes beyond the upload that asked:
	// enough for a window of small files.
	leaseChunk = 64 << 20
	// updateTries bounds the retries of a contended update.
	updateTries = 50
)

type usageDoc struct {
	Used   int64                `json:"used"`
	Leases map[string]leaseInfo `json:"leases,omitempty"`
}

type leaseInfo struct {
	Bytes   int64     `json:"bytes"`
	Expires time.Time `json:"expires"`
}

func (d usageDoc) clone() usageDoc {
	c := usageDoc{Used: d.Used, Leases: make(map[string]leaseInfo, len(d.Leases))}
	for k, v := range d.Leases {
		c.Leases[k] = v
	}
	return c
}

// others returns the bytes of the live leases of other servers than me.
func (d usageDoc) others(me string, now time.Time) int64 {
	var n int64
	for id, l := range d.Leases {
		if id != me && l.Expires.After(now) {
			n += l.Bytes
		}
	}
	return n
}

// ledger is a home.Ledger on a tree's usage object.
type ledger struct {
	t   *FS
	key string
	me  string

	mu       sync.Mutex
	limit    int64
	lease    int64 // what the usage object grants this server
	reserved int64 // what this server's uploads hold of it
	renewed  time.Time
	idle     time.Time // since when nothing is reserved
	doc      usageDoc  // the usage object as last read or written
	etag     string    // its ETag; "" to read it again
	stop     chan struct{}
	done     chan struct{}
}

var _ home.Ledger = (*ledger)(nil)

// Ledger returns the tree's quota account with the limit, creating its
// usage object from the tree's content on first use.
func (t *FS) Ledger(limit int64) (home.Ledger, error) {
	l := &ledger{t: t, key: t.partials() + usageName, me: t.c.id, limit: limit,
		stop: make(chan struct{}), done: make(chan struct{})}
	l.mu.Lock()
	err := l.load()
	l.mu.Unlock()
	if err != nil {
		return nil, err
	}
	go l.keep()
	return l, nil
}

// load reads the usage object, making it when it does not exist.
func (l *ledger) load() error {
	b, etag, err := l.t.getSmall(l.key)
	if notFound(err) {
		used, uerr := l.t.Usage()
		if uerr != nil {
			return uerr
		}
		d := usageDoc{Used: used}
		var opts minio.PutObjectOptions
		opts.SetMatchETagExcept("*")
		etag, err = l.put(d, opts)
		if err == nil {
			l.doc, l.etag = d, etag
			return nil
		}
		if !errors.Is(kindOf(err), home.ErrChanged) {
			return opErr("quota", "/", err)
		}
		b, etag, err = l.t.getSmall(l.key) // made by another server meanwhile
	}
	if err != nil {
		return opErr("quota", "/", err)
	}
	var d usageDoc
	if err := json.Unmarshal(b, &d); err != nil {
		return fmt.Errorf("quota /: unreadable usage object: %w", home.ErrUnavailable)
	}
	l.doc, l.etag = d, etag
	return nil
}

func (l *ledger) put(d usageDoc, opts minio.PutObjectOptions) (string, error) {
	b, err := json.Marshal(d)
	if err != nil {
		return "", err
	}
	return l.t.putSmall(l.key, b, opts)
}

// update applies change to the usage object with this server's lease set
// to lease (0 drops it), as one conditional write, reading the object
// again and retrying while another server writes it. A refusal (ErrQuota)
// made on an object that may be stale is tried again on a fresh one.
func (l *ledger) update(lease int64, change func(d *usageDoc, now time.Time) error) error {
	fresh := false
	for try := 0; try < updateTries; try++ {
		if l.etag == "" {
			if err := l.load(); err != nil {
				return err
			}
			fresh = true
		}
		now := time.Now()
		d := l.doc.clone()
		for id, li := range d.Leases {
			if id != l.me && !li.Expires.After(now) {
				delete(d.Leases, id) // its server died: its promises lapse
			}
		}
		delete(d.Leases, l.me)
		if lease > 0 {
			d.Leases[l.me] = leaseInfo{Bytes: lease, Expires: now.Add(leaseTTL)}
		}
		if err := change(&d, now); err != nil {
			if !fresh && errors.Is(err, home.ErrQuota) {
				l.etag = ""
				continue
			}
			return err
		}
		var opts minio.PutObjectOptions
		opts.SetMatchETag(l.etag)
		etag, err := l.put(d, opts)
		switch {
		case err == nil:
			l.doc, l.etag, l.lease, l.renewed = d, etag, lease, now
			return nil
		case errors.Is(kindOf(err), home.ErrChanged):
			l.etag = ""
			time.Sleep(time.Duration(rand.Int64N(int64(5*time.Millisecond) << min(try, 6))))
		default:
			return opErr("quota", "/", err)
		}
	}
	return fmt.Errorf("quota /: usage object too busy: %w", home.ErrUnavailable)
}

// fits checks that used plus every live lease stays within the limit.
func (l *ledger) fits(d *usageDoc, now time.Time) error {
	if l.limit < 0 {
		return nil
	}
	total := d.Used + d.others(l.me, now) + d.Leases[l.me].Bytes
	if total > l.limit {
		return fmt.Errorf("%d bytes with %d used of %d: %w", total-d.Used, d.Used, l.limit, home.ErrQuota)
	}
	return nil
}

func (l *ledger) Reserve(n int64) error {
	if n < 0 {
		return fmt.Errorf("reserve %d bytes: %w", n, home.ErrSize)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.limit < 0 || l.reserved+n <= l.lease {
		l.reserved += n
		return nil
	}
	err := l.update(0, func(d *usageDoc, now time.Time) error {
		free := l.limit - d.Used - d.others(l.me, now)
		if l.reserved+n > free {
			return fmt.Errorf("%d bytes with %d used and %d reserved of %d: %w", n, d.Used, d.others(l.me, now)+l.reserved, l.limit, home.ErrQuota)
		}
		grant := l.reserved + n + min(leaseChunk, (free-l.reserved-n)/4)
		d.Leases[l.me] = leaseInfo{Bytes: grant, Expires: now.Add(leaseTTL)}
		return nil
	})
	if err != nil {
		return err
	}
	l.lease = l.doc.Leases[l.me].Bytes
	l.reserved += n
	return nil
}

func (l *ledger) Release(n int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reserved = max(l.reserved-n, 0)
	if l.reserved == 0 {
		l.idle = time.Now()
	}
}

func (l *ledger) Commit(reserved, delta int64) error {
	return l.commit(reserved, delta, false)
}

func (l *ledger) CommitChecked(reserved, delta int64) error {
	return l.commit(reserved, delta, true)
}

// commit turns reserved bytes into delta bytes used: the lease shrinks by
// what was reserved (grows, for a negative reserved: an undo) in the same
// write that changes used. With nothing used changed, the lease stays as
// it is, for the next upload.
func (l *ledger) commit(reserved, delta int64, checked bool) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if delta == 0 && l.reserved-reserved <= l.lease {
		l.release(reserved)
		return nil
	}
	lease := max(l.lease-reserved, 0)
	if l.limit < 0 {
		lease = 0
	}
	err := l.update(lease, func(d *usageDoc, now time.Time) error {
		d.Used = max(d.Used+delta, 0)
		if checked && delta > 0 {
			return l.fits(d, now)
		}
		return nil
	})
	if err != nil {
		return err
	}
	l.release(reserved)
	return nil
}

// release takes reserved bytes off this server's uploads (a negative n
// puts them back).
func (l *ledger) release(n int64) {
	l.reserved = max(l.reserved-n, 0)
	if l.reserved == 0 {
		l.idle = time.Now()
	}
}

func (l *ledger) SetLimit(limit int64) {
	l.mu.Lock()
	l.limit = limit
	l.mu.Unlock()
}

// Snapshot reads the usage object again (other servers change it): the
// quota action and a refusal's message show it.
func (l *ledger) Snapshot() (used, reserved, limit int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.load() // on failure, the last one seen
	return l.doc.Used, l.doc.others(l.me, time.Now()) + l.reserved, l.limit
}

// keep renews the lease while this server has uploads in flight, and
// gives it back once it has been unused for leaseLinger.
func (l *ledger) keep() {
	defer close(l.done)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
		l.mu.Lock()
		switch {
		case l.lease == 0:
		case l.reserved == 0 && time.Since(l.idle) >= leaseLinger:
			l.update(0, func(*usageDoc, time.Time) error { return nil }) // a failure lets it lapse
		case time.Since(l.renewed) >= renewEvery:
			l.update(l.lease, func(*usageDoc, time.Time) error { return nil })
		}
		l.mu.Unlock()
	}
}

// Close stops the renewals and gives back the lease.
func (l *ledger) Close() error {
	close(l.stop)
	<-l.done
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lease > 0 {
		return l.update(0, func(*usageDoc, time.Time) error { return nil })
	}
	return nil
}
