package fleet

import (
	"testing"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/fleet/fleettest"
	"github.com/riskpdp/riskpdp/pdp/internal/state"
)

// TestPruneDecisionTrailOnRedis: the sweeper prunes decision records past
// DecisionTrailMax on Redis too, records and index entries, and keeps the
// operator actions.
func TestPruneDecisionTrailOnRedis(t *testing.T) {
	r := fleettest.Start(t)
	st, be := sidecarState(t, r.Addr, Config{}, func(c *state.Config) { c.SweepInterval, c.DecisionTrailMax = -1, 10 })
	decision := &pdp.AuditRecord{Action: pdp.ActionDecision, Actor: pdp.Actor{Operator: "pdp", Reason: "decision"}}
	freeze := &pdp.AuditRecord{Action: "freeze", Actor: alice.Actor}
	for i := range 100 {
		rec, mode := decision, state.Async
		if i%10 == 0 {
			rec, mode = freeze, state.Sync
		}
		if _, err := st.UpdateAccount(ctx, "u-1", mode, rec, func(*pdp.AccountState) error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := st.Sweep(ctx); err != nil || n < 80 {
		t.Fatalf("Sweep: %d, %v; want at least 80 pruned", n, err)
	}
	var ops, decisions int
	if err := st.Journal(ctx, state.JournalFilter{UID: "u-1"}, func(a pdp.AuditRecord) error {
		if a.Action == pdp.ActionDecision {
			decisions++
		} else {
			ops++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if ops != 10 || decisions == 0 || decisions > 10 {
		t.Errorf("after the prune: %d operator actions (want 10), %d decision records (want 1..10)", ops, decisions)
	}
	for _, bk := range []state.Bucket{state.BucketJournal, state.BucketJournalByUID} {
		if n := be.rdb.ZCard(ctx, be.indexKey(bk)).Val(); n != int64(ops+decisions) {
			t.Errorf("%s index holds %d keys, want %d", bk, n, ops+decisions)
		}
	}
}
