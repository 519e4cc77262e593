package decide

import (
	"context"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/config"
	"github.com/riskpdp/riskpdp/pdp/internal/metrics"
	"github.com/riskpdp/riskpdp/pdp/internal/plugin"
	"github.com/riskpdp/riskpdp/pdp/internal/plugin/plugintest"
	"github.com/riskpdp/riskpdp/pdp/internal/policy"
	"github.com/riskpdp/riskpdp/pdp/internal/request"
	"github.com/riskpdp/riskpdp/pdp/internal/velocity"
	"github.com/riskpdp/riskpdp/policies"
)

var quiet = slog.New(slog.DiscardHandler)

// newTestService builds the decision path over the reference policy (or
// o.Engine's) with the given options filled in (Engine, Metrics, Limits,
// Messages, Logger).
func newTestService(t testing.TB, o Options) *Service {
	t.Helper()
	cfg := config.Default()
	limits := request.Limits{MaxDepth: cfg.Limits.MaxDepth, MaxAmount: cfg.Limits.MaxAmount}
	if o.Engine == nil {
		o.Engine = testEngine(t, policies.FS)
	}
	o.Metrics, o.Limits, o.Messages, o.Logger = metrics.New(), limits, cfg.Messages, quiet
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// testEngine compiles the policies of fsys (riskpdp/...).
func testEngine(t testing.TB, fsys fs.FS) *policy.Engine {
	t.Helper()
	cfg := config.Default()
	eng, err := policy.New(policy.Options{Source: policy.Source{FS: fsys, Label: "test"}, Package: "riskpdp", EvalTimeout: time.Second,
		Limits: request.Limits{MaxDepth: cfg.Limits.MaxDepth, MaxAmount: cfg.Limits.MaxAmount}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(eng.Close)
	return eng
}

func newTracker(t *testing.T) *velocity.Tracker {
	t.Helper()
	tr, err := velocity.New(velocity.Config{SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

// pluginHost loads the named example plugins, or the faulty test plugin
// (with the given failure mode) when faulty is not "".
func pluginHost(t *testing.T, faulty plugin.FailureMode, names ...string) *plugin.Host {
	t.Helper()
	var dir string
	if faulty != "" {
		dir = t.TempDir()
		module := plugintest.BuildGo(t, "pdp/internal/plugin/testdata/faulty")
		manifest := filepath.Join(dir, "faulty.manifest")
		os.WriteFile(manifest, []byte("name: faulty\nversion: 0.0.1\nabi: 1\nfeatures: [amount, stage]\nreasons: [big]\nfailure_mode: "+string(faulty)+"\nlimits: {time: 2ms}\n"), 0o644)
		plugintest.Install(t, dir, "faulty", module, manifest)
	} else {
		dir = plugintest.InstallExamples(t, names...)
	}
	h, err := plugin.New(plugin.Config{CacheDir: plugin.CacheOff, PoolSize: 2, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Load(context.Background(), dir); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

func mustDecide(t *testing.T, s *Service, body string) *pdp.Decision {
	t.Helper()
	d, err := s.Decide(context.Background(), []byte(body), "")
	if err != nil {
		t.Fatalf("%s: %v", body, err)
	}
	return d
}
