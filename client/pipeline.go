package client

import (
	"bufio"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"os"
	"path"
	"time"

	"golang.org/x/sys/unix"

	"ftpx/internal/ids"
	"ftpx/protocol"
)

// A batch sends its small files pipelined ("nowait" puts, PROTOCOL.md):
// one goroutine reads each file once, hashes it and writes header and body
// without waiting, up to pipeWindow files ahead; the caller's goroutine
// reads the answers, in order, as the server commits the files to disk in
// groups. Thousands of small files then cost a few round trips and a few
// syncs instead of one of each per file.

// smallFile is the largest file a batch pipelines (the protocol allows 16
// MiB); larger ones go one by one, with progress bars and resume points.
const smallFile = 1 << 20

// pipeWindow bounds how many files are sent and not yet answered: twice
// the server's window, so that while the server syncs and answers one
// window the next is already waiting in its buffers (with less, the server
// finds nothing more to read and waits for it before each commit).
const pipeWindow = 2 * protocol.NoWaitWindow

// sentPut is one pipelined put written, or a local failure to report in
// its place.
type sentPut struct {
	it      planItem
	id, sum string
	size    int64
	start   time.Time
	err     error // local: nothing was sent for it
}

// putPipelined puts items (small regular files) pipelined and calls done
// or failed for each, in order. It returns how many items it settled; the
// rest (after a lost connection) are for the caller to send again, one by
// one, with its retries.
func (c *Client) putPipelined(ctx context.Context, items []planItem, done func(planItem, Result), failed func(error)) int {
	if c.err != nil || len(items) == 0 {
		return 0
	}
	window := make(chan struct{}, pipeWindow)
	sent := make(chan sentPut, pipeWindow)
	stop := make(chan struct{})
	go c.writePipelined(ctx, items, window, sent, stop)
	settled := 0
	defer func() {
		close(stop)
		for range sent { // let the writer finish
		}
	}()
	for s := range sent {
		if s.err != nil {
			failed(s.err)
			settled++
			continue
		}
		resp, err := c.readResponse(ctx, "put", s.it.remote, s.id)
		<-window
		if err != nil {
			return settled
		}
		settled++
		if err := expect(resp, "put", s.it.remote, protocol.StatusMD5OK); err != nil {
			failed(err)
			continue
		}
		if resp.MD5 != s.sum {
			failed(&StatusError{Op: "put", Path: s.it.remote, Status: protocol.StatusMD5Mismatch, Msg: "the server stored another md5: " + resp.MD5})
			continue
		}
		done(s.it, Result{Action: protocol.ActionPut, Local: s.it.local, Remote: s.it.remote, Size: s.size,
			Sent: s.size, MD5: s.sum, Seconds: time.Since(s.start).Seconds()})
	}
	return settled
}

// writePipelined is the sending half of putPipelined. It stops at the
// first write error (the reader then fails on the connection too) or when
// stop is closed, and closes sent when it ends.
func (c *Client) writePipelined(ctx context.Context, items []planItem, window chan struct{}, sent chan<- sentPut, stop <-chan struct{}) {
	defer close(sent)
	bw := bufio.NewWriterSize(c.rw, bufSize)
	defer bw.Flush()
	var buf []byte // each file's bytes, until the next file's: bw has copied them
	for _, it := range items {
		if len(window) == cap(window) && bw.Flush() != nil {
			return // the server must see what it is to answer before we wait
		}
		select {
		case window <- struct{}{}:
		case <-stop:
			return
		}
		start := time.Now()
		data, err := readSmall(it.local, it.size, buf)
		if err != nil {
			<-window
			sent <- sentPut{it: it, err: localError("put", it.local, err)}
			continue
		}
		buf = data[:0]
		sum := md5.Sum(data)
		s := sentPut{it: it, id: ids.New(), sum: hex.EncodeToString(sum[:]), size: int64(len(data)), start: start}
		req := protocol.Request{ID: s.id, Action: protocol.ActionPut, Filename: it.remote,
			SizeField: protocol.Int64(s.size), MD5: s.sum, NoWait: true, MTime: &it.mtime}
		if protocol.WriteFrame(bw, req) != nil {
			return
		}
		if _, err := bw.Write(data); err != nil {
			return
		}
		if c.lim.wait(ctx, len(data)) != nil {
			return
		}
		sent <- s
	}
}

// readSmall reads a whole small file of about size bytes in three system
// calls (os.ReadFile takes six), refusing one that grew past smallFile,
// into buf when it is big enough.
func readSmall(name string, size int64, buf []byte) ([]byte, error) {
	fd, err := unix.Open(name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: name, Err: err}
	}
	defer unix.Close(fd)
	if want := int(min(max(size, 0), smallFile) + 1); cap(buf) >= want {
		buf = buf[:want]
	} else {
		buf = make([]byte, want)
	}
	n := 0
	for {
		k, err := unix.Read(fd, buf[n:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, &os.PathError{Op: "read", Path: name, Err: err}
		}
		if k == 0 {
			return buf[:n], nil
		}
		if n += k; n == len(buf) {
			if n > smallFile {
				return nil, fmt.Errorf("grew to more than %d bytes since the batch started", smallFile)
			}
			buf = append(buf, make([]byte, len(buf))...)[:min(2*len(buf), smallFile+1)]
		}
	}
}

// pipelinable reports whether a batch can send it pipelined: a small file
// not already done (journal), not partly held by the server from an
// interrupted put, and not under a directory that could not be made.
func (c *Client) pipelinable(j *journal, it planItem, failedDirs map[string]bool) bool {
	if it.dir || it.delta || it.conflict || it.size > smallFile || failedDirs[path.Dir(it.remote)] {
		return false
	}
	if _, ok := j.lookup(it.local, it.remote); ok {
		return false // the sequential path checks it against the server
	}
	return c.heldForPut(it) == 0
}
