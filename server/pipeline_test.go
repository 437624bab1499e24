package server_test

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"ftpx/accounts"
	"ftpx/ftpxtest"
	"ftpx/protocol"
	"ftpx/server"
)

// sendNoWait writes a pipelined put: header and body, no waiting.
func (rc *raw) sendNoWait(id, name string, body []byte, sum string) {
	rc.t.Helper()
	rc.send(protocol.Request{ID: id, Action: "put", Filename: name, SizeField: protocol.Int64(int64(len(body))), MD5: sum, NoWait: true})
	rc.sendBytes(body)
}

// sendWindow sends pipelined puts of bodies (named prefix0, prefix1...,
// ids "0", "1"...) in one write, so that the server finds each waiting
// behind the one before and holds them all in one window.
func (rc *raw) sendWindow(prefix string, bodies [][]byte) {
	rc.t.Helper()
	var b bytes.Buffer
	for i, body := range bodies {
		protocol.WriteFrame(&b, protocol.Request{ID: fmt.Sprint(i), Action: "put", Filename: fmt.Sprint(prefix, i),
			SizeField: protocol.Int64(int64(len(body))), MD5: md5hex(body), NoWait: true})
		b.Write(body)
	}
	rc.sendBytes(b.Bytes())
}

func TestPipelinedPutsAnsweredInOrder(t *testing.T) {
	ts := ftpxtest.NewServer(t)
	ts.AddUser(t, "alex", "pw-alex", 200_000)
	rc := login(t, ts, "alex", "pw-alex")
	const n = 120
	bodies := make([][]byte, n)
	want := make([]protocol.Status, n)
	go func() { // writes while the test reads, as a real client would
		for i := range n {
			bodies[i] = []byte(fmt.Sprintf("file %03d %s", i, bytes.Repeat([]byte{byte(i)}, 1000)))
			name, sum := fmt.Sprintf("f%03d", i), md5hex(bodies[i])
			switch i {
			case 7:
				sum = md5hex([]byte("a lie"))
			case 50:
				name = "../outside"
			case 90:
				bodies[i] = make([]byte, 300_000) // over the quota
				sum = md5hex(bodies[i])
			}
			rc.sendNoWait(fmt.Sprint(i), name, bodies[i], sum)
		}
		rc.send(protocol.Request{ID: "last", Action: "pwd"})
	}()
	for i := range n {
		want[i] = protocol.StatusMD5OK
	}
	want[7], want[50], want[90] = protocol.StatusMD5Mismatch, protocol.StatusPermission, protocol.StatusQuota
	for i := range n {
		resp := rc.read()
		if resp.ID != fmt.Sprint(i) || resp.Status != want[i] {
			t.Fatalf("answer %d: id %q status %d %s, want %d", i, resp.ID, resp.Status, resp.Msg, want[i])
		}
	}
	if resp := rc.read(); resp.ID != "last" || resp.Path != "/" {
		t.Fatalf("pwd after the batch: %+v", resp)
	}
	for i := range n {
		got, err := os.ReadFile(filepath.Join(ts.Home("alex"), fmt.Sprintf("f%03d", i)))
		stored := err == nil && bytes.Equal(got, bodies[i])
		if stored != (want[i] == protocol.StatusMD5OK) {
			t.Fatalf("f%03d stored %v, answer %d", i, stored, want[i])
		}
	}
	assertNoPartials(t, ts.Home("alex"))
}

// Pipelined puts over several windows - committed on a goroutine of
// their own while the next window is read - with one name put again in
// later windows: every answer comes in order, the name ends with the last
// body, an ls sent right behind the puts sees them all, and the quota
// counts exactly what is stored.
func TestPipelinedPutsAcrossWindows(t *testing.T) {
	ts := ftpxtest.NewServer(t)
	ts.AddUser(t, "alex", "pw-alex", accounts.Unlimited)
	rc := login(t, ts, "alex", "pw-alex")
	const n = 3*protocol.NoWaitWindow + 17
	names := make([]string, n)
	bodies := make([][]byte, n)
	for i := range n {
		names[i] = fmt.Sprintf("f%04d", i)
		if i%protocol.NoWaitWindow == 10 {
			names[i] = "again"
		}
		bodies[i] = bytes.Repeat([]byte{byte(i)}, 100+i)
	}
	go func() {
		for i := range n {
			rc.sendNoWait(fmt.Sprint(i), names[i], bodies[i], md5hex(bodies[i]))
		}
		rc.send(protocol.Request{ID: "ls", Action: "ls", Path: "/"})
	}()
	for i := range n {
		if resp := rc.read(); resp.ID != fmt.Sprint(i) || resp.Status != protocol.StatusMD5OK {
			t.Fatalf("answer %d: id %q status %d %s", i, resp.ID, resp.Status, resp.Msg)
		}
	}
	resp := rc.read()
	if resp.ID != "ls" || resp.Status != protocol.StatusOK {
		t.Fatalf("ls after the puts: %+v", resp)
	}
	want := map[string][]byte{}
	for i := range n {
		want[names[i]] = bodies[i]
	}
	if got := len(resp.Entries); got != len(want) {
		t.Errorf("ls right after the puts: %d entries, want %d", got, len(want))
	}
	var total int64
	for name, body := range want {
		got, err := os.ReadFile(filepath.Join(ts.Home("alex"), name))
		if err != nil || !bytes.Equal(got, body) {
			t.Fatalf("%s: %d bytes, %v", name, len(got), err)
		}
		total += int64(len(body))
	}
	if q := rc.do(protocol.Request{Action: "quota"}); q.Used == nil || *q.Used != total {
		t.Errorf("quota used %v, want %d", q.Used, total)
	}
	assertNoPartials(t, ts.Home("alex"))
}

// Two sessions stream pipelined puts while the server may hold only a few
// open at once: windows are committed early, every put is answered in
// order and stored, and once both are done (one session closed in the
// middle of a window, the other still open) nothing is held.
func TestPipelinedPutsBoundedAcrossSessions(t *testing.T) {
	defer server.SetHeldMax(5)()
	ts := ftpxtest.NewServer(t)
	ts.AddUser(t, "alex", "pw-alex", accounts.Unlimited)
	const n = 200
	var wg sync.WaitGroup
	for s := range 2 {
		rc := login(t, ts, "alex", "pw-alex")
		wg.Add(1)
		go func() {
			defer wg.Done()
			go func() {
				for i := range n {
					body := []byte(fmt.Sprint("session ", s, " file ", i))
					rc.sendNoWait(fmt.Sprint(i), fmt.Sprintf("s%d-%03d", s, i), body, md5hex(body))
				}
			}()
			for i := range n {
				if resp := rc.read(); resp.ID != fmt.Sprint(i) || resp.Status != protocol.StatusMD5OK {
					t.Errorf("session %d answer %d: id %q status %d %s", s, i, resp.ID, resp.Status, resp.Msg)
					return
				}
			}
		}()
	}
	wg.Wait()
	for s := range 2 {
		for i := range n {
			want := fmt.Sprint("session ", s, " file ", i)
			if got, err := os.ReadFile(filepath.Join(ts.Home("alex"), fmt.Sprintf("s%d-%03d", s, i))); err != nil || string(got) != want {
				t.Fatalf("s%d-%03d: %q, %v", s, i, got, err)
			}
		}
	}
	rc := login(t, ts, "alex", "pw-alex")
	body := []byte("cut off")
	for i := range 3 {
		rc.sendNoWait(fmt.Sprint(i), fmt.Sprint("cut", i), body, md5hex(body))
	}
	rc.send(protocol.Request{Action: "put", Filename: "cut3", SizeField: protocol.Int64(100), MD5: md5hex(body), NoWait: true})
	rc.sendBytes(body) // and the connection ends, mid-body
	rc.conn.Close()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) { // the session reads on after the close
		if _, err := os.Stat(filepath.Join(ts.Home("alex"), "cut2")); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	for ts.Held() != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if h := ts.Held(); h != 0 {
		t.Errorf("%d uploads still held after every session settled", h)
	}
	var total int64
	for i := range 4 {
		fi, err := os.Stat(filepath.Join(ts.Home("alex"), fmt.Sprint("cut", i)))
		if (err == nil) != (i < 3) {
			t.Errorf("cut%d: %v (the three whole puts are stored, the cut one is not)", i, err)
		}
		if err == nil {
			total += fi.Size()
		}
	}
	for s := range 2 {
		for i := range n {
			total += int64(len(fmt.Sprint("session ", s, " file ", i)))
		}
	}
	if q := login(t, ts, "alex", "pw-alex").do(protocol.Request{Action: "quota"}); q.Used == nil || *q.Used != total {
		t.Errorf("quota used %v, want %d", ptrString(q.Used), total)
	}
	assertNoPartials(t, ts.Home("alex"))
}

func ptrString(p *int64) string {
	if p == nil {
		return "none"
	}
	return fmt.Sprint(*p)
}

// Gets sent all at once - small files whose MD5 the server knows and does
// not know, empty, missing, a directory, a resumed one and files big
// enough to go by sendfile or the pipelined copy - are answered in order,
// each with its id, its bytes and its MD5, with the answers and small
// bodies gathered into shared writes.
func TestPipelinedGetsAnsweredInOrder(t *testing.T) {
	ts := ftpxtest.NewServer(t)
	ts.AddUser(t, "alex", "pw-alex", accounts.Unlimited)
	rc := login(t, ts, "alex", "pw-alex")
	home := ts.Home("alex")
	type get struct {
		name   string
		body   []byte // nil: not a file
		offset int64
		status protocol.Status
	}
	var gets []get
	for i := range 300 {
		g := get{name: fmt.Sprintf("f%03d", i), status: protocol.StatusReadyToSend}
		switch {
		case i%50 == 7:
			g.name, g.status = "missing", protocol.StatusNotExist
		case i%50 == 8:
			g.name, g.status = "dir", protocol.StatusIsDir
		case i%50 == 9:
			g.body = bytes.Repeat([]byte{byte(i)}, 3<<20) // past the small-body limit
		case i%50 == 10:
			g.body = []byte{} // empty
		default:
			g.body = bytes.Repeat([]byte(fmt.Sprintf("%d,", i)), 10*i)
		}
		if i%50 == 11 {
			g.offset = int64(len(g.body) / 2)
		}
		gets = append(gets, g)
	}
	os.Mkdir(filepath.Join(home, "dir"), 0o755)
	for i, g := range gets {
		if g.body == nil {
			continue
		}
		if i%2 == 0 { // through the server: its MD5 is then known
			if resp := rc.put(g.name, g.body, md5hex(g.body)); resp.Status != protocol.StatusMD5OK {
				t.Fatalf("put %s: %d", g.name, resp.Status)
			}
		} else {
			os.WriteFile(filepath.Join(home, g.name), g.body, 0o644)
		}
	}
	go func() {
		for i, g := range gets {
			req := protocol.Request{ID: fmt.Sprint(i), Action: "get", Filename: g.name, Offset: g.offset}
			if g.offset > 0 {
				req.MD5 = md5hex(g.body[:g.offset])
			}
			rc.send(req)
		}
	}()
	for i, g := range gets {
		resp := rc.read()
		if resp.ID != fmt.Sprint(i) || resp.Status != g.status {
			t.Fatalf("answer %d: id %q status %d %s, want %d", i, resp.ID, resp.Status, resp.Msg, g.status)
		}
		if g.status != protocol.StatusReadyToSend {
			continue
		}
		body := make([]byte, *resp.Size-g.offset)
		if _, err := io.ReadFull(rc.r, body); err != nil {
			t.Fatal(err)
		}
		sum := resp.MD5
		if sum == "" {
			sum = rc.read().MD5
		}
		if !bytes.Equal(body, g.body[g.offset:]) || sum != md5hex(g.body) {
			t.Fatalf("get %d (%s): %d bytes, md5 %s; want %d bytes, %s", i, g.name, len(body), sum, len(g.body)-int(g.offset), md5hex(g.body))
		}
	}
}

func TestPipelinedPutOverSizeLimitEndsSession(t *testing.T) {
	ts := ftpxtest.NewServer(t)
	ts.AddUser(t, "alex", "pw-alex", accounts.Unlimited)
	rc := login(t, ts, "alex", "pw-alex")
	rc.send(protocol.Request{Action: "put", Filename: "big", SizeField: protocol.Int64(protocol.MaxNoWaitSize + 1), MD5: md5hex(nil), NoWait: true})
	if resp := rc.read(); resp.Status != protocol.StatusBadSize || !rc.closedByServer() {
		t.Fatalf("oversized nowait put: %d", resp.Status)
	}
}

// BenchmarkPipelinedSmallFiles puts 4 KiB files pipelined over one
// connection, each verified and on disk before it is answered; it reports
// files/s.
func BenchmarkPipelinedSmallFiles(b *testing.B) {
	ts := ftpxtest.NewServer(b)
	ts.AddUser(b, "bench", "pw", accounts.Unlimited)
	rc := login(b, ts, "bench", "pw")
	body := randomBytes(b, 4096)
	sum := md5hex(body)
	dir := 0
	b.ResetTimer()
	for b.Loop() {
		const files = 1000
		dir++
		d := fmt.Sprintf("d%d", dir) // fresh directories: see issue 8 on this file system
		rc.do(protocol.Request{Action: "mkdir", Filename: d})
		go func() {
			for i := range files {
				rc.sendNoWait("", fmt.Sprintf("%s/f%04d", d, i), body, sum)
			}
		}()
		for range files {
			if resp := rc.read(); resp.Status != protocol.StatusMD5OK {
				b.Fatalf("put: %d %s", resp.Status, resp.Msg)
			}
		}
	}
	b.ReportMetric(float64(1000*b.N)/b.Elapsed().Seconds(), "files/s")
}
