package state

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
)

// Everything written, sync or async, is there after Close and Open.
func TestRestart(t *testing.T) {
	for _, mode := range []Mode{Sync, Async} {
		t.Run(fmt.Sprint(map[Mode]string{Sync: "sync", Async: "async"}[mode]), func(t *testing.T) {
			// FlushInterval 1h: async changes reach the file only at Close.
			s, clk, path := openTest(t, func(c *Config) { c.FlushInterval = time.Hour })
			now := clk.Now()
			mustPut(t, s, block(pdp.SubjectDevice, "d-1", "farm"))
			mustPut(t, s, pdp.ListEntry{List: pdp.ListAllow, Subject: pdp.SubjectIP, Value: "10.0.0.1", Expires: now.Add(time.Hour)})
			v := pdp.Verification{UID: "u-0", Subject: "t-0", Methods: []string{"face"}, Results: map[string]pdp.VerificationResult{"face": pdp.VerificationRefused}, UpdatedAt: now}
			if err := s.PutVerification(bg, v); err != nil {
				t.Fatal(err)
			}
			key, err := s.Secret(bg, "stepup")
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]*pdp.AccountState{}
			for i := range 200 {
				uid := fmt.Sprint("u-", i)
				st, err := s.UpdateAccount(bg, uid, mode, &pdp.AuditRecord{Action: "freeze"}, func(a *pdp.AccountState) error {
					a.Freezes = append(a.Freezes, pdp.Freeze{Kind: pdp.FreezeReview, Functions: []pdp.Stage{pdp.StagePayment}, Since: now, Rule: "r"})
					a.Devices = append(a.Devices, pdp.KnownDevice{ID: "d-" + uid, FirstSeen: now, LastSeen: now})
					a.Limits = append(a.Limits, pdp.Limit{MaxAmount: 100.5, DailyAmount: 1000, Currency: "CNY", Duration: 24 * time.Hour, Until: now.Add(24 * time.Hour)})
					a.Probation = pdp.Probation{Since: now, Until: now.Add(24 * time.Hour), Reason: "release"}
					a.Habit.Observe(float64(100+i), "digital")
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				want[uid] = st
			}
			if mode == Async && s.Stats().OverlayPending != 200 {
				t.Fatalf("%d UIDs pending before Close, want 200", s.Stats().OverlayPending)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}

			s2 := reopen(t, path, clk)
			if r := mustRep(t, s2, pdp.SubjectDevice, "d-1", now); !r.Blocked || r.BlockReason != "farm" {
				t.Errorf("block entry after restart: %+v", r)
			}
			if r := mustRep(t, s2, pdp.SubjectIP, "10.0.0.1", now); !r.Allowed {
				t.Errorf("allow entry after restart: %+v", r)
			}
			if got, ok, err := s2.Verification("u-0", "t-0", now); !ok || err != nil || !reflect.DeepEqual(got, v) {
				t.Errorf("verification after restart: %+v, %v, %v", got, ok, err)
			}
			if k, _ := s2.Secret(bg, "stepup"); string(k) != string(key) {
				t.Error("secret changed across restart")
			}
			for uid, st := range want {
				if got := mustAccount(t, s2, uid, now); !reflect.DeepEqual(got, st) {
					t.Fatalf("%s after restart:\n got %+v\nwant %+v", uid, got, st)
				}
			}
			if n := len(journal(t, s2, JournalFilter{})); n != 2+200 {
				t.Errorf("journal has %d records after restart, want 202", n)
			}
		})
	}
}

// The spending habit is part of the account: it accumulates over the
// updates and survives a restart.
func TestHabitAccumulates(t *testing.T) {
	s, clk, path := openTest(t)
	for i := range 5 {
		if _, err := s.UpdateAccount(bg, "u-h", Async, nil, func(a *pdp.AccountState) error {
			a.Habit.Observe(float64(100*(i+1)), []string{"digital", "travel"}[i%2])
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	check := func(s *Store, when string) {
		h := mustAccount(t, s, "u-h", clk.Now()).Habit
		if h.Count != 5 || len(h.Categories) != 2 || h.Categories[0].Category != "digital" || h.Mean <= 100 {
			t.Fatalf("habit %s: %+v", when, h)
		}
	}
	check(s, "before the restart")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	check(reopen(t, path, clk), "after the restart")
}
