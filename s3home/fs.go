package s3home

import (
	"errors"
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

// md5Meta is the user metadata key under which an object keeps the MD5 of
// its content (minio-go returns it canonicalised).
const md5Meta = "Ftpx-Md5"

// FS is one tree of a bucket: a user's home, or a folder. It is a
// home.FS, home.ObjectFS, home.LedgerFS and home.Claimer. It is safe for
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
	_ home.ObjectFS = (*FS)(nil)
	_ home.LedgerFS = (*FS)(nil)
	_ home.Claimer  = (*FS)(nil)
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

func fileInfo(name string, o minio.ObjectInfo) *info {
	return &info{name: path.Base(name), size: o.Size, mtime: o.LastModified, etag: strings.Trim(o.ETag, `"`), md5: o.UserMetadata[md5Meta]}
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
	for o := range t.c.mc.ListObjects(ctx, t.bucket, minio.ListObjectsOptions{Prefix: p, Recursive: recursive}) {
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

func (t *FS) Mkdir(name string, parents bool) error {
	k, err := t.key("mkdir", name)
	if err != nil {
		return err
	}
	if name == "/" {
		if parents {
			return nil
		}
		return fmt.Errorf("mkdir %s: %w", name, home.ErrExists)
	}
	if !parents {
		if err := t.parentDir("mkdir", name); err != nil {
			return err
		}
		_, err := t.stat("mkdir", name, k)
		switch {
		case err == nil:
			return fmt.Errorf("mkdir %s: %w", name, home.ErrExists)
		case !isNotExist(err):
			return err
		}
		if err := t.putMarker("mkdir", name, k+"/"); err != nil {
			return err
		}
		t.madeDir(name)
		return nil
	}
	// mkdir -p: find the deepest directory that exists, then make the
	// rest below it.
	var todo []string
	for p := name; p != "/"; p = path.Dir(p) {
		pk, _ := t.key("mkdir", p)
		fi, err := t.stat("mkdir", p, pk)
		if err == nil {
			if !fi.IsDir() {
				return fmt.Errorf("mkdir %s: %w", name, home.ErrNotDir)
			}
			break
		}
		if !isNotExist(err) {
			return err
		}
		todo = append(todo, p)
	}
	for i := len(todo) - 1; i >= 0; i-- {
		pk, _ := t.key("mkdir", todo[i])
		if err := t.putMarker("mkdir", todo[i], pk+"/"); err != nil {
			return err
		}
		t.madeDir(todo[i])
	}
	return nil
}

// parentDir checks that name's parent exists and is a directory.
func (t *FS) parentDir(op, name string) error {
	parent := path.Dir(name)
	if parent == "/" {
		return nil
	}
	pk, _ := t.key(op, parent)
	fi, err := t.stat(op, parent, pk)
	switch {
	case isNotExist(err):
		return t.missing(op, name)
	case err != nil:
		return err
	case !fi.IsDir():
		return fmt.Errorf("%s %s: %w", op, name, home.ErrNotDir)
	}
	return nil
}

// putMarker writes the directory marker mk.
func (t *FS) putMarker(op, name, mk string) error {
	ctx, cancel := t.c.ctx()
	defer cancel()
	_, err := t.c.mc.PutObject(ctx, t.bucket, mk, strings.NewReader(""), 0, minio.PutObjectOptions{DisableContentSha256: true})
	return opErr(op, name, err)
}

func isNotExist(err error) bool { return err != nil && errors.Is(err, home.ErrNotExist) }

func (t *FS) Remove(name string) error {
	k, err := t.key("rm", name)
	if err != nil {
		return err
	}
	if name == "/" {
		return fmt.Errorf("rm %s: %w", name, home.ErrPermission)
	}
	defer t.forgetDirs()
	if o, err := t.head(k); err == nil {
		if err := t.delete("rm", name, k); err != nil {
			return err
		}
		t.dropSum(strings.Trim(o.ETag, `"`))
		return nil
	} else if !notFound(err) {
		return opErr("rm", name, err)
	}
	p := k + "/"
	marker, other := false, false
	ctx, cancel := t.c.ctx()
	defer cancel()
	for o := range t.c.mc.ListObjects(ctx, t.bucket, minio.ListObjectsOptions{Prefix: p, Recursive: true, MaxKeys: 2}) {
		if o.Err != nil {
			return opErr("rm", name, o.Err)
		}
		if o.Key == p {
			marker = true
		} else {
			other = true
			break
		}
	}
	switch {
	case other:
		return fmt.Errorf("rm %s: %w", name, home.ErrNotEmpty)
	case !marker:
		return t.missing("rm", name)
	}
	return t.delete("rm", name, p)
}

// delete removes the key k (of name).
func (t *FS) delete(op, name, k string) error {
	ctx, cancel := t.c.ctx()
	defer cancel()
	return opErr(op, name, t.c.mc.RemoveObject(ctx, t.bucket, k, minio.RemoveObjectOptions{}))
}

func (t *FS) RemoveAll(name string) (int64, error) {
	k, err := t.key("rm", name)
	if err != nil {
		return 0, err
	}
	if name == "/" {
		return 0, fmt.Errorf("rm %s: %w", name, home.ErrPermission)
	}
	defer t.forgetDirs()
	if o, err := t.head(k); err == nil {
		return o.Size, t.delete("rm", name, k)
	} else if !notFound(err) {
		return 0, opErr("rm", name, err)
	}
	var keys []string
	var freed int64
	if err := t.list(k+"/", true, func(o minio.ObjectInfo) error {
		keys = append(keys, o.Key)
		freed += o.Size
		return nil
	}); err != nil {
		return 0, opErr("rm", name, err)
	}
	if len(keys) == 0 {
		return 0, t.missing("rm", name)
	}
	return freed, t.deleteAll("rm", name, keys)
}

// deleteAll removes keys, a thousand to a request.
func (t *FS) deleteAll(op, name string, keys []string) error {
	ctx, cancel := t.c.ctx()
	defer cancel()
	ch := make(chan minio.ObjectInfo)
	go func() {
		defer close(ch)
		for _, k := range keys {
			select {
			case ch <- minio.ObjectInfo{Key: k}:
			case <-ctx.Done():
				return
			}
		}
	}()
	for e := range t.c.mc.RemoveObjects(ctx, t.bucket, ch, minio.RemoveObjectsOptions{}) {
		if e.Err != nil && !notFound(e.Err) {
			return opErr(op, name, e.Err)
		}
	}
	return opErr(op, name, ctx.Err())
}

func (t *FS) Rename(oldname, newname string) error {
	ko, err := t.key("mv", oldname)
	if err != nil {
		return err
	}
	kn, err := t.key("mv", newname)
	if err != nil {
		return err
	}
	both := oldname + " " + newname
	if oldname == "/" || newname == "/" {
		return fmt.Errorf("mv %s: %w", both, home.ErrPermission)
	}
	defer t.forgetDirs()
	src, err := t.stat("mv", oldname, ko)
	if err != nil {
		return err
	}
	if err := t.parentDir("mv", newname); err != nil {
		return err
	}
	dst, err := t.stat("mv", newname, kn)
	switch {
	case err != nil && !isNotExist(err):
		return err
	case err == nil && dst.IsDir():
		return fmt.Errorf("mv %s: %w", both, home.ErrExists)
	case err == nil && src.IsDir():
		return fmt.Errorf("mv %s: %w", both, home.ErrNotDir)
	}
	if !src.IsDir() {
		if err := t.copy("mv", both, ko, kn, src.size); err != nil {
			return err
		}
		return t.delete("mv", both, ko)
	}
	// A directory moves object by object: copied, then the old ones
	// removed. Cut off midway, both names hold part of the tree.
	var objs []minio.ObjectInfo
	if err := t.list(ko+"/", true, func(o minio.ObjectInfo) error {
		objs = append(objs, o)
		return nil
	}); err != nil {
		return opErr("mv", both, err)
	}
	keys := make([]string, 0, len(objs))
	for _, o := range objs {
		if err := t.copy("mv", both, o.Key, kn+"/"+strings.TrimPrefix(o.Key, ko+"/"), o.Size); err != nil {
			return err
		}
		keys = append(keys, o.Key)
	}
	return t.deleteAll("mv", both, keys)
}

// maxCopy is the largest object one CopyObject may copy; past it the copy
// is made of parts.
const maxCopy = 5 << 30

// copy copies the object from to the key to, server-side, with its
// metadata (the stored MD5 among it).
func (t *FS) copy(op, name, from, to string, size int64) error {
	ctx, cancel := t.c.ctx()
	defer cancel()
	dst := minio.CopyDestOptions{Bucket: t.bucket, Object: to}
	src := minio.CopySrcOptions{Bucket: t.bucket, Object: from}
	var err error
	if size > maxCopy {
		_, err = t.c.mc.ComposeObject(ctx, dst, src)
	} else {
		_, err = t.c.mc.CopyObject(ctx, dst, src)
	}
	return opErr(op, name, err)
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
