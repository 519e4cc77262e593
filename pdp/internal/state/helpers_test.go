package state

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// fakeClock is an injectable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: t0} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

// openTest opens a store on a fresh file with a fake clock, closed at the
// end of the test.
func openTest(t testing.TB, mods ...func(*Config)) (*Store, *fakeClock, string) {
	t.Helper()
	clk := newClock()
	path := filepath.Join(t.TempDir(), "state.db")
	cfg := Config{Path: path, Clock: clk.Now, SweepInterval: -1}
	for _, m := range mods {
		m(&cfg)
	}
	s, err := Open(cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, clk, path
}

func reopen(t testing.TB, path string, clk *fakeClock) *Store {
	t.Helper()
	s, err := Open(Config{Path: path, Clock: clk.Now, SweepInterval: -1})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

var bg = context.Background()

func block(kind pdp.SubjectKind, value, reason string) pdp.ListEntry {
	return pdp.ListEntry{List: pdp.ListBlock, Subject: kind, Value: value, Reason: reason, Actor: pdp.Actor{Operator: "op1", Ticket: "T-1"}}
}

func mustPut(t testing.TB, s *Store, e pdp.ListEntry) {
	t.Helper()
	if err := s.PutListEntry(bg, e, pdp.AuditRecord{}); err != nil {
		t.Fatalf("PutListEntry(%+v): %v", e, err)
	}
}

func mustRep(t testing.TB, s *Store, kind pdp.SubjectKind, value string, now time.Time) pdp.Reputation {
	t.Helper()
	r, err := s.Reputation(kind, value, now)
	if err != nil {
		t.Fatalf("Reputation(%s, %q): %v", kind, value, err)
	}
	return r
}

func mustAccount(t testing.TB, s *Store, uid string, now time.Time) *pdp.AccountState {
	t.Helper()
	a, err := s.Account(uid, now)
	if err != nil {
		t.Fatalf("Account(%q): %v", uid, err)
	}
	return a
}

func journal(t testing.TB, s *Store, f JournalFilter) []pdp.AuditRecord {
	t.Helper()
	var out []pdp.AuditRecord
	if err := s.Journal(bg, f, func(a pdp.AuditRecord) error { out = append(out, a); return nil }); err != nil {
		t.Fatalf("Journal: %v", err)
	}
	return out
}

var errInjected = errors.New("injected I/O error")

// faultBackend wraps a backend and fails on demand.
type faultBackend struct {
	Backend
	failCommit atomic.Bool
	failGet    atomic.Bool
	commits    atomic.Int64
	// getDelay slows reads down, to widen races between fills and writes.
	getDelay atomic.Int64
	// poison fails any commit that writes this key.
	poison atomic.Pointer[string]
}

func (f *faultBackend) Get(b Bucket, keys [][]byte, fn func(int, []byte) error) error {
	if f.failGet.Load() {
		return errInjected
	}
	if d := f.getDelay.Load(); d > 0 {
		time.Sleep(time.Duration(d))
	}
	return f.Backend.Get(b, keys, fn)
}

func (f *faultBackend) Commit(b *Batch) (uint64, error) {
	if f.failCommit.Load() {
		return 0, errInjected
	}
	if p := f.poison.Load(); p != nil {
		for _, w := range b.Writes {
			if string(w.Key) == *p {
				return 0, errInjected
			}
		}
	}
	f.commits.Add(1)
	return f.Backend.Commit(b)
}

func openFault(t testing.TB, mods ...func(*Config)) (*Store, *faultBackend, *fakeClock) {
	t.Helper()
	be, err := OpenBolt(filepath.Join(t.TempDir(), "state.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	fb := &faultBackend{Backend: be}
	s, clk, _ := openTest(t, append([]func(*Config){func(c *Config) { c.Backend = fb }}, mods...)...)
	return s, fb, clk
}
