package home

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"time"

	"ftpx/internal/ids"
)

// An upload's bytes are kept by a Sink until they are verified and placed
// under the upload's name. The tree the name is in chooses the kind of
// Sink when the upload begins (Uploads.Upload): on local disk an unnamed
// file in the name's own directory for a small upload that cannot be
// resumed (whole.go), and a named partial under PartialDir for any other
// (partial_fs.go); on an object store a small object held in memory or a
// multipart upload towards the final key (package s3home). What every
// kind shares lives in Upload (upload.go): the MD5, the quota
// reservation, the free-space promise, when a resume point is due, and
// the place, measured, counted and retried the same way for every kind.
type Sink interface {
	// Write appends to the upload's bytes.
	io.Writer
	// Checkpoint is told, after each stretch written and hashed, that the
	// first at bytes are written, how to describe the upload there
	// (state), and whether a resume point is due. A sink keeps one where
	// it can and returns the offset of the resume point it now holds,
	// which may lag behind at: a store that keeps bytes in whole parts
	// can keep one only at a part end it holds. Only resumable uploads
	// are checkpointed.
	Checkpoint(at int64, state func() ResumePoint, due bool) (saved int64, err error)
	// Finish is called once every byte is written and verified, before
	// Place: the bytes go to the store, synced to stable storage when
	// sync is set.
	Finish(sync bool) error
	// Target measures what is at the upload's name now.
	Target() (Target, error)
	// Place puts the finished bytes under the name, atomically replacing
	// what Target found there (synced when durable), with the
	// modification time the upload was opened with, and drops the resume
	// point. It returns what is at the name now, or nil when that cannot
	// be told cheaply. A store that places on condition (several servers
	// share it) fails with ErrChanged, keeping the bytes, when the name no
	// longer holds t.
	Place(t Target, md5 string, durable bool) (fs.FileInfo, error)
	// Suspend ends an upload that was cut off: the sink keeps a resume
	// point as far as it can (state describes the upload after every
	// byte written) and the bytes it covers, and returns its offset.
	Suspend(state func() ResumePoint) (saved int64, err error)
	// Abort drops the bytes and any resume point.
	Abort() error
}

// Uploads is how a tree takes files, and the interrupted uploads it keeps.
type Uploads interface {
	// Upload checks that name (in this tree) can take an upload (its
	// parent is a directory: ErrNotExist, ErrNotDir; it is not a
	// directory itself: ErrIsDir), measures what is there, and opens the
	// Sink of the upload: a new one under id, or with o.Offset > 0 the
	// partial id cut back to that offset (it must hold at least that:
	// ErrSize). id is a transfer id or a fresh one (FreshID); either
	// names a partial file where the kind has one.
	Upload(id, name string, o UploadOptions) (Sink, Target, error)
	ReadPartial(id string, offset int64) (io.ReadCloser, error) // the partial's bytes from offset to its end
	RemovePartial(id string) error                              // the data and the saved state
	SavePartialState(id string, state []byte) error             // atomically
	PartialState(id string) ([]byte, error)                     // ErrNotExist when none was saved
	Partials() ([]PartialInfo, error)                           // every partial's data file
}

// UploadOptions describe an upload to its tree.
type UploadOptions struct {
	Size      int64     // the whole file's, declared
	Offset    int64     // where a resumed upload goes on
	Resumable bool      // the partial must outlive the connection (a client's transfer id)
	Durable   bool      // uploads are synced: the sink may start writing back early
	MTime     time.Time // the modification time the file is placed with; zero: when it is placed
	Stream    bool      // the size is known only when the bytes end (an FTP upload): Size is what is held so far
	Shared    bool      // resumable by every server of the store from its creation, however small (Put.Shared)
	// Ctx is the session's (Spec.Ctx): a sink's calls to a store end when
	// it is done. Nil: none.
	Ctx context.Context
}

// Target is what an upload found at its name: nothing, or something the
// quota counts Size bytes for (a file's size; a symbolic link counts 0).
// Info is the store's description of it, for a conditional place. A Blind
// target was not measured (a small upload, to save a stat per file): it is
// taken to be nothing, which the place checks (ErrChanged), and measured
// when the quota or the disk would refuse the whole size.
type Target struct {
	Exists bool
	Size   int64
	Info   fs.FileInfo
	Blind  bool
}

// ResumePoint is what a resumable upload saves beside its partial: enough
// to append to it later and still verify the whole file, without reading
// the bytes already held (the MD5 state is the digest's own encoding).
type ResumePoint struct {
	Name    string    `json:"name"`
	Size    int64     `json:"size"`
	Offset  int64     `json:"offset"`
	MD5     []byte    `json:"md5_state"`
	Updated time.Time `json:"updated"`
	// Want and MTime are what the upload was begun with (Put.Want,
	// Put.MTime), kept for a client that gives them only once: a tus
	// upload names its MD5 and mtime when it is created.
	Want  string `json:"want_md5,omitempty"`
	MTime int64  `json:"mtime,omitempty"` // Unix seconds; 0: none
}

// A Concurrent tree places the uploads of a batch several at a time (an
// object store, where each place is a request to a server); any other
// places them one after the other.
type Concurrent interface {
	PlaceConcurrency() int
}

// MeasureTarget is the check and measurement of Uploads.Upload for a tree
// that has nothing quicker: its parent must be a directory, and name must
// not be one; a file's size counts, as does nothing for a symbolic link
// when the tree can tell one (an lstat method).
func MeasureTarget(fsys FS, name string) (Target, error) {
	if name == "/" {
		return Target{}, fmt.Errorf("put %s: %w", name, because(ErrIsDir, "a file cannot replace a directory"))
	}
	dir, err := fsys.Stat(path.Dir(name))
	switch {
	case errors.Is(err, ErrNotExist):
		return Target{}, fmt.Errorf("put %s: parent directory: %w", name, err)
	case err != nil:
		return Target{}, fmt.Errorf("put %s: %w", name, err)
	case !dir.IsDir():
		return Target{}, fmt.Errorf("put %s: %w", name, ErrNotDir)
	}
	fi, err := fsys.Stat(name)
	switch {
	case errors.Is(err, ErrNotExist):
		return Target{}, nil
	case err != nil:
		return Target{}, fmt.Errorf("put %s: %w", name, err)
	case fi.IsDir():
		return Target{}, fmt.Errorf("put %s: %w", name, because(ErrIsDir, "a file cannot replace a directory"))
	}
	if l, ok := fsys.(interface {
		lstat(string) (fs.FileInfo, error)
	}); ok {
		if li, err := l.lstat(name); err == nil && !li.Mode().IsRegular() {
			return Target{Exists: true, Info: li}, nil
		}
	}
	return Target{Exists: true, Size: fi.Size(), Info: fi}, nil
}

// FreshID returns a new partial id, unique across servers, cheaply
// (package ids).
func FreshID() string { return ids.New() }

// placeTries bounds how often a place measures the name again after a
// store that places on condition said it changed.
const placeTries = 4

// Marshal encodes a resume point as a partial's saved state.
func (st ResumePoint) Marshal() []byte {
	b, _ := json.Marshal(st) // plain fields: it cannot fail
	return b
}
