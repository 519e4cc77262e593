package fleet

import (
	"fmt"
	"testing"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/fleet/fleettest"
	"github.com/riskpdp/riskpdp/pdp/internal/state"
)

// TestCluster runs the state and the invalidation on a real three-master
// Redis Cluster: one account's keys share a slot (hash tags), a commit
// touching many accounts is split per tag, scans walk the indexes, and
// a block through A reaches B's cache.
func TestCluster(t *testing.T) {
	addrs := fleettest.StartCluster(t)
	open := func() (*state.Store, *Backend) {
		be, err := Open(Config{Addrs: addrs, Cluster: true, ReadBudget: time.Second, HealthInterval: 50 * time.Millisecond}, quiet)
		if err != nil {
			t.Fatal(err)
		}
		st, err := state.Open(state.Config{Backend: be})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st, be
	}
	a, abe := open()
	b, bbe := open()
	now := time.Now()

	// Same slot for an account, its UID list entries and verifications.
	slot := func(k string) int64 {
		n, err := abe.Client().ClusterKeySlot(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	acctKey := abe.key(state.BucketAccounts, []byte("u-c"))
	listKey := abe.key(state.BucketLists, append([]byte{byte(pdp.ListBlock), byte(pdp.SubjectUID)}, "u-c"...))
	if slot(acctKey) != slot(listKey) {
		t.Fatalf("account and its UID block in slots %d and %d", slot(acctKey), slot(listKey))
	}

	// A batch over many accounts and subjects (many slots) commits.
	var entries []pdp.ListEntry
	for i := range 50 {
		entries = append(entries, block(pdp.SubjectDevice, fmt.Sprintf("d-c%02d", i)))
	}
	if err := a.PutListEntries(ctx, entries, alice); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		uid := fmt.Sprintf("u-c%02d", i)
		if _, err := a.UpdateAccount(ctx, uid, state.Async, &pdp.AuditRecord{Action: "flag", Actor: pdp.Actor{Operator: "pdp"}}, func(s *pdp.AccountState) error {
			s.Flags = append(s.Flags, pdp.CaseFlag{Kind: "review", At: now})
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := b.ListEntries(ctx, pdp.ListBlock, pdp.SubjectDevice, "", 100)
	if err != nil || len(got) != 50 {
		t.Fatalf("list on the cluster: %d entries, %v", len(got), err)
	}
	for i := range 20 {
		if acct, err := b.Account(fmt.Sprintf("u-c%02d", i), now); err != nil || len(acct.Flags) != 1 {
			t.Fatalf("account %d on the cluster: %+v %v", i, acct, err)
		}
	}
	n := 0
	if err := b.Journal(ctx, state.JournalFilter{UID: "u-c07"}, func(pdp.AuditRecord) error { n++; return nil }); err != nil || n != 1 {
		t.Fatalf("journal of u-c07: %d records, %v", n, err)
	}

	// Invalidation across the cluster.
	b.Reputation(pdp.SubjectIP, "192.0.2.9", now)
	if err := a.PutListEntry(ctx, block(pdp.SubjectIP, "192.0.2.9"), alice); err != nil {
		t.Fatal(err)
	}
	within(t, 2*time.Second, "block through A on B (cluster)", func() bool {
		rep, err := b.Reputation(pdp.SubjectIP, "192.0.2.9", now)
		return err == nil && rep.Blocked
	})

	// Fleet velocity across the cluster.
	va, vb := NewVelocity(abe, VelocityConfig{Interval: 20 * time.Millisecond}), NewVelocity(bbe, VelocityConfig{Interval: 20 * time.Millisecond})
	defer va.Close()
	defer vb.Close()
	vb.Observe(time.Now(), "u-v", "d-v", "", false, &pdp.Velocity{})
	for range 3 {
		va.Observe(time.Now(), "u-v", "d-v", "", true, &pdp.Velocity{})
	}
	within(t, 2*time.Second, "A's payments in B's counts (cluster)", func() bool {
		var v pdp.Velocity
		vb.Observe(time.Now(), "u-v", "d-v", "", false, &v)
		return v.UID.Count1m == 3 && v.Device.Count1h == 3
	})
}
