package s3home

import (
	"errors"
	"fmt"
	"path"
	"strings"

	"ftpx/home"

	"github.com/minio/minio-go/v7"
)

// The changes to a tree's names: mkdir writes a directory's marker,
// rm and rm -r delete keys (a directory's children first listed), mv is
// a server-side copy then a delete, object by object for a directory.

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

// copyMeta replaces the metadata of the object at k (on condition that it
// is still etag) by meta, copying it onto itself.
func (t *FS) copyMeta(k, etag string, meta map[string]string) error {
	ctx, cancel := t.c.ctx()
	defer cancel()
	dst := minio.CopyDestOptions{Bucket: t.bucket, Object: k, ReplaceMetadata: true, UserMetadata: meta}
	src := minio.CopySrcOptions{Bucket: t.bucket, Object: k, MatchETag: etag}
	_, err := t.c.mc.CopyObject(ctx, dst, src)
	return err
}
