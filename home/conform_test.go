package home_test

import (
	"testing"

	"ftpx/home"
	"ftpx/home/hometest"
)

// TestDirConforms runs the checks every FS passes on the local one; the
// object store runs the same (s3home).
func TestDirConforms(t *testing.T) {
	hometest.TestFS(t, func(t *testing.T) home.FS {
		fsys, err := home.Dir(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { fsys.Close() })
		return fsys
	})
}
