package client

import (
	"bufio"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"
	"golang.org/x/sys/unix"

	"ftpx/internal/ids"
	"ftpx/internal/xfer"
	"ftpx/protocol"
)

// A batch get asks for its files pipelined: one goroutine sends the get
// requests up to pipeWindow ahead; the caller's goroutine reads each answer
// and body in order, hashing it, and hands the verified files to a third
// goroutine that writes them to disk and names them, so that the network
// and the local file system are worked on both cores at once. A small body
// travels between the two in memory; a bigger one is written straight to
// an unnamed file by the reader. A window of verified files is made durable
// with one syncfs, named, and synced again: two syncs for the window
// instead of one per file.

// memBody is the largest body handed to the writing goroutine in memory.
const memBody = 64 << 10

// placeAhead is how many received files may wait for the writing
// goroutine: at most placeAhead*memBody bytes of bodies in memory.
const placeAhead = 256

// gotFile is a verified file waiting to be named: an unnamed file
// (O_TMPFILE) in its destination's directory, or where the file system
// has none, a hidden partial beside it.
type gotFile struct {
	t       target
	abs     string   // t.dest, absolute
	f       *os.File // open until placed or dropped; nil while in body
	partial string   // f's hidden name beside t.dest; "" while it has none
	body    []byte   // a small file's verified bytes, not yet written
	mtime   time.Time
	res     Result
}

// unnamed reports whether the file has no name yet.
func (g gotFile) unnamed() bool { return g.partial == "" }

// drop closes and forgets the file (an unnamed one vanishes by itself).
func (g gotFile) drop() {
	if g.f == nil {
		return
	}
	g.f.Close()
	if !g.unnamed() {
		os.Remove(g.partial)
	}
}

// create makes the file that will hold the body of a get to abs (an
// absolute path): unnamed in the destination's directory, or a partial
// beside it, whose name it returns.
func create(abs string) (f *os.File, partial string, err error) {
	if f, err = createUnnamed(filepath.Dir(abs)); err == nil {
		return f, "", nil
	}
	if f, err = createPartial(abs, uuid.NewString()); err != nil {
		return nil, "", err
	}
	return f, f.Name(), nil
}

// write puts a body held in memory into its file, and gives the file
// the server's modification time.
func (g *gotFile) write() error {
	if g.f == nil {
		f, partial, err := create(g.abs)
		if err != nil {
			return localError("get", g.t.dest, err)
		}
		body := g.body
		g.f, g.partial, g.body = f, partial, nil
		if _, err := f.Write(body); err != nil {
			g.drop()
			return localError("get", g.t.dest, err)
		}
	}
	if !g.mtime.IsZero() {
		if err := xfer.SetMTime(g.f, g.mtime); err != nil {
			g.drop()
			return localError("get", g.t.dest, err)
		}
	}
	return nil
}

// place gives the file its destination's name, replacing a file there
// atomically, and closes it.
func (g gotFile) place() error {
	defer g.f.Close()
	if !g.unnamed() {
		return renameFile(g.partial, g.t.dest)
	}
	err := linkUnnamed(g.f, g.t.dest)
	if errors.Is(err, unix.EEXIST) {
		// rename is what replaces a name atomically: link beside, then
		// rename over.
		tmp := partialName(g.t.dest, uuid.NewString())
		if err = linkUnnamed(g.f, tmp); err == nil {
			if err = renameFile(tmp, g.t.dest); err != nil {
				os.Remove(tmp)
			}
		}
	}
	return err
}

// getPipelined gets the targets pipelined, calling done or failed for
// each, in order, and returns how many it settled; after a lost connection
// the rest are for the caller to get one by one, with its retries. With a
// halter it stops at the first failure, which it reports: it asks for
// nothing more, reads the answers already asked for, and names none of
// the files after it (they count as settled).
func (c *Client) getPipelined(ctx context.Context, tops []target, done func(target, Result), failed func(error), h *halter) int {
	if c.err != nil || len(tops) == 0 {
		return 0
	}
	window := make(chan struct{}, pipeWindow)
	sentIDs := make(chan string, pipeWindow)
	stop := make(chan struct{})
	go func() {
		defer close(sentIDs)
		bw := bufio.NewWriterSize(c.rw, 16<<10) // requests go out a bufferful at a time
		defer bw.Flush()
		for _, t := range tops {
			if len(window) == cap(window) && bw.Flush() != nil {
				return // the server must see what it is to answer before we wait
			}
			select {
			case window <- struct{}{}:
			case <-stop:
				return
			case <-h.halted():
				return
			}
			id := ids.New()
			if protocol.WriteFrame(bw, protocol.Request{ID: id, Action: protocol.ActionGet, Filename: t.src}) != nil {
				return
			}
			sentIDs <- id
		}
	}()
	defer func() {
		close(stop)
		for range sentIDs {
		}
	}()
	got := make(chan gotItem, placeAhead)
	placed := make(chan struct{})
	go func() {
		defer close(placed)
		placeAll(got, &namer{done: done, failed: failed, h: h})
	}()
	defer func() {
		close(got)
		<-placed
	}()
	settled := 0
	for id := range sentIDs {
		t := tops[settled]
		g, err := c.receive(ctx, t, id)
		<-window
		if errors.Is(err, ErrConnection) || c.err != nil {
			return settled
		}
		settled++
		if err != nil {
			h.halt()
		}
		got <- gotItem{g, err, len(window) == 0}
	}
	return settled
}

// gotItem is one settled get on its way to the writing goroutine: a
// verified file, or why there is none; flush: nothing more is in flight.
type gotItem struct {
	g     gotFile
	err   error
	flush bool
}

// placeAll writes the files received to disk, in order, and hands them
// to a goroutine of its own that makes them durable and names them a
// window at a time (or fewer, when the network has nothing more in
// flight), while the next window is written. That goroutine is the only
// caller of the namer's done and failed while a pipelined get runs.
func placeAll(got <-chan gotItem, nm *namer) {
	windows := make(chan []gotItem, 1)
	named := make(chan struct{})
	go func() {
		defer close(named)
		for w := range windows {
			nm.name(w)
		}
	}()
	var w []gotItem
	for it := range got {
		if it.err == nil {
			it.err = it.g.write()
		}
		w = append(w, it)
		if len(w) >= pipeWindow || it.flush {
			windows <- w
			w = nil
		}
	}
	if len(w) > 0 {
		windows <- w
	}
	close(windows)
	<-named
}

// namer names the windows of a pipelined get and reports their files.
type namer struct {
	done    func(target, Result)
	failed  func(error)
	h       *halter // nil: a failure stops nothing
	stopped bool    // with h: a file failed, nothing after it is named
}

// name makes a window of verified files durable and names them
// (placeWindow). Then it reports each file, in order; with a halter, only
// the first failure, after which it drops every file.
func (nm *namer) name(w []gotItem) {
	stop := nm.h != nil
	if nm.stopped {
		for i := range w {
			w[i].g.drop()
		}
		return
	}
	placeWindow(w, stop)
	for _, it := range w {
		switch {
		case it.err == nil:
			it.g.res.Local = it.g.t.dest
			nm.done(it.g.t, it.g.res)
		case !nm.stopped:
			nm.failed(it.err)
			nm.stopped = stop
			nm.h.halt()
		}
	}
}

// halter stops a pipelined get at its first failure (a script's gets: no
// line runs after one that failed). A nil *halter never stops.
type halter struct {
	once sync.Once
	c    chan struct{}
}

func newHalter() *halter { return &halter{c: make(chan struct{})} }

// halt stops the requests; the answers of those sent are still read.
func (h *halter) halt() {
	if h != nil {
		h.once.Do(func() { close(h.c) })
	}
}

// halted is closed once halted; nil (never ready) for a nil halter.
func (h *halter) halted() <-chan struct{} {
	if h == nil {
		return nil
	}
	return h.c
}

// placeWindow makes a window of verified files durable, names them in
// order, replacing what had their names, and syncs the names: one syncfs
// per file system before and after. A file that cannot be named is
// removed and its error kept in w; with stop, so are all the files after
// it (errDropped).
func placeWindow(w []gotItem, stop bool) {
	var dirs []string
	for _, it := range w {
		if d := filepath.Dir(it.g.t.dest); it.err == nil && !slices.Contains(dirs, d) {
			dirs = append(dirs, d)
		}
	}
	syncDirs(dirs)
	failed := false
	for i, it := range w {
		switch {
		case failed && stop:
			it.g.drop()
			if it.err == nil {
				w[i].err = errDropped
			}
			continue
		case it.err != nil:
			failed = true
			continue
		}
		if err := it.g.place(); err != nil {
			if !it.g.unnamed() {
				os.Remove(it.g.partial)
			}
			w[i].err = localError("get", it.g.t.dest, err)
			failed = true
		}
	}
	syncDirs(dirs)
}

// errDropped is the fate of the files after one that could not be named,
// when placeWindow stops there.
var errDropped = errors.New("not named: a file before it could not be")

// receive reads the answer to one pipelined get into a partial file,
// checking the MD5; the connection stays in step on every outcome but a
// lost connection.
func (c *Client) receive(ctx context.Context, t target, id string) (gotFile, error) {
	start := time.Now()
	resp, err := c.readResponse(ctx, "get", t.src, id)
	if err != nil {
		return gotFile{}, err
	}
	if err := expect(resp, "get", t.src, protocol.StatusReadyToSend); err != nil {
		return gotFile{}, err
	}
	if resp.Size == nil || *resp.Size < 0 {
		return gotFile{}, c.fail(ctx, "get", t.src, ErrProtocol, errors.New("257 without a valid size"))
	}
	if resp.Delta != nil { // a pipelined get never sends a signature
		return gotFile{}, c.fail(ctx, "get", t.src, ErrProtocol, errors.New("a delta that was not asked for"))
	}
	size := *resp.Size
	h := md5.New()
	abs, err := c.absLocal(t.dest)
	if err != nil {
		return gotFile{}, c.discard(ctx, t.src, size, resp.MD5 == "", localError("get", t.dest, err))
	}
	g := gotFile{t: t, abs: abs}
	if resp.MTime != nil {
		g.mtime = *resp.MTime
	}
	var n int64
	if size <= memBody {
		g.body = make([]byte, size)
		var k int
		k, err = io.ReadFull(c.br, g.body)
		h.Write(g.body[:k])
		n = int64(k)
	} else {
		if g.f, g.partial, err = create(g.abs); err != nil {
			return gotFile{}, c.discard(ctx, t.src, size, resp.MD5 == "", localError("get", t.dest, err))
		}
		buf := bufPool.Get().(*[]byte)
		n, err = io.CopyBuffer(io.MultiWriter(g.f, h), io.LimitReader(c.br, size), *buf)
		bufPool.Put(buf)
	}
	if err == nil && n < size {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		g.drop()
		return gotFile{}, c.fail(ctx, "get", t.src, ErrConnection, err)
	}
	want := resp.MD5
	if want == "" {
		trailer, err := c.readResponse(ctx, "get", t.src, id)
		if err != nil {
			g.drop()
			return gotFile{}, err
		}
		want = trailer.MD5
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if sum != want {
		g.drop()
		return gotFile{}, &StatusError{Op: "get", Path: t.src, Status: protocol.StatusMD5Mismatch, Msg: "md5 mismatch: received " + sum + ", server said " + want}
	}
	g.res = Result{Action: protocol.ActionGet, Local: t.dest, Remote: t.src, mtime: g.mtime,
		Size: size, Sent: size, MD5: sum, Seconds: time.Since(start).Seconds()}
	return g, nil
}

// discard reads and drops a body (and its md5 frame) the client cannot
// store, to keep the connection in step, and returns why.
func (c *Client) discard(ctx context.Context, src string, size int64, trailer bool, why error) error {
	if _, err := io.CopyN(io.Discard, c.br, size); err != nil {
		return c.fail(ctx, "get", src, ErrConnection, err)
	}
	if trailer {
		if _, err := c.readResponse(ctx, "get", src, ""); err != nil {
			return err
		}
	}
	return why
}

// syncDirs flushes the file systems holding dirs, each once.
func syncDirs(dirs []string) {
	seen := map[uint64]bool{}
	for _, d := range dirs {
		f, err := os.Open(d)
		if err != nil {
			continue
		}
		var st unix.Stat_t
		if unix.Fstat(int(f.Fd()), &st) == nil && !seen[st.Dev] {
			seen[st.Dev] = true
			unix.Syncfs(int(f.Fd()))
		}
		f.Close()
	}
}

// smallRemote returns the remote files of tops known to be small (at most
// smallFile), from one ls of each of their directories: the ones a batch
// can get pipelined. Others go one by one, with progress bars and resume
// points.
func (c *Client) smallRemote(ctx context.Context, tops []target) map[string]bool {
	l := &Listings{}
	c.listSmall(ctx, tops, l)
	return l.small
}

// Listings is what the ls of remote directories showed: which files are
// small. A script's runs of gets share one (GetRun), so that runs in the
// same directory list it once.
type Listings struct {
	small  map[string]bool // remote files known small, absolute
	listed map[string]bool // directories listed, absolute
}

// listSmall lists the directories of tops that l has not listed yet.
func (c *Client) listSmall(ctx context.Context, tops []target, l *Listings) {
	if l.small == nil {
		l.small, l.listed = map[string]bool{}, map[string]bool{}
	}
	small, listed := l.small, l.listed
	for _, t := range tops {
		dir := path.Dir(c.abs(t.src))
		if listed[dir] {
			continue
		}
		listed[dir] = true
		entries, err := c.Ls(ctx, dir)
		if err != nil {
			continue
		}
		for _, e := range entries {
			if !e.IsDir && e.Size <= smallFile {
				small[path.Join(dir, e.Name)] = true
			}
		}
	}
}

// getPipelinable reports whether a batch can get t pipelined: a small
// file, not already done (journal), with no interrupted get to resume.
func (c *Client) getPipelinable(j *journal, it getItem, small map[string]bool) bool {
	t := it.target
	if !small[c.abs(t.src)] || it.delta || it.conflict {
		return false
	}
	if _, ok := j.lookup(t.dest, t.src); ok {
		return false
	}
	return c.noResumePoint(t)
}

// noResumePoint reports whether no interrupted get of t waits to be
// resumed.
func (c *Client) noResumePoint(t target) bool {
	st := c.records()
	abs, err := c.absLocal(t.dest)
	if st == nil || err != nil {
		return st == nil
	}
	r, err := c.loadRecord(st, newRecord(c.server(), c.user(), "get", abs, c.abs(t.src)))
	return err == nil && r == nil
}
