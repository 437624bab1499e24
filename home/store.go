package home

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"ftpx/internal/s3url"
)

// A Store keeps the homes somewhere other than a local directory: an
// object store (package s3home) that several servers share. Each home is
// an FS of its own; the FS, not the Manager, keeps what must hold across
// servers (a LedgerFS's quota, a Claimer's transfer ids).
type Store interface {
	// Home returns the FS of the user's home, creating it when missing.
	Home(user string) (FS, error)
	// Users lists the homes the store holds, for sweeps across homes.
	Users() ([]string, error)
	Close() error
}

// NewManagerOn returns a Manager of the homes kept in st. It closes st
// when it is closed.
func NewManagerOn(st Store) *Manager {
	return &Manager{store: st, users: make(map[string]*userAccount),
		folders: make(map[string]*userAccount), seen: make(map[string]bool), claims: make(map[string]bool)}
}

// openHome returns the FS of the user's home, creating it when missing.
func (m *Manager) openHome(user string) (FS, error) {
	if m.store != nil {
		return m.store.Home(user)
	}
	if err := os.Mkdir(filepath.Join(m.root, user), 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, opErr("create home", user, err)
	}
	return m.dir(filepath.Join(m.root, user))
}

// openFolder returns the FS of a folder's tree, given as a local
// directory or a URL, and the key it is known by (the cleaned directory,
// or the URL's canonical spelling); it records it for the partial sweep.
func (m *Manager) openFolder(dir string) (FS, string, error) {
	var fsys FS
	var err error
	if s3url.Is(dir) {
		fsys, dir, err = m.openURL(dir)
	} else {
		dir = filepath.Clean(dir)
		fsys, err = m.dir(dir)
	}
	if err != nil {
		return nil, "", err
	}
	m.mu.Lock()
	m.seen[dir] = true
	m.mu.Unlock()
	return fsys, dir, nil
}

func (m *Manager) openURL(dir string) (FS, string, error) {
	u, err := s3url.Parse(dir)
	if err != nil {
		return nil, "", fmt.Errorf("folder: %v: %w", err, ErrBadPath)
	}
	if m.OpenURL == nil {
		return nil, "", fmt.Errorf("folder %s: no object store configured: %w", u, ErrNotExist)
	}
	fsys, err := m.OpenURL(u.String())
	return fsys, u.String(), err
}

// expireInStore is ExpirePartials for homes in a Store: every home, and
// every folder mounted since start.
func (m *Manager) expireInStore(maxAge time.Duration) (n int, bytes int64, err error) {
	users, err := m.store.Users()
	if err != nil {
		return 0, 0, err
	}
	cutoff := time.Now().Add(-maxAge)
	for _, user := range users {
		fsys, err := m.store.Home(user)
		if err != nil {
			continue
		}
		k, b := m.expireTree(fsys, user, cutoff, func(delta int64) { m.used(m.users, user, delta) })
		n, bytes = n+k, bytes+b
		fsys.Close()
	}
	k, b := m.expireFolders(cutoff)
	return n + k, bytes + b, nil
}

// expireFolders sweeps the folders mounted since start, local or not.
func (m *Manager) expireFolders(cutoff time.Time) (n int, bytes int64) {
	m.mu.Lock()
	dirs := make([]string, 0, len(m.seen))
	for dir := range m.seen {
		dirs = append(dirs, dir)
	}
	m.mu.Unlock()
	for _, dir := range dirs {
		var fsys FS
		var err error
		if s3url.Is(dir) {
			fsys, _, err = m.openURL(dir)
		} else {
			fsys, err = Dir(dir)
		}
		if err != nil {
			continue
		}
		k, b := m.expireTree(fsys, "folder:"+dir, cutoff, func(delta int64) { m.used(m.folders, dir, delta) })
		n, bytes = n+k, bytes+b
		fsys.Close()
	}
	return n, bytes
}

// expireTree removes the partials of one tree older than cutoff and not
// claimed under owner (nor, for a Claimer, by another server), and tells
// used about the bytes each freed; a LedgerFS counts them off its shared
// account itself.
func (m *Manager) expireTree(fsys FS, owner string, cutoff time.Time, used func(int64)) (n int, bytes int64) {
	parts, _ := fsys.Partials()
	claimer, shared := fsys.(Claimer)
	lf, shares := fsys.(LedgerFS)
	var ledger Ledger // opened at the first partial removed
	defer func() {
		if ledger != nil {
			ledger.Close()
		}
	}()
	for _, p := range parts {
		if !p.ModTime.Before(cutoff) || !m.tryClaim(owner, p.ID) {
			continue
		}
		if shared {
			if got, err := claimer.Claim(p.ID); err != nil || !got {
				m.unclaim(owner, p.ID)
				continue
			}
		}
		if err := fsys.RemovePartial(p.ID); err == nil || errors.Is(err, ErrNotExist) {
			n++
			bytes += p.Size
			switch {
			case !shares:
				used(-p.Size)
			case ledger == nil && p.Size > 0:
				if l, err := lf.Ledger(Unlimited); err == nil {
					ledger = l
				}
				fallthrough
			case ledger != nil && p.Size > 0:
				if ledger != nil {
					ledger.Commit(0, -p.Size)
				}
			}
		}
		if shared {
			claimer.Unclaim(p.ID)
		}
		m.unclaim(owner, p.ID)
	}
	return n, bytes
}
