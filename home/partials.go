package home

import (
	"errors"
	"io/fs"
	"time"
)

// tryClaim marks user's transfer id as in use, unless it already is.
func (m *Manager) tryClaim(user, id string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	key := user + "/" + id
	if m.claims[key] {
		return false
	}
	m.claims[key] = true
	return true
}

func (m *Manager) unclaim(user, id string) {
	m.mu.Lock()
	delete(m.claims, user+"/"+id)
	m.mu.Unlock()
}

// heldElsewhere reports whether a home other than user's holds a saved
// upload under the transfer id (a uuid, checked by the caller).
func (m *Manager) heldElsewhere(user, id string) bool {
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

// ExpirePartials removes the partial uploads, in every home, last written
// more than maxAge ago and not in use, and returns how many it removed and
// their bytes. Usage of users logged in right now goes down accordingly.
func (m *Manager) ExpirePartials(maxAge time.Duration) (n int, bytes int64, err error) {
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
		d := &dirFS{root: fsys}
		parts, _ := d.Partials()
		for _, p := range parts {
			if !p.ModTime.Before(cutoff) || !m.tryClaim(user, p.ID) {
				continue
			}
			if err := d.RemovePartial(p.ID); err == nil || errors.Is(err, ErrNotExist) {
				n++
				bytes += p.Size
				m.used(user, -p.Size)
			}
			m.unclaim(user, p.ID)
		}
		fsys.Close()
	}
	return n, bytes, nil
}

// used adds delta to the usage of user's account, if one is live.
func (m *Manager) used(user string, delta int64) {
	m.mu.Lock()
	u := m.users[user]
	m.mu.Unlock()
	if u == nil {
		return
	}
	<-u.ready
	if u.acct != nil {
		u.acct.commit(0, delta)
	}
}
