package main

import (
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"ftpx/server"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// newMetrics makes the server's metrics, and the Go runtime's and the
// process's, on a registry of their own, and an HTTP server for them at
// /metrics.
func newMetrics(logger *slog.Logger) (*server.Metrics, *http.Server) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := server.NewMetrics(reg)
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return m, &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
}

// serveMetrics serves hs on l until it is shut down.
func serveMetrics(hs *http.Server, l net.Listener, logger *slog.Logger) {
	if err := hs.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
		logger.Error("metrics server stopped", "err", err)
	}
}
