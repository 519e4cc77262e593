package state

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
)

// Writers each own a key and check, after every write returns, that a read
// sees it, while readers keep refilling the cache from a slowed-down
// backend so that fills started before a write land after it.
func TestNoStaleReadAfterWrite(t *testing.T) {
	s, fb, clk := openFault(t, func(c *Config) { c.CacheTTL = time.Hour; c.NegativeTTL = time.Hour })
	fb.getDelay.Store(int64(20 * time.Microsecond))
	now := clk.Now()
	const writers = 4
	var done atomic.Bool
	var readers sync.WaitGroup
	for r := range 4 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for i := 0; !done.Load(); i++ {
				w := (i + r) % writers
				if _, err := s.Reputation(pdp.SubjectDevice, fmt.Sprint("d-", w), now); err != nil {
					t.Error(err)
					return
				}
				if _, err := s.Account(fmt.Sprint("u-", w), now); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	var writersWG sync.WaitGroup
	for w := range writers {
		writersWG.Add(2)
		go func() { // list entries, sync
			defer writersWG.Done()
			v := fmt.Sprint("d-", w)
			for i := range 15 {
				want := fmt.Sprint("v", i)
				if err := s.PutListEntry(bg, block(pdp.SubjectDevice, v, want), pdp.AuditRecord{}); err != nil {
					t.Error(err)
					return
				}
				if got, _ := s.Reputation(pdp.SubjectDevice, v, now); got.BlockReason != want {
					t.Errorf("%s: read %q after writing %q", v, got.BlockReason, want)
				}
			}
		}()
		go func() { // accounts, mostly async
			defer writersWG.Done()
			uid := fmt.Sprint("u-", w)
			for i := range 300 {
				mode := Async
				if i%50 == 49 {
					mode = Sync
				}
				want := strconv.Itoa(i)
				if _, err := s.UpdateAccount(bg, uid, mode, nil, func(a *pdp.AccountState) error { a.Probation.Reason = want; return nil }); err != nil {
					t.Error(err)
					return
				}
				if got, _ := s.Account(uid, now); got.Probation.Reason != want {
					t.Errorf("%s: read %q after writing %q (%v)", uid, got.Probation.Reason, want, mode)
				}
			}
		}()
	}
	writersWG.Wait()
	done.Store(true)
	readers.Wait()
	t.Logf("stats %+v", s.Stats())
}

// Concurrent read-modify-writes of one UID, async and sync mixed, lose
// nothing, in memory and on disk.
func TestNoLostUpdates(t *testing.T) {
	s, clk, path := openTest(t, func(c *Config) { c.FlushInterval = time.Millisecond })
	const goroutines, each = 8, 100
	incr := func(a *pdp.AccountState) error {
		n, _ := strconv.Atoi(a.Probation.Reason)
		a.Probation.Reason = strconv.Itoa(n + 1)
		a.Flags = append(a.Flags, pdp.CaseFlag{Kind: "k", At: clk.Now()})
		return nil
	}
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				mode := Async
				if (g+i)%10 == 0 {
					mode = Sync
				}
				audit := &pdp.AuditRecord{Action: "incr"}
				if _, err := s.UpdateAccount(bg, "u-hot", mode, audit, incr); err != nil {
					t.Error(err)
					return
				}
				_, _ = s.Account("u-hot", clk.Now())
			}
		}()
	}
	wg.Wait()
	const want = goroutines * each
	if got := mustAccount(t, s, "u-hot", clk.Now()).Probation.Reason; got != strconv.Itoa(want) {
		t.Fatalf("counter = %s, want %d", got, want)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := reopen(t, path, clk)
	a := mustAccount(t, s2, "u-hot", clk.Now())
	if a.Probation.Reason != strconv.Itoa(want) || len(a.Flags) != MaxFlags {
		t.Errorf("after restart counter = %s, flags %d; want %d, %d", a.Probation.Reason, len(a.Flags), want, MaxFlags)
	}
	if n := len(journal(t, s2, JournalFilter{UID: "u-hot"})); n != want {
		t.Errorf("journal has %d records of u-hot, want %d", n, want)
	}
}

// Close while reads and writes run: no panic, every call either succeeds
// or fails with ErrClosed, and every async write that succeeded is on disk.
func TestCloseUnderLoad(t *testing.T) {
	s, clk, path := openTest(t, func(c *Config) { c.CacheMaxCost = 64 << 10 })
	now := clk.Now()
	var wg sync.WaitGroup
	acked := make([]atomic.Int64, 4)
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			uid := fmt.Sprint("u-", g)
			for i := 1; ; i++ {
				_, err := s.Reputation(pdp.SubjectIP, fmt.Sprintf("10.0.%d.%d", i%300/256, i%256), now)
				if err == nil {
					_, err = s.UpdateAccount(bg, uid, Async, &pdp.AuditRecord{}, func(a *pdp.AccountState) error {
						a.Probation.Reason = strconv.Itoa(i)
						return nil
					})
					if err == nil {
						acked[g].Store(int64(i))
					}
				}
				if err == nil && i%50 == 0 {
					_, _, err = s.Verification(uid, "t", now)
				}
				if err != nil {
					if !errors.Is(err, ErrClosed) {
						t.Errorf("goroutine %d: %v", g, err)
					}
					return
				}
			}
		}()
	}
	time.Sleep(50 * time.Millisecond)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	s2 := reopen(t, path, clk)
	t.Logf("acknowledged before Close: %d %d %d %d", acked[0].Load(), acked[1].Load(), acked[2].Load(), acked[3].Load())
	for g := range acked {
		a := mustAccount(t, s2, fmt.Sprint("u-", g), now)
		want := ""
		if n := acked[g].Load(); n > 0 {
			want = strconv.FormatInt(n, 10)
		}
		if a.Probation.Reason != want {
			t.Errorf("u-%d: %q on disk, last acknowledged %d", g, a.Probation.Reason, acked[g].Load())
		}
	}
}
