package fleet

import (
	"testing"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/fleet/fleettest"
	"github.com/riskpdp/riskpdp/pdp/internal/state"
)

// On Redis too, a sync change's audit record is taken once fn has run, in
// the committer: fn may complete it with what the change was.
func TestAuditRecordTakenAfterFnOnRedis(t *testing.T) {
	r := fleettest.Start(t)
	st, _ := sidecarState(t, r.Addr, Config{})
	audit := alice
	audit.Action = "test"
	if _, err := st.UpdateAccount(ctx, "u-audit", state.Sync, &audit, func(a *pdp.AccountState) error {
		audit.Detail = `{"done":true}`
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var details []string
	if err := st.Journal(ctx, state.JournalFilter{UID: "u-audit"}, func(r pdp.AuditRecord) error {
		details = append(details, r.Detail)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(details) != 1 || details[0] != `{"done":true}` {
		t.Fatalf("journal details %q, want the one fn wrote", details)
	}
}
