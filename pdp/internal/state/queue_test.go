package state

import (
	"slices"
	"testing"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
	bolt "go.etcd.io/bbolt"
)

func queued(t *testing.T, s *Store) []string {
	t.Helper()
	var uids []string
	if err := s.Queue(bg, func(uid string) error {
		uids = append(uids, uid)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return uids
}

// TestQueueIndexFollowsWork: an account enters the queue with its first
// open work, whatever wrote it (a decision's flag, asynchronously; an
// operator's review freeze or an appeal), and leaves it with the
// operator's change that closes the last of it.
func TestQueueIndexFollowsWork(t *testing.T) {
	s, clk, _ := openTest(t)
	update := func(uid string, mode Mode, fn func(a *pdp.AccountState)) {
		t.Helper()
		if _, err := s.UpdateAccount(bg, uid, mode, nil, func(a *pdp.AccountState) error { fn(a); return nil }); err != nil {
			t.Fatal(err)
		}
		if err := s.Flush(bg); err != nil {
			t.Fatal(err)
		}
	}
	now := clk.Now()
	update("u-plain", Async, func(a *pdp.AccountState) {
		a.Devices = append(a.Devices, pdp.KnownDevice{ID: "d", FirstSeen: now, LastSeen: now})
	})
	update("u-flag", Async, func(a *pdp.AccountState) {
		a.Flags = append(a.Flags, pdp.CaseFlag{Kind: "key_tracking", DecisionID: "d1", At: now})
	})
	update("u-review", Sync, func(a *pdp.AccountState) {
		a.Freezes = append(a.Freezes, pdp.Freeze{Kind: pdp.FreezeReview, Since: now})
	})
	update("u-temp", Sync, func(a *pdp.AccountState) {
		a.Freezes = append(a.Freezes, pdp.Freeze{Kind: pdp.FreezeTemporary, Since: now, Until: now.Add(time.Hour)})
	})
	update("u-appeal", Sync, func(a *pdp.AccountState) {
		a.Appeals = append(a.Appeals, pdp.Appeal{ID: "ap-1", Reason: "travel", At: now, Status: pdp.AppealOpen})
	})
	if got, want := queued(t, s), []string{"u-appeal", "u-flag", "u-review"}; !slices.Equal(got, want) {
		t.Fatalf("queue %v, want %v", got, want)
	}
	update("u-flag", Sync, func(a *pdp.AccountState) { a.Flags = nil })
	update("u-review", Sync, func(a *pdp.AccountState) { a.Freezes[0].Until = clk.Now() })
	update("u-appeal", Sync, func(a *pdp.AccountState) { a.Appeals[0].Status = pdp.AppealGranted })
	if got := queued(t, s); len(got) != 0 {
		t.Fatalf("queue %v after closing every piece of work, want none", got)
	}
}

// TestQueueIndexedAtOpen: a state written before the queue existed gets
// its accounts with open work indexed once when it is opened.
func TestQueueIndexedAtOpen(t *testing.T) {
	s, clk, path := openTest(t)
	now := clk.Now()
	if _, err := s.UpdateAccount(bg, "u-flag", Sync, nil, func(a *pdp.AccountState) error {
		a.Flags = append(a.Flags, pdp.CaseFlag{Kind: "key_tracking", DecisionID: "d1", At: now})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket([]byte("meta")).Delete(queueIndexedKey); err != nil {
			return err
		}
		return tx.Bucket([]byte("queue")).Delete([]byte("u-flag"))
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	s = reopen(t, path, clk)
	if got := queued(t, s); !slices.Equal(got, []string{"u-flag"}) {
		t.Fatalf("queue after reopening a state without its index: %v", got)
	}
}
