package accounts

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// memSource is an accounts file held in memory whose version changes
// with every write: a Source of our own, to drive the edit's retries.
// Before checking a write's condition it calls meanwhile, which plays
// another editor that wrote first.
type memSource struct {
	mu        sync.Mutex
	data      []byte
	version   int // 0: no file yet
	writes    int // attempted
	meanwhile func(m *memSource)
}

func newMem(content string) *memSource { return &memSource{data: []byte(content), version: 1} }

func (m *memSource) Name() string { return "mem://accounts" }

func (m *memSource) Read(_ context.Context, known string) ([]byte, string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v := strconv.Itoa(m.version)
	switch {
	case m.version == 0:
		return nil, "", fs.ErrNotExist
	case known == v:
		return nil, v, ErrUnchanged
	}
	return append([]byte(nil), m.data...), v, nil
}

func (m *memSource) Write(_ context.Context, data []byte, version string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.writes++
	if m.meanwhile != nil {
		m.meanwhile(m)
	}
	want := ""
	if m.version > 0 {
		want = strconv.Itoa(m.version)
	}
	if version != want {
		return fmt.Errorf("write: %w", ErrConflict)
	}
	m.data, m.version = append([]byte(nil), data...), m.version+1
	return nil
}

func (m *memSource) set(content string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.data, m.version = []byte(content), m.version+1
}

func (m *memSource) content() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return string(m.data)
}

func TestEditRedoneOnConflictKeepsBothEdits(t *testing.T) {
	m := newMem("[alex]\npassword = x\n")
	others := 0
	m.meanwhile = func(m *memSource) {
		if others < 3 { // another editor adds a user between our read and our write
			others++
			m.data = fmt.Appendf(m.data, "[other%d]\npassword = y\n", others)
			m.version++
		}
	}
	if err := AddUser(context.Background(), m, "bea", "pw", Unlimited, testCost); err != nil {
		t.Fatal(err)
	}
	got := m.content()
	want := "[alex]\npassword = x\n[other1]\npassword = y\n[other2]\npassword = y\n[other3]\npassword = y\n\n[bea]\npassword = $2a$"
	if !strings.HasPrefix(got, want) || m.writes != 4 {
		t.Fatalf("after %d writes:\n%s\nwant it to start with\n%s", m.writes, got, want)
	}
	s, err := LoadFrom(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate("bea", "pw"); err != nil || len(s.Users()) != 5 {
		t.Errorf("users %v, bea: %v", s.Users(), err)
	}
}

func TestEditGivesUpAfterTenConflicts(t *testing.T) {
	m := newMem("[alex]\npassword = x\n")
	m.meanwhile = func(m *memSource) { m.version++ }
	err := SetQuota(context.Background(), m, "alex", 1<<20)
	if !errors.Is(err, ErrConflict) || err.Error() != "mem://accounts: changed meanwhile by another edit, 10 times: try again" {
		t.Fatalf("SetQuota = %v", err)
	}
	if m.writes != 10 || m.content() != "[alex]\npassword = x\n" {
		t.Errorf("%d writes, content %q", m.writes, m.content())
	}
}

func TestEditRefusesAFileThatDoesNotParse(t *testing.T) {
	broken := "[alex]\npassword = x\nquota = lots\n"
	m := newMem(broken)
	err := AddUser(context.Background(), m, "bea", "pw", Unlimited, testCost)
	if err == nil || !strings.HasPrefix(err.Error(), "mem://accounts:3: ") {
		t.Fatalf("AddUser on a broken file = %v", err)
	}
	if m.writes != 0 || m.content() != broken {
		t.Errorf("%d writes, content %q", m.writes, m.content())
	}
}

func TestAddUserCreatesOnlyWhereNoneExists(t *testing.T) {
	m := &memSource{}
	created := false
	m.meanwhile = func(m *memSource) {
		if !created { // another admin creates the file first
			created = true
			m.data, m.version = []byte("[alex]\npassword = x\n"), 1
		}
	}
	if err := AddUser(context.Background(), m, "bea", "pw", Unlimited, testCost); err != nil {
		t.Fatal(err)
	}
	if got := m.content(); !strings.HasPrefix(got, "[alex]\npassword = x\n\n[bea]\npassword = $2a$") || m.writes != 2 {
		t.Errorf("after %d writes:\n%s", m.writes, got)
	}
}

func TestConcurrentEditsAllLand(t *testing.T) {
	m := newMem("")
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for i := range 10 {
		wg.Go(func() { errs <- AddUser(context.Background(), m, fmt.Sprintf("u%d", i), "pw", Unlimited, testCost) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	s, err := LoadFrom(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(s.Users()); n != 10 {
		t.Errorf("%d users after 10 concurrent adds:\n%s", n, m.content())
	}
}

func TestRefreshReadsOnlyNewVersionsAndReportsABrokenOneOnce(t *testing.T) {
	m := newMem("[alex]\npassword = " + testHash(t, "pw") + "\n")
	s, err := LoadFrom(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	refresh := func(wantNew bool, wantErr string) {
		t.Helper()
		got, err := s.Refresh(context.Background())
		if got != wantNew || fmt.Sprint(err) != wantErr {
			t.Fatalf("Refresh = %v, %v; want %v, %s", got, err, wantNew, wantErr)
		}
	}
	refresh(false, "<nil>")
	m.set("[alex]\npassword = x\n[bea]\nquota = lots\n")
	refresh(false, "mem://accounts:4: quota: \"lots\" is not a size (e.g. 512, 100MB, 1.5GB, unlimited)")
	refresh(false, "<nil>") // the same broken version: reported once
	if _, err := s.Authenticate("alex", "pw"); err != nil || len(s.Users()) != 1 {
		t.Errorf("the accounts in force before are lost: %v %v", s.Users(), err)
	}
	m.set("[alex]\npassword = x\n[bea]\npassword = y\n")
	refresh(true, "<nil>")
	if len(s.Users()) != 2 {
		t.Errorf("users %v", s.Users())
	}
}
