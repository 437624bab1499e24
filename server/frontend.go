package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"ftpx/accounts"
	"ftpx/home"
	"ftpx/protocol"
)

// Another front end (the FTP server, package ftpd) serves the same
// accounts, homes, limits and metrics through this file's API, so that
// both share one implementation: one count of connections, one login
// (throttling, bans, anonymous access, max_sessions), one set of metrics
// with a protocol label.

// Protocol names, for the logs and the metrics' protocol label.
const (
	ProtocolFTPX = "ftpx" // the native protocol
	ProtocolFTP  = "ftp"  // the FTP front end, FTPS included
	ProtocolSFTP = "sftp" // the SFTP front end (scp and ssh md5sum included)
	ProtocolHTTP = "http" // the web client and HTTP API (package webd), HTTPS included
)

// Why a login through Login fails; each LoginError wraps one.
var (
	ErrBadAuthData     = errors.New("username and password required")
	ErrWrongLogin      = errors.New("wrong username or password")
	ErrBanned          = errors.New("too many failed logins; try later")
	ErrTooManySessions = errors.New("too many sessions for this user")
	ErrTooManyConns    = errors.New("too many connections")

	errOpenHome      = errors.New("cannot open home")               // logged with the cause
	errOpenAnonymous = errors.New("cannot open the anonymous tree") // logged with the cause
)

// LoginError is a refused login: Err is one of the errors above, or the
// failure to open the home; Detail says more for the user, e.g. "until
// 2026-11-23T14:00:00Z" or "at most 4".
type LoginError struct {
	Err    error
	Detail string
}

func (e *LoginError) Error() string {
	if e.Detail == "" {
		return e.Err.Error()
	}
	return e.Err.Error() + " (" + e.Detail + ")"
}

func (e *LoginError) Unwrap() error { return e.Err }

// Login is a logged-in user of any front end: its home and its rates.
// Close it when the session ends.
type Login struct {
	User         string     // the account's name, or AnonymousUser
	Home         *home.Home // the user's tree, as the native protocol sees it
	Anonymous    bool       // the read-only anonymous tree
	UploadRate   int64      // bytes per second into the server; 0 for no limit
	DownloadRate int64      // and out of it
	Folders      int        // folders mounted in the home

	srv     *Server
	counted string // the key in Server.users
	closed  sync.Once
}

// Close closes the home and ends the session's count for max_sessions.
func (l *Login) Close() {
	l.closed.Do(func() {
		l.Home.Close()
		l.srv.logout(l.counted)
	})
}

// Login checks a user's password as the native auth action does: failed
// logins are slowed and then banned per address (ip), unknown users and
// wrong passwords take the same time, AnonymousUser logs in with any
// password when an anonymous root is set, and max_sessions (and
// anonymous_max_conns) count the sessions of every front end together.
// log gets the same lines as for a native login; proto labels the
// metrics. ctx is the session's: when it is done (the connection is
// closed), the home's calls to an object store end. The error is a
// *LoginError.
func (s *Server) Login(ctx context.Context, log *slog.Logger, proto, ip, user, password string) (*Login, error) {
	live := s.settings()
	anonymous := user == AnonymousUser && live.AnonymousRoot != ""
	if user == "" || password == "" && !anonymous {
		return nil, &LoginError{Err: ErrBadAuthData}
	}
	logins := s.logins()
	if until, banned := logins.banned(ip, time.Now()); banned {
		s.Metrics.authResult(proto, "banned")
		log.Warn("auth refused: address banned", "user", user, "until", until.Format(time.RFC3339))
		return nil, &LoginError{Err: ErrBanned, Detail: "until " + until.UTC().Format(time.RFC3339)}
	}
	if anonymous {
		return s.loginAnonymous(log, proto, live, true)
	}
	acct, err := s.Accounts.Authenticate(user, password)
	if err != nil {
		_, known := s.Accounts.Lookup(user)
		delay, banned := logins.fail(ip, user, time.Now())
		s.Metrics.authResult(proto, "failed")
		log.Warn("auth failed", "user", user, "known_user", known, "delay", delay.String(), "address_banned", banned)
		time.Sleep(delay)
		return nil, &LoginError{Err: ErrWrongLogin}
	}
	logins.succeed(ip, acct.Name)
	return s.openLogin(ctx, log, proto, acct, true)
}

// Reopen logs in again a user whose password this front end checked
// earlier, for a later request of the same session (a web session sends
// its cookie with each request): the account must still exist (else
// ErrWrongLogin, as for a user removed from the accounts), max_sessions
// counts the request while it runs, and the home is opened as Login
// opens it. Nothing is logged or counted in the metrics but a failure.
func (s *Server) Reopen(ctx context.Context, log *slog.Logger, proto, user string) (*Login, error) {
	if live := s.settings(); user == AnonymousUser && live.AnonymousRoot != "" {
		return s.loginAnonymous(log, proto, live, false)
	}
	acct, ok := s.Accounts.Lookup(user)
	if !ok {
		return nil, &LoginError{Err: ErrWrongLogin}
	}
	return s.openLogin(ctx, log, proto, acct, false)
}

// LoginKey logs in a user whose public key the front end has verified
// (the client signed with it): the key must be one of the account's
// ssh_key lines. Bans, max_sessions and the home are Login's; a key the
// account does not have counts as a failed login.
func (s *Server) LoginKey(ctx context.Context, log *slog.Logger, proto, ip, user string, key []byte) (*Login, error) {
	logins := s.logins()
	if until, banned := logins.banned(ip, time.Now()); banned {
		s.Metrics.authResult(proto, "banned")
		log.Warn("auth refused: address banned", "user", user, "until", until.Format(time.RFC3339))
		return nil, &LoginError{Err: ErrBanned, Detail: "until " + until.UTC().Format(time.RFC3339)}
	}
	acct, ok := s.Accounts.Lookup(user)
	if !ok || !acct.Authorizes(key) {
		delay, banned := logins.fail(ip, user, time.Now())
		s.Metrics.authResult(proto, "failed")
		log.Warn("auth failed", "user", user, "known_user", ok, "method", "publickey", "delay", delay.String(), "address_banned", banned)
		time.Sleep(delay)
		return nil, &LoginError{Err: ErrWrongLogin}
	}
	logins.succeed(ip, acct.Name)
	return s.openLogin(ctx, log, proto, acct, true)
}

// openLogin opens the home of an authenticated account, counting the
// session against max_sessions; announce logs and counts a login that
// succeeds.
func (s *Server) openLogin(ctx context.Context, log *slog.Logger, proto string, acct accounts.Account, announce bool) (*Login, error) {
	if !s.login(acct.Name, acct.MaxSessions) {
		s.Metrics.authResult(proto, "too_many_sessions")
		log.Warn("auth refused: too many sessions", "user", acct.Name, "max_sessions", acct.MaxSessions)
		return nil, &LoginError{Err: ErrTooManySessions, Detail: fmt.Sprintf("at most %d", acct.MaxSessions)}
	}
	spec := specOf(acct)
	spec.Ctx = ctx
	h, err := s.Homes.OpenSpec(acct.Name, spec)
	if err != nil {
		s.logout(acct.Name)
		log.Error("auth: open home failed", "user", acct.Name, "err", err)
		if errors.Is(err, home.ErrUnavailable) {
			return nil, &LoginError{Err: fmt.Errorf("%w: %w", errOpenHome, home.ErrUnavailable)} // worth trying again later
		}
		return nil, &LoginError{Err: errOpenHome}
	}
	if announce {
		s.Metrics.authResult(proto, "ok")
		log.Info("auth ok", "user", acct.Name, "folders", len(acct.Folders))
	}
	return &Login{User: acct.Name, Home: h, UploadRate: acct.UploadRate, DownloadRate: acct.DownloadRate,
		Folders: len(acct.Folders), srv: s, counted: acct.Name}, nil
}

// loginAnonymous logs in to the anonymous tree, read only.
func (s *Server) loginAnonymous(log *slog.Logger, proto string, live Live, announce bool) (*Login, error) {
	if !s.login(anonymousKey, live.AnonymousMaxConns) {
		s.Metrics.authResult(proto, "too_many_sessions")
		log.Warn("auth refused: too many anonymous sessions", "max", live.AnonymousMaxConns)
		return nil, &LoginError{Err: ErrTooManySessions, Detail: fmt.Sprintf("at most %d anonymous", live.AnonymousMaxConns)}
	}
	h, err := s.Homes.OpenAnonymous(live.AnonymousRoot)
	if err != nil {
		s.logout(anonymousKey)
		log.Error("auth: open anonymous root failed", "err", err)
		return nil, &LoginError{Err: errOpenAnonymous}
	}
	if announce {
		s.Metrics.authResult(proto, "anonymous")
		log.Info("auth ok", "user", AnonymousUser, "anonymous", true)
	}
	return &Login{User: AnonymousUser, Home: h, Anonymous: true, srv: s, counted: anonymousKey}, nil
}

// Admit counts a connection of another front end, from the address of
// remote, against MaxConns and MaxConnsPerIP together with every other
// connection, and in the metrics under proto. It fails with
// ErrServerClosed once Shutdown has begun, or ErrTooManyConns. Call
// release once when the connection ends.
func (s *Server) Admit(remote net.Addr, proto string) (release func(), err error) {
	ip := remote.String()
	if host, _, err := net.SplitHostPort(ip); err == nil {
		ip = host
	}
	s.mu.Lock()
	st, msg := s.admitLocked(ip)
	s.mu.Unlock()
	if st != 0 {
		s.Metrics.connection(proto, "refused")
		s.logger().Warn("connection refused", "protocol", proto, "remote", remote.String(), "reason", msg)
		if st == protocol.StatusShuttingDown {
			return nil, ErrServerClosed
		}
		return nil, fmt.Errorf("%s: %w", msg, ErrTooManyConns)
	}
	s.Metrics.connection(proto, "accepted")
	s.Metrics.sessions(proto, 1)
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			s.leaveLocked(ip)
			s.mu.Unlock()
			s.Metrics.sessions(proto, -1)
		})
	}, nil
}

// RecordTransfer counts a transfer of another front end in the metrics:
// direction is protocol.ActionGet or protocol.ActionPut, n the bytes it
// moved, err how it ended (nil, or wrapping home.ErrQuota, or anything
// else for a failure).
func (s *Server) RecordTransfer(proto, direction string, n int64, d time.Duration, err error) {
	result := "failed"
	switch {
	case err == nil:
		result = "ok"
	case errors.Is(err, home.ErrQuota):
		result = "quota"
	case errors.Is(err, home.ErrMD5):
		result = "md5_mismatch"
	}
	s.Metrics.record(proto, direction, result, n, d)
}

// LiveSettings returns the settings that may change while the server
// runs (welcome and goodbye texts, anonymous access), as now in force.
func (s *Server) LiveSettings() Live { return s.settings() }

// Timeouts returns the idle timeout (waiting for a command) and the
// transfer timeout (waiting for each chunk of a body), defaults filled in.
func (s *Server) Timeouts() (idle, transfer time.Duration) {
	return s.idleTimeout(), s.transferTimeout()
}

// LimitRates returns c slowed to up bytes per second for what it reads and
// down for what it writes (0: no limit), as a native session is once its
// user has logged in. Without limits it is c's own speed, sendfile
// included.
func LimitRates(c net.Conn, up, down int64) net.Conn {
	if up <= 0 && down <= 0 {
		return c
	}
	rc := &rateConn{Conn: c}
	rc.setRates(up, down)
	return rc
}
