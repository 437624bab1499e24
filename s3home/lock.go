package s3home

import (
	"encoding/json"
	"errors"
	"time"

	"ftpx/home"

	"github.com/google/uuid"
	"github.com/minio/minio-go/v7"
)

// A transfer id is claimed across servers by its lock object,
// PartialDir/ID.lock, created only where none exists (If-None-Match: *)
// and renewed while its server holds it. A lock left by a server that
// died expires after lockTTL; the next claimer takes it over with a write
// conditional on its ETag, so two servers never both take it.

const (
	lockTTL   = 15 * time.Second
	lockRenew = 5 * time.Second
)

type lockDoc struct {
	Server  string    `json:"server"`
	Token   string    `json:"token"`
	Expires time.Time `json:"expires"`
}

// lock is a claim this FS holds.
type lock struct {
	key   string
	token string
	etag  string
	stop  chan struct{}
	done  chan struct{}
}

// Claim takes the transfer id across servers, or reports false when
// another server holds it.
func (t *FS) Claim(id string) (bool, error) {
	lk, err := t.partialKey("claim", id, lockSuffix)
	if err != nil {
		return false, err
	}
	t.mu.Lock()
	_, mine := t.locks[id]
	t.mu.Unlock()
	if mine {
		return true, nil
	}
	l := &lock{key: lk, token: uuid.NewString(), stop: make(chan struct{}), done: make(chan struct{})}
	var opts minio.PutObjectOptions
	opts.SetMatchETagExcept("*")
	etag, err := t.putLock(l, opts)
	if errors.Is(kindOf(err), home.ErrChanged) {
		// Held, or left by a server that died: take it over if expired.
		b, old, gerr := t.getSmall(lk)
		var d lockDoc
		switch {
		case notFound(gerr):
			return false, nil // let go of meanwhile: the next try takes it
		case gerr != nil:
			return false, opErr("claim", "partial "+id, gerr)
		case json.Unmarshal(b, &d) == nil && d.Expires.After(time.Now()):
			return false, nil
		}
		var over minio.PutObjectOptions
		over.SetMatchETag(old)
		etag, err = t.putLock(l, over)
		if errors.Is(kindOf(err), home.ErrChanged) {
			return false, nil
		}
	}
	if err != nil {
		return false, opErr("claim", "partial "+id, err)
	}
	l.etag = etag
	t.mu.Lock()
	t.locks[id] = l
	t.mu.Unlock()
	go t.renew(l)
	return true, nil
}

func (t *FS) putLock(l *lock, opts minio.PutObjectOptions) (string, error) {
	b, _ := json.Marshal(lockDoc{Server: t.c.id, Token: l.token, Expires: time.Now().Add(lockTTL)})
	return t.putSmall(l.key, b, opts)
}

// renew keeps the lock alive until Unclaim stops it; if another server
// took it over (this one stalled past lockTTL), it stops renewing.
func (t *FS) renew(l *lock) {
	defer close(l.done)
	tick := time.NewTicker(lockRenew)
	defer tick.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-tick.C:
		}
		var opts minio.PutObjectOptions
		opts.SetMatchETag(l.etag)
		etag, err := t.putLock(l, opts)
		switch {
		case err == nil:
			l.etag = etag
		case errors.Is(kindOf(err), home.ErrChanged):
			return
		}
	}
}

// Unclaim lets go of the transfer id, if this FS holds it: the lock
// object goes, unless another server has taken it over meanwhile.
func (t *FS) Unclaim(id string) {
	t.mu.Lock()
	l := t.locks[id]
	delete(t.locks, id)
	t.mu.Unlock()
	if l == nil {
		return
	}
	close(l.stop)
	<-l.done
	b, _, err := t.getSmall(l.key)
	var d lockDoc
	if err == nil && json.Unmarshal(b, &d) == nil && d.Token == l.token {
		t.delete("unclaim", "partial "+id, l.key)
	}
}
