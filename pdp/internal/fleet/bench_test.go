package fleet

import (
	"path/filepath"
	"strconv"
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
	"github.com/riskpdp/riskpdp/policies"
)

// benchStores returns the embedded (bbolt) store and one on Redis, side
// by side.
func benchStores(b *testing.B) map[string]*state.Store {
	r := fleettest.Start(b)
	bolt, err := state.Open(state.Config{Path: filepath.Join(b.TempDir(), "state.db")})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { bolt.Close() })
	// The miss benchmark measures the cost of a miss, not the budget: a
	// loaded machine would exceed the default 2 ms and end the run.
	rs, _ := sidecarState(b, r.Addr, Config{ReadBudget: time.Second})
	return map[string]*state.Store{"embedded": bolt, "redis": rs}
}

// BenchmarkDecideL1Hit is the decision path (reference policy, state
// reads all cache hits) with the state on bbolt and on Redis: the Redis
// backend must cost nothing on hits.
func BenchmarkDecideL1Hit(b *testing.B) {
	cfg := config.Default()
	limits := request.Limits{MaxDepth: cfg.Limits.MaxDepth, MaxAmount: cfg.Limits.MaxAmount}
	body := []byte(pay("u-bench", "d-bench", "t-1", 20, "CN", ""))
	for _, name := range []string{"embedded", "redis"} {
		b.Run(name, func(b *testing.B) {
			st := benchStores(b)[name]
			eng, err := policy.New(policy.Options{Source: policy.Source{FS: policies.FS, Label: "embedded"},
				Package: "riskpdp", EvalTimeout: time.Second, Limits: limits, Logger: quiet})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(eng.Close)
			svc, err := decide.New(decide.Options{Engine: eng, Metrics: metrics.New(), Limits: limits, Messages: cfg.Messages, Logger: quiet, State: st})
			if err != nil {
				b.Fatal(err)
			}
			for range 3 { // warm the cache
				if d, err := svc.Decide(ctx, body, ""); err != nil || d.Fallback {
					b.Fatal(d, err)
				}
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := svc.Decide(ctx, body, ""); err != nil {
					b.Fatal(err)
				}
			}
			s := st.Stats()
			b.ReportMetric(float64(s.CacheHits)/float64(s.CacheHits+s.CacheMisses), "hit-ratio")
		})
	}
}

// BenchmarkStateHit is the state reads of one decision, all hits.
func BenchmarkStateHit(b *testing.B) {
	for _, name := range []string{"embedded", "redis"} {
		b.Run(name, func(b *testing.B) {
			st := benchStores(b)[name]
			now := time.Now()
			read := func() {
				st.Reputation(pdp.SubjectUID, "u-1", now)
				st.Reputation(pdp.SubjectDevice, "d-1", now)
				st.Reputation(pdp.SubjectIP, "203.0.113.7", now)
				st.Account("u-1", now)
				st.Verification("u-1", "t-1", now)
			}
			for range 3 {
				read()
			}
			time.Sleep(10 * time.Millisecond) // ristretto's admission is asynchronous
			b.ReportAllocs()
			for b.Loop() {
				read()
			}
		})
	}
}

// BenchmarkL1Miss is one Reputation cache miss (three list keys read in
// one MULTI on Redis; one bbolt transaction embedded): a new subject
// every iteration.
func BenchmarkL1Miss(b *testing.B) {
	for _, name := range []string{"embedded", "redis"} {
		b.Run(name, func(b *testing.B) {
			st := benchStores(b)[name]
			now := time.Now()
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				i++
				if _, err := st.Reputation(pdp.SubjectDevice, "d-miss-"+strconv.Itoa(i), now); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkFleetVelocityObserve is the decision path's cost of fleet
// velocity: count and merge for three subjects, no network.
func BenchmarkFleetVelocityObserve(b *testing.B) {
	r := fleettest.Start(b)
	_, be := sidecarState(b, r.Addr, Config{})
	v := NewVelocity(be, VelocityConfig{})
	b.Cleanup(v.Close)
	var out pdp.Velocity
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		v.Observe(now, "u-1", "d-1", "203.0.113.7", true, &out)
	}
}
