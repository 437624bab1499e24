// Package fanout runs a benchmark's many logins or connections a few at
// a time (the idle-session benchmarks of every front end).
package fanout

import (
	"context"
	"fmt"
	"sync"
)

// Each calls f(i) for every i in [from, to), on workers goroutines,
// until the first error or until ctx is done, and returns that error,
// named as what number i+1 ("session 12: ...").
func Each(ctx context.Context, from, to, workers int, what string, f func(i int) error) error {
	next := make(chan int)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := f(i); err != nil {
					errs <- fmt.Errorf("%s %d: %w", what, i+1, err)
					return
				}
			}
		}()
	}
	var failed error
feed:
	for i := from; i < to; i++ {
		select {
		case next <- i:
		case failed = <-errs:
			break feed
		case <-ctx.Done():
			failed = fmt.Errorf("after %d of %d: %w", i-from, to-from, ctx.Err())
			break feed
		}
	}
	close(next)
	wg.Wait()
	if failed == nil {
		select {
		case failed = <-errs:
		default:
		}
	}
	return failed
}
