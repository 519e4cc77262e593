package fleet

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/fleet/fleettest"
	"github.com/riskpdp/riskpdp/pdp/internal/state"
)

// chainTraffic has every store write kept records (list entries, sync and
// async freezes) and decision records at once, and returns how many kept
// records were written.
func chainTraffic(t *testing.T, stores []*state.Store) int {
	t.Helper()
	const perWriter = 40
	var wg sync.WaitGroup
	errs := make(chan error, 4*len(stores))
	for si, st := range stores {
		for w := range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range perWriter {
					var err error
					switch w {
					case 0:
						err = st.PutListEntry(ctx, block(pdp.SubjectDevice, fmt.Sprintf("d-%d-%d", si, i)), alice)
					case 1:
						_, err = st.UpdateAccount(ctx, fmt.Sprintf("u-%d", i%7), state.Async, &pdp.AuditRecord{Action: "freeze", Actor: pdp.Actor{Operator: "pdp"}}, func(a *pdp.AccountState) error {
							a.Flags = append(a.Flags, pdp.CaseFlag{Kind: "k", At: time.Now()})
							return nil
						})
					case 2:
						_, err = st.UpdateAccount(ctx, fmt.Sprintf("u-%d", i%5), state.Async, &pdp.AuditRecord{Action: pdp.ActionDecision, Actor: pdp.Actor{Operator: "pdp"}}, func(a *pdp.AccountState) error {
							return nil
						})
					}
					if err != nil {
						errs <- err
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for _, st := range stores {
		if err := st.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	return len(stores) * 2 * perWriter
}

// TestChainOnRedis: three sidecars chain their kept records into one
// chain, concurrently; it verifies, and an altered or removed record is
// named by its seq.
func TestChainOnRedis(t *testing.T) {
	r := fleettest.Start(t)
	var stores []*state.Store
	var be *Backend
	for range 3 {
		st, b := sidecarState(t, r.Addr, Config{})
		stores, be = append(stores, st), b
	}
	kept := chainTraffic(t, stores)
	rep, err := state.VerifyChain(ctx, be)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.Checked != kept || rep.Start == 0 || rep.Unchained != 0 {
		t.Fatalf("chain of %d kept records: %+v", kept, rep)
	}

	// Alter one kept record in Redis.
	var victim, other uint64
	if err := state.ExportJournal(ctx, be, state.JournalFilter{}, func(e *state.ExportRecord) error {
		if e.Link != nil && victim == 0 && e.Seq > rep.Start+3 {
			victim = e.Seq
		} else if e.Link != nil && victim != 0 && other == 0 {
			other = e.Seq
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	key := be.key(state.BucketJournal, state.SeqKey(victim))
	orig, err := be.Client().Get(ctx, key).Result()
	if err != nil {
		t.Fatal(err)
	}
	altered := strings.Replace(orig, `"action":"`, `"action":"x`, 1) // every record has its action
	if altered == orig {
		t.Fatalf("record %d has no action to alter: %s", victim, orig)
	}
	if err := be.Client().Set(ctx, key, altered, 0).Err(); err != nil {
		t.Fatal(err)
	}
	rep, err = state.VerifyChain(ctx, be)
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() || rep.Broken[0].Seq != victim || !strings.Contains(rep.Broken[0].Problem, "altered") {
		t.Fatalf("record %d altered: %+v", victim, rep.Broken)
	}
	if err := be.Client().Set(ctx, key, orig, 0).Err(); err != nil {
		t.Fatal(err)
	}
	// Remove another.
	if err := be.Client().Del(ctx, be.key(state.BucketJournal, state.SeqKey(other))).Err(); err != nil {
		t.Fatal(err)
	}
	rep, err = state.VerifyChain(ctx, be)
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() || rep.Broken[0].Seq != other || !strings.Contains(rep.Broken[0].Problem, "missing") {
		t.Fatalf("record %d removed: %+v", other, rep.Broken)
	}
}

// TestChainOnCluster: with Redis Cluster the journal, its chain and the
// head share a slot, and two sidecars' kept records form one chain.
func TestChainOnCluster(t *testing.T) {
	addrs := fleettest.StartCluster(t)
	var stores []*state.Store
	var last *Backend
	for range 2 {
		be, err := Open(Config{Addrs: addrs, Cluster: true, ReadBudget: time.Second, HealthInterval: 50 * time.Millisecond}, quiet)
		if err != nil {
			t.Fatal(err)
		}
		st, err := state.Open(state.Config{Backend: be})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		stores, last = append(stores, st), be
	}
	kept := chainTraffic(t, stores)
	// A conflict in an account's slot after the journal's slot committed
	// makes the Store commit the batch again: the journal then holds
	// records twice (see Commit), each chained.
	inJournal := 0
	if err := state.ExportJournal(ctx, last, state.JournalFilter{}, func(e *state.ExportRecord) error {
		if e.Action != pdp.ActionDecision {
			inJournal++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	rep, err := state.VerifyChain(ctx, last)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.Checked != inJournal || inJournal < kept {
		t.Fatalf("chain of %d kept records (%d written): %+v", inJournal, kept, rep)
	}
}

// TestChainPrunedOnRedis: kept records past the audit retention are
// pruned from Redis behind a checkpoint the chain verifies from.
func TestChainPrunedOnRedis(t *testing.T) {
	r := fleettest.Start(t)
	var mu sync.Mutex
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	st, be := sidecarState(t, r.Addr, Config{}, func(c *state.Config) {
		c.Clock, c.AuditRetention, c.SweepInterval = clock, state.MinAuditRetention, -1
	})
	for i := range 6 {
		if err := st.PutListEntry(ctx, block(pdp.SubjectDevice, fmt.Sprintf("d-%d", i)), alice); err != nil {
			t.Fatal(err)
		}
		if i == 2 {
			mu.Lock()
			now = now.Add(state.MinAuditRetention + time.Hour)
			mu.Unlock()
		}
	}
	n, err := st.Sweep(ctx)
	if err != nil || n != 3 {
		t.Fatalf("swept %d, want the 3 older records: %v", n, err)
	}
	rep, err := state.VerifyChain(ctx, be)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.Base == 0 || rep.Checked != 3+1 { // the younger three and the checkpoint record
		t.Fatalf("after pruning: %+v", rep)
	}
}
