package sftpd

import (
	"context"
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"ftpx/home"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// channel serves one session channel: the sftp subsystem, or an exec of
// md5sum. Every other request (shell, pty, env, forwarding of the agent
// or X11, exec of anything else) is refused.
// done is called once the channel is closed and its work over (which an
// SFTP session idle for a while may hand to another goroutine).
func (c *session) channel(ch ssh.Channel, reqs <-chan *ssh.Request, done func()) {
	finish := func() {
		ch.Close()
		done()
	}
	defer func() {
		if finish != nil {
			finish()
		}
	}()
	for req := range reqs {
		switch req.Type {
		case "subsystem":
			if subsystem(req.Payload) != "sftp" {
				req.Reply(false, nil)
				continue
			}
			req.Reply(true, nil)
			c.refuseRest(reqs)
			if c.serveSFTP(ch, finish) {
				finish = nil // the goroutine serving it now finishes it
			}
			return
		case "exec":
			c.enter() // before the reply: a Shutdown lets the command end and its status go out
			req.Reply(true, nil)
			c.refuseRest(reqs)
			exitStatus(ch, c.exec(ch, subsystem(req.Payload)))
			c.leave()
			return
		default:
			c.log.Info("ssh request refused", "type", req.Type)
			req.Reply(false, nil)
		}
	}
}

// exitStatus tells the client how the command or subsystem ended.
func exitStatus(ch ssh.Channel, status uint32) {
	ch.SendRequest("exit-status", false, binary.BigEndian.AppendUint32(nil, status))
}

// subsystem reads the one string of a subsystem or exec request.
func subsystem(payload []byte) string {
	if len(payload) < 4 {
		return ""
	}
	n := binary.BigEndian.Uint32(payload)
	if uint64(n) > uint64(len(payload)-4) {
		return ""
	}
	return string(payload[4 : 4+n])
}

// serveSFTP runs the SFTP request server on ch over the session's home.
// It reports true when it handed the channel to another goroutine (the
// session went idle), which calls finish when the channel is done.
func (c *session) serveSFTP(ch ssh.Channel, finish func()) (handedOff bool) {
	c.mu.Lock()
	login := c.login
	c.mu.Unlock()
	if login == nil {
		return false
	}
	h := &handlers{c: c, home: login.Home, user: login.User, anonymous: login.Anonymous}
	fsys := guarded{h}
	sc := &sftpChannel{c: c, ch: ch, finish: finish,
		st:       newStream(ch, func(string) error { return h.syncUploads() }),
		handlers: sftp.Handlers{FileGet: fsys, FilePut: fsys, FileCmd: fsys, FileList: fsys}}
	sc.st.parkAfter = parkAfter
	sc.unhook = context.AfterFunc(c.ctx, sc.st.end)
	c.log.Info("sftp started")
	// No request server runs until a request needs one: a session that
	// only said hello holds none.
	return sc.serve(sc.st.wait())
}

// sftpChannel is an SFTP session's channel, served by one goroutine at a
// time.
type sftpChannel struct {
	c        *session
	ch       ssh.Channel
	st       *stream
	handlers sftp.Handlers
	finish   func()
	unhook   func() bool
}

// serve runs request servers until the client is done (err, from the
// stream, is what ended the last wait). When one stops for idleness, the
// goroutine reading the next request goes on with serve, and this one
// returns true: an idle session keeps no goroutine with a request
// server's deep stack.
func (sc *sftpChannel) serve(err error) (handedOff bool) {
	st := sc.st
	for err == nil {
		// A request server that serves files reuses its packet buffers
		// (pkg/sftp's allocator: 256 KiB each, as many as requests in
		// flight, 64 for OpenSSH's sftp) instead of allocating one per
		// packet: with it a 1 GiB put cost the server 5.1 s of CPU instead
		// of 8.4, and a get 2.1 instead of 3.9 (aes128-gcm), the
		// difference mostly garbage collection and page faults. One that
		// starts for a listing or a stat does without (its buffers would
		// outlive it as garbage, 256 KiB a session), and gives way to one
		// with them when a file is opened.
		opts := []sftp.RequestServerOption{sftp.WithStartDirectory("/")}
		if st.alloc = st.opening(); st.alloc {
			opts = append(opts, sftp.WithRSAllocator())
		}
		rs := sftp.NewRequestServer(st, sc.handlers, opts...)
		switch err = rs.Serve(); {
		case errors.Is(err, errParked):
			// Idle with nothing open: the request server has stopped;
			// the next request starts another.
			if st.handOff(sc.resume) {
				return true
			}
			err = st.wait()
		case errors.Is(err, errSwitch):
			err = st.wait() // the open read already
		case err == nil:
			err = io.EOF
		}
	}
	sc.unhook()
	exitStatus(sc.ch, 0) // as sshd does when sftp-server ends: scp and ssh exit 0
	st.Close()
	if err != nil && !errors.Is(err, io.EOF) {
		sc.c.log.Info("sftp ended", "err", err.Error())
	}
	return false
}

// resume runs on the goroutine that read the request after a pause.
func (sc *sftpChannel) resume() {
	if !sc.serve(sc.st.wait()) {
		sc.finish()
	}
}

// parkAfter is how long a session's request server waits for a request
// with nothing open before it stops, to be made again for the next one:
// an idle session then holds one goroutine instead of a dozen.
var parkAfter = time.Second

// maxExecLine bounds an exec request's command line.
const maxExecLine = 64 << 10

// exec runs the one command served, md5sum PATH..., from the stored MD5s
// of the home, in md5sum's own format; with no path it hashes what the
// client sends on standard input (rclone checks that the command works
// so). It returns the exit status.
func (c *session) exec(ch ssh.Channel, line string) uint32 {
	if err := c.removed(); err != nil {
		fmt.Fprintf(ch.Stderr(), "ftpx: %v\n", err)
		return 1
	}
	c.mu.Lock()
	login := c.login
	c.mu.Unlock()
	args, err := splitWords(line)
	if len(line) > maxExecLine || err != nil || len(args) == 0 || args[0] != "md5sum" || login == nil {
		c.log.Warn("exec refused", "command", truncate(line, 200))
		fmt.Fprintf(ch.Stderr(), "ftpx: only md5sum PATH... can be run here\n")
		return 1
	}
	c.log.Info("exec", "command", truncate(line, 200))
	if len(args) == 1 {
		h := md5.New()
		if _, err := io.Copy(h, io.LimitReader(ch, 1<<30)); err != nil {
			return 1
		}
		fmt.Fprintf(ch, "%s  -\n", hex.EncodeToString(h.Sum(nil)))
		return 0
	}
	var status uint32
	for _, p := range args[1:] {
		sum, err := checksum(login.Home, p)
		if err != nil {
			fmt.Fprintf(ch.Stderr(), "md5sum: %s: %s\n", p, describe(err))
			status = 1
			continue
		}
		fmt.Fprintf(ch, "%s  %s\n", sum, p)
	}
	return status
}

// checksum is the MD5 of the file p names (from the home's root), as
// Home.Checksum gives it: read permission, and a directory refused.
func checksum(h *home.Home, p string) (string, error) {
	name, err := home.Resolve("/", p)
	if err != nil {
		return "", err
	}
	fi, err := h.FS.Stat(name)
	if err != nil {
		return "", err
	}
	if fi.IsDir() {
		return "", home.ErrIsDir
	}
	return h.Checksum(name)
}

// describe says an error of the home the way md5sum would.
func describe(err error) string {
	switch {
	case errors.Is(err, home.ErrNotExist):
		return "No such file or directory"
	case errors.Is(err, home.ErrIsDir):
		return "Is a directory"
	case errors.Is(err, home.ErrPermission), errors.Is(err, home.ErrOutside), errors.Is(err, home.ErrBadPath):
		return "Permission denied"
	}
	return err.Error()
}

// splitWords splits a command line as a POSIX shell would split plain
// words: blanks separate, single quotes keep everything, double quotes
// keep all but \ before " \ $ `, and a backslash outside quotes keeps
// the next character. Anything a shell would expand ($, `, globs) is not:
// it is taken as it is.
func splitWords(line string) ([]string, error) {
	var words []string
	var w strings.Builder
	in := false // inside a word
	for i := 0; i < len(line); i++ {
		switch ch := line[i]; {
		case ch == ' ' || ch == '\t' || ch == '\n':
			if in {
				words = append(words, w.String())
				w.Reset()
				in = false
			}
		case ch == '\'':
			j := strings.IndexByte(line[i+1:], '\'')
			if j < 0 {
				return nil, errors.New("unterminated '")
			}
			w.WriteString(line[i+1 : i+1+j])
			i += j + 1
			in = true
		case ch == '"':
			i++
			for ; i < len(line) && line[i] != '"'; i++ {
				if line[i] == '\\' && i+1 < len(line) && strings.IndexByte("\"\\$`", line[i+1]) >= 0 {
					i++
				}
				w.WriteByte(line[i])
			}
			if i >= len(line) {
				return nil, errors.New("unterminated \"")
			}
			in = true
		case ch == '\\':
			if i+1 < len(line) {
				i++
				if line[i] != '\n' { // a backslash-newline joins lines
					w.WriteByte(line[i])
				}
			}
			in = true
		default:
			w.WriteByte(ch)
			in = true
		}
	}
	if in {
		words = append(words, w.String())
	}
	return words, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
