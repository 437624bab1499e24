package webd

import (
	"sync"
	"time"

	"ftpx/home"
)

// pending is the table of the uploads this server created whose store
// keeps no resume point yet: on an object store, a file smaller than one
// part is held in memory until it is whole, so after its creation (and
// after a PATCH cut off) the store knows nothing of it. The table answers
// HEAD and PATCH for them at offset 0, so a client created them once and
// sends the bytes in a PATCH, as the page does. Another server (or this
// one after a restart) does not know them: HEAD there is 404, and the
// client creates the upload again, at the cost of a part at most.
type pending struct {
	mu    sync.Mutex
	m     map[string]pendingUpload // by upload id
	swept time.Time
}

// pendingUpload is what a creation said of an upload the store does not
// hold.
type pendingUpload struct {
	user string
	held home.Held // Offset 0
	made time.Time
}

// Bounds of the table: an upload untouched this long is forgotten (as
// partials are swept), and at most this many are kept.
const (
	pendingMaxAge = 24 * time.Hour
	pendingMax    = 100_000
)

// add records id as user's upload of held, with nothing held. It says
// false when the table is full.
func (p *pending) add(id, user string, held home.Held, now time.Time) bool {
	held.Offset = 0
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil {
		p.m = make(map[string]pendingUpload)
	}
	if now.Sub(p.swept) > time.Minute || len(p.m) >= pendingMax {
		for k, u := range p.m {
			if now.Sub(u.made) > pendingMaxAge {
				delete(p.m, k)
			}
		}
		p.swept = now
	}
	if _, ok := p.m[id]; !ok && len(p.m) >= pendingMax {
		return false
	}
	p.m[id] = pendingUpload{user: user, held: held, made: now}
	return true
}

// find returns user's upload id, if the table has it.
func (p *pending) find(id, user string, now time.Time) (home.Held, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	u, ok := p.m[id]
	if !ok || u.user != user {
		return home.Held{}, false
	}
	if now.Sub(u.made) > pendingMaxAge {
		delete(p.m, id)
		return home.Held{}, false
	}
	return u.held, true
}

// forget drops id: its upload is placed, failed or given up.
func (p *pending) forget(id string) {
	p.mu.Lock()
	delete(p.m, id)
	p.mu.Unlock()
}
