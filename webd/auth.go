package webd

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"time"

	"ftpx/home"
	"ftpx/protocol"
	"ftpx/server"
)

// call is one authenticated API request: its user's login (home open for
// the request's length) and its log.
type call struct {
	srv   *Server
	w     http.ResponseWriter
	r     *http.Request
	login *server.Login
	home  *home.Home
	log   *slog.Logger
}

// credentials is the body of a login.
type credentials struct {
	User     string `json:"user"`
	Password string `json:"password"`
}

// sessionInfo answers a login and GET /api/v1/session.
type sessionInfo struct {
	User string `json:"user"`
	CSRF string `json:"csrf"`
}

// maxLoginBody bounds a login request's body.
const maxLoginBody = 4 << 10

// clientIP is the address a request came from, for throttling and logs.
func clientIP(r *http.Request) string {
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}

// handleLogin checks a password as every front end does (Core's Login:
// throttling and bans shared with them) and starts a web session.
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	cr, ok := readCredentials(r)
	if !ok {
		writeStatus(w, protocol.StatusBadAuthData, "login: a JSON body {\"user\":...,\"password\":...} is required")
		return
	}
	log := s.requestLog(r)
	l, err := s.Core.Login(r.Context(), log, server.ProtocolHTTP, clientIP(r), cr.User, cr.Password)
	if err != nil {
		st, msg := server.LoginStatus(err)
		writeStatus(w, st, msg)
		return
	}
	user := l.User
	l.Close() // each request opens the home again
	token, sess := s.sessions.begin(user, s.passwordStamp(user), time.Now())
	http.SetCookie(w, sessionCookie(token, r.TLS != nil, 0))
	log.Info("web session begun", "user", user)
	writeJSON(w, http.StatusOK, sessionInfo{User: user, CSRF: sess.csrf})
}

// readCredentials reads a login's body once: JSON, or a form's fields
// (user, password) when it is sent as a form.
func readCredentials(r *http.Request) (credentials, bool) {
	var cr credentials
	b, err := io.ReadAll(io.LimitReader(r.Body, maxLoginBody))
	if err != nil {
		return cr, false
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "application/x-www-form-urlencoded" {
		q, err := url.ParseQuery(string(b))
		if err != nil || q.Get("user") == "" {
			return cr, false
		}
		return credentials{User: q.Get("user"), Password: q.Get("password")}, true
	}
	return cr, json.Unmarshal(b, &cr) == nil
}

// handleSession tells the page who is logged in, and the CSRF token its
// requests carry.
func (s *Server) handleSession(w http.ResponseWriter, r *http.Request) {
	sess, _, ok := s.cookieSession(r)
	if !ok {
		writeStatus(w, protocol.StatusNotLoggedIn, "not logged in")
		return
	}
	writeJSON(w, http.StatusOK, sessionInfo{User: sess.user, CSRF: sess.csrf})
}

// passwordStamp is what a session keeps of its user's password, to end
// when it changes (0 for the anonymous user).
func (s *Server) passwordStamp(user string) uint64 {
	stamp, _ := s.Core.Accounts.PasswordStamp(user)
	return stamp
}

// stillValid tells whether a session's user may still log in as they
// did: an account of the accounts with the same password (or the
// anonymous user while anonymous access is on).
func (s *Server) stillValid(sess *session) bool {
	if sess.user == server.AnonymousUser && sess.stamp == 0 {
		return s.Core.LiveSettings().AnonymousRoot != ""
	}
	stamp, ok := s.Core.Accounts.PasswordStamp(sess.user)
	return ok && stamp == sess.stamp
}

// handleLogout ends the web session and clears its cookie.
func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	sess, token, ok := s.cookieSession(r)
	if ok && !sess.csrfOK(r) {
		writeStatus(w, protocol.StatusPermission, "logout: missing or wrong CSRF token")
		return
	}
	if ok {
		s.sessions.end(token)
		s.requestLog(r).Info("web session ended", "user", sess.user)
	}
	http.SetCookie(w, sessionCookie("", r.TLS != nil, -1))
	w.WriteHeader(http.StatusNoContent)
}

// cookieSession returns the live session the request's cookie names. A
// session whose user was removed from the accounts or whose password
// changed has ended.
func (s *Server) cookieSession(r *http.Request) (*session, string, bool) {
	c, err := r.Cookie(cookieName)
	if err != nil || c.Value == "" {
		return nil, "", false
	}
	sess, ok := s.sessions.find(c.Value, time.Now())
	if ok && !s.stillValid(sess) {
		s.sessions.end(c.Value)
		return nil, "", false
	}
	return sess, c.Value, ok
}

// changes tells whether a request's method changes something, and so
// must carry the session's CSRF token when a cookie authenticates it.
func changes(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}

// authed serves fn for a request authenticated by the session cookie
// (with the CSRF token when it changes something) or by HTTP Basic, with
// the user's home open for the request's length.
func (s *Server) authed(fn func(*call)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.running.Add(1)
		defer s.running.Add(-1)
		log := s.requestLog(r)
		// The home outlives the client's connection: an upload cut off
		// still stores the part it holds and its resume point (on an
		// object store, calls made with a cancelled context fail), as
		// after Shutdown. Each call to the store has its own timeout.
		ctx := context.WithoutCancel(r.Context())
		var l *server.Login
		var err error
		if sess, token, ok := s.cookieSession(r); ok {
			if changes(r.Method) && !sess.csrfOK(r) {
				writeStatus(w, protocol.StatusPermission, "missing or wrong CSRF token (X-CSRF-Token)")
				return
			}
			defer func() { s.sessions.touch(token, time.Now()) }()
			l, err = s.Core.Reopen(ctx, log, server.ProtocolHTTP, sess.user)
			if errors.Is(err, server.ErrWrongLogin) { // the account is gone
				s.sessions.end(token)
			}
		} else if user, password, ok := r.BasicAuth(); ok {
			l, err = s.Core.Login(ctx, log, server.ProtocolHTTP, clientIP(r), user, password)
		} else {
			if r.Header.Get("Sec-Fetch-Site") == "" { // not the page: a client that may answer a challenge
				w.Header().Set("WWW-Authenticate", `Basic realm="ftpx", charset="UTF-8"`)
			}
			writeStatus(w, protocol.StatusNotLoggedIn, "log in first: a session cookie or HTTP Basic authentication")
			return
		}
		if err != nil {
			st, msg := server.LoginStatus(err)
			writeStatus(w, st, msg)
			return
		}
		defer l.Close()
		fn(&call{srv: s, w: w, r: r, login: l, home: l.Home, log: log.With("user", l.User)})
	})
}

// requestLog is the log of one request.
func (s *Server) requestLog(r *http.Request) *slog.Logger {
	return s.logger().With("protocol", server.ProtocolHTTP, "remote", r.RemoteAddr)
}
