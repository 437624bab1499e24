package client

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"ftpx/internal/xfer"
	"ftpx/protocol"
)

// GetTo downloads remote into w (standard output, for `ftpx get FILE -`):
// the bytes go to w as they arrive, hashed on the way, and the whole
// file's MD5 is checked at the end; a mismatch is StatusMD5Mismatch (exit
// 6), reported after w has had every byte. It is one attempt: w cannot
// be rewound, so nothing is resumed or retried and no resume point is
// kept.
func (c *Client) GetTo(ctx context.Context, remote string, w io.Writer) (Result, error) {
	start := time.Now()
	res := Result{Action: "get", Local: "-", Remote: remote}
	stop := c.watch(ctx)
	defer stop()
	id, err := c.send(ctx, "get", remote, &protocol.Request{Action: protocol.ActionGet, Filename: remote})
	if err != nil {
		return res, err
	}
	resp, err := c.readResponse(ctx, "get", remote, id)
	if err != nil {
		return res, err
	}
	if err := expect(resp, "get", remote, protocol.StatusReadyToSend); err != nil {
		return res, err
	}
	if resp.Size == nil || *resp.Size < 0 || resp.Offset != 0 || resp.Delta != nil {
		return res, c.fail(ctx, "get", remote, ErrProtocol, errors.New("257 without a valid size"))
	}
	res.Size = *resp.Size
	h := md5.New()
	sw := &stickyWriter{w: w}
	copied, err := xfer.Copy(sw, c.br, res.Size, xfer.Options{Hash: h, Chunk: c.lim.readCap(),
		AfterRead: func(n int) error { return c.lim.wait(ctx, n) }})
	res.Sent = copied.Hashed
	if err != nil {
		if ctx.Err() != nil {
			return res, c.fail(ctx, "get", remote, nil, errors.Unwrap(err))
		}
		return res, c.fail(ctx, "get", remote, ErrConnection, errors.Unwrap(err))
	}
	want := resp.MD5
	if want == "" {
		trailer, err := c.readResponse(ctx, "get", remote, id)
		if err != nil {
			return res, err
		}
		if err := expect(trailer, "get", remote, protocol.StatusOK); err != nil {
			return res, err
		}
		want = trailer.MD5
	}
	if werr := sw.err(); werr != nil {
		return res, localError("get", "-", werr)
	}
	res.MD5 = hex.EncodeToString(h.Sum(nil))
	res.Seconds = time.Since(start).Seconds()
	if !strings.EqualFold(want, res.MD5) {
		return res, &StatusError{Op: "get", Path: remote, Status: protocol.StatusMD5Mismatch,
			Msg: fmt.Sprintf("md5 mismatch (server said %.64s, received %s)", want, res.MD5)}
	}
	return res, nil
}
