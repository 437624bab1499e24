package main

import (
	"fmt"
	"io"
	"time"

	"github.com/schollz/progressbar/v3"
)

// bar shows one transfer on a terminal: bytes, rate and ETA.
type bar struct {
	w    io.Writer
	name string
	pb   *progressbar.ProgressBar
}

func (b *bar) Start(size int64) {
	b.pb = progressbar.NewOptions64(size,
		progressbar.OptionSetWriter(b.w),
		progressbar.OptionSetDescription(b.name),
		progressbar.OptionShowBytes(true),
		progressbar.OptionShowTotalBytes(true),
		progressbar.OptionShowCount(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetWidth(20),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSetRenderBlankState(true),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(b.w) }),
	)
}

func (b *bar) Add(n int) { b.pb.Add(n) }

func (b *bar) Finish(err error) {
	if err == nil {
		b.pb.Finish()
		return
	}
	b.pb.Exit()
	fmt.Fprintln(b.w)
}
