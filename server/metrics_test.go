package server_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"ftpx/accounts"
	"ftpx/ftpxtest"
	"ftpx/protocol"
	"ftpx/server"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

func TestMetricsShowPutAndRefusedLogin(t *testing.T) {
	reg := prometheus.NewRegistry()
	ts := ftpxtest.NewServer(t, func(s *server.Server) { s.Metrics = server.NewMetrics(reg) })
	ts.AddUser(t, "alex", "pw-alex", 1000)
	web := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer web.Close()

	if resp := dialRaw(t, ts.Addr).do(protocol.Request{Action: "auth", Username: "alex", Password: "wrong"}); resp.Status != protocol.StatusWrongLogin {
		t.Fatalf("wrong password: %d", resp.Status)
	}
	rc := login(t, ts, "alex", "pw-alex")
	body := randomBytes(t, 600)
	if resp := rc.put("a.bin", body, md5hex(body)); resp.Status != protocol.StatusMD5OK {
		t.Fatalf("put: %d", resp.Status)
	}
	if resp := rc.put("b.bin", body, md5hex(body)); resp.Status != protocol.StatusQuota {
		t.Fatalf("put over quota: %d", resp.Status)
	}
	if resp := rc.put("c.bin", body[:10], md5hex(body)); resp.Status != protocol.StatusMD5Mismatch {
		t.Fatalf("put with a wrong md5: %d", resp.Status)
	}

	res, err := http.Get(web.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	text, _ := io.ReadAll(res.Body)
	for _, want := range []string{
		`ftpx_auth_total{protocol="ftpx",result="failed"} 1`,
		`ftpx_auth_total{protocol="ftpx",result="ok"} 1`,
		`ftpx_transfers_total{direction="put",protocol="ftpx",result="ok"} 1`,
		`ftpx_transfer_bytes_total{direction="put",protocol="ftpx",result="ok"} 600`,
		`ftpx_transfers_total{direction="put",protocol="ftpx",result="quota"} 1`,
		`ftpx_quota_refusals_total{protocol="ftpx"} 1`,
		`ftpx_md5_mismatches_total{protocol="ftpx"} 1`,
		`ftpx_connections_total{protocol="ftpx",result="accepted"} 2`,
		`ftpx_connections_active{protocol="ftpx"} 2`,
		`ftpx_transfer_duration_seconds_count{direction="put",protocol="ftpx"} 3`,
	} {
		if !strings.Contains(string(text), want+"\n") {
			t.Errorf("metrics lack %s", want)
		}
	}
	if t.Failed() {
		t.Logf("metrics:\n%s", text)
	}
}

func TestRateLimitsSlowTransfers(t *testing.T) {
	ts := ftpxtest.NewServer(t)
	ts.AddUserWith(t, "slow", "pw-slow", accounts.Unlimited, "upload_rate = 200KB", "download_rate = 200KB")
	ts.AddUser(t, "fast", "pw-fast", accounts.Unlimited)
	body := randomBytes(t, 400<<10)
	rc := login(t, ts, "slow", "pw-slow")
	start := time.Now()
	if resp := rc.put("a.bin", body, md5hex(body)); resp.Status != protocol.StatusMD5OK {
		t.Fatalf("put: %d", resp.Status)
	}
	if d := time.Since(start); d < 1500*time.Millisecond {
		t.Errorf("400 KB up at 200 KB/s took %v", d)
	}
	start = time.Now()
	if resp, got, _ := rc.get("a.bin"); resp.Status != protocol.StatusReadyToSend || len(got) != len(body) {
		t.Fatalf("get: %d", resp.Status)
	}
	if d := time.Since(start); d < 1500*time.Millisecond {
		t.Errorf("400 KB down at 200 KB/s took %v", d)
	}
	fast := login(t, ts, "fast", "pw-fast")
	start = time.Now()
	fast.put("a.bin", body, md5hex(body))
	fast.get("a.bin")
	if d := time.Since(start); d > time.Second {
		t.Errorf("an unlimited user's round trip took %v", d)
	}
}
