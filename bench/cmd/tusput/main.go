// Command tusput uploads one file through the HTTP API's tus endpoint the
// way a small client would: it reads the file once to compute its MD5
// (the creation needs it, so it cannot be computed in the same pass as the
// upload), creates the upload (POST with Upload-Length and Upload-Metadata
// path, md5, mtime), then sends the whole file in one PATCH. The password
// comes from FTPX_PASSWORD (HTTP Basic auth). It prints the seconds of each
// phase (also appended to -report FILE):
//
//	md5_s=0.812 create_s=0.004 patch_s=2.310 total_s=3.126 bytes=1073741824
//
//	tusput -url http://127.0.0.1:8080 -user bench -file big.bin -path /big.bin
package main

import (
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"time"
)

func main() {
	base := flag.String("url", "", "the server's HTTP base URL, e.g. http://127.0.0.1:8080")
	user := flag.String("user", "bench", "user name (password from FTPX_PASSWORD)")
	file := flag.String("file", "", "the local file to upload")
	dest := flag.String("path", "", "the destination home path, e.g. /big.bin")
	timeout := flag.Duration("timeout", 10*time.Minute, "give up after this long")
	report := flag.String("report", "", "append the line of figures to this file too")
	flag.Parse()
	if *base == "" || *file == "" || *dest == "" {
		fmt.Fprintln(os.Stderr, "usage: tusput -url URL -file FILE -path /DEST [-user NAME]")
		os.Exit(2)
	}
	line, err := run(*base, *user, os.Getenv("FTPX_PASSWORD"), *file, *dest, *timeout)
	if err == nil && *report != "" {
		err = appendLine(*report, line)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "tusput:", err)
		os.Exit(1)
	}
	fmt.Println(line)
}

func appendLine(name, line string) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintln(f, line); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func run(base, user, password, file, dest string, timeout time.Duration) (string, error) {
	hc := &http.Client{Timeout: timeout}
	f, err := os.Open(file)
	if err != nil {
		return "", err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", err
	}
	size := st.Size()

	t0 := time.Now()
	h := md5.New()
	if _, err := io.CopyBuffer(h, f, make([]byte, 1<<20)); err != nil {
		return "", err
	}
	sum := hex.EncodeToString(h.Sum(nil))
	t1 := time.Now()

	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	req, err := http.NewRequest(http.MethodPost, base+"/api/v1/uploads/", nil)
	if err != nil {
		return "", err
	}
	req.SetBasicAuth(user, password)
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Upload-Length", strconv.FormatInt(size, 10))
	req.Header.Set("Upload-Metadata", "path "+b64(dest)+",md5 "+b64(sum)+",mtime "+b64(strconv.FormatInt(st.ModTime().Unix(), 10)))
	resp, err := hc.Do(req)
	if err != nil {
		return "", err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusCreated || loc == "" {
		return "", fmt.Errorf("creation: %s (Location %q)", resp.Status, loc)
	}
	t2 := time.Now()

	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return "", err
	}
	req, err = http.NewRequest(http.MethodPatch, base+loc, io.NopCloser(f))
	if err != nil {
		return "", err
	}
	req.ContentLength = size
	req.SetBasicAuth(user, password)
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Content-Type", "application/offset+octet-stream")
	req.Header.Set("Upload-Offset", "0")
	resp, err = hc.Do(req)
	if err != nil {
		return "", err
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		return "", fmt.Errorf("PATCH: %s: %s", resp.Status, body)
	}
	if got := resp.Header.Get("Upload-Offset"); got != strconv.FormatInt(size, 10) {
		return "", errors.New("PATCH: the server holds " + got + " bytes, not " + strconv.FormatInt(size, 10))
	}
	t3 := time.Now()
	return fmt.Sprintf("md5_s=%.4f create_s=%.4f patch_s=%.4f total_s=%.4f bytes=%d md5=%s",
		t1.Sub(t0).Seconds(), t2.Sub(t1).Seconds(), t3.Sub(t2).Seconds(), t3.Sub(t0).Seconds(), size, sum), nil
}
