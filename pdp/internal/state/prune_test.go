package state

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
)

// journalDecisions adds, for each of uids in turn, one decision record
// (async, as the decision path does) and, every 100th, an operator action
// (sync), and returns the seqs of the operator actions.
func journalDecisions(t testing.TB, s *Store, clk *fakeClock, n int, uids ...string) (operator []uint64) {
	t.Helper()
	for i := range n {
		uid := uids[i%len(uids)]
		rec := &pdp.AuditRecord{Action: pdp.ActionDecision, Actor: pdp.Actor{Operator: "pdp", Reason: "decision"}, Target: fmt.Sprint("decision/", i)}
		if _, err := s.UpdateAccount(bg, uid, Async, rec, func(*pdp.AccountState) error { return nil }); err != nil {
			t.Fatal(err)
		}
		if i%100 == 0 {
			op := &pdp.AuditRecord{Action: "freeze", Actor: pdp.Actor{Operator: "alice", Reason: "fraud"}}
			if _, err := s.UpdateAccount(bg, uid, Sync, op, func(*pdp.AccountState) error { return nil }); err != nil {
				t.Fatal(err)
			}
			operator = append(operator, lastSeq(t, s))
		}
		clk.Add(time.Second)
	}
	if err := s.Flush(bg); err != nil {
		t.Fatal(err)
	}
	return operator
}

func lastSeq(t testing.TB, s *Store) uint64 {
	recs := journal(t, s, JournalFilter{})
	return recs[len(recs)-1].Seq
}

// checkTrail: the journal holds every operator action, and decision
// records exactly where keep says; the UID index agrees with the journal.
func checkTrail(t *testing.T, s *Store, operator []uint64, keep func(a pdp.AuditRecord) bool, uids ...string) {
	t.Helper()
	var ops, all []uint64
	for _, a := range journal(t, s, JournalFilter{}) {
		all = append(all, a.Seq)
		if a.Action == pdp.ActionDecision {
			if !keep(a) {
				t.Errorf("decision record %d (%v) not pruned", a.Seq, a.At)
			}
			continue
		}
		ops = append(ops, a.Seq)
	}
	if !slices.Equal(ops, operator) {
		t.Errorf("operator actions %v, want %v", ops, operator)
	}
	var byUID []uint64
	for _, u := range uids {
		for _, a := range journal(t, s, JournalFilter{UID: u}) {
			byUID = append(byUID, a.Seq)
		}
	}
	slices.Sort(byUID)
	if !slices.Equal(byUID, all) {
		t.Errorf("by UID %v, journal %v", byUID, all)
	}
	index := 0 // index entries of pruned records must be gone too
	if err := s.be.Scan(BucketJournalByUID, nil, nil, func(_, _ []byte) error { index++; return nil }); err != nil {
		t.Fatal(err)
	}
	if index != len(all) {
		t.Errorf("%d UID index entries for %d records", index, len(all))
	}
}

// TestPruneDecisionTrail: decision records further back than
// DecisionTrailMax are pruned, with their index entries, chunk by chunk;
// operator actions stay; pruning goes on from where it stopped.
func TestPruneDecisionTrail(t *testing.T) {
	s, clk, _ := openTest(t, func(c *Config) { c.DecisionTrailMax = 20; c.DecisionTrailRetention = -1 })
	uids := []string{"u-1", "u-2", "u-3"}
	operator := journalDecisions(t, s, clk, 2*sweepChunk+100, uids...)
	removed, err := s.Sweep(bg)
	if err != nil {
		t.Fatal(err)
	}
	last := lastSeq(t, s)
	keep := func(a pdp.AuditRecord) bool { return a.Seq > last-20 }
	checkTrail(t, s, operator, keep, uids...)
	total := len(journal(t, s, JournalFilter{}))
	if kept := total - len(operator); removed != 2*sweepChunk+100-kept || kept == 0 || kept > 20 {
		t.Errorf("removed %d, kept %d of %d decision records", removed, kept, 2*sweepChunk+100)
	}
	if st := s.Stats(); st.Pruned != uint64(removed) {
		t.Errorf("Stats.Pruned %d, removed %d", st.Pruned, removed)
	}
	operator = append(operator, journalDecisions(t, s, clk, 150, uids...)...)
	if _, err := s.Sweep(bg); err != nil {
		t.Fatal(err)
	}
	last = lastSeq(t, s)
	checkTrail(t, s, operator, keep, uids...)
}

// TestPruneDecisionTrailByAge: decision records older than the retention
// are pruned, also after a restart (before this Store commits anything).
func TestPruneDecisionTrailByAge(t *testing.T) {
	s, clk, path := openTest(t, func(c *Config) { c.DecisionTrailRetention = time.Hour })
	operator := journalDecisions(t, s, clk, 30, "u-1")
	clk.Add(time.Hour - 10*time.Second) // the last 10 are younger than an hour
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := Open(Config{Path: path, Clock: clk.Now, SweepInterval: -1, DecisionTrailRetention: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if n, err := s.Sweep(bg); err != nil || n != 20 {
		t.Fatalf("Sweep: %d, %v; want 20 pruned", n, err)
	}
	cutoff := clk.Now().Add(-time.Hour)
	checkTrail(t, s, operator, func(a pdp.AuditRecord) bool { return !a.At.Before(cutoff) }, "u-1")
}

// TestPruneDecisionTrailOff: with both bounds off, nothing is pruned.
func TestPruneDecisionTrailOff(t *testing.T) {
	s, clk, _ := openTest(t, func(c *Config) { c.DecisionTrailMax = -1; c.DecisionTrailRetention = -1 })
	journalDecisions(t, s, clk, 30, "u-1")
	clk.Add(1000 * time.Hour)
	if n, err := s.Sweep(bg); err != nil || n != 0 {
		t.Fatalf("Sweep: %d, %v; want nothing pruned", n, err)
	}
}
