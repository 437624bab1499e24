package home

import (
	"io/fs"
	"time"
)

// tryClaim marks the transfer id of a mount (its claim key: the user for
// a home, "folder:DIR" for a folder) as in use, unless it already is.
func (m *Manager) tryClaim(owner, id string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	key := owner + "/" + id
	if m.claims[key] {
		return false
	}
	m.claims[key] = true
	return true
}

func (m *Manager) unclaim(owner, id string) {
	m.mu.Lock()
	delete(m.claims, owner+"/"+id)
	m.mu.Unlock()
}

// heldElsewhere reports whether a home other than user's holds a saved
// upload under the transfer id (a uuid, checked by the caller).
func (m *Manager) heldElsewhere(user, id string) bool {
	if m.store != nil {
		// A server on a Store reads no key outside the user's home: an
		// id held by another user reads as nothing held.
		return false
	}
	ents, err := fs.ReadDir(m.top.FS(), ".")
	if err != nil {
		return false
	}
	for _, e := range ents {
		if !e.IsDir() || e.Name() == user {
			continue
		}
		if _, err := m.top.Lstat(e.Name() + "/" + PartialDir + "/" + id + stateSuffix); err == nil {
			return true
		}
	}
	return false
}

// ExpirePartials removes the partial uploads, in every home and every
// folder mounted since the Manager started, last written more than maxAge
// ago and not in use, and returns how many it removed and their bytes.
// Usage of users logged in right now (and of folders with a quota of their
// own) goes down accordingly.
func (m *Manager) ExpirePartials(maxAge time.Duration) (n int, bytes int64, err error) {
	if m.store != nil {
		return m.expireInStore(maxAge)
	}
	ents, err := fs.ReadDir(m.top.FS(), ".")
	if err != nil {
		return 0, 0, err
	}
	cutoff := time.Now().Add(-maxAge)
	for _, e := range ents {
		if !e.IsDir() || e.Name()[0] == '.' {
			continue
		}
		user := e.Name()
		fsys, err := m.top.OpenRoot(user)
		if err != nil {
			continue
		}
		k, b := m.expireTree(&dirFS{root: fsys}, user, cutoff, func(delta int64) { m.used(m.users, user, delta) })
		n, bytes = n+k, bytes+b
		fsys.Close()
	}
	k, b := m.expireFolders(cutoff)
	return n + k, bytes + b, nil
}

// used adds delta to the usage of the account under key, if one is live.
func (m *Manager) used(accts map[string]*userAccount, key string, delta int64) {
	m.mu.Lock()
	u := accts[key]
	m.mu.Unlock()
	if u == nil {
		return
	}
	<-u.ready
	if u.acct != nil {
		u.acct.commit(0, delta)
	}
}
