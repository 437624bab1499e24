package s3home_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"ftpx/home"
	"ftpx/internal/miniotest"
	"ftpx/internal/s3url"
	"ftpx/s3home"

	"github.com/google/uuid"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

const mib = 1 << 20

func randomData(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func md5hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

// smallParts makes uploads use S3's smallest parts, so that tests move
// few bytes.
func smallParts(cfg *s3home.Config) { cfg.PartSize = s3home.MinPartSize }

// newRoot returns a root URL of the test's own in the test bucket.
func newRoot(t *testing.T) s3url.URL {
	u, err := s3url.Parse("s3://ftpx-test/r-" + uuid.NewString()[:8])
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// newManager is one server's view of the homes under root.
func newManager(t *testing.T, c *s3home.Client, root s3url.URL) *home.Manager {
	m := home.NewManagerOn(c.Homes(root))
	t.Cleanup(func() { m.Close() })
	return m
}

func openHome(t *testing.T, m *home.Manager, user string, quota int64) *home.Home {
	t.Helper()
	h, err := m.Open(user, quota)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// put uploads data to name in one go and commits it.
func put(h *home.Home, name string, data []byte) error {
	u, err := h.BeginUpload(name, home.Put{Size: int64(len(data))})
	if err != nil {
		return err
	}
	if _, err := u.Receive(bytes.NewReader(data)); err != nil {
		u.Abort()
		return err
	}
	return u.Commit(md5hex(data))
}

func get(t *testing.T, h *home.Home, name string) []byte {
	t.Helper()
	f, err := h.FS.Open(name)
	if err != nil {
		t.Fatalf("get %s: %v", name, err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatalf("get %s: %v", name, err)
	}
	return b
}

// A small file and a multipart one land verified, with their MD5 kept in
// the store where a get reads it without reading the file, and counted.
func TestUploadsKeepTheirMD5(t *testing.T) {
	c := newClient(t, smallParts)
	m := newManager(t, c, newRoot(t))
	h := openHome(t, m, "alice", home.Unlimited)
	small, big := randomData(1000), randomData(11*mib+123)
	for name, data := range map[string][]byte{"/small": small, "/big": big} {
		if err := put(h, name, data); err != nil {
			t.Fatalf("put %s: %v", name, err)
		}
		if got := get(t, h, name); !bytes.Equal(got, data) {
			t.Fatalf("%s differs", name)
		}
		f, err := h.FS.Open(name) // as a get does
		if err != nil {
			t.Fatal(err)
		}
		fi, _ := f.Stat()
		f.Close()
		if sum := h.KnownSum(fi); sum != md5hex(data) {
			t.Errorf("%s: known sum %q, want %s", name, sum, md5hex(data))
		}
	}
	if used, _, _ := h.Quota(); used != int64(len(small)+len(big)) {
		t.Errorf("used %d, want %d", used, len(small)+len(big))
	}
}

// A stream (an FTP upload: its length is known only at its end) lands
// whole whatever its size, empty, smaller than a part or of several, with
// its MD5 kept like any upload's.
func TestStreamsOfAnyLengthAreStored(t *testing.T) {
	c := newClient(t, smallParts)
	m := newManager(t, c, newRoot(t))
	h := openHome(t, m, "alice", home.Unlimited)
	var total int64
	for name, data := range map[string][]byte{"/empty": nil, "/small": randomData(1000), "/big": randomData(11*mib + 5)} {
		s, err := h.BeginStream(name, uuid.NewString(), 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Receive(bytes.NewReader(data)); err != nil {
			t.Fatalf("stream %s: %v", name, err)
		}
		if err := s.Commit(); err != nil {
			t.Fatalf("commit %s: %v", name, err)
		}
		if got := get(t, h, name); !bytes.Equal(got, data) {
			t.Fatalf("%s: %d bytes stored, want %d", name, len(got), len(data))
		}
		f, err := h.FS.Open(name) // as a get does
		if err != nil {
			t.Fatal(err)
		}
		fi, _ := f.Stat()
		f.Close()
		if sum := h.KnownSum(fi); sum != md5hex(data) {
			t.Errorf("%s: known sum %q, want %s", name, sum, md5hex(data))
		}
		total += int64(len(data))
	}
	if used, _, _ := h.Quota(); used != total {
		t.Errorf("used %d, want %d", used, total)
	}
}

// A bad MD5 leaves nothing: no object, no upload in progress, no usage.
func TestBadMD5StoresNothing(t *testing.T) {
	c := newClient(t, smallParts)
	m := newManager(t, c, newRoot(t))
	h := openHome(t, m, "alice", 100*mib)
	for _, n := range []int{10, 6 * mib} {
		data := randomData(n)
		u, err := h.BeginUpload("/f", home.Put{Size: int64(n), Transfer: uuid.NewString()})
		if err != nil {
			t.Fatal(err)
		}
		u.Receive(bytes.NewReader(data))
		if err := u.Commit(md5hex([]byte("other"))); !errors.Is(err, home.ErrMD5) {
			t.Fatalf("commit with a bad md5: %v", err)
		}
		if _, err := h.FS.Stat("/f"); !errors.Is(err, home.ErrNotExist) {
			t.Errorf("%d bytes: the file is there: %v", n, err)
		}
		if ps, _ := h.FS.Partials(); len(ps) != 0 {
			t.Errorf("%d bytes: partials left: %v", n, ps)
		}
		if used, reserved, _ := h.Quota(); used != 0 || reserved != 0 {
			t.Errorf("%d bytes: used %d reserved %d", n, used, reserved)
		}
	}
}

// cutReader gives n bytes of data, then fails as a cut connection does.
type cutReader struct {
	r io.Reader
}

func (c cutReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if err == io.EOF {
		return n, io.ErrUnexpectedEOF
	}
	return n, err
}

// An upload cut off on one server resumes on another (another Manager
// and Client on the same root, as another process would be) from the
// last part the store holds, and the file is verified whole.
func TestSuspendedUploadResumesOnAnotherServer(t *testing.T) {
	root := newRoot(t)
	a := newManager(t, newClient(t, smallParts), root)
	b := newManager(t, newClient(t, smallParts), root)
	ha := openHome(t, a, "alice", 100*mib)
	data := randomData(17*mib + 5)
	id := uuid.NewString()
	u, err := ha.BeginUpload("/f", home.Put{Size: int64(len(data)), Transfer: id})
	if err != nil {
		t.Fatal(err)
	}
	u.Receive(cutReader{bytes.NewReader(data[:13*mib])})
	if err := u.Suspend(); err != nil {
		t.Fatal(err)
	}
	if _, err := ha.FS.Stat("/f"); !errors.Is(err, home.ErrNotExist) {
		t.Fatalf("a suspended upload is visible: %v", err)
	}
	ha.Close() // server a lets go of its lease
	hb := openHome(t, b, "alice", 100*mib)
	held, err := hb.Breakpoint(id)
	if err != nil {
		t.Fatal(err)
	}
	if held.Offset != 10*mib || held.PrefixMD5 != md5hex(data[:held.Offset]) || held.Name != "/f" {
		t.Fatalf("held %+v; want the two parts of 5 MiB", held)
	}
	if used, _, _ := hb.Quota(); used != held.Offset {
		t.Errorf("used %d while suspended, want the %d held", used, held.Offset)
	}
	u, err = hb.BeginUpload("/f", home.Put{Size: int64(len(data)), Transfer: id, Offset: held.Offset})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u.Receive(bytes.NewReader(data[held.Offset:])); err != nil {
		t.Fatal(err)
	}
	if err := u.Commit(md5hex(data)); err != nil {
		t.Fatal(err)
	}
	if got := get(t, hb, "/f"); !bytes.Equal(got, data) {
		t.Fatal("the file differs")
	}
	if ps, _ := hb.FS.Partials(); len(ps) != 0 {
		t.Errorf("partials left: %v", ps)
	}
	if used, reserved, _ := hb.Quota(); used != int64(len(data)) || reserved != 0 {
		t.Errorf("used %d reserved %d, want %d and 0", used, reserved, len(data))
	}
}

// An upload cut off with at least the smallest part buffered keeps it as
// a short part; resumed on another server, its parts go on to the next
// part ends (the first of them longer than a part when the next end is
// too near), and the store takes them all.
func TestSuspendKeepsAShortPart(t *testing.T) {
	root := newRoot(t)
	parts := func(cfg *s3home.Config) { cfg.PartSize = 8 * mib }
	a := newManager(t, newClient(t, parts), root)
	b := newManager(t, newClient(t, parts), root)
	ha := openHome(t, a, "alice", 100*mib)
	data := randomData(29*mib + 5)
	id := uuid.NewString()
	for _, cut := range []int{14 * mib, 20 * mib} { // 6 MiB past 8 kept; then 4 MiB before 24: the part goes to 32
		u, err := ha.BeginUpload("/f", home.Put{Size: int64(len(data)), Transfer: id, Offset: int64(cut - 6*mib)})
		if cut == 14*mib {
			u, err = ha.BeginUpload("/f", home.Put{Size: int64(len(data)), Transfer: id})
		}
		if err != nil {
			t.Fatal(err)
		}
		from := u.Offset()
		u.Receive(cutReader{bytes.NewReader(data[from:cut])})
		if err := u.Suspend(); err != nil {
			t.Fatal(err)
		}
		held, err := ha.Breakpoint(id)
		if err != nil {
			t.Fatal(err)
		}
		if held.Offset != int64(cut) || held.PrefixMD5 != md5hex(data[:cut]) {
			t.Fatalf("cut at %d: held %d; want all of it (a short part kept)", cut, held.Offset)
		}
	}
	ha.Close()
	hb := openHome(t, b, "alice", 100*mib)
	u, err := hb.BeginUpload("/f", home.Put{Size: int64(len(data)), Transfer: id, Offset: 20 * mib})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u.Receive(bytes.NewReader(data[20*mib:])); err != nil {
		t.Fatal(err)
	}
	if err := u.Commit(md5hex(data)); err != nil {
		t.Fatal(err)
	}
	if got := get(t, hb, "/f"); !bytes.Equal(got, data) {
		t.Fatal("the file differs")
	}
}

// Uploads through three servers at once never store more than the quota,
// and what they report as used is what the store holds.
func TestConcurrentUploadsThroughThreeServersKeepTheQuota(t *testing.T) {
	root := newRoot(t)
	const quota = 10 * mib
	var homes []*home.Home
	for range 3 {
		homes = append(homes, openHome(t, newManager(t, newClient(t, smallParts), root), "alice", quota))
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	stored := map[string]int{}
	for i, h := range homes {
		for j := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				name := fmt.Sprintf("/f%d-%d", i, j)
				data := randomData(1*mib + 1000*j)
				if err := put(h, name, data); err == nil {
					mu.Lock()
					stored[name] = len(data)
					mu.Unlock()
				} else if !errors.Is(err, home.ErrQuota) {
					t.Errorf("put %s: %v", name, err)
				}
			}()
		}
	}
	wg.Wait()
	total := 0
	for _, n := range stored {
		total += n
	}
	usage, err := homes[0].FS.Usage()
	if err != nil {
		t.Fatal(err)
	}
	if usage != int64(total) || usage > quota {
		t.Fatalf("the store holds %d bytes, puts acknowledged %d, quota %d", usage, total, quota)
	}
	if len(stored) < 5 {
		t.Errorf("only %d files stored of 12 (~1 MiB each, quota 10 MiB)", len(stored))
	}
	used, _, _ := homes[1].Quota()
	if used != usage {
		t.Errorf("used %d, the store holds %d", used, usage)
	}
}

// A batch of small files commits in parallel, each verified, each
// counted, one refused for its MD5 without harm to the others.
func TestBatchOfSmallFiles(t *testing.T) {
	c := newClient(t)
	m := newManager(t, c, newRoot(t))
	h := openHome(t, m, "alice", 10*mib)
	if err := h.FS.Mkdir("/d", false); err != nil {
		t.Fatal(err)
	}
	var ups []*home.Upload
	var wants []string
	var datas [][]byte
	for i := range 40 {
		data := randomData(4096 + i)
		u, err := h.BeginUpload(fmt.Sprintf("/d/f%02d", i), home.Put{Size: int64(len(data))})
		if err != nil {
			t.Fatal(err)
		}
		u.Write(data)
		want := md5hex(data)
		if i == 7 {
			want = md5hex(nil)
		}
		ups, wants, datas = append(ups, u), append(wants, want), append(datas, data)
	}
	errs := h.CommitBatch(ups, wants)
	var total int64
	for i, err := range errs {
		name := fmt.Sprintf("/d/f%02d", i)
		if i == 7 {
			if !errors.Is(err, home.ErrMD5) {
				t.Errorf("%s: %v, want an md5 mismatch", name, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := get(t, h, name); !bytes.Equal(got, datas[i]) {
			t.Errorf("%s differs", name)
		}
		total += int64(len(datas[i]))
	}
	if used, reserved, _ := h.Quota(); used != total || reserved != 0 {
		t.Errorf("used %d reserved %d, want %d and 0", used, reserved, total)
	}
	infos, _ := h.FS.ReadDir("/d")
	if len(infos) != 39 {
		t.Errorf("ls /d: %d entries, want 39", len(infos))
	}
}

// An upload without a transfer id does not measure its name up front;
// the commit finds what is there: a file is replaced (and counted as
// replaced), a directory refuses it, and without modify a file is kept.
func TestBlindUploadsFindWhatIsThere(t *testing.T) {
	c := newClient(t)
	root := newRoot(t)
	m := newManager(t, c, root)
	h := openHome(t, m, "alice", home.Unlimited)
	old := randomData(3000)
	if err := put(h, "/f", old); err != nil {
		t.Fatal(err)
	}
	if err := h.FS.Mkdir("/d", false); err != nil {
		t.Fatal(err)
	}
	data := randomData(1000)
	var ups []*home.Upload
	for _, name := range []string{"/f", "/d", "/new"} {
		u, err := h.BeginUpload(name, home.Put{Size: int64(len(data))})
		if err != nil {
			t.Fatalf("begin %s: %v", name, err)
		}
		u.Write(data)
		ups = append(ups, u)
	}
	errs := h.CommitBatch(ups, []string{md5hex(data), md5hex(data), md5hex(data)})
	if errs[0] != nil || !errors.Is(errs[1], home.ErrIsDir) || errs[2] != nil {
		t.Fatalf("commits: %v", errs)
	}
	if got := get(t, h, "/f"); !bytes.Equal(got, data) {
		t.Error("/f was not replaced")
	}
	if used, reserved, _ := h.Quota(); used != 2*int64(len(data)) || reserved != 0 {
		t.Errorf("used %d reserved %d, want %d and 0", used, reserved, 2*len(data))
	}
	// Without modify, an existing file stays.
	ro, err := m.OpenSpec("alice", home.Spec{Quota: home.Unlimited, Perms: home.PermRead | home.PermWrite})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	u, err := ro.BeginUpload("/f", home.Put{Size: 5})
	if err != nil {
		t.Fatal(err)
	}
	u.Write([]byte("other"))
	if err := u.Commit(md5hex([]byte("other"))); !errors.Is(err, home.ErrPermission) {
		t.Fatalf("replace without modify: %v", err)
	}
	if got := get(t, h, "/f"); !bytes.Equal(got, data) {
		t.Error("/f changed without modify")
	}
}

// The lease of a server that died (here written into the usage object
// as a dead server leaves it: holding most of the quota, expiring soon)
// refuses the others while it lives, and lapses without that server.
func TestDeadServersLeaseLapses(t *testing.T) {
	root := newRoot(t)
	h := openHome(t, newManager(t, newClient(t), root), "alice", 10*mib)
	srv := miniotest.Shared(t)
	mc, err := minio.New(srv.Addr, &minio.Options{Creds: credentials.NewStaticV4(miniotest.AccessKey, miniotest.SecretKey, "")})
	if err != nil {
		t.Fatal(err)
	}
	doc := fmt.Sprintf(`{"used":0,"leases":{"dead-server":{"bytes":%d,"expires":%q}}}`, 9*mib, time.Now().Add(2*time.Second).UTC().Format(time.RFC3339Nano))
	if _, err := mc.PutObject(context.Background(), root.Bucket, root.Prefix+"/alice/"+home.PartialDir+"/usage.json",
		strings.NewReader(doc), int64(len(doc)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.BeginUpload("/other", home.Put{Size: 5 * mib}); !errors.Is(err, home.ErrQuota) {
		t.Fatalf("while the dead server's lease lives: %v, want the quota refused", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		u, err := h.BeginUpload("/other", home.Put{Size: 5 * mib})
		if err == nil {
			u.Abort()
			break
		}
		if !errors.Is(err, home.ErrQuota) || time.Now().After(deadline) {
			t.Fatalf("after the lease lapsed: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Partials left longer than the age limit are swept, on the store, with
// their parts, and leave the quota.
func TestExpiredPartialsAreSwept(t *testing.T) {
	root := newRoot(t)
	m := newManager(t, newClient(t, smallParts), root)
	h := openHome(t, m, "alice", 100*mib)
	data := randomData(12 * mib)
	u, err := h.BeginUpload("/f", home.Put{Size: int64(len(data)), Transfer: uuid.NewString()})
	if err != nil {
		t.Fatal(err)
	}
	u.Receive(cutReader{bytes.NewReader(data[:11*mib])})
	if err := u.Suspend(); err != nil {
		t.Fatal(err)
	}
	if used, _, _ := h.Quota(); used != 10*mib {
		t.Fatalf("used %d while suspended, want 10 MiB", used)
	}
	n, freed, err := m.ExpirePartials(0)
	if err != nil || n != 1 || freed != 10*mib {
		t.Fatalf("sweep: %d partials, %d bytes, %v; want 1 and 10 MiB", n, freed, err)
	}
	if ps, _ := h.FS.Partials(); len(ps) != 0 {
		t.Errorf("partials left: %v", ps)
	}
	if used, _, _ := h.Quota(); used != 0 {
		t.Errorf("used %d after the sweep", used)
	}
}
