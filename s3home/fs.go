package s3home

import (
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"ftpx/home"
	"ftpx/internal/s3url"

	"github.com/minio/minio-go/v7"
)

// The user metadata keys (as minio-go returns them, canonicalised) under
// which an object keeps the MD5 of its content, as ftpx verified it, and
// the modification time the client gave it (RFC 3339, nanoseconds).
const (
	md5Meta  = "Ftpx-Md5"
	mtimeKey = "Ftpx-Mtime"
)

// mtimeMeta is the user metadata of an object to be stored with mtime
// (none for the zero time: the store's own time of the write is used).
func mtimeMeta(mtime time.Time) map[string]string {
	m := make(map[string]string, 2)
	if !mtime.IsZero() {
		m[mtimeKey] = mtime.UTC().Format(time.RFC3339Nano)
	}
	return m
}

// FS is one tree of a bucket: a user's home, or a folder. It is a
// home.FS (a Concurrent one), home.LedgerFS and home.Claimer. It is safe for
// concurrent use.
type FS struct {
	c      *Client
	bucket string
	prefix string // "" or ending in '/'

	mu      sync.Mutex
	uploads map[string]upload // partials of this process, by id, from creation to commit or removal
	locks   map[string]*lock  // transfer ids this FS holds across servers
	dirs    map[string]*info  // directories seen lately, by home path (dirs.go)
	made    map[string]bool   // directories this FS made, empty then, and their subdirectories since (dirs.go)
}

// Tree returns the FS of the tree at u. It creates nothing.
func (c *Client) Tree(u s3url.URL) *FS {
	return &FS{c: c, bucket: u.Bucket, prefix: u.KeyPrefix(), uploads: make(map[string]upload), locks: make(map[string]*lock),
		dirs: make(map[string]*info), made: make(map[string]bool)}
}

var (
	_ home.FS         = (*FS)(nil)
	_ home.Concurrent = (*FS)(nil)
	_ home.LedgerFS   = (*FS)(nil)
	_ home.Claimer    = (*FS)(nil)
)

// info describes a file or a directory of the tree. Its Sys is itself: it
// gives the object's ETag and stored MD5 (home.StoredSum).
type info struct {
	name  string
	size  int64
	mtime time.Time
	dir   bool
	etag  string
	md5   string    // from the object's metadata: what ftpx verified when it stored it
	seen  time.Time // a directory: when it was seen (dirs.go)
}

func (i *info) Name() string       { return i.name }
func (i *info) Size() int64        { return i.size }
func (i *info) ModTime() time.Time { return i.mtime }
func (i *info) IsDir() bool        { return i.dir }
func (i *info) Sys() any           { return i }
func (i *info) StoredMD5() string  { return i.md5 }
func (i *info) Mode() fs.FileMode {
	if i.dir {
		return fs.ModeDir | 0o755
	}
	return 0o644
}

// etagOf returns the ETag of a file described by this package, or "".
func etagOf(fi fs.FileInfo) string {
	if i, ok := fi.Sys().(*info); ok {
		return i.etag
	}
	return ""
}

// fileInfo describes the object o (from a HEAD, or a listing with its
// metadata), named name: its time is the one kept in its metadata, else
// the store's time of its write.
func fileInfo(name string, o minio.ObjectInfo) *info {
	meta := o.UserMetadata
	if len(o.UserMetadataStripped) > 0 { // a listing's
		meta = o.UserMetadataStripped
	}
	fi := &info{name: path.Base(name), size: o.Size, mtime: o.LastModified, etag: strings.Trim(o.ETag, `"`), md5: meta[md5Meta]}
	if t, err := time.Parse(time.RFC3339Nano, meta[mtimeKey]); err == nil {
		fi.mtime = t
	}
	return fi
}

// head returns what the store has at the key k, a file.
func (t *FS) head(k string) (minio.ObjectInfo, error) {
	ctx, cancel := t.c.ctx()
	defer cancel()
	return t.c.mc.StatObject(ctx, t.bucket, k, minio.StatObjectOptions{})
}

// dirAt looks for a directory whose marker (and prefix of everything
// below) is the key p: found when the marker or anything under it
// exists. Its time is the marker's, or zero for a directory only implied
// by keys below it.
func (t *FS) dirAt(p string) (bool, time.Time, error) {
	ctx, cancel := t.c.ctx()
	defer cancel()
	for o := range t.c.mc.ListObjects(ctx, t.bucket, minio.ListObjectsOptions{Prefix: p, Recursive: true, MaxKeys: 1}) {
		if o.Err != nil {
			return false, time.Time{}, o.Err
		}
		if o.Key == p {
			return true, o.LastModified, nil
		}
		return true, time.Time{}, nil
	}
	return false, time.Time{}, nil
}

func (t *FS) Stat(name string) (fs.FileInfo, error) {
	k, err := t.key("stat", name)
	if err != nil {
		return nil, err
	}
	return t.stat("stat", name, k)
}

// stat is Stat of name, whose key is k.
func (t *FS) stat(op, name, k string) (*info, error) {
	if name == "/" {
		return &info{name: "/", dir: true}, nil
	}
	if d := t.seenDir(name); d != nil {
		return d, nil
	}
	o, err := t.head(k)
	if err == nil {
		return fileInfo(name, o), nil
	}
	if !notFound(err) {
		return nil, opErr(op, name, err)
	}
	ok, mtime, err := t.dirAt(k + "/")
	switch {
	case err != nil:
		return nil, opErr(op, name, err)
	case !ok:
		return nil, fmt.Errorf("%s %s: %w", op, name, home.ErrNotExist)
	}
	d := &info{name: path.Base(name), dir: true, mtime: mtime}
	t.sawDir(name, d)
	return d, nil
}

// missing explains why name is not there: ErrNotDir when a parent is a
// file (as a local file system says), else ErrNotExist.
func (t *FS) missing(op, name string) error {
	for p := path.Dir(name); p != "/"; p = path.Dir(p) {
		k, _ := t.key(op, p)
		if _, err := t.head(k); err == nil {
			return fmt.Errorf("%s %s: %w", op, name, home.ErrNotDir)
		}
	}
	return fmt.Errorf("%s %s: %w", op, name, home.ErrNotExist)
}

// list calls f with every key under the prefix p (recursive: all of
// them; else one level, directories as their prefix ending in '/').
func (t *FS) list(p string, recursive bool, f func(minio.ObjectInfo) error) error {
	ctx, cancel := t.c.ctx()
	defer cancel()
	for o := range t.c.mc.ListObjects(ctx, t.bucket, minio.ListObjectsOptions{Prefix: p, Recursive: recursive, WithMetadata: true}) {
		if o.Err != nil {
			return o.Err
		}
		if err := f(o); err != nil {
			return err
		}
	}
	return nil
}

func (t *FS) ReadDir(name string) ([]fs.FileInfo, error) {
	p, err := t.dirKey("ls", name)
	if err != nil {
		return nil, err
	}
	var infos []fs.FileInfo
	var dirs []*info
	found := name == "/"
	err = t.list(p, false, func(o minio.ObjectInfo) error {
		rel := strings.TrimPrefix(o.Key, p)
		switch {
		case rel == "":
			found = true // the marker
		case strings.HasSuffix(rel, "/"):
			sub := strings.TrimSuffix(rel, "/")
			if sub == "" || name == "/" && sub == home.PartialDir {
				return nil
			}
			d := &info{name: sub, dir: true}
			dirs = append(dirs, d)
			infos = append(infos, d)
		default:
			infos = append(infos, fileInfo(rel, o))
		}
		return nil
	})
	if err != nil {
		return nil, opErr("ls", name, err)
	}
	if !found && len(infos) == 0 {
		k, _ := t.key("ls", name)
		if _, err := t.head(k); err == nil {
			return nil, fmt.Errorf("ls %s: %w", name, home.ErrNotDir)
		}
		return nil, fmt.Errorf("ls %s: %w", name, home.ErrNotExist)
	}
	t.markerTimes(p, dirs)
	slices.SortFunc(infos, func(a, b fs.FileInfo) int { return strings.Compare(a.Name(), b.Name()) })
	return infos, nil
}

// markerTimes gives listed directories the times of their markers, a few
// at a time; a directory without one keeps a zero time.
func (t *FS) markerTimes(p string, dirs []*info) {
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for _, d := range dirs {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if o, err := t.head(p + d.name + "/"); err == nil {
				d.mtime = o.LastModified
			}
		}()
	}
	wg.Wait()
}

func (t *FS) Usage() (int64, error) {
	var n int64
	skip := t.partials()
	err := t.list(t.prefix, true, func(o minio.ObjectInfo) error {
		if !strings.HasPrefix(o.Key, skip) {
			n += o.Size
		}
		return nil
	})
	if err != nil {
		return 0, opErr("usage", "/", err)
	}
	parts, err := t.Partials()
	if err != nil {
		return 0, err
	}
	for _, p := range parts {
		n += p.Size
	}
	return n, nil
}

// Sync has nothing to do: what the store acknowledged is durable.
func (t *FS) Sync() error { return nil }

// Close lets go of the transfer ids this FS holds.
func (t *FS) Close() error {
	t.mu.Lock()
	ids := make([]string, 0, len(t.locks))
	for id := range t.locks {
		ids = append(ids, id)
	}
	t.mu.Unlock()
	for _, id := range ids {
		t.Unclaim(id)
	}
	return nil
}

// Space says the store sets no limit of its own: the quota is what holds
// an object-store home (home.Space's -1: never refused for room).
func (t *FS) Space() (home.Space, error) { return home.Space{Free: -1, Total: -1}, nil }
