package fleet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/fleet/fleettest"
	"github.com/riskpdp/riskpdp/pdp/internal/state"
)

var quiet = slog.New(slog.DiscardHandler)

// sidecarState opens a Store on the Redis at addr, as one sidecar would;
// mods adjust the Store's config.
func sidecarState(t testing.TB, addr string, cfg Config, mods ...func(*state.Config)) (*state.Store, *Backend) {
	t.Helper()
	cfg.Addrs = []string{addr}
	if cfg.HealthInterval == 0 {
		cfg.HealthInterval = 20 * time.Millisecond
	}
	if cfg.ReadBudget == 0 {
		// Generous: these tests are about behaviour, not the budget
		// (TestReadBudget), and -race on a loaded 2-core machine is slow.
		cfg.ReadBudget = time.Second
	}
	be, err := Open(cfg, quiet)
	if err != nil {
		t.Fatal(err)
	}
	sc := state.Config{Backend: be}
	for _, m := range mods {
		m(&sc)
	}
	st, err := state.Open(sc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st, be
}

var ctx = context.Background()

func block(kind pdp.SubjectKind, value string) pdp.ListEntry {
	return pdp.ListEntry{List: pdp.ListBlock, Subject: kind, Value: value, Reason: "fraud ring"}
}

var alice = pdp.AuditRecord{Actor: pdp.Actor{Operator: "alice", Ticket: "RISK-1"}}

// TestStoreOnRedis runs the Store's operations on Redis and finds
// everything again through a new Store (a restarted sidecar).
func TestStoreOnRedis(t *testing.T) {
	r := fleettest.Start(t)
	st, _ := sidecarState(t, r.Addr, Config{})
	now := time.Now()
	for i := range 300 { // more than a scan page
		if err := st.PutListEntry(ctx, block(pdp.SubjectDevice, fmt.Sprintf("d-%03d", i)), alice); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.UpdateAccount(ctx, "u-1", state.Sync, &pdp.AuditRecord{Action: "freeze", Actor: alice.Actor}, func(a *pdp.AccountState) error {
		a.Freezes = append(a.Freezes, pdp.Freeze{Kind: pdp.FreezeReview, Since: now, Rule: "manual"})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.UpdateAccount(ctx, "u-2", state.Async, &pdp.AuditRecord{Action: "flag", Actor: pdp.Actor{Operator: "pdp"}}, func(a *pdp.AccountState) error {
		a.Flags = append(a.Flags, pdp.CaseFlag{Kind: "key_tracking", At: now})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := st.PutVerification(ctx, pdp.Verification{ChallengeID: "c-1", UID: "u-1", Subject: "t-1", Methods: []string{"face"},
		Results: map[string]pdp.VerificationResult{"face": pdp.VerificationPassed}, Expires: now.Add(time.Hour), UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	key, err := st.Secret(ctx, "challenge")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	st2, _ := sidecarState(t, r.Addr, Config{})
	rep, err := st2.Reputation(pdp.SubjectDevice, "d-123", now)
	if err != nil || !rep.Blocked || rep.BlockReason != "fraud ring" {
		t.Fatalf("reputation after restart: %+v, %v", rep, err)
	}
	if rep, _ := st2.Reputation(pdp.SubjectDevice, "d-999", now); rep.Blocked {
		t.Fatal("d-999 was never blocked")
	}
	a, err := st2.Account("u-1", now)
	if err != nil || len(a.Freezes) != 1 {
		t.Fatalf("account u-1: %+v, %v", a, err)
	}
	if a, _ := st2.Account("u-2", now); len(a.Flags) != 1 {
		t.Fatalf("async account change lost: %+v", a)
	}
	if v, ok, err := st2.Verification("u-1", "t-1", now); !ok || err != nil || v.Status() != "passed" {
		t.Fatalf("verification: %+v %v %v", v, ok, err)
	}
	if key2, err := st2.Secret(ctx, "challenge"); err != nil || string(key2) != string(key) {
		t.Fatalf("secret changed across sidecars: %v", err)
	}
	got, err := st2.ListEntries(ctx, pdp.ListBlock, pdp.SubjectDevice, "d-149", 1000)
	if err != nil || len(got) != 150 || got[0].Value != "d-150" {
		t.Fatalf("list after d-149: %d entries, %v", len(got), err)
	}
	var n, u1 int
	if err := st2.Journal(ctx, state.JournalFilter{}, func(pdp.AuditRecord) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	if err := st2.Journal(ctx, state.JournalFilter{UID: "u-1"}, func(pdp.AuditRecord) error { u1++; return nil }); err != nil {
		t.Fatal(err)
	}
	if n < 302 || u1 < 1 {
		t.Fatalf("journal: %d records, %d of u-1", n, u1)
	}
	if ok, err := st2.DeleteListEntry(ctx, pdp.ListBlock, pdp.SubjectDevice, "d-123", alice); !ok || err != nil {
		t.Fatalf("delete: %v %v", ok, err)
	}
	if rep, _ := st2.Reputation(pdp.SubjectDevice, "d-123", now); rep.Blocked {
		t.Fatal("deleted entry still blocks")
	}
}

// TestSecretFirstWins: sidecars starting together agree on one key.
func TestSecretFirstWins(t *testing.T) {
	r := fleettest.Start(t)
	var keys [4][]byte
	var stores [4]*state.Store
	for i := range stores {
		stores[i], _ = sidecarState(t, r.Addr, Config{})
	}
	done := make(chan error, len(stores))
	for i, st := range stores {
		go func() {
			var err error
			keys[i], err = st.Secret(ctx, "challenge")
			done <- err
		}()
	}
	for range stores {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	for i := range keys {
		if string(keys[i]) != string(keys[0]) {
			t.Fatalf("sidecar %d has another challenge key", i)
		}
	}
}

// TestInvalidation: a block made through sidecar A reaches the cache of
// sidecar B, which had cached "not blocked", through pub/sub, not the TTL.
// The propagation delay is measured and logged.
func TestInvalidation(t *testing.T) {
	r := fleettest.Start(t)
	a, _ := sidecarState(t, r.Addr, Config{})
	b, bbe := sidecarState(t, r.Addr, Config{})
	var delays []time.Duration
	for i := range 20 {
		dev := fmt.Sprintf("d-inv-%d", i)
		now := time.Now()
		if rep, err := b.Reputation(pdp.SubjectDevice, dev, now); err != nil || rep.Blocked {
			t.Fatal(rep, err)
		}
		b.Reputation(pdp.SubjectDevice, dev, now) // cached now (NegativeTTL 10 s)
		start := time.Now()
		if err := a.PutListEntry(ctx, block(pdp.SubjectDevice, dev), alice); err != nil {
			t.Fatal(err)
		}
		for {
			rep, err := b.Reputation(pdp.SubjectDevice, dev, now)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Blocked {
				break
			}
			if time.Since(start) > 2*time.Second {
				t.Fatalf("block %d not seen by B after 2 s (its cache TTL is 10 s): no invalidation", i)
			}
			time.Sleep(100 * time.Microsecond)
		}
		delays = append(delays, time.Since(start))
	}
	st := bbe.Stats()
	if st.InvalidationsReceived < 20 {
		t.Fatalf("B received %d invalidations", st.InvalidationsReceived)
	}
	if s := b.Stats(); s.Invalidations < 20 {
		t.Fatalf("B's store dropped %d cache entries", s.Invalidations)
	}
	t.Logf("%v: write through A to B's cache, 20 blocks: %v; publish→receipt last %v max %v",
		r, delays, st.LastDelay, st.MaxDelay)
}

// TestExternalWriteInvalidates: the risk platform writes Redis directly
// and publishes the key; B's cache drops it.
func TestExternalWriteInvalidates(t *testing.T) {
	r := fleettest.Start(t)
	a, abe := sidecarState(t, r.Addr, Config{})
	b, _ := sidecarState(t, r.Addr, Config{})
	now := time.Now()
	b.Account("u-x", now)
	if _, err := a.UpdateAccount(ctx, "u-x", state.Sync, &pdp.AuditRecord{Action: "freeze", Actor: alice.Actor}, func(st *pdp.AccountState) error {
		st.Freezes = append(st.Freezes, pdp.Freeze{Kind: pdp.FreezePermanent, Since: now, Rule: "manual"})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		acct, err := b.Account("u-x", now)
		if err != nil {
			t.Fatal(err)
		}
		if len(acct.Freezes) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("freeze through A not seen by B")
		}
		time.Sleep(time.Millisecond)
	}
	// Now a direct write: delete the account in Redis and publish it.
	c := abe.Client()
	key := abe.key(state.BucketAccounts, []byte("u-x"))
	if err := c.Del(ctx, key).Err(); err != nil {
		t.Fatal(err)
	}
	msg := appendChange(make([]byte, 24), state.BucketAccounts, []byte("u-x"))
	if err := c.Publish(ctx, abe.channel(), msg).Err(); err != nil {
		t.Fatal(err)
	}
	for {
		acct, _ := b.Account("u-x", now)
		if len(acct.Freezes) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("direct write not seen by B")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestReadBudget: with Redis paused, a cache miss answers unknown
// (state.ErrUnavailable) within about the budget; hits still answer.
func TestReadBudget(t *testing.T) {
	r := fleettest.Start(t)
	if !r.Real() {
		t.Skip("miniredis has no CLIENT PAUSE")
	}
	st, be := sidecarState(t, r.Addr, Config{ReadBudget: 5 * time.Millisecond, HealthInterval: time.Hour})
	now := time.Now()
	if err := st.PutListEntry(ctx, block(pdp.SubjectIP, "198.51.100.7"), alice); err != nil {
		t.Fatal(err)
	}
	// Cached: ristretto admits a new entry asynchronously, so read until a
	// read is a hit.
	for hits := st.Stats().CacheHits; st.Stats().CacheHits == hits; time.Sleep(time.Millisecond) {
		st.Reputation(pdp.SubjectIP, "198.51.100.7", now)
	}
	admin := redis.NewClient(&redis.Options{Addr: r.Addr})
	defer admin.Close()
	if err := admin.Do(ctx, "CLIENT", "PAUSE", "500", "ALL").Err(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err := st.Reputation(pdp.SubjectIP, "198.51.100.8", now)
	took := time.Since(start)
	if !errors.Is(err, state.ErrUnavailable) {
		t.Fatalf("miss with Redis paused: %v, want ErrUnavailable", err)
	}
	if took > 300*time.Millisecond {
		t.Fatalf("miss took %v with a 5 ms budget", took)
	}
	if rep, err := st.Reputation(pdp.SubjectIP, "198.51.100.7", now); err != nil || !rep.Blocked {
		t.Fatalf("hit with Redis paused: %+v %v", rep, err)
	}
	// Counted as a budget overrun (also when the socket's deadline fires a
	// moment before the context's), not as a failure of Redis.
	if st := be.Stats(); st.BudgetExceeded == 0 || st.Outages != 0 {
		t.Fatalf("the unknown answer (%v) was not counted as a budget overrun: %+v", err, st)
	}
	t.Logf("miss with Redis paused answered unknown after %v (budget 5 ms)", took)
}
