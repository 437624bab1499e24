package home

import (
	"fmt"
	"sync"
	"time"
)

// Unlimited as a quota limit means no limit (so does any negative limit).
const Unlimited int64 = -1

// account is one user's quota: the bytes in the tree (used), the bytes
// promised to uploads in progress (reserved) and the limit. All of one
// user's sessions share it, so together they can never pass the limit.
type account struct {
	mu       sync.Mutex
	used     int64
	reserved int64
	limit    int64

	// tree serialises changes that must read the tree and update used
	// together (a commit learns the size of the file it replaces), so two
	// of them never count the same file.
	tree sync.Mutex

	// ledger, when set, keeps the account instead of the fields above: a
	// quota shared by every server on an object store (ledger.go).
	ledger Ledger
}

func newAccount(used, limit int64) *account {
	return &account{used: used, limit: limit}
}

// reserve promises n bytes to an upload, or fails with ErrQuota when
// used+reserved+n would pass the limit.
func (a *account) reserve(n int64) error {
	if n < 0 {
		return fmt.Errorf("reserve %d bytes: %w", n, ErrSize)
	}
	if a.ledger != nil {
		return a.ledger.Reserve(n)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	// Written as a subtraction so that a huge n cannot overflow.
	if a.limit >= 0 && n > a.limit-a.used-a.reserved {
		return fmt.Errorf("%d bytes with %d used of %d: %w", n, a.used+a.reserved, a.limit, ErrQuota)
	}
	a.reserved += n
	return nil
}

// fits reports whether n bytes could be reserved now.
func (a *account) fits(n int64) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.limit < 0 || n <= a.limit-a.used-a.reserved
}

// release gives back n reserved bytes that will not be used.
func (a *account) release(n int64) {
	if a.ledger != nil {
		a.ledger.Release(n)
		return
	}
	a.mu.Lock()
	a.reserved -= n
	a.mu.Unlock()
}

// commit turns a reservation into usage: it releases reserved bytes and
// adds delta (the new file's size minus that of the file it replaced) to
// used.
func (a *account) commit(reserved, delta int64) {
	if a.ledger != nil {
		a.ledger.Commit(reserved, delta) // a failure leaves more counted than stored: never over the limit
		return
	}
	a.mu.Lock()
	a.reserved -= reserved
	a.used += delta
	if a.used < 0 {
		a.used = 0
	}
	a.mu.Unlock()
}

// commitChecked is commit, refused with ErrQuota (changing nothing) when
// used would then pass the limit together with the other reservations.
func (a *account) commitChecked(reserved, delta int64) error {
	if a.ledger != nil {
		return a.ledger.CommitChecked(reserved, delta)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.limit >= 0 && delta > 0 && a.used+delta > a.limit-(a.reserved-reserved) {
		return fmt.Errorf("%d more bytes with %d used of %d: %w", delta, a.used, a.limit, ErrQuota)
	}
	a.reserved -= reserved
	a.used += delta
	if a.used < 0 {
		a.used = 0
	}
	return nil
}

// commitWhenBack is commit for a ledger that could not be reached: it is
// tried again, further and further apart, until the store answers (for at
// most commitRetryFor), so that bytes kept across an outage are counted
// before the upload they belong to resumes and assumes they are.
func (a *account) commitWhenBack(reserved, delta int64) {
	if a.ledger == nil {
		a.commit(reserved, delta)
		return
	}
	go func() {
		wait := 100 * time.Millisecond
		for end := time.Now().Add(commitRetryFor); time.Now().Before(end); wait = min(2*wait, 10*time.Second) {
			time.Sleep(wait)
			if a.ledger.Commit(reserved, delta) == nil {
				return
			}
		}
	}()
}

// commitRetryFor bounds how long commitWhenBack tries.
const commitRetryFor = time.Hour

func (a *account) setLimit(limit int64) {
	if a.ledger != nil {
		a.ledger.SetLimit(limit)
		return
	}
	a.mu.Lock()
	a.limit = limit
	a.mu.Unlock()
}

func (a *account) snapshot() (used, reserved, limit int64) {
	if a.ledger != nil {
		return a.ledger.Snapshot()
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.used, a.reserved, a.limit
}
