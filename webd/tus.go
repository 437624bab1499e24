package webd

import (
	"cmp"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"ftpx/home"
	"ftpx/protocol"
	"ftpx/server"

	"github.com/google/uuid"
)

// Uploads follow the tus 1.0.0 protocol (tus.io): core (HEAD, PATCH),
// creation (POST, with creation-with-upload) and termination (DELETE).
// An upload is a home.Upload whose transfer id is the upload's id: its
// bytes are a partial of the home, its resume point (with the MD5 and
// mtime given at creation) is the home's, so it resumes on any server
// that opens the same home, and the quota counts what it holds.
const (
	tusVersion    = "1.0.0"
	tusExtensions = "creation,creation-with-upload,termination"
	tusPrefix     = "/api/v1/uploads/"
	offsetStream  = "application/offset+octet-stream"
)

// tus checks the protocol version a tus request names and marks the
// answer with ours.
func tus(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Tus-Resumable", tusVersion)
		if v := r.Header.Get("Tus-Resumable"); v != tusVersion {
			w.Header().Set("Tus-Version", tusVersion)
			writeJSON(w, http.StatusPreconditionFailed, apiError{Error: fmt.Sprintf("Tus-Resumable %q: this server speaks tus %s", v, tusVersion), Status: int(protocol.StatusBadFormat)})
			return
		}
		h.ServeHTTP(w, r)
	})
}

// handleTusOptions says what the server supports (no login needed).
func handleTusOptions(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Tus-Resumable", tusVersion)
	h.Set("Tus-Version", tusVersion)
	h.Set("Tus-Extension", tusExtensions)
	w.WriteHeader(http.StatusNoContent)
}

// tusMeta is what an upload is created with, from Upload-Metadata.
type tusMeta struct {
	path  string
	md5   string
	mtime time.Time
}

// parseMetadata reads Upload-Metadata: comma-separated "key base64"
// pairs (a key alone has an empty value). It needs path and md5.
func parseMetadata(v string) (tusMeta, error) {
	var m tusMeta
	seen := map[string]bool{}
	for pair := range strings.SplitSeq(v, ",") {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		key, enc, _ := strings.Cut(pair, " ")
		if key == "" || seen[key] {
			return m, fmt.Errorf("Upload-Metadata: key %q empty or repeated", key)
		}
		seen[key] = true
		val, err := base64.StdEncoding.DecodeString(strings.TrimSpace(enc))
		if err != nil {
			return m, fmt.Errorf("Upload-Metadata: %s: not base64", key)
		}
		switch key {
		case "path":
			m.path = string(val)
		case "md5":
			m.md5 = strings.ToLower(string(val))
		case "mtime":
			sec, err := strconv.ParseInt(string(val), 10, 64)
			if err != nil || sec < 0 {
				return m, fmt.Errorf("Upload-Metadata: mtime %q: not Unix seconds", val)
			}
			m.mtime = time.Unix(sec, 0)
		}
	}
	if m.path == "" {
		return m, errors.New("Upload-Metadata: path (the destination) is required")
	}
	if len(m.md5) != 32 || strings.Trim(m.md5, "0123456789abcdef") != "" {
		return m, errors.New("Upload-Metadata: md5 (32 hex digits, the whole file's) is required")
	}
	return m, nil
}

// handleTusCreate begins an upload: checked (permission, parent, quota,
// free space) as a put is, and held as an empty partial with its resume
// point until its bytes come. A body sent with the creation is taken at
// once.
func handleTusCreate(c *call) {
	r := c.r
	if r.Header.Get("Upload-Defer-Length") != "" {
		badRequest(c.w, "Upload-Defer-Length is not supported: give Upload-Length")
		return
	}
	size, err := strconv.ParseInt(r.Header.Get("Upload-Length"), 10, 64)
	if err != nil || size < 0 {
		badRequest(c.w, "Upload-Length (the whole file's size) is required")
		return
	}
	meta, err := parseMetadata(r.Header.Get("Upload-Metadata"))
	if err != nil {
		badRequest(c.w, err.Error())
		return
	}
	name, err := home.Resolve("/", meta.path)
	if err != nil {
		writeError(c.w, err)
		return
	}
	id := uuid.NewString()
	u, err := c.home.BeginUpload(name, home.Put{Size: size, Transfer: id, MTime: meta.mtime, Want: meta.md5, Shared: true})
	if err != nil {
		writeError(c.w, err)
		return
	}
	c.w.Header().Set("Location", tusPrefix+id)
	c.log.Info("upload created", "upload", id, "path", name, "size", size, "md5", meta.md5)
	held := home.Held{Name: name, Size: size, Want: meta.md5, MTime: meta.mtime}
	if size > 0 && r.Header.Get("Content-Type") != offsetStream {
		if err := u.Suspend(); err != nil {
			writeError(c.w, err)
			return
		}
		c.w.Header().Set("Upload-Offset", "0")
		c.w.WriteHeader(http.StatusCreated)
		return
	}
	receive(c, u, id, held, http.StatusCreated)
}

// handleTusHead reports how much of an upload the server holds.
func handleTusHead(c *call) {
	held, ok := heldUpload(c)
	if !ok {
		return
	}
	h := c.w.Header()
	h.Set("Upload-Offset", strconv.FormatInt(held.Offset, 10))
	h.Set("Upload-Length", strconv.FormatInt(held.Size, 10))
	h.Set("Upload-Metadata", "path "+base64.StdEncoding.EncodeToString([]byte(held.Name))+",md5 "+base64.StdEncoding.EncodeToString([]byte(held.Want)))
	h.Set("Cache-Control", "no-store")
	c.w.WriteHeader(http.StatusOK)
}

// heldUpload is what the home holds of the request's upload; when it
// holds nothing usable the request is answered.
func heldUpload(c *call) (home.Held, bool) {
	id := c.r.PathValue("id")
	held, err := c.home.Breakpoint(id)
	switch {
	case errors.Is(err, home.ErrBadTransfer):
		writeError(c.w, fmt.Errorf("upload %s: %w", id, home.ErrNotExist))
		return held, false
	case err != nil:
		writeError(c.w, err)
		return held, false
	case held.Want == "":
		writeError(c.w, fmt.Errorf("upload %s: a transfer of another protocol: %w", id, home.ErrNotExist))
		return held, false
	}
	return held, true
}

// handleTusPatch appends the body to an upload at the offset the server
// holds; the upload is placed once its last byte is in and its MD5
// matches.
func handleTusPatch(c *call) {
	if c.r.Header.Get("Content-Type") != offsetStream {
		writeJSON(c.w, http.StatusUnsupportedMediaType, apiError{Error: "PATCH needs Content-Type: " + offsetStream, Status: int(protocol.StatusBadFormat)})
		return
	}
	offset, err := strconv.ParseInt(c.r.Header.Get("Upload-Offset"), 10, 64)
	if err != nil || offset < 0 {
		badRequest(c.w, "Upload-Offset is required")
		return
	}
	held, ok := heldUpload(c)
	if !ok {
		return
	}
	if offset != held.Offset {
		c.w.Header().Set("Upload-Offset", strconv.FormatInt(held.Offset, 10))
		writeError(c.w, fmt.Errorf("upload: offset %d, the server holds %d: %w", offset, held.Offset, home.ErrBadOffset))
		return
	}
	id := c.r.PathValue("id")
	u, err := c.home.BeginUpload(held.Name, home.Put{Size: held.Size, Transfer: id, Offset: offset, MTime: held.MTime, Want: held.Want, Shared: true})
	if err != nil {
		writeError(c.w, err)
		return
	}
	receive(c, u, id, held, http.StatusNoContent)
}

// receive takes the request's body into u, the upload id of held. At the
// upload's end it is verified against held.Want and placed under
// held.Name; before, it is suspended and the answer says the offset the
// server now holds (on an object store, the end of the last part it
// keeps). code is the success status.
func receive(c *call, u *home.Upload, id string, held home.Held, code int) {
	name, want := held.Name, held.Want
	start := time.Now()
	_, transfer := c.srv.Core.Timeouts()
	body := &deadlineReader{r: server.RateReader(c.r.Body, c.login.UploadRate), rc: http.NewResponseController(c.w), timeout: transfer}
	_, err := u.Receive(body)
	size := u.Offset() + u.Written() // all of it, when the upload is complete
	full := err == nil && size == u.Size()
	if full {
		var extra [1]byte
		if n, _ := io.ReadFull(c.r.Body, extra[:]); n > 0 {
			u.Abort()
			badRequest(c.w, "the body runs past Upload-Length: the upload is given up")
			return
		}
	}
	if !full {
		serr := u.Suspend()
		if err != nil && !isReadErr(err) || serr != nil { // the store failed, not the client
			err = cmp.Or(serr, err)
			c.log.Warn("upload suspended", "path", name, "offset", u.Saved(), "err", err)
			writeError(c.w, err)
			return
		}
		c.log.Info("upload suspended", "path", name, "offset", u.Saved(), "bytes", u.Written(), "err", err)
		c.w.Header().Set("Upload-Offset", strconv.FormatInt(u.Saved(), 10))
		c.w.WriteHeader(code)
		return
	}
	err = u.Commit(want)
	c.srv.Core.RecordTransfer(server.ProtocolHTTP, protocol.ActionPut, u.Written(), time.Since(start), err)
	if err != nil {
		c.log.Warn("put failed", "path", name, "err", err)
		writeError(c.w, err)
		return
	}
	c.log.Info("put done", "path", name, "size", size, "md5", want, "seconds", time.Since(start).Seconds())
	c.w.Header().Set("Upload-Offset", strconv.FormatInt(size, 10))
	c.w.WriteHeader(code)
}

// isReadErr tells whether err came from reading the body: the body was
// shorter than the rest of the upload (a tus client may send it in
// several PATCHes) or the client cut the request. What arrived is kept.
func isReadErr(err error) bool {
	var re *readError
	return errors.As(err, &re) || errors.Is(err, io.ErrUnexpectedEOF)
}

// readError marks a failure to read the request's body.
type readError struct{ err error }

func (e *readError) Error() string { return "reading the body: " + e.err.Error() }
func (e *readError) Unwrap() error { return e.err }

// deadlineReader is an upload's body: each read has the transfer
// timeout to arrive, and its errors are marked as the client's.
type deadlineReader struct {
	r       io.Reader
	rc      *http.ResponseController
	timeout time.Duration
}

func (d *deadlineReader) Read(p []byte) (int, error) {
	d.rc.SetReadDeadline(time.Now().Add(d.timeout))
	n, err := d.r.Read(p)
	if err != nil && err != io.EOF {
		err = &readError{err}
	}
	return n, err
}

// handleTusDelete gives an upload up: its partial goes, and its bytes
// leave the quota.
func handleTusDelete(c *call) {
	id := c.r.PathValue("id")
	if _, err := c.home.Cancel(id); err != nil {
		if errors.Is(err, home.ErrBadTransfer) {
			err = fmt.Errorf("upload %s: %w", id, home.ErrNotExist)
		}
		writeError(c.w, err)
		return
	}
	c.log.Info("upload cancelled", "upload", id)
	c.w.WriteHeader(http.StatusNoContent)
}
