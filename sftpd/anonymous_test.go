package sftpd_test

import (
	"os"
	"path/filepath"
	"testing"

	"ftpx/ftpxtest"
	"ftpx/server"

	"github.com/pkg/sftp"
)

// TestAnonymousReadOnly: with an anonymous root, "anonymous" logs in over
// SFTP with any password and reads the public tree; every change is
// refused with SSH_FX_PERMISSION_DENIED and the tree is unchanged.
func TestAnonymousReadOnly(t *testing.T) {
	pub := t.TempDir()
	os.WriteFile(filepath.Join(pub, "readme.txt"), []byte("public"), 0o644)
	ts := ftpxtest.NewServer(t, func(s *server.Server) {
		s.SetLive(server.Live{AnonymousRoot: pub, AnonymousMaxConns: 4})
	})
	addr := ts.StartSFTP(t)
	sc, _, err := dialSSH(t, ts, addr, server.AnonymousUser, "any@example.com")
	if err != nil {
		t.Fatalf("anonymous login: %v", err)
	}
	c, err := sftp.NewClient(sc)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	f, err := c.Open("/readme.txt")
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 64)
	n, _ := f.Read(b)
	f.Close()
	if string(b[:n]) != "public" {
		t.Fatalf("read %q, want the public file", b[:n])
	}
	_, err = c.Create("/x.txt")
	wantCode(t, "create", err, fxPermissionDenied)
	_, err = c.OpenFile("/readme.txt", os.O_WRONLY)
	wantCode(t, "open for writing", err, fxPermissionDenied)
	wantCode(t, "mkdir", c.Mkdir("/d"), fxPermissionDenied)
	wantCode(t, "remove", c.Remove("/readme.txt"), fxPermissionDenied)
	wantCode(t, "rename", c.Rename("/readme.txt", "/r.txt"), fxPermissionDenied)
	ents, _ := os.ReadDir(pub)
	if got, _ := os.ReadFile(filepath.Join(pub, "readme.txt")); len(ents) != 1 || string(got) != "public" {
		t.Fatalf("the public tree changed: %d entries, readme %q", len(ents), got)
	}
}
