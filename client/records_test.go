package client_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ftpx/client"
)

func sampleRecord(dir string) *client.Record {
	return &client.Record{Version: 1, ID: "0b6e7f3c-8d1a-4e55-9c1e-2f4a5b6c7d8e", Server: "127.0.0.1:2121", User: "demo",
		Direction: "put", Local: filepath.Join(dir, "big.iso"), Remote: "/big.iso",
		Size: 100, SourceSize: 100, SourceMTime: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC), Offset: 40}
}

func TestRecordsSaveLoadRemove(t *testing.T) {
	st := &client.Records{Dir: filepath.Join(t.TempDir(), "state", "ftpx")}
	r := sampleRecord(t.TempDir())
	if got, err := st.Load(r); got != nil || err != nil {
		t.Fatalf("load before save: %v %v", got, err)
	}
	if err := st.Save(r); err != nil {
		t.Fatal(err)
	}
	got, err := st.Load(&client.Record{Server: r.Server, User: r.User, Direction: r.Direction, Local: r.Local, Remote: r.Remote})
	if err != nil || got.ID != r.ID || got.Offset != 40 || !got.SourceMTime.Equal(r.SourceMTime) {
		t.Fatalf("load: %+v %v", got, err)
	}
	// Saving again replaces the file atomically and leaves no temporary files.
	r.Offset = 90
	if err := st.Save(r); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(st.Dir)
	if len(entries) != 1 || !strings.HasSuffix(entries[0].Name(), ".json") {
		t.Fatalf("state dir holds %v", entries)
	}
	if fi, _ := os.Stat(st.Dir); fi.Mode().Perm() != 0o700 {
		t.Fatalf("state dir mode %v", fi.Mode())
	}
	if got, _ := st.Load(r); got.Offset != 90 {
		t.Fatalf("offset %d after the second save", got.Offset)
	}
	if err := st.Remove(r); err != nil {
		t.Fatal(err)
	}
	if got, err := st.Load(r); got != nil || err != nil {
		t.Fatalf("load after remove: %v %v", got, err)
	}
	if err := st.Remove(r); err != nil {
		t.Fatalf("removing a missing record: %v", err)
	}
}

func TestCorruptRecordsAreReportedNotUsed(t *testing.T) {
	dir := t.TempDir()
	st := &client.Records{Dir: filepath.Join(dir, "state")}
	good := sampleRecord(dir)
	st.Save(good)
	for name, damage := range map[string]func(r *client.Record) string{
		"truncated":      func(*client.Record) string { return `{"version":1,"id":"0b6e` },
		"offset > size":  func(r *client.Record) string { r.Offset = 101; return "" },
		"bad direction":  func(r *client.Record) string { r.Direction = "sideways"; return "" },
		"relative local": func(r *client.Record) string { r.Local = "big.iso"; return "" },
		"bad id":         func(r *client.Record) string { r.ID = "../../etc"; return "" },
		"get, bad md5": func(r *client.Record) string {
			r.Direction, r.Partial, r.MD5State = "get", r.Local+".ftpx-part-"+r.ID, []byte("junk")
			return ""
		},
	} {
		r := sampleRecord(dir)
		r.Remote = "/" + strings.ReplaceAll(name, " ", "-")
		raw := damage(r)
		key := *r
		if err := st.Save(r); err != nil {
			t.Fatal(err)
		}
		if raw != "" {
			matches, _ := filepath.Glob(filepath.Join(st.Dir, "*.json"))
			for _, m := range matches {
				if b, _ := os.ReadFile(m); strings.Contains(string(b), r.Remote) {
					os.WriteFile(m, []byte(raw), 0o600)
				}
			}
		}
		if got, err := st.Load(&key); got != nil || !errors.Is(err, client.ErrCorruptRecord) {
			t.Errorf("%s: load gave %v, %v; want ErrCorruptRecord", name, got, err)
		}
	}
	recs, bad, err := st.List()
	if err != nil || len(recs) != 1 || recs[0].ID != good.ID || len(bad) != 6 {
		t.Fatalf("list: %d good, %d bad (%v), %v", len(recs), len(bad), bad, err)
	}
	for _, b := range bad {
		if err := st.RemoveFile(b.File); err != nil {
			t.Fatal(err)
		}
	}
	if recs, bad, _ := st.List(); len(recs) != 1 || len(bad) != 0 {
		t.Fatalf("after removing the bad ones: %d good, %d bad", len(recs), len(bad))
	}
}

func TestListOfMissingStateDirIsEmpty(t *testing.T) {
	recs, bad, err := (&client.Records{Dir: filepath.Join(t.TempDir(), "none")}).List()
	if recs != nil || bad != nil || err != nil {
		t.Fatalf("%v %v %v", recs, bad, err)
	}
}

func TestDefaultStateDir(t *testing.T) {
	t.Setenv("FTPX_STATE_DIR", "/x/state")
	t.Setenv("XDG_STATE_HOME", "/xdg")
	t.Setenv("HOME", "/home/u")
	for _, tc := range []struct{ unset, want string }{
		{"", "/x/state"},
		{"FTPX_STATE_DIR", "/xdg/ftpx"},
		{"XDG_STATE_HOME", "/home/u/.local/state/ftpx"},
	} {
		if tc.unset != "" {
			t.Setenv(tc.unset, "")
		}
		if got, err := client.DefaultStateDir(); err != nil || got != tc.want {
			t.Errorf("state dir %q %v, want %q", got, err, tc.want)
		}
	}
}
