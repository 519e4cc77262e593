package fleet

import (
	"errors"
	"testing"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/fleet/fleettest"
	"github.com/riskpdp/riskpdp/pdp/internal/state"
)

// TestStaleBlocksDuringOutage: with Redis down, a block or a freeze this
// sidecar had cached still denies past the cache's freshness (stale if
// error); an allow-list entry, an account without a freeze and a block
// past its own expiry are unknown.
func TestStaleBlocksDuringOutage(t *testing.T) {
	r := fleettest.Start(t)
	st, be := sidecarState(t, r.Addr, Config{})
	now := time.Now()
	mustPut := func(e pdp.ListEntry) {
		t.Helper()
		if err := st.PutListEntry(ctx, e, alice); err != nil {
			t.Fatal(err)
		}
	}
	mustPut(block(pdp.SubjectDevice, "d-stale"))
	short := block(pdp.SubjectDevice, "d-short")
	short.Expires = now.Add(90 * time.Second)
	mustPut(short)
	mustPut(pdp.ListEntry{List: pdp.ListAllow, Subject: pdp.SubjectDevice, Value: "d-ok", Reason: "partner"})
	freeze := &pdp.AuditRecord{Action: "freeze", Actor: alice.Actor}
	if _, err := st.UpdateAccount(ctx, "u-frozen", state.Sync, freeze, func(a *pdp.AccountState) error {
		a.Freezes = append(a.Freezes, pdp.Freeze{Kind: pdp.FreezeReview, Since: now, Rule: "manual"})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"d-stale", "d-short", "d-ok", "d-never"} {
		if _, err := st.Reputation(pdp.SubjectDevice, d, now); err != nil {
			t.Fatal(err)
		}
	}
	for _, u := range []string{"u-frozen", "u-plain"} {
		if _, err := st.Account(u, now); err != nil {
			t.Fatal(err)
		}
	}

	r.Stop()
	deadline := time.Now().Add(10 * time.Second)
	for be.Up() {
		if time.Now().After(deadline) {
			t.Fatal("outage not noticed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	later := now.Add(2 * time.Minute) // past the cache's 1 minute
	if rep, err := st.Reputation(pdp.SubjectDevice, "d-stale", later); err != nil || !rep.Blocked {
		t.Errorf("cached block during the outage: %+v %v", rep, err)
	}
	for _, d := range []string{"d-short", "d-ok", "d-never"} {
		if rep, err := st.Reputation(pdp.SubjectDevice, d, later); !errors.Is(err, state.ErrUnavailable) {
			t.Errorf("%s during the outage: %+v %v, want unknown", d, rep, err)
		}
	}
	if a, err := st.Account("u-frozen", later); err != nil || len(a.Freezes) != 1 {
		t.Errorf("cached freeze during the outage: %+v %v", a, err)
	}
	if a, err := st.Account("u-plain", later); !errors.Is(err, state.ErrUnavailable) {
		t.Errorf("account without a freeze during the outage: %+v %v, want unknown", a, err)
	}
	if n := st.Stats().StaleServed; n != 2 {
		t.Errorf("StaleServed %d, want 2", n)
	}
}
