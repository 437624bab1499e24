package client

import (
	"bufio"
	"context"
	"errors"
	"os"
	"strings"

	"ftpx/internal/ids"
	"ftpx/protocol"
)

// roundTrips sends reqs pipelined, up to pipeWindow ahead of the answers,
// and passes each answer, in order, to answer. It returns how many were
// answered: after a lost connection the rest are the caller's, to do one
// by one with the retries.
func (c *Client) roundTrips(ctx context.Context, op string, reqs []protocol.Request, answer func(i int, resp *protocol.Response)) int {
	if c.err != nil || len(reqs) == 0 {
		return 0
	}
	stop := c.watch(ctx)
	defer stop()
	window := make(chan struct{}, pipeWindow)
	sentIDs := make(chan string, pipeWindow)
	quit := make(chan struct{})
	go func() {
		defer close(sentIDs)
		bw := bufio.NewWriterSize(c.rw, 64<<10)
		for i := range reqs {
			if len(window) == cap(window) && bw.Flush() != nil {
				return // the server must see what it is to answer before we wait
			}
			select {
			case window <- struct{}{}:
			case <-quit:
				return
			}
			reqs[i].ID = ids.New()
			if protocol.WriteFrame(bw, reqs[i]) != nil {
				return
			}
			sentIDs <- reqs[i].ID
		}
		bw.Flush()
	}()
	defer func() {
		close(quit)
		for range sentIDs { // let the writer finish
		}
	}()
	n := 0
	for id := range sentIDs {
		resp, err := c.readResponse(ctx, op, reqs[n].Filename, id)
		<-window
		if err != nil {
			return n
		}
		answer(n, resp)
		n++
	}
	if n < len(reqs) && c.err == nil {
		// A request may be cut in the middle: the stream is out of step.
		c.fail(ctx, op, "", ErrConnection, errors.New("pipelined requests could not all be sent"))
	}
	return n
}

// skipDone leaves out of files those an earlier, cut-off run of the
// batch got and that are still the same on both sides (as alreadyGot
// checks them, but with the server's stats pipelined: one round trip per
// window rather than per file), reporting each through done as skipped.
func (c *Client) skipDone(ctx context.Context, j *journal, files []getItem, done func(Result)) []getItem {
	if !j.resumed() {
		return files
	}
	var which []int
	var reqs []protocol.Request
	for i, it := range files {
		if e, ok := j.lookup(it.dest, it.src); ok && sameLocal(it.dest, e) {
			which = append(which, i)
			reqs = append(reqs, protocol.Request{Action: protocol.ActionStat, Filename: it.src, Checksum: true})
		}
	}
	skip := make([]bool, len(files))
	c.roundTrips(ctx, "stat", reqs, func(k int, resp *protocol.Response) {
		it := files[which[k]]
		e, _ := j.lookup(it.dest, it.src)
		if resp.Status == protocol.StatusOK && resp.Stat != nil && sameAsJournaled(*resp.Stat, resp.MD5, e) {
			skip[which[k]] = true
			done(Result{Action: protocol.ActionGet, Local: it.dest, Remote: it.src, Size: e.Size, Offset: e.Size, MD5: strings.ToLower(resp.MD5)})
		}
	})
	left := files[:0:0]
	for i, it := range files {
		if !skip[i] {
			left = append(left, it)
		}
	}
	return left
}

// sameLocal reports whether the local file is still the one a journal
// entry describes: a regular file (a symlink put there since is replaced,
// not followed) of the same size and mtime.
func sameLocal(local string, e journalEntry) bool {
	fi, err := os.Lstat(local)
	return err == nil && fi.Mode().IsRegular() && fi.Size() == e.Size && fi.ModTime().Equal(e.MTime)
}

// sameAsJournaled reports whether the server's file, by its stat and MD5,
// is the one a journal entry describes.
func sameAsJournaled(st protocol.Entry, sum string, e journalEntry) bool {
	return !st.IsDir && st.Size == e.Size && strings.ToLower(sum) == strings.ToLower(e.MD5)
}
