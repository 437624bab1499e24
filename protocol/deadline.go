package protocol

import "time"

// Default timeouts. The server sets a read deadline of IdleTimeout before
// waiting for each request, and a deadline of TransferTimeout before every
// read or write of a body chunk, so a stalled peer is dropped without a
// global timer.
const (
	DefaultIdleTimeout     = 5 * time.Minute
	DefaultTransferTimeout = 60 * time.Second
	DefaultDialTimeout     = 10 * time.Second
)
