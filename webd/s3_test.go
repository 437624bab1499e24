package webd_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"ftpx/accounts"
	"ftpx/ftpxtest"
	"ftpx/internal/miniotest"
	"ftpx/protocol"
)

// s3Web starts a server whose homes are in bucket/prefix of srv (parts of
// S3's smallest size), with alex, and its HTTP front end.
func s3Web(t *testing.T, srv *miniotest.Server) *web {
	t.Helper()
	homes, _ := ftpxtest.S3Homes(t, srv, "ftpx-web")
	ts := ftpxtest.NewServer(t, homes)
	ts.AddUser(t, alex, alexPW, accounts.Unlimited)
	ts.AddUser(t, bob, bobPW, accounts.Unlimited)
	return &web{t: t, ts: ts, base: ts.StartHTTP(t)}
}

// TestS3UploadCutOnOneServerResumesOnAnother: two servers on one bucket;
// an upload begun and cut through one is finished through the other.
func TestS3UploadCutOnOneServerResumesOnAnother(t *testing.T) {
	srv := miniotest.Start(t, 1)
	srv.SetEnv(t)
	one, two := s3Web(t, srv), s3Web(t, srv)
	a1, a2 := one.basic(alex, alexPW), two.basic(alex, alexPW)
	data := randomBytes(12<<20 + 12345)
	mtime := time.Date(2022, 2, 2, 2, 2, 2, 0, time.UTC)
	loc := a1.create("/big.bin", data, mtime.Unix())
	sent := 7<<20 + 99
	rawRequest(t, hostOf(one.base), patchHead(loc, len(data), "Authorization: Basic "+basicToken(alex, alexPW)+"\r\n"), data[:sent])
	held := a2.waitHeld("the cut PATCH to be held", loc, func(held int64) bool { return held > 0 })
	if held != 5<<20 {
		t.Errorf("the other server holds %d bytes, want one whole part (%d)", held, 5<<20)
	}
	if r := a2.head(loc); r.Header.Get("Upload-Length") != strconv.Itoa(len(data)) {
		t.Errorf("Upload-Length %q", r.Header.Get("Upload-Length"))
	}
	resp, body := a2.patch(loc, held, data[held:])
	if resp.StatusCode != 204 || offsetOf(t, resp) != int64(len(data)) {
		t.Fatalf("PATCH the rest through the other server: %d %s", resp.StatusCode, body)
	}
	if r := a1.head(loc); r.StatusCode != 404 {
		t.Errorf("HEAD of the finished upload through the first server: %d", r.StatusCode)
	}
	resp, body = a1.do("GET", "/api/v1/files/big.bin", nil, nil)
	if resp.StatusCode != 200 || md5hex(body) != md5hex(data) || resp.Header.Get("Etag") != `"`+md5hex(data)+`"` {
		t.Fatalf("the object through the first server: %d, %d bytes md5 %s, ETag %s, want %s", resp.StatusCode, len(body), md5hex(body), resp.Header.Get("Etag"), md5hex(data))
	}
	if lm, _ := time.Parse(time.RFC1123, resp.Header.Get("Last-Modified")); !lm.Equal(mtime) {
		t.Errorf("Last-Modified %s, want %v", resp.Header.Get("Last-Modified"), mtime)
	}
	resp, body = a2.do("GET", "/api/v1/ls/", nil, nil)
	if !strings.Contains(string(body), `"name":"big.bin","size":`+strconv.Itoa(len(data))) {
		t.Errorf("ls through the other server: %s", body)
	}
}

// TestS3SmallUploadCreatedThenPatched: a file smaller than one part (which
// a native put would keep in memory until it is whole) is created through
// one server, then sent by PATCH through the other, as the page does
// behind a balancer: a tus upload is stored as parts with its resume
// point from its creation. Cut off, it is sent again from 0.
func TestS3SmallUploadCreatedThenPatched(t *testing.T) {
	srv := miniotest.Start(t, 1)
	srv.SetEnv(t)
	one, two := s3Web(t, srv), s3Web(t, srv)
	a1 := one.login(alex, alexPW)
	a := two.login(alex, alexPW)
	for _, n := range []int{1, 1000, 1 << 20} {
		data := randomBytes(n)
		name := "/small" + strconv.Itoa(n) + ".bin"
		mtime := time.Date(2023, 3, 3, 3, 3, 3, 0, time.UTC)
		loc := a1.create(name, data, mtime.Unix())
		r := a.head(loc)
		if r.StatusCode != 200 || offsetOf(t, r) != 0 || r.Header.Get("Upload-Length") != strconv.Itoa(n) {
			t.Fatalf("%d bytes: HEAD after creation: %d %v", n, r.StatusCode, r.Header)
		}
		if n > 1 {
			// Half: a store of parts keeps none of it, and says so
			// (sent again, it would never be kept); the upload stays
			// at 0.
			resp, body := a.patch(loc, 0, data[:n/2])
			wantErr(t, fmt.Sprintf("%d bytes: PATCH of half", n), resp, body, 400, protocol.StatusBadSize)
			if r := a.head(loc); r.StatusCode != 200 || offsetOf(t, r) != 0 {
				t.Fatalf("%d bytes: HEAD after half: %d %s", n, r.StatusCode, r.Header.Get("Upload-Offset"))
			}
		}
		resp, body := a.patch(loc, 0, data)
		if resp.StatusCode != 204 || offsetOf(t, resp) != int64(n) {
			t.Fatalf("%d bytes: PATCH: %d %s", n, resp.StatusCode, body)
		}
		if r := a.head(loc); r.StatusCode != 404 {
			t.Errorf("%d bytes: HEAD of the finished upload: %d", n, r.StatusCode)
		}
		resp, body = a.do("GET", "/api/v1/files"+name, nil, nil)
		if resp.StatusCode != 200 || md5hex(body) != md5hex(data) || resp.Header.Get("Etag") != `"`+md5hex(data)+`"` {
			t.Fatalf("%d bytes: GET: %d md5 %s, want %s", n, resp.StatusCode, md5hex(body), md5hex(data))
		}
		if lm, _ := time.Parse(time.RFC1123, resp.Header.Get("Last-Modified")); !lm.Equal(mtime) {
			t.Errorf("%d bytes: Last-Modified %s", n, resp.Header.Get("Last-Modified"))
		}
	}
	// Given up, and with the wrong MD5: gone.
	data := randomBytes(5000)
	loc := a.create("/gone.bin", data, 0)
	if resp, body := a.do("DELETE", loc, nil, tusHeader()); resp.StatusCode != 204 {
		t.Fatalf("DELETE: %d %s", resp.StatusCode, body)
	}
	if r := a.head(loc); r.StatusCode != 404 {
		t.Errorf("HEAD after DELETE: %d", r.StatusCode)
	}
	resp, body := a.patch(loc, 0, data)
	wantErr(t, "PATCH after DELETE", resp, body, 404, 0)
	resp, body = a.do("POST", "/api/v1/uploads/", nil, tusHeader("Upload-Length", "5000", "Upload-Metadata", metadata("/bad.bin", md5hex(nil), 0)))
	if resp.StatusCode != 201 {
		t.Fatalf("create: %d %s", resp.StatusCode, body)
	}
	loc = resp.Header.Get("Location")
	resp, body = a.patch(loc, 0, data)
	wantErr(t, "PATCH with the wrong MD5", resp, body, 460, 0)
	if r := a.head(loc); r.StatusCode != 404 {
		t.Errorf("HEAD after 460: %d", r.StatusCode)
	}
	// Bob does not see alex's.
	loc = a.create("/mine.bin", data, 0)
	if r := one.basic(bob, bobPW).head(loc); r.StatusCode != 404 {
		t.Errorf("bob's HEAD of alex's small upload: %d", r.StatusCode)
	}
	resp, body = a.do("GET", "/api/v1/ls/", nil, nil)
	for _, n := range []string{"gone.bin", "bad.bin", "mine.bin"} {
		if strings.Contains(string(body), n) {
			t.Errorf("%s is listed: %s", n, body)
		}
	}
}
