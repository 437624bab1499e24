package accounts

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// original is an accounts file with comments and odd spacing that edits
// must keep byte for byte.
func original(t *testing.T) string {
	return "; accounts of the team\n" +
		"# keep sorted\n" +
		"\n" +
		"[alex]   ; sales\n" +
		"password   =  " + testHash(t, "alex-pw") + "   ; set by hand\n" +
		"quota=100MB\n" +
		"\n" +
		"; bea is the admin\n" +
		"[bea]\n" +
		"\tPassword = bea-plain ; TODO hash\n" +
		"; trailing comment\n"
}

func readString(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// onlyFile checks that dir holds nothing but the accounts file: no
// temporary file is left behind.
func onlyFile(t *testing.T, path string) {
	t.Helper()
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != filepath.Base(path) {
			t.Errorf("left behind: %s", e.Name())
		}
	}
}

func TestAddUserCreatesFileWith0600(t *testing.T) {
	path := filepath.Join(t.TempDir(), "accounts.ini")
	if err := AddUser(context.Background(), File(path), "alex", "pw", 100<<20, testCost); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	got := readString(t, path)
	if !strings.HasPrefix(got, "[alex]\npassword = $2a$") || !strings.HasSuffix(got, "\nquota    = 100MB\n") {
		t.Errorf("file:\n%s", got)
	}
	s := mustLoad(t, path)
	if a, err := s.Authenticate("alex", "pw"); err != nil || a.Quota != 100<<20 {
		t.Errorf("Authenticate = %+v, %v", a, err)
	}
	onlyFile(t, path)
}

func TestAddUserUnlimitedOmitsQuota(t *testing.T) {
	path := filepath.Join(t.TempDir(), "accounts.ini")
	if err := AddUser(context.Background(), File(path), "alex", "pw", Unlimited, testCost); err != nil {
		t.Fatal(err)
	}
	if got := readString(t, path); strings.Contains(got, "quota") {
		t.Errorf("file:\n%s", got)
	}
	if a, _ := mustLoad(t, path).Lookup("alex"); a.Quota != Unlimited {
		t.Errorf("quota %d", a.Quota)
	}
}

func TestAddUserKeepsTheRestByteForByte(t *testing.T) {
	orig := original(t)
	path := writeAccounts(t, orig)
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := AddUser(context.Background(), File(path), "carl", "carl-pw", 1<<30, testCost); err != nil {
		t.Fatal(err)
	}
	got := readString(t, path)
	added, ok := strings.CutPrefix(got, orig)
	if !ok {
		t.Fatalf("the original content changed:\n%s", got)
	}
	if !strings.HasPrefix(added, "\n[carl]\npassword = $2a$") || !strings.HasSuffix(added, "\nquota    = 1GB\n") {
		t.Errorf("added:\n%s", added)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want the file's 0640 kept", fi.Mode().Perm())
	}
	if _, err := mustLoad(t, path).Authenticate("carl", "carl-pw"); err != nil {
		t.Error(err)
	}
	onlyFile(t, path)

	// Deleting the user gives back the original file.
	if err := DeleteUser(context.Background(), File(path), "carl"); err != nil {
		t.Fatal(err)
	}
	if got := readString(t, path); got != orig {
		t.Errorf("after AddUser and DeleteUser:\n%s\nwant:\n%s", got, orig)
	}
}

func TestAddUserKeepsCRLF(t *testing.T) {
	orig := strings.ReplaceAll(original(t), "\n", "\r\n")
	path := writeAccounts(t, orig)
	if err := AddUser(context.Background(), File(path), "carl", "pw", Unlimited, testCost); err != nil {
		t.Fatal(err)
	}
	added, ok := strings.CutPrefix(readString(t, path), orig)
	if !ok || strings.Count(added, "\n") != strings.Count(added, "\r\n") {
		t.Errorf("added %q", added)
	}
}

func TestAddUserWithoutFinalNewline(t *testing.T) {
	path := writeAccounts(t, "; no newline at the end")
	if err := AddUser(context.Background(), File(path), "carl", "pw", Unlimited, testCost); err != nil {
		t.Fatal(err)
	}
	if got := readString(t, path); !strings.HasPrefix(got, "; no newline at the end\n\n[carl]\n") {
		t.Errorf("file:\n%s", got)
	}
}

func TestAddUserExisting(t *testing.T) {
	orig := original(t)
	path := writeAccounts(t, orig)
	err := AddUser(context.Background(), File(path), "bea", "pw", Unlimited, testCost)
	if !errors.Is(err, ErrExists) || !strings.Contains(err.Error(), "bea") {
		t.Errorf("AddUser of an existing user = %v, want ErrExists naming bea", err)
	}
	if readString(t, path) != orig {
		t.Error("file changed")
	}
	onlyFile(t, path)
}

func TestAddUserBadName(t *testing.T) {
	path := filepath.Join(t.TempDir(), "accounts.ini")
	for _, name := range []string{"", "a b", "../x", "-x", "[x]"} {
		if err := AddUser(context.Background(), File(path), name, "pw", Unlimited, testCost); !errors.Is(err, ErrBadName) {
			t.Errorf("AddUser(%q) = %v, want ErrBadName", name, err)
		}
	}
	if _, err := os.Stat(path); err == nil {
		t.Error("file created")
	}
}

func TestEditRefusesMalformedFile(t *testing.T) {
	orig := "[alex]\npassword = x\nquota = lots\n"
	path := writeAccounts(t, orig)
	err := AddUser(context.Background(), File(path), "bea", "pw", Unlimited, testCost)
	if err == nil || !strings.HasPrefix(err.Error(), path+":3: ") {
		t.Errorf("AddUser on a broken file = %v", err)
	}
	if readString(t, path) != orig {
		t.Error("file changed")
	}
}

func TestSetPassword(t *testing.T) {
	orig := original(t)
	path := writeAccounts(t, orig)
	if err := SetPassword(context.Background(), File(path), "bea", "new-pw", testCost); err != nil {
		t.Fatal(err)
	}
	got := readString(t, path)
	origLines, gotLines := strings.Split(orig, "\n"), strings.Split(got, "\n")
	if len(origLines) != len(gotLines) {
		t.Fatalf("file:\n%s", got)
	}
	for i := range origLines {
		if i == 9 {
			if !strings.HasPrefix(gotLines[i], "\tPassword = $2a$") || !strings.HasSuffix(gotLines[i], " ; TODO hash") {
				t.Errorf("password line %q", gotLines[i])
			}
		} else if gotLines[i] != origLines[i] {
			t.Errorf("line %d: %q, want %q", i+1, gotLines[i], origLines[i])
		}
	}
	s := mustLoad(t, path)
	if a, err := s.Authenticate("bea", "new-pw"); err != nil || a.Plaintext {
		t.Errorf("Authenticate(bea) = %+v, %v", a, err)
	}
	if _, err := s.Authenticate("bea", "bea-plain"); err == nil {
		t.Error("old password still works")
	}
	if w := s.Warnings(); len(w) != 0 {
		t.Errorf("Warnings() = %q", w)
	}
	if _, err := s.Authenticate("alex", "alex-pw"); err != nil {
		t.Error(err)
	}
	onlyFile(t, path)
}

func TestSetPasswordQuoted(t *testing.T) {
	path := writeAccounts(t, "[alex]\npassword = \"old ; pw\" ; quoted\n")
	if err := SetPassword(context.Background(), File(path), "alex", "new", testCost); err != nil {
		t.Fatal(err)
	}
	got := readString(t, path)
	if !strings.HasPrefix(got, "[alex]\npassword = $2a$") || !strings.HasSuffix(got, " ; quoted\n") {
		t.Errorf("file:\n%s", got)
	}
}

func TestDeleteUser(t *testing.T) {
	path := writeAccounts(t, original(t))
	if err := DeleteUser(context.Background(), File(path), "alex"); err != nil {
		t.Fatal(err)
	}
	want := "; accounts of the team\n# keep sorted\n\n; bea is the admin\n[bea]\n\tPassword = bea-plain ; TODO hash\n; trailing comment\n"
	if got := readString(t, path); got != want {
		t.Errorf("file:\n%s\nwant:\n%s", got, want)
	}
	if err := DeleteUser(context.Background(), File(path), "bea"); err != nil {
		t.Fatal(err)
	}
	want = "; accounts of the team\n# keep sorted\n\n; bea is the admin\n; trailing comment\n"
	if got := readString(t, path); got != want {
		t.Errorf("file:\n%s\nwant:\n%s", got, want)
	}
	if users := mustLoad(t, path).Users(); len(users) != 0 {
		t.Errorf("Users() = %v", users)
	}
	onlyFile(t, path)
}

func TestUnknownUserEdits(t *testing.T) {
	orig := original(t)
	path := writeAccounts(t, orig)
	if err := SetPassword(context.Background(), File(path), "nobody", "pw", testCost); !errors.Is(err, ErrNoUser) || !strings.Contains(err.Error(), "nobody") {
		t.Errorf("SetPassword(nobody) = %v, want ErrNoUser", err)
	}
	if err := DeleteUser(context.Background(), File(path), "nobody"); !errors.Is(err, ErrNoUser) {
		t.Errorf("DeleteUser(nobody) = %v, want ErrNoUser", err)
	}
	if readString(t, path) != orig {
		t.Error("file changed")
	}
	onlyFile(t, path)
}

func TestEditThroughSymlinkKeepsSymlink(t *testing.T) {
	path := writeAccounts(t, original(t))
	link := filepath.Join(t.TempDir(), "link.ini")
	if err := os.Symlink(path, link); err != nil {
		t.Skip(err)
	}
	if err := AddUser(context.Background(), File(link), "carl", "pw", Unlimited, testCost); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("symlink replaced: %v, %v", fi, err)
	}
	if _, ok := mustLoad(t, path).Lookup("carl"); !ok {
		t.Error("carl not in the target file")
	}
}

func TestAddUserRefusesNameDifferingOnlyInCase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "accounts.ini")
	if err := AddUser(context.Background(), File(path), "alice", "pw", Unlimited, testCost); err != nil {
		t.Fatal(err)
	}
	if err := AddUser(context.Background(), File(path), "ALICE", "pw", Unlimited, testCost); !errors.Is(err, ErrExists) {
		t.Fatalf("AddUser(ALICE) next to alice: %v, want ErrExists", err)
	}
	os.WriteFile(path, []byte("[alice]\npassword = a\n[Alice]\npassword = b\n"), 0o600)
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), ":3:") {
		t.Fatalf("Load of alice and Alice: %v, want an error on line 3", err)
	}
}

// SetQuota changes only the quota's value; a user without a quota line
// gets one after its last key line; unlimited removes it; an old
// "quotation" line is renamed.
func TestSetQuota(t *testing.T) {
	orig := original(t)
	path := writeAccounts(t, orig)
	if err := SetQuota(context.Background(), File(path), "alex", 5<<30); err != nil {
		t.Fatal(err)
	}
	if got, want := readString(t, path), strings.Replace(orig, "quota=100MB\n", "quota=5GB\n", 1); got != want {
		t.Fatalf("after alex's quota:\n%s\nwant:\n%s", got, want)
	}
	if err := SetQuota(context.Background(), File(path), "bea", 2<<20); err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(orig, "quota=100MB\n", "quota=5GB\n", 1)
	want = strings.Replace(want, "\tPassword = bea-plain ; TODO hash\n", "\tPassword = bea-plain ; TODO hash\nquota    = 2MB\n", 1)
	if got := readString(t, path); got != want {
		t.Fatalf("after bea's new quota line:\n%s\nwant:\n%s", got, want)
	}
	s := mustLoad(t, path)
	if a, _ := s.Lookup("alex"); a.Quota != 5<<30 {
		t.Errorf("alex's quota %d", a.Quota)
	}
	if a, _ := s.Lookup("bea"); a.Quota != 2<<20 {
		t.Errorf("bea's quota %d", a.Quota)
	}
	if err := SetQuota(context.Background(), File(path), "alex", Unlimited); err != nil {
		t.Fatal(err)
	}
	if got := readString(t, path); got != strings.Replace(want, "quota=5GB\n", "", 1) {
		t.Fatalf("after alex's quota removed:\n%s", got)
	}
	if a, _ := mustLoad(t, path).Lookup("alex"); a.Quota != Unlimited {
		t.Errorf("alex's quota %d, want unlimited", a.Quota)
	}
	if err := SetQuota(context.Background(), File(path), "nobody", 1); !errors.Is(err, ErrNoUser) {
		t.Errorf("SetQuota(nobody): %v, want ErrNoUser", err)
	}
	legacy := writeAccounts(t, "[cy]\npassword = "+testHash(t, "pw")+"\nQuotation = 1024 ; old name, in MB\n")
	if err := SetQuota(context.Background(), File(legacy), "cy", 3<<30); err != nil {
		t.Fatal(err)
	}
	if got := readString(t, legacy); !strings.HasSuffix(got, "\nquota = 3GB ; old name, in MB\n") {
		t.Errorf("legacy quotation line: %q", got)
	}
	onlyFile(t, path)
}
