package home

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"ftpx/protocol"
)

// Manager hands out homes under one server root and keeps each user's
// quota account, shared by all that user's open homes.
type Manager struct {
	// NoSync skips every fsync and syncfs of uploads: faster, but an
	// acknowledged file may be lost if the machine (not the server)
	// crashes. For benchmarks and scratch servers. Set before Open.
	NoSync bool

	root string
	top  *os.Root // root itself, to look across homes for a transfer id

	mu     sync.Mutex
	users  map[string]*userAccount
	claims map[string]bool // "user/transfer" of partials in use
	sums   sums            // MD5s of whole files seen, for all users
}

// userAccount is a user's account and the number of its open homes.
type userAccount struct {
	refs  int
	ready chan struct{} // closed once acct or err is set
	acct  *account
	err   error
}

// NewManager returns a Manager of the homes under root, creating root
// (0700) if it is missing.
func NewManager(root string) (*Manager, error) {
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, err // the server's own configuration: its path helps
	}
	top, err := os.OpenRoot(root)
	if err != nil {
		return nil, err
	}
	return &Manager{root: root, top: top, users: make(map[string]*userAccount), claims: make(map[string]bool)}, nil
}

// Open returns the user's home, creating ROOT/user (0700) if missing. The
// first Open of a user computes the usage with FS.Usage; later Opens while
// any Home of that user is open share that account, so a put by one
// session is seen by the others. When the last Home of a user closes, the
// account is dropped and recomputed on the next Open. limit (bytes, or
// Unlimited) replaces the account's limit on every Open.
//
// user must be a plain name: not empty, no '/', '\\' or NUL, not starting
// with '.'; otherwise ErrBadPath.
func (m *Manager) Open(user string, limit int64) (*Home, error) {
	if user == "" || len(user) > protocol.MaxNameLen || strings.HasPrefix(user, ".") ||
		strings.ContainsAny(user, "/\\\x00") {
		return nil, fmt.Errorf("home %q: %w", user, ErrBadPath)
	}
	if err := os.Mkdir(filepath.Join(m.root, user), 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, opErr("create home", user, err)
	}
	fsys, err := Dir(filepath.Join(m.root, user))
	if err != nil {
		return nil, fmt.Errorf("home %s: %w", user, err)
	}

	m.mu.Lock()
	u := m.users[user]
	first := u == nil
	if first {
		u = &userAccount{ready: make(chan struct{})}
		m.users[user] = u
	}
	u.refs++
	m.mu.Unlock()

	if first {
		// Outside m.mu: a large tree must not hold up other users' logins.
		used, err := fsys.Usage()
		if err != nil {
			u.err = fmt.Errorf("home %s: %w", user, err)
			m.mu.Lock()
			if m.users[user] == u {
				delete(m.users, user) // the next Open tries again
			}
			m.mu.Unlock()
		} else {
			u.acct = newAccount(used, limit)
		}
		close(u.ready)
	}
	<-u.ready
	if u.err != nil {
		m.release(user, u)
		fsys.Close()
		return nil, u.err
	}
	u.acct.setLimit(limit)
	return &Home{FS: fsys, acct: u.acct, m: m, user: user, u: u}, nil
}

// release drops one reference to u, and u itself with the last.
func (m *Manager) release(user string, u *userAccount) {
	m.mu.Lock()
	defer m.mu.Unlock()
	u.refs--
	if u.refs == 0 && m.users[user] == u {
		delete(m.users, user)
	}
}

// Home is one session's view of a user's home: its file tree and the
// user's shared quota account.
type Home struct {
	FS FS

	acct   *account
	m      *Manager
	user   string
	u      *userAccount
	closed sync.Once
}

// Close closes the home's FS and lets go of the account. It is
// idempotent. Uploads of this home must be committed or aborted first.
func (h *Home) Close() error {
	var err error
	h.closed.Do(func() {
		err = h.FS.Close()
		if h.m != nil {
			h.m.release(h.user, h.u)
		}
	})
	return err
}

// Quota returns the user's bytes in use, bytes reserved by uploads in
// progress, and limit (Unlimited for none).
func (h *Home) Quota() (used, reserved, limit int64) {
	return h.acct.snapshot()
}

// Close releases the Manager's handle on the root. Homes already open
// stay usable until they are closed.
func (m *Manager) Close() error { return m.top.Close() }

// durable reports whether commits sync to disk.
func (h *Home) durable() bool { return h.m == nil || !h.m.NoSync }

// sync flushes the file system of the home, unless syncs are off.
func (h *Home) sync() error {
	if !h.durable() {
		return nil
	}
	return h.FS.Sync()
}
