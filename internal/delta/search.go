package delta

import "ftpx/protocol"

// A window that passes the filter costs a lookup, and one whose weak sum
// matches a block costs its strong sum (a block's bytes hashed) if it is
// not that block. Real data rarely pays either; a hostile signature,
// made of weak sums that match the target everywhere, would make every
// byte pay. So Diff counts what false alarms cost, in bytes hashed (a
// lookup counts as lookupCost), and keeps it under alarmRatio bytes per
// target byte plus alarmSlack: past that it skips ahead, sending bytes
// as literal without looking them up, until the target has caught up.
// A delta built that way is still exact, only bigger.
const (
	alarmRatio = 4
	alarmSlack = 1 << 20
	lookupCost = 64
)

// search slides the window a byte at a time from p until it matches a
// block (true: the match is emitted and p is past it) or until the
// window reaches the end of the bytes read (false: p is the last window,
// already checked).
func (d *differ) search() bool {
	L := d.block
	if d.idx.empty() {
		// No full block to find: only the tail can match (finish).
		d.rolled = false
		for {
			d.p = min(d.end-L, d.lit+protocol.MaxDeltaLiteral)
			if d.p-d.lit < protocol.MaxDeltaLiteral {
				return false
			}
			d.flushLiteral()
		}
	}
	for {
		stop := min(d.end-L, d.lit+protocol.MaxDeltaLiteral)
		for {
			if !d.rolled {
				w := weakSum(d.buf[d.p : d.p+L])
				d.a, d.b, d.rolled = w&0xffff, w>>16, true
			}
			var hit bool
			d.p, d.a, d.b, hit = scan(d.buf[:d.end], L, d.p, stop, d.a, d.b, d.idx.filter, d.idx.wmask)
			if !hit {
				break
			}
			j := d.lookup(d.a&0xffff|d.b<<16, d.p)
			if j >= 0 {
				d.match(j)
				return true
			}
			if j == overBudget {
				// Skip to where the budget allows looking again; the
				// window there is summed afresh, which counts too.
				d.alarms += int64(L)
				d.p, d.rolled = min(d.recovered(), stop), false
				if d.p == stop {
					break
				}
				continue
			}
			if d.p == stop {
				break
			}
			d.roll()
		}
		if d.p-d.lit < protocol.MaxDeltaLiteral {
			return false
		}
		d.flushLiteral()
	}
}

// scan is the loop every byte that matches nothing goes through: from
// the window at p, whose weak sum is (a, b), it slides forward until the
// weak sum passes the filter (true) or the window is at stop (false),
// and returns the window it stopped at. Sliding is rsync's: a gains the
// byte that enters and loses the one that leaves, b loses L times the
// one that leaves and gains the new a.
//
// It is written for the compiler: a function of its own with few live
// values, so that a and b stay in registers (a spill puts a
// store-to-load delay on every byte); paired slices of equal length, so
// that reading them needs no bounds check; and shifts by constants.
// About 25 instructions a byte.
func scan(buf []byte, L, p, stop int, a, b uint32, filter []uint64, wmask uint64) (int, uint32, uint32, bool) {
	l32 := uint32(L)
	ins := buf[p+L : stop+L]
	outs := buf[p:stop]
	outs = outs[:len(ins)]
	for i, in := range ins {
		h := weakHash(a&0xffff | b<<16)
		if filter[h>>filterWordShift&wmask]&(1<<(h>>filterBitShift)) != 0 {
			return p + i, a, b, true
		}
		out := uint32(outs[i])
		a += uint32(in) - out
		b += a - l32*out
	}
	h := weakHash(a&0xffff | b<<16)
	return stop, a, b, filter[h>>filterWordShift&wmask]&(1<<(h>>filterBitShift)) != 0
}

// roll slides the window at p one byte, as scan does.
func (d *differ) roll() {
	out, in := uint32(d.buf[d.p]), uint32(d.buf[d.p+d.block])
	d.a += in - out
	d.b += d.a - uint32(d.block)*out
	d.p++
}

// overBudget is lookup's answer when false alarms have cost too much.
const overBudget = -2

// lookup returns the block whose sums are those of the window at p, -1
// when there is none, or overBudget. w is the window's weak sum.
func (d *differ) lookup(w uint32, p int) int {
	if d.alarms > alarmRatio*(d.base+int64(p))+alarmSlack {
		return overBudget
	}
	lo, hi := d.idx.candidates(w, weakHash(w))
	if lo == hi {
		d.alarms += lookupCost
		return -1
	}
	win := d.buf[p : p+d.block]
	j := d.idx.find(lo, hi, strongHi(win), func() uint32 { return strongLo(win) })
	if j < 0 {
		d.alarms += lookupCost + int64(d.block)
	}
	return j
}

// recovered is the first position in the buffer where the false alarms
// are back within budget.
func (d *differ) recovered() int {
	at := (d.alarms-alarmSlack)/alarmRatio + 1 // a target offset
	return int(at - d.base)
}
