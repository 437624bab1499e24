package s3home

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"ftpx/home"

	"github.com/minio/minio-go/v7"
)

// The partials of a tree: each upload in progress is held by this
// process as a smallFile (in memory, written with one PUT once verified)
// or a partFile (a multipart upload towards its final key). A resumable
// one also has a state object in the tree's PartialDir, ID.state, holding
// the record below: enough for any server to go on with it.

// stateSuffix names a partial's state object; lockSuffix its lock.
const (
	stateSuffix = ".state"
	lockSuffix  = ".lock"
)

// record is a partial's state object.
type record struct {
	Key      string `json:"key"`                 // the final object's key
	UploadID string `json:"upload_id,omitempty"` // its multipart upload
	PartSize int64  `json:"part_size,omitempty"`
	Parts    []part `json:"parts,omitempty"` // the parts held, numbered from 1, in order
	Held     int64  `json:"held"`            // their bytes
	Home     []byte `json:"home,omitempty"`  // the upload's own state, for home
}

// part is one uploaded part: its number, size and the ETag the store gave
// it (checked by the store again when the upload is completed).
type part struct {
	N    int    `json:"n"`
	ETag string `json:"etag"`
	Size int64  `json:"size"`
}

// upload is a partial this process holds: its bytes, and the store's
// record of them. Written bytes reach the store when the part they are in
// is uploaded (a small file is one part, uploaded when it is placed).
type upload interface {
	io.Writer
	// Sync uploads what is buffered and waits for every part; Close
	// without Sync (a suspended upload) keeps only the parts already held.
	Sync() error
	Close() error
	// PartSize is the size of every part but the last: parts end at its
	// multiples, counted from the start of the file.
	PartSize() int64
	// Held returns how many bytes from the start are in the store for
	// sure: every part up to there is uploaded.
	Held() int64
	// waitParts waits for the parts being uploaded (not the one being
	// filled), so that Held covers every whole part written.
	waitParts() error
	// keep uploads what is being filled as a part when the store would
	// take it, and returns where it ends; false: nothing was kept.
	keep() (int64, bool)
	// SaveState saves state as the upload's resume state at offset at (a
	// part end, at most Held), with the store's record of those parts.
	SaveState(at int64, state []byte) error
	target() string // the final key
	// place writes the verified file under its key on the conditions in
	// opts, with its MD5 in the object's metadata.
	place(md5 string, opts minio.PutObjectOptions) error
	// discard gives the partial up: the store forgets its parts.
	discard()
	// stated reports whether it has a state object.
	stated() bool
}

// createObject starts the partial id for name: held in memory when it is
// smaller than a part (and memory allows), else a multipart upload, as is
// a stream, whose size is known only at its end. The object will carry
// o.MTime (when set) in its metadata.
func (t *FS) createObject(id, name string, o home.UploadOptions) (upload, error) {
	size, mtime := o.Size, o.MTime
	if _, err := t.partialKey("put", id, ""); err != nil {
		return nil, err
	}
	k, err := t.key("put", name)
	if err != nil {
		return nil, err
	}
	if name == "/" {
		return nil, fmt.Errorf("put %s: %w", name, home.ErrIsDir)
	}
	var w upload
	if !o.Stream && !o.Shared && size < t.c.part && t.c.mem.take(size) {
		w = &smallFile{t: t, id: id, key: k, size: size, buf: make([]byte, 0, size), mtime: mtime, ctx: o.Ctx}
	} else {
		ctx, cancel := t.c.ctxFrom(o.Ctx)
		defer cancel()
		uploadID, err := t.c.core.NewMultipartUpload(ctx, t.bucket, k, minio.PutObjectOptions{UserMetadata: mtimeMeta(mtime)})
		if err != nil {
			return nil, opErr("put", name, err)
		}
		pf := newPartFile(o.Ctx, t, id, k, uploadID, t.c.part, 0, nil)
		// A state at once, even for an upload that cannot be resumed: a
		// server that dies leaves parts that only a state names, and the
		// partial sweep finds them by it.
		if err := pf.SaveState(0, nil); err != nil {
			t.abortUpload(k, uploadID)
			return nil, err
		}
		w = pf
	}
	t.mu.Lock()
	if old := t.uploads[id]; old != nil {
		defer old.discard()
	}
	t.uploads[id] = w
	t.mu.Unlock()
	return w, nil
}

// reopenPartial goes on with the partial id from offset, a part end no
// further than its state says is held (else ErrSize).
func (t *FS) reopenPartial(ctx context.Context, id string, offset int64) (upload, error) {
	rec, err := t.loadRecord("resume", id)
	if err != nil {
		return nil, err
	}
	if rec.UploadID == "" || rec.PartSize <= 0 {
		return nil, fmt.Errorf("resume partial %s: %w", id, home.ErrNotExist)
	}
	if offset > rec.Held || offset%rec.PartSize != 0 && offset != rec.Held {
		return nil, fmt.Errorf("resume partial %s: offset %d, held %d: %w", id, offset, rec.Held, home.ErrSize)
	}
	var parts []part
	var at int64
	for _, p := range rec.Parts {
		if at+p.Size > offset {
			break
		}
		parts = append(parts, p)
		at += p.Size
	}
	w := newPartFile(ctx, t, id, rec.Key, rec.UploadID, rec.PartSize, at, parts)
	w.hasState = true
	t.mu.Lock()
	t.uploads[id] = w
	t.mu.Unlock()
	return w, nil
}

// ReadPartial is refused: the store cannot read back the parts of an
// upload in progress, and never needs to (Partials reports only what
// the state holds).
func (t *FS) ReadPartial(id string, _ int64) (io.ReadCloser, error) {
	return nil, fmt.Errorf("resume partial %s: parts cannot be read back: %w", id, home.ErrPermission)
}

// take removes the partial id from those this process holds.
func (t *FS) take(id string) upload {
	t.mu.Lock()
	defer t.mu.Unlock()
	w := t.uploads[id]
	delete(t.uploads, id)
	return w
}

// held returns the partial id this process holds, or nil.
func (t *FS) held(id string) upload {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.uploads[id]
}

// forget drops the partial w from those this process holds, if it is
// still the one under its id.
func (t *FS) forget(id string, w upload) {
	t.mu.Lock()
	if t.uploads[id] == w {
		delete(t.uploads, id)
	}
	t.mu.Unlock()
}

// commitObject places the verified partial id at name, on condition that
// name still holds was (nil: nothing), keeping md5 in the object's
// metadata. ErrChanged leaves the partial for another try.
func (t *FS) commitObject(id, name, md5 string, was fs.FileInfo) error {
	var opts minio.PutObjectOptions
	switch {
	case was == nil:
		opts.SetMatchETagExcept("*")
	case etagOf(was) != "":
		opts.SetMatchETag(etagOf(was))
	}
	return t.commit(id, name, md5, opts)
}

func (t *FS) commit(id, name, md5 string, opts minio.PutObjectOptions) error {
	k, err := t.key("put", name)
	if err != nil {
		return err
	}
	w := t.held(id)
	switch {
	case w == nil:
		return fmt.Errorf("put %s: partial %s: %w", name, id, home.ErrNotExist)
	case w.target() != k:
		return fmt.Errorf("put %s: partial %s is for another name: %w", name, id, home.ErrBadPath)
	}
	if err := t.parentDir("put", name); err != nil {
		return err
	}
	if !t.surelyNoDir(name) {
		if ok, _, err := t.dirAt(k + "/"); err != nil {
			return opErr("put", name, err)
		} else if ok {
			return fmt.Errorf("put %s: %w", name, home.ErrIsDir)
		}
	}
	if err := w.place(md5, opts); err != nil {
		return opErr("put", name, err)
	}
	t.forget(id, w)
	if w.stated() {
		if sk, err := t.partialKey("put", id, stateSuffix); err == nil {
			t.delete("put", name, sk) // best effort: an orphan state is swept with its partial
		}
	}
	return nil
}

// RemovePartial gives up the partial id: its parts, its memory, its state.
func (t *FS) RemovePartial(id string) error {
	sk, err := t.partialKey("abort", id, stateSuffix)
	if err != nil {
		return err
	}
	found := false
	w := t.take(id)
	if w != nil {
		w.discard()
		found = true
	}
	rec, err := t.loadRecord("abort", id)
	switch {
	case errors.Is(err, home.ErrNotExist):
	case err != nil:
		return err
	default:
		found = true
		if pf, ok := w.(*partFile); rec.UploadID != "" && (!ok || pf.uploadID != rec.UploadID) {
			t.abortUpload(rec.Key, rec.UploadID)
		}
		if err := t.delete("abort", "partial "+id, sk); err != nil && !isNotExist(err) {
			return err
		}
	}
	if !found {
		return fmt.Errorf("abort partial %s: %w", id, home.ErrNotExist)
	}
	return nil
}

// abortUpload makes the store forget a multipart upload's parts.
func (t *FS) abortUpload(key, uploadID string) {
	ctx, cancel := t.c.ctx()
	defer cancel()
	t.c.core.AbortMultipartUpload(ctx, t.bucket, key, uploadID)
}

// loadRecord reads the state object of the partial id.
func (t *FS) loadRecord(op, id string) (record, error) {
	var rec record
	sk, err := t.partialKey(op, id, stateSuffix)
	if err != nil {
		return rec, err
	}
	b, _, err := t.getSmall(sk)
	if err != nil {
		return rec, opErr(op, "partial "+id, err)
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		return rec, fmt.Errorf("%s partial %s: unreadable state: %w", op, id, home.ErrNotExist)
	}
	return rec, nil
}

// saveRecord writes the state object of the partial id.
func (t *FS) saveRecord(op, id string, rec record) error {
	sk, err := t.partialKey(op, id, stateSuffix)
	if err != nil {
		return err
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	_, err = t.putSmall(sk, b, minio.PutObjectOptions{})
	return opErr(op, "partial "+id, err)
}

// getSmall reads a small object whole, with its ETag.
func (t *FS) getSmall(k string) ([]byte, string, error) {
	ctx, cancel := t.c.ctx()
	defer cancel()
	body, o, _, err := t.c.core.GetObject(ctx, t.bucket, k, minio.GetObjectOptions{})
	if err != nil {
		return nil, "", err
	}
	defer body.Close()
	b, err := io.ReadAll(io.LimitReader(body, 16<<20))
	return b, strings.Trim(o.ETag, `"`), err
}

// putSmall writes a small object whole on the conditions in opts and
// returns its new ETag.
func (t *FS) putSmall(k string, b []byte, opts minio.PutObjectOptions) (string, error) {
	ctx, cancel := t.c.ctx()
	defer cancel()
	opts.DisableContentSha256 = true
	ui, err := t.c.core.PutObject(ctx, t.bucket, k, bytes.NewReader(b), int64(len(b)), md5Base64(b), "", opts)
	return strings.Trim(ui.ETag, `"`), err
}

func (t *FS) PartialState(id string) ([]byte, error) {
	rec, err := t.loadRecord("load", id)
	if err != nil {
		return nil, err
	}
	if len(rec.Home) == 0 {
		return nil, fmt.Errorf("load partial %s: %w", id, home.ErrNotExist)
	}
	return rec.Home, nil
}

// SavePartialState keeps home's state of the partial id in its state
// object (an upload in progress saves it with its parts, SaveState).
func (t *FS) SavePartialState(id string, state []byte) error {
	if w := t.held(id); w != nil {
		return w.SaveState(w.Held(), state)
	}
	rec, err := t.loadRecord("save", id)
	if err != nil {
		return err
	}
	rec.Home = state
	return t.saveRecord("save", id, rec)
}

// Partials lists the partials that have a state, each with the bytes the
// state says are held and the time it was last saved.
func (t *FS) Partials() ([]home.PartialInfo, error) {
	var out []home.PartialInfo
	err := t.list(t.partials(), false, func(o minio.ObjectInfo) error {
		id, ok := strings.CutSuffix(strings.TrimPrefix(o.Key, t.partials()), stateSuffix)
		if !ok || id == "" || strings.Contains(id, "/") {
			return nil
		}
		rec, err := t.loadRecord("list", id)
		if err != nil {
			return nil // removed meanwhile, or unreadable
		}
		out = append(out, home.PartialInfo{ID: id, Size: rec.Held, ModTime: o.LastModified})
		return nil
	})
	if err != nil {
		return nil, opErr("list", "partials", err)
	}
	return out, nil
}

// md5Base64 is the Content-MD5 of b.
func md5Base64(b []byte) string {
	return base64.StdEncoding.EncodeToString(md5Sum(b))
}

// contentMD5 turns a hex MD5 into a Content-MD5 header value, or "".
func contentMD5(hexSum string) string {
	b, err := hex.DecodeString(hexSum)
	if err != nil || len(b) != 16 {
		return ""
	}
	return base64.StdEncoding.EncodeToString(b)
}
