package fleet

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/decide"
	"github.com/riskpdp/riskpdp/pdp/internal/fleet/fleettest"
	"github.com/riskpdp/riskpdp/pdp/internal/state"
)

// TestRedisOutage stops Redis under traffic and starts it again: decisions
// keep flowing (from the cache, else the policy's answer to an unknown state, with the reason
// state_unavailable, never allow), the outage shows in the backend's
// state, operator writes fail loudly, and everything recovers by itself.
//
// On a loaded machine under -race the health checker can also see an
// outage of its own (two pings slower than HealthTimeout: Redis fsyncs
// every write in these tests); the backend's Outages counter tells those
// apart, and the checks that assume Redis up are repeated after one.
func TestRedisOutage(t *testing.T) {
	r := fleettest.Start(t)
	a := newSidecar(t, "A", r.Addr)
	if err := a.st.PutListEntry(ctx, block(pdp.SubjectDevice, "d-bad"), alice); err != nil {
		t.Fatal(err)
	}
	warm := pay("u-warm", "d-bad", "t-w", 20, "CN", "")
	for attempt := 1; ; attempt++ { // the block denies, and is now in the cache
		d := a.decide(t, warm)
		if d.Outcome == pdp.Deny {
			break
		}
		if !slices.Contains(d.Reasons, decide.ReasonStateUnavailable) || a.be.Stats().Outages == 0 || attempt == 10 {
			t.Fatalf("blocked device: %+v (%+v)", d, a.be.Stats())
		}
		t.Logf("an outage seen by the health checker before the test's: %+v", a.be.Stats())
		within(t, time.Minute, "up again", a.be.Up)
	}

	var (
		stop                    atomic.Bool
		decided, allowedUnknown atomic.Int64
		unavailable, warmDenied atomic.Int64
		wg                      sync.WaitGroup
		fails                   = make(chan string, 10)
	)
	for w := range 2 {
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				d, err := a.svc.Decide(ctx, []byte(pay(fmt.Sprintf("u-%d-%d", w, i), fmt.Sprintf("d-%d-%d", w, i), "t", 20, "CN", "")), "")
				if err != nil {
					fails <- err.Error()
					return
				}
				decided.Add(1)
				if slices.Contains(d.Reasons, decide.ReasonStateUnavailable) {
					unavailable.Add(1)
					if d.Outcome == pdp.Allow {
						allowedUnknown.Add(1)
					}
				}
				if d, _ := a.svc.Decide(ctx, []byte(warm), ""); d != nil && d.Outcome == pdp.Deny {
					warmDenied.Add(1)
				}
				time.Sleep(time.Millisecond)
			}
		})
	}
	within(t, time.Minute, "traffic before the outage", func() bool { return decided.Load() >= 4 })
	r.Stop()
	within(t, 2*time.Second, "outage noticed", func() bool { return !a.be.Up() })
	// Decisions keep flowing: each worker has at most one decision of each
	// kind under way, so more than two past a count means one begun with
	// Redis known to be down. Their misses are refused at once (no read
	// waits for the budget), the fresh subjects say state_unavailable and
	// the cached block still denies.
	n0, w0, u0, refused := decided.Load(), warmDenied.Load(), unavailable.Load(), a.be.Stats().Unavailable
	within(t, time.Minute, "decisions during the outage", func() bool {
		return decided.Load() > n0+2 && warmDenied.Load() > w0+2 && unavailable.Load() > u0+2
	})
	if a.be.Stats().Unavailable == refused {
		t.Fatal("no read refused at once during the outage")
	}
	err := a.st.PutListEntry(ctx, block(pdp.SubjectIP, "198.51.100.1"), alice)
	if !errors.Is(err, state.ErrUnavailable) {
		t.Fatalf("operator write during the outage: %v, want ErrUnavailable", err)
	}
	resets := a.st.Stats().CacheResets
	if a.be.DownSince().IsZero() {
		t.Fatal("DownSince unset during an outage")
	}

	r.Start()
	within(t, 5*time.Second, "recovery", func() bool { return a.be.Up() })
	// Up reports true only once the cache is dropped: invalidations sent
	// during the outage are lost, an entry cached before it may be stale.
	if a.st.Stats().CacheResets <= resets {
		t.Fatal("Redis reported up before the cache was dropped (invalidations sent meanwhile are lost)")
	}
	within(t, 5*time.Second, "writes after recovery", func() bool {
		return a.st.PutListEntry(ctx, block(pdp.SubjectIP, "198.51.100.1"), alice) == nil
	})
	// Two decisions begun after recovery (see above) say whether the state
	// is known again, unless the health checker saw another outage or a
	// read went over the budget meanwhile: then once more.
	for attempt := 1; ; attempt++ {
		within(t, time.Minute, "up", a.be.Up)
		st0, after, n1 := a.be.Stats(), unavailable.Load(), decided.Load()
		within(t, time.Minute, "decisions after recovery", func() bool { return decided.Load() > n1+4 })
		if st := a.be.Stats(); st.Outages != st0.Outages || st.BudgetExceeded != st0.BudgetExceeded {
			if attempt == 10 {
				t.Fatalf("10 times an outage or a read over the budget during 4 decisions: %+v", st)
			}
			t.Logf("an outage or a read over the budget after recovery: %+v", st)
			continue
		}
		if unavailable.Load() > after+2 {
			t.Fatalf("still state_unavailable after recovery: %d → %d", after, unavailable.Load())
		}
		break
	}
	stop.Store(true)
	wg.Wait()
	close(fails)
	for f := range fails {
		t.Fatal(f)
	}
	if allowedUnknown.Load() != 0 {
		t.Fatalf("%d decisions allowed with the state unknown", allowedUnknown.Load())
	}
	if rep, err := a.st.Reputation(pdp.SubjectDevice, "d-bad", time.Now()); err != nil || !rep.Blocked {
		t.Fatalf("block before the outage lost: %+v %v", rep, err)
	}
	st := a.be.Stats()
	t.Logf("%v: %d decisions, %d state_unavailable, outages %d recoveries %d", r, decided.Load(), unavailable.Load(), st.Outages, st.Recoveries)
}

// The health checker drops the cache before it reports Redis up again, so
// that no entry cached before an outage is served once Up is true (the
// order TestRedisOutage relies on, here without a Redis and without
// timing).
func TestCacheDroppedBeforeUp(t *testing.T) {
	b := &Backend{log: quiet}
	b.up.Store(true) // as after Open
	var resets, whileUp int
	b.Watch(func(state.Bucket, []byte) {}, func() {
		resets++
		if b.Up() {
			whileUp++
		}
	})
	b.setUp(false, errors.New("connection refused"))
	if b.Up() || resets != 0 {
		t.Fatalf("down: up %v, %d cache resets", b.Up(), resets)
	}
	b.setUp(true, nil)
	b.setUp(true, nil) // a second good health check: nothing to drop
	if st := b.Stats(); !st.Up || resets != 1 || whileUp != 0 || st.Outages != 1 || st.Recoveries != 1 {
		t.Fatalf("up %v, %d cache resets (%d while reported up), %d outages, %d recoveries", st.Up, resets, whileUp, st.Outages, st.Recoveries)
	}
}
