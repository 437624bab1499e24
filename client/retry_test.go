package client_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"ftpx/client"
	"ftpx/protocol"
)

func TestBackoffDoublesUpToCap(t *testing.T) {
	p := client.RetryPolicy{Retries: 10, Delay: time.Second}
	want := []time.Duration{1, 2, 4, 8, 16, 30, 30, 30}
	for i, w := range want {
		if got := p.Backoff(i + 1); got != w*time.Second {
			t.Errorf("Backoff(%d) = %v, want %v", i+1, got, w*time.Second)
		}
	}
	p = client.RetryPolicy{Delay: 10 * time.Millisecond, MaxDelay: 50 * time.Millisecond}
	for i, w := range []time.Duration{10, 20, 40, 50, 50} {
		if got := p.Backoff(i + 1); got != w*time.Millisecond {
			t.Errorf("Backoff(%d) = %v, want %v", i+1, got, w*time.Millisecond)
		}
	}
	if got := (client.RetryPolicy{}).Backoff(3); got != 0 {
		t.Errorf("zero policy backs off %v", got)
	}
}

func TestWhichErrorsAreRetried(t *testing.T) {
	st := func(s protocol.Status) error { return &client.StatusError{Op: "put", Path: "x", Status: s} }
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{fmt.Errorf("put x: %w: EOF", client.ErrConnection), true},
		{st(protocol.StatusTooManyConns), true},
		{st(protocol.StatusTimeout), true},
		{st(protocol.StatusShuttingDown), true},
		{st(protocol.StatusTransferBusy), true},
		{st(protocol.StatusBadAuthData), false},
		{st(protocol.StatusWrongLogin), false},
		{st(protocol.StatusQuota), false},
		{st(protocol.StatusPermission), false},
		{st(protocol.StatusNotExist), false},
		{st(protocol.StatusMD5Mismatch), false},
		{st(protocol.StatusBadPath), false},
		{st(protocol.StatusForeignTransfer), false},
		{fmt.Errorf("x: %w", client.ErrProtocol), false},
		{context.Canceled, false},
		{errors.New("local disk full"), false},
	} {
		if got := client.Retryable(tc.err); got != tc.want {
			t.Errorf("Retryable(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
	if client.ExitCode(&client.StatusError{Status: protocol.StatusTransferBusy}) != client.ExitConnection {
		t.Error("280 after the retries is not exit 3")
	}
}
