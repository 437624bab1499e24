package main

import (
	"testing"

	"ftpx/internal/s3url"
)

func TestHomeHolding(t *testing.T) {
	for _, tc := range []struct{ root, accounts, want string }{
		{"s3://ftpx/homes", "s3://ftpx/homes/alex/accounts.ini", "alex"},
		{"s3://ftpx", "s3://ftpx/etc/accounts.ini", "etc"}, // a user called etc would own it
		{"s3://ftpx/homes", "s3://ftpx/homes/accounts.ini", ""},
		{"s3://ftpx/homes", "s3://ftpx/etc/accounts.ini", ""},
		{"s3://ftpx/homes", "s3://other/homes/alex/accounts.ini", ""},
		{"s3://ftpx/homes", "s3://ftpx/homes-old/alex/accounts.ini", ""},
		{"var/data", "s3://ftpx/alex/accounts.ini", ""},
	} {
		u, err := s3url.Parse(tc.accounts)
		if err != nil {
			t.Fatal(err)
		}
		if got := homeHolding(tc.root, u); got != tc.want {
			t.Errorf("homeHolding(%s, %s) = %q, want %q", tc.root, tc.accounts, got, tc.want)
		}
	}
}
