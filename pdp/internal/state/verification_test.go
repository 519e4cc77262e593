package state

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
)

func TestVerification(t *testing.T) {
	s, clk, _ := openTest(t)
	v := pdp.Verification{
		ChallengeID: "c-1", UID: "u-1", Subject: "t-1", Methods: []string{"sms", "face"},
		Results: map[string]pdp.VerificationResult{"sms": pdp.VerificationPassed}, Expires: t0.Add(5 * time.Minute),
	}
	if _, ok, err := s.Verification("u-1", "t-1", clk.Now()); ok || err != nil {
		t.Fatalf("before put: found %v, err %v", ok, err)
	}
	if err := s.PutVerification(bg, v); err != nil {
		t.Fatal(err)
	}
	got, ok, err := s.Verification("u-1", "t-1", clk.Now())
	v.UpdatedAt = clk.Now()
	if err != nil || !ok || !reflect.DeepEqual(got, v) || got.Status() != "pending" {
		t.Fatalf("Verification = %+v, %v, %v; want %+v", got, ok, err, v)
	}
	v.Results = map[string]pdp.VerificationResult{"sms": pdp.VerificationPassed, "face": pdp.VerificationPassed}
	if err := s.PutVerification(bg, v); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := s.Verification("u-1", "t-1", clk.Now()); got.Status() != "passed" {
		t.Errorf("after second put status = %s, want passed", got.Status())
	}
	// Keys do not run into each other.
	for _, k := range [][2]string{{"u-1", "t-2"}, {"u-1t", "-1"}, {"u-", "1t-1"}} {
		if _, ok, _ := s.Verification(k[0], k[1], clk.Now()); ok {
			t.Errorf("Verification(%q, %q) found", k[0], k[1])
		}
	}
	// Listing by UID: only that UID's, not a UID it prefixes.
	other := pdp.Verification{ChallengeID: "c-2", UID: "u-1x", Subject: "t-1", Methods: []string{"face"}, Expires: t0.Add(time.Minute)}
	second := pdp.Verification{ChallengeID: "c-3", UID: "u-1", Subject: "t-3", Methods: []string{"face"}, Expires: t0.Add(time.Minute)}
	for _, x := range []pdp.Verification{other, second} {
		if err := s.PutVerification(bg, x); err != nil {
			t.Fatal(err)
		}
	}
	if list, err := s.Verifications("u-1"); err != nil || len(list) != 2 || list[0].ChallengeID != "c-1" || list[1].ChallengeID != "c-3" {
		t.Fatalf("Verifications(u-1) = %+v, %v", list, err)
	}

	bad := []pdp.Verification{
		{Subject: "t"},
		{UID: "u"},
		{UID: "u", Subject: "t", Results: map[string]pdp.VerificationResult{"sms": 0}},
		{UID: "u", Subject: "t", Results: map[string]pdp.VerificationResult{"sms": 7}},
	}
	for _, b := range bad {
		if err := s.PutVerification(bg, b); !errors.Is(err, ErrInvalid) {
			t.Errorf("PutVerification(%+v) error = %v, want ErrInvalid", b, err)
		}
	}
}

func TestSweep(t *testing.T) {
	s, clk, _ := openTest(t)
	now := clk.Now()
	mustPut(t, s, pdp.ListEntry{List: pdp.ListBlock, Subject: pdp.SubjectIP, Value: "1.1.1.1", Expires: now.Add(10 * time.Second)})
	mustPut(t, s, pdp.ListEntry{List: pdp.ListBlock, Subject: pdp.SubjectIP, Value: "2.2.2.2", Expires: now.Add(time.Hour)})
	mustPut(t, s, pdp.ListEntry{List: pdp.ListBlock, Subject: pdp.SubjectIP, Value: "3.3.3.3"})
	// Re-put with a later expiry: the first index entry must not delete it.
	mustPut(t, s, pdp.ListEntry{List: pdp.ListVIP, Subject: pdp.SubjectUID, Value: "u-1", Expires: now.Add(5 * time.Second)})
	mustPut(t, s, pdp.ListEntry{List: pdp.ListVIP, Subject: pdp.SubjectUID, Value: "u-1", Expires: now.Add(time.Hour)})
	if err := s.PutVerification(bg, pdp.Verification{UID: "u-1", Subject: "t-1", Expires: now.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	before := len(journal(t, s, JournalFilter{}))
	// Cache what the sweeps will delete, as read at now (still valid then).
	if !mustRep(t, s, pdp.SubjectIP, "1.1.1.1", now).Blocked {
		t.Fatal("1.1.1.1 not blocked")
	}
	if _, ok, _ := s.Verification("u-1", "t-1", now); !ok {
		t.Fatal("verification not found")
	}
	s.c.rc.Wait()

	clk.Add(30 * time.Second)
	if n, err := s.Sweep(bg); err != nil || n != 1 {
		t.Fatalf("Sweep at +30s = %d, %v; want 1 (1.1.1.1)", n, err)
	}
	if !mustRep(t, s, pdp.SubjectUID, "u-1", clk.Now()).VIP {
		t.Error("re-put entry swept by its stale index entry")
	}
	if mustRep(t, s, pdp.SubjectIP, "1.1.1.1", now).Blocked {
		t.Error("swept entry still served from the cache")
	}
	clk.Add(VerificationRetention + time.Hour)
	if n, err := s.Sweep(bg); err != nil || n != 3 {
		t.Fatalf("Sweep a day later = %d, %v; want 3 (2.2.2.2, u-1, verification)", n, err)
	}
	if _, ok, _ := s.Verification("u-1", "t-1", now); ok {
		t.Error("swept verification still served from the cache")
	}
	es, err := s.ListEntries(bg, pdp.ListBlock, pdp.SubjectIP, "", 10)
	if err != nil || len(es) != 1 || es[0].Value != "3.3.3.3" {
		t.Errorf("entries left = %+v, %v; want 3.3.3.3", es, err)
	}
	if after := len(journal(t, s, JournalFilter{})); after != before {
		t.Errorf("sweeping journaled %d records", after-before)
	}
	if st := s.Stats(); st.Swept != 4 {
		t.Errorf("Stats.Swept = %d, want 4", st.Swept)
	}
}

func TestSweeperRuns(t *testing.T) {
	s, clk, _ := openTest(t, func(c *Config) { c.SweepInterval = 5 * time.Millisecond })
	mustPut(t, s, pdp.ListEntry{List: pdp.ListBlock, Subject: pdp.SubjectIP, Value: "1.1.1.1", Expires: clk.Now().Add(time.Second)})
	clk.Add(time.Minute)
	deadline := time.Now().Add(5 * time.Second)
	for s.Stats().Swept == 0 {
		if time.Now().After(deadline) {
			t.Fatal("sweeper did not run")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
