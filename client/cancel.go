package client

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"strings"

	"ftpx/protocol"
)

// Held asks the server how many bytes of a recorded put it holds (0 when
// none), without changing anything, and without retrying: a put running
// on another connection is a *StatusError with 280.
func (c *Client) Held(ctx context.Context, r *Record) (int64, error) {
	resp, err := c.roundTrip1(ctx, "resume", r.Remote, &protocol.Request{Action: protocol.ActionBreakpoint, Filename: r.Remote, Transfer: r.ID})
	if err != nil {
		return 0, err
	}
	if err := expect(resp, "resume", r.Remote, protocol.StatusOK); err != nil {
		return 0, err
	}
	return max(resp.Offset, 0), nil
}

// CancelPut gives up the interrupted put with the transfer id: the
// server removes its partial and its bytes leave the quota at once. It
// returns the bytes freed; nothing held is 0 and no error. A put still
// running on another connection is a *StatusError with 280 (exit 3).
func (c *Client) CancelPut(ctx context.Context, remote, transfer string) (int64, error) {
	resp, err := c.roundTrip(ctx, "cancel", remote, &protocol.Request{Action: protocol.ActionCancel, Transfer: transfer})
	if err != nil {
		return 0, err
	}
	switch resp.Status {
	case protocol.StatusNotExist:
		return 0, nil
	case protocol.StatusOK:
		if resp.Size == nil || *resp.Size < 0 {
			return 0, nil
		}
		return *resp.Size, nil
	}
	return 0, expect(resp, "cancel", remote, protocol.StatusOK)
}

// Cancel gives up a recorded transfer: a put's partial on the server (c
// must be logged in to its server as its user; nil for a get), a get's
// partial file beside its local path, and then the record. It returns
// the bytes freed on the server.
func (s *Records) Cancel(ctx context.Context, c *Client, r *Record) (int64, error) {
	var freed int64
	switch r.Direction {
	case "put":
		if c == nil {
			return 0, &opError{op: "cancel", path: r.Remote, err: errors.New("not connected")}
		}
		n, err := c.CancelPut(ctx, r.Remote, r.ID)
		if err != nil {
			return 0, err
		}
		freed = n
	case "get":
		if err := os.Remove(r.Partial); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return 0, localError("cancel", r.Partial, err)
		}
	}
	if err := s.Remove(r); err != nil {
		return freed, localError("cancel", s.file(r), err)
	}
	return freed, nil
}

// Held is what resume --list shows of the bytes a server holds of a put.
type Held struct {
	Bytes int64
	Note  string // why Bytes is not known: "busy" (a put runs on another connection), "unknown"
}

// HeldOf asks the server, for each put record of this Client's server and
// user, how many bytes it holds, by record id. It stops asking once the
// connection fails.
func (c *Client) HeldOf(ctx context.Context, recs []*Record) map[string]Held {
	held := make(map[string]Held)
	for _, r := range recs {
		if r.Direction != "put" || r.Server != c.server() || r.User != c.user() {
			continue
		}
		if !c.usable() {
			held[r.ID] = Held{Note: "unknown"}
			continue
		}
		n, err := c.Held(ctx, r)
		var se *StatusError
		switch {
		case err == nil:
			held[r.ID] = Held{Bytes: n}
		case errors.As(err, &se) && se.Status == protocol.StatusTransferBusy:
			held[r.ID] = Held{Note: "busy"}
		default:
			held[r.ID] = Held{Note: "unknown"}
		}
	}
	return held
}

// Find returns the record whose id is id, or the only one whose id starts
// with it (as resume --list prints ids): a *UsageError when none or
// several match.
func (s *Records) Find(id string) (*Record, error) {
	recs, _, err := s.List()
	if err != nil {
		return nil, err
	}
	var found []*Record
	for _, r := range recs {
		if r.ID == id {
			return r, nil
		}
		if id != "" && strings.HasPrefix(r.ID, id) {
			found = append(found, r)
		}
	}
	switch len(found) {
	case 0:
		return nil, Usagef("no recorded transfer with the id %s (see ftpx resume --list)", Printable(id))
	case 1:
		return found[0], nil
	}
	return nil, Usagef("%d recorded transfers have ids starting with %s: give more of it", len(found), Printable(id))
}
