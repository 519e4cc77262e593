package fleet

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/fleet/fleettest"
	"github.com/riskpdp/riskpdp/pdp/internal/state"
)

// TestCommitConditions: a conditional write applies only while the key
// holds the expected value; a failed condition applies nothing of the
// batch and names the key.
func TestCommitConditions(t *testing.T) {
	r := fleettest.Start(t)
	be, err := Open(Config{Addrs: []string{r.Addr}}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	key := []byte("u-cas")
	absent := state.Digest{}
	v1 := state.ValueDigest([]byte("one"))
	read := func() []byte {
		var got []byte
		if err := be.Get(state.BucketAccounts, [][]byte{key}, func(_ int, v []byte) error { got = v; return nil }); err != nil {
			t.Fatal(err)
		}
		return got
	}
	commit := func(value string, cond state.Digest, extra string) error {
		_, err := be.Commit(&state.Batch{
			Writes: []state.Write{
				{Bucket: state.BucketAccounts, Key: key, Value: []byte(value), If: &cond},
				{Bucket: state.BucketMeta, Key: []byte(extra), Value: []byte("x")},
			},
			Journal: []state.JournalEntry{{UID: "u-cas", Record: []byte(`{"v":1}`)}},
		})
		return err
	}
	if err := commit("one", absent, "m1"); err != nil {
		t.Fatal(err)
	}
	err = commit("two", absent, "m2") // stale: the key exists now
	var ce *state.ConflictError
	if !errors.As(err, &ce) || len(ce.Keys) != 1 || string(ce.Keys[0].Key) != "u-cas" || ce.Keys[0].Bucket != state.BucketAccounts {
		t.Fatalf("stale write: %v", err)
	}
	if got := string(read()); got != "one" {
		t.Fatalf("value %q after a refused write", got)
	}
	var metas int
	if err := be.Get(state.BucketMeta, [][]byte{[]byte("m1"), []byte("m2")}, func(_ int, v []byte) error {
		if v != nil {
			metas++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var records int
	if err := be.Scan(state.BucketJournal, nil, nil, func(_, _ []byte) error { records++; return nil }); err != nil {
		t.Fatal(err)
	}
	if metas != 1 || records != 1 {
		t.Fatalf("a refused batch applied its other parts: %d meta keys, %d journal records (want 1, 1)", metas, records)
	}
	if err := commit("two", v1, "m3"); err != nil {
		t.Fatalf("write conditional on the current value: %v", err)
	}
	if got := string(read()); got != "two" {
		t.Fatalf("value %q", got)
	}
}

// TestConcurrentAccountWrites is the scenario of a fleet: an operator
// freezes an account through sidecar A while sidecar B carries out the
// obligations of that account's decisions, both at once, in both write
// modes. Every change made through either sidecar must be in the account
// afterwards (no last-writer-wins loss), and both sidecars converge on it.
func TestConcurrentAccountWrites(t *testing.T) {
	r := fleettest.Start(t)
	a, _ := sidecarState(t, r.Addr, Config{})
	b, _ := sidecarState(t, r.Addr, Config{})
	const uid = "u-contested"
	const freezes, flags, devices, events = 10, 60, 30, 20
	now := time.Now()
	var wg sync.WaitGroup
	var failed atomic.Value
	run := func(st *state.Store, mode state.Mode, n int, change func(i int, a *pdp.AccountState)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range n {
				if _, err := st.UpdateAccount(ctx, uid, mode, nil, func(a *pdp.AccountState) error {
					change(i, a)
					return nil
				}); err != nil {
					failed.Store(err)
					return
				}
				time.Sleep(time.Duration(i%3) * time.Millisecond)
			}
		}()
	}
	// A: the operator's sync freezes, and async device memory.
	run(a, state.Sync, freezes, func(i int, a *pdp.AccountState) {
		a.Freezes = append(a.Freezes, pdp.Freeze{Kind: pdp.FreezeReview, Since: now, Rule: fmt.Sprintf("op-%d", i)})
	})
	run(a, state.Async, devices, func(i int, a *pdp.AccountState) {
		a.Devices = append(a.Devices, pdp.KnownDevice{ID: fmt.Sprintf("d-%d", i), FirstSeen: now, LastSeen: now.Add(time.Duration(i))})
	})
	// B: async obligations (case flags), and sync events.
	run(b, state.Async, flags, func(i int, a *pdp.AccountState) {
		a.Flags = append(a.Flags, pdp.CaseFlag{Kind: "key_tracking", Reason: fmt.Sprintf("ob-%d", i), At: now.Add(time.Duration(i))})
	})
	run(b, state.Sync, events, func(i int, a *pdp.AccountState) {
		a.Events = append(a.Events, pdp.AccountEvent{Kind: "login_failed", At: now.Add(time.Duration(i)), DeviceID: fmt.Sprintf("e-%d", i)})
	})
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		t.Fatal(err)
	}
	for _, st := range []*state.Store{a, b} {
		if err := st.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	count := func(st *pdp.AccountState) [4]int {
		return [4]int{len(st.Freezes), len(st.Flags), len(st.Devices), len(st.Events)}
	}
	want := [4]int{freezes, flags, devices, events}
	c, _ := sidecarState(t, r.Addr, Config{}) // a fresh sidecar: what Redis holds
	got, err := c.Account(uid, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if count(got) != want {
		t.Fatalf("stored account has %v freezes, flags, devices, events; want %v: changes were lost", count(got), want)
	}
	for name, st := range map[string]*state.Store{"A": a, "B": b} {
		within(t, 2*time.Second, "sidecar "+name+" sees every change", func() bool {
			got, err := st.Account(uid, time.Now())
			return err == nil && count(got) == want
		})
	}
	t.Logf("write conflicts retried: A %d, B %d", a.Stats().WriteConflicts, b.Stats().WriteConflicts)
}

// lostReply is the Redis backend with the reply of armed commits lost:
// the commit lands, the Store is told it failed.
type lostReply struct {
	*Backend
	armed atomic.Int32
}

func (l *lostReply) Commit(b *state.Batch) (uint64, error) {
	seq, err := l.Backend.Commit(b)
	if err == nil && l.armed.Add(-1) >= 0 {
		return 0, fmt.Errorf("%w: reply lost", state.ErrUnavailable)
	}
	return seq, err
}

// TestLandedFlushNotAppliedTwice: a flush whose commit landed although it
// reported a failure is retried; the retry finds its own value and does
// not apply the changes again, even with more changes made meanwhile.
func TestLandedFlushNotAppliedTwice(t *testing.T) {
	r := fleettest.Start(t)
	var lr *lostReply
	st, _ := sidecarState(t, r.Addr, Config{}, func(c *state.Config) {
		lr = &lostReply{Backend: c.Backend.(*Backend)}
		c.Backend = lr
		c.FlushInterval = time.Hour // flushes only when the test asks
	})
	now := time.Now()
	event := func(i int) {
		t.Helper()
		if _, err := st.UpdateAccount(ctx, "u-lost", state.Async, nil, func(a *pdp.AccountState) error {
			a.Events = append(a.Events, pdp.AccountEvent{Kind: "login_failed", At: now.Add(time.Duration(i))})
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		event(i)
	}
	lr.armed.Store(1)
	if err := st.Flush(ctx); err == nil {
		t.Fatal("flush with a lost reply succeeded")
	}
	event(3)
	if err := st.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	c, _ := sidecarState(t, r.Addr, Config{})
	got, err := c.Account("u-lost", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Events) != 4 {
		t.Fatalf("%d events stored, want 4 (a landed flush applied again?)", len(got.Events))
	}
}
