// Command sftpidle holds idle SFTP sessions open, for bench/sftp.sh to
// read the server's memory while they are: it logs N SSH connections in
// with a private key (a few at a time), starts the sftp subsystem on each
// (pkg/sftp's client: the channel, the subsystem request and the version
// exchange) and asks for the working directory (a REALPATH of ".", as
// OpenSSH's sftp does before its prompt), prints one line with how long that took and "ready", then
// holds them until SIGINT or SIGTERM, and closes them. With -close it
// closes them at once and exits (the warm-up before the first reading).
//
//	sftpidle -addr 127.0.0.1:2222 -user bench -key id -n 1000
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"ftpx/bench/internal/fanout"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:2222", "server address")
	user := flag.String("user", "bench", "user name")
	keyFile := flag.String("key", "", "private key file (OpenSSH format, no passphrase)")
	n := flag.Int("n", 1000, "sessions to hold")
	workers := flag.Int("workers", 4, "sessions opened at once")
	closeNow := flag.Bool("close", false, "close the sessions once open and exit")
	timeout := flag.Duration("timeout", 5*time.Minute, "give up opening them after this long")
	flag.Parse()
	if *keyFile == "" || *n < 1 || *workers < 1 {
		fmt.Fprintln(os.Stderr, "usage: sftpidle -key FILE [-addr ADDR] [-user NAME] [-n N] [-workers W] [-close]")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *addr, *user, *keyFile, *n, *workers, *closeNow, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "sftpidle:", err)
		os.Exit(1)
	}
}

// session is one SSH connection with its sftp subsystem.
type session struct {
	conn *ssh.Client
	sftp *sftp.Client
}

func (s *session) close() {
	s.sftp.Close()
	s.conn.Close()
}

func run(ctx context.Context, addr, user, keyFile string, n, workers int, closeNow bool, timeout time.Duration) error {
	b, err := os.ReadFile(keyFile)
	if err != nil {
		return err
	}
	signer, err := ssh.ParsePrivateKey(b)
	if err != nil {
		return fmt.Errorf("%s: %w", keyFile, err)
	}
	cfg := &ssh.ClientConfig{
		User:            user,
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), // a bench's own server on loopback
		Timeout:         30 * time.Second,
	}
	open := func() (*session, error) {
		conn, err := ssh.Dial("tcp", addr, cfg)
		if err != nil {
			return nil, err
		}
		c, err := sftp.NewClient(conn)
		if err != nil {
			conn.Close()
			return nil, fmt.Errorf("sftp subsystem: %w", err)
		}
		if _, err := c.Getwd(); err != nil {
			c.Close()
			conn.Close()
			return nil, fmt.Errorf("realpath .: %w", err)
		}
		return &session{conn: conn, sftp: c}, nil
	}

	octx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	sessions := make([]*session, n)
	defer func() {
		for _, s := range sessions {
			if s != nil {
				s.close()
			}
		}
	}()
	start := time.Now()
	failed := fanout.Each(octx, 0, n, workers, "session", func(i int) error {
		s, err := open()
		sessions[i] = s
		return err
	})
	if failed != nil {
		return failed
	}
	d := time.Since(start)
	fmt.Printf("sessions=%d seconds=%.2f logins_per_s=%.1f\n", n, d.Seconds(), float64(n)/d.Seconds())
	if closeNow {
		return nil
	}
	fmt.Println("ready")
	// Hold them; a session the server ends meanwhile is an error.
	lost := make(chan error, 1)
	for i, s := range sessions {
		go func() {
			err := s.conn.Wait()
			if ctx.Err() == nil {
				select {
				case lost <- fmt.Errorf("the server ended idle session %d: %v", i+1, err):
				default:
				}
			}
		}()
	}
	select {
	case <-ctx.Done():
		return nil
	case err := <-lost:
		return err
	}
}
