package accounts

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"ftpx/protocol"

	"golang.org/x/crypto/bcrypt"
)

// testHash returns a bcrypt hash of password at bcrypt.MinCost, to keep the
// tests fast.
func testHash(t testing.TB, password string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

// writeAccounts writes content to a new accounts file and returns its path.
func writeAccounts(t testing.TB, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "accounts.ini")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func mustLoad(t testing.TB, path string) *Store {
	t.Helper()
	s, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestLoadGoodFile(t *testing.T) {
	path := writeAccounts(t, `; the team
[alex]
password = `+testHash(t, "alex-pw")+`   ; bcrypt hash
quota    = 100MB             ; a comment

# another comment style
[bea]
Password = `+testHash(t, "bea-pw")+`
QUOTA = unlimited

[carl]
password = "`+testHash(t, "carl-pw")+`"
`)
	s := mustLoad(t, path)
	want := []Account{
		{Name: "alex", Quota: 100 << 20, Perms: protocol.PermAll},
		{Name: "bea", Quota: Unlimited, Perms: protocol.PermAll},
		{Name: "carl", Quota: Unlimited, Perms: protocol.PermAll},
	}
	if got := s.Users(); !reflect.DeepEqual(got, want) {
		t.Errorf("Users() = %+v, want %+v", got, want)
	}
	if w := s.Warnings(); len(w) != 0 {
		t.Errorf("Warnings() = %q, want none", w)
	}
	if a, ok := s.Lookup("alex"); !ok || !reflect.DeepEqual(a, want[0]) {
		t.Errorf("Lookup(alex) = %+v, %v", a, ok)
	}
	if _, ok := s.Lookup("nobody"); ok {
		t.Error("Lookup(nobody) found a user")
	}
	if _, ok := s.Lookup("Alex"); ok {
		t.Error("user names should be case-sensitive")
	}
	if s.Path() != path {
		t.Errorf("Path() = %q, want %q", s.Path(), path)
	}
	for name, pw := range map[string]string{"alex": "alex-pw", "bea": "bea-pw", "carl": "carl-pw"} {
		if _, err := s.Authenticate(name, pw); err != nil {
			t.Errorf("Authenticate(%s) = %v", name, err)
		}
	}
}

func TestLoadLegacyKeys(t *testing.T) {
	path := writeAccounts(t, "[old]\r\nPassword = "+testHash(t, "pw")+"\r\nQuotation = 100\r\n")
	s := mustLoad(t, path)
	a, ok := s.Lookup("old")
	if !ok || a.Quota != 100<<20 || a.Plaintext {
		t.Errorf("Lookup(old) = %+v, %v; want a 100MB quota", a, ok)
	}
}

func TestLoadPlaintextWarns(t *testing.T) {
	path := writeAccounts(t, "[bob]\npassword = hunter2#x ; a comment\n[amy]\npassword = "+testHash(t, "pw")+"\n")
	s := mustLoad(t, path)
	a, _ := s.Lookup("bob")
	if !a.Plaintext {
		t.Errorf("bob: Plaintext = false")
	}
	want := []string{`user "bob" has a plaintext password; hash it with: ftpx-server user passwd bob`}
	if got := s.Warnings(); !reflect.DeepEqual(got, want) {
		t.Errorf("Warnings() = %q, want %q", got, want)
	}
	if _, err := s.Authenticate("bob", "hunter2#x"); err != nil {
		t.Errorf("plaintext password refused: %v", err)
	}
	if _, err := s.Authenticate("bob", "hunter2"); !errors.Is(err, ErrBadPassword) {
		t.Errorf("wrong plaintext password: %v", err)
	}
}

func TestLoadEmptyFile(t *testing.T) {
	s := mustLoad(t, writeAccounts(t, "; nobody yet\n"))
	if len(s.Users()) != 0 {
		t.Errorf("Users() = %v", s.Users())
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.ini"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load of a missing file = %v, want fs.ErrNotExist", err)
	}
}

func TestLoadMalformedNamesLine(t *testing.T) {
	h := testHash(t, "pw")
	good := "; header\n[alex]\npassword = " + h + "\n" // lines 1-3
	for _, tc := range []struct {
		name, content string
		line          int
		msg           string
	}{
		{"broken section", good + "[bob\npassword = x\n", 4, "broken section line"},
		{"text after section", good + "[bob] x\n", 4, "broken section line"},
		{"unknown key", good + "colour = blue\n", 4, `unknown key "colour"`},
		{"bad quota", good + "quota = lots\n", 4, `quota: "lots" is not a size`},
		{"negative quota", good + "quota = -5MB\n", 4, "quota:"},
		{"bad quotation", good + "Quotation = 1GB\n", 4, "quotation:"},
		{"key outside section", "password = x\n" + good, 1, "outside any [user] section"},
		{"key after comment outside section", "; c\n\nquota = 1MB\n", 3, "outside any"},
		{"no password", good + "[bob]\nquota = 1MB\n\n[carl]\npassword = x\n", 4, `user "bob" has no password`},
		{"no password at end", good + "\n[bob]\n", 5, `user "bob" has no password`},
		{"empty password", good + "[bob]\npassword =\n", 5, "password is empty"},
		{"invalid name", good + "[bad name]\n", 4, "invalid user name"},
		{"dot name", good + "[.hidden]\n", 4, "invalid user name"},
		{"empty name", good + "[]\n", 4, "invalid user name"},
		{"duplicate user", good + "[alex]\npassword = y\n", 4, "already defined on line 2"},
		{"duplicate key", good + "Password = y\n", 4, `duplicate key "password" (first on line 3)`},
		{"quota and quotation", good + "quota = 1MB\nquotation = 5\n", 5, "both quota and quotation"},
		{"no equals", good + "password\n", 4, "broken line"},
		{"no key", good + "= x\n", 4, "missing key"},
		{"unclosed quote", good + `quota = "1MB` + "\n", 4, "missing closing quote"},
		{"bad hash", good + "[bob]\npassword = $2a$10$short\n", 5, "bcrypt hash"},
		{"bad hash cost", good + "[bob]\npassword = " + strings.Replace(h, "$04$", "$99$", 1) + "\n", 5, "bcrypt hash"},
		{"crlf", strings.ReplaceAll(good, "\n", "\r\n") + "quota = lots\r\n", 4, "quota:"},
		{"bad perms", good + "perms = read,exec\n", 4, `unknown permission "exec"`},
		{"perms twice", good + "perms = read,read\n", 4, "given twice"},
		{"empty perms", good + "perms =\n", 4, "perms: no permissions"},
		{"bad max_sessions", good + "max_sessions = 0\n", 4, "max_sessions"},
		{"bad rate", good + "upload_rate = fast\n", 4, "upload_rate"},
		{"rate too low", good + "download_rate = 100B\n", 4, "below the minimum"},
		{"folder relative", good + "folder.shared = srv/team read\n", 4, "not absolute"},
		{"folder no perms", good + "folder.shared = /srv/team\n", 4, "folder.shared:"},
		{"folder bad perms", good + "folder.shared = /srv/team read,wirte\n", 4, `unknown permission "wirte"`},
		{"folder bad quota", good + "folder.shared = /srv/team read quota=lots\n", 4, "quota:"},
		{"folder bad bucket", good + "folder.shared = s3://x read\n", 4, "bucket name"},
		{"folder bad name", good + "folder..x = /srv/team read\n", 4, "invalid folder name"},
		{"folder empty name", good + "folder. = /srv/team read\n", 4, "invalid folder name"},
		{"folder twice", good + "folder.a = /x read\nFolder.A = /y read\n", 5, "duplicate key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeAccounts(t, tc.content)
			_, err := Load(path)
			if err == nil {
				t.Fatal("Load succeeded")
			}
			prefix := fmt.Sprintf("%s:%d: ", path, tc.line)
			if !strings.HasPrefix(err.Error(), prefix) || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q, want %q...%q", err, prefix, tc.msg)
			}
		})
	}
}

func TestLoadErrorDoesNotShowPassword(t *testing.T) {
	path := writeAccounts(t, "[bob]\npassword = s3cret-value\npassword = s3cret-value\n")
	_, err := Load(path)
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("error %v", err)
	}
}

func TestReloadPicksUpChange(t *testing.T) {
	path := writeAccounts(t, "[alex]\npassword = "+testHash(t, "old")+"\n")
	s := mustLoad(t, path)
	if err := os.WriteFile(path, []byte("[alex]\npassword = "+testHash(t, "new")+"\nquota = 1GB\n[bea]\npassword = x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	if a, _ := s.Lookup("alex"); a.Quota != 1<<30 {
		t.Errorf("after Reload alex = %+v", a)
	}
	if _, err := s.Authenticate("alex", "new"); err != nil {
		t.Errorf("new password refused: %v", err)
	}
	if len(s.Users()) != 2 || len(s.Warnings()) != 1 {
		t.Errorf("after Reload: users %v, warnings %q", s.Users(), s.Warnings())
	}
}

func TestReloadKeepsOldContentOnError(t *testing.T) {
	path := writeAccounts(t, "[alex]\npassword = "+testHash(t, "pw")+"\n")
	s := mustLoad(t, path)
	if err := os.WriteFile(path, []byte("[alex]\npassword = x\nquota = lots\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := s.Reload()
	if err == nil || !strings.HasPrefix(err.Error(), path+":3: ") {
		t.Fatalf("Reload of a broken file = %v", err)
	}
	if _, err := s.Authenticate("alex", "pw"); err != nil {
		t.Errorf("old content lost: %v", err)
	}
	os.Remove(path)
	if err := s.Reload(); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Reload of a missing file = %v", err)
	}
	if _, ok := s.Lookup("alex"); !ok {
		t.Error("old content lost")
	}
}

func TestStoreConcurrentUse(t *testing.T) {
	path := writeAccounts(t, "[alex]\npassword = plain\n[bea]\npassword = "+testHash(t, "pw")+"\n")
	s := mustLoad(t, path)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 20 {
				s.Lookup("alex")
				s.Users()
				s.Warnings()
				s.Authenticate("alex", "plain")
			}
		})
	}
	for range 5 {
		if err := s.Reload(); err != nil {
			t.Error(err)
		}
	}
	wg.Wait()
}

func TestValidName(t *testing.T) {
	for _, name := range []string{"a", "alex", "anonymous", "A.b_c-d", "0", "x.", strings.Repeat("a", 64)} {
		if !ValidName(name) {
			t.Errorf("ValidName(%q) = false", name)
		}
	}
	for _, name := range []string{"", ".", "..", ".x", "-x", "a b", "a/b", `a\b`, "é", "a\x00", strings.Repeat("a", 65)} {
		if ValidName(name) {
			t.Errorf("ValidName(%q) = true", name)
		}
	}
}

func TestLoadFoldersPermsAndLimits(t *testing.T) {
	path := writeAccounts(t, `[alice]
password     = `+testHash(t, "pw")+`
quota        = 1GB
perms        = read,write
max_sessions = 4
upload_rate  = 10MB
download_rate = 512KB
folder.Shared = /srv/team read,write        ; a comment
folder.docs   = "/srv/my docs; old read quota=10MB"
folder.drop   = /srv/drop write
folder.bucket = s3://team-files/shared/ read quota=1GB
`)
	a, ok := mustLoad(t, path).Lookup("alice")
	if !ok {
		t.Fatal("alice not loaded")
	}
	want := Account{Name: "alice", Quota: 1 << 30, Perms: protocol.PermRead | protocol.PermWrite, MaxSessions: 4,
		UploadRate: 10 << 20, DownloadRate: 512 << 10, Folders: []Folder{
			{Name: "Shared", Dir: "/srv/team", Perms: protocol.PermRead | protocol.PermWrite},
			{Name: "docs", Dir: "/srv/my docs; old", Perms: protocol.PermRead, Quota: 10 << 20, OwnQuota: true},
			{Name: "drop", Dir: "/srv/drop", Perms: protocol.PermWrite},
			{Name: "bucket", Dir: "s3://team-files/shared", Perms: protocol.PermRead, Quota: 1 << 30, OwnQuota: true},
		}}
	if !reflect.DeepEqual(a, want) {
		t.Errorf("alice = %+v\nwant %+v", a, want)
	}
}

func TestAddUserWithFolders(t *testing.T) {
	path := filepath.Join(t.TempDir(), "accounts.ini")
	folders := []Folder{
		{Name: "shared", Dir: "/srv/team", Perms: protocol.PermRead | protocol.PermWrite},
		{Name: "odd", Dir: "/srv/a;b #c", Perms: protocol.PermAll, Quota: 5 << 20, OwnQuota: true},
		{Name: "s3", Dir: "s3://ftpx/team", Perms: protocol.PermRead},
	}
	if err := AddUser(context.Background(), File(path), "alex", "pw", Unlimited, testCost, folders...); err != nil {
		t.Fatal(err)
	}
	a, _ := mustLoad(t, path).Lookup("alex")
	if !reflect.DeepEqual(a.Folders, folders) {
		t.Errorf("folders read back: %+v, want %+v", a.Folders, folders)
	}
	for _, bad := range [][]Folder{
		{{Name: "x", Dir: "relative", Perms: protocol.PermRead}},
		{{Name: "x", Dir: "/a/../b", Perms: protocol.PermRead}},
		{{Name: "x", Dir: "s3://ftpx/a/../b", Perms: protocol.PermRead}},
		{{Name: "x", Dir: "s3://Ftpx", Perms: protocol.PermRead}},
		{{Name: "x", Dir: "/a", Perms: 0}},
		{{Name: ".x", Dir: "/a", Perms: protocol.PermRead}},
		{{Name: "x", Dir: `/a"b`, Perms: protocol.PermRead}},
		{{Name: "x", Dir: "/a", Perms: protocol.PermRead}, {Name: "X", Dir: "/b", Perms: protocol.PermRead}},
	} {
		if err := AddUser(context.Background(), File(path), "bea", "pw", Unlimited, testCost, bad...); err == nil {
			t.Errorf("AddUser with folders %+v succeeded", bad)
		}
	}
	if _, ok := mustLoad(t, path).Lookup("bea"); ok {
		t.Error("a refused AddUser wrote the user")
	}
}
