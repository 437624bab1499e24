package accounts

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"sync"
	"time"
)

// A password that bcrypt verified is remembered for verifiedFor, so that a
// script's many short connections (a cron job of one-shot commands, a sync
// rerun) cost one bcrypt comparison every verifiedFor instead of one each:
// about 70 ms of CPU at bcrypt's default cost. What is remembered is an
// HMAC of the user, the stored hash and the password, under a key drawn
// when the process starts: never the password. A wrong password, an
// unknown user, or a password whose hash changed since (passwd) is never
// found there, so it still costs a whole bcrypt comparison, as before: a
// refusal takes the time it took, and only a right password can be
// quicker, which its success says anyway.
const (
	verifiedFor = 10 * time.Minute
	maxVerified = 4096
)

type verified struct {
	once sync.Once
	key  [32]byte
	mu   sync.Mutex
	at   map[[32]byte]time.Time
}

// tag is what remembers that password was name's, while name's hash is
// hash.
func (v *verified) tag(name string, hash []byte, password string) [32]byte {
	v.once.Do(func() {
		rand.Read(v.key[:])
		v.at = make(map[[32]byte]time.Time)
	})
	m := hmac.New(sha256.New, v.key[:])
	m.Write([]byte(name))
	m.Write([]byte{0})
	m.Write(hash)
	m.Write([]byte{0})
	m.Write([]byte(password))
	var t [32]byte
	m.Sum(t[:0])
	return t
}

// fresh reports whether t was remembered less than verifiedFor ago.
func (v *verified) fresh(t [32]byte) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	at, ok := v.at[t]
	return ok && time.Since(at) < verifiedFor
}

// remember keeps t; past maxVerified, the stale ones go first, then all.
func (v *verified) remember(t [32]byte) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.at) >= maxVerified {
		for k, at := range v.at {
			if time.Since(at) >= verifiedFor {
				delete(v.at, k)
			}
		}
		if len(v.at) >= maxVerified {
			clear(v.at)
		}
	}
	v.at[t] = time.Now()
}
