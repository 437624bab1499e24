package s3home

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sync"
	"time"

	"ftpx/home"

	"github.com/minio/minio-go/v7"
)

func (t *FS) Open(name string) (home.File, error) {
	k, err := t.key("get", name)
	if err != nil {
		return nil, err
	}
	if name == "/" {
		return nil, fmt.Errorf("get %s: %w", name, home.ErrIsDir)
	}
	o, err := t.head(k)
	if err != nil {
		if !notFound(err) {
			return nil, opErr("get", name, err)
		}
		if ok, _, derr := t.dirAt(k + "/"); derr == nil && ok {
			return nil, fmt.Errorf("get %s: %w", name, home.ErrIsDir)
		}
		return nil, t.missing("get", name)
	}
	fi := fileInfo(name, o)
	t.knownSum(fi)
	return &file{t: t, name: name, key: k, fi: fi}, nil
}

// file is an object opened for reading: each read range is one GET
// (opened at the first Read, again after a Seek), pinned to the ETag the
// object had when it was opened, so a file replaced meanwhile is an error,
// never a mix of two. A read that waits on the store longer than the
// client's timeout fails.
type file struct {
	t    *FS
	name string
	key  string
	fi   *info

	pos    int64
	body   io.ReadCloser
	cancel context.CancelFunc
	idle   *time.Timer
	mu     sync.Mutex // guards cancel against the idle timer
}

func (f *file) Stat() (fs.FileInfo, error) { return f.fi, nil }

func (f *file) Read(p []byte) (int, error) {
	if f.pos >= f.fi.size {
		return 0, io.EOF
	}
	if f.body == nil {
		if err := f.open(); err != nil {
			return 0, err
		}
	}
	f.idle.Reset(f.t.c.timeout)
	n, err := f.body.Read(p)
	f.idle.Stop()
	f.pos += int64(n)
	if err == io.EOF && f.pos < f.fi.size {
		err = io.ErrUnexpectedEOF
	}
	if err != nil && err != io.EOF {
		f.closeBody()
		return n, opErr("get", f.name, err)
	}
	return n, err
}

// open starts the GET of the rest of the object from pos.
func (f *file) open() error {
	ctx, cancel := context.WithCancel(context.Background())
	opts := minio.GetObjectOptions{}
	if f.fi.etag != "" {
		opts.SetMatchETag(f.fi.etag)
	}
	if f.pos > 0 {
		opts.SetRange(f.pos, 0)
	}
	f.idle = time.AfterFunc(f.t.c.timeout, func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.cancel != nil {
			f.cancel()
		}
	})
	f.mu.Lock()
	f.cancel = cancel
	f.mu.Unlock()
	body, _, _, err := f.t.c.core.GetObject(ctx, f.t.bucket, f.key, opts)
	f.idle.Stop()
	if err != nil {
		f.closeBody()
		if errors.Is(kindOf(err), home.ErrChanged) {
			return fmt.Errorf("get %s: replaced while read: %w", f.name, home.ErrChanged)
		}
		return opErr("get", f.name, err)
	}
	f.body = body
	return nil
}

// Seek moves where the next Read starts: the next Read opens a GET of
// that range.
func (f *file) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekCurrent:
		offset += f.pos
	case io.SeekEnd:
		offset += f.fi.size
	}
	if offset < 0 {
		return f.pos, fmt.Errorf("get %s: seek to %d: %w", f.name, offset, home.ErrBadOffset)
	}
	if offset != f.pos {
		f.closeBody()
		f.pos = offset
	}
	return f.pos, nil
}

func (f *file) closeBody() {
	if f.body != nil {
		f.body.Close()
		f.body = nil
	}
	f.mu.Lock()
	if f.cancel != nil {
		f.cancel()
		f.cancel = nil
	}
	f.mu.Unlock()
	if f.idle != nil {
		f.idle.Stop()
	}
}

func (f *file) Close() error {
	f.closeBody()
	return nil
}
