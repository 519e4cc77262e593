package server

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/riskpdp/riskpdp/pdp/internal/benchutil"
	"github.com/riskpdp/riskpdp/pdp/internal/config"
	"github.com/riskpdp/riskpdp/pdp/internal/decide"
	"github.com/riskpdp/riskpdp/pdp/internal/metrics"
	"github.com/riskpdp/riskpdp/pdp/internal/plugin"
	"github.com/riskpdp/riskpdp/pdp/internal/plugin/plugintest"
	"github.com/riskpdp/riskpdp/pdp/internal/policy"
	"github.com/riskpdp/riskpdp/pdp/internal/request"
	"github.com/riskpdp/riskpdp/pdp/internal/state"
	"github.com/riskpdp/riskpdp/pdp/internal/velocity"
	"github.com/riskpdp/riskpdp/policies"
)

// representative is a payment request that exercises most request rules:
// new device, foreign IP, a recent phone change, a large amount.
// representative's phone change is 14 hours before the benchmark runs (a fixed
// date would leave the 72-hour window and change the decision measured).
var representative = []byte(strings.Replace(`{"request_id":"r-1","stage":"payment","uid":"u-1001",
 "device":{"id":"d-77","ip":"203.0.113.7","ip_country":"SG","new":true},
 "txn":{"id":"t-9","amount":6800.00,"currency":"CNY","category":"digital","merchant":"m-1","payment_method":"card","ship_country":"CN"},
 "account":{"home_country":"CN","created_at":"2021-03-01T00:00:00Z","recent_changes":[{"kind":"phone_change","at":"@RECENT@"}]},
 "context":{"channel":"app","session_age_s":120}}`, "@RECENT@", time.Now().Add(-14*time.Hour).UTC().Format(time.RFC3339), 1))

// newService is the default decide service, its metrics and configuration.
func newService(tb testing.TB) (*decide.Service, *metrics.Metrics, config.Config) {
	tb.Helper()
	o := benchOptions(tb, true)
	return newDecide(tb, o), o.Metrics, config.Default()
}

// benchOptions are the decide options over the embedded policies with the
// default configuration (optimize: the specialized fast path, or OPA's
// topdown on the policy as written).
func benchOptions(tb testing.TB, optimize bool) decide.Options {
	tb.Helper()
	cfg := config.Default()
	limits := request.Limits{MaxDepth: cfg.Limits.MaxDepth, MaxAmount: cfg.Limits.MaxAmount}
	eng, err := policy.New(policy.Options{Logger: slog.New(slog.DiscardHandler), Source: policy.Source{FS: policies.FS, Label: "embedded"},
		Package: cfg.Policies.Package, NoOptimize: !optimize, EvalTimeout: cfg.Policies.EvalTimeout.D(), Limits: limits})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(eng.Close)
	return decide.Options{Logger: slog.New(slog.DiscardHandler), Engine: eng, Metrics: metrics.New(),
		Limits: limits, Messages: cfg.Messages, Package: cfg.Policies.Package}
}

// BenchmarkDecidePath is the in-process decision: decode → evaluate → encode,
// with the policy specialized and on the fast path (the default) and, as the
// peer, evaluated by OPA's topdown as written (policies.optimize: false).
func BenchmarkDecidePath(b *testing.B) {
	b.Run("optimized", func(b *testing.B) { benchDecide(b, true) })
	b.Run("opa-topdown", func(b *testing.B) { benchDecide(b, false) })
	// OPA embedded in the caller's process (bench_embedded_test.go).
	b.Run("opa-embedded", benchEmbeddedOPA)
	// Risk state on, reads served from its cache (1 000 UIDs, all hot):
	// the enrichment cost the issue bounds.
	b.Run("state", func(b *testing.B) { benchEnriched(b, 1000, false) })
	// State and velocity over 50 000 UIDs: a realistic working set, with
	// cache misses at every level.
	b.Run("state+velocity", func(b *testing.B) { benchEnriched(b, 50000, true) })
	// The three Go example plugins scoring every decision.
	b.Run("plugins", benchPlugins)
}

func benchPlugins(b *testing.B) {
	o := benchOptions(b, true)
	o.Plugins = examplePlugins(b)
	runDecide(b, newDecide(b, o), [][]byte{representative})
}

// examplePlugins is a host serving the three Go example plugins.
func examplePlugins(tb testing.TB) *plugin.Host {
	tb.Helper()
	dir := plugintest.InstallExamples(tb, "habit_deviation", "device_risk", "fraud_model")
	h, err := plugin.New(plugin.Config{CacheDir: plugin.CacheOff, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		tb.Fatal(err)
	}
	if err := h.Load(context.Background(), dir); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { h.Close() })
	return h
}

func newDecide(tb testing.TB, o decide.Options) *decide.Service {
	tb.Helper()
	svc, err := decide.New(o)
	if err != nil {
		tb.Fatal(err)
	}
	return svc
}

// runDecide times svc deciding bodies in turn (decode → evaluate → encode).
func runDecide(b *testing.B, svc *decide.Service, bodies [][]byte) {
	ctx := context.Background()
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	benchutil.CPUTime(b)
	i := 0
	for b.Loop() {
		d, err := svc.Decide(ctx, bodies[i%len(bodies)], "")
		if err != nil {
			b.Fatal(err)
		}
		buf = appendDecision(buf[:0], d)
		i++
	}
}

// benchEnriched is the optimized decision with risk state (and velocity)
// on: the UIDs are decided once before timing, then cycled through.
func benchEnriched(b *testing.B, uids int, withVelocity bool) {
	svc, bodies := enrichedService(b, uids, withVelocity)
	runDecide(b, svc, bodies)
}

// enrichedService is a decide service with risk state (and velocity) on and
// the representative request for uids UIDs, each decided once already so
// that reads are served from the cache.
func enrichedService(tb testing.TB, uids int, withVelocity bool) (*decide.Service, [][]byte) {
	tb.Helper()
	st, err := state.Open(state.Config{Path: filepath.Join(tb.TempDir(), "state.db")})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	opts := benchOptions(tb, true)
	opts.State = st
	if withVelocity {
		tr, err := velocity.New(velocity.Config{SweepInterval: -1})
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { tr.Close() })
		opts.Velocity = tr
	}
	svc := newDecide(tb, opts)
	bodies := make([][]byte, uids)
	for i := range bodies {
		bodies[i] = bytes.Replace(representative, []byte(`"uid":"u-1001"`), []byte(fmt.Sprintf(`"uid":"u-%d"`, i)), 1)
	}
	for _, body := range bodies {
		if _, err := svc.Decide(context.Background(), body, ""); err != nil {
			tb.Fatal(err)
		}
	}
	return svc, bodies
}

func benchDecide(b *testing.B, optimize bool) {
	runDecide(b, newDecide(b, benchOptions(b, optimize)), [][]byte{representative})
}

// BenchmarkHandler adds the fasthttp handler (routing, headers, response)
// without the network.
func BenchmarkHandler(b *testing.B) {
	svc, m, cfg := newService(b)
	s := New(Options{Config: cfg, Service: svc, Metrics: m})
	var ctx fasthttp.RequestCtx
	b.ReportAllocs()
	benchutil.CPUTime(b)
	for b.Loop() {
		ctx.Request.Reset()
		ctx.Response.Reset()
		ctx.Request.Header.SetMethod("POST")
		ctx.Request.SetRequestURI("/v1/decide")
		ctx.Request.Header.SetHost("127.0.0.1:9191")
		ctx.Request.Header.SetContentType("application/json")
		ctx.Request.SetBodyRaw(representative)
		s.handle(&ctx)
		if ctx.Response.StatusCode() != 200 {
			b.Fatal(string(ctx.Response.Body()))
		}
	}
}
