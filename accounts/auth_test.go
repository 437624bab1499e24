package accounts

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"ftpx/protocol"

	"golang.org/x/crypto/bcrypt"
)

// testCost keeps the tests fast; TestHashPasswordUsesDefaultCost checks
// the real default.
const testCost = bcrypt.MinCost

func TestHashPasswordUsesDefaultCost(t *testing.T) {
	h, err := HashPassword("pw", 0)
	if err != nil {
		t.Fatal(err)
	}
	if cost, err := bcrypt.Cost([]byte(h)); err != nil || cost != bcrypt.DefaultCost {
		t.Errorf("cost %d, %v; want %d", cost, err, bcrypt.DefaultCost)
	}
	if err := bcrypt.CompareHashAndPassword([]byte(h), []byte("pw")); err != nil {
		t.Error(err)
	}
	if err := checkHash(h); err != nil {
		t.Errorf("checkHash(%q) = %v", h, err)
	}
}

func TestHashPasswordRejects(t *testing.T) {
	for _, pw := range []string{"", strings.Repeat("x", 73)} {
		if _, err := HashPassword(pw, testCost); err == nil {
			t.Errorf("HashPassword(%d bytes) succeeded", len(pw))
		}
	}
}

func TestAuthenticate(t *testing.T) {
	s := mustLoad(t, writeAccounts(t, "[alex]\npassword = "+testHash(t, "right")+"\nquota = 1GB\n"))
	a, err := s.Authenticate("alex", "right")
	if err != nil || !reflect.DeepEqual(a, Account{Name: "alex", Quota: 1 << 30, Perms: protocol.PermAll}) {
		t.Errorf("right password: %+v, %v", a, err)
	}
	for _, tc := range []struct{ name, password string }{
		{"alex", "wrong"},
		{"alex", ""},
		{"alex", "Right"},
		{"nobody", "right"},
		{"", ""},
		{"Alex", "right"},
	} {
		a, err := s.Authenticate(tc.name, tc.password)
		if !errors.Is(err, ErrBadPassword) || !reflect.DeepEqual(a, Account{}) {
			t.Errorf("Authenticate(%q, %q) = %+v, %v; want ErrBadPassword", tc.name, tc.password, a, err)
		}
	}
}

func TestDummyHashUsesTheFilesCost(t *testing.T) {
	hashAt := func(cost int) string {
		h, err := bcrypt.GenerateFromPassword([]byte("pw"), cost)
		if err != nil {
			t.Fatal(err)
		}
		return string(h)
	}
	for _, tc := range []struct {
		name  string
		costs []int
		want  int
	}{
		{"none", nil, bcrypt.DefaultCost},
		{"min", []int{4, 4}, 4},
		{"most used", []int{5, 4, 4}, 4},
		{"tie takes the higher", []int{4, 6}, 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			b.WriteString("[plain]\npassword = plaintext\n")
			for i, c := range tc.costs {
				b.WriteString("[u" + string(rune('a'+i)) + "]\npassword = " + hashAt(c) + "\n")
			}
			s := mustLoad(t, writeAccounts(t, b.String()))
			dummy := s.current.Load().dummy
			cost, err := bcrypt.Cost(dummy)
			if err != nil || cost != tc.want {
				t.Errorf("dummy cost %d, %v; want %d", cost, err, tc.want)
			}
			if err := checkHash(string(dummy)); err != nil {
				t.Errorf("dummy %q: %v", dummy, err)
			}
		})
	}
}

// TestUnknownUserTakesAsLongAsWrongPassword is a sanity check, not a
// benchmark: the medians of the two failures must be within a factor of 2.
func TestUnknownUserTakesAsLongAsWrongPassword(t *testing.T) {
	s := mustLoad(t, writeAccounts(t,
		"[alex]\npassword = "+testHash(t, "right")+"\n[bea]\npassword = "+testHash(t, "other")+"\n"))
	const n = 15
	var unknown, wrong []time.Duration
	measure := func(name string) time.Duration {
		start := time.Now()
		if _, err := s.Authenticate(name, "guess"); !errors.Is(err, ErrBadPassword) {
			t.Fatalf("Authenticate(%s) = %v", name, err)
		}
		return time.Since(start)
	}
	measure("alex") // warm up
	for range n {
		unknown = append(unknown, measure("nobody"))
		wrong = append(wrong, measure("alex"))
	}
	slices.Sort(unknown)
	slices.Sort(wrong)
	u, w := unknown[n/2], wrong[n/2]
	t.Logf("median: unknown user %v, wrong password %v", u, w)
	if u > 2*w || w > 2*u {
		t.Errorf("median unknown user %v vs wrong password %v: more than a factor of 2 apart", u, w)
	}
}

// BenchmarkAuthenticate measures a login at bcrypt's default cost for a
// wrong password and for an unknown user: the two must cost the same.
// `go test -bench Authenticate ./accounts` prints them side by side.
func BenchmarkAuthenticate(b *testing.B) {
	path := filepath.Join(b.TempDir(), "accounts.ini")
	if err := AddUser(context.Background(), File(path), "alice", "right", Unlimited, 0); err != nil {
		b.Fatal(err)
	}
	s, err := Load(path)
	if err != nil {
		b.Fatal(err)
	}
	for _, who := range []string{"alice", "nobody"} {
		b.Run(who, func(b *testing.B) {
			for b.Loop() {
				if _, err := s.Authenticate(who, "wrong"); err == nil {
					b.Fatal("accepted")
				}
			}
		})
	}
}

// TestVerifiedPasswordsRemembered: a right password is remembered once
// bcrypt verified it (one entry, which a second login finds), a wrong one
// never is, and a password changed since (another hash) is not accepted
// from memory: the old one fails, the new one works.
func TestVerifiedPasswordsRemembered(t *testing.T) {
	path := writeAccounts(t, "[alex]\npassword = "+testHash(t, "right")+"\n")
	s := mustLoad(t, path)
	for range 3 {
		if _, err := s.Authenticate("alex", "wrong"); !errors.Is(err, ErrBadPassword) {
			t.Fatalf("wrong password: %v", err)
		}
	}
	if n := len(s.ok.at); n != 0 {
		t.Fatalf("%d entries after wrong passwords only", n)
	}
	for range 2 {
		if _, err := s.Authenticate("alex", "right"); err != nil {
			t.Fatalf("right password: %v", err)
		}
	}
	if n := len(s.ok.at); n != 1 {
		t.Fatalf("%d entries after two logins with the right password, want 1", n)
	}
	if _, err := s.Authenticate("alex", "right "); !errors.Is(err, ErrBadPassword) {
		t.Fatalf("another password after a remembered one: %v", err)
	}
	if err := os.WriteFile(path, []byte("[alex]\npassword = "+testHash(t, "new")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate("alex", "right"); !errors.Is(err, ErrBadPassword) {
		t.Fatalf("the old password after passwd: %v", err)
	}
	if _, err := s.Authenticate("alex", "new"); err != nil {
		t.Fatalf("the new password: %v", err)
	}
}
