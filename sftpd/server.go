// Package sftpd serves the users' homes over SFTP (version 3, through
// github.com/pkg/sftp's request server) on SSH (golang.org/x/crypto/ssh):
// OpenSSH's sftp and scp, rclone, WinSCP and FileZilla reach the same
// accounts, homes, folders, permissions and quotas as the native protocol
// and FTP. Every login and connection count goes through server.Server
// (Core), every file operation through home/, and the listener and session
// lifecycle is internal/serve's, as for the other front ends.
//
// An SSH connection may open session channels for the "sftp" subsystem
// and for "exec md5sum PATH..." (answered from the stored MD5s); nothing
// else: no shell, no port or agent forwarding.
package sftpd

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"ftpx/internal/ids"
	"ftpx/internal/serve"
	"ftpx/server"

	"golang.org/x/crypto/ssh"
)

// Server serves SFTP sessions on the accounts, homes, limits and metrics
// of Core. Set its fields before calling Serve.
type Server struct {
	Core    *server.Server // required: everything but the SSH and SFTP themselves
	HostKey ssh.Signer     // required: the server's key (LoadHostKey)
	Logger  *slog.Logger   // nil discards

	group serve.Group
}

// ErrServerClosed is returned by Serve after Shutdown or Close: the same
// error as every front end's.
var ErrServerClosed = server.ErrServerClosed

// handshakeTimeout bounds the SSH handshake and the authentication.
const handshakeTimeout = 30 * time.Second

// Serve accepts SSH connections on l and serves each in its own
// goroutine. It always returns a non-nil error; after Shutdown it is
// ErrServerClosed.
func (s *Server) Serve(l net.Listener) error {
	if s.HostKey == nil {
		l.Close()
		return errors.New("sftpd: no host key")
	}
	s.group.Name, s.group.Logger = server.ProtocolSFTP, s.Logger
	return s.group.Serve(l, s.open)
}

// Shutdown stops accepting, ends the sessions with no file open and no
// command running, lets the others finish, and returns when every session
// has ended or ctx is done; then it closes what is left and returns ctx's
// error. An upload cut off keeps what arrived, to be resumed.
func (s *Server) Shutdown(ctx context.Context) error { return s.group.Shutdown(ctx) }

// Close closes every listener and connection at once. Uploads cut off are
// kept as after Shutdown.
func (s *Server) Close() error { return s.group.Close() }

// open admits a connection against the limits every front end shares; a
// refused one is closed before the SSH handshake.
func (s *Server) open(c net.Conn) serve.Session {
	release, err := s.Core.Admit(c.RemoteAddr(), server.ProtocolSFTP)
	if err != nil {
		c.Close()
		return nil
	}
	id := ids.New()
	remote := c.RemoteAddr().String()
	ip, _, err := net.SplitHostPort(remote)
	if err != nil {
		ip = remote
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &session{
		ctx:     ctx,
		cancel:  cancel,
		srv:     s,
		tcp:     &countConn{Conn: c},
		release: release,
		ip:      ip,
		start:   time.Now(),
		log:     s.logger().With("protocol", server.ProtocolSFTP, "session", id, "remote", remote),
		rest:    make(chan (<-chan *ssh.Request), 1),
	}
}

func (s *Server) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

// session is one SSH connection.
type session struct {
	ctx     context.Context // done when the session is closed: its home's object-store calls end
	cancel  context.CancelFunc
	srv     *Server
	tcp     *countConn
	release func() // ends its count against the connection limits
	ip      string
	start   time.Time
	log     *slog.Logger

	mu        sync.Mutex
	login     *server.Login // once authenticated
	busy      int           // files open and commands running: Shutdown waits for them
	conn      *ssh.ServerConn
	closing   bool // Shutdown began: end when no longer busy
	idleTimer *time.Timer
	rest      chan (<-chan *ssh.Request) // refuseRest to Serve's loop
}

// refuseRest refuses a channel's requests once its subsystem or command
// runs (a pty, an env, a window change), in the session's loop: one
// goroutine fewer a session.
func (c *session) refuseRest(reqs <-chan *ssh.Request) {
	select {
	case c.rest <- reqs:
	default: // another channel's wait their turn: a goroutine of their own
		go ssh.DiscardRequests(reqs)
	}
}

// Serve runs the SSH handshake, then serves the session channels until
// the client or the server ends the connection.
func (c *session) Serve(done func()) {
	defer done()
	defer c.release()
	defer c.cancel()
	idle, _ := c.srv.Core.Timeouts()
	c.tcp.SetDeadline(time.Now().Add(handshakeTimeout))
	conn, chans, reqs, err := ssh.NewServerConn(c.tcp, c.config())
	if err != nil {
		c.tcp.Close()
		c.log.Info("connection closed", "reason", "handshake: "+err.Error(), "seconds", secondsSince(c.start))
		c.endLogin()
		return
	}
	if key, ok := conn.Permissions.Extensions[keyExtension]; ok {
		if err := c.logInKey(conn.User(), []byte(key)); err != nil {
			conn.Close()
			c.log.Info("connection closed", "reason", "login: "+err.Error(), "seconds", secondsSince(c.start))
			return
		}
	}
	c.tcp.SetDeadline(time.Time{})
	c.mu.Lock()
	c.conn = conn
	closing := c.closing
	c.mu.Unlock()
	if closing {
		conn.Close()
	}
	c.watchIdle(idle)
	var wg sync.WaitGroup
	var creqs <-chan *ssh.Request // a channel's requests once its subsystem runs
	for {
		var nc ssh.NewChannel
		select {
		case nc = <-chans:
		case req, ok := <-reqs: // global requests: tcpip-forward and the like are refused
			if !ok {
				reqs = nil
			} else if req.WantReply {
				req.Reply(false, nil)
			}
			continue
		case r := <-c.rest:
			if creqs != nil {
				go ssh.DiscardRequests(r)
			} else {
				creqs = r
			}
			continue
		case req, ok := <-creqs:
			if !ok {
				creqs = nil
			} else if req.WantReply {
				req.Reply(false, nil)
			}
			continue
		}
		if nc == nil { // the connection ended
			break
		}
		if nc.ChannelType() != "session" {
			nc.Reject(ssh.Prohibited, "only session channels (sftp, md5sum) are served")
			c.log.Warn("channel refused", "type", nc.ChannelType())
			continue
		}
		ch, creqs, err := nc.Accept()
		if err != nil {
			continue
		}
		wg.Add(1)
		go c.channel(ch, creqs, wg.Done)
	}
	conn.Close()
	wg.Wait()
	c.endLogin()
	c.log.Info("connection closed", "seconds", secondsSince(c.start))
}

// watchIdle closes the connection after idle with nothing busy and
// nothing read: an SSH client that keeps the connection open but does
// nothing is let go, as the other front ends do. It is a timer, not a
// goroutine: an idle session costs as little as it can.
func (c *session) watchIdle(idle time.Duration) {
	every := min(idle/4+time.Millisecond, 15*time.Second)
	last := c.tcp.read.Load()
	quiet := time.Now()
	var t *time.Timer
	t = time.AfterFunc(every, func() {
		c.mu.Lock()
		conn, busy := c.conn, c.busy
		c.mu.Unlock()
		if conn == nil {
			return
		}
		if n := c.tcp.read.Load(); n != last || busy > 0 {
			last, quiet = n, time.Now()
		} else if time.Since(quiet) >= idle {
			c.log.Info("idle timeout", "seconds", idle.Seconds())
			conn.Close()
			return
		}
		t.Reset(every)
	})
	c.mu.Lock()
	c.idleTimer = t
	c.mu.Unlock()
}

// InterruptIfIdle ends the session now if no file is open and no command
// is running; else it ends when the last one ends.
func (c *session) InterruptIfIdle() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closing = true
	if c.busy == 0 && c.conn != nil {
		c.conn.Close()
	}
}

// Close ends the session at once, and what it waits for from an object
// store.
func (c *session) Close() {
	c.cancel()
	c.tcp.Close()
}

// Refuse closes a connection accepted while Shutdown began.
func (c *session) Refuse() {
	c.cancel()
	c.tcp.Close()
	c.release()
}

// enter counts a file opened or a command started; leave undoes it, and
// ends the session if Shutdown is waiting for it.
func (c *session) enter() {
	c.mu.Lock()
	c.busy++
	c.mu.Unlock()
}

func (c *session) leave() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.busy--
	c.endWhenIdleLocked()
}

// endWhenIdleLocked ends a closing session that nothing keeps busy; c.mu
// is held. Not at once: it runs before the answer to the request that
// ended (the status of a close, or of a refusal) is written.
func (c *session) endWhenIdleLocked() {
	if c.busy == 0 && c.closing && c.conn != nil {
		time.AfterFunc(closeDelay, func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			if c.busy == 0 && c.conn != nil {
				c.conn.Close()
			}
		})
	}
}

// closeDelay is how long a session Shutdown waited for lives on after its
// last file closed, for the answer to go out.
const closeDelay = 500 * time.Millisecond

// endLogin closes the login (the home, the session count), once.
func (c *session) endLogin() {
	c.mu.Lock()
	l := c.login
	c.login = nil
	c.conn = nil
	if c.idleTimer != nil {
		c.idleTimer.Stop()
	}
	c.mu.Unlock()
	if l != nil {
		l.Close()
	}
}

// countConn counts the bytes read, for the idle timeout.
type countConn struct {
	net.Conn
	read atomic.Int64
}

func (c *countConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.read.Add(int64(n))
	return n, err
}

func secondsSince(t time.Time) float64 {
	return float64(time.Since(t).Microseconds()) / 1e6
}
