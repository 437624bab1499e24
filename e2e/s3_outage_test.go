package e2e

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ftpx/client"
	"ftpx/internal/miniotest"

	"github.com/minio/minio-go/v7"
)

// heldInStore returns the bytes that the state objects of the setup's
// interrupted uploads say the store holds.
func (s *s3Setup) heldInStore(t *testing.T) int64 {
	t.Helper()
	ctx := context.Background()
	var n int64
	for o := range s.mc.ListObjects(ctx, s3Bucket, minio.ListObjectsOptions{Prefix: s.prefix + "/", Recursive: true}) {
		if o.Err != nil || !strings.HasSuffix(o.Key, ".state") {
			continue // the store is starting or stopping: nothing seen
		}
		obj, err := s.mc.GetObject(ctx, s3Bucket, o.Key, minio.GetObjectOptions{})
		if err != nil {
			continue
		}
		var rec struct {
			Held int64 `json:"held"`
		}
		json.NewDecoder(obj).Decode(&rec)
		obj.Close()
		n += rec.Held
	}
	return n
}

// An object store that goes away in the middle of a put answers 287, and
// what it stored before stays: the client keeps its resume point, the
// server its parts, and once the store is back the same put goes on from
// there instead of starting over; the quota counts what was kept, though
// the store could not be told when the put stopped.
func TestS3OutageMidPutKeepsTheResumePoint(t *testing.T) {
	srv := miniotest.Start(t, 1)
	s := s3Servers(t, srv, 1, "100MB") // a quota: what the store kept is counted once it is back
	work := t.TempDir()
	const size = 40 * mib
	sum := writeSeeded(t, filepath.Join(work, "f40.bin"), size, seeded(t, 21))
	env := s.env(s.daemons[0].addr)
	b := startFtpx(t, work, env, "--limit-rate", "8MB", "--retries", "0", "put", "f40.bin")
	waitUntil(t, 60*time.Second, "two parts stored", func() bool { return s.heldInStore(t) >= 10*mib })
	srv.Stop()
	code := b.exited(t, 90*time.Second)
	if code != client.ExitConnection || !strings.Contains(b.err.String(), "put f40.bin: 287") {
		t.Fatalf("put with the store gone: exit %d, stderr %q; want 3 and put f40.bin: 287", code, b.err.String())
	}
	out, errOut, code := ftpx(t, work, env, "resume", "--list")
	if code != 0 || !strings.Contains(out, "f40.bin") {
		t.Fatalf("resume --list after the 287: exit %d %q %q; want the put listed", code, out, errOut)
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = ftpx(t, work, env, "--json", "put", "f40.bin")
	if code != 0 {
		t.Fatalf("put again once the store is back: exit %d %s", code, errOut)
	}
	r := onlyResult(t, out)
	if r.Offset < 10*mib || r.MD5 != sum {
		t.Fatalf("put again: offset %d md5 %s; want at least %d held and md5 %s", r.Offset, r.MD5, 10*mib, sum)
	}
	t.Logf("the put went on at %d of %d bytes", r.Offset, size)
	if got := s.stored(t); got["f40.bin"] != size {
		t.Fatalf("stored %v; want f40.bin of %d bytes", got, size)
	}
	var used int64
	waitUntil(t, 30*time.Second, "the quota to count the whole file", func() bool {
		used = quotaJSON(t, work, env)
		return used == size
	})
}

// A client that dies in the middle of a part leaves what the server held
// of it: when the connection ends with at least the store's smallest part
// (5 MiB) held, the server stores it as a part, so the put resumes there
// through another server instead of at the last whole part (16 MiB parts:
// before, 10 MiB sent through A resumed at 0 through B).
func TestS3ClientKilledMidPartResumesThroughAnotherServer(t *testing.T) {
	s := s3ServersWith(t, miniotest.Shared(t), 2, "", filepath.Join(t.TempDir(), "accounts.ini"), "--s3-part-size", "16MB")
	work := t.TempDir()
	const size = 24 * mib
	sum := writeSeeded(t, filepath.Join(work, "f24.bin"), size, seeded(t, 22))
	env := s.env(s.lb.addr())
	b := startFtpx(t, work, env, "--limit-rate", "4MB", "put", "f24.bin")
	waitUntil(t, 60*time.Second, "11 MiB through the balancer", func() bool { return s.lb.up.Load() >= 11*mib })
	b.cmd.Process.Kill()
	b.exited(t, 10*time.Second)
	waitUntil(t, 30*time.Second, "the part stored", func() bool { return s.heldInStore(t) > 0 })
	out, errOut, code := ftpx(t, work, env, "--json", "put", "f24.bin")
	if code != 0 {
		t.Fatalf("put again: exit %d %s", code, errOut)
	}
	r := onlyResult(t, out)
	if served := s.lb.log(); len(served) < 2 || served[0] == served[len(served)-1] {
		t.Fatalf("connections went to servers %v; want the rerun on another server", served)
	}
	if r.Offset < 10*mib || r.MD5 != sum {
		t.Fatalf("put again through the other server: offset %d md5 %s; want at least %d held and md5 %s", r.Offset, r.MD5, 10*mib, sum)
	}
	t.Logf("the put went on at %d of %d bytes through another server", r.Offset, size)
}

// With the object store down, the shell says so and stays connected: no
// "connection lost; reconnect?" for a server that answered 287, and the
// same session serves again once the store is back.
func TestS3ShellSaysTheStoreIsDown(t *testing.T) {
	srv := miniotest.Start(t, 1)
	s := s3Servers(t, srv, 1, "")
	work := t.TempDir()
	if _, errOut, code := ftpx(t, work, s.env(s.daemons[0].addr), "mkdir", "kept"); code != 0 {
		t.Fatalf("mkdir: exit %d %s", code, errOut)
	}
	term := startTerminal(t, work, s.env(s.daemons[0].addr), "--retries", "0", "shell")
	prompt := "alex@" + s.daemons[0].addr + ":/> "
	term.expect(prompt)
	srv.Stop()
	term.send("ls\r")
	out := term.expect(prompt)
	if !strings.Contains(out, "ls: 287 storage unavailable") || strings.Contains(out, "reconnect?") {
		t.Fatalf("ls with the store down: %q; want the 287 and the prompt, no reconnect question", out)
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 30*time.Second, "ls once the store is back", func() bool {
		term.send("ls\r")
		return strings.Contains(term.expect(prompt), "kept/")
	})
	term.send("quit\r")
	<-term.done
}
