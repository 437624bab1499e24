package client

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// A journal records which files of a batch (put -r, several files, --to)
// are done, so that the same command run again after a crash skips them
// instead of starting over; the file that was cut off resumes from its
// own resume point (Record). It lives under the state dir, in
// batches/DIRECTION-HASH.jsonl, the hash being that of the server, the
// user and the command's resolved sources and destinations. Each finished
// file appends one JSON line; a line cut short by a crash is ignored. A
// batch that ends without failures removes its journal.
//
// A journaled file is skipped only when it still matches on both sides:
// the local file has the size and mtime it had, and the server's stat
// (with checksum) gives the size and MD5 that were transferred.
type journal struct {
	c       *Client
	file    string
	f       *os.File
	buf     []byte    // lines not yet written: a batch of small files writes them a few at a time
	flushed time.Time // when buf was last written
	done    map[string]journalEntry
	tops    []target // a batch's destinations, as its first run resolved them
	earlier bool     // an earlier run of the batch left the journal
	warned  bool
}

type journalEntry struct {
	Local  string    `json:"local"`  // absolute
	Remote string    `json:"remote"` // a home path
	Size   int64     `json:"size"`
	MTime  time.Time `json:"mtime"` // the local file's: the source of a put, the result of a get
	MD5    string    `json:"md5"`
}

// journalLine is one line of a journal: a file done, or (the first line
// of a batch get's) the destinations.
type journalLine struct {
	journalEntry
	Tops []journalTop `json:"tops,omitempty"`
}

type journalTop struct {
	Src  string `json:"src"`
	Dest string `json:"dest"`
}

// openJournal returns the journal of a batch and, when an earlier run of
// it was cut off, the destinations that run chose (nil when this is not a
// batch or there is no state dir; problems are told through Notice and
// leave the batch unjournaled). It is named after the command as typed,
// in its local and remote directories: cp's rules would send a rerun
// elsewhere once the first run made the destination ("put -r DIR NEW" and
// "get -r DIR NEW" copy into NEW, then into NEW/DIR).
func (c *Client) openJournal(batch bool, direction string, sources []string, dest string, opt TransferOptions) (*journal, []target) {
	if !batch || c.records() == nil {
		return nil, nil
	}
	cwd, _ := os.Getwd()
	h := sha256.New()
	h.Write([]byte(strings.Join([]string{c.server(), c.user(), direction, cwd, c.cwd, dest, opt.To, fmt.Sprint(opt.Recursive)}, "\x00")))
	for _, s := range sources {
		h.Write([]byte("\x00" + s))
	}
	j := c.journalAt(direction + "-" + hex.EncodeToString(h.Sum(nil)[:12]) + ".jsonl")
	if j == nil {
		return nil, nil
	}
	return j, j.tops
}

// journalAt opens (creating it) the journal file name in the state dir's
// batches directory, reading what an earlier run wrote there.
func (c *Client) journalAt(name string) *journal {
	dir := filepath.Join(c.records().Dir, "batches")
	j := &journal{c: c, file: filepath.Join(dir, name), done: map[string]journalEntry{}}
	if b, err := os.ReadFile(j.file); err == nil {
		j.earlier = len(b) > 0
		sc := bufio.NewScanner(strings.NewReader(string(b)))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var l journalLine
			switch {
			case json.Unmarshal(sc.Bytes(), &l) != nil:
			case l.Local != "":
				j.done[l.Local+"\x00"+l.Remote] = l.journalEntry
			case len(l.Tops) > 0 && j.tops == nil:
				for _, t := range l.Tops {
					j.tops = append(j.tops, target{t.Src, t.Dest})
				}
			}
		}
	}
	err := os.MkdirAll(dir, 0o700)
	if err == nil {
		j.f, err = os.OpenFile(j.file, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	}
	if err != nil {
		c.notice("warning: the batch will not be journaled: %v", err)
		return nil
	}
	return j
}

// setTops records a batch get's destinations, once.
func (j *journal) setTops(tops []target) {
	if j == nil || j.tops != nil {
		return
	}
	j.tops = tops
	var l struct {
		Tops []journalTop `json:"tops"`
	}
	for _, t := range tops {
		l.Tops = append(l.Tops, journalTop{t.src, t.dest})
	}
	j.write(l)
}

// resumed reports whether an earlier run of the batch was cut off.
func (j *journal) resumed() bool { return j != nil && j.earlier }

// lookup returns the entry of a file done by an earlier run.
func (j *journal) lookup(local, remote string) (journalEntry, bool) {
	if j == nil {
		return journalEntry{}, false
	}
	abs, err := j.c.absLocal(local)
	if err != nil {
		return journalEntry{}, false
	}
	e, ok := j.done[abs+"\x00"+j.c.abs(remote)]
	return e, ok
}

// add records a finished file.
func (j *journal) add(local, remote string, size int64, mtime time.Time, md5 string) {
	if j == nil {
		return
	}
	abs, err := j.c.absLocal(local)
	if err != nil {
		j.warn(err)
		return
	}
	j.write(journalEntry{Local: abs, Remote: remote, Size: size, MTime: mtime, MD5: md5})
}

// write appends one line: at once for the destinations, else once a
// second or 64 KiB of lines. A crash loses at most a second of lines: the
// files they name are found unchanged on the next run (sync.go) or got
// again.
func (j *journal) write(l any) {
	b, err := json.Marshal(l)
	if err != nil {
		j.warn(err)
		return
	}
	j.buf = append(append(j.buf, b...), '\n')
	if _, entry := l.(journalEntry); !entry || len(j.buf) >= 64<<10 || time.Since(j.flushed) >= time.Second {
		j.flush()
	}
}

// flush writes the lines held.
func (j *journal) flush() {
	if len(j.buf) > 0 {
		_, err := j.f.Write(j.buf)
		j.warn(err)
		j.buf = j.buf[:0]
	}
	j.flushed = time.Now()
}

// warn reports the first failure to journal.
func (j *journal) warn(err error) {
	if err != nil && !j.warned {
		j.warned = true
		j.c.notice("warning: cannot journal the batch: %v", err)
	}
}

// close closes the journal, removing it when the batch is complete.
func (j *journal) close(complete bool) {
	if j == nil {
		return
	}
	j.flush()
	j.f.Close()
	if complete {
		os.Remove(j.file)
	}
}

// alreadyPut reports whether an earlier run of this batch put it and the
// server still holds that very file.
func (c *Client) alreadyPut(ctx context.Context, j *journal, it planItem) (Result, bool) {
	e, ok := j.lookup(it.local, it.remote)
	if !ok || e.Size != it.size || !e.MTime.Equal(it.mtime) {
		return Result{}, false
	}
	return c.sameRemote(ctx, "put", it.local, it.remote, e)
}

// alreadyGot reports whether an earlier run of this batch got t and both
// the local copy and the server's file are still what was transferred.
func (c *Client) alreadyGot(ctx context.Context, j *journal, t target) (Result, bool) {
	e, ok := j.lookup(t.dest, t.src)
	if !ok || !sameLocal(t.dest, e) {
		return Result{}, false
	}
	return c.sameRemote(ctx, "get", t.dest, t.src, e)
}

// sameRemote compares the server's file with a journal entry by size and
// MD5.
func (c *Client) sameRemote(ctx context.Context, action, local, remote string, e journalEntry) (Result, bool) {
	st, sum, err := c.StatMD5(ctx, remote)
	if err != nil || !sameAsJournaled(st, sum, e) {
		return Result{}, false
	}
	return Result{Action: action, Local: local, Remote: remote, Size: e.Size, Offset: e.Size, MD5: sum}, true
}
