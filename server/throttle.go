package server

import (
	"sync"
	"time"
)

// throttle slows down and then bans password guessing. It counts failed
// logins per remote address and per user name within a window:
//
//   - every failure past the third waits before it is answered, twice as
//     long each time (from FirstDelay, up to 5 s): per address and per user,
//     so guessing one user's password from many addresses slows down too;
//   - an address with MaxFailures failures (for any users) is banned for
//     the ban time: its logins are refused without checking the password.
//
// A user is never banned, only slowed: an attacker elsewhere cannot lock
// the real user out, and a success from an address clears that address's
// and that user's counts.
type throttle struct {
	MaxFailures int           // failures from one address before a ban
	Ban         time.Duration // how long a ban lasts, and the window failures are counted in
	FirstDelay  time.Duration // the wait after the first failure past the free ones; it doubles

	mu    sync.Mutex
	addrs map[string]*failures
	users map[string]*failures
}

type failures struct {
	n     int
	last  time.Time
	until time.Time // banned until (addresses only)
}

const (
	freeFailures = 3
	maxDelay     = 5 * time.Second
)

func newThrottle(maxFailures int, ban, firstDelay time.Duration) *throttle {
	return &throttle{MaxFailures: maxFailures, Ban: ban, FirstDelay: firstDelay, addrs: map[string]*failures{}, users: map[string]*failures{}}
}

// banned reports whether addr is banned now, and until when.
func (t *throttle) banned(addr string, now time.Time) (time.Time, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.addrs[addr]
	if f == nil || !now.Before(f.until) {
		return time.Time{}, false
	}
	return f.until, true
}

// fail records a failed login and returns how long to wait before
// answering it, and whether the address is now banned.
func (t *throttle) fail(addr, user string, now time.Time) (time.Duration, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	a := t.count(t.addrs, addr, now)
	u := t.count(t.users, user, now)
	if a.n >= t.MaxFailures {
		a.until = now.Add(t.Ban)
	}
	return t.delayFor(max(a.n, u.n)), now.Before(a.until)
}

// succeed clears the counts of the address and the user.
func (t *throttle) succeed(addr, user string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.addrs, addr)
	delete(t.users, user)
}

// count adds a failure to m[key], starting afresh when the last one is
// older than the window, and drops stale entries now and then so that
// the maps stay small under a spray of addresses or names.
func (t *throttle) count(m map[string]*failures, key string, now time.Time) *failures {
	f := m[key]
	if f == nil || now.Sub(f.last) > t.Ban && !now.Before(f.until) {
		if len(m) > 10_000 {
			for k, g := range m {
				if now.Sub(g.last) > t.Ban && !now.Before(g.until) {
					delete(m, k)
				}
			}
		}
		f = &failures{}
		m[key] = f
	}
	f.n++
	f.last = now
	return f
}

// delayFor is the wait before answering the n-th failure in a row.
func (t *throttle) delayFor(n int) time.Duration {
	if n <= freeFailures {
		return 0
	}
	d := t.FirstDelay << min(n-freeFailures-1, 10)
	return min(d, maxDelay)
}
