package fleet

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/config"
	"github.com/riskpdp/riskpdp/pdp/internal/decide"
	"github.com/riskpdp/riskpdp/pdp/internal/fleet/fleettest"
	"github.com/riskpdp/riskpdp/pdp/internal/metrics"
	"github.com/riskpdp/riskpdp/pdp/internal/policy"
	"github.com/riskpdp/riskpdp/pdp/internal/request"
	"github.com/riskpdp/riskpdp/pdp/internal/state"
	"github.com/riskpdp/riskpdp/pdp/internal/velocity"
	"github.com/riskpdp/riskpdp/policies"
)

// sidecar is one PDP of the fleet, in process: its own cache, velocity
// windows and decision path, the fleet's Redis.
type sidecar struct {
	name string
	st   *state.Store
	be   *Backend
	fv   *Velocity
	svc  *decide.Service
}

// syncInterval is the fleet velocity interval in these tests.
const syncInterval = 50 * time.Millisecond

func newSidecar(t testing.TB, name, addr string) *sidecar {
	t.Helper()
	st, be := sidecarState(t, addr, Config{})
	fv := NewVelocity(be, VelocityConfig{Interval: syncInterval})
	t.Cleanup(fv.Close)
	tr, err := velocity.New(velocity.Config{SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	cfg := config.Default()
	limits := request.Limits{MaxDepth: cfg.Limits.MaxDepth, MaxAmount: cfg.Limits.MaxAmount}
	eng, err := policy.New(policy.Options{Source: policy.Source{FS: policies.FS, Label: "embedded"},
		Package: "riskpdp", EvalTimeout: time.Second, Limits: limits, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(eng.Close)
	svc, err := decide.New(decide.Options{Engine: eng, Metrics: metrics.New(), Limits: limits, Messages: cfg.Messages,
		Logger: quiet, State: st, Velocity: tr, Fleet: fv})
	if err != nil {
		t.Fatal(err)
	}
	return &sidecar{name: name, st: st, be: be, fv: fv, svc: svc}
}

func (s *sidecar) decide(t testing.TB, body string) *pdp.Decision {
	t.Helper()
	d, err := s.svc.Decide(ctx, []byte(body), "")
	if err != nil {
		t.Fatalf("%s: %v", s.name, err)
	}
	return d
}

func pay(uid, dev, txn string, amount float64, country, extra string) string {
	return fmt.Sprintf(`{"stage":"payment","uid":%q,"device":{"id":%q,"ip":"203.0.113.7","ip_country":%q},
		"txn":{"id":%q,"amount":%v,"currency":"CNY","category":"digital"},"account":{"home_country":"CN","created_at":"2022-01-01T00:00:00Z"}%s}`,
		uid, dev, country, txn, amount, extra)
}

// within polls cond until it holds or bound passes, and returns how long
// it took.
func within(t testing.TB, bound time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > bound {
			t.Fatalf("%s: not within %v", what, bound)
		}
		time.Sleep(time.Millisecond)
	}
	return time.Since(start)
}

// TestThreeSidecars: three sidecars and one Redis behave as one decision
// point.
func TestThreeSidecars(t *testing.T) {
	r := fleettest.Start(t)
	a, b, c := newSidecar(t, "A", r.Addr), newSidecar(t, "B", r.Addr), newSidecar(t, "C", r.Addr)

	// 1. A block through A denies on B, whose cache said "not blocked".
	if d := b.decide(t, pay("u-dev", "d-mallory", "t-1", 20, "CN", "")); d.Outcome != pdp.Allow {
		t.Fatalf("before the block: %+v", d)
	}
	if err := a.st.PutListEntry(ctx, block(pdp.SubjectDevice, "d-mallory"), alice); err != nil {
		t.Fatal(err)
	}
	took := within(t, time.Second, "block through A denies on B", func() bool {
		d := b.decide(t, pay("u-dev", "d-mallory", "t-2", 20, "CN", ""))
		return d.Outcome == pdp.Deny && slices.Contains(d.Reasons, "blocklisted_device")
	})
	t.Logf("%v: block through A denied on B after %v", r, took)

	// 2. A passed verification through B releases the retry on C.
	risky := pay("u-step", "d-step", "t-9", 6000, "SG", `,"context":{"channel":"app"}`)
	d := a.decide(t, risky)
	if d.Outcome != pdp.StepUp || d.StepUp == nil || d.StepUp.ChallengeID == "" {
		t.Fatalf("large payment from abroad on A: %+v", d)
	}
	ch := d.StepUp.ChallengeID
	if d := c.decide(t, risky); d.Outcome != pdp.StepUp { // C caches "no verification"
		t.Fatalf("on C before the verification: %+v", d)
	}
	if v, err := b.svc.Verify(ctx, fmt.Appendf(nil, `{"challenge_id":%q,"method":"face","result":"passed"}`, ch)); err != nil || v.Status() != "passed" {
		t.Fatalf("verification through B: %+v %v", v, err)
	}
	retry := strings.Replace(risky, `"context"`, fmt.Sprintf(`"challenge_id":%q,"context"`, ch), 1)
	took = within(t, time.Second, "verification through B releases the retry on C", func() bool {
		d := c.decide(t, retry)
		return d.Outcome == pdp.Allow && slices.Contains(d.Reasons, "step_up_verified")
	})
	t.Logf("verification through B released the retry on C after %v", took)

	// 3. Six payments in a minute spread over A, B and C trip the
	// velocity rule (more than 5 a minute), though no sidecar saw more
	// than two.
	fleet := []*sidecar{a, b, c}
	for i := range 6 {
		s := fleet[i%3]
		d := s.decide(t, pay("u-fast", fmt.Sprintf("d-fast-%d", i), fmt.Sprintf("t-f%d", i), 30, "CN", ""))
		hf := slices.Contains(d.Reasons, "high_frequency")
		if i < 5 && (d.Outcome != pdp.Allow || hf) {
			t.Fatalf("payment %d on %s: %+v", i+1, s.name, d)
		}
		if i == 5 {
			if d.Outcome != pdp.Deny || !hf {
				t.Fatalf("sixth payment in a minute, on %s: %+v", s.name, d)
			}
			break
		}
		waitSynced(t, fleet) // the staleness bound, not a fixed sleep
	}
}

// waitSynced waits until every sidecar has completed a velocity sync that
// started after this call: what was observed before is then visible to
// all (the staleness bound: 2 × Interval plus round trips).
func waitSynced(t testing.TB, fleet []*sidecar) {
	t.Helper()
	for round := 0; round < 2; round++ { // one to push, one to pull
		var base []uint64
		for _, s := range fleet {
			base = append(base, s.fv.Stats().Syncs)
		}
		for i, s := range fleet {
			within(t, 5*time.Second, s.name+" velocity sync", func() bool { return s.fv.Stats().Syncs > base[i] })
		}
	}
}

// TestVelocityStaleness measures how long a payment counted on A takes to
// show in B's counts, against the documented bound of 2 × Interval plus
// round trips (here 100 ms plus loopback; the assertion allows slack for
// a loaded test machine and the race detector).
func TestVelocityStaleness(t *testing.T) {
	r := fleettest.Start(t)
	a, b := newSidecar(t, "A", r.Addr), newSidecar(t, "B", r.Addr)
	now := time.Now()
	var v pdp.Velocity
	b.fv.Observe(now, "u-s", "", "", false, &v) // B follows u-s
	waitSynced(t, []*sidecar{a, b})
	var worst time.Duration
	for i := range 5 {
		a.fv.Observe(time.Now(), "u-s", "", "", true, &pdp.Velocity{})
		took := within(t, 2*syncInterval+400*time.Millisecond, "A's payment in B's counts", func() bool {
			var v pdp.Velocity
			b.fv.Observe(time.Now(), "u-s", "", "", false, &v)
			return v.UID.Count1m == uint32(i+1) && v.UID.Count1h == uint32(i+1)
		})
		worst = max(worst, took)
	}
	t.Logf("%v: fleet velocity propagation, worst of 5: %v (bound 2 × %v + round trips)", r, worst, syncInterval)
}

// TestFleetCountsTransactionsNotCalls: a retry of a purchase (the same
// txn.id decided again) counts once fleet-wide, as in the local windows.
func TestFleetCountsTransactionsNotCalls(t *testing.T) {
	r := fleettest.Start(t)
	a, b := newSidecar(t, "A", r.Addr), newSidecar(t, "B", r.Addr)
	var out pdp.Velocity
	b.fv.Observe(time.Now(), "u-retry", "", "", false, &out) // B keeps the UID in sync
	for i := range 3 {
		body := pay("u-retry", "d-retry", fmt.Sprintf("t-r%d", i), 30, "CN", "")
		a.decide(t, body)
		a.decide(t, body) // a network retry
	}
	waitSynced(t, []*sidecar{a, b})
	waitSynced(t, []*sidecar{a, b}) // pushed by A, then read by B
	out = pdp.Velocity{}
	b.fv.Observe(time.Now(), "u-retry", "", "", false, &out)
	if out.UID.Count1m != 3 {
		t.Fatalf("three purchases, each decided twice, count %d fleet-wide", out.UID.Count1m)
	}
}
