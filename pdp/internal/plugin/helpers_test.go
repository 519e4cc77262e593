package plugin

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riskpdp/riskpdp/pdp/internal/plugin/plugintest"
	"github.com/riskpdp/riskpdp/pdp/plugin/abi"
)

// testCacheDir is a compilation cache shared by test runs, so only the
// first run on a machine pays for compiling the guests.
func testCacheDir(tb testing.TB) string {
	base, err := os.UserCacheDir()
	if err != nil {
		return CacheOff
	}
	return filepath.Join(base, "riskpdp-test", "wazero")
}

// testConfig is a small, quiet configuration for tests.
func testConfig(tb testing.TB) Config {
	return Config{
		CacheDir: testCacheDir(tb),
		PoolSize: 2,
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

const faultyManifest = `name: faulty
version: 0.0.1
abi: 1
features: [amount, stage]
reasons: [big]
failure_mode: %s
`

var faultyOnce struct {
	sync.Once
	path string
}

// faultyModule builds testdata/faulty once per test binary.
func faultyModule(tb testing.TB) string {
	tb.Helper()
	faultyOnce.Do(func() { faultyOnce.path = plugintest.BuildGo(tb, "pdp/internal/plugin/testdata/faulty") })
	if faultyOnce.path == "" {
		tb.Fatal("faulty module failed to build")
	}
	return faultyOnce.path
}

// writeDir creates a plugin dir holding module as NAME.wasm and manifest
// as NAME.yaml.
func writeDir(tb testing.TB, dir, name, module, manifest string) string {
	tb.Helper()
	if dir == "" {
		dir = tb.TempDir()
	}
	if module != "" {
		b, err := os.ReadFile(module)
		if err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+".wasm"), b, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, name+".yaml"), []byte(manifest), 0o644); err != nil {
		tb.Fatal(err)
	}
	return dir
}

// newHost returns a host over dir with cfg, closed at the end of the test.
func newHost(tb testing.TB, cfg Config, dir string) *Host {
	tb.Helper()
	h, err := New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = h.Close() })
	if err := h.Load(context.Background(), dir); err != nil {
		tb.Fatal(err)
	}
	return h
}

// behave returns a record that makes the faulty plugin do behaviour b.
func behave(b, amount float64) *Features {
	f := NewFeatures()
	f[abi.Stage] = b
	f[abi.Amount] = amount
	return &f
}

// nextSource makes every scoreOne call come from another account and
// device, as the calls of a sidecar's traffic do.
var nextSource atomic.Uint64

// scoreOne scores f for a source no call used before and returns the
// single result and how long it took.
func scoreOne(tb testing.TB, h *Host, f *Features) (Result, time.Duration) {
	tb.Helper()
	return scoreFrom(tb, h, f, newSource())
}

func newSource() Source {
	n := nextSource.Add(1)
	return Source{UID: fmt.Sprintf("u-%d", n), Device: fmt.Sprintf("d-%d", n)}
}

// scoreFrom scores f for src and returns the single result and how long it
// took.
func scoreFrom(tb testing.TB, h *Host, f *Features, src Source) (Result, time.Duration) {
	tb.Helper()
	start := time.Now()
	out := h.Score(f, src, nil)
	took := time.Since(start)
	if len(out) != 1 {
		tb.Fatalf("got %d results, want 1", len(out))
	}
	return out[0], took
}
