package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"

	"ftpx/protocol"
)

// barEvery is how often a bar is redrawn.
const barEvery = 100 * time.Millisecond

// bar shows one transfer on a terminal: the bar and percentage drawn by
// progressbar, then the name, the bytes held of the whole, the rate and
// the ETA, and where a resumed transfer started. The byte counts are
// written here, through protocol.HumanSize: progressbar's own are decimal
// (kB, MB) or IEC-labelled (KiB, MiB), where stat, quota and the server
// say KB and MB for powers of 1024. The rate and the ETA count only the
// bytes this run moves, not those a resumed transfer already held.
type bar struct {
	w    io.Writer
	name string
	now  func() time.Time // nil: time.Now (a test sets its own clock)
	pb   *progressbar.ProgressBar

	size, offset, done int64
	start, described   time.Time
}

func (b *bar) clock() time.Time {
	if b.now != nil {
		return b.now()
	}
	return time.Now()
}

func (b *bar) Start(size, offset int64) {
	b.size, b.offset, b.done = size, offset, offset
	b.start, b.described = b.clock(), b.clock()
	b.pb = progressbar.NewOptions64(size,
		progressbar.OptionSetWriter(b.w),
		progressbar.OptionSetDescription(b.status(b.start, false)),
		progressbar.OptionShowDescriptionAtLineEnd(),
		progressbar.OptionSetPredictTime(false), // status's ETA counts this run only
		progressbar.OptionSetWidth(20),
		progressbar.OptionThrottle(barEvery),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(b.w) }),
	)
	if offset > 0 {
		// Only the bar and the percentage see these bytes: the rate is
		// status's, which leaves them out.
		b.pb.Set64(offset)
	}
	b.pb.RenderBlank()
}

func (b *bar) Add(n int) {
	if b.pb.IsFinished() {
		// Bytes sent again after a retry: the bar is drawn for good.
		return
	}
	b.done += int64(n)
	// The text first, so that the redraw Add may do shows it; the last
	// chunk's always, as the bar is then drawn for good.
	whole := b.size >= 0 && b.done >= b.size // a stream (size -1) is whole only at Finish
	if now := b.clock(); now.Sub(b.described) >= barEvery || whole {
		b.described = now
		b.pb.Describe(b.status(now, whole))
	}
	b.pb.Add(n)
}

func (b *bar) Finish(err error) {
	if err == nil {
		if !b.pb.IsFinished() { // else the last Add drew it whole
			b.pb.Describe(b.status(b.clock(), true))
			b.pb.Finish()
		}
		return
	}
	b.pb.Exit()
	fmt.Fprintln(b.w)
}

// status is the text after the bar, e.g. "big.iso 18.0MB/24.0MB
// 3.0MB/s ETA 2s, resumed at 12.0MB": the rate over the bytes moved since
// Start, no ETA once finished.
func (b *bar) status(now time.Time, finished bool) string {
	var s strings.Builder
	fmt.Fprintf(&s, "%s %s", b.name, protocol.HumanSize(b.done))
	if b.size >= 0 {
		fmt.Fprintf(&s, "/%s", protocol.HumanSize(b.size))
	}
	moved, secs := b.done-b.offset, now.Sub(b.start).Seconds()
	if moved > 0 && secs > 0 {
		rate := float64(moved) / secs
		fmt.Fprintf(&s, " %s/s", protocol.HumanSize(int64(rate)))
		if left := b.size - b.done; !finished && left > 0 && b.size >= 0 {
			fmt.Fprintf(&s, " ETA %v", time.Duration(float64(left)/rate*float64(time.Second)).Round(time.Second))
		}
	}
	if b.offset > 0 {
		fmt.Fprintf(&s, ", resumed at %s", protocol.HumanSize(b.offset))
	}
	return s.String()
}
