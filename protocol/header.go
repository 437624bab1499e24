package protocol

import "time"

// Action names, the value of "action" in a request.
const (
	ActionAuth  = "auth"
	ActionLs    = "ls"
	ActionCd    = "cd"
	ActionPwd   = "pwd"
	ActionStat  = "stat"
	ActionMkdir = "mkdir"
	ActionGet   = "get"
	ActionPut   = "put"
	ActionQuit  = "quit"

	ActionBreakpoint = "breakpoint" // how much of an interrupted put the server holds
	ActionRm         = "rm"
	ActionMv         = "mv"
	ActionQuota      = "quota"
	ActionStartTLS   = "starttls"  // after its 260 answer both sides run the TLS handshake
	ActionCancel     = "cancel"    // give up an interrupted put: its partial goes, its bytes leave the quota
	ActionTree       = "tree"      // a directory and everything under it, in one answer of one or more frames
	ActionSignature  = "signature" // the block sums of a file, for a put sent as a delta onto it
)

// Request is every header a client sends. Which fields matter depends on
// Action; PROTOCOL.md lists them. The trailer that follows a put body
// ({"md5":HEX}) is a Request with only MD5 set.
type Request struct {
	ID     string `json:"id,omitempty"`
	Action string `json:"action,omitempty"`

	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`

	Filename string `json:"filename,omitempty"` // get, put, stat, mkdir
	Path     string `json:"path,omitempty"`     // ls, cd, tree

	// Size is the whole file's size for a put. Requests may name it
	// "file_size", the original design's key; Size() reads either.
	SizeField     *int64 `json:"size,omitempty"`
	FileSizeField *int64 `json:"file_size,omitempty"`
	Offset        int64  `json:"offset,omitempty"`
	MD5           string `json:"md5,omitempty"` // put: the whole file's; get with an offset: the prefix's

	// Transfer names a resumable put (a uuid the client chooses and keeps
	// across reconnections): its partial outlives the connection, and
	// breakpoint reports how much of it the server holds.
	Transfer string `json:"transfer,omitempty"`

	// NoWait marks a pipelined put: the body follows the header at once,
	// without waiting for a 257 (none is sent), and the server reads it
	// whatever it answers. It needs "md5" and a size up to MaxNoWaitSize.
	NoWait bool `json:"nowait,omitempty"`

	// Stream marks a put of unknown size (standard input): after the 257
	// its body comes as chunks (chunk.go), then the md5 frame. It takes
	// no size, offset, transfer, delta, nowait or md5, and cannot be
	// resumed.
	Stream bool `json:"stream,omitempty"`

	// Abandon, in place of the md5 frame after a put body, gives the put
	// up: the client's source changed while it was sent. Nothing is
	// stored; the answer is 260.
	Abandon bool `json:"abandon,omitempty"`

	Parents   bool   `json:"parents,omitempty"`   // mkdir: create missing parents, no error if it exists
	Recursive bool   `json:"recursive,omitempty"` // rm: a directory and everything in it
	To        string `json:"to,omitempty"`        // mv: the new name
	Checksum  bool   `json:"checksum,omitempty"`  // stat, tree: include each file's md5

	// MTime is a put's modification time for the file: the server keeps
	// it. Without it the file has the time it was stored.
	MTime *time.Time `json:"mtime,omitempty"`

	// Delta on a put says that the body is a delta against the basis the
	// server described (its signature's answer); on a get, that a
	// signature of the client's basis follows the header (Blocks sums),
	// and that the answer's body may be a delta against it (delta.go).
	Delta *Delta `json:"delta,omitempty"`
}

// Size returns the announced size and whether one was given, preferring
// "size" over "file_size".
func (r *Request) Size() (int64, bool) {
	switch {
	case r.SizeField != nil:
		return *r.SizeField, true
	case r.FileSizeField != nil:
		return *r.FileSizeField, true
	}
	return 0, false
}

// Response is every header a server sends: the greeting, every answer, and
// the md5 trailer after a get body.
type Response struct {
	ID     string `json:"id,omitempty"`
	Status Status `json:"status_code"`
	Msg    string `json:"status_msg"`

	// Greeting.
	Version string `json:"version,omitempty"`
	Welcome string `json:"welcome,omitempty"`
	TLS     bool   `json:"tls,omitempty"`
	Session string `json:"session,omitempty"`

	// Answers to file and directory actions.
	Path    string     `json:"path,omitempty"` // cd, pwd: the current directory, "/" being the home; ls, tree: the resolved path
	Size    *int64     `json:"size,omitempty"` // get, stat: always present on a 257 for get
	Offset  int64      `json:"offset,omitempty"`
	MD5     string     `json:"md5,omitempty"`
	MTime   *time.Time `json:"mtime,omitempty"`   // get: the file's modification time, kept by the client
	Delta   *Delta     `json:"delta,omitempty"`   // signature: the basis, its sums follow; get: the body is a delta
	Entries []Entry    `json:"entries,omitempty"` // ls
	Stat    *Entry     `json:"stat,omitempty"`    // stat

	// Tree is one frame's share of a tree answer; More says another
	// frame of the same answer follows.
	Tree []TreeEntry `json:"tree,omitempty"`
	More bool        `json:"more,omitempty"`

	Used  *int64 `json:"used,omitempty"`  // quota: bytes in use (partial uploads included)
	Quota *int64 `json:"quota,omitempty"` // quota: the limit, -1 for none

	Goodbye string `json:"goodbye,omitempty"` // quit
}

// Entry describes one name in a listing, as "ftpx ls --json" prints it.
type Entry struct {
	Name  string    `json:"name"`
	Size  int64     `json:"size"`
	IsDir bool      `json:"is_dir"`
	MTime time.Time `json:"mtime"`
}

// TreeEntry is one name under the directory a tree answer lists. Path is
// relative to that directory, its elements joined by "/"; a directory
// comes before what it holds. Skip names what the server left out on
// purpose (SkipLoop, SkipLink, SkipSpecial); Status, when set, says why a
// directory could not be listed or a name cannot be requested (263, 272,
// 273), and then nothing under it is listed.
type TreeEntry struct {
	Path   string    `json:"path"`
	Size   int64     `json:"size"`
	IsDir  bool      `json:"is_dir"`
	MTime  time.Time `json:"mtime"`         // to the nanosecond, where the server keeps it so
	MD5    string    `json:"md5,omitempty"` // asked for with "checksum"
	Skip   string    `json:"skip,omitempty"`
	Status Status    `json:"status_code,omitempty"`
}

// Why a tree answer leaves a name's content out.
const (
	SkipLoop    = "loop"    // a directory that is one of its own ancestors (through a symlink)
	SkipLink    = "link"    // a symlink out of the home, or dangling
	SkipSpecial = "special" // neither a regular file nor a directory
)

// Int64 returns a pointer to n, for the optional size fields.
func Int64(n int64) *int64 { return &n }
