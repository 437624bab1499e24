package home

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"ftpx/protocol"
)

// Manager hands out homes under one server root and keeps each user's
// quota account, shared by all that user's open homes, and the account of
// each folder with a quota of its own, shared by every user who mounts it.
type Manager struct {
	// NoSync skips every fsync and syncfs of uploads: faster, but an
	// acknowledged file may be lost if the machine (not the server)
	// crashes. For benchmarks and scratch servers. Set before Open.
	NoSync bool
	// MinFreeSpace is what a put must leave free on the file system that
	// holds its partial, or it is refused up front (ErrNoSpace): bytes, or
	// AutoMinFreeSpace (NewManager's default) for 1% of the file system,
	// at most DefaultMaxReserve. Set before Open.
	MinFreeSpace int64
	// Wrap, when set, wraps the FS of every home and folder as it is
	// opened: fault injection in tests. Set before Open.
	Wrap func(fsys FS) FS

	root  string
	top   *os.Root // root itself, to look across homes for a transfer id
	store Store    // instead of root: the homes are in an object store (store.go)

	// OpenURL opens a folder given as a URL (s3://BUCKET/PREFIX) instead
	// of a local directory; nil refuses such folders. Set before Open.
	OpenURL func(url string) (FS, error)

	linger time.Duration // how long a local account outlives its last home (accountLinger)

	mu      sync.Mutex
	users   map[string]*userAccount // by user name
	folders map[string]*userAccount // folders with a quota of their own, by cleaned directory
	seen    map[string]bool         // every folder directory mounted since start, for the partial sweep
	claims  map[string]bool         // "key/transfer" of partials in use (key: the user, or "folder:DIR")
	sums    sums                    // MD5s of whole files seen, for all users
	space   map[string]*spaceCount  // free-space bookkeeping, by file system (space.go)
}

// userAccount is a user's (or a folder's) account and the number of its
// open homes.
type userAccount struct {
	refs  int
	ready chan struct{} // closed once acct or err is set
	acct  *account
	err   error
	idle  *time.Timer // no home open: drops the account when it fires (accountLinger)
	// mark is the partials' directory's mtime when the last home closed
	// (when marked): an operator's `partials rm` changes it, and the next
	// login then counts the tree again rather than take the lingering
	// account.
	mark   time.Time
	marked bool
}

// accountLinger is how long a local account outlives its last home: the
// usage of a home on disk is computed by walking its tree (40 ms for
// 10,000 files here, seconds for millions), and a script's one-shot
// commands, each a connection of its own, would otherwise pay that walk
// each. Once dropped, the next login walks the tree again, and so sees
// what was changed on the disk behind the server's back; a login within the
// minute does too when the home's partial uploads were removed meanwhile
// (userAccount.mark).
const accountLinger = time.Minute

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
	return &Manager{MinFreeSpace: AutoMinFreeSpace, linger: accountLinger, root: root, top: top, users: make(map[string]*userAccount),
		folders: make(map[string]*userAccount), seen: make(map[string]bool), claims: make(map[string]bool)}, nil
}

// Folder is a directory of the server mounted in a user's home at /Name.
type Folder struct {
	Name     string // one path element
	Dir      string // the server's directory; it must exist
	Perms    Perm   // 0 means none at all
	Quota    int64  // the folder's own limit (bytes, or Unlimited), when OwnQuota
	OwnQuota bool   // else what is written in the folder counts on the home's quota
}

// Spec is how to open a user's home.
type Spec struct {
	Quota   int64 // the home's limit: bytes, or Unlimited
	Perms   Perm  // on the home itself; 0 means PermAll
	Folders []Folder
	// Ctx is the session's: its uploads' calls to an object store end
	// when it is done (the connection was closed). Nil: none.
	Ctx context.Context
}

// Open returns the user's home with every permission and no folders; see
// OpenSpec.
func (m *Manager) Open(user string, limit int64) (*Home, error) {
	return m.OpenSpec(user, Spec{Quota: limit})
}

// OpenSpec returns the user's home, creating ROOT/user (0700) if missing,
// with spec's folders mounted in it. The first Open of a user computes the
// usage with FS.Usage; later Opens while any Home of that user is open
// share that account, so a put by one session is seen by the others. When
// the last Home of a user closes, the account is dropped and recomputed on
// the next Open. spec.Quota replaces the account's limit on every Open.
// A folder with a quota of its own has one account for all the users who
// mount its directory, kept the same way.
//
// user must be a plain name: not empty, no '/', '\\' or NUL, not starting
// with '.'; otherwise ErrBadPath. So must each folder's name, which must
// also be unique.
func (m *Manager) OpenSpec(user string, spec Spec) (*Home, error) {
	if !plainName(user) {
		return nil, fmt.Errorf("home %q: %w", user, ErrBadPath)
	}
	for i, f := range spec.Folders {
		if !plainName(f.Name) || f.Name == PartialDir || slices.ContainsFunc(spec.Folders[:i], func(g Folder) bool { return g.Name == f.Name }) {
			return nil, fmt.Errorf("home %s: folder %q: %w", user, f.Name, ErrBadPath)
		}
	}
	fsys, err := m.openHome(user)
	if err != nil {
		return nil, fmt.Errorf("home %s: %w", user, err)
	}
	u, err := m.acquire(m.users, user, fsys, spec.Quota)
	if err != nil {
		fsys.Close()
		return nil, fmt.Errorf("home %s: %w", user, err)
	}
	perms := spec.Perms
	if perms == 0 {
		perms = PermAll
	}
	h := &Home{m: m, user: user, ctx: spec.Ctx}
	h.mounts = []*mount{{fs: fsys, perms: perms, acct: u.acct, claim: user, space: m.spaceOf(fsys, user),
		let: func() { m.release(m.users, user, u, fsys) }}}
	for _, f := range spec.Folders {
		mt, err := m.mountFolder(f, u.acct)
		if err != nil {
			h.Close()
			return nil, fmt.Errorf("home %s: folder %s: %w", user, f.Name, err)
		}
		h.mounts = append(h.mounts, mt)
	}
	h.acct = u.acct
	h.FS = fsys
	if len(h.mounts) > 1 {
		h.FS = muxFS{h}
	}
	return h, nil
}

// mountFolder opens a folder's directory and its account: its own, or
// home's when it has none.
func (m *Manager) mountFolder(f Folder, home *account) (*mount, error) {
	fsys, dir, err := m.openFolder(f.Dir)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	m.seen[dir] = true
	m.mu.Unlock()
	mt := &mount{name: f.Name, fs: fsys, perms: f.Perms, acct: home, claim: "folder:" + dir, space: m.spaceOf(fsys, "folder:"+dir)}
	if f.OwnQuota {
		u, err := m.acquire(m.folders, dir, fsys, f.Quota)
		if err != nil {
			fsys.Close()
			return nil, err
		}
		mt.acct = u.acct
		mt.let = func() { m.release(m.folders, dir, u, fsys) }
	}
	return mt, nil
}

// OpenAnonymous returns a read-only home over dir for the anonymous user:
// every permission but read is refused, and its FS refuses every change
// besides. Nothing is created, and no usage is computed: its quota reads
// 0 of 0.
func (m *Manager) OpenAnonymous(dir string) (*Home, error) {
	fsys, err := Dir(dir)
	if err != nil {
		return nil, fmt.Errorf("anonymous: %w", err)
	}
	ro := readOnly{fsys}
	acct := newAccount(0, 0)
	h := &Home{FS: ro, acct: acct, m: m, user: "anonymous"}
	h.mounts = []*mount{{fs: ro, perms: PermRead, acct: acct, claim: "anonymous:"}}
	return h, nil
}

// dir opens the FS of a home or folder directory, wrapped by Wrap.
func (m *Manager) dir(dir string) (FS, error) {
	fsys, err := Dir(dir)
	if err != nil || m.Wrap == nil {
		return fsys, err
	}
	return m.Wrap(fsys), nil
}

// plainName reports whether name can be one path element of ours.
func plainName(name string) bool {
	return name != "" && len(name) <= protocol.MaxNameLen && !strings.HasPrefix(name, ".") &&
		!strings.ContainsAny(name, "/\\\x00")
}

// acquire returns the account under key in accts, computing its usage
// with fsys.Usage when it is not live, and takes a reference on it.
func (m *Manager) acquire(accts map[string]*userAccount, key string, fsys FS, limit int64) (*userAccount, error) {
	mark, marked := partialsMark(fsys) // outside m.mu: a stat
	m.mu.Lock()
	u := accts[key]
	var stale *userAccount
	if u != nil && u.refs == 0 && u.idle != nil && u.marked && marked && !mark.Equal(u.mark) {
		// Lingering, but its partials changed behind the server's back.
		u.idle.Stop()
		delete(accts, key)
		stale, u = u, nil
	}
	first := u == nil
	if first {
		u = &userAccount{ready: make(chan struct{})}
		accts[key] = u
	}
	if u.idle != nil {
		u.idle.Stop()
		u.idle = nil
	}
	u.refs++
	m.mu.Unlock()
	if stale != nil && stale.acct != nil {
		stale.acct.close()
	}

	if first {
		// Outside m.mu: a large tree must not hold up other users' logins.
		acct, err := newAccountOf(fsys, limit)
		if err != nil {
			u.err = err
			m.mu.Lock()
			if accts[key] == u {
				delete(accts, key) // the next Open tries again
			}
			m.mu.Unlock()
		} else {
			u.acct = acct
		}
		close(u.ready)
	}
	<-u.ready
	if u.err != nil {
		m.release(accts, key, u, nil)
		return nil, u.err
	}
	u.acct.setLimit(limit)
	return u, nil
}

// release drops one reference to u, and u itself with the last: at once
// for an account kept in a store (a Ledger, read at once by the next
// login), accountLinger later for a local one, whose partials' mark it
// then takes from fsys (still open; nil for none).
func (m *Manager) release(accts map[string]*userAccount, key string, u *userAccount, fsys FS) {
	var mark time.Time
	marked := false
	if fsys != nil {
		mark, marked = partialsMark(fsys) // outside m.mu: a stat
	}
	m.mu.Lock()
	u.refs--
	last := u.refs == 0
	if last && m.linger > 0 && u.acct != nil && u.acct.ledger == nil && accts[key] == u {
		u.mark, u.marked = mark, marked
		u.idle = time.AfterFunc(m.linger, func() { m.drop(accts, key, u) })
		last = false // the timer drops it
	}
	m.mu.Unlock()
	if last {
		m.drop(accts, key, u)
	}
}

// drop forgets u, unless a home took it again meanwhile.
func (m *Manager) drop(accts map[string]*userAccount, key string, u *userAccount) {
	m.mu.Lock()
	if u.refs > 0 {
		m.mu.Unlock()
		return
	}
	if accts[key] == u {
		delete(accts, key)
	}
	u.idle = nil
	m.mu.Unlock()
	if u.acct != nil {
		u.acct.close() // outside m.mu: a shared account writes to its store
	}
}

// Home is one session's view of a user's home: its file tree (the home
// directory and the folders mounted in it) and the quota accounts.
type Home struct {
	FS FS

	mounts []*mount        // [0] is the home directory itself
	acct   *account        // the home's
	ctx    context.Context // Spec.Ctx: nil for none
	m      *Manager
	user   string
	closed sync.Once
}

// Close closes the home's FS and lets go of the accounts. It is
// idempotent. Uploads of this home must be committed or aborted first.
func (h *Home) Close() error {
	var err error
	h.closed.Do(func() {
		for _, mt := range h.mounts {
			if mt.let != nil {
				mt.let() // first: it stats the partials through mt.fs
			}
			if cerr := mt.fs.Close(); err == nil {
				err = cerr
			}
		}
	})
	return err
}

// Quota returns the user's bytes in use, bytes reserved by uploads in
// progress, and limit (Unlimited for none), on the home's account.
func (h *Home) Quota() (used, reserved, limit int64) {
	return h.acct.snapshot()
}

// QuotaAt is Quota of the account that counts what is written at the home
// path name: a folder's own, or the home's.
func (h *Home) QuotaAt(name string) (used, reserved, limit int64) {
	mt, _ := h.route(name)
	return mt.acct.snapshot()
}

// Close releases the Manager's handle on the root. Homes already open
// stay usable until they are closed.
func (m *Manager) Close() error {
	if m.store != nil {
		return m.store.Close()
	}
	return m.top.Close()
}

// durable reports whether commits sync to disk.
func (h *Home) durable() bool { return h.m == nil || !h.m.NoSync }

// sync flushes the file system of the home, unless syncs are off.
func (h *Home) sync() error {
	if !h.durable() {
		return nil
	}
	return h.FS.Sync()
}

// partialsMark returns the mtime of fsys's partials directory, when fsys
// is a local directory (not wrapped) and it has one.
func partialsMark(fsys FS) (time.Time, bool) {
	d, ok := fsys.(*dirFS)
	if !ok {
		return time.Time{}, false
	}
	fi, err := d.root.Stat(PartialDir)
	if err != nil {
		return time.Time{}, false
	}
	return fi.ModTime(), true
}
