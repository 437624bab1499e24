package accounts

import (
	"crypto/rand"
	"crypto/subtle"
	"fmt"
	"sync"

	"golang.org/x/crypto/bcrypt"
)

// Authenticate checks name's password and returns the account. An unknown
// user and a wrong password both give ErrBadPassword, and take the same
// time: every call runs one bcrypt comparison at the cost the file uses, an
// unknown user's and a plaintext entry's against a dummy hash; only a
// right password verified in the last verifiedFor is found without one
// (verified.go). A plaintext password is compared in constant time.
func (s *Store) Authenticate(name, password string) (Account, error) {
	c := s.current.Load()
	u, ok := c.users[name]
	switch {
	case !ok:
		bcrypt.CompareHashAndPassword(c.dummy, []byte(password))
		return Account{}, ErrBadPassword
	case u.plain != nil:
		bcrypt.CompareHashAndPassword(c.dummy, []byte(password))
		if subtle.ConstantTimeCompare(u.plain, []byte(password)) != 1 {
			return Account{}, ErrBadPassword
		}
	default:
		tag := s.ok.tag(name, u.hash, password)
		if s.ok.fresh(tag) {
			break
		}
		if bcrypt.CompareHashAndPassword(u.hash, []byte(password)) != nil {
			return Account{}, ErrBadPassword
		}
		s.ok.remember(tag)
	}
	return u.Account, nil
}

// HashPassword returns the bcrypt hash of password at cost (0 means
// bcrypt.DefaultCost; bcrypt takes 4 to 31, each step doubling the work).
// An empty password or one over 72 bytes (bcrypt's limit) is an error.
func HashPassword(password string, cost int) (string, error) {
	if password == "" {
		return "", fmt.Errorf("empty password")
	}
	if cost == 0 {
		cost = bcrypt.DefaultCost
	}
	if cost < bcrypt.MinCost || cost > bcrypt.MaxCost {
		return "", fmt.Errorf("bcrypt cost %d is outside %d-%d", cost, bcrypt.MinCost, bcrypt.MaxCost)
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), cost)
	if err != nil {
		return "", err
	}
	return string(h), nil
}

// dummyBase is a real bcrypt hash at bcrypt.MinCost of a random password
// nobody knows; dummyHash gives it another cost.
var dummyBase = sync.OnceValue(func() []byte {
	h, err := bcrypt.GenerateFromPassword([]byte(rand.Text()), bcrypt.MinCost)
	if err != nil {
		panic(err) // only for a password over 72 bytes
	}
	return h
})

// dummyHash returns a hash that matches no password, at the cost most used
// by hashes (the higher on a tie; bcrypt.DefaultCost when there are none).
// Comparing a password with it costs as much as comparing with a real hash
// of that cost, yet making it costs nothing: it is dummyBase with the cost
// field rewritten, so a file with a very high cost does not slow Load down.
func dummyHash(hashes [][]byte) []byte {
	count := map[int]int{}
	cost := bcrypt.DefaultCost
	best := 0
	for _, h := range hashes {
		c, err := bcrypt.Cost(h)
		if err != nil {
			continue
		}
		count[c]++
		if n := count[c]; n > best || n == best && c > cost {
			cost, best = c, n
		}
	}
	base := dummyBase()
	return fmt.Appendf(nil, "%s%02d%s", base[:4], cost, base[6:])
}
