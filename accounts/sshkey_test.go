package accounts

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

// newKey returns a fresh Ed25519 public key and its authorized_keys line.
func newKey(t *testing.T, comment string) (ssh.PublicKey, string) {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return key, strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key))) + " " + comment
}

func TestSSHKeysParsedAndAuthorized(t *testing.T) {
	k1, l1 := newKey(t, "alice@laptop")
	k2, l2 := newKey(t, "alice@ci")
	other, _ := newKey(t, "mallory")
	path := filepath.Join(t.TempDir(), "accounts.ini")
	os.WriteFile(path, []byte("[alice]\npassword = pw-alice-123\nssh_key = "+l1+"\nquota = 1MB\nssh_key = "+l2+"\n"), 0o600)
	s, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := s.Lookup("alice")
	if len(a.SSHKeys) != 2 || !a.Authorizes(k1.Marshal()) || !a.Authorizes(k2.Marshal()) || a.Authorizes(other.Marshal()) {
		t.Fatalf("keys %q: want both authorized and no other", a.SSHKeys)
	}
}

func TestSSHKeyLineErrors(t *testing.T) {
	_, l := newKey(t, "x")
	for _, tc := range []struct{ line, want string }{
		{"ssh_key = not a key", `:3: ssh_key: not an OpenSSH public key`},
		{`ssh_key = from="10.0.0.1" ` + l, `:3: ssh_key: authorized_keys options (from="10.0.0.1") are not taken`},
		{"ssh_key = ssh-ed25519 AAAA", `:3: ssh_key: not an OpenSSH public key`},
	} {
		path := filepath.Join(t.TempDir(), "accounts.ini")
		os.WriteFile(path, []byte("[alice]\npassword = pw-alice-123\n"+tc.line+"\n"), 0o600)
		_, err := Load(path)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want %q", tc.line, err, tc.want)
		}
	}
}

// TestSetKeysKeepsTheRestOfTheFile: the keys replace the old ones where
// the first stood; comments, other users and line endings are untouched;
// none removes them all.
func TestSetKeysKeepsTheRestOfTheFile(t *testing.T) {
	_, old := newKey(t, "old")
	k1, l1 := newKey(t, "new1")
	_, l2 := newKey(t, "new2")
	path := filepath.Join(t.TempDir(), "accounts.ini")
	before := "; team accounts\r\n[alice]\r\npassword = pw-alice-123 ; kept\r\nssh_key = " + old + "\r\nquota = 1MB\r\n\r\n[bob]\r\npassword = pw-bob-12345\r\n"
	os.WriteFile(path, []byte(before), 0o600)
	keys, err := ParseKeys([]byte("# mine\n\n" + l1 + "\n" + l2 + "\n"))
	if err != nil || len(keys) != 2 {
		t.Fatalf("ParseKeys: %q, %v", keys, err)
	}
	if err := SetKeys(context.Background(), File(path), "alice", keys); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	want := "; team accounts\r\n[alice]\r\npassword = pw-alice-123 ; kept\r\nssh_key  = " + l1 + "\r\nssh_key  = " + l2 + "\r\nquota = 1MB\r\n\r\n[bob]\r\npassword = pw-bob-12345\r\n"
	if string(got) != want {
		t.Fatalf("after SetKeys:\n%q\nwant\n%q", got, want)
	}
	s, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if a, _ := s.Lookup("alice"); !a.Authorizes(k1.Marshal()) {
		t.Error("the new key does not log in")
	}
	if err := SetKeys(context.Background(), File(path), "bob", keys[:1]); err != nil {
		t.Fatal(err)
	}
	if err := SetKeys(context.Background(), File(path), "alice", nil); err != nil {
		t.Fatal(err)
	}
	got, _ = os.ReadFile(path)
	want = "; team accounts\r\n[alice]\r\npassword = pw-alice-123 ; kept\r\nquota = 1MB\r\n\r\n[bob]\r\npassword = pw-bob-12345\r\nssh_key  = " + l1 + "\r\n"
	if string(got) != want {
		t.Fatalf("after removing alice's and giving bob one:\n%q\nwant\n%q", got, want)
	}
	if err := SetKeys(context.Background(), File(path), "carol", keys); err == nil || !strings.Contains(err.Error(), "no such user") && !strings.Contains(err.Error(), "carol") {
		t.Errorf("unknown user: %v", err)
	}
	if _, err := ParseKeys([]byte("garbage\n")); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("ParseKeys of garbage: %v", err)
	}
}
