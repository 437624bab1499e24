package s3home

import (
	"bytes"
	"context"
	"crypto/md5"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"ftpx/home"

	"github.com/minio/minio-go/v7"
)

// smallMemory bounds the bytes of small uploads all trees hold in memory
// at once (a pipelined batch holds its files until they are verified);
// past it, a small upload is a multipart upload of one part.
const smallMemory = 256 << 20

// partBuffers bounds the part buffers all uploads have at once: a big
// upload waits for one when they are all in use.
const partBuffers = 32

// smallFile is an upload smaller than a part: held in memory until it is
// verified, then written with one PUT carrying its Content-MD5.
type smallFile struct {
	t       *FS
	id, key string
	size    int64
	buf     []byte
	synced  bool // verified: Close keeps it for the commit
	freed   bool
	mtime   time.Time
	ctx     context.Context // the upload's session (nil: none)
	mu      sync.Mutex
}

func (f *smallFile) Write(p []byte) (int, error) {
	if int64(len(f.buf)+len(p)) > f.size {
		return 0, fmt.Errorf("partial %s: more than %d bytes: %w", f.id, f.size, home.ErrSize)
	}
	f.buf = append(f.buf, p...)
	return len(p), nil
}

func (f *smallFile) Sync() error { f.synced = true; return nil }

// Close keeps a verified file for the commit, and frees anything else.
func (f *smallFile) Close() error {
	if !f.synced {
		f.t.forget(f.id, f)
		f.free()
	}
	return nil
}

func (f *smallFile) free() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.freed {
		f.freed = true
		f.buf = nil
		f.t.c.mem.give(f.size)
	}
}

// A small file has no part end to resume from: it is sent again whole.
func (f *smallFile) PartSize() int64               { return f.size + 1 }
func (f *smallFile) Held() int64                   { return 0 }
func (f *smallFile) waitParts() error              { return nil }
func (f *smallFile) SaveState(int64, []byte) error { return nil }
func (f *smallFile) target() string                { return f.key }
func (f *smallFile) stated() bool                  { return false }
func (f *smallFile) discard()                      { f.free() }
func (f *smallFile) keep() (int64, bool)           { return 0, false }

func (f *smallFile) place(md5 string, opts minio.PutObjectOptions) error {
	ctx, cancel := f.t.c.ctxFrom(f.ctx)
	defer cancel()
	opts.UserMetadata = mtimeMeta(f.mtime)
	if md5 != "" {
		opts.UserMetadata[md5Meta] = md5
	}
	opts.DisableContentSha256 = true
	_, err := f.t.c.core.PutObject(ctx, f.t.bucket, f.key, bytes.NewReader(f.buf), f.size, contentMD5(md5), "", opts)
	if err == nil {
		f.free()
	}
	return err // the bytes stay for another try after ErrChanged, or for discard
}

// partFile is a multipart upload towards its final key. Parts are filled
// one at a time and uploaded in the background, several at once; Held is
// where the uploaded parts end without a gap.
type partFile struct {
	t        *FS
	id, key  string
	uploadID string
	partSize int64
	hasState bool
	ctx      context.Context // the upload's session (nil: none): its parts and commit end with it

	buf  []byte // the part being filled, from the pool
	next int    // its number
	at   int64  // bytes written before it

	mu     sync.Mutex
	done   map[int]part // uploaded
	err    error        // the first failed part's
	wg     sync.WaitGroup
	slots  chan struct{}
	synced bool
}

func newPartFile(ctx context.Context, t *FS, id, key, uploadID string, partSize, at int64, parts []part) *partFile {
	f := &partFile{ctx: ctx, t: t, id: id, key: key, uploadID: uploadID, partSize: partSize, at: at,
		next: len(parts) + 1, done: make(map[int]part), slots: make(chan struct{}, t.c.par)}
	for _, p := range parts {
		f.done[p.N] = p
	}
	return f
}

func (f *partFile) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		if err := f.failed(); err != nil {
			return n, err
		}
		if f.buf == nil {
			b, err := f.t.c.bufs.get(f.ctx)
			if err != nil {
				return n, opErr("put", "partial "+f.id, err)
			}
			f.buf = b[:0]
		}
		end := f.partLen()
		k := min(len(p), end-len(f.buf))
		f.buf = append(f.buf, p[:k]...)
		p, n = p[k:], n+k
		if len(f.buf) == end {
			if err := f.send(); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

// send uploads the part being filled in the background, once one of the
// upload's slots is free. When the upload's session or the client ends
// first, the part is dropped and the upload fails.
func (f *partFile) send() error {
	buf, num := f.buf, f.next
	f.buf = nil
	var ended <-chan struct{}
	if f.ctx != nil {
		ended = f.ctx.Done()
	}
	select {
	case f.slots <- struct{}{}:
	case <-ended:
		return f.drop(buf, f.ctx.Err())
	case <-f.t.c.halted.Done():
		return f.drop(buf, errHalted)
	}
	f.next++
	f.at += int64(len(buf))
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		defer func() { <-f.slots }()
		defer f.t.c.bufs.put(buf)
		f.putPart(num, buf)
	}()
	return nil
}

// putPart uploads buf as part num, and notes it held, or the upload
// failed.
func (f *partFile) putPart(num int, buf []byte) error {
	ctx, cancel := f.t.c.ctxFrom(f.ctx)
	defer cancel()
	op, err := f.t.c.core.PutObjectPart(ctx, f.t.bucket, f.key, f.uploadID, num, bytes.NewReader(buf), int64(len(buf)),
		minio.PutObjectPartOptions{DisableContentSha256: true})
	f.mu.Lock()
	defer f.mu.Unlock()
	if err != nil {
		if f.err == nil {
			f.err = opErr("put", "partial "+f.id, err)
		}
		return f.err
	}
	f.done[num] = part{N: num, ETag: strings.Trim(op.ETag, `"`), Size: int64(len(buf))}
	return nil
}

// partLen is how long the part being filled gets: to the next multiple
// of the part size (where home puts resume points), or to the one after
// when that is nearer than the smallest part, as it may be after a part
// that keep cut short.
func (f *partFile) partLen() int {
	end := (f.at/f.partSize + 1) * f.partSize
	if end-f.at < MinPartSize {
		end += f.partSize
	}
	return int(end - f.at)
}

// keep uploads the part being filled as a part of its own, shorter than
// the others, when it holds at least the smallest part the store takes
// and nothing failed: a suspended upload then keeps it, rather than
// dropping up to a whole part. It returns where the part ends. With
// parts over half the store's largest, the part after a short one could
// not run to a further part end (partLen): nothing is kept then.
func (f *partFile) keep() (int64, bool) {
	if len(f.buf) < MinPartSize || f.partSize > maxPartSize/2 || f.failed() != nil {
		return 0, false
	}
	buf, num := f.buf, f.next
	f.buf = nil
	err := f.putPart(num, buf)
	f.t.c.bufs.put(buf)
	if err != nil {
		return 0, false
	}
	f.next++
	f.at += int64(len(buf))
	return f.at, true
}

// drop gives back the buffer of a part that will not be sent, and fails
// the upload with why.
func (f *partFile) drop(buf []byte, why error) error {
	f.t.c.bufs.put(buf)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err == nil {
		f.err = opErr("put", "partial "+f.id, why)
	}
	return f.err
}

func (f *partFile) failed() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

// Sync uploads the last part and waits for every part.
func (f *partFile) Sync() error {
	if f.buf != nil || f.next == 1 {
		if f.buf == nil {
			b, err := f.t.c.bufs.get(f.ctx)
			if err != nil {
				return opErr("put", "partial "+f.id, err)
			}
			f.buf = b[:0]
		}
		if err := f.send(); err != nil {
			return err
		}
	}
	f.wg.Wait()
	if err := f.failed(); err != nil {
		return err
	}
	f.synced = true
	return nil
}

// Close waits for the parts in flight and lets go of the buffer. Unless
// the upload was synced (it is then kept for the commit), what was being
// filled is dropped; a resumable upload's state still names its parts,
// and anything else is forgotten for Abort to discard.
func (f *partFile) Close() error {
	f.wg.Wait()
	if f.buf != nil {
		f.t.c.bufs.put(f.buf)
		f.buf = nil
	}
	if !f.synced && f.hasState {
		f.t.forget(f.id, f) // the state has its upload id
	}
	return f.failed()
}

func (f *partFile) PartSize() int64 { return f.partSize }

func (f *partFile) waitParts() error {
	f.wg.Wait()
	return f.failed()
}

// Held returns the end of the parts uploaded without a gap from the first.
func (f *partFile) Held() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	var held int64
	for n := 1; ; n++ {
		p, ok := f.done[n]
		if !ok {
			return held
		}
		held += p.Size
	}
}

// SaveState writes the state object: the parts up to at, and state.
func (f *partFile) SaveState(at int64, state []byte) error {
	f.mu.Lock()
	rec := record{Key: f.key, UploadID: f.uploadID, PartSize: f.partSize, Held: at, Home: state}
	var sum int64
	for n := 1; sum < at; n++ {
		p, ok := f.done[n]
		if !ok {
			f.mu.Unlock()
			return fmt.Errorf("save partial %s: part %d not held: %w", f.id, n, home.ErrSize)
		}
		rec.Parts = append(rec.Parts, p)
		sum += p.Size
	}
	f.mu.Unlock()
	if sum != at {
		return fmt.Errorf("save partial %s: %d is not a part end: %w", f.id, at, home.ErrSize)
	}
	if err := f.t.saveRecord("save", f.id, rec); err != nil {
		return err
	}
	f.mu.Lock()
	f.hasState = true
	f.mu.Unlock()
	return nil
}

func (f *partFile) target() string { return f.key }

func (f *partFile) stated() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hasState
}

func (f *partFile) discard() {
	f.Close()
	f.t.abortUpload(f.key, f.uploadID)
}

// place completes the upload (the one step that makes the file appear
// under its key), then keeps its MD5 in a sidecar named by the ETag the
// store gave it (sums.go): a copy onto itself to set its metadata would
// rewrite every byte (MinIO does for a multipart object). If the sidecar
// cannot be written the file is there all the same; a get then hashes it
// as it sends it.
func (f *partFile) place(md5 string, opts minio.PutObjectOptions) error {
	f.mu.Lock()
	parts := make([]minio.CompletePart, 0, len(f.done))
	for _, p := range f.done {
		parts = append(parts, minio.CompletePart{PartNumber: p.N, ETag: p.ETag})
	}
	f.mu.Unlock()
	slices.SortFunc(parts, func(a, b minio.CompletePart) int { return a.PartNumber - b.PartNumber })
	ctx, cancel := f.t.c.ctxFrom(f.ctx)
	defer cancel()
	ui, err := f.t.c.core.CompleteMultipartUpload(ctx, f.t.bucket, f.key, f.uploadID, parts, opts)
	if err != nil {
		return err
	}
	if md5 != "" {
		f.t.keepSum(strings.Trim(ui.ETag, `"`), md5)
	}
	return nil
}

// md5Sum is the MD5 of b.
func md5Sum(b []byte) []byte {
	s := md5.Sum(b)
	return s[:]
}

// budget counts bytes against a bound.
type budget struct {
	mu   sync.Mutex
	left int64
}

func newBudget(n int64) *budget { return &budget{left: n} }

// take takes n bytes, or reports false when fewer are left.
func (b *budget) take(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if n > b.left {
		return false
	}
	b.left -= n
	return true
}

func (b *budget) give(n int64) {
	b.mu.Lock()
	b.left += n
	b.mu.Unlock()
}

// bufferPool hands out part buffers, at most max at once; get waits for
// one to come back when they are all out. Buffers are kept for reuse (a
// 16 MiB buffer allocated again for every part costs its zeroing).
type bufferPool struct {
	size   int64
	slots  chan struct{}
	free   chan []byte
	halted <-chan struct{} // the client's Halt: a wait for a buffer ends
}

func newBufferPool(size int64, max int) *bufferPool {
	return &bufferPool{size: size, slots: make(chan struct{}, max), free: make(chan []byte, max)}
}

// get waits for a buffer, or until ctx (nil: none) is done: an upload
// whose session ended gives up its wait.
func (p *bufferPool) get(ctx context.Context) ([]byte, error) {
	var done <-chan struct{}
	if ctx != nil {
		done = ctx.Done()
	}
	select {
	case p.slots <- struct{}{}:
	case <-done:
		return nil, ctx.Err()
	case <-p.halted:
		return nil, errHalted
	}
	select {
	case b := <-p.free:
		return b, nil
	default:
		return make([]byte, p.size), nil
	}
}

func (p *bufferPool) put(b []byte) {
	if int64(cap(b)) == p.size { // a resumed upload's parts may be of another size
		select {
		case p.free <- b[:cap(b)]:
		default:
		}
	}
	<-p.slots
}
