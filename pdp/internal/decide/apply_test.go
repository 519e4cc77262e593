package decide

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/decisionlog"
	"github.com/riskpdp/riskpdp/pdp/internal/state"
	"github.com/riskpdp/riskpdp/pdp/internal/velocity"
)

// The requests of the plan → record → apply tests, for account u-a: a
// payment from home (its device, a domestic IP), a payment and a
// withdrawal to a new payee, and an extreme amount (a deny with a flag).
const applyUID = "u-a"

func applyBody(kind string) string {
	home := `"device":{"id":"d-home","ip":"198.51.100.7","ip_country":"CN"}`
	abroad := `"device":{"id":"d-phone","ip":"203.0.113.9","ip_country":"SG"}`
	acct := `"account":{"home_country":"CN","created_at":"2019-01-01T00:00:00Z"}`
	switch kind {
	case "home":
		return `{"stage":"payment","uid":"u-a",` + home + `,"txn":{"id":"t-0","amount":60,"currency":"CNY","category":"groceries"},` + acct + `}`
	case "abroad": // a new phone abroad: step-up
		return `{"stage":"payment","uid":"u-a",` + abroad + `,"txn":{"id":"t-1","amount":300,"currency":"CNY","category":"groceries"},` + acct + `}`
	case "abroad-2": // another payment from that phone
		return `{"stage":"payment","uid":"u-a",` + abroad + `,"txn":{"id":"t-2","amount":300,"currency":"CNY","category":"groceries"},` + acct + `}`
	case "payee": // a small first transfer to a new payee: allowed
		return `{"stage":"withdrawal","uid":"u-a",` + home + `,"txn":{"id":"w-1","amount":100,"currency":"CNY","instrument":"acct-77"},` + acct + `}`
	case "extreme": // no purpose: deny, and a case flag
		return `{"stage":"payment","uid":"u-a",` + home + `,"txn":{"id":"t-big","amount":80000,"currency":"CNY","category":"jewellery"},` + acct + `}`
	}
	panic(kind)
}

// applyProbes read every velocity key the requests above write.
var applyProbes = []velocity.Observation{
	{UID: applyUID, Device: "d-phone", IP: "203.0.113.9", Purchase: "t-1", Amount: 300},
	{UID: applyUID, Device: "d-phone", IP: "203.0.113.9", Purchase: "t-2", Amount: 300},
	{UID: applyUID, Device: "d-home", IP: "198.51.100.7", Purchase: "w-1", Instrument: "acct-77", Destination: true, Amount: 100},
	{UID: applyUID, Device: "d-home", IP: "198.51.100.7", Purchase: "t-big", Amount: 80000},
	{UID: applyUID, Device: "d-home", IP: "198.51.100.7", Login: true},
}

// stateSnapshot is everything a decision could change, as the sidecar
// reads it: the account (devices, habit, payments, destinations, freezes,
// flags, limits, first sighting), its verifications, the whole journal,
// the lists, and the velocity counts (the probes' Peek, which reads the
// purchases, attempts, distinct sets and the day's spend too, their keys'
// Read, and the number of keys).
type stateSnapshot struct {
	Account       *pdp.AccountState
	Verifications []pdp.Verification
	Journal       []pdp.AuditRecord
	Lists         []pdp.ListEntry
	Peek, Read    []pdp.Velocity
	Keys          int
}

func snapshotState(t *testing.T, st *state.Store, tr *velocity.Tracker, now time.Time) stateSnapshot {
	t.Helper()
	ctx := context.Background()
	if err := st.Flush(ctx); err != nil { // async writes into the journal
		t.Fatal(err)
	}
	var s stateSnapshot
	a, err := st.Account(applyUID, now)
	if err != nil {
		t.Fatal(err)
	}
	s.Account = a
	if s.Verifications, err = st.Verifications(applyUID); err != nil {
		t.Fatal(err)
	}
	if err := st.Journal(ctx, state.JournalFilter{}, func(r pdp.AuditRecord) error {
		s.Journal = append(s.Journal, r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, list := range []pdp.ListKind{pdp.ListBlock, pdp.ListAllow, pdp.ListVIP} {
		for kind := pdp.SubjectUID; kind <= pdp.SubjectCardBIN; kind++ {
			e, err := st.ListEntries(ctx, list, kind, "", 1000)
			if err != nil {
				t.Fatal(err)
			}
			s.Lists = append(s.Lists, e...)
		}
	}
	for _, o := range applyProbes {
		var peek, read pdp.Velocity
		tr.Peek(now, o, &peek)
		tr.Read(now, o.UID, o.Device, o.IP, &read)
		s.Peek, s.Read = append(s.Peek, peek), append(s.Read, read)
	}
	s.Keys = tr.Stats().Keys
	return s
}

func sameSnapshot(t *testing.T, what string, got, want stateSnapshot) {
	t.Helper()
	g, _ := json.MarshalIndent(got, "", " ")
	w, _ := json.MarshalIndent(want, "", " ")
	if string(g) != string(w) {
		t.Fatalf("%s:\n got %s\nwant %s", what, g, w)
	}
}

// syncLog is a synchronous decision log in dir.
func syncLog(t *testing.T, dir string) *decisionlog.Logger {
	t.Helper()
	l, _ := newLog(t, decisionlog.Config{Sync: true, Path: filepath.Join(dir, "decisions.jsonl")})
	return l
}

// refused decides body and wants it refused: 503, nothing else.
func refused(t *testing.T, s *Service, body string) {
	t.Helper()
	d, err := s.Decide(context.Background(), []byte(body), "")
	var e *pdp.Error
	if !errors.As(err, &e) || e.Code != pdp.CodeUnavailable || d != nil {
		t.Fatalf("%s: want 503, got %+v, %v", body, d, err)
	}
}

// applyHistory is what u-a did before the log fails: a payment from home
// (the account knows its device), then a payment from a new phone abroad,
// stepped up and verified. It returns the verified payment's body.
func applyHistory(t *testing.T, s *Service, clk *testClock) {
	t.Helper()
	if d := mustDecide(t, s, applyBody("home")); d.Outcome != pdp.Allow {
		t.Fatalf("home payment: %+v", d)
	}
	clk.Add(time.Minute)
	d := mustDecide(t, s, applyBody("abroad"))
	if d.Outcome != pdp.StepUp || !slices.Contains(d.Reasons, "new_device_foreign_ip") {
		t.Fatalf("payment from a new phone abroad: %+v", d)
	}
	verify(t, s, d.StepUp.ChallengeID, d.StepUp.Methods[0], "passed")
	clk.Add(time.Minute)
}

// With the synchronous decision log, a decision that cannot be recorded
// changes no state: the verified retry of a payment from a new phone
// (which would remember the phone, keep the payment and add to the day's
// spend), a first small transfer to a new payee (which would remember the
// payee) and an extreme amount (a deny that would flag the case and
// journal it) are each answered 503, and the account, its verifications,
// the journal, the lists and every velocity count read exactly as before.
// Once the log records again, the phone is still new: another payment
// from it steps up, and every later answer is the one a sidecar that
// never saw the refused requests gives.
func TestRefusedDecisionLeavesNothingBehind(t *testing.T) {
	dir := t.TempDir()
	tr := newTracker(t)
	s, st, clk := newStateService(t, Options{Velocity: tr, DecisionLog: syncLog(t, dir), DecisionLogSync: true})
	applyHistory(t, s, clk)
	// The twin never sees the refused requests.
	twinTr := newTracker(t)
	twin, _, twinClk := newStateService(t, Options{Velocity: twinTr, DecisionLog: syncLog(t, t.TempDir()), DecisionLogSync: true})
	applyHistory(t, twin, twinClk)

	before := snapshotState(t, st, tr, clk.Now())
	if err := s.dlog.Close(context.Background()); err != nil { // the log fails
		t.Fatal(err)
	}
	for _, kind := range []string{"abroad", "payee", "extreme", "abroad", "payee"} {
		refused(t, s, applyBody(kind))
		sameSnapshot(t, "state after a refused "+kind+" decision", snapshotState(t, st, tr, clk.Now()), before)
	}
	if n := metricValue(t, s, `pdp_decisions_total{outcome="allow",stage="payment"}`); n != "1" {
		t.Fatalf("a refused decision counted as decided: %s allowed payments", n)
	}

	s.dlog = syncLog(t, t.TempDir()) // the log records again
	for i, kind := range []string{"abroad-2", "payee", "abroad", "extreme", "abroad-2", "payee"} {
		clk.Add(10 * time.Second)
		twinClk.Add(10 * time.Second)
		d, want := mustDecide(t, s, applyBody(kind)), mustDecide(t, twin, applyBody(kind))
		if i == 0 && (d.Outcome != pdp.StepUp || !slices.Contains(d.Reasons, "new_device_foreign_ip")) {
			t.Fatalf("the phone a refused decision would have remembered: %+v", d)
		}
		gotOb, _ := json.Marshal(d.Obligations)
		wantOb, _ := json.Marshal(want.Obligations)
		if d.Outcome != want.Outcome || !slices.Equal(d.Reasons, want.Reasons) || string(gotOb) != string(wantOb) {
			t.Fatalf("%s after recovery: %v %v %v, a sidecar that never saw the refused ones: %v %v %v",
				kind, d.Outcome, d.Reasons, gotOb, want.Outcome, want.Reasons, wantOb)
		}
		for j, o := range applyProbes {
			var got, exp pdp.Velocity
			tr.Peek(clk.Now(), o, &got)
			twinTr.Peek(twinClk.Now(), o, &exp)
			if got != exp {
				t.Fatalf("%s after recovery, probe %d:\n got %+v\nwant %+v", kind, j, got, exp)
			}
		}
	}
}

// A recorded decision is carried out as planned, whatever the log: the
// verified payment from a new phone remembers the phone, keeps the
// payment and adds to the day's spend, the first transfer to a payee
// remembers the payee, the extreme amount flags the case and is
// journaled, and each request counts in the velocity windows.
func TestRecordedDecisionIsApplied(t *testing.T) {
	for _, mode := range []string{"sync", "async", "off"} {
		t.Run(mode, func(t *testing.T) {
			o := Options{Velocity: newTracker(t)}
			if mode != "off" {
				l, _ := newLog(t, decisionlog.Config{Sync: mode == "sync"})
				o.DecisionLog, o.DecisionLogSync = l, mode == "sync"
			}
			s, st, clk := newStateService(t, o)
			tr := o.Velocity
			applyHistory(t, s, clk)
			before := snapshotState(t, st, tr, clk.Now())
			if d := mustDecide(t, s, applyBody("abroad")); d.Outcome != pdp.Allow {
				t.Fatalf("verified retry: %+v", d)
			}
			if d := mustDecide(t, s, applyBody("payee")); d.Outcome != pdp.Allow {
				t.Fatalf("first transfer to a payee: %+v", d)
			}
			if d := mustDecide(t, s, applyBody("extreme")); d.Outcome != pdp.Deny {
				t.Fatalf("extreme amount: %+v", d)
			}
			after := snapshotState(t, st, tr, clk.Now())
			a := after.Account
			switch {
			case !knowsDevice(a, "d-phone"):
				t.Fatal("the phone of an allowed payment is not remembered")
			case !slices.ContainsFunc(a.Payments, func(p pdp.Payment) bool { return p.TxnID == "t-1" }),
				!slices.ContainsFunc(a.Payments, func(p pdp.Payment) bool { return p.TxnID == "w-1" }):
				t.Fatalf("allowed payments not kept: %+v", a.Payments)
			case !slices.ContainsFunc(a.Destinations, func(d pdp.Sighting) bool { return d.ID == "acct-77" }):
				t.Fatal("the payee of an allowed transfer is not remembered")
			case !slices.ContainsFunc(a.Flags, func(f pdp.CaseFlag) bool { return f.TxnID == "t-big" }):
				t.Fatalf("the extreme amount did not flag the case: %+v", a.Flags)
			case !slices.ContainsFunc(after.Journal, func(r pdp.AuditRecord) bool { return strings.Contains(r.Detail, `"txn_id":"t-big"`) }):
				t.Fatal("the flagged decision is not journaled")
			case after.Peek[0].Spent24h <= before.Peek[0].Spent24h:
				t.Fatalf("the day's spend did not grow: %v → %v", before.Peek[0].Spent24h, after.Peek[0].Spent24h)
			}
			for i := range applyProbes {
				if b, a := before.Read[i].UID, after.Read[i].UID; a.Count24h+a.Logins1h <= b.Count24h+b.Logins1h {
					t.Fatalf("probe %d: not counted: %+v → %+v", i, b, a)
				}
			}
		})
	}
}

// fakeFleet records the fleet counts it is given.
type fakeFleet struct {
	mu    sync.Mutex
	money []bool // per Observe: did it count a money movement
}

func (f *fakeFleet) Observe(_ time.Time, _, _, _ string, money bool, _ *pdp.Velocity) {
	f.mu.Lock()
	f.money = append(f.money, money)
	f.mu.Unlock()
}

// The fleet-wide count of a decision is withheld like the rest: with the
// synchronous log the fleet only answers while the decision is planned
// and counts it once it is recorded; a refused decision is not counted.
// With the asynchronous log it counts as it answers, as before.
func TestFleetCountsRecordedDecisions(t *testing.T) {
	for _, durable := range []bool{true, false} {
		f := &fakeFleet{}
		l, _ := newLog(t, decisionlog.Config{Sync: durable})
		s := newTestService(t, Options{Velocity: newTracker(t), Fleet: f, DecisionLog: l, DecisionLogSync: durable})
		mustDecide(t, s, cleanPayment)
		want := []bool{false, true}
		if !durable {
			want = []bool{true}
		}
		if !slices.Equal(f.money, want) {
			t.Fatalf("sync %v: fleet counted %v, want %v", durable, f.money, want)
		}
		if !durable {
			continue
		}
		l.Close(context.Background())
		refused(t, s, cleanPayment)
		if want := []bool{false, true, false}; !slices.Equal(f.money, want) {
			t.Fatalf("a refused decision: fleet counted %v, want %v", f.money, want)
		}
	}
}
