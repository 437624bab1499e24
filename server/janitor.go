package server

import "time"

// startJanitor runs, until the server stops, a sweep of interrupted uploads
// older than PartialMaxAge: once at start, then every janitorEvery.
func (s *Server) startJanitor() {
	s.mu.Lock()
	stop, done := s.stopJanitor, s.janitorDone
	s.mu.Unlock()
	go func() {
		defer close(done)
		t := time.NewTicker(janitorEvery(s.partialMaxAge()))
		defer t.Stop()
		for {
			s.sweepPartials()
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
}

// janitorEvery is how often the janitor sweeps: a tenth of the age limit,
// between a second and an hour.
func janitorEvery(maxAge time.Duration) time.Duration {
	return min(max(maxAge/10, time.Second), time.Hour)
}

func (s *Server) sweepPartials() {
	n, bytes, err := s.Homes.ExpirePartials(s.partialMaxAge())
	switch {
	case err != nil:
		s.logger().Error("partial sweep failed", "err", err)
	case n > 0:
		s.logger().Info("expired partial uploads", "count", n, "bytes", bytes, "max_age", s.partialMaxAge().String())
	}
}

// stopTheJanitor stops the sweeps and waits for a running one to end.
func (s *Server) stopTheJanitor() {
	s.mu.Lock()
	stop, done := s.stopJanitor, s.janitorDone
	s.stopJanitor = nil
	s.mu.Unlock()
	if stop == nil {
		return
	}
	close(stop)
	s.janitor.Do(func() { close(done) }) // never started: nothing to wait for
	<-done
}

func (s *Server) partialMaxAge() time.Duration {
	if s.PartialMaxAge > 0 {
		return s.PartialMaxAge
	}
	return DefaultPartialMaxAge
}
