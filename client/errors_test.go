package client_test

import (
	"errors"
	"fmt"
	"testing"

	"ftpx/client"
	"ftpx/protocol"
)

func TestExitCode(t *testing.T) {
	st := func(s protocol.Status) error { return &client.StatusError{Op: "put", Path: "x", Status: s} }
	for _, tc := range []struct {
		err  error
		want int
	}{
		{nil, 0},
		{errors.New("local"), 1},
		{st(protocol.StatusNotExist), 1},
		{st(protocol.StatusNotLoggedIn), 1},
		{client.Usagef("bad"), 2},
		{fmt.Errorf("wrapped: %w", client.Usagef("bad")), 2},
		{st(protocol.StatusTooManyConns), 3},
		{st(protocol.StatusTimeout), 3},
		{st(protocol.StatusShuttingDown), 3},
		{fmt.Errorf("x: %w", client.ErrConnection), 3},
		{st(protocol.StatusBadAuthData), 4},
		{st(protocol.StatusWrongLogin), 4},
		{st(protocol.StatusBanned), 4},
		{st(protocol.StatusTooManySessions), 3},
		{st(protocol.StatusCrossFolder), 1},
		{st(protocol.StatusQuota), 5},
		{st(protocol.StatusMD5Mismatch), 6},
		{errors.Join(st(protocol.StatusQuota), st(protocol.StatusMD5Mismatch)), 5},
		{errors.Join(st(protocol.StatusNotExist), st(protocol.StatusQuota)), 1},
	} {
		if got := client.ExitCode(tc.err); got != tc.want {
			t.Errorf("ExitCode(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}

func TestStatusErrorText(t *testing.T) {
	err := &client.StatusError{Op: "put", Path: "big.iso", Status: protocol.StatusQuota, Msg: "quota exceeded (used 1.0GB of 1.0GB)"}
	if got, want := err.Error(), "put big.iso: 264 quota exceeded (used 1.0GB of 1.0GB)"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	err = &client.StatusError{Op: "pwd", Status: protocol.StatusNotLoggedIn}
	if got, want := err.Error(), "pwd: 262 not authenticated"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	err = &client.StatusError{Op: "get", Path: "a", Status: protocol.StatusServerError, Msg: "oops\x1b[2J\r"}
	if got, want := err.Error(), `get a: 272 "oops\x1b[2J\r"`; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestPrintable(t *testing.T) {
	for in, want := range map[string]string{
		"plain name.txt": "plain name.txt",
		"héllo":          "héllo",
		"a\nb":           `"a\nb"`,
		"\x1b[31mred":    `"\x1b[31mred"`,
		"evil\u202etxt":  `"evil\u202etxt"`,
		"bad\xffutf8":    `"bad\xffutf8"`,
		"trailing ":      `"trailing "`,
		" leading":       `" leading"`,
	} {
		if got := client.Printable(in); got != want {
			t.Errorf("Printable(%q) = %s, want %s", in, got, want)
		}
	}
}
