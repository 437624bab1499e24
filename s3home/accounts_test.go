package s3home_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync"
	"testing"

	"ftpx/accounts"
	"ftpx/internal/s3url"
	"ftpx/s3home"

	"github.com/google/uuid"
	"golang.org/x/crypto/bcrypt"
)

// newAccountsFile returns an accounts file of its own on the package's
// MinIO, not written yet, and its URL.
func newAccountsFile(t *testing.T) (*s3home.AccountsFile, string) {
	t.Helper()
	url := fmt.Sprintf("s3://ftpx-test/accounts-%s-%d/accounts.ini", strings.ReplaceAll(t.Name(), "/", "-"), trees.Add(1))
	u, err := s3url.Parse(url)
	if err != nil {
		t.Fatal(err)
	}
	a, err := newClient(t).AccountsFile(u)
	if err != nil {
		t.Fatal(err)
	}
	return a, url
}

func TestAccountsFileWritesOnlyOverTheVersionRead(t *testing.T) {
	ctx := context.Background()
	a, url := newAccountsFile(t)
	if a.Name() != url {
		t.Errorf("Name() = %q, want %q", a.Name(), url)
	}
	if _, _, err := a.Read(ctx, ""); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Read of a missing file = %v", err)
	}
	first := []byte("[alex]\npassword = x\n")
	if err := a.Write(ctx, first, ""); err != nil {
		t.Fatal(err)
	}
	if err := a.Write(ctx, []byte("[bea]\npassword = y\n"), ""); !errors.Is(err, accounts.ErrConflict) {
		t.Fatalf("a second create = %v, want ErrConflict", err)
	}
	data, v1, err := a.Read(ctx, "")
	if err != nil || string(data) != string(first) || v1 == "" {
		t.Fatalf("Read = %q, %q, %v", data, v1, err)
	}
	// Two editors read v1; the first to write wins, the second is refused.
	won := []byte("[alex]\npassword = x\n[bea]\npassword = y\n")
	if err := a.Write(ctx, won, v1); err != nil {
		t.Fatal(err)
	}
	if err := a.Write(ctx, []byte("[alex]\npassword = x\n[carl]\npassword = z\n"), v1); !errors.Is(err, accounts.ErrConflict) {
		t.Fatalf("a write over a stale version = %v, want ErrConflict", err)
	}
	data, v2, err := a.Read(ctx, v1)
	if err != nil || string(data) != string(won) || v2 == v1 {
		t.Fatalf("Read after the change = %q, %q, %v", data, v2, err)
	}
	if data, v, err := a.Read(ctx, v2); !errors.Is(err, accounts.ErrUnchanged) || data != nil || v != v2 {
		t.Fatalf("Read of the known version = %q, %q, %v; want ErrUnchanged", data, v, err)
	}
}

func TestAccountsFileConcurrentEditsAllLand(t *testing.T) {
	ctx := context.Background()
	a, _ := newAccountsFile(t)
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for i := range 10 {
		wg.Go(func() {
			errs <- accounts.AddUser(ctx, a, fmt.Sprintf("user%d", i), "pw", accounts.Unlimited, bcrypt.MinCost)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	s, err := accounts.LoadFrom(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(s.Users()); n != 10 {
		t.Fatalf("%d users after 10 concurrent adds: %v", n, s.Users())
	}
	if _, err := s.Authenticate("user7", "pw"); err != nil {
		t.Error(err)
	}
}

func TestAccountsFileCreatedWithItsBucket(t *testing.T) {
	ctx := context.Background()
	u, _ := s3url.Parse("s3://ftpx-acc-" + uuid.NewString()[:8] + "/etc/accounts.ini")
	a, err := newClient(t).AccountsFile(u)
	if err != nil {
		t.Fatal(err)
	}
	if err := accounts.AddUser(ctx, a, "alex", "pw", 1<<30, bcrypt.MinCost); err != nil {
		t.Fatal(err)
	}
	s, err := accounts.LoadFrom(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	if acct, err := s.Authenticate("alex", "pw"); err != nil || acct.Quota != 1<<30 {
		t.Errorf("alex: %+v, %v", acct, err)
	}
}

func TestAccountsFileNeedsAKey(t *testing.T) {
	u, _ := s3url.Parse("s3://ftpx-test")
	c, err := s3home.New(s3home.Config{Endpoint: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.AccountsFile(u); err == nil || err.Error() != "accounts s3://ftpx-test: no key (want s3://BUCKET/KEY)" {
		t.Errorf("AccountsFile(s3://ftpx-test) = %v", err)
	}
}
