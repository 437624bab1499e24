package client

import (
	"context"
	"fmt"
)

// Resume continues the transfer a record describes, as running the same
// get or put again would. The record must be this Client's server and
// user (see Records.Pending).
func (c *Client) Resume(ctx context.Context, r *Record, p Progress) (Result, error) {
	switch r.Direction {
	case "put":
		return c.Put(ctx, r.Local, r.Remote, p)
	case "get":
		return c.Get(ctx, r.Remote, r.Local, p)
	}
	return Result{}, fmt.Errorf("resume %s: unknown direction %q", r.ID, r.Direction)
}

// ResumeAll continues the given transfers in order, going on after a
// failure while the connection lasts. It returns their errors joined, as
// PutPaths does; opt.Progress, opt.Done and opt.Warn are used as there.
func (c *Client) ResumeAll(ctx context.Context, recs []*Record, opt TransferOptions) error {
	var fails failures
	for _, r := range recs {
		if ctx.Err() != nil || !c.usable() {
			break
		}
		var p Progress
		if opt.Progress != nil {
			p = opt.Progress(r.Remote)
		}
		res, err := c.Resume(ctx, r, p)
		if err != nil {
			fails.add(err)
			continue
		}
		if opt.Done != nil {
			opt.Done(res)
		}
	}
	if len(recs) > 0 {
		fails.stopped(ctx, c, "resume", recs[0].Remote)
	}
	return fails.err()
}

// Pending lists the records of server and user, and counts the others'.
// Records that cannot be used are returned apart (bad) so the caller can
// report them.
func (s *Records) Pending(server, user string) (mine []*Record, others int, bad []BadRecord, err error) {
	all, bad, err := s.List()
	for _, r := range all {
		if r.Server == server && r.User == user {
			mine = append(mine, r)
		} else {
			others++
		}
	}
	return mine, others, bad, err
}
