package home

import (
	"io/fs"
	"sync"
	"syscall"
)

// sums remembers the MD5 of files the server has seen whole (uploaded or
// sent), keyed by device, inode, size and modification time, so that a
// get can announce the digest up front and hand the file to the socket
// without hashing it again, and stat can answer without reading. A file
// rewritten in place with its old size and mtime restored would fool it;
// the client still checks every byte it receives against the digest.
type sums struct {
	mu sync.Mutex
	m  map[sumKey]string
}

type sumKey struct {
	dev, ino           uint64
	size, mtime, ctime int64 // ctime: cannot be set back by hand, unlike mtime
}

// maxSums bounds the cache; past it, it starts afresh.
const maxSums = 100_000

func keyOf(fi fs.FileInfo) (sumKey, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || !fi.Mode().IsRegular() {
		return sumKey{}, false
	}
	return sumKey{dev: uint64(st.Dev), ino: st.Ino, size: fi.Size(), mtime: fi.ModTime().UnixNano(),
		ctime: st.Ctim.Sec*1e9 + st.Ctim.Nsec}, true
}

func (s *sums) get(fi fs.FileInfo) string {
	k, ok := keyOf(fi)
	if !ok {
		return ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[k]
}

func (s *sums) put(fi fs.FileInfo, sum string) {
	k, ok := keyOf(fi)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil || len(s.m) >= maxSums {
		s.m = make(map[sumKey]string)
	}
	s.m[k] = sum
}

// StoredSum is the Sys of a FileInfo whose store keeps the file's MD5
// with it: an object's metadata, written when ftpx verified the file.
type StoredSum interface{ StoredMD5() string }

// KnownSum returns the MD5 of the file described by fi (from Stat or an
// open file's Stat) if its store keeps it or the server has seen it whole
// since it last changed, else "".
func (h *Home) KnownSum(fi fs.FileInfo) string {
	if s, ok := fi.Sys().(StoredSum); ok && s.StoredMD5() != "" {
		return s.StoredMD5()
	}
	if h.m == nil {
		return ""
	}
	return h.m.sums.get(fi)
}

// RememberSum records the MD5 of the file described by fi.
func (h *Home) RememberSum(fi fs.FileInfo, sum string) {
	if h.m != nil {
		h.m.sums.put(fi, sum)
	}
}
