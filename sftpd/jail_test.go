package sftpd_test

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ftpx/accounts"
	"ftpx/home"
)

// snapshot describes every entry under dir: its type, size, mtime and
// content, so that a test can tell that nothing there changed.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := e.Info()
		if err != nil {
			return err
		}
		desc := fmt.Sprintf("%v %d %d", fi.Mode(), fi.Size(), fi.ModTime().UnixNano())
		if fi.Mode().IsRegular() {
			desc += " " + fileMD5(t, p)
		}
		rel, _ := filepath.Rel(dir, p)
		out[rel] = desc
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestJailNoRequestReachesOutsideTheHome(t *testing.T) {
	ts, addr := setup(t, accounts.Unlimited)
	outside := t.TempDir()
	secret := "outside secret 5f3a9c\n"
	secretPath := filepath.Join(outside, "secret.txt")
	if err := os.WriteFile(secretPath, []byte(secret), 0o644); err != nil {
		t.Fatal(err)
	}
	old := time.Date(2010, 1, 1, 0, 0, 0, 0, time.UTC)
	os.Chtimes(secretPath, old, old)
	before := snapshot(t, outside)

	// Links planted on disk: to a directory outside, to a file outside,
	// and a relative one climbing out.
	h := ts.Home(user)
	if err := os.MkdirAll(filepath.Join(h, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(h, 0o700)
	if err := os.WriteFile(filepath.Join(h, "mine.txt"), []byte("mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for link, target := range map[string]string{
		"out":         outside,
		"secret-link": secretPath,
		"sub/up":      strings.Repeat("../", 16) + strings.TrimPrefix(outside, "/"),
	} {
		if err := os.Symlink(target, filepath.Join(h, link)); err != nil {
			t.Fatal(err)
		}
	}

	c := dial(t, ts, addr)
	// An interrupted upload, held in the partials directory.
	heldData := randomBytes(11, 64<<10)
	cutUpload(t, dial(t, ts, addr), "/held.bin", heldData, len(heldData), c)
	partial := home.PartialDir + "/" + home.StreamID(user, "/held.bin")
	if _, err := os.Stat(filepath.Join(h, partial)); err != nil {
		t.Fatalf("the held upload is not at %s: %v", partial, err)
	}

	// Everything the server answers goes into seen; no answer may carry
	// the secret, its MD5, the outside directory or the server's root.
	var seen strings.Builder
	note := func(request string, v ...any) {
		if strings.Contains(request, outside) {
			return // the client's own words echoed back are no leak
		}
		fmt.Fprintln(&seen, append([]any{request + ":"}, v...)...)
	}
	var leaked []string
	noteSecret := func(request string, v ...any) {
		if s := fmt.Sprint(v...); strings.Contains(s, strings.TrimSpace(secret)) || strings.Contains(s, md5hex([]byte(secret))) {
			leaked = append(leaked, request)
		}
		note(request, v...)
	}

	reads := []string{
		"../secret.txt", "/../secret.txt", "/../../etc/passwd", "../../../../etc/passwd",
		"sub/../../secret.txt", "out/secret.txt", "/out/secret.txt", "secret-link",
		"sub/up/secret.txt", "./sub/up/../up/secret.txt", secretPath, "/etc/passwd",
		partial, "/" + partial, "sub/../" + partial, home.PartialDir, "/" + home.PartialDir,
	}
	for _, p := range reads {
		if f, err := c.sftp.Open(p); err == nil {
			b, _ := io.ReadAll(f)
			f.Close()
			noteSecret("open "+p, string(b))
			t.Errorf("open %q for reading succeeded: %d bytes", p, len(b))
		} else {
			noteSecret("open "+p, err)
		}
		if fi, err := c.sftp.Stat(p); err == nil {
			t.Errorf("stat %q succeeded: %s, %d bytes, %v", p, fi.Name(), fi.Size(), fi.Mode())
		} else {
			noteSecret("stat "+p, err)
		}
		if fi, err := c.sftp.Lstat(p); err == nil {
			t.Errorf("lstat %q succeeded: %s, %d bytes, %v", p, fi.Name(), fi.Size(), fi.Mode())
		} else {
			noteSecret("lstat "+p, err)
		}
		out, errOut, status := execCommand(t, c.ssh, "md5sum '"+p+"'")
		if status == 0 {
			t.Errorf("md5sum %q exited 0: %q", p, out)
		}
		noteSecret("md5sum "+p, out, errOut)
		if err := c.sftp.Chtimes(p, time.Now(), time.Now()); err == nil {
			t.Errorf("chtimes %q succeeded", p)
		} else {
			noteSecret("chtimes "+p, err)
		}
		if err := c.sftp.Truncate(p, 0); err == nil {
			t.Errorf("truncate %q succeeded", p)
		} else {
			noteSecret("truncate "+p, err)
		}
	}

	for _, p := range []string{"out", "/out", "out/", "sub/up", "secret-link", home.PartialDir, "/" + home.PartialDir, "sub/../" + home.PartialDir, outside} {
		if infos, err := c.sftp.ReadDir(p); err == nil {
			var got []string
			for _, fi := range infos {
				got = append(got, fi.Name())
			}
			noteSecret("ls "+p, got)
			t.Errorf("list %q succeeded: %q", p, got)
		} else {
			noteSecret("ls "+p, err)
		}
	}
	// Above the root is the root, as in a chroot; the links out are
	// listed as names only, and the partials not at all.
	for _, p := range []string{"/", "..", "/..", "../../..", "sub/../.."} {
		infos, err := c.sftp.ReadDir(p)
		if err != nil {
			t.Errorf("list %q: %v", p, err)
			continue
		}
		var got []string
		for _, fi := range infos {
			got = append(got, fi.Name())
			noteSecret("ls "+p, fi.Name(), fi.Size(), fi.Mode())
			if (fi.Name() == "out" || fi.Name() == "secret-link") && (fi.Size() != 0 || fi.IsDir()) {
				t.Errorf("list %q: the link %s out of the home shows %d bytes, dir %v: it was followed", p, fi.Name(), fi.Size(), fi.IsDir())
			}
		}
		if strings.Join(got, " ") != "mine.txt out secret-link sub" {
			t.Errorf("list %q: %q, want [mine.txt out secret-link sub]", p, got)
		}
	}

	for _, p := range []string{
		"out/new.txt", "/out/new.txt", "sub/up/new.txt", "out/secret.txt", "sub/up/secret.txt",
		home.PartialDir + "/new", partial, "sub/../" + partial, secretPath,
	} {
		for _, flags := range []int{os.O_WRONLY | os.O_CREATE | os.O_TRUNC, os.O_WRONLY | os.O_CREATE, os.O_WRONLY | os.O_APPEND} {
			f, err := c.sftp.OpenFile(p, flags)
			if err != nil {
				noteSecret("put "+p, err)
				continue
			}
			_, werr := f.Write([]byte("written by the test\n"))
			cerr := f.Close()
			t.Errorf("open %q for writing (flags %#x) succeeded; write: %v, close: %v", p, flags, werr, cerr)
		}
	}
	// ".." above the root stays at the root: these land in the home.
	for _, p := range []string{"../up1.txt", "/../../up2.txt", "sub/../../up3.txt"} {
		c.put(t, p, []byte(p))
		name := "up" + p[len(p)-5:]
		if b, err := os.ReadFile(filepath.Join(h, name)); err != nil || string(b) != p {
			t.Errorf("put %q: home/%s = %q, %v; want it in the home", p, name, b, err)
		}
		for _, dir := range []string{ts.Root, filepath.Dir(ts.Root), outside} {
			if _, err := os.Lstat(filepath.Join(dir, name)); err == nil {
				t.Errorf("put %q wrote %s outside the home", p, filepath.Join(dir, name))
			}
		}
		os.Remove(filepath.Join(h, name))
	}

	for _, p := range []string{"out/d", "sub/up/d", home.PartialDir, home.PartialDir + "/d", "secret-link/d"} {
		if err := c.sftp.Mkdir(p); err == nil {
			t.Errorf("mkdir %q succeeded", p)
		} else {
			noteSecret("mkdir "+p, err)
		}
	}
	for _, p := range []string{"out", "sub/up", home.PartialDir, "../" + filepath.Base(h)} {
		if err := c.sftp.RemoveDirectory(p); err == nil {
			t.Errorf("rmdir %q succeeded", p)
		} else {
			noteSecret("rmdir "+p, err)
		}
	}
	for _, p := range []string{"out/secret.txt", "sub/up/secret.txt", partial, "../secret.txt", "/", ".."} {
		if err := c.sftp.Remove(p); err == nil {
			t.Errorf("remove %q succeeded", p)
		} else {
			noteSecret("remove "+p, err)
		}
	}
	for _, mv := range [][2]string{
		{"mine.txt", "out/mine.txt"}, {"mine.txt", "sub/up/mine.txt"}, {"out/secret.txt", "stolen.txt"},
		{"sub/up/secret.txt", "stolen.txt"}, {"mine.txt", home.PartialDir + "/x"}, {partial, "stolen.bin"},
		{"sub", "out/sub"}, {"mine.txt", "../../mine.txt"},
	} {
		if err := c.sftp.Rename(mv[0], mv[1]); err == nil {
			t.Errorf("rename %q %q succeeded", mv[0], mv[1])
		} else {
			noteSecret("rename "+mv[0]+" "+mv[1], err)
		}
		if mv[1] == "../../mine.txt" {
			continue // posix-rename of a file onto itself is a no-op
		}
		if err := c.sftp.PosixRename(mv[0], mv[1]); err == nil {
			t.Errorf("posix-rename %q %q succeeded", mv[0], mv[1])
		} else {
			noteSecret("posix-rename "+mv[0]+" "+mv[1], err)
		}
	}

	for _, p := range []string{"secret-link", "out", "sub/up"} {
		if target, err := c.sftp.ReadLink(p); err == nil {
			noteSecret("readlink "+p, target)
			if strings.Contains(target, outside) {
				t.Errorf("readlink %q revealed %q", p, target)
			}
		} else {
			noteSecret("readlink "+p, err)
		}
	}
	for i, ln := range [][2]string{{secretPath, "lnk1"}, {"/etc/passwd", "lnk2"}, {"mine.txt", "lnk3"}, {"../../..", "lnk4"}, {"out", "lnk5"}} {
		if err := c.sftp.Symlink(ln[0], ln[1]); err == nil {
			t.Errorf("symlink %q -> %q was made", ln[1], ln[0])
		} else if i > 0 {
			noteSecret("symlink "+ln[1], err)
		}
		if _, err := os.Lstat(filepath.Join(h, ln[1])); err == nil {
			t.Errorf("%s is on disk after a refused symlink", ln[1])
		}
	}
	for _, ln := range [][2]string{{"mine.txt", "hard1"}, {"secret-link", "hard2"}, {"out/secret.txt", "hard3"}, {partial, "hard4"}} {
		if err := c.sftp.Link(ln[0], ln[1]); err == nil {
			t.Errorf("hard link %q -> %q was made", ln[1], ln[0])
		} else {
			noteSecret("link "+ln[1], err)
		}
		if _, err := os.Lstat(filepath.Join(h, ln[1])); err == nil {
			t.Errorf("%s is on disk after a refused hard link", ln[1])
		}
	}
	for p, want := range map[string]string{
		".": "/", "..": "/", "../../..": "/", "/../../etc/passwd": "/etc/passwd", "sub/up/..": "/sub",
	} {
		got, err := c.sftp.RealPath(p)
		noteSecret("realpath "+p, got, err)
		if err != nil || got != want {
			t.Errorf("realpath %q = %q, %v; want %q", p, got, err, want)
		}
	}

	// Last, as it may replace the link: a write to the link's name,
	// without O_TRUNC (which appends to a complete file), must not take
	// the outside file's bytes in.
	if f, err := c.sftp.OpenFile("secret-link", os.O_WRONLY|os.O_CREATE); err == nil {
		f.Write([]byte("x"))
		if err := f.Close(); err == nil {
			if f, err := c.sftp.Open("secret-link"); err == nil {
				b, _ := io.ReadAll(f)
				f.Close()
				noteSecret("get secret-link after a put", string(b))
				if string(b) != "x" {
					t.Errorf("secret-link after a put of %q holds %q", "x", b)
				}
			}
		}
	} else {
		noteSecret("put secret-link", err)
	}

	if len(leaked) > 0 {
		t.Errorf("the secret (or its MD5) came back to: %q", leaked)
	}
	if s := seen.String(); strings.Contains(s, outside) || strings.Contains(s, ts.Root) {
		t.Errorf("an answer named a server path (%s or %s):\n%s", outside, ts.Root, s)
	}
	after := snapshot(t, outside)
	if fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("outside changed:\nbefore %v\nafter  %v", before, after)
	}
	if b, _ := os.ReadFile(filepath.Join(h, "mine.txt")); string(b) != "mine\n" {
		t.Errorf("mine.txt = %q", b)
	}
	for link, target := range map[string]string{"out": outside, "sub/up": strings.Repeat("../", 16) + strings.TrimPrefix(outside, "/")} {
		if got, err := os.Readlink(filepath.Join(h, link)); err != nil || got != target {
			t.Errorf("the planted link %s now: %q, %v", link, got, err)
		}
	}
	if fi, err := os.Stat(filepath.Join(h, partial)); err != nil || fi.Size() != int64(len(heldData)) {
		t.Errorf("the held upload after the attempts: %v, %v; want %d bytes", fi, err, len(heldData))
	}
}
