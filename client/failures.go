package client

import (
	"context"
	"errors"
)

// failures collects the errors of a multi-item operation in order.
type failures struct{ errs []error }

func (f *failures) add(err error) { f.errs = append(f.errs, err) }

// stopped records why a loop over items stopped early when no item
// failed: a cancelled context or a connection that cannot be used.
func (f *failures) stopped(ctx context.Context, c *Client, op, path string) {
	switch {
	case len(f.errs) > 0:
	case ctx.Err() != nil:
		f.add(&opError{op: op, path: path, err: context.Cause(ctx)})
	case !c.usable():
		f.add(c.err)
	}
}

func (f *failures) err() error {
	switch len(f.errs) {
	case 0:
		return nil
	case 1:
		return f.errs[0]
	}
	return errors.Join(f.errs...)
}
