// Package fake is a small in-memory ftpx server for the client's tests: it
// speaks the frames of PROTOCOL.md on real loopback TCP and can be told to
// misbehave (lie about a digest, refuse the greeting, refuse a put and
// watch for stray body bytes). It is not the real server and must not be
// used outside tests.
package fake

import (
	"bufio"
	"crypto/md5"
	"encoding/hex"
	"io"
	"net"
	"path"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"ftpx/protocol"
)

// Server holds a tree in memory. Its knobs are set by the configure
// functions given to Start; its state is read through the methods, which
// lock.
type Server struct {
	Addr string

	// Greeting replaces the 261 greeting (e.g. with a 270 refusal, after
	// which the fake closes).
	Greeting *protocol.Response
	// Users maps names to passwords; by default "demo":"secret".
	Users map[string]string
	// Quota, when positive, refuses a put whose size would bring the
	// stored total over it (264).
	Quota int64
	// CloseAfterRefusal makes the fake, after refusing a put, wait briefly,
	// count the bytes that arrive anyway (Stray) and close.
	CloseAfterRefusal bool
	// LieMD5 makes get announce a wrong digest.
	LieMD5 bool
	// MD5InHeader makes get send the digest in the 257 instead of a trailer.
	MD5InHeader bool
	// GiveUpPut, when positive, makes put read that many body bytes, then
	// answer 275 (timeout) and close.
	GiveUpPut int64

	l     net.Listener
	wg    sync.WaitGroup
	mu    sync.Mutex
	files map[string][]byte // "a/b.txt", no leading slash
	dirs  map[string]bool   // "" is the home root
	log   []string          // "put a/b.txt", "mkdir -p a", ...
	stray int
}

// Start starts a fake on 127.0.0.1:0, after calling each configure
// function on it; t.Cleanup stops it.
func Start(t testing.TB, configure ...func(*Server)) *Server {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{
		Addr:  l.Addr().String(),
		Users: map[string]string{"demo": "secret"},
		l:     l,
		files: map[string][]byte{},
		dirs:  map[string]bool{"": true},
	}
	for _, f := range configure {
		f(s)
	}
	s.wg.Add(1)
	go s.accept()
	t.Cleanup(s.Close)
	return s
}

// Close stops accepting, closes nothing else, and waits for the sessions.
func (s *Server) Close() {
	s.l.Close()
	s.wg.Wait()
}

// WriteFile and Mkdir set up the tree (paths without a leading slash).
func (s *Server) WriteFile(name string, b []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.files[name] = b
}

func (s *Server) Mkdir(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for p := name; p != "." && p != ""; p = path.Dir(p) {
		s.dirs[p] = true
	}
}

// File returns a stored file.
func (s *Server) File(name string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.files[name]
	return b, ok
}

// Files returns the stored file names, sorted.
func (s *Server) Files() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var names []string
	for n := range s.files {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Dirs returns the directories, sorted, without the root.
func (s *Server) Dirs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var names []string
	for n := range s.dirs {
		if n != "" {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// Log returns the actions received so far.
func (s *Server) Log() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.log...)
}

// Stray returns how many bytes arrived after a refused put
// (CloseAfterRefusal). Call it once the session has ended (Close).
func (s *Server) Stray() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stray
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		conn, err := s.l.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer conn.Close()
			(&session{s: s, conn: conn, br: bufio.NewReader(conn)}).serve()
		}()
	}
}

type session struct {
	s    *Server
	conn net.Conn
	br   *bufio.Reader
	user string
	cwd  string // "" is the root
}

func (ss *session) reply(id string, st protocol.Status, r protocol.Response) {
	r.ID, r.Status = id, st
	if r.Msg == "" {
		r.Msg = st.String()
	}
	protocol.WriteFrame(ss.conn, r)
}

func (ss *session) serve() {
	if g := ss.s.Greeting; g != nil {
		protocol.WriteFrame(ss.conn, g)
		if g.Status.Closes() {
			return
		}
	} else {
		ss.reply("", protocol.StatusReady, protocol.Response{Version: "fake", Session: "s1"})
	}
	for {
		ss.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		req, err := protocol.ReadRequest(ss.br, protocol.MaxRequestHeader)
		if err != nil {
			return
		}
		if !ss.handle(req) {
			return
		}
	}
}

// resolve turns a request path into a tree key, "" being the root.
func (ss *session) resolve(p string) string {
	if !strings.HasPrefix(p, "/") {
		p = ss.cwd + "/" + p
	}
	return strings.TrimPrefix(path.Clean("/"+p), "/")
}

func (ss *session) record(format string, args ...string) {
	ss.s.mu.Lock()
	ss.s.log = append(ss.s.log, strings.Join(append([]string{format}, args...), " "))
	ss.s.mu.Unlock()
}

// handle answers one request; false closes the connection.
func (ss *session) handle(req *protocol.Request) bool {
	s := ss.s
	if req.Action != protocol.ActionAuth && ss.user == "" {
		ss.reply(req.ID, protocol.StatusNotLoggedIn, protocol.Response{})
		return true
	}
	switch req.Action {
	case protocol.ActionAuth:
		switch pw, ok := s.Users[req.Username]; {
		case req.Username == "" || req.Password == "":
			ss.reply(req.ID, protocol.StatusBadAuthData, protocol.Response{})
		case !ok || pw != req.Password:
			ss.reply(req.ID, protocol.StatusWrongLogin, protocol.Response{})
		default:
			ss.user = req.Username
			ss.reply(req.ID, protocol.StatusLoggedIn, protocol.Response{})
		}
	case protocol.ActionQuit:
		ss.reply(req.ID, protocol.StatusGoodbye, protocol.Response{})
		return false
	case protocol.ActionPwd:
		ss.reply(req.ID, protocol.StatusOK, protocol.Response{Path: "/" + ss.cwd})
	case protocol.ActionCd:
		p := ss.resolve(req.Path)
		s.mu.Lock()
		ok := s.dirs[p]
		s.mu.Unlock()
		if !ok {
			ss.reply(req.ID, protocol.StatusNotExist, protocol.Response{})
			break
		}
		ss.cwd = p
		ss.reply(req.ID, protocol.StatusDirChanged, protocol.Response{Path: "/" + p})
	case protocol.ActionStat:
		p := ss.resolve(req.Filename)
		e, ok := ss.entry(p)
		if !ok {
			ss.reply(req.ID, protocol.StatusNotExist, protocol.Response{})
			break
		}
		if p == "" {
			e.Name = "/"
		}
		ss.reply(req.ID, protocol.StatusOK, protocol.Response{Stat: &e})
	case protocol.ActionLs:
		ss.ls(req)
	case protocol.ActionMkdir:
		ss.mkdir(req)
	case protocol.ActionPut:
		return ss.put(req)
	case protocol.ActionGet:
		return ss.get(req)
	default:
		ss.reply(req.ID, protocol.StatusBadCommand, protocol.Response{})
	}
	return true
}

var epoch = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

func (ss *session) entry(p string) (protocol.Entry, bool) {
	s := ss.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dirs[p] {
		return protocol.Entry{Name: path.Base("/" + p), IsDir: true, MTime: epoch}, true
	}
	if b, ok := s.files[p]; ok {
		return protocol.Entry{Name: path.Base(p), Size: int64(len(b)), MTime: epoch}, true
	}
	return protocol.Entry{}, false
}

func (ss *session) ls(req *protocol.Request) {
	s := ss.s
	p := ss.resolve(req.Path)
	e, ok := ss.entry(p)
	switch {
	case !ok:
		ss.reply(req.ID, protocol.StatusNotExist, protocol.Response{})
		return
	case !e.IsDir:
		ss.reply(req.ID, protocol.StatusOK, protocol.Response{Entries: []protocol.Entry{e}})
		return
	}
	var names []string
	s.mu.Lock()
	for n := range s.files {
		if parent(n) == p {
			names = append(names, n)
		}
	}
	for n := range s.dirs {
		if n != "" && parent(n) == p {
			names = append(names, n)
		}
	}
	s.mu.Unlock()
	sort.Strings(names)
	entries := []protocol.Entry{}
	for _, n := range names {
		e, _ := ss.entry(n)
		entries = append(entries, e)
	}
	ss.reply(req.ID, protocol.StatusOK, protocol.Response{Entries: entries})
}

func (ss *session) mkdir(req *protocol.Request) {
	s := ss.s
	p := ss.resolve(req.Filename)
	s.mu.Lock()
	defer s.mu.Unlock()
	flag := ""
	if req.Parents {
		flag = "-p "
	}
	s.log = append(s.log, "mkdir "+flag+p)
	_, isFile := s.files[p]
	switch {
	case isFile:
		ss.reply(req.ID, protocol.StatusExists, protocol.Response{})
	case s.dirs[p] && !req.Parents:
		ss.reply(req.ID, protocol.StatusExists, protocol.Response{})
	case !s.dirs[parent(p)] && !req.Parents:
		ss.reply(req.ID, protocol.StatusNotExist, protocol.Response{})
	default:
		for q := p; q != "." && q != ""; q = path.Dir(q) {
			if _, f := s.files[q]; f {
				ss.reply(req.ID, protocol.StatusNotDir, protocol.Response{})
				return
			}
			s.dirs[q] = true
		}
		ss.reply(req.ID, protocol.StatusOK, protocol.Response{})
	}
}

func (ss *session) put(req *protocol.Request) bool {
	s := ss.s
	p := ss.resolve(req.Filename)
	ss.record("put", p)
	size, ok := req.Size()
	if !ok || size < 0 {
		ss.reply(req.ID, protocol.StatusBadSize, protocol.Response{})
		return true
	}
	s.mu.Lock()
	var used int64
	for n, b := range s.files {
		if n != p {
			used += int64(len(b))
		}
	}
	isDir, parent := s.dirs[p], s.dirs[parent(p)]
	s.mu.Unlock()
	var refusal protocol.Status
	switch {
	case isDir:
		refusal = protocol.StatusIsDir
	case !parent:
		refusal = protocol.StatusNotExist
	case s.Quota > 0 && used+size > s.Quota:
		refusal = protocol.StatusQuota
	}
	if refusal != 0 {
		ss.reply(req.ID, refusal, protocol.Response{})
		if s.CloseAfterRefusal {
			ss.conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
			n, _ := io.Copy(io.Discard, ss.br)
			s.mu.Lock()
			s.stray += int(n)
			s.mu.Unlock()
			return false
		}
		return true
	}
	ss.reply(req.ID, protocol.StatusReadyToSend, protocol.Response{})
	h := md5.New()
	body := make([]byte, 0, min(size, 64<<20))
	buf := &byteBuf{b: body}
	if s.GiveUpPut > 0 && s.GiveUpPut < size {
		io.CopyN(io.Discard, ss.br, s.GiveUpPut)
		ss.reply(req.ID, protocol.StatusTimeout, protocol.Response{})
		return false
	}
	if _, err := io.CopyN(io.MultiWriter(buf, h), ss.br, size); err != nil {
		return false
	}
	trailer, err := protocol.ReadRequest(ss.br, protocol.MaxRequestHeader)
	if err != nil {
		return false
	}
	if trailer.MD5 != hex.EncodeToString(h.Sum(nil)) {
		ss.reply(req.ID, protocol.StatusMD5Mismatch, protocol.Response{})
		return true
	}
	s.WriteFile(p, buf.b)
	ss.reply(req.ID, protocol.StatusMD5OK, protocol.Response{})
	return true
}

func (ss *session) get(req *protocol.Request) bool {
	s := ss.s
	p := ss.resolve(req.Filename)
	ss.record("get", p)
	s.mu.Lock()
	b, ok := s.files[p]
	isDir := s.dirs[p]
	s.mu.Unlock()
	switch {
	case isDir:
		ss.reply(req.ID, protocol.StatusIsDir, protocol.Response{})
		return true
	case !ok:
		ss.reply(req.ID, protocol.StatusNotExist, protocol.Response{})
		return true
	}
	sum := md5.Sum(b)
	digest := hex.EncodeToString(sum[:])
	if s.LieMD5 {
		digest = strings.Repeat("0", 32)
	}
	resp := protocol.Response{Size: protocol.Int64(int64(len(b)))}
	if s.MD5InHeader {
		resp.MD5 = digest
	}
	ss.reply(req.ID, protocol.StatusReadyToSend, resp)
	if _, err := ss.conn.Write(b); err != nil {
		return false
	}
	if !s.MD5InHeader {
		ss.reply(req.ID, protocol.StatusOK, protocol.Response{MD5: digest})
	}
	return true
}

type byteBuf struct{ b []byte }

func (w *byteBuf) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// parent is the tree key of p's directory.
func parent(p string) string { return strings.TrimPrefix(path.Dir("/"+p), "/") }
