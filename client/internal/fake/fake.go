// Package fake is a small in-memory ftpx server for the client's tests: it
// speaks the frames of PROTOCOL.md on real loopback TCP, resumable puts
// and gets included, and can be told to misbehave (lie about a digest,
// refuse the greeting, refuse a put and watch for stray body bytes, cut
// connections mid-body, answer "transfer busy"). It is not the real server
// and must not be used outside tests.
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
	// CutEvery, when positive, closes the connection after that many body
	// bytes of a put or get on it (the bytes a put sent until then are
	// kept under its transfer id, as the real server does).
	CutEvery int64
	// Busy makes the first Busy requests naming a transfer (breakpoint,
	// put) answer 280.
	Busy int
	// NoResume makes the fake answer breakpoint 251 and ignore transfer
	// ids, as a server without resume would.
	NoResume bool

	l        net.Listener
	wg       sync.WaitGroup
	mu       sync.Mutex
	files    map[string][]byte // "a/b.txt", no leading slash
	mtimes   map[string]time.Time
	dirs     map[string]bool // "" is the home root
	partials map[string]*partial
	log      []string // "put a/b.txt", "mkdir -p a", ...
	stray    int
	conns    int
	bodies   int64 // body bytes moved, both ways
	clock    time.Time
}

// partial is what the fake holds of an interrupted put.
type partial struct {
	user, name string
	size       int64
	data       []byte
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
		Addr:     l.Addr().String(),
		Users:    map[string]string{"demo": "secret"},
		l:        l,
		files:    map[string][]byte{},
		mtimes:   map[string]time.Time{},
		dirs:     map[string]bool{"": true},
		partials: map[string]*partial{},
		clock:    epoch,
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
// Every write gives the file a later mtime.
func (s *Server) WriteFile(name string, b []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writeFile(name, b)
}

func (s *Server) writeFile(name string, b []byte) {
	s.clock = s.clock.Add(time.Second)
	s.files[name], s.mtimes[name] = b, s.clock
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

// Partial returns how many bytes the fake holds of an interrupted put.
func (s *Server) Partial(transfer string) (int64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.partials[transfer]
	if !ok {
		return 0, false
	}
	return int64(len(p.data)), true
}

// SetCutEvery changes CutEvery while the fake runs.
func (s *Server) SetCutEvery(n int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.CutEvery = n
}

// StopAccepting closes the listener, leaving the sessions running: a
// client that loses its connection then cannot reconnect.
func (s *Server) StopAccepting() { s.l.Close() }

// Conns returns how many connections the fake accepted.
func (s *Server) Conns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns
}

// BodyBytes returns the body bytes moved so far, both ways.
func (s *Server) BodyBytes() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bodies
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
		s.mu.Lock()
		s.conns++
		s.mu.Unlock()
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
	case protocol.ActionBreakpoint:
		ss.breakpoint(req)
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
		return protocol.Entry{Name: path.Base(p), Size: int64(len(b)), MTime: s.mtimes[p]}, true
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
	if req.NoWait {
		return ss.putNoWait(req, p, size)
	}
	transfer := req.Transfer
	if s.NoResume {
		transfer = ""
	}
	if transfer != "" && ss.busy() {
		ss.reply(req.ID, protocol.StatusTransferBusy, protocol.Response{})
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
	part := s.partials[transfer]
	s.mu.Unlock()
	var refusal protocol.Status
	switch {
	case isDir:
		refusal = protocol.StatusIsDir
	case !parent:
		refusal = protocol.StatusNotExist
	case s.Quota > 0 && used+size > s.Quota:
		refusal = protocol.StatusQuota
	case part != nil && part.user != ss.user:
		refusal = protocol.StatusForeignTransfer
	case req.Offset < 0 || req.Offset > size:
		refusal = protocol.StatusBadOffset
	case req.Offset > 0 && (part == nil || part.name != p || part.size != size || int64(len(part.data)) != req.Offset):
		refusal = protocol.StatusBadOffset
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
	if req.Offset == 0 || part == nil {
		part = &partial{user: ss.user, name: p, size: size}
	}
	ss.reply(req.ID, protocol.StatusReadyToSend, protocol.Response{Offset: req.Offset})
	if s.GiveUpPut > 0 && s.GiveUpPut < size {
		io.CopyN(io.Discard, ss.br, s.GiveUpPut)
		ss.reply(req.ID, protocol.StatusTimeout, protocol.Response{})
		return false
	}
	buf := &byteBuf{b: part.data}
	want, cut := size-req.Offset, false
	if every := s.cutEvery(); every > 0 && every < want {
		want, cut = every, true
	}
	n, err := io.CopyN(buf, ss.br, want)
	part.data = buf.b
	s.mu.Lock()
	s.bodies += n
	if transfer != "" {
		s.partials[transfer] = part
	}
	s.mu.Unlock()
	if err != nil || cut {
		return false
	}
	trailer, err := protocol.ReadRequest(ss.br, protocol.MaxRequestHeader)
	if err != nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.partials, transfer)
	if trailer.MD5 != md5hex(part.data) {
		ss.reply(req.ID, protocol.StatusMD5Mismatch, protocol.Response{})
		return true
	}
	s.writeFile(p, part.data)
	ss.reply(req.ID, protocol.StatusMD5OK, protocol.Response{})
	return true
}

func (s *Server) cutEvery() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.CutEvery
}

// busy counts down Busy and reports whether this request is refused 280.
func (ss *session) busy() bool {
	s := ss.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Busy > 0 {
		s.Busy--
		return true
	}
	return false
}

func (ss *session) breakpoint(req *protocol.Request) {
	s := ss.s
	if s.NoResume {
		ss.reply(req.ID, protocol.StatusBadCommand, protocol.Response{})
		return
	}
	if ss.busy() {
		ss.reply(req.ID, protocol.StatusTransferBusy, protocol.Response{})
		return
	}
	p := ss.resolve(req.Filename)
	ss.record("breakpoint", p)
	s.mu.Lock()
	part := s.partials[req.Transfer]
	s.mu.Unlock()
	switch {
	case part == nil || part.name != p:
		ss.reply(req.ID, protocol.StatusOK, protocol.Response{})
	case part.user != ss.user:
		ss.reply(req.ID, protocol.StatusForeignTransfer, protocol.Response{})
	default:
		ss.reply(req.ID, protocol.StatusOK, protocol.Response{Offset: int64(len(part.data)),
			Size: protocol.Int64(part.size), MD5: md5hex(part.data)})
	}
}

func (ss *session) get(req *protocol.Request) bool {
	s := ss.s
	p := ss.resolve(req.Filename)
	ss.record("get", p)
	s.mu.Lock()
	b, ok := s.files[p]
	mtime := s.mtimes[p]
	isDir := s.dirs[p]
	s.mu.Unlock()
	switch {
	case isDir:
		ss.reply(req.ID, protocol.StatusIsDir, protocol.Response{})
		return true
	case !ok:
		ss.reply(req.ID, protocol.StatusNotExist, protocol.Response{})
		return true
	case req.Offset < 0 || req.Offset > int64(len(b)):
		ss.reply(req.ID, protocol.StatusBadOffset, protocol.Response{})
		return true
	case req.Offset > 0 && req.MD5 != md5hex(b[:req.Offset]):
		ss.reply(req.ID, protocol.StatusPrefixMismatch, protocol.Response{})
		return true
	}
	digest := md5hex(b)
	if s.LieMD5 {
		digest = strings.Repeat("0", 32)
	}
	resp := protocol.Response{Size: protocol.Int64(int64(len(b))), Offset: req.Offset, MTime: &mtime}
	if s.MD5InHeader {
		resp.MD5 = digest
	}
	ss.reply(req.ID, protocol.StatusReadyToSend, resp)
	body := b[req.Offset:]
	every := s.cutEvery()
	cut := every > 0 && every < int64(len(body))
	if cut {
		body = body[:every]
	}
	n, err := ss.conn.Write(body)
	s.mu.Lock()
	s.bodies += int64(n)
	s.mu.Unlock()
	if err != nil || cut {
		return false
	}
	if !s.MD5InHeader {
		ss.reply(req.ID, protocol.StatusOK, protocol.Response{MD5: digest})
	}
	return true
}

func md5hex(b []byte) string {
	sum := md5.Sum(b)
	return hex.EncodeToString(sum[:])
}

type byteBuf struct{ b []byte }

func (w *byteBuf) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// parent is the tree key of p's directory.
func parent(p string) string { return strings.TrimPrefix(path.Dir("/"+p), "/") }

// putNoWait handles a pipelined put: the body comes at once, whatever the
// answer; no 257.
func (ss *session) putNoWait(req *protocol.Request, p string, size int64) bool {
	s := ss.s
	if size > protocol.MaxNoWaitSize {
		ss.reply(req.ID, protocol.StatusBadSize, protocol.Response{})
		return false
	}
	body := make([]byte, size)
	if _, err := io.ReadFull(ss.br, body); err != nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bodies += size
	var used int64
	for n, b := range s.files {
		if n != p {
			used += int64(len(b))
		}
	}
	switch {
	case s.dirs[p]:
		ss.reply(req.ID, protocol.StatusIsDir, protocol.Response{})
	case !s.dirs[parent(p)]:
		ss.reply(req.ID, protocol.StatusNotExist, protocol.Response{})
	case s.Quota > 0 && used+size > s.Quota:
		ss.reply(req.ID, protocol.StatusQuota, protocol.Response{})
	case req.MD5 != md5hex(body):
		ss.reply(req.ID, protocol.StatusMD5Mismatch, protocol.Response{})
	default:
		s.writeFile(p, body)
		ss.reply(req.ID, protocol.StatusMD5OK, protocol.Response{MD5: req.MD5})
	}
	return true
}
