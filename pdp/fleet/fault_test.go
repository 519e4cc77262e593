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
	"github.com/riskpdp/riskpdp/pdp/decide"
	"github.com/riskpdp/riskpdp/pdp/fleet/fleettest"
	"github.com/riskpdp/riskpdp/pdp/state"
)

// TestRedisOutage stops Redis under traffic and starts it again: decisions
// keep flowing (from the cache, else the policy's answer to an unknown state, with the reason
// state_unavailable, never allow), the outage shows in the backend's
// state, operator writes fail loudly, and everything recovers by itself.
func TestRedisOutage(t *testing.T) {
	r := fleettest.Start(t)
	a := newSidecar(t, "A", r.Addr)
	if err := a.st.PutListEntry(ctx, block(pdp.SubjectDevice, "d-bad"), alice); err != nil {
		t.Fatal(err)
	}
	warm := pay("u-warm", "d-bad", "t-w", 20, "CN", "")
	if d := a.decide(t, warm); d.Outcome != pdp.Deny { // now in the cache
		t.Fatalf("blocked device: %+v", d)
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
	time.Sleep(100 * time.Millisecond)
	r.Stop()
	within(t, 2*time.Second, "outage noticed", func() bool { return !a.be.Up() })
	n0, w0 := decided.Load(), warmDenied.Load()
	time.Sleep(300 * time.Millisecond)
	if decided.Load() == n0 || warmDenied.Load() == w0 {
		t.Fatalf("decisions stopped during the outage: %d → %d, warm denials %d → %d", n0, decided.Load(), w0, warmDenied.Load())
	}
	if unavailable.Load() == 0 {
		t.Fatal("no decision said state_unavailable during the outage")
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
	within(t, 5*time.Second, "writes after recovery", func() bool {
		return a.st.PutListEntry(ctx, block(pdp.SubjectIP, "198.51.100.1"), alice) == nil
	})
	after := unavailable.Load()
	time.Sleep(200 * time.Millisecond)
	stop.Store(true)
	wg.Wait()
	close(fails)
	for f := range fails {
		t.Fatal(f)
	}
	if allowedUnknown.Load() != 0 {
		t.Fatalf("%d decisions allowed with the state unknown", allowedUnknown.Load())
	}
	if unavailable.Load() > after+2 {
		t.Fatalf("still state_unavailable after recovery: %d → %d", after, unavailable.Load())
	}
	if a.st.Stats().CacheResets <= resets {
		t.Fatal("the cache was not dropped after the outage (invalidations sent meanwhile are lost)")
	}
	if rep, err := a.st.Reputation(pdp.SubjectDevice, "d-bad", time.Now()); err != nil || !rep.Blocked {
		t.Fatalf("block before the outage lost: %+v %v", rep, err)
	}
	st := a.be.Stats()
	t.Logf("%v: %d decisions, %d state_unavailable, outages %d recoveries %d", r, decided.Load(), unavailable.Load(), st.Outages, st.Recoveries)
}
