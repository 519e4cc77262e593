package fleet

import (
	"testing"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/fleet/fleettest"
	"github.com/riskpdp/riskpdp/pdp/internal/state"
)

func blocked(t testing.TB, st *state.Store, ip string, at time.Time) bool {
	t.Helper()
	rep, err := st.Reputation(pdp.SubjectIP, ip, at)
	if err != nil {
		t.Fatalf("Reputation(%s): %v", ip, err)
	}
	return rep.Blocked
}

// TestRangesAcrossSidecars: an IP range put through sidecar A blocks the
// addresses inside it on sidecar B (its range index follows A's writes
// through the invalidation channel), expires by its TTL on both, is
// deleted on both, and is in force on a sidecar started later and after
// Redis restarts (the index is built from Redis at Open).
func TestRangesAcrossSidecars(t *testing.T) {
	r := fleettest.Start(t)
	a, _ := sidecarState(t, r.Addr, Config{})
	b, _ := sidecarState(t, r.Addr, Config{})
	now := time.Now()
	if blocked(t, b, "10.1.2.3", now) {
		t.Fatal("blocked before any entry")
	}
	start := time.Now()
	if err := a.PutListEntry(ctx, block(pdp.SubjectIP, "10.0.0.0/8"), alice); err != nil {
		t.Fatal(err)
	}
	if !blocked(t, a, "10.1.2.3", now) {
		t.Fatal("A: not blocked once PutListEntry returned")
	}
	within(t, 5*time.Second, "B sees A's range", func() bool { return blocked(t, b, "10.1.2.3", now) })
	d := time.Since(start)
	if blocked(t, b, "11.0.0.1", now) {
		t.Fatal("B: an address outside the range is blocked")
	}
	ttl := block(pdp.SubjectIP, "2001:db8:77::/48")
	ttl.Expires = now.Add(time.Hour)
	if err := a.PutListEntry(ctx, ttl, alice); err != nil {
		t.Fatal(err)
	}
	vip := pdp.ListEntry{List: pdp.ListVIP, Subject: pdp.SubjectIP, Value: "192.0.2.0/24", Reason: "partner"}
	if err := a.PutListEntry(ctx, vip, alice); err != nil {
		t.Fatal(err)
	}
	within(t, 5*time.Second, "B sees the IPv6 range", func() bool { return blocked(t, b, "2001:db8:77::9", now) })
	within(t, 5*time.Second, "B sees the VIP range", func() bool {
		rep, err := b.Reputation(pdp.SubjectIP, "192.0.2.55", now)
		return err == nil && rep.VIP && !rep.Blocked
	})
	if blocked(t, b, "2001:db8:77::9", now.Add(time.Hour)) || blocked(t, a, "2001:db8:77::9", now.Add(time.Hour)) {
		t.Fatal("the range blocks past its expiry")
	}
	if found, err := a.DeleteListEntry(ctx, pdp.ListBlock, pdp.SubjectIP, "10.0.0.0/8", alice); err != nil || !found {
		t.Fatal(found, err)
	}
	within(t, 5*time.Second, "B sees the delete", func() bool { return !blocked(t, b, "10.1.2.3", now) })

	// A sidecar started later has the ranges at once.
	c, _ := sidecarState(t, r.Addr, Config{})
	if !blocked(t, c, "2001:db8:77::9", now) || blocked(t, c, "10.1.2.3", now) {
		t.Fatal("a new sidecar does not have the ranges")
	}
	if n := c.Stats().IPRanges; n != 2 {
		t.Fatalf("new sidecar: %d ranges in its index", n)
	}
	// Redis restarts (append-only file): the ranges are still there.
	r.Stop()
	r.Start()
	d2, _ := sidecarState(t, r.Addr, Config{})
	if !blocked(t, d2, "2001:db8:77::9", now) {
		t.Fatal("range lost across a Redis restart")
	}
	within(t, 5*time.Second, "B rebuilds after the restart", func() bool {
		return b.Stats().RangeRebuilds >= 2 && blocked(t, b, "2001:db8:77::9", now)
	})
	t.Logf("%v: a range through A blocked on B %v after A's PutListEntry began", r, d)
}

// deaf is a Shared backend whose Store hears nothing from the other
// sidecars: its invalidation callbacks are kept for the test to call.
type deaf struct {
	*Backend
	changed func(state.Bucket, []byte)
	lost    func()
}

func (d *deaf) Watch(changed func(state.Bucket, []byte), lost func()) {
	d.changed, d.lost = changed, lost
}

// TestRangesWithLostInvalidations: a sidecar that missed the
// invalidations of a range (subscription lost) rebuilds its index when it
// is told so, and otherwise every CacheTTL (at least a second).
func TestRangesWithLostInvalidations(t *testing.T) {
	r := fleettest.Start(t)
	a, _ := sidecarState(t, r.Addr, Config{})
	be, err := Open(Config{Addrs: []string{r.Addr}, HealthInterval: 20 * time.Millisecond, ReadBudget: time.Second}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	d := &deaf{Backend: be}
	b, err := state.Open(state.Config{Backend: d})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	now := time.Now()
	if err := a.PutListEntry(ctx, block(pdp.SubjectIP, "198.51.100.0/24"), alice); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if blocked(t, b, "198.51.100.7", now) {
		t.Fatal("a deaf sidecar saw the range: the test proves nothing")
	}
	d.lost()
	within(t, 5*time.Second, "rebuild after a loss", func() bool { return blocked(t, b, "198.51.100.7", now) })

	// The backstop: a sidecar with a 1 s CacheTTL and no invalidations at
	// all reads the ranges again within about a second.
	be2, err := Open(Config{Addrs: []string{r.Addr}, HealthInterval: 20 * time.Millisecond, ReadBudget: time.Second}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	c, err := state.Open(state.Config{Backend: &deaf{Backend: be2}, CacheTTL: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := a.PutListEntry(ctx, block(pdp.SubjectIP, "203.0.113.0/24"), alice); err != nil {
		t.Fatal(err)
	}
	took := within(t, 5*time.Second, "periodic rebuild", func() bool { return blocked(t, c, "203.0.113.9", now) })
	t.Logf("periodic rebuild picked the range up after %v", took)
}
