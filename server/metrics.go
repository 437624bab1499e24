package server

import (
	"time"

	"ftpx/protocol"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the server's Prometheus metrics. Build them with NewMetrics
// on a registry of the caller's (cmd serves it on its own listener) and
// set Server.Metrics; nil records nothing. Transfers are counted once
// each, when they end, never per chunk. Every metric has a "protocol"
// label: ProtocolFTPX for the native protocol, ProtocolFTP for the FTP
// front end, ProtocolSFTP for the SFTP one.
type Metrics struct {
	connections   *prometheus.CounterVec   // result: accepted, refused
	active        *prometheus.GaugeVec     // sessions being served
	auth          *prometheus.CounterVec   // result: ok, anonymous, failed, banned, too_many_sessions
	bytes         *prometheus.CounterVec   // direction, result
	transfers     *prometheus.CounterVec   // direction, result
	quotaRefusals *prometheus.CounterVec   //
	md5Mismatches *prometheus.CounterVec   //
	duration      *prometheus.HistogramVec // direction
}

// NewMetrics makes the metrics and registers them on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		connections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ftpx_connections_total", Help: "Connections accepted, and refused at a connection limit or during shutdown.",
		}, []string{"protocol", "result"}),
		active: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ftpx_connections_active", Help: "Connections being served now.",
		}, []string{"protocol"}),
		auth: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ftpx_auth_total", Help: "Authentication attempts by result (ok, anonymous, failed, banned, too_many_sessions).",
		}, []string{"protocol", "result"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ftpx_transfer_bytes_total", Help: "Body bytes moved by transfers, by direction (get, put) and result.",
		}, []string{"protocol", "direction", "result"}),
		transfers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ftpx_transfers_total", Help: "Transfers by direction (get, put) and result (ok, quota, md5_mismatch, failed).",
		}, []string{"protocol", "direction", "result"}),
		quotaRefusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ftpx_quota_refusals_total", Help: "Puts refused because they would pass a quota.",
		}, []string{"protocol"}),
		md5Mismatches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ftpx_md5_mismatches_total", Help: "Puts whose body did not match the client's MD5.",
		}, []string{"protocol"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "ftpx_transfer_duration_seconds", Help: "How long transfers took, by direction.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 12), // 1 ms to about 70 minutes
		}, []string{"protocol", "direction"}),
	}
	reg.MustRegister(m.connections, m.active, m.auth, m.bytes, m.transfers, m.quotaRefusals, m.md5Mismatches, m.duration)
	return m
}

func (m *Metrics) connection(proto, result string) {
	if m != nil {
		m.connections.WithLabelValues(proto, result).Inc()
	}
}

func (m *Metrics) sessions(proto string, delta float64) {
	if m != nil {
		m.active.WithLabelValues(proto).Add(delta)
	}
}

func (m *Metrics) authResult(proto, result string) {
	if m != nil {
		m.auth.WithLabelValues(proto, result).Inc()
	}
}

// transfer records one finished (or failed) native transfer.
func (m *Metrics) transfer(action string, n int64, d time.Duration, st protocol.Status) {
	if action != protocol.ActionGet && action != protocol.ActionPut {
		return
	}
	result := "failed"
	switch st {
	case protocol.StatusOK, protocol.StatusMD5OK:
		result = "ok"
	case protocol.StatusQuota:
		result = "quota"
	case protocol.StatusMD5Mismatch:
		result = "md5_mismatch"
	}
	m.record(ProtocolFTPX, action, result, n, d)
}

// record counts one transfer of a front end: direction get or put, result
// ok, quota, md5_mismatch or failed.
func (m *Metrics) record(proto, direction, result string, n int64, d time.Duration) {
	if m == nil {
		return
	}
	switch result {
	case "quota":
		m.quotaRefusals.WithLabelValues(proto).Inc()
	case "md5_mismatch":
		m.md5Mismatches.WithLabelValues(proto).Inc()
	}
	m.transfers.WithLabelValues(proto, direction, result).Inc()
	m.bytes.WithLabelValues(proto, direction, result).Add(float64(n))
	m.duration.WithLabelValues(proto, direction).Observe(d.Seconds())
}
