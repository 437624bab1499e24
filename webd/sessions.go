package webd

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"sync"
	"time"
)

// cookieName is the web session's cookie.
const cookieName = "ftpx_session"

// session is a logged-in browser: a row of the table, nothing more (no
// goroutine, no open home) until its next request.
type session struct {
	user  string
	csrf  string // sent by the page with every state-changing request
	stamp uint64 // of the user's password at the login (accounts.Store.PasswordStamp)
	last  int64  // Unix nanoseconds of the last request; under sessions.mu
}

// sessions is the table of web sessions, keyed by the cookie's token. A
// session ends on logout or once idle for longer than idle; the ended
// ones are swept out as new sessions begin, so nothing runs in between.
type sessions struct {
	mu    sync.Mutex
	m     map[string]*session
	idle  time.Duration
	swept time.Time
}

// newToken returns 32 random bytes, base64url: a cookie's token or a
// CSRF token.
func newToken() string {
	var b [32]byte
	rand.Read(b[:]) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// begin starts a session for user and returns its token and the session.
func (t *sessions) begin(user string, stamp uint64, now time.Time) (string, *session) {
	token := newToken()
	s := &session{user: user, csrf: newToken(), stamp: stamp, last: now.UnixNano()}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil {
		t.m = make(map[string]*session)
	}
	if now.Sub(t.swept) > t.idle {
		t.sweepLocked(now)
	}
	t.m[token] = s
	return token, s
}

// sweepLocked drops the sessions idle for longer than t.idle.
func (t *sessions) sweepLocked(now time.Time) {
	for k, s := range t.m {
		if now.UnixNano()-s.last > int64(t.idle) {
			delete(t.m, k)
		}
	}
	t.swept = now
}

// find returns the live session of token and marks it used now; an idle
// one has ended and is dropped.
func (t *sessions) find(token string, now time.Time) (*session, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s, ok := t.m[token]
	if !ok {
		return nil, false
	}
	if now.UnixNano()-s.last > int64(t.idle) {
		delete(t.m, token)
		return nil, false
	}
	s.last = now.UnixNano()
	return s, true
}

// touch marks the session of token used now, if it has not ended: a
// request that ran longer than the idle timeout (an upload) leaves its
// session alive.
func (t *sessions) touch(token string, now time.Time) {
	t.mu.Lock()
	if s, ok := t.m[token]; ok {
		s.last = now.UnixNano()
	}
	t.mu.Unlock()
}

// end ends the session of token, if any.
func (t *sessions) end(token string) {
	t.mu.Lock()
	delete(t.m, token)
	t.mu.Unlock()
}

// endUser ends every session of user (the account is gone).
func (t *sessions) endUser(user string) {
	t.mu.Lock()
	for k, s := range t.m {
		if s.user == user {
			delete(t.m, k)
		}
	}
	t.mu.Unlock()
}

// len returns the number of sessions in the table.
func (t *sessions) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.m)
}

// csrfOK tells whether a request carries the session's CSRF token.
func (s *session) csrfOK(r *http.Request) bool {
	got := r.Header.Get("X-CSRF-Token")
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(s.csrf)) == 1
}

// sessionCookie is the cookie carrying token; an empty token and maxAge
// -1 clear it.
func sessionCookie(token string, secure bool, maxAge int) *http.Cookie {
	return &http.Cookie{Name: cookieName, Value: token, Path: "/", HttpOnly: true, Secure: secure,
		SameSite: http.SameSiteStrictMode, MaxAge: maxAge}
}
