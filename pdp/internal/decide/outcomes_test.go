package decide

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/state"
)

func report(t *testing.T, s *Service, uid, txn, status string) (Outcome, error) {
	t.Helper()
	return s.Outcome(context.Background(), fmt.Appendf(nil, `{"uid":%q,"txn_id":%q,"status":%q}`, uid, txn, status))
}

// Outcomes come back: a completed payment teaches the habit, a failed one
// leaves the day's spend (and counts as a payment failure), a status twice
// changes nothing, a status that contradicts how the payment settled is
// refused, labels are kept with the allowing decision even for a payment
// the sidecar no longer keeps, and each is counted.
func TestOutcomes(t *testing.T) {
	s, st, clk := newStateService(t, Options{})
	spent := func(uid string) float64 {
		var v pdp.Velocity
		s.velocity.Read(clk.Now(), uid, "", "", &v)
		return v.Spent24h
	}
	for i := range 3 {
		clk.Add(5 * time.Second)
		if d := mustDecide(t, s, homePay("payment", "u-o", fmt.Sprintf("t-%d", i), "", 100)); d.Outcome != pdp.Allow {
			t.Fatalf("payment %d: %+v", i, d)
		}
	}
	if got := spent("u-o"); got != 300 {
		t.Fatalf("spent after three allowed payments: %v", got)
	}
	if a, _ := st.Account("u-o", clk.Now()); a.Habit.Count != 0 || len(a.Payments) != 3 {
		t.Fatalf("before any outcome: habit %d, payments %d", a.Habit.Count, len(a.Payments))
	}
	steps := []struct {
		txn, status string
		code        pdp.ErrorCode // "" for success
		duplicate   bool
	}{
		{"t-0", "completed", "", false},
		{"t-0", "completed", "", true},             // reported twice
		{"t-0", "failed", pdp.CodeConflict, false}, // after it completed
		{"t-1", "failed", "", false},
		{"t-1", "completed", pdp.CodeConflict, false},
		{"t-2", "reversed", "", false}, // before it completed: no spend
		{"t-0", "chargeback", "", false},
		{"t-9", "completed", pdp.CodeNotFound, false},
		{"t-old", "fraud_reported", "", false}, // a label of a payment not kept: journaled
		{"t-0", "shipped", pdp.CodeInvalidValue, false},
	}
	for _, x := range steps {
		o, err := report(t, s, "u-o", x.txn, x.status)
		var e *pdp.Error
		switch {
		case x.code != "" && (!errors.As(err, &e) || e.Code != x.code):
			t.Errorf("%s %s: %v, want %s", x.txn, x.status, err, x.code)
		case x.code == "" && (err != nil || o.Duplicate != x.duplicate):
			t.Errorf("%s %s: %+v %v", x.txn, x.status, o, err)
		}
	}
	if got := spent("u-o"); got != 100 {
		t.Fatalf("spent after t-1 failed and t-2 was reversed: %v, want 100", got)
	}
	a, _ := st.Account("u-o", clk.Now())
	if a.Habit.Count != 1 || a.Habit.Mean != 100 {
		t.Fatalf("habit after one completed payment: %+v", a.Habit)
	}
	var v pdp.Velocity
	s.velocity.Read(clk.Now(), "u-o", "", "", &v)
	if v.Failures.Payment1h != 1 {
		t.Fatalf("payment failures: %d", v.Failures.Payment1h)
	}
	for sample, want := range map[string]string{
		`pdp_outcomes_total{status="completed"}`:             "1",
		`pdp_outcomes_total{status="failed"}`:                "1",
		`pdp_labels_total{label="chargeback",reason="none"}`: "1",
		`pdp_labels_total{label="fraud",reason="unknown"}`:   "1",
	} {
		if got := metricValue(t, s, sample); got != want {
			t.Errorf("%s = %q, want %s", sample, got, want)
		}
	}
	if err := st.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	// One journal record per outcome that changed something: not for a
	// repeat, not for a refusal.
	// Each record's detail says what was reported (the labels export
	// reads it).
	var records, statuses []string
	if err := st.Journal(context.Background(), state.JournalFilter{UID: "u-o"}, func(r pdp.AuditRecord) error {
		if r.Action == "outcome" {
			records = append(records, r.Target)
			var d OutcomeDetail
			_ = json.Unmarshal([]byte(r.Detail), &d)
			statuses = append(statuses, d.Status+"/"+d.Label)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if want := []string{"txn/t-0", "txn/t-1", "txn/t-2", "txn/t-0", "txn/t-old"}; !slices.Equal(records, want) {
		t.Fatalf("outcome records %v, want %v", records, want)
	}
	if want := []string{"completed/", "failed/", "reversed/", "chargeback/chargeback", "fraud_reported/fraud"}; !slices.Equal(statuses, want) {
		t.Fatalf("outcome records' details %v, want %v", statuses, want)
	}
}

// BenchmarkDecodeOutcome is the decoding of a typical outcome report (a
// side call a payment service makes for most payments): the strict JSON
// rules, encoding/json and the exact-spelling check.
func BenchmarkDecodeOutcome(b *testing.B) {
	body := []byte(`{"uid":"u-003742","txn_id":"t3743-2","status":"completed","amount":333.65,"currency":"CNY"}`)
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		if _, _, _, err := DecodeOutcome(body, now); err != nil {
			b.Fatal(err)
		}
	}
}
