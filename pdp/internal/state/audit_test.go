package state

import (
	"context"
	"testing"

	"github.com/riskpdp/riskpdp/pdp"
)

// The audit record is taken once fn has run: fn may complete it with what
// the change was (an outcome's or an appeal's detail), in both modes.
func TestAuditRecordTakenAfterFn(t *testing.T) {
	s, _, _ := openTest(t)
	ctx := context.Background()
	for _, mode := range []Mode{Sync, Async} {
		audit := &pdp.AuditRecord{Actor: pdp.Actor{Operator: "t", Reason: "r"}, Action: "test"}
		if _, err := s.UpdateAccount(ctx, "u-audit", mode, audit, func(a *pdp.AccountState) error {
			audit.Detail = `{"mode":` + string(rune('0'+mode)) + `}`
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	var details []string
	if err := s.Journal(ctx, JournalFilter{UID: "u-audit"}, func(r pdp.AuditRecord) error {
		details = append(details, r.Detail)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(details) != 2 || details[0] == "" || details[1] == "" {
		t.Fatalf("journal details %q, want the ones fn wrote", details)
	}
}
