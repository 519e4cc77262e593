package state

import (
	"fmt"
	"testing"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
)

// A cached reputation never outlives the entry it came from.
func TestCachedEntryExpires(t *testing.T) {
	s, clk, _ := openTest(t, func(c *Config) { c.CacheTTL = time.Hour })
	now := clk.Now()
	mustPut(t, s, pdp.ListEntry{List: pdp.ListBlock, Subject: pdp.SubjectDevice, Value: "d-1", Expires: now.Add(10 * time.Second)})
	mustPut(t, s, pdp.ListEntry{List: pdp.ListAllow, Subject: pdp.SubjectDevice, Value: "d-1"})
	tests := []struct {
		at      time.Duration
		blocked bool
	}{{0, true}, {9 * time.Second, true}, {10*time.Second - 1, true}, {10 * time.Second, false}, {time.Minute, false}}
	for _, tt := range tests {
		for range 2 {
			r := mustRep(t, s, pdp.SubjectDevice, "d-1", now.Add(tt.at))
			if r.Blocked != tt.blocked || !r.Allowed {
				t.Errorf("at +%v: %+v, want blocked %v and allowed", tt.at, r, tt.blocked)
			}
		}
	}
}

// The TTLs bound staleness against writes made behind the Store's back
// (another replica on a shared backend). ristretto applies a fill
// asynchronously: each read that fills the cache is followed by Wait, so
// that the next read finds the entry (without it, a busy machine made the
// read after the external write miss and see the write).
func TestCacheTTLs(t *testing.T) {
	s, fb, clk := openFault(t, func(c *Config) { c.CacheTTL = time.Minute; c.NegativeTTL = 5 * time.Second })
	now := clk.Now()
	external := func(e pdp.ListEntry) {
		data := encodeListEntry(&e)
		if _, err := fb.Backend.Commit(&Batch{Writes: []Write{{Bucket: BucketLists, Key: listKey(e.List, e.Subject, e.Value), Value: data}}}); err != nil {
			t.Fatal(err)
		}
	}
	// Negative entry: "nothing known" for NegativeTTL.
	if mustRep(t, s, pdp.SubjectIP, "9.9.9.9", now).Blocked {
		t.Fatal("blocked before any entry")
	}
	s.c.rc.Wait() // the negative entry is in the cache
	external(block(pdp.SubjectIP, "9.9.9.9", "v1"))
	if mustRep(t, s, pdp.SubjectIP, "9.9.9.9", now.Add(4*time.Second)).Blocked {
		t.Error("negative entry not served within NegativeTTL")
	}
	if r := mustRep(t, s, pdp.SubjectIP, "9.9.9.9", now.Add(5*time.Second)); r.BlockReason != "v1" {
		t.Errorf("after NegativeTTL: %+v, want the external entry", r)
	}
	s.c.rc.Wait() // v1 is in the cache
	// Positive entry: for CacheTTL from when it was read.
	external(block(pdp.SubjectIP, "9.9.9.9", "v2"))
	if r := mustRep(t, s, pdp.SubjectIP, "9.9.9.9", now.Add(time.Minute)); r.BlockReason != "v1" {
		t.Errorf("within CacheTTL: %+v, want cached v1", r)
	}
	if r := mustRep(t, s, pdp.SubjectIP, "9.9.9.9", now.Add(5*time.Second+time.Minute)); r.BlockReason != "v2" {
		t.Errorf("after CacheTTL: %+v, want v2", r)
	}
}

func TestNegativeCaching(t *testing.T) {
	s, fb, clk := openFault(t)
	now := clk.Now()
	mustRep(t, s, pdp.SubjectUID, "u-0", now)
	mustAccount(t, s, "u-0", now)
	if _, ok, _ := s.Verification("u-0", "t-0", now); ok {
		t.Fatal("verification found")
	}
	s.c.rc.Wait()
	fb.failGet.Store(true) // only the cache can answer now
	defer fb.failGet.Store(false)
	if r, err := s.Reputation(pdp.SubjectUID, "u-0", now); err != nil || r != (pdp.Reputation{}) {
		t.Errorf("negative reputation not cached: %+v, %v", r, err)
	}
	if a, err := s.Account("u-0", now); err != nil || a.UID != "u-0" {
		t.Errorf("negative account not cached: %+v, %v", a, err)
	}
	if _, ok, err := s.Verification("u-0", "t-0", now); ok || err != nil {
		t.Errorf("negative verification not cached: %v, %v", ok, err)
	}
	if _, err := s.Reputation(pdp.SubjectUID, "u-other", now); err == nil {
		t.Error("a miss did not reach the failing backend")
	}
}

// Every write path makes the next read see the write, also when the old
// value was cached.
func TestWritesInvalidateCache(t *testing.T) {
	s, clk, _ := openTest(t, func(c *Config) { c.CacheTTL = time.Hour; c.NegativeTTL = time.Hour })
	// Negative reputations go through the cache as with a shared backend
	// or a false positive of the lists' filter (TestAbsentSubjectsSkipCache).
	s.absent = nil
	now := clk.Now()
	rep := func(v string) pdp.Reputation { return mustRep(t, s, pdp.SubjectDevice, v, now) }
	reason := func(uid string) string { return mustAccount(t, s, uid, now).Probation.Reason }
	verified := func(uid string) string {
		v, _, err := s.Verification(uid, "t", now)
		if err != nil {
			t.Fatal(err)
		}
		return v.Status()
	}
	setReason := func(uid string, mode Mode, r string) {
		if _, err := s.UpdateAccount(bg, uid, mode, nil, func(a *pdp.AccountState) error { a.Probation.Reason = r; return nil }); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name        string
		read        func() string
		write       func()
		before, aft string
	}{
		{"put", func() string { return fmt.Sprint(rep("d-put").Blocked) },
			func() { mustPut(t, s, block(pdp.SubjectDevice, "d-put", "")) }, "false", "true"},
		{"put replaces", func() string { return rep("d-put").BlockReason },
			func() { mustPut(t, s, block(pdp.SubjectDevice, "d-put", "new")) }, "", "new"},
		{"import", func() string { return fmt.Sprint(rep("d-imp").Blocked) }, func() {
			if err := s.PutListEntries(bg, []pdp.ListEntry{block(pdp.SubjectDevice, "d-imp", "")}, pdp.AuditRecord{}); err != nil {
				t.Fatal(err)
			}
		}, "false", "true"},
		{"delete", func() string { return fmt.Sprint(rep("d-put").Blocked) }, func() {
			if _, err := s.DeleteListEntry(bg, pdp.ListBlock, pdp.SubjectDevice, "d-put", pdp.AuditRecord{}); err != nil {
				t.Fatal(err)
			}
		}, "true", "false"},
		{"account sync new", func() string { return reason("u-s") }, func() { setReason("u-s", Sync, "a") }, "", "a"},
		{"account sync", func() string { return reason("u-s") }, func() { setReason("u-s", Sync, "b") }, "a", "b"},
		{"account async new", func() string { return reason("u-a") }, func() { setReason("u-a", Async, "a") }, "", "a"},
		{"account async", func() string { return reason("u-a") }, func() { setReason("u-a", Async, "b") }, "a", "b"},
		{"account async after flush", func() string { return reason("u-a") }, func() {
			if err := s.Flush(bg); err != nil {
				t.Fatal(err)
			}
			setReason("u-a", Async, "c")
		}, "b", "c"},
		{"account sync after async", func() string { return reason("u-a") }, func() { setReason("u-a", Sync, "d") }, "c", "d"},
		{"verification new", func() string { return verified("u-v") }, func() {
			if err := s.PutVerification(bg, pdp.Verification{UID: "u-v", Subject: "t", Methods: []string{"sms"}}); err != nil {
				t.Fatal(err)
			}
		}, "pending", "pending"},
		{"verification", func() string { return verified("u-v") }, func() {
			if err := s.PutVerification(bg, pdp.Verification{UID: "u-v", Subject: "t", Methods: []string{"sms"},
				Results: map[string]pdp.VerificationResult{"sms": pdp.VerificationFailed}}); err != nil {
				t.Fatal(err)
			}
		}, "pending", "failed"},
	}
	for _, tt := range tests {
		if got := tt.read(); got != tt.before {
			t.Fatalf("%s: before the write read %q, want %q", tt.name, got, tt.before)
		}
		s.c.rc.Wait() // the fill is applied
		hits := s.Stats().CacheHits
		got := tt.read()
		// Async changes not yet flushed are read from the overlay, not cached.
		if got != tt.before || (s.Stats().CacheHits != hits+1 && s.Stats().OverlayPending == 0) {
			t.Fatalf("%s: second read %q (want %q) was not a cache hit", tt.name, got, tt.before)
		}
		tt.write()
		if got := tt.read(); got != tt.aft {
			t.Errorf("%s: after the write read %q, want %q", tt.name, got, tt.aft)
		}
	}
}

// A cache far too small for the lists never loses a blocklisted subject.
func TestEvictionKeepsBlocklist(t *testing.T) {
	s, clk, _ := openTest(t, func(c *Config) { c.CacheMaxCost = 4 << 10 })
	now := clk.Now()
	const n = 3000
	var es []pdp.ListEntry
	for i := range n {
		es = append(es, block(pdp.SubjectDevice, fmt.Sprint("d-", i), "r"))
	}
	if err := s.PutListEntries(bg, es, pdp.AuditRecord{}); err != nil {
		t.Fatal(err)
	}
	for pass := range 3 {
		for i := range n {
			if !mustRep(t, s, pdp.SubjectDevice, fmt.Sprint("d-", i), now).Blocked {
				t.Fatalf("pass %d: d-%d not blocked", pass, i)
			}
			if mustRep(t, s, pdp.SubjectDevice, fmt.Sprint("x-", i), now).Blocked {
				t.Fatalf("pass %d: x-%d blocked", pass, i)
			}
		}
	}
	st := s.Stats()
	if st.CacheEvictions+st.CacheSetsRejected+st.CacheSetsDropped == 0 || st.CacheCost > 4<<10 {
		t.Errorf("cache of 4 KiB held %d bytes, %d evictions, %d rejected sets", st.CacheCost, st.CacheEvictions, st.CacheSetsRejected)
	}
	t.Logf("stats: %+v", st)
}

// The states a flush or a sync write commits are cached: reading them
// back does not touch the store.
//
// ristretto admits a new key through a buffer drained by a goroutine; a
// second Set of a key still in that buffer is rejected, so a commit racing
// the fill of its own read may not be cached (a later read then misses and
// reads the store: slower, never stale). The test reads and drains first,
// so the commit replaces a stored entry, which ristretto does in place.
func TestCommitsSeedCache(t *testing.T) {
	s, fb, clk := openFault(t, func(c *Config) { c.FlushInterval = time.Hour })
	now := clk.Now()
	set := func(uid string, mode Mode) {
		if _, err := s.Account(uid, now); err != nil {
			t.Fatal(err)
		}
		s.c.rc.Wait()
		if _, err := s.UpdateAccount(bg, uid, mode, nil, func(a *pdp.AccountState) error { a.Probation.Reason = uid; return nil }); err != nil {
			t.Fatal(err)
		}
	}
	set("u-async", Async)
	set("u-sync", Sync)
	if err := s.Flush(bg); err != nil {
		t.Fatal(err)
	}
	s.c.rc.Wait()
	fb.failGet.Store(true)
	for _, uid := range []string{"u-async", "u-sync"} {
		if a, err := s.Account(uid, now); err != nil || a.Probation.Reason != uid {
			t.Errorf("Account(%s) after commit = %+v, %v; want it from the cache", uid, a, err)
		}
	}
}

// A subject on no list is answered by the lists' filter, and the
// verification of an account that never verified by the filter of UIDs
// with verifications, and kept out of ristretto (only in the table of
// recent fills, which serves the second read); a block or a verification
// written afterwards is seen by the next read, and after a restart (the
// filters are built from the file).
func TestAbsentSubjectsSkipCache(t *testing.T) {
	s, clk, path := openTest(t, func(c *Config) { c.NegativeTTL = time.Hour })
	now := clk.Now()
	subjects := []struct {
		kind  pdp.SubjectKind
		value string
	}{{pdp.SubjectUID, "u-1"}, {pdp.SubjectDevice, "d-1"}, {pdp.SubjectIP, "10.9.8.7"}, {pdp.SubjectCardBIN, "41111111"}}
	verified := func(s *Store, uid, subject string) bool {
		t.Helper()
		v, ok, err := s.Verification(uid, subject, now)
		if err != nil {
			t.Fatal(err)
		}
		return ok && v.Status() == "failed"
	}
	for range 2 {
		for _, sub := range subjects {
			if r := mustRep(t, s, sub.kind, sub.value, now); r != (pdp.Reputation{}) {
				t.Fatalf("%v %s on no list: %+v", sub.kind, sub.value, r)
			}
		}
		if verified(s, "u-1", "t-1") {
			t.Fatal("a verification found before any was written")
		}
	}
	s.c.rc.Wait()
	if st := s.Stats(); st.CacheHits != 5 || st.CacheMisses != 0 || st.CacheCost != 0 {
		t.Fatalf("absent subjects: %d hits, %d misses, %d bytes in ristretto; want the filter's answers, then 5 hits from the recent fills, none in ristretto", st.CacheHits, st.CacheMisses, st.CacheCost)
	}
	for _, sub := range subjects {
		mustPut(t, s, block(sub.kind, sub.value, "after"))
		if r := mustRep(t, s, sub.kind, sub.value, now); !r.Blocked || r.BlockReason != "after" {
			t.Errorf("%v %s blocked after the reads: read %+v", sub.kind, sub.value, r)
		}
	}
	failed := pdp.Verification{UID: "u-1", Subject: "t-1", Methods: []string{"sms"},
		Results: map[string]pdp.VerificationResult{"sms": pdp.VerificationFailed}}
	if err := s.PutVerification(bg, failed); err != nil {
		t.Fatal(err)
	}
	if !verified(s, "u-1", "t-1") {
		t.Error("the failed verification written after the reads is not found")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = reopen(t, path, clk)
	if !verified(s, "u-1", "t-1") {
		t.Error("the failed verification is not found after a restart")
	}
	if r := mustRep(t, s, pdp.SubjectCardBIN, "41111111", now); !r.Blocked {
		t.Errorf("the BIN's block is not found after a restart: %+v", r)
	}
}
