package server

// SetHeldMax sets how many pipelined uploads all sessions may hold open
// at once, for the test, and returns a function that restores it.
func SetHeldMax(n int64) (restore func()) {
	old := heldMax
	heldMax = func() int64 { return n }
	return func() { heldMax = old }
}

// Held returns the pipelined uploads the sessions hold open now.
func (s *Server) Held() int64 { return s.held.Load() }
