package state

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
)

// A sync write that fails to commit returns the error and changes nothing.
func TestSyncWriteFailure(t *testing.T) {
	s, fb, clk := openFault(t)
	now := clk.Now()
	mustPut(t, s, block(pdp.SubjectDevice, "d-1", "old"))
	mustRep(t, s, pdp.SubjectDevice, "d-1", now) // cached
	mustAccount(t, s, "u-1", now)
	fb.failCommit.Store(true)
	writes := []struct {
		name string
		do   func() error
	}{
		{"PutListEntry", func() error { return s.PutListEntry(bg, block(pdp.SubjectDevice, "d-1", "new"), pdp.AuditRecord{}) }},
		{"PutListEntries", func() error {
			return s.PutListEntries(bg, []pdp.ListEntry{block(pdp.SubjectDevice, "d-1", "new")}, pdp.AuditRecord{})
		}},
		{"DeleteListEntry", func() error {
			_, err := s.DeleteListEntry(bg, pdp.ListBlock, pdp.SubjectDevice, "d-1", pdp.AuditRecord{})
			return err
		}},
		{"UpdateAccount", func() error {
			_, err := s.UpdateAccount(bg, "u-1", Sync, &pdp.AuditRecord{}, func(a *pdp.AccountState) error {
				a.Probation.Reason = "new"
				return nil
			})
			return err
		}},
		{"PutVerification", func() error { return s.PutVerification(bg, pdp.Verification{UID: "u-1", Subject: "t-1"}) }},
		{"Secret", func() error { _, err := s.Secret(bg, "k"); return err }},
	}
	for _, w := range writes {
		if err := w.do(); !errors.Is(err, errInjected) {
			t.Errorf("%s with failing commits: error = %v, want the I/O error", w.name, err)
		}
	}
	if r := mustRep(t, s, pdp.SubjectDevice, "d-1", now); r.BlockReason != "old" {
		t.Errorf("failed writes changed the reputation: %+v", r)
	}
	if a := mustAccount(t, s, "u-1", now); a.Probation.Reason != "" {
		t.Errorf("failed write changed the account: %+v", a)
	}
	if _, ok, _ := s.Verification("u-1", "t-1", clk.Now()); ok {
		t.Error("failed write stored a verification")
	}
	if st := s.Stats(); st.SyncErrors < 5 {
		t.Errorf("Stats.SyncErrors = %d", st.SyncErrors)
	}
	fb.failCommit.Store(false)
	if n := len(journal(t, s, JournalFilter{})); n != 1 {
		t.Errorf("journal has %d records, want only the first put", n)
	}
}

// Async changes survive failing flushes in memory, are counted and
// reported, and are written once the backend recovers.
func TestAsyncFlushFailure(t *testing.T) {
	s, fb, clk := openFault(t, func(c *Config) { c.FlushInterval = time.Millisecond })
	now := clk.Now()
	fb.failCommit.Store(true)
	if _, err := s.UpdateAccount(bg, "u-1", Async, &pdp.AuditRecord{Action: "freeze"}, func(a *pdp.AccountState) error {
		a.Freezes = []pdp.Freeze{{Kind: pdp.FreezeTemporary, Until: now.Add(time.Hour)}}
		return nil
	}); err != nil {
		t.Fatalf("async update with a failing backend: %v", err)
	}
	if err := s.Flush(bg); !errors.Is(err, errInjected) {
		t.Errorf("Flush = %v, want the I/O error", err)
	}
	waitFor(t, func() bool { return s.Stats().FlushErrors >= 3 }) // the committer retries
	st := s.Stats()
	if st.OverlayPending != 1 || !strings.Contains(st.LastFlushError, "injected") || st.LastFlushErrorAt.IsZero() {
		t.Errorf("stats after failing flushes: %+v", st)
	}
	if a := mustAccount(t, s, "u-1", now); len(a.Freezes) != 1 {
		t.Errorf("pending async change not visible: %+v", a)
	}
	fb.failCommit.Store(false)
	waitFor(t, func() bool { return s.Stats().OverlayPending == 0 })
	var stored *pdp.AccountState
	err := fb.Get(BucketAccounts, [][]byte{[]byte("u-1")}, func(_ int, v []byte) error {
		var err error
		stored, err = decodeAccount(v)
		return err
	})
	if err != nil || len(stored.Freezes) != 1 {
		t.Errorf("after recovery the store holds %+v, %v", stored, err)
	}
	if recs := journal(t, s, JournalFilter{UID: "u-1"}); len(recs) != 1 || recs[0].Action != "freeze" {
		t.Errorf("journal after recovery: %+v", recs)
	}
}

// Close reports a final flush that failed.
func TestCloseReportsLostAsyncWrites(t *testing.T) {
	s, fb, _ := openFault(t, func(c *Config) { c.FlushInterval = time.Hour })
	if _, err := s.UpdateAccount(bg, "u-1", Async, nil, func(a *pdp.AccountState) error { a.Probation.Reason = "x"; return nil }); err != nil {
		t.Fatal(err)
	}
	fb.failCommit.Store(true)
	if err := s.Close(); !errors.Is(err, errInjected) {
		t.Errorf("Close = %v, want the flush error", err)
	}
}

// One request that cannot commit fails alone; the others of its group and
// the overlay commit.
func TestGroupCommitIsolatesFailures(t *testing.T) {
	s, fb, clk := openFault(t, func(c *Config) { c.FlushInterval = time.Hour })
	now := clk.Now()
	poison := string(listKey(pdp.ListBlock, pdp.SubjectIP, "6.6.6.6"))
	fb.poison.Store(&poison)
	// Hold the committer so the requests below queue up and commit as one
	// group together with the overlay.
	release := make(chan struct{})
	held := make(chan struct{})
	go s.do(bg, &request{job: func(Backend) (*Batch, func(), error) { close(held); <-release; return nil, nil, nil }})
	<-held
	if _, err := s.UpdateAccount(bg, "u-1", Async, nil, func(a *pdp.AccountState) error { a.Probation.Reason = "async"; return nil }); err != nil {
		t.Fatal(err)
	}
	values := []string{"1.1.1.1", "6.6.6.6", "2.2.2.2"}
	errs := make(chan error, len(values))
	for _, v := range values {
		go func() { errs <- s.PutListEntry(bg, block(pdp.SubjectIP, v, ""), pdp.AuditRecord{}) }()
	}
	waitFor(t, func() bool { return len(s.reqs) == len(values) })
	close(release)
	failed := 0
	for range values {
		if err := <-errs; err != nil {
			failed++
		}
	}
	if failed != 1 {
		t.Errorf("%d writes failed, want 1", failed)
	}
	for _, v := range values {
		if got := mustRep(t, s, pdp.SubjectIP, v, now).Blocked; got != (v != "6.6.6.6") {
			t.Errorf("%s blocked = %v", v, got)
		}
	}
	if s.Stats().OverlayPending != 0 || fb.commits.Load() < 3 {
		t.Errorf("overlay not committed alone after the group failed: %+v, %d commits", s.Stats(), fb.commits.Load())
	}
}

// A damaged record is an error for the read, not a crash or a silent
// "nothing known".
func TestCorruptRecordIsAnError(t *testing.T) {
	s, fb, clk := openFault(t)
	_, err := fb.Backend.Commit(&Batch{Writes: []Write{
		{Bucket: BucketLists, Key: listKey(pdp.ListBlock, pdp.SubjectUID, "u-x"), Value: []byte("{not json")},
		{Bucket: BucketAccounts, Key: []byte("u-x"), Value: []byte(`{"v":2}`)},
		{Bucket: BucketVerifications, Key: verificationKey("u-x", "t"), Value: []byte(`{"v":1,"uid":"u-x","txn":"t","results":{"sms":"maybe"}}`)},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Reputation(pdp.SubjectUID, "u-x", clk.Now()); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Reputation error = %v, want ErrCorrupt", err)
	}
	if _, err := s.Account("u-x", clk.Now()); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Account error = %v, want ErrCorrupt", err)
	}
	if _, err := s.UpdateAccount(bg, "u-x", Async, nil, func(*pdp.AccountState) error { return nil }); !errors.Is(err, ErrCorrupt) {
		t.Errorf("UpdateAccount error = %v, want ErrCorrupt", err)
	}
	if _, _, err := s.Verification("u-x", "t", clk.Now()); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Verification error = %v, want ErrCorrupt", err)
	}
}

func TestClosed(t *testing.T) {
	s, clk, _ := openTest(t)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	now := clk.Now()
	checks := map[string]error{
		"PutListEntry": s.PutListEntry(bg, block(pdp.SubjectUID, "u", ""), pdp.AuditRecord{}),
		"Reputation":   func() error { _, err := s.Reputation(pdp.SubjectUID, "u", now); return err }(),
		"Account":      func() error { _, err := s.Account("u", now); return err }(),
		"Verification": func() error { _, _, err := s.Verification("u", "t", now); return err }(),
		"UpdateAsync": func() error {
			_, err := s.UpdateAccount(bg, "u", Async, nil, func(*pdp.AccountState) error { return nil })
			return err
		}(),
		"Journal":     s.Journal(bg, JournalFilter{}, func(pdp.AuditRecord) error { return nil }),
		"ListEntries": func() error { _, err := s.ListEntries(bg, pdp.ListBlock, pdp.SubjectUID, "", 1); return err }(),
		"Flush":       s.Flush(bg),
	}
	for name, err := range checks {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(time.Millisecond)
	}
}

// A committer that cannot keep up slows async writers down instead of
// letting the backlog grow without bound.
func TestAsyncBackpressure(t *testing.T) {
	s, _, _ := openFault(t, func(c *Config) { c.FlushInterval = time.Hour; c.FlushMaxPending = 2 })
	release, held := make(chan struct{}), make(chan struct{})
	go s.do(bg, &request{job: func(Backend) (*Batch, func(), error) { close(held); <-release; return nil, nil, nil }})
	<-held
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 2*backlogFactor + 8 {
			if _, err := s.UpdateAccount(bg, "u-"+strings.Repeat("x", i), Async, nil, func(*pdp.AccountState) error { return nil }); err != nil {
				t.Error(err)
			}
		}
	}()
	waitFor(t, func() bool { return s.Stats().AsyncWaits > 0 })
	select {
	case <-done:
		t.Fatal("writer ran past the backlog bound while the committer was held")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("writer still blocked after the committer resumed")
	}
	if p := s.Stats().OverlayPending; p > 2*backlogFactor+8 {
		t.Errorf("%d pending", p)
	}
}
