package state

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
)

func TestUpdateAccount(t *testing.T) {
	for _, mode := range []Mode{Sync, Async} {
		t.Run(fmt.Sprint(mode), func(t *testing.T) {
			s, clk, _ := openTest(t)
			now := clk.Now()
			freeze := pdp.Freeze{Kind: pdp.FreezeTemporary, Functions: []pdp.Stage{pdp.StageWithdrawal}, Since: now, Until: now.Add(30 * time.Minute), Rule: "burst", TxnID: "t-1"}
			st, err := s.UpdateAccount(bg, "u-1", mode, &pdp.AuditRecord{Action: "freeze", Actor: pdp.Actor{Operator: "pdp"}}, func(a *pdp.AccountState) error {
				if a.UID != "u-1" || len(a.Freezes) != 0 {
					t.Errorf("fn got %+v, want empty state of u-1", a)
				}
				a.Freezes = append(a.Freezes, freeze)
				a.Devices = append(a.Devices, pdp.KnownDevice{ID: "d-1", FirstSeen: now, LastSeen: now})
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			got := mustAccount(t, s, "u-1", now)
			if len(got.Freezes) != 1 || got.Freezes[0].Rule != "burst" || len(got.Devices) != 1 || len(st.Freezes) != 1 {
				t.Errorf("Account after update = %+v, returned %+v", got, st)
			}
			// fn error aborts and is returned as is.
			errAbort := errors.New("abort")
			if _, err := s.UpdateAccount(bg, "u-1", mode, &pdp.AuditRecord{}, func(a *pdp.AccountState) error {
				a.Freezes = nil
				return errAbort
			}); err != errAbort {
				t.Errorf("aborted update error = %v", err)
			}
			if a := mustAccount(t, s, "u-1", now); len(a.Freezes) != 1 {
				t.Errorf("aborted update changed the state: %+v", a)
			}
			// The previous snapshot is not modified by a later update.
			if _, err := s.UpdateAccount(bg, "u-1", mode, nil, func(a *pdp.AccountState) error {
				a.Freezes[0].Rule = "changed"
				a.Freezes[0].Functions[0] = pdp.StageLogin
				a.Devices = a.Devices[:0]
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if st.Freezes[0].Rule != "burst" || st.Freezes[0].Functions[0] != pdp.StageWithdrawal || len(st.Devices) != 1 {
				t.Errorf("old snapshot modified: %+v", st)
			}
			if err := s.Flush(bg); err != nil {
				t.Fatal(err)
			}
			recs := journal(t, s, JournalFilter{UID: "u-1"})
			if len(recs) != 1 || recs[0].Action != "freeze" || recs[0].UID != "u-1" || !recs[0].At.Equal(now) {
				t.Errorf("journal = %+v, want one freeze record", recs)
			}
		})
	}
}

func TestUpdateAccountRefuses(t *testing.T) {
	s, _, _ := openTest(t)
	tests := []struct {
		name string
		uid  string
		mode Mode
		fn   func(*pdp.AccountState)
	}{
		{"empty uid", "", Sync, func(*pdp.AccountState) {}},
		{"long uid", strings.Repeat("u", maxValueLen+1), Async, func(*pdp.AccountState) {}},
		{"no mode", "u", 0, func(*pdp.AccountState) {}},
		{"freeze kind", "u", Async, func(a *pdp.AccountState) { a.Freezes = []pdp.Freeze{{Kind: 9}} }},
		{"freeze stage", "u", Sync, func(a *pdp.AccountState) {
			a.Freezes = []pdp.Freeze{{Kind: pdp.FreezeReview, Functions: []pdp.Stage{42}}}
		}},
		{"NaN limit", "u", Async, func(a *pdp.AccountState) { a.Limits = []pdp.Limit{{MaxAmount: math.NaN()}} }},
		{"Inf limit", "u", Sync, func(a *pdp.AccountState) { a.Limits = []pdp.Limit{{DailyAmount: math.Inf(1)}} }},
		{"negative limit", "u", Async, func(a *pdp.AccountState) { a.Limits = []pdp.Limit{{MaxAmount: -1}} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.UpdateAccount(bg, tt.uid, tt.mode, &pdp.AuditRecord{}, func(a *pdp.AccountState) error { tt.fn(a); return nil })
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error = %v, want ErrInvalid", err)
			}
		})
	}
	if a := mustAccount(t, s, "u", t0); len(a.Freezes)+len(a.Limits) != 0 {
		t.Errorf("refused updates left %+v", a)
	}
	if s.Stats().OverlayPending != 0 {
		t.Error("refused async update is pending")
	}
}

// TestOperatorLimitsOutlastReleases: past MaxLimits the releases' limits
// go first, so a run of verified payments (each release adding a cap of
// its own) cannot push out the cap an operator set; the mark survives the
// codec.
func TestOperatorLimitsOutlastReleases(t *testing.T) {
	s, clk, path := openTest(t)
	until := clk.Now().Add(24 * time.Hour)
	op := pdp.Limit{DailyAmount: 500, Currency: "CNY", Duration: 24 * time.Hour, Until: until, Operator: true}
	if _, err := s.UpdateAccount(bg, "u-op", Sync, nil, func(a *pdp.AccountState) error {
		a.Limits = append(a.Limits, op)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for i := range 2 * MaxLimits {
		if _, err := s.UpdateAccount(bg, "u-op", Sync, nil, func(a *pdp.AccountState) error {
			a.Limits = append(a.Limits, pdp.Limit{DailyAmount: float64(15000 + i), Currency: "CNY", Until: until})
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	st := mustAccount(t, reopen(t, path, clk), "u-op", clk.Now())
	if len(st.Limits) != MaxLimits || st.Limits[0] != op || st.Limits[1].DailyAmount != float64(15000+MaxLimits+1) {
		t.Fatalf("kept %d limits: %+v", len(st.Limits), st.Limits)
	}
}

func TestUpdateAccountBounds(t *testing.T) {
	s, clk, _ := openTest(t)
	now := clk.Now()
	st, err := s.UpdateAccount(bg, "u-b", Sync, nil, func(a *pdp.AccountState) error {
		for i := range 200 {
			at := now.Add(-time.Duration(i) * time.Hour)
			a.Events = append(a.Events, pdp.AccountEvent{Kind: "login_failed", At: at})
			a.Devices = append(a.Devices, pdp.KnownDevice{ID: fmt.Sprint("d-", i), LastSeen: at})
			a.Flags = append(a.Flags, pdp.CaseFlag{Kind: "follow_up", At: at})
			a.Limits = append(a.Limits, pdp.Limit{MaxAmount: float64(i), Until: now.Add(time.Duration(i-100) * time.Hour)})
			kind := pdp.FreezeTemporary
			if i%50 == 0 {
				kind = pdp.FreezePermanent
			}
			a.Freezes = append(a.Freezes, pdp.Freeze{Kind: kind, Since: at, Until: now.Add(time.Duration(i-100) * time.Minute)})
		}
		a.Events = append(a.Events, pdp.AccountEvent{Kind: "ancient", At: now.Add(-EventMaxAge - time.Second)})
		a.Probation = pdp.Probation{Since: now.Add(-48 * time.Hour), Until: now.Add(-24 * time.Hour)}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Events) != MaxEvents || !st.Events[MaxEvents-1].At.Equal(now) || !st.Events[0].At.Equal(now.Add(-63*time.Hour)) {
		t.Errorf("events: %d kept, newest %v, oldest %v", len(st.Events), st.Events[len(st.Events)-1].At, st.Events[0].At)
	}
	if len(st.Devices) != MaxDevices || st.Devices[MaxDevices-1].ID != "d-0" || st.Devices[0].ID != "d-31" {
		t.Errorf("devices: %d kept, %s..%s", len(st.Devices), st.Devices[0].ID, st.Devices[len(st.Devices)-1].ID)
	}
	if len(st.Flags) != MaxFlags {
		t.Errorf("flags: %d kept", len(st.Flags))
	}
	if len(st.Limits) != MaxLimits || st.Limits[0].MaxAmount != 200-MaxLimits {
		t.Errorf("limits: %d kept, first %v", len(st.Limits), st.Limits[0].MaxAmount)
	}
	for _, l := range st.Limits {
		if !now.Before(l.Until) {
			t.Errorf("expired limit kept: %+v", l)
		}
	}
	if len(st.Freezes) != MaxFreezes {
		t.Errorf("freezes: %d kept", len(st.Freezes))
	}
	perm := 0
	for _, f := range st.Freezes {
		if !f.Active(now) {
			t.Errorf("expired freeze kept: %+v", f)
		}
		if f.Kind == pdp.FreezePermanent {
			perm++
		}
	}
	if perm != 1 { // i = 150: older than the 31 newest, kept for being permanent
		t.Errorf("%d permanent freezes kept, want 1", perm)
	}
	if st.Probation != (pdp.Probation{}) {
		t.Errorf("expired probation kept: %+v", st.Probation)
	}
	if a := mustAccount(t, s, "u-b", now); len(a.Events) != MaxEvents {
		t.Errorf("stored account has %d events", len(a.Events))
	}
}

// The events kept are the newest of each kind: a flood of failed logins
// (a user makes them at will) does not push out the password reset and
// the profile changes the decisions read.
func TestEventFloodKeepsOtherKinds(t *testing.T) {
	s, clk, _ := openTest(t)
	now := clk.Now()
	reset := pdp.AccountEvent{Kind: "password_reset", At: now.Add(-time.Hour)}
	phone := pdp.AccountEvent{Kind: "phone_change", At: now.Add(-2 * time.Hour)}
	st, err := s.UpdateAccount(bg, "u-flood", Sync, nil, func(a *pdp.AccountState) error {
		a.Events = append(a.Events, phone, reset)
		for i := range 3 * MaxEvents {
			a.Events = append(a.Events, pdp.AccountEvent{Kind: "login_failed", At: now.Add(time.Duration(i-3*MaxEvents) * time.Second)})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	a := mustAccount(t, s, "u-flood", now)
	for _, got := range [][]pdp.AccountEvent{st.Events, a.Events} {
		failed := 0
		for _, e := range got {
			if e.Kind == "login_failed" {
				failed++
			}
		}
		if !slices.Contains(got, reset) || !slices.Contains(got, phone) || failed != MaxEvents {
			t.Errorf("after %d failed logins: reset kept %v, phone change kept %v, %d failures kept",
				3*MaxEvents, slices.Contains(got, reset), slices.Contains(got, phone), failed)
		}
		if !slices.IsSortedFunc(got, func(x, y pdp.AccountEvent) int { return x.At.Compare(y.At) }) {
			t.Errorf("events not oldest first")
		}
	}
}

func TestAccountUnknown(t *testing.T) {
	s, _, _ := openTest(t)
	a := mustAccount(t, s, "u-none", t0)
	if a.UID != "u-none" || a.Freezes != nil || a.Events != nil {
		t.Errorf("unknown account = %+v, want empty with UID", a)
	}
}

// Ended freezes stay as history (an account that was frozen is not
// "clean"; a temporary freeze's probation is derived from it) until
// FreezeHistory after they end, probation included.
func TestEndedFreezesStayAsHistory(t *testing.T) {
	s, clk, _ := openTest(t)
	ctx := context.Background()
	now := clk.Now()
	_, err := s.UpdateAccount(ctx, "u", Sync, nil, func(a *pdp.AccountState) error {
		a.Freezes = append(a.Freezes,
			pdp.Freeze{Kind: pdp.FreezeTemporary, Since: now, Until: now.Add(time.Minute), ProbationAfter: 24 * time.Hour},
			pdp.Freeze{Kind: pdp.FreezeReview, Since: now, Until: now.Add(time.Second)})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	touch := func(time.Time) *pdp.AccountState {
		a, err := s.UpdateAccount(ctx, "u", Sync, nil, func(*pdp.AccountState) error { return nil })
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	clk.Add(time.Hour)
	if a := touch(clk.Now()); len(a.Freezes) != 2 {
		t.Fatalf("ended freezes pruned at once: %+v", a.Freezes)
	}
	clk.Add(FreezeHistory + 2*time.Second - time.Hour)
	if a := touch(clk.Now()); len(a.Freezes) != 1 || a.Freezes[0].Kind != pdp.FreezeTemporary {
		t.Fatalf("history kept past FreezeHistory (or the probation's freeze dropped too early): %+v", a.Freezes)
	}
	clk.Add(25*time.Hour - 2*time.Second)
	if a := touch(clk.Now()); len(a.Freezes) != 0 {
		t.Fatalf("history never pruned: %+v", a.Freezes)
	}
}
