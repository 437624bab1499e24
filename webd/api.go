package webd

import (
	"cmp"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"

	"ftpx/home"
	"ftpx/protocol"
	"ftpx/server"
)

// routes is the server's whole surface.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", servePage)
	mux.HandleFunc("GET /static/{file}", serveAsset)
	mux.HandleFunc("POST /api/v1/login", s.handleLogin)
	mux.HandleFunc("POST /api/v1/logout", s.handleLogout)
	mux.HandleFunc("GET /api/v1/session", s.handleSession)
	mux.Handle("GET /api/v1/ls", s.authed(handleLs))
	mux.Handle("GET /api/v1/ls/{path...}", s.authed(handleLs))
	mux.Handle("GET /api/v1/files/{path...}", s.authed(handleDownload))
	mux.Handle("DELETE /api/v1/files/{path...}", s.authed(handleDelete))
	mux.Handle("POST /api/v1/mkdir/{path...}", s.authed(handleMkdir))
	mux.Handle("POST /api/v1/rename/{path...}", s.authed(handleRename))
	mux.Handle("GET /api/v1/quota", s.authed(handleQuota))
	mux.HandleFunc("OPTIONS /api/v1/uploads/{$}", handleTusOptions)
	mux.Handle("POST /api/v1/uploads/{$}", tus(s.authed(handleTusCreate)))
	mux.Handle("HEAD /api/v1/uploads/{id}", tus(s.authed(handleTusHead)))
	mux.Handle("PATCH /api/v1/uploads/{id}", tus(s.authed(handleTusPatch)))
	mux.Handle("DELETE /api/v1/uploads/{id}", tus(s.authed(handleTusDelete)))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeStatus(w, protocol.StatusBadCommand, "no such page or API call: "+r.Method+" "+r.URL.Path)
	})
	return guard(mux)
}

// guard sets the headers every answer carries (no sniffing, no framing,
// nothing loaded from elsewhere), refuses cross-origin requests that
// change something (net/http's CrossOriginProtection: a browser says
// where a request comes from), with a JSON error as every refusal.
func guard(h http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeStatus(w, protocol.StatusPermission, "cross-origin request refused: "+r.Method+" from "+cmp.Or(r.Header.Get("Origin"), "another site"))
	}))
	h = cop.Handler(h)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Content-Security-Policy", contentSecurityPolicy)
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("X-Frame-Options", "DENY")
		if r.TLS != nil {
			hd.Set("Strict-Transport-Security", "max-age=31536000")
		}
		h.ServeHTTP(w, r)
	})
}

// contentSecurityPolicy lets the page load its own script and style and
// nothing else, and lets no page (an uploaded one included) run scripts
// of any other origin or be framed.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// pathOf is the home path a request names after its route's prefix.
func (c *call) pathOf() (string, error) {
	return home.Resolve("/", c.r.PathValue("path"))
}

// handleLs answers the JSON of ftpx ls --json: a directory's entries, or
// a file's own.
func handleLs(c *call) {
	name, err := c.pathOf()
	if err == nil {
		err = c.home.Allowed(name, home.PermRead)
	}
	var fi fs.FileInfo
	if err == nil {
		fi, err = c.home.FS.Stat(name)
	}
	if err != nil {
		writeError(c.w, err)
		return
	}
	entries := []protocol.Entry{entryOf(path.Base(name), fi)}
	if fi.IsDir() {
		infos, err := c.home.FS.ReadDir(name)
		if err != nil {
			writeError(c.w, err)
			return
		}
		entries = make([]protocol.Entry, 0, len(infos))
		for _, fi := range infos {
			entries = append(entries, entryOf(fi.Name(), fi))
		}
	}
	writeJSON(c.w, http.StatusOK, entries)
}

// entryOf is a listing's entry, as ftpx ls --json prints it.
func entryOf(name string, fi fs.FileInfo) protocol.Entry {
	e := protocol.Entry{Name: name, IsDir: fi.IsDir(), MTime: fi.ModTime().UTC().Truncate(time.Second)}
	if !e.IsDir {
		e.Size = fi.Size()
	}
	return e
}

// handleDownload sends a file as an attachment, with its MD5 (Content-MD5
// on a whole answer; the ETag is the MD5 in hex) and Range honoured.
func handleDownload(c *call) {
	start := time.Now()
	name, err := c.pathOf()
	if err == nil {
		err = c.home.Allowed(name, home.PermRead)
	}
	var f home.File
	if err == nil {
		f, err = c.home.FS.Open(name)
	}
	if err != nil {
		writeError(c.w, err)
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		writeError(c.w, err)
		return
	}
	rs, ok := f.(io.ReadSeeker)
	if !ok {
		writeError(c.w, fmt.Errorf("get %s: the store cannot seek: %w", name, home.ErrUnavailable))
		return
	}
	sum := c.home.KnownSum(fi)
	if sum == "" {
		if sum, err = c.home.Checksum(name); err != nil {
			writeError(c.w, err)
			return
		}
	}
	h := c.w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Disposition", attachment(path.Base(name)))
	h.Set("ETag", `"`+sum+`"`)
	h.Set("Cache-Control", "private, no-cache")
	if raw, err := hex.DecodeString(sum); err == nil && c.r.Header.Get("Range") == "" {
		h.Set("Content-MD5", base64.StdEncoding.EncodeToString(raw))
	}
	_, transfer := c.srv.Core.Timeouts()
	body := &countingReader{ReadSeeker: rs, rate: server.RateReader(rs, c.login.DownloadRate), rc: http.NewResponseController(c.w), timeout: transfer}
	http.ServeContent(c.w, c.r, "", fi.ModTime(), body)
	c.srv.Core.RecordTransfer(server.ProtocolHTTP, protocol.ActionGet, body.n, time.Since(start), nil)
	c.log.Info("get done", "path", name, "bytes", body.n, "md5", sum, "seconds", time.Since(start).Seconds())
}

// countingReader is a download's file: it counts what is read, at the
// user's download rate, and gives the client the transfer timeout to take
// each piece.
type countingReader struct {
	io.ReadSeeker
	rate    io.Reader // the ReadSeeker, slowed to the user's rate
	rc      *http.ResponseController
	timeout time.Duration
	n       int64
}

func (r *countingReader) Read(p []byte) (int, error) {
	r.rc.SetWriteDeadline(time.Now().Add(r.timeout))
	n, err := r.rate.Read(p)
	r.n += int64(n)
	return n, err
}

// attachment is a Content-Disposition that saves the file under its name
// (RFC 6266: an ASCII fallback and the UTF-8 name).
func attachment(name string) string {
	ascii := strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' || r == '%' {
			return '_'
		}
		return r
	}, name)
	return fmt.Sprintf(`attachment; filename="%s"; filename*=UTF-8''%s`, ascii, extValue(name))
}

// extValue percent-encodes name as RFC 5987's value-chars: every byte but
// its attr-chars (url.PathEscape leaves "=", ":" and "@", which end or
// break the parameter for a strict parser).
func extValue(name string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		c := name[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$&+-.^_`|~", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

// handleDelete removes a file or an empty directory; ?recursive=1 a tree.
func handleDelete(c *call) {
	name, err := c.pathOf()
	recursive := c.r.URL.Query().Get("recursive") == "1"
	if err == nil {
		err = c.home.Remove(name, recursive)
	}
	if err != nil {
		writeError(c.w, err)
		return
	}
	c.log.Info("rm done", "path", name, "recursive", recursive)
	c.w.WriteHeader(http.StatusNoContent)
}

// pathAnswer answers mkdir and rename.
type pathAnswer struct {
	Path string `json:"path"`
}

// handleMkdir creates a directory; ?parents=1 its missing parents too.
func handleMkdir(c *call) {
	name, err := c.pathOf()
	if err == nil {
		err = c.home.Allowed(name, home.PermWrite)
	}
	if err == nil && name == "/" {
		err = fmt.Errorf("mkdir /: %w", home.ErrExists)
	}
	if err == nil {
		err = c.home.FS.Mkdir(name, c.r.URL.Query().Get("parents") == "1")
	}
	if err != nil {
		writeError(c.w, err)
		return
	}
	c.log.Info("mkdir done", "path", name)
	writeJSON(c.w, http.StatusCreated, pathAnswer{Path: name})
}

// handleRename renames PATH to the query's "to" (a home path).
func handleRename(c *call) {
	from, err := c.pathOf()
	var to string
	if err == nil {
		if q := c.r.URL.Query().Get("to"); q == "" {
			err = fmt.Errorf("rename %s: the new name (?to=) is missing: %w", from, protocol.ErrFormat)
		} else {
			to, err = home.Resolve("/", q)
		}
	}
	if err == nil {
		err = c.home.Rename(from, to)
	}
	if err != nil {
		writeError(c.w, err)
		return
	}
	c.log.Info("mv done", "path", from, "to", to)
	writeJSON(c.w, http.StatusOK, pathAnswer{Path: to})
}

// quotaAnswer is the JSON of ftpx quota --json.
type quotaAnswer struct {
	Used  int64 `json:"used"`
	Quota int64 `json:"quota"`
	Free  int64 `json:"free"`
}

// handleQuota answers the user's usage and limit (-1: none).
func handleQuota(c *call) {
	used, _, limit := c.home.Quota()
	if limit == protocol.Unlimited {
		limit = -1
	}
	free := int64(-1)
	if limit >= 0 {
		free = max(limit-used, 0)
	}
	writeJSON(c.w, http.StatusOK, quotaAnswer{Used: used, Quota: limit, Free: free})
}
