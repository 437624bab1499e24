package delta

import (
	"fmt"
	"hash"
	"io"

	"ftpx/protocol"
)

// Options are the hooks of one Diff. The zero value is ready to use.
type Options struct {
	// Hash, when set, is fed every target byte Diff reads, in order, on a
	// goroutine of its own, so that a digest of the target costs no time
	// on the diff's core. Diff waits for it before returning.
	Hash hash.Hash
}

// Stats says what a delta stream held.
type Stats struct {
	Copied  int64 // target bytes sent as COPY
	Literal int64 // target bytes sent as DATA
	Ops     int   // COPY and DATA instructions, END not counted
}

// Diff reads the target from r until io.EOF and writes to w the delta
// stream, ending with END, that rebuilds it from the basis sig describes.
// It finds any full block of the basis at any byte offset of the target,
// and the basis's short last block only at the target's very end (that
// is the only place its length fits). Memory is bounded by the
// signature's size plus a few blocks plus twice protocol.MaxDeltaLiteral,
// whatever the target's length. A read error of r or a write error of w
// is returned wrapped, never as ErrFormat.
func Diff(w io.Writer, r io.Reader, sig *Signature, opt Options) (Stats, error) {
	if err := sig.check(); err != nil {
		return Stats{}, err
	}
	d := newDiffer(w, r, sig)
	if opt.Hash != nil {
		d.feed = startHashFeed(opt.Hash)
		defer d.feed.stop()
	}
	err := d.run()
	d.stats.Ops = d.enc.Ops()
	return d.stats, err
}

// The target sits in one buffer: buf[lit:p] is literal not yet sent,
// buf[p:p+block] is the window being matched, buf[p+block:end] is read
// ahead. The buffer starts small and doubles each time it is compacted
// (the unsent bytes moved to its front), up to room for two maximal
// literals and two blocks: a compaction keeps at most one of each, so
// every read gets at least half the buffer.
const firstBuffer = 16 << 10

// maxRead caps one read of the target, so that what was read is still in
// the CPU's cache when the search gets to it.
const maxRead = 256 << 10

type differ struct {
	sig  *Signature
	idx  *index
	enc  *Encoder
	r    io.Reader
	feed *hashFeed // nil without Options.Hash

	buf         []byte
	maxBuf      int
	lit, p, end int
	base        int64 // the target offset of buf[0]
	eof         bool
	block       int
	nfull       int // the blocks of full length: all but a short last one
	lastLen     int // the short last block's length; 0 when there is none
	a, b        uint32
	rolled      bool  // a and b hold the weak sum of the window at p
	next        int   // the block that would extend the current COPY, or -1
	alarms      int64 // what false alarms cost, in bytes hashed
	stats       Stats
}

func newDiffer(w io.Writer, r io.Reader, sig *Signature) *differ {
	d := &differ{sig: sig, enc: NewEncoder(w), r: r, block: sig.Block, next: -1}
	n := sig.Blocks()
	d.nfull = n
	if last := sig.Size - int64(n-1)*int64(sig.Block); n > 0 && last < int64(sig.Block) {
		d.nfull, d.lastLen = n-1, int(last)
	}
	d.idx = newIndex(sig.Weak, sig.Strong, d.nfull)
	d.maxBuf = 2*protocol.MaxDeltaLiteral + 2*d.block
	d.buf = make([]byte, min(d.maxBuf, firstBuffer+2*d.block))
	return d
}

func (d *differ) run() error {
	for d.enc.err == nil {
		if !d.eof && d.end-d.p <= d.block {
			if err := d.fill(); err != nil {
				return err
			}
			continue
		}
		if d.end-d.p < d.block {
			return d.finish()
		}
		if d.next >= 0 && d.continueRun() {
			continue
		}
		if !d.search() && d.eof {
			return d.finish()
		}
	}
	return d.enc.err
}

// continueRun checks whether the window is the block after the last one
// matched: in an unchanged stretch of the target that costs a strong sum
// per block, and the weak sum that must agree too, with no rolling and
// no lookup. A changed block costs only the strong sum's high half.
func (d *differ) continueRun() bool {
	j := d.next
	d.next = -1
	win := d.buf[d.p : d.p+d.block]
	if strongHi(win) != uint32(d.sig.Strong[j]>>32) ||
		strongLo(win) != uint32(d.sig.Strong[j]) || weakSum(win) != d.sig.Weak[j] {
		return false
	}
	d.match(j)
	return true
}

// match emits the pending literal and block j, found at p.
func (d *differ) match(j int) {
	d.flushLiteral()
	d.enc.Copy(j, 1) // merged with the previous COPY when it follows it
	n := d.block
	if j == d.nfull {
		n = d.lastLen
	}
	d.stats.Copied += int64(n)
	d.p += n
	d.lit, d.rolled, d.next = d.p, false, -1
	if j+1 < d.nfull {
		d.next = j + 1
	}
}

func (d *differ) flushLiteral() {
	if d.p > d.lit {
		d.enc.Data(d.buf[d.lit:d.p])
		d.stats.Literal += int64(d.p - d.lit)
		d.lit = d.p
	}
}

// finish ends the stream once the whole target is read and every full
// window has been tried: the short last block may still match the very
// end, then what is left is literal.
func (d *differ) finish() error {
	if d.lastLen > 0 {
		if t := d.end - d.lastLen; t >= d.lit {
			j := d.nfull
			win := d.buf[t:d.end]
			if strongSum(win) == d.sig.Strong[j] && weakSum(win) == d.sig.Weak[j] {
				d.p = t
				d.match(j)
			}
		}
	}
	d.p = d.end
	d.flushLiteral()
	return d.enc.End()
}

// fill reads more of the target after the bytes in the buffer,
// compacting the buffer first when less than a quarter of it is free.
func (d *differ) fill() error {
	if len(d.buf)-d.end < len(d.buf)/4 {
		d.compact()
	}
	for empty := 0; ; empty++ {
		n, err := d.r.Read(d.buf[d.end:min(len(d.buf), d.end+maxRead)])
		if n > 0 {
			if d.feed != nil {
				d.feed.write(d.buf[d.end : d.end+n])
			}
			d.end += n
		}
		if err == io.EOF {
			d.eof = true
			return nil
		}
		if err != nil {
			return fmt.Errorf("delta: reading target: %w", err)
		}
		if n > 0 {
			return nil
		}
		if empty == 100 {
			return fmt.Errorf("delta: reading target: %w", io.ErrNoProgress)
		}
	}
}

// compact moves the unsent bytes, buf[lit:end], to the front of the
// buffer, into a buffer twice as big while it is below its maximum.
func (d *differ) compact() {
	if d.feed != nil {
		d.feed.wait() // the hash may still be reading what is overwritten
	}
	nb := d.buf
	if len(nb) < d.maxBuf {
		nb = make([]byte, min(2*len(nb), d.maxBuf))
	}
	copy(nb, d.buf[d.lit:d.end])
	d.base += int64(d.lit)
	d.p -= d.lit
	d.end -= d.lit
	d.lit = 0
	d.buf = nb
}
